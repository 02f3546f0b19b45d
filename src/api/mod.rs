//! The devicecloud HTTP API: one ureq agent, typed requests, one error enum.
//!
//! Every API call goes through [`ApiClient`] so timeouts (ureq has none by default), proxies
//! from the environment, TLS trust, auth headers, the body-size cap, `--debug` lines and the
//! mapping of failures to [`ApiError`] are decided in one place.

pub mod compat;
pub mod error;
pub mod manifest;
pub mod reports;
pub mod results;
pub mod submission;
pub mod transfer;
pub mod uploads;

pub use error::{ApiError, NetKind};

use crate::clock::Timings;
pub use crate::encoding::encode_query_component;
use crate::net::{agent, tls};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Largest response body read into memory.
const MAX_BODY: u64 = 64 << 20;

pub struct ClientOptions {
    pub base_url: String,
    /// Sent on every request, names in lower case (`x-app-api-key`, or `authorization` +
    /// `x-dcd-org`). Values are registered as debug secrets.
    pub auth_headers: Vec<(String, String)>,
    pub timings: Timings,
}

#[derive(Clone)]
pub struct ApiClient {
    agent: ureq::Agent,
    base_url: String,
    auth_headers: Vec<(String, String)>,
    /// The API host for error messages, with " via proxy host:port" when one applies.
    host: String,
    timings: Timings,
}

/// Which upload `GET /uploads/status` asks about.
#[derive(Debug, Clone, Copy)]
pub enum StatusQuery<'a> {
    UploadId(&'a str),
    Name(&'a str),
}

/// The per-poll-loop ETag cache: the last rows and the ETag they came with (rules in
/// docs/wait.md, "ETag revalidation").
#[derive(Debug, Default)]
pub struct EtagCache {
    cached: Option<(String, Vec<crate::domain::results::ResultRow>)>,
}

impl EtagCache {
    pub fn etag(&self) -> Option<&str> {
        self.cached.as_ref().map(|(e, _)| e.as_str())
    }

    pub fn clear(&mut self) {
        self.cached = None;
    }
}

/// A response read in full.
struct Reply {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl ApiClient {
    pub fn new(opts: ClientOptions) -> ApiClient {
        ApiClient::with_proxy(opts, ureq::Proxy::try_from_env())
    }

    fn with_proxy(opts: ClientOptions, proxy: Option<ureq::Proxy>) -> ApiClient {
        tls::install_provider();
        for (_, v) in &opts.auth_headers {
            crate::debug::add_secret(v);
            if let Some(token) = v.strip_prefix("Bearer ") {
                crate::debug::add_secret(token);
            }
        }
        let base_url = opts.base_url.trim_end_matches('/').to_string();
        let mut host = agent::host_of(&base_url);
        let proxy = proxy.filter(|p| {
            let bypass = base_url
                .parse::<ureq::http::Uri>()
                .is_ok_and(|u| p.is_no_proxy(&u));
            !bypass
        });
        if let Some(p) = &proxy {
            host = format!("{host} via proxy {}:{}", p.host(), p.port());
            crate::debug!(
                "HTTP proxy {}:{} (from the environment)",
                p.host(),
                p.port()
            );
        }
        ApiClient {
            agent: agent::api_agent(&opts.timings, proxy),
            base_url,
            auth_headers: opts.auth_headers,
            host,
            timings: opts.timings,
        }
    }

    /// The API base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// One GET, body read in full (capped). Only transport failures are errors here.
    fn get(
        &self,
        op: &str,
        path_and_query: &str,
        extra: &[(&str, &str)],
    ) -> Result<Reply, ApiError> {
        self.request("GET", op, path_and_query, extra, None)
    }

    /// One request with the auth headers, body read in full (capped). Only transport
    /// failures are errors here. Never retried: a POST that may have reached the server is
    /// not sent twice, since that could start two billed runs.
    fn request(
        &self,
        method: &str,
        op: &str,
        path_and_query: &str,
        extra: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> Result<Reply, ApiError> {
        let url = format!("{}{}", self.base_url, path_and_query);
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in self
            .auth_headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra.iter().copied())
        {
            builder = builder.header(k, v);
        }
        if let Some((content_type, _)) = body {
            builder = builder.header("content-type", content_type);
        }
        let start = Instant::now();
        let result = builder
            .body(body.map(|(_, b)| b.to_vec()).unwrap_or_default())
            .map_err(ureq::Error::from)
            .and_then(|req| self.agent.run(req))
            .and_then(|mut resp| {
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(MAX_BODY)
                    .read_to_vec()?;
                Ok(Reply {
                    status: resp.status().as_u16(),
                    headers: resp.headers().clone(),
                    body,
                })
            });
        let ms = start.elapsed().as_millis();
        match result {
            Ok(reply) => {
                crate::debug!("{method} {url} → {} ({ms} ms)", reply.status);
                Ok(reply)
            }
            Err(e) => {
                crate::debug!("{method} {url} failed after {ms} ms: {e}");
                Err(ApiError::from_ureq(op, &self.host, &e, &self.timings))
            }
        }
    }

    /// A POST of a JSON body whose 2xx answer must be JSON (an empty body reads as `{}`).
    pub(super) fn post_json(&self, op: &str, path: &str, body: &Value) -> Result<Value, ApiError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.post_bytes(op, path, "application/json", &bytes)
    }

    /// A POST of raw bytes (e.g. multipart) whose 2xx answer must be JSON.
    pub(super) fn post_bytes(
        &self,
        op: &str,
        path: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<Value, ApiError> {
        let reply = self.request("POST", op, path, &[], Some((content_type, bytes)))?;
        if !(200..300).contains(&reply.status) {
            return Err(Self::status_error(op, &reply));
        }
        if reply.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        Self::parse_json(op, &reply.body)
    }

    /// A non-2xx reply as an error; 304 here was not asked for.
    fn status_error(op: &str, reply: &Reply) -> ApiError {
        if reply.status == 304 {
            return ApiError::BadResponse {
                op: op.to_string(),
                detail: "304 Not Modified to an unconditional request".to_string(),
            };
        }
        if (300..400).contains(&reply.status) {
            let to = crate::render::sanitize::one_line(
                reply.header("location").unwrap_or("nowhere"),
                200,
            );
            return ApiError::Status {
                op: op.to_string(),
                status: reply.status,
                message: format!("redirected to {to}; use that URL as --api-url"),
                retry_after: None,
            };
        }
        let retry_after = reply
            .header("retry-after")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        crate::debug!(
            "{op}: HTTP {} body: {}",
            reply.status,
            crate::render::sanitize::one_line(&String::from_utf8_lossy(&reply.body), 500)
        );
        ApiError::from_status(op, reply.status, &reply.body, retry_after)
    }

    fn parse_json(op: &str, body: &[u8]) -> Result<Value, ApiError> {
        serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson {
            op: op.to_string(),
            detail: e.to_string(),
        })
    }

    /// A GET whose 2xx body must be JSON.
    pub(super) fn get_json(&self, op: &str, path_and_query: &str) -> Result<Value, ApiError> {
        let reply = self.get(op, path_and_query, &[])?;
        if !(200..300).contains(&reply.status) {
            return Err(Self::status_error(op, &reply));
        }
        Self::parse_json(op, &reply.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::testserver::{closed_port, resp, serve, stuck};

    fn client(base: &str) -> ApiClient {
        ApiClient::with_proxy(
            ClientOptions {
                base_url: format!("{base}/"),
                auth_headers: vec![("x-app-api-key".into(), "test-key-abcdef".into())],
                timings: Timings::scaled(0.01),
            },
            None,
        )
    }

    fn has(head: &str, header: &str) -> bool {
        head.to_ascii_lowercase()
            .contains(&format!("\r\n{header}\r\n"))
    }

    const ROWS: &str = r#"{"results":[{"id":1,"test_file_name":"a.yaml","status":"RUNNING"}]}"#;

    #[test]
    fn results_follow_the_etag_rules() {
        let ok = |etag: Option<&str>, body: &str| match etag {
            Some(e) => resp("200 OK", &[("etag", e)], body),
            None => resp("200 OK", &[], body),
        };
        let srv = serve(vec![
            ok(Some("W/\"v1\""), ROWS),
            resp("304 Not Modified", &[("etag", "W/\"v1\"")], ""),
            ok(Some("W/\"v2\""), r#"{"results":[]}"#),
            resp("304 Not Modified", &[], ""),
            ok(Some("W/\"v3\""), r#"{"statusCode":500,"message":"boom"}"#),
            ok(None, "<html>oops</html>"),
            ok(None, ROWS),
            ok(Some("W/\"v4\""), ROWS),
            resp("503 Service Unavailable", &[], ""),
            resp("304 Not Modified", &[], ""),
        ]);
        let c = client(&srv.base);
        let mut cache = EtagCache::default();
        let id = "up 1/2";

        let rows = c.results_summary(id, &mut cache).unwrap();
        assert_eq!(rows[0].id, 1);
        let head = srv.requests.recv().unwrap();
        assert!(
            head.starts_with("GET /results/up%201%2F2?view=summary HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(has(&head, "x-app-api-key: test-key-abcdef"), "{head}");
        assert!(has(&head, "accept: application/json"), "{head}");
        assert!(has(
            &head,
            &format!("user-agent: {}", agent::user_agent().to_ascii_lowercase())
        ));
        assert!(!head.to_ascii_lowercase().contains("if-none-match"));
        assert_eq!(cache.etag(), Some("W/\"v1\""));

        // 304 → the cached rows, after a conditional request.
        assert_eq!(c.results_summary(id, &mut cache).unwrap(), rows);
        let head = srv.requests.recv().unwrap();
        assert!(has(&head, "if-none-match: w/\"v1\""), "{head}");
        assert!(has(&head, "cache-control: max-age=0"), "{head}");

        // Empty results: a failed poll, and the cache is cleared.
        let e = c.results_summary(id, &mut cache).unwrap_err();
        assert_eq!(
            e,
            ApiError::Empty {
                op: "Fetching results".into()
            }
        );
        assert_eq!(cache.etag(), None);

        assert!(has(
            &srv.requests.recv().unwrap(),
            "if-none-match: w/\"v1\""
        ));

        // 304 to an unconditional request.
        let e = c.results_summary(id, &mut cache).unwrap_err();
        assert!(
            !srv.requests
                .recv()
                .unwrap()
                .to_ascii_lowercase()
                .contains("if-none-match")
        );
        assert!(matches!(&e, ApiError::BadResponse { detail, .. } if detail.contains("304")));

        // Error envelope with HTTP 200, then a body that is not JSON.
        let e = c.results_summary(id, &mut cache).unwrap_err();
        assert!(matches!(&e, ApiError::BadResponse { detail, .. } if detail.contains("boom")));
        let e = c.results_summary(id, &mut cache).unwrap_err();
        assert!(matches!(e, ApiError::InvalidJson { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("Fetching results: API returned an invalid JSON response (")
        );
        assert_eq!(cache.etag(), None);

        // Rows without an ETag are returned but not cached.
        assert_eq!(c.results_summary(id, &mut cache).unwrap().len(), 1);
        assert_eq!(cache.etag(), None);

        // A server error keeps the cache; the next 304 still reuses it.
        c.results_summary(id, &mut cache).unwrap();
        let e = c.results_summary(id, &mut cache).unwrap_err();
        assert_eq!(e.status(), Some(503));
        assert_eq!(cache.etag(), Some("W/\"v4\""));
        assert_eq!(c.results_summary(id, &mut cache).unwrap().len(), 1);
    }

    #[test]
    fn statuses_become_api_errors() {
        let srv = serve(vec![
            resp("401 Unauthorized", &[], r#"{"message":"jwt expired"}"#),
            resp(
                "429 Too Many Requests",
                &[("retry-after", "7")],
                "slow down",
            ),
            resp("301 Moved", &[("location", "https://elsewhere.test/")], ""),
            resp(
                "200 OK",
                &[],
                r#"{"uploadId":"u1","status":"PASSED","tests":[]}"#,
            ),
            resp("200 OK", &[], r#"{"status":"PASSED"}"#),
        ]);
        let c = client(&srv.base);
        let e = c.get_json("Fetching thing", "/thing").unwrap_err();
        assert!(
            e.to_string()
                .ends_with("(Fetching thing)\nServer response: jwt expired")
        );
        let e = c.get_json("Fetching thing", "/thing").unwrap_err();
        assert_eq!(
            (e.status(), e.retry_after()),
            (Some(429), Some(Duration::from_secs(7)))
        );
        let e = c.get_json("Fetching thing", "/thing").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Fetching thing: redirected to https://elsewhere.test/; use that URL as --api-url (HTTP 301)"
        );
        let s = c.upload_status(StatusQuery::Name("night ly&x")).unwrap();
        assert_eq!(s.upload_id, "u1");
        let e = c.upload_status(StatusQuery::UploadId("u1")).unwrap_err();
        assert!(matches!(e, ApiError::BadResponse { .. }));
        let heads: Vec<String> = srv.requests.try_iter().collect();
        assert!(heads[3].starts_with("GET /uploads/status?name=night%20ly%26x "));
        assert!(heads[4].starts_with("GET /uploads/status?uploadId=u1 "));
    }

    #[test]
    fn a_silent_server_times_out_within_the_scaled_timeout() {
        let c = client(&format!("http://{}", stuck(None)));
        let start = Instant::now();
        let e = c.get_json("Fetching results", "/results/x").unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert!(
            matches!(
                e,
                ApiError::Timeout {
                    connecting: false,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.is_transient() && !e.never_reached_server());
        assert_eq!(
            e.to_string(),
            "Fetching results: the API did not answer within 0.3s"
        );
    }

    #[test]
    fn refused_and_tls_failures_never_reached_the_server() {
        let c = client(&format!("http://127.0.0.1:{}", closed_port()));
        let e = c.get_json("Submitting", "/uploads").unwrap_err();
        assert!(
            matches!(
                e,
                ApiError::Network {
                    kind: NetKind::Refused,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.never_reached_server());
        assert!(
            e.to_string()
                .starts_with("Submitting: could not reach 127.0.0.1:")
        );

        let c = client(&format!("https://{}", stuck(Some(b"SSH-2.0-nope\r\n\r\n"))));
        let e = c.get_json("Submitting", "/uploads").unwrap_err();
        assert!(
            matches!(
                e,
                ApiError::Network {
                    kind: NetKind::Tls,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.never_reached_server());
    }

    #[test]
    fn a_refusing_connect_proxy_is_a_proxy_error() {
        let proxy = serve(vec![resp("407 Proxy Authentication Required", &[], "")]);
        let c = ApiClient::with_proxy(
            ClientOptions {
                base_url: "https://api.example.test".into(),
                auth_headers: vec![],
                timings: Timings::scaled(0.01),
            },
            Some(ureq::Proxy::new(&proxy.base).unwrap()),
        );
        let e = c.get_json("Fetching results", "/results/x").unwrap_err();
        assert!(
            matches!(
                e,
                ApiError::Network {
                    kind: NetKind::Proxy,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.never_reached_server());
        assert!(
            e.to_string()
                .contains("api.example.test via proxy 127.0.0.1:"),
            "{e}"
        );
        assert!(
            proxy
                .requests
                .recv()
                .unwrap()
                .starts_with("CONNECT api.example.test:443 ")
        );
    }

    #[test]
    fn small_helpers() {
        assert_eq!(
            encode_query_component("a b/c?d=e&é~_.-"),
            "a%20b%2Fc%3Fd%3De%26%C3%A9~_.-"
        );
        assert!(
            agent::user_agent().starts_with(&format!("dcd/{} (rust; ", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(
            client("http://127.0.0.1:9").base_url(),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            agent::host_of("https://u:p@api.test:8443/x"),
            "api.test:8443"
        );
    }
}
