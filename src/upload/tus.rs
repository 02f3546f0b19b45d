//! A TUS 1.0.0 client for Supabase Storage's resumable endpoint: the upload target that is
//! always tried, after Backblaze (docs/http-api.md, "Flow zip upload and submission").
//!
//! Creation (`POST` with `Upload-Length` and the base64 `Upload-Metadata`), then `PATCH`es of
//! 6 MiB chunks (Supabase requires exactly that size). A failed request is retried after the
//! tus-js-client delays (0, 3, 5, 10, 20 s, scaled), resuming from the server's
//! `Upload-Offset` (`HEAD`), so a flaky network costs a chunk, not the upload. Resuming is
//! safe to repeat: the offset says what the server has.
//!
//! Every `PATCH` must be accepted whole: an answer whose `Upload-Offset` is not the offset
//! sent plus the bytes sent fails that attempt, like a network error. The attempts are
//! counted over the whole upload and never refilled, so a server that takes a byte at a time
//! (or claims bytes it was never sent) costs at most [`RETRY_DELAYS`]`.len()` passes over
//! the file, never a chunk per byte (docs/http-api.md, "Flow zip upload and submission").

use super::source::{Body, Progress, Source, Target};
use crate::clock::Timings;
use crate::encoding::base64;
use std::time::Duration;

/// Supabase's required chunk size.
pub const CHUNK: usize = 6 * 1024 * 1024;
/// tus-js-client's retry delays, in seconds (before scaling).
const RETRY_DELAYS: [f64; 5] = [0.0, 3.0, 5.0, 10.0, 20.0];

/// Where and how to upload.
pub struct TusUpload<'a> {
    /// `…/storage/v1/upload/resumable`
    pub endpoint: String,
    /// Sent as `authorization: Bearer <anon key>`.
    pub anon_key: &'a str,
    pub bucket: &'a str,
    pub object_name: &'a str,
    pub content_type: &'a str,
}

fn header(r: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Resolves a `Location` that may be relative to the endpoint.
fn absolute(endpoint: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let scheme_end = endpoint.find("://").map_or(0, |i| i + 3);
    let host_end = endpoint[scheme_end..]
        .find('/')
        .map_or(endpoint.len(), |i| scheme_end + i);
    if location.starts_with('/') {
        format!("{}{location}", &endpoint[..host_end])
    } else {
        format!("{}/{location}", endpoint.trim_end_matches('/'))
    }
}

/// Uploads `len` bytes of `src`, streamed chunk by chunk; the error is a short reason.
pub fn upload(
    up: &TusUpload<'_>,
    src: &mut dyn Source,
    len: u64,
    t: &Timings,
    progress: Progress<'_>,
) -> Result<(), String> {
    let mut transfer = Transfer::new(up, src, len, t, progress);
    let mut attempt = 0usize;
    loop {
        match transfer.attempt(attempt > 0) {
            Ok(()) => return Ok(()),
            Err(e) => {
                attempt += 1;
                if attempt >= RETRY_DELAYS.len() {
                    return Err(e);
                }
                let d = Duration::from_secs_f64(RETRY_DELAYS[attempt] * t.scale);
                crate::debug!("{e}; retrying the TUS upload in {:.1}s", d.as_secs_f64());
                std::thread::sleep(d);
            }
        }
    }
}

/// One upload across its attempts: the fixed request parts, and where the server's copy is.
struct Transfer<'a> {
    up: &'a TusUpload<'a>,
    src: &'a mut dyn Source,
    len: u64,
    progress: Progress<'a>,
    agent: ureq::Agent,
    /// `Bearer <anon key>`.
    auth: String,
    /// The `Upload-Metadata` value.
    meta: String,
    /// The upload URL, once created.
    location: Option<String>,
    /// Bytes the server has.
    offset: u64,
}

impl<'a> Transfer<'a> {
    /// Prepares the agent, the authorization and the base64 metadata; nothing is sent yet.
    fn new(
        up: &'a TusUpload<'a>,
        src: &'a mut dyn Source,
        len: u64,
        t: &Timings,
        progress: Progress<'a>,
    ) -> Transfer<'a> {
        let meta = [
            ("bucketName", up.bucket),
            ("objectName", up.object_name),
            ("contentType", up.content_type),
            ("cacheControl", "3600"),
        ]
        .iter()
        .map(|(k, v)| format!("{k} {}", base64(v.as_bytes())))
        .collect::<Vec<_>>()
        .join(",");
        Transfer {
            up,
            src,
            len,
            progress,
            agent: crate::net::agent::transfer_agent(t, &up.endpoint),
            auth: format!("Bearer {}", up.anon_key),
            meta,
            location: None,
            offset: 0,
        }
    }

    /// One attempt: creates the upload if that has not succeeded yet, else on a `retry` asks
    /// the server's offset; then sends the remaining chunks.
    fn attempt(&mut self, retry: bool) -> Result<(), String> {
        let loc = match self.location.clone() {
            Some(l) => {
                if retry {
                    // Resume: ask what arrived.
                    self.offset = self.server_offset(&l)?;
                    crate::debug!("TUS resuming at {}/{} bytes", self.offset, self.len);
                }
                l
            }
            None => self.create()?,
        };
        self.send_chunks(&loc)
    }

    /// `HEAD` the upload: the server's `Upload-Offset`, which must be within the file.
    fn server_offset(&self, loc: &str) -> Result<u64, String> {
        let r = self
            .agent
            .head(loc)
            .header("Tus-Resumable", "1.0.0")
            .header("authorization", &self.auth)
            .call()
            .map_err(|e| format!("TUS HEAD: {e}"))?;
        if r.status().as_u16() != 200 {
            return Err(format!("TUS HEAD: HTTP {}", r.status().as_u16()));
        }
        header(&r, "upload-offset")
            .and_then(|o| o.parse().ok())
            .filter(|o| *o <= self.len)
            .ok_or_else(|| "TUS HEAD: no usable Upload-Offset".to_string())
    }

    /// `POST` the creation request; records and returns the absolute upload URL, offset 0.
    fn create(&mut self) -> Result<String, String> {
        let r = self
            .agent
            .post(&self.up.endpoint)
            .header("Tus-Resumable", "1.0.0")
            .header("authorization", &self.auth)
            .header("x-upsert", "true")
            .header("Upload-Length", self.len.to_string())
            .header("Upload-Metadata", &self.meta)
            .send_empty()
            .map_err(|e| format!("TUS create: {e}"))?;
        let status = r.status().as_u16();
        if status != 201 {
            return Err(format!("TUS create: HTTP {status}"));
        }
        let l = header(&r, "location").ok_or("TUS create: no Location")?;
        let l = absolute(&self.up.endpoint, &l);
        self.location = Some(l.clone());
        self.offset = 0;
        Ok(l)
    }

    /// `PATCH`es the file from the current offset in [`CHUNK`]s, each streamed from the
    /// source. Each answer's `Upload-Offset` must be exactly where the chunk ended (a missing
    /// one means it did); anything else fails the attempt, and the retry asks the server.
    fn send_chunks(&mut self, loc: &str) -> Result<(), String> {
        while self.offset < self.len {
            let offset = self.offset;
            let n = (CHUNK as u64).min(self.len - offset);
            let mut body = Body::new(
                &mut *self.src,
                offset,
                n,
                self.len,
                Target::Supabase,
                self.progress,
            )
            .map_err(|e| format!("TUS PATCH at {offset}: reading the file: {e}"))?;
            let r = self
                .agent
                .patch(loc)
                .header("Tus-Resumable", "1.0.0")
                .header("authorization", &self.auth)
                .header("Upload-Offset", offset.to_string())
                .header("content-type", "application/offset+octet-stream")
                .header("content-length", n.to_string())
                .send(ureq::SendBody::from_reader(&mut body))
                .map_err(|e| format!("TUS PATCH at {offset}: {e}"))?;
            let status = r.status().as_u16();
            if status != 204 && status != 200 {
                return Err(format!("TUS PATCH at {offset}: HTTP {status}"));
            }
            let end = offset + n;
            let answered = header(&r, "upload-offset");
            if let Some(got) = answered.filter(|o| o.trim().parse::<u64>().ok() != Some(end)) {
                return Err(format!(
                    "TUS PATCH at {offset}: the server did not take the {n} bytes sent \
                     (Upload-Offset {}, expected {end})",
                    crate::sanitize::one_line(&got, 40)
                ));
            }
            self.offset = end;
            crate::debug!("TUS uploaded {}/{} bytes", self.offset, self.len);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_endpoint() {
        let e = "http://127.0.0.1:9/storage/v1/upload/resumable";
        assert_eq!(absolute(e, "http://x/y"), "http://x/y");
        assert_eq!(
            absolute(e, "/storage/v1/upload/resumable/abc"),
            "http://127.0.0.1:9/storage/v1/upload/resumable/abc"
        );
        assert_eq!(
            absolute(e, "abc"),
            "http://127.0.0.1:9/storage/v1/upload/resumable/abc"
        );
    }
}
