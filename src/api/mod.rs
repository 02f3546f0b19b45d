//! The devicecloud HTTP API: one ureq agent, typed requests, one error enum.
//!
//! Every API call goes through [`ApiClient`] so timeouts (ureq has none by default), proxies
//! from the environment, TLS trust, auth headers, the body-size cap, `--debug` lines and the
//! mapping of failures to [`ApiError`] are decided in one place.

pub mod binaries;
pub mod compat;
pub mod error;
pub mod manifest;
pub mod me;
pub mod release;
pub mod reports;
pub mod results;
pub mod submission;
pub mod transfer;
pub mod uploads;

pub use error::{ApiError, NetKind};

use crate::clock::Timings;
pub use crate::encoding::encode_query_component;
use crate::net::proxy::{self, Proxies, Server};
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
    /// Shared by every clone, so a refreshed session reaches every user of the client.
    auth_headers: std::sync::Arc<std::sync::RwLock<Vec<(String, String)>>>,
    /// The API host for error messages, with " via HTTP proxy host:port" when one applies.
    host: String,
    /// The proxy settings, for URLs outside the API.
    proxies: Proxies,
    /// The proxy the API's own URL goes through.
    via: Option<Server>,
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
    /// The client for `opts.base_url`, through the environment's proxy for that URL.
    pub fn new(opts: ClientOptions) -> ApiClient {
        ApiClient::with_proxies(opts, proxy::env())
    }

    fn with_proxies(opts: ClientOptions, proxies: &Proxies) -> ApiClient {
        tls::install_provider();
        for (_, v) in &opts.auth_headers {
            crate::debug::add_secret(v);
            if let Some(token) = v.strip_prefix("Bearer ") {
                crate::debug::add_secret(token);
            }
        }
        crate::debug::add_url_secrets(&opts.base_url);
        let base_url = opts.base_url.trim_end_matches('/').to_string();
        let mut host = agent::host_of(&base_url);
        let via = proxies.for_url(&base_url);
        match via {
            Some(p) => {
                host = format!("{host} via {}", p.describe());
                crate::debug!("{} (from {})", p.describe(), p.var());
            }
            None if proxies.server(agent::is_https(&base_url)).is_some() => {
                crate::debug!("NO_PROXY: {host} is reached directly");
            }
            None => {}
        }
        ApiClient {
            agent: agent::api_agent(&opts.timings, via, &base_url),
            proxies: proxies.clone(),
            via: via.cloned(),
            base_url,
            auth_headers: std::sync::Arc::new(std::sync::RwLock::new(opts.auth_headers)),
            host,
            timings: opts.timings,
        }
    }

    /// The auth headers requests carry now.
    pub(super) fn auth_headers(&self) -> Vec<(String, String)> {
        self.auth_headers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the auth headers (a refreshed session) for this client and all its clones.
    pub fn set_auth_headers(&self, headers: Vec<(String, String)>) {
        for (_, v) in &headers {
            crate::debug::add_secret(v);
            if let Some(token) = v.strip_prefix("Bearer ") {
                crate::debug::add_secret(token);
            }
        }
        *self.auth_headers.write().unwrap_or_else(|e| e.into_inner()) = headers;
    }

    /// The agent for `url`: the client's own when the proxy decision for `url` is the API's,
    /// else one configured for `url` (a bundle URL on another host may differ by `NO_PROXY`).
    fn agent_for(&self, url: &str) -> ureq::Agent {
        let via = self.proxies.for_url(url);
        // The client's own agent trusts certificates only when the API itself is https.
        let same_tls = agent::is_https(url) == agent::is_https(&self.base_url);
        if via == self.via.as_ref() && same_tls {
            self.agent.clone()
        } else {
            agent::api_agent(&self.timings, via, url)
        }
    }

    /// A transport failure as an API error; a SOCKS proxy's refusal is a proxy error.
    fn transport_error(&self, op: &str, e: &ureq::Error) -> ApiError {
        let socks = self.via.as_ref().is_some_and(|p| p.kind().is_socks());
        ApiError::from_ureq_through(op, &self.host, e, &self.timings, socks)
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
        for (k, v) in self.auth_headers() {
            builder = builder.header(k, v);
        }
        for (k, v) in extra {
            builder = builder.header(*k, *v);
        }
        if let Some((content_type, _)) = body {
            builder = builder.header("content-type", content_type);
        }
        let start = Instant::now();
        let result = builder
            .body(body.map(|(_, b)| b.to_vec()).unwrap_or_default())
            .map_err(ureq::Error::from)
            .and_then(|req| self.agent_for(&url).run(req))
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
        let url = crate::debug::redact_url(&url);
        match result {
            Ok(reply) => {
                crate::debug!("{method} {url} → {} ({ms} ms)", reply.status);
                Ok(reply)
            }
            Err(e) => {
                crate::debug!("{method} {url} failed after {ms} ms: {e}");
                Err(self.transport_error(op, &e))
            }
        }
    }

    /// A POST of a JSON body whose 2xx answer must be JSON (an empty body reads as `{}`).
    pub(super) fn post_json<T: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ApiError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.post_bytes(op, path, "application/json", &bytes)
    }

    /// A POST of raw bytes (e.g. multipart) whose 2xx answer must be JSON.
    pub(super) fn post_bytes<T: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        path: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<T, ApiError> {
        let mut reply = self.request("POST", op, path, &[], Some((content_type, bytes)))?;
        if !(200..300).contains(&reply.status) {
            return Err(Self::status_error(op, &reply));
        }
        if reply.body.iter().all(u8::is_ascii_whitespace) {
            reply.body = b"{}".to_vec();
        }
        Self::parse_json(op, &reply)
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
            return ApiError::Status {
                op: op.to_string(),
                status: reply.status,
                message: redirect_message(reply.header("location")),
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
            crate::sanitize::one_line(&String::from_utf8_lossy(&reply.body), 500)
        );
        let content_type = reply.header("content-type");
        ApiError::from_reply(op, reply.status, content_type, &reply.body, retry_after)
    }

    /// A 2xx body as JSON; an HTML page is said to be one.
    fn parse_json<T: serde::de::DeserializeOwned>(op: &str, reply: &Reply) -> Result<T, ApiError> {
        serde_json::from_slice(&reply.body).map_err(|e| {
            if error::is_html(reply.header("content-type"), &reply.body) {
                return ApiError::Html {
                    op: op.to_string(),
                    status: reply.status,
                };
            }
            ApiError::InvalidJson {
                op: op.to_string(),
                detail: e.to_string(),
            }
        })
    }

    /// A GET whose 2xx body must be JSON.
    pub(super) fn get_json(&self, op: &str, path_and_query: &str) -> Result<Value, ApiError> {
        let reply = self.get(op, path_and_query, &[])?;
        if !(200..300).contains(&reply.status) {
            return Err(Self::status_error(op, &reply));
        }
        Self::parse_json(op, &reply)
    }
}

/// A redirect is never followed (the credentials would travel to another host): the message
/// names the origin (`scheme://host[:port]`) to use as `--api-url`, never the whole target,
/// whose path and query are the server's business.
fn redirect_message(location: Option<&str>) -> String {
    let Some(location) = location.map(str::trim).filter(|l| !l.is_empty()) else {
        return "redirected without a location; is --api-url the API?".to_string();
    };
    let origin = location.parse::<ureq::http::Uri>().ok().and_then(|u| {
        let scheme = u.scheme_str().filter(|s| matches!(*s, "http" | "https"))?;
        let host = u.host()?;
        Some(match u.port_u16() {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        })
    });
    match origin {
        Some(o) => {
            let o = crate::sanitize::one_line(&o, 200);
            format!("redirected to {o}; if that is the API, use --api-url {o}")
        }
        None => "redirected to another path of this server; is --api-url the API?".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::testserver::{closed_port, resp, serve, stuck};

    fn client(base: &str) -> ApiClient {
        ApiClient::with_proxies(
            ClientOptions {
                base_url: format!("{base}/"),
                auth_headers: vec![("x-app-api-key".into(), "test-key-abcdef".into())],
                timings: Timings::scaled(0.01),
            },
            &Proxies::only(None),
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
            ok(None, "{nope"),
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
        assert_eq!(
            e.to_string(),
            "Fetching results: the server answered HTML, not JSON — is --api-url the API? (HTTP 200)"
        );
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
    fn unreadable_rows_are_a_transient_failed_poll_that_clears_the_cache() {
        let bad = r#"{"results":[{"id":1,"test_file_name":"a.yaml","status":"PASSED"},
            {"id":null,"test_file_name":"b.yaml","status":"RUNNING"}]}"#;
        let srv = serve(vec![
            resp("200 OK", &[("etag", "W/\"v1\"")], ROWS),
            resp("200 OK", &[("etag", "W/\"v2\"")], bad),
            resp("200 OK", &[], ROWS),
        ]);
        let c = client(&srv.base);
        let mut cache = EtagCache::default();
        c.results_summary("u", &mut cache).unwrap();
        let e = c.results_summary("u", &mut cache).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Fetching results: unexpected API response: 1 row could not be read: row 2 has an \
             \"id\" that is null"
        );
        // The poll loop retries it, and never from the snapshot cached before it.
        assert!(e.is_transient());
        assert_eq!(cache.etag(), None);
        c.results_summary("u", &mut cache).unwrap();
        let _ = srv.requests.recv().unwrap();
        let _ = srv.requests.recv().unwrap();
        let third = srv.requests.recv().unwrap();
        assert!(
            !third.to_ascii_lowercase().contains("if-none-match"),
            "{third}"
        );
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
            "Fetching thing: redirected to https://elsewhere.test; if that is the API, use \
             --api-url https://elsewhere.test (HTTP 301)"
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
    fn a_redirect_names_the_origin_only() {
        assert_eq!(
            redirect_message(Some("https://u:p@api.example.test:8443/v1/x?token=abc")),
            "redirected to https://api.example.test:8443; if that is the API, use --api-url \
             https://api.example.test:8443"
        );
        assert_eq!(
            redirect_message(Some("/login?next=/results")),
            "redirected to another path of this server; is --api-url the API?"
        );
        assert_eq!(
            redirect_message(None),
            "redirected without a location; is --api-url the API?"
        );
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
        let c = ApiClient::with_proxies(
            ClientOptions {
                base_url: "https://api.example.test".into(),
                auth_headers: vec![],
                timings: Timings::scaled(0.01),
            },
            &Proxies::only(Some(Server::parse(&proxy.base, "HTTPS_PROXY").unwrap())),
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
                .contains("api.example.test via HTTP proxy 127.0.0.1:"),
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

    /// A SOCKS5 server that refuses every CONNECT (reply 2, "not allowed by ruleset").
    fn refusing_socks() -> u16 {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let mut buf = [0u8; 512];
                let _ = c.read(&mut buf);
                let _ = c.write_all(&[5, 0]);
                let _ = c.read(&mut buf);
                let _ = c.write_all(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
            }
        });
        port
    }

    #[test]
    fn a_refusing_socks_proxy_is_a_proxy_error() {
        let port = refusing_socks();
        let proxies = Proxies::only(Some(
            Server::parse(&format!("socks5h://127.0.0.1:{port}"), "ALL_PROXY").unwrap(),
        ));
        let c = ApiClient::with_proxies(
            ClientOptions {
                base_url: "http://api.example.test".into(),
                auth_headers: vec![],
                timings: Timings::scaled(0.01),
            },
            &proxies,
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
        let text = e.to_string();
        assert!(
            text.contains(&format!("via SOCKS5h proxy 127.0.0.1:{port}"))
                && text.contains("connection not allowed by ruleset"),
            "{text}"
        );
    }

    #[test]
    fn a_url_outside_the_api_gets_its_own_proxy_decision() {
        let api = serve(vec![resp("200 OK", &[], "{}")]);
        let proxy = serve(vec![resp("403 Forbidden", &[], "")]);
        let api_port = api.base.rsplit(':').next().unwrap().to_string();
        let vars = [
            ("HTTPS_PROXY".to_string(), proxy.base.clone()),
            ("NO_PROXY".to_string(), format!("127.0.0.1:{api_port}")),
        ];
        let proxies =
            Proxies::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()));
        let c = ApiClient::with_proxies(
            ClientOptions {
                base_url: api.base.clone(),
                auth_headers: vec![],
                timings: Timings::scaled(0.01),
            },
            &proxies,
        );
        // The API is in NO_PROXY: direct.
        c.get_json("Fetching results", "/results/x").unwrap();
        assert!(api.requests.recv().unwrap().starts_with("GET /results/x "));
        // A bundle URL elsewhere is not: through the proxy, never direct.
        let e = c
            .open_external(
                "Downloading",
                "GET",
                "http://bundles.example.test/b.zip",
                None,
            )
            .unwrap_err();
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
        assert!(
            proxy
                .requests
                .recv()
                .unwrap()
                .starts_with("CONNECT bundles.example.test:80 ")
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
