//! Backblaze B2 uploads: the primary storage target when the API offers one. A
//! `simple` strategy is one request (B2 native `POST` with a token, or an S3 pre-signed `PUT`
//! when the token is empty); `large` splits the file evenly over the given part URLs and is
//! finished by the API (`finishLargeFile`). Any failure here is silent: TUS carries on.

use crate::clock::Timings;
use crate::encoding::hex;
use serde_json::Value;
use sha1::{Digest, Sha1};

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

pub fn sha1_hex(data: &[u8]) -> String {
    hex(&Sha1::digest(data))
}

/// Percent-encodes a B2 file name (`/` kept).
fn encode_name(name: &str) -> String {
    name.split('/')
        .map(crate::api::encode_query_component)
        .collect::<Vec<_>>()
        .join("/")
}

fn check(
    r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    what: &str,
) -> Result<(), String> {
    let r = r.map_err(|e| format!("{what}: {e}"))?;
    let status = r.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("{what}: HTTP {status}"))
    }
}

/// Uploads `data` per the API's `b2` strategy object.
pub fn upload(
    strategy: &Value,
    name: &str,
    data: &[u8],
    content_type: &str,
    t: &Timings,
) -> Result<Done, String> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    match strategy.get("strategy").and_then(Value::as_str) {
        Some("simple") => {
            let simple = strategy
                .get("simple")
                .ok_or("b2 simple strategy without details")?;
            let url = s(simple.get("uploadUrl"));
            let token = s(simple.get("authorizationToken"));
            if url.is_empty() {
                return Err("b2 simple strategy without an uploadUrl".into());
            }
            crate::debug::add_secret(&url);
            crate::debug::add_secret(&token);
            let agent = crate::net::agent::transfer_agent(t, &url);
            let sha = sha1_hex(data);
            let r = if token.is_empty() {
                agent
                    .put(&url)
                    .header("content-type", content_type)
                    .header("X-Bz-Content-Sha1", &sha)
                    .send(data)
            } else {
                agent
                    .post(&url)
                    .header("Authorization", &token)
                    .header("X-Bz-File-Name", encode_name(name))
                    .header("content-type", content_type)
                    .header("X-Bz-Content-Sha1", &sha)
                    .send(data)
            };
            check(r, "B2 upload")?;
            Ok(Done::Simple)
        }
        Some("large") => {
            let large = strategy
                .get("large")
                .ok_or("b2 large strategy without details")?;
            let file_id = s(large.get("fileId"));
            let urls = large
                .get("uploadPartUrls")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or("b2 large strategy without part URLs")?;
            let n = urls.len();
            let part = data.len().div_ceil(n).max(1);
            let mut sha1s = Vec::with_capacity(n);
            for (i, u) in urls.iter().enumerate() {
                let (start, end) = ((i * part).min(data.len()), ((i + 1) * part).min(data.len()));
                let url = s(u.get("uploadUrl"));
                let token = s(u.get("authorizationToken"));
                crate::debug::add_secret(&url);
                crate::debug::add_secret(&token);
                let chunk = &data[start..end];
                let sha = sha1_hex(chunk);
                let r = crate::net::agent::transfer_agent(t, &url)
                    .post(&url)
                    .header("Authorization", &token)
                    .header("X-Bz-Part-Number", (i + 1).to_string())
                    .header("X-Bz-Content-Sha1", &sha)
                    .send(chunk);
                check(r, &format!("B2 part {}", i + 1))?;
                sha1s.push(sha);
            }
            Ok(Done::Large {
                file_id,
                part_sha1s: sha1s,
            })
        }
        other => Err(format!("unknown b2 strategy {other:?}")),
    }
}

#[cfg(test)]
mod tests {
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
    fn malformed_strategies_are_errors_not_panics() {
        let t = Timings::scaled(0.01);
        for s in [
            serde_json::json!({}),
            serde_json::json!({"strategy": "simple"}),
            serde_json::json!({"strategy": "simple", "simple": {}}),
            serde_json::json!({"strategy": "large", "large": {"uploadPartUrls": []}}),
        ] {
            assert!(
                upload(&s, "n", b"data", "application/zip", &t).is_err(),
                "{s}"
            );
        }
    }
}
