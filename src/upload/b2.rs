//! Backblaze B2 uploads: the primary storage target when the API offers one. A
//! `simple` strategy is one request (B2 native `POST` with a token, or an S3 pre-signed `PUT`
//! when the token is empty); `large` splits the file evenly over the given part URLs and is
//! finished by the API (`finishLargeFile`). Any failure here is silent: TUS carries on.
//!
//! A B2-native answer must say it took what was sent: a 2xx whose JSON does not name the
//! `contentLength` sent (or names another `contentSha1`) is a failure, not a stored part
//! (docs/http-api.md, "Flow zip upload and submission").

use super::source::{Body, Progress, Source, Target, sha1_range};
use crate::clock::Timings;
use serde_json::Value;

/// What a finished B2 upload needs next.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    Simple,
    /// `POST /uploads/finishLargeFile {fileId, partSha1Array}` completes it.
    Large {
        file_id: String,
        part_sha1s: Vec<String>,
    },
}

#[cfg(test)]
pub fn sha1_hex(data: &[u8]) -> String {
    let mut d = crate::encoding::Digest::sha1();
    d.update(data);
    d.hex()
}

/// Percent-encodes a B2 file name (`/` kept).
fn encode_name(name: &str) -> String {
    name.split('/')
        .map(crate::api::encode_query_component)
        .collect::<Vec<_>>()
        .join("/")
}

/// Largest B2 answer read.
const MAX_ANSWER: u64 = 64 << 10;

/// A 2xx answer, returned for a closer look; anything else is the error.
fn check(
    r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    what: &str,
) -> Result<ureq::http::Response<ureq::Body>, String> {
    let r = r.map_err(|e| format!("{what}: {e}"))?;
    let status = r.status().as_u16();
    if (200..300).contains(&status) {
        Ok(r)
    } else {
        Err(format!("{what}: HTTP {status}"))
    }
}

/// A B2-native 2xx answer that took the `len` bytes whose SHA-1 is `sha`: its JSON names
/// that `contentLength`, and no other `contentSha1` (B2 may prefix it `unverified:`).
fn accepted(
    r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    what: &str,
    len: u64,
    sha: &str,
) -> Result<(), String> {
    let mut r = check(r, what)?;
    let body = r
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_vec()
        .map_err(|e| format!("{what}: reading the answer: {e}"))?;
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let took = v.get("contentLength").and_then(Value::as_u64);
    let their_sha = v.get("contentSha1").and_then(Value::as_str).map(|s| {
        s.strip_prefix("unverified:")
            .unwrap_or(s)
            .to_ascii_lowercase()
    });
    if took != Some(len) {
        return Err(format!(
            "{what}: the answer does not confirm the {len} bytes sent"
        ));
    }
    match their_sha {
        Some(s) if s != "none" && s != sha.to_ascii_lowercase() => {
            Err(format!("{what}: the answer names another SHA-1"))
        }
        _ => Ok(()),
    }
}

/// The file being uploaded: where to read it, how long it is, and who hears of progress.
pub struct File<'a> {
    pub src: &'a mut dyn Source,
    pub len: u64,
    pub content_type: &'a str,
    pub progress: Progress<'a>,
}

fn text(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Uploads the file per the API's `b2` strategy object.
pub fn upload(strategy: &Value, name: &str, f: &mut File<'_>, t: &Timings) -> Result<Done, String> {
    match strategy.get("strategy").and_then(Value::as_str) {
        Some("simple") => {
            let simple = strategy
                .get("simple")
                .ok_or("b2 simple strategy without details")?;
            simple_upload(simple, name, f, t)?;
            Ok(Done::Simple)
        }
        Some("large") => {
            let large = strategy
                .get("large")
                .ok_or("b2 large strategy without details")?;
            large_upload(large, f, t)
        }
        other => Err(format!("unknown b2 strategy {other:?}")),
    }
}

/// One request: B2 native `POST` with the token, or an S3 pre-signed `PUT` when the token is
/// empty. The SHA-1 goes in a header, so the file is read twice: hashed, then streamed.
fn simple_upload(simple: &Value, name: &str, f: &mut File<'_>, t: &Timings) -> Result<(), String> {
    let url = text(simple.get("uploadUrl"));
    let token = text(simple.get("authorizationToken"));
    if url.is_empty() {
        return Err("b2 simple strategy without an uploadUrl".into());
    }
    crate::debug::add_secret(&url);
    crate::debug::add_secret(&token);
    let sha = sha1_range(f.src, 0, f.len).map_err(|e| format!("B2 upload: {e}"))?;
    let mut body = Body::new(f.src, 0, f.len, f.len, Target::Backblaze, f.progress)
        .map_err(|e| format!("B2 upload: {e}"))?;
    let agent = crate::net::agent::transfer_agent(t, &url);
    let len = f.len.to_string();
    if token.is_empty() {
        let r = agent
            .put(&url)
            .header("content-type", f.content_type)
            .header("content-length", &len)
            .header("X-Bz-Content-Sha1", &sha)
            .send(ureq::SendBody::from_reader(&mut body));
        return check(r, "B2 upload").map(|_| ());
    }
    let r = agent
        .post(&url)
        .header("Authorization", &token)
        .header("X-Bz-File-Name", encode_name(name))
        .header("content-type", f.content_type)
        .header("content-length", &len)
        .header("X-Bz-Content-Sha1", &sha)
        .send(ureq::SendBody::from_reader(&mut body));
    accepted(r, "B2 upload", f.len, &sha)
}

/// The file split evenly over the part URLs (part size = ⌈size / N⌉), each part hashed and
/// then streamed, in order; the API finishes the file from the SHA-1 list.
fn large_upload(large: &Value, f: &mut File<'_>, t: &Timings) -> Result<Done, String> {
    let file_id = text(large.get("fileId"));
    let urls = large
        .get("uploadPartUrls")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or("b2 large strategy without part URLs")?;
    let part = f.len.div_ceil(urls.len() as u64).max(1);
    let mut sha1s = Vec::with_capacity(urls.len());
    for (i, u) in urls.iter().enumerate() {
        let start = (i as u64 * part).min(f.len);
        let n = ((i as u64 + 1) * part).min(f.len) - start;
        let url = text(u.get("uploadUrl"));
        let token = text(u.get("authorizationToken"));
        crate::debug::add_secret(&url);
        crate::debug::add_secret(&token);
        let what = format!("B2 part {}", i + 1);
        let sha = sha1_range(f.src, start, n).map_err(|e| format!("{what}: {e}"))?;
        let mut body = Body::new(f.src, start, n, f.len, Target::Backblaze, f.progress)
            .map_err(|e| format!("{what}: {e}"))?;
        let r = crate::net::agent::transfer_agent(t, &url)
            .post(&url)
            .header("Authorization", &token)
            .header("X-Bz-Part-Number", (i + 1).to_string())
            .header("content-length", n.to_string())
            .header("X-Bz-Content-Sha1", &sha)
            .send(ureq::SendBody::from_reader(&mut body));
        accepted(r, &what, n, &sha)?;
        sha1s.push(sha);
    }
    Ok(Done::Large {
        file_id,
        part_sha1s: sha1s,
    })
}

#[cfg(test)]
mod tests {
    use super::super::source::no_progress;
    use super::*;

    #[test]
    fn sha1_and_names() {
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            encode_name("organizations/a b/c.zip"),
            "organizations/a%20b/c.zip"
        );
    }

    #[test]
    fn an_answer_counts_only_when_it_confirms_what_was_sent() {
        let sha = sha1_hex(b"data");
        let answer = |status: u16, body: &str| {
            Ok(ureq::http::Response::builder()
                .status(status)
                .body(ureq::Body::builder().data(body.as_bytes().to_vec()))
                .unwrap())
        };
        let ok = |body: &str| accepted(answer(200, body), "B2 part 1", 4, &sha);
        let full = format!(r#"{{"contentLength": 4, "contentSha1": "{sha}"}}"#);
        assert_eq!(ok(&full), Ok(()));
        assert_eq!(ok(r#"{"contentLength": 4}"#), Ok(()));
        let unverified = format!(r#"{{"contentLength": 4, "contentSha1": "unverified:{sha}"}}"#);
        assert_eq!(ok(&unverified), Ok(()));
        for bad in [
            r#"{"contentLength": 1}"#.to_string(),
            "{}".to_string(),
            "<html>welcome</html>".to_string(),
            format!(
                r#"{{"contentLength": 4, "contentSha1": "{}"}}"#,
                sha1_hex(b"x")
            ),
        ] {
            let e = ok(&bad).unwrap_err();
            assert!(e.starts_with("B2 part 1: the answer "), "{bad}: {e}");
        }
        assert_eq!(
            accepted(answer(503, &full), "B2 upload", 4, &sha),
            Err("B2 upload: HTTP 503".into())
        );
    }

    #[test]
    fn malformed_strategies_are_errors_not_panics() {
        let t = Timings::scaled(0.01);
        for s in [
            serde_json::json!({}),
            serde_json::json!({"strategy": "simple"}),
            serde_json::json!({"strategy": "simple", "simple": {}}),
            serde_json::json!({"strategy": "large", "large": {"uploadPartUrls": []}}),
        ] {
            let mut src = std::io::Cursor::new(b"data".to_vec());
            let mut f = File {
                src: &mut src,
                len: 4,
                content_type: "application/zip",
                progress: &no_progress,
            };
            assert!(upload(&s, "n", &mut f, &t).is_err(), "{s}");
        }
    }
}
