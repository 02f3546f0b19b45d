//! A TUS 1.0.0 client for Supabase Storage's resumable endpoint: the upload target that is
//! always tried, after Backblaze (docs/http-api.md, "Flow zip upload and submission").
//!
//! Creation (`POST` with `Upload-Length` and the base64 `Upload-Metadata`), then `PATCH`es of
//! 6 MiB chunks (Supabase requires exactly that size). A failed request is retried after the
//! tus-js-client delays (0, 3, 5, 10, 20 s, scaled), resuming from the server's
//! `Upload-Offset` (`HEAD`), so a flaky network costs a chunk, not the upload. Resuming is
//! safe to repeat: the offset says what the server has.

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

/// Uploads `data`; the error is a short reason.
pub fn upload(up: &TusUpload<'_>, data: &[u8], t: &Timings) -> Result<(), String> {
    let agent = crate::net::agent::transfer_agent(t, &up.endpoint);
    let auth = format!("Bearer {}", up.anon_key);
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
    let mut location: Option<String> = None;
    let mut offset: usize = 0;
    let mut attempt = 0usize;
    loop {
        let step: Result<bool, String> = (|| {
            let loc = match &location {
                Some(l) => {
                    if attempt > 0 {
                        // Resume: ask what arrived.
                        let r = agent
                            .head(l)
                            .header("Tus-Resumable", "1.0.0")
                            .header("authorization", &auth)
                            .call()
                            .map_err(|e| format!("TUS HEAD: {e}"))?;
                        if r.status().as_u16() != 200 {
                            return Err(format!("TUS HEAD: HTTP {}", r.status().as_u16()));
                        }
                        offset = header(&r, "upload-offset")
                            .and_then(|o| o.parse().ok())
                            .ok_or("TUS HEAD: no Upload-Offset")?;
                    }
                    l.clone()
                }
                None => {
                    let r = agent
                        .post(&up.endpoint)
                        .header("Tus-Resumable", "1.0.0")
                        .header("authorization", &auth)
                        .header("x-upsert", "true")
                        .header("Upload-Length", data.len().to_string())
                        .header("Upload-Metadata", &meta)
                        .send_empty()
                        .map_err(|e| format!("TUS create: {e}"))?;
                    let status = r.status().as_u16();
                    if status != 201 {
                        return Err(format!("TUS create: HTTP {status}"));
                    }
                    let l = header(&r, "location").ok_or("TUS create: no Location")?;
                    let l = absolute(&up.endpoint, &l);
                    location = Some(l.clone());
                    offset = 0;
                    l
                }
            };
            while offset < data.len() {
                let end = (offset + CHUNK).min(data.len());
                let r = agent
                    .patch(&loc)
                    .header("Tus-Resumable", "1.0.0")
                    .header("authorization", &auth)
                    .header("Upload-Offset", offset.to_string())
                    .header("content-type", "application/offset+octet-stream")
                    .send(&data[offset..end])
                    .map_err(|e| format!("TUS PATCH at {offset}: {e}"))?;
                let status = r.status().as_u16();
                if status != 204 && status != 200 {
                    return Err(format!("TUS PATCH at {offset}: HTTP {status}"));
                }
                offset = header(&r, "upload-offset")
                    .and_then(|o| o.parse().ok())
                    .unwrap_or(end);
                crate::debug!("TUS uploaded {offset}/{} bytes", data.len());
            }
            Ok(true)
        })();
        match step {
            Ok(_) => return Ok(()),
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
