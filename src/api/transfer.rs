//! Requests whose bodies are streamed: artifact and report downloads (docs/http-api.md).
//!
//! API calls read their answer into memory under a 30 s overall timeout; a download may be a
//! gigabyte and take minutes, so these requests run on the same agent (same proxy, TLS trust
//! and connection pool) with per-request timeouts instead: no overall limit, a bounded wait
//! for the response headers, a per-read timeout so a body that goes silent fails, and the
//! minimum-progress rule of [`crate::net::stall`] so a body that drips fails too. The body is
//! handed back unread, for the caller to stream to disk.
//!
//! Bundle URLs point at a CDN worker outside the API: [`ApiClient::open_external`] sends no
//! auth headers there, ever.

use super::{ApiClient, ApiError, Reply};
use crate::clock::Timings;
use crate::net::stall::MinProgress;
use serde_json::Value;
use std::io::Read;
use std::time::{Duration, Instant};

/// Largest error body read to build a message.
const MAX_ERROR_BODY: u64 = 64 << 10;

/// How long a download waits for the response headers (the server may build the zip first),
/// before scaling by `DCD_TIME_SCALE`.
const HEADERS_WAIT_SECS: f64 = 300.0;
/// The longest a download body may go without a byte, before scaling.
const STALL_SECS: f64 = 60.0;

/// A response whose body has not been read yet.
pub struct Download {
    pub status: u16,
    op: String,
    headers: ureq::http::HeaderMap,
    body: ureq::Body,
    timings: Timings,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("status", &self.status)
            .field("op", &self.op)
            .finish_non_exhaustive()
    }
}

impl Download {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `Content-Length`, when the server announced one.
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    }

    /// The body as a reader with no size limit (the caller streams it to disk), held to the
    /// minimum-progress rule. Read errors (reset, silence past the per-read timeout, a drip
    /// below the minimum progress, a body shorter than announced) come out as `io::Error`s.
    pub fn into_reader(self) -> impl Read + 'static {
        let body = self.body.into_with_config().limit(u64::MAX).reader();
        MinProgress::new(body, &self.timings)
    }

    /// Reads (at most 64 KiB of) the body of a non-2xx answer.
    fn error_body(mut self) -> (u16, ureq::http::HeaderMap, Vec<u8>) {
        let body = self
            .body
            .with_config()
            .limit(MAX_ERROR_BODY)
            .read_to_vec()
            .unwrap_or_default();
        (self.status, self.headers, body)
    }

    /// A non-2xx answer as an ordinary API error, worded per status like any API call.
    pub fn into_error(self) -> ApiError {
        let op = self.op.clone();
        let (status, headers, body) = self.error_body();
        ApiClient::status_error(
            &op,
            &Reply {
                status,
                headers,
                body,
            },
        )
    }

    /// A non-2xx answer as `<status> <body>` (one clean line, bounded), for the report
    /// failure messages (`Failed to download <report>: <status> <body>`).
    pub fn into_status_text(self) -> String {
        let (status, _, body) = self.error_body();
        let text = crate::sanitize::one_line(&String::from_utf8_lossy(&body), 200);
        crate::debug::redact(format!("{status} {text}").trim_end())
    }
}

impl ApiClient {
    /// Sends a download request to an API path, with the auth headers and the download
    /// timeouts. `json` is sent as the body (`content-type: application/json`) when given.
    /// Only transport failures are errors; check [`Download::is_success`].
    pub(super) fn open_download(
        &self,
        op: &str,
        method: &str,
        path_and_query: &str,
        json: Option<&Value>,
    ) -> Result<Download, ApiError> {
        let url = format!("{}{}", self.base_url, path_and_query);
        self.open(
            op,
            method,
            &url,
            &crate::debug::redact_url(&url),
            true,
            json,
        )
    }

    /// Sends a request to an absolute URL outside the API (a bundle URL) with **no** auth
    /// headers, and the download timeouts. The URL's query is left out of debug lines.
    pub fn open_external(
        &self,
        op: &str,
        method: &str,
        url: &str,
        json: Option<&Value>,
    ) -> Result<Download, ApiError> {
        let shown = url.split(['?', '#']).next().unwrap_or(url);
        self.open(
            op,
            method,
            url,
            &crate::debug::redact_url(shown),
            false,
            json,
        )
    }

    /// The timeouts of a download, scaled like every other timer.
    fn download_timeouts(&self) -> (Duration, Duration) {
        let scaled = |secs: f64| Duration::from_secs_f64((secs * self.timings.scale).max(0.25));
        (scaled(HEADERS_WAIT_SECS), scaled(STALL_SECS))
    }

    fn open(
        &self,
        op: &str,
        method: &str,
        url: &str,
        shown: &str,
        with_auth: bool,
        json: Option<&Value>,
    ) -> Result<Download, ApiError> {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("accept", "*/*");
        if with_auth {
            for (k, v) in self.auth_headers() {
                builder = builder.header(k, v);
            }
        }
        let body = match json {
            Some(v) => {
                builder = builder.header("content-type", "application/json");
                serde_json::to_vec(v).unwrap_or_default()
            }
            None => Vec::new(),
        };
        let (headers_wait, stall) = self.download_timeouts();
        let start = Instant::now();
        let result = builder
            .body(body)
            .map_err(ureq::Error::from)
            .and_then(|req| {
                let agent = self.agent_for(url);
                let req = agent
                    .configure_request(req)
                    .timeout_global(None)
                    .timeout_per_call(None)
                    .timeout_recv_response(Some(headers_wait))
                    .timeout_recv_body(None)
                    .timeout_per_read(Some(stall))
                    .build();
                agent.run(req)
            });
        let ms = start.elapsed().as_millis();
        match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                crate::debug!("{method} {shown} → {status} ({ms} ms, body streamed)");
                let (parts, body) = resp.into_parts();
                Ok(Download {
                    status,
                    op: op.to_string(),
                    headers: parts.headers,
                    body,
                    timings: self.timings,
                })
            }
            Err(e) => {
                crate::debug!("{method} {shown} failed after {ms} ms: {e}");
                Err(self.transport_error(op, &e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ClientOptions;
    use crate::clock::Timings;
    use crate::net::testserver::{resp, serve};
    use serde_json::json;

    fn client(base: &str) -> ApiClient {
        ApiClient::with_proxies(
            ClientOptions {
                base_url: base.to_string(),
                auth_headers: vec![("x-app-api-key".into(), "key-0123456789".into())],
                timings: Timings::scaled(0.01),
            },
            &crate::net::proxy::Proxies::only(None),
        )
    }

    #[test]
    fn api_downloads_carry_auth_and_external_ones_never_do() {
        let s = serve(vec![
            resp("200 OK", &[], "zip-bytes"),
            resp("200 OK", &[], "bundle-bytes"),
        ]);
        let c = client(&s.base);
        let d = c
            .open_download(
                "Downloading",
                "POST",
                "/results/u/download",
                Some(&json!({"results": "ALL"})),
            )
            .unwrap();
        assert!(d.is_success());
        assert_eq!(d.content_length(), Some(9));
        let mut body = String::new();
        d.into_reader().read_to_string(&mut body).unwrap();
        assert_eq!(body, "zip-bytes");
        let head = s.requests.recv().unwrap();
        assert!(head.starts_with("POST /results/u/download "), "{head}");
        assert!(head.contains("x-app-api-key: key-0123456789"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");

        let url = format!("{}/bundle/x?sig=secret", s.base);
        let d = c
            .open_external("Downloading", "POST", &url, Some(&json!({})))
            .unwrap();
        let mut body = String::new();
        d.into_reader().read_to_string(&mut body).unwrap();
        assert_eq!(body, "bundle-bytes");
        let head = s.requests.recv().unwrap().to_ascii_lowercase();
        assert!(head.starts_with("post /bundle/x?sig=secret "), "{head}");
        assert!(!head.contains("x-app-api-key"), "{head}");
        assert!(!head.contains("authorization"), "{head}");
    }

    #[test]
    fn error_bodies_become_api_errors_or_status_text() {
        let s = serve(vec![
            resp("404 Not Found", &[], r#"{"message":"no such upload"}"#),
            resp("502 Bad Gateway", &[], "upstream\x1b[31m down\n"),
        ]);
        let c = client(&s.base);
        let d = c.open_download("Failed to download artifacts", "GET", "/a", None);
        let e = d.unwrap().into_error();
        assert_eq!(e.status(), Some(404));
        assert_eq!(e.to_string(), "Resource not found. no such upload");
        let d = c.open_download("x", "GET", "/b", None).unwrap();
        assert!(!d.is_success());
        assert_eq!(d.into_status_text(), "502 upstream\\x1b[31m down");
    }

    #[test]
    fn a_stalled_body_fails_on_the_per_read_timeout() {
        use std::io::Write;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc");
                std::thread::sleep(Duration::from_secs(5));
            }
        });
        let c = client(&base);
        let d = c.open_download("x", "GET", "/slow", None).unwrap();
        let start = Instant::now();
        let mut body = Vec::new();
        let r = d.into_reader().read_to_end(&mut body);
        assert!(r.is_err(), "{r:?}");
        // 60 s × 0.01 = 0.6 s, far below the 5 s the server would hold.
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }
}
