//! Every way an API call can fail, as one enum.
//!
//! Callers decide retry or give up from the variant ([`ApiError::is_transient`],
//! [`ApiError::never_reached_server`]); users see the `Display` text, which follows the TS
//! CLI's wording (docs/http-api.md, "Errors"), is one line (except 401/403), carries no
//! secrets and no control characters from the server.

use crate::clock::Timings;
pub use crate::net::failure::NetKind;
use crate::net::failure::{Failure, classify_through, network_cause};
use crate::sanitize::one_line;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    Network {
        op: String,
        /// The API host as the user knows it (plus "via proxy …" when one is used).
        host: String,
        kind: NetKind,
        detail: String,
    },
    Timeout {
        op: String,
        after: Duration,
        /// Timed out while connecting (DNS, TCP, TLS): the request never left.
        connecting: bool,
    },
    /// A non-2xx answer. `message` is already cleaned (one line, no control chars).
    Status {
        op: String,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// A 2xx whose body is not JSON.
    InvalidJson { op: String, detail: String },
    /// A 2xx whose body is an HTML page: `--api-url` most likely names a web site (the
    /// console), not the API.
    Html { op: String, status: u16 },
    /// A 2xx that is an error envelope or lacks the expected fields; a stray 304.
    BadResponse { op: String, detail: String },
    /// The results array was empty: a failed poll, never "all passed".
    Empty { op: String },
    /// The login session cannot be refreshed (the auth server refused): only `dcd login`
    /// helps. `message` says so.
    SessionDead { op: String, message: String },
}

/// Longest server text kept in a message.
const MAX_MESSAGE: usize = 200;

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Worth retrying: network trouble, timeouts, 408, 429, 5xx and malformed 2xx answers.
    /// Other 4xx are not (a 404 soon after creation is the caller's call).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => matches!(status, 408 | 429 | 500..),
            ApiError::SessionDead { .. } => false,
            _ => true,
        }
    }

    /// The statuses `dcd status` does not retry: 400, 401, 403, 404 and 429 end it at once.
    pub fn is_client_class(&self) -> bool {
        matches!(self.status(), Some(400 | 401 | 403 | 404 | 429))
    }

    #[cfg(test)]
    /// True only when the request provably never reached the server (name not resolved,
    /// connection refused or unreachable, proxy CONNECT failed, TLS handshake failed, timed
    /// out while connecting): only then may a POST be retried.
    pub fn never_reached_server(&self) -> bool {
        match self {
            ApiError::Network { kind, .. } => matches!(
                kind,
                NetKind::Dns
                    | NetKind::Refused
                    | NetKind::Unreachable
                    | NetKind::Tls
                    | NetKind::Certificate(_)
                    | NetKind::Proxy
            ),
            ApiError::Timeout { connecting, .. } => *connecting,
            _ => false,
        }
    }

    /// Why it failed, without the operation and host: "connection refused", "no answer
    /// within 30s", or the whole message for answers that were errors.
    pub fn cause(&self) -> String {
        match self {
            ApiError::Network { kind, detail, .. } => {
                network_cause(*kind, &one_line(detail, MAX_MESSAGE))
            }
            ApiError::Timeout { after, .. } => format!("no answer within {}", secs(*after)),
            _ => self.to_string(),
        }
    }

    #[cfg(test)]
    /// A non-2xx response. The message is `message` ?? `error` ?? the raw text, wrapped in
    /// the TS CLI's per-status wording (docs/http-api.md, "Errors").
    pub fn from_status(
        op: &str,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> ApiError {
        ApiError::from_reply(op, status, None, body, retry_after)
    }

    /// [`ApiError::from_status`] knowing the answer's `content-type`: a 4xx HTML page says
    /// that the server answered HTML (a 5xx one keeps its reason phrase: load balancers
    /// answer outages with HTML pages).
    pub fn from_reply(
        op: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> ApiError {
        let message = if (400..500).contains(&status) && is_html(content_type, body) {
            HTML_ANSWER.to_string()
        } else {
            server_message(status, body)
        };
        ApiError::Status {
            op: op.to_string(),
            status,
            message,
            retry_after,
        }
    }

    #[cfg(test)]
    /// Maps a ureq failure. `host` names the server for the message; `t` gives the timeouts.
    pub fn from_ureq(op: &str, host: &str, e: &ureq::Error, t: &Timings) -> ApiError {
        ApiError::from_ureq_through(op, host, e, t, false)
    }

    /// [`ApiError::from_ureq`] for a request sent through a SOCKS proxy when `socks`.
    pub fn from_ureq_through(
        op: &str,
        host: &str,
        e: &ureq::Error,
        t: &Timings,
        socks: bool,
    ) -> ApiError {
        match classify_through(e, socks) {
            Failure::Timeout { connecting } => ApiError::Timeout {
                op: op.to_string(),
                after: if connecting {
                    t.http_connect
                } else {
                    t.http_request
                },
                connecting,
            },
            Failure::Network { kind, detail } => ApiError::Network {
                op: op.to_string(),
                host: host.to_string(),
                kind,
                detail,
            },
            Failure::BodyTooLarge(n) => ApiError::BadResponse {
                op: op.to_string(),
                detail: format!("response body larger than {n} bytes"),
            },
        }
    }
}

/// What an HTML answer means for an API client.
pub const HTML_ANSWER: &str = "The server answered HTML, not JSON — is --api-url the API?";

/// An HTML page rather than JSON: a `text/html` (or XHTML) content type, or a body whose first
/// non-blank character is `<` (JSON never starts so).
pub fn is_html(content_type: Option<&str>, body: &[u8]) -> bool {
    let typed = content_type.is_some_and(|t| {
        let t = t.trim_start().to_ascii_lowercase();
        t.starts_with("text/html") || t.starts_with("application/xhtml")
    });
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    typed || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// The message of an error body: JSON `message` (string or list) ?? `error` ?? raw text.
/// An HTML page or an empty body gives the status's reason phrase instead.
fn server_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
        let pick = |k: &str| match v.get(k)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Value::Array(a) if !a.is_empty() => Some(
                a.iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            _ => None,
        };
        pick("message").or_else(|| pick("error"))
    });
    let raw = from_json.unwrap_or_else(|| text.trim().to_string());
    if raw.is_empty() || raw.starts_with('<') {
        return ureq::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no message")
            .to_string();
    }
    one_line(&raw, MAX_MESSAGE)
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s:.1}s")
    }
}

const FORBIDDEN_API_KEY_HELP: &str = "Troubleshooting:
  1. Is DEVICE_CLOUD_API_KEY (or --api-key) set to the key you expect?
  2. Does the key belong to the environment you are targeting (prod or dev)?
  3. Has the key been revoked or regenerated in the devicecloud.dev console?
  4. Does --api-url point at the API that issued the key?";

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ApiError::Status {
                op,
                status,
                message,
                ..
            } => match status {
                400 => format!("Invalid request: {message}"),
                401 => format!(
                    "Authentication failed — your credentials are invalid or expired. Re-run \
                     `dcd login` or check your API key. ({op})\nServer response: {message}"
                ),
                403 if message.to_ascii_lowercase().contains("api key") => {
                    format!("{message}\n\n{FORBIDDEN_API_KEY_HELP}")
                }
                403 => format!("Access denied. {message}"),
                404 => format!("Resource not found. {message}"),
                429 => format!("Rate limit exceeded. Please try again later. ({op})"),
                500 => {
                    format!("Server error occurred. Please try again or contact support. ({op})")
                }
                _ => format!("{op}: {message} (HTTP {status})"),
            },
            ApiError::Network { op, host, .. } => {
                format!("{op}: could not reach {host}: {}", self.cause())
            }
            ApiError::Timeout {
                op,
                after,
                connecting: true,
            } => format!("{op}: could not connect to the API within {}", secs(*after)),
            ApiError::Timeout { op, after, .. } => {
                format!("{op}: the API did not answer within {}", secs(*after))
            }
            ApiError::InvalidJson { op, detail } => {
                format!("{op}: API returned an invalid JSON response ({detail})")
            }
            ApiError::Html { op, status } => {
                format!(
                    "{op}: the server answered HTML, not JSON — is --api-url the API? (HTTP {status})"
                )
            }
            ApiError::BadResponse { op, detail } => {
                format!("{op}: unexpected API response: {detail}")
            }
            ApiError::Empty { op } => format!("{op}: the API returned no results"),
            ApiError::SessionDead { message, .. } => message.clone(),
        };
        // Network details and our own text are already safe; redaction is defence in depth.
        f.write_str(&crate::debug::redact(&text))
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::failure::CertIssue;

    fn st(status: u16, body: &str) -> ApiError {
        ApiError::from_status("Fetching results", status, body.as_bytes(), None)
    }

    #[test]
    fn status_texts_follow_the_ts_cli() {
        let m = r#"{"message":"bad thing"}"#;
        assert_eq!(st(400, m).to_string(), "Invalid request: bad thing");
        assert_eq!(
            st(401, r#"{"error":"jwt expired"}"#).to_string(),
            "Authentication failed — your credentials are invalid or expired. Re-run `dcd login` \
             or check your API key. (Fetching results)\nServer response: jwt expired"
        );
        assert_eq!(st(403, m).to_string(), "Access denied. bad thing");
        let key = st(403, r#"{"message":"Invalid API key"}"#).to_string();
        assert!(key.starts_with("Invalid API key\n\nTroubleshooting:\n  1. "));
        assert_eq!(key.matches("\n  ").count(), 4);
        assert_eq!(
            st(404, "Not here").to_string(),
            "Resource not found. Not here"
        );
        assert_eq!(
            st(429, m).to_string(),
            "Rate limit exceeded. Please try again later. (Fetching results)"
        );
        assert_eq!(
            st(500, m).to_string(),
            "Server error occurred. Please try again or contact support. (Fetching results)"
        );
        assert_eq!(
            st(418, r#"{"message":["a must be set","b too"]}"#).to_string(),
            "Fetching results: a must be set; b too (HTTP 418)"
        );
        assert_eq!(
            st(502, "<html><body>nginx</body></html>").to_string(),
            "Fetching results: Bad Gateway (HTTP 502)"
        );
        assert_eq!(
            st(404, " <!DOCTYPE html><html>console</html>").to_string(),
            "Resource not found. The server answered HTML, not JSON — is --api-url the API?"
        );
        let typed = ApiError::from_reply(
            "Fetching results",
            405,
            Some("Text/HTML; charset=utf-8"),
            b"Method not allowed",
            None,
        );
        assert_eq!(
            typed.to_string(),
            "Fetching results: The server answered HTML, not JSON — is --api-url the API? (HTTP 405)"
        );
        assert!(!is_html(Some("application/json"), br#"{"a":"<b>"}"#));
        assert!(is_html(None, b"\xEF\xBB\xBF\n<html>"));
        assert_eq!(
            st(503, "").to_string(),
            "Fetching results: Service Unavailable (HTTP 503)"
        );
    }

    #[test]
    fn server_text_is_one_safe_bounded_line() {
        let e = st(418, "::error::evil\r\n\x1b[31mred\u{202E}x\u{200B}y\tz");
        assert_eq!(
            e.to_string(),
            "Fetching results:  ::error::evil \\x1b[31mred<U+202E>x<U+200B>y z (HTTP 418)"
        );
        let long = "x".repeat(5000);
        let msg = st(418, &long).to_string();
        assert!(msg.len() < 260, "{msg}");
        assert!(msg.contains("x…"));
        crate::debug::add_secret("sekret-key-123456");
        assert!(
            !st(400, r#"{"message":"bad key sekret-key-123456"}"#)
                .to_string()
                .contains("sekret")
        );
    }

    #[test]
    fn transient_and_client_class_tables() {
        for (code, transient, client) in [
            (400, false, true),
            (401, false, true),
            (403, false, true),
            (404, false, true),
            (405, false, false),
            (408, true, false),
            (409, false, false),
            (429, true, true),
            (500, true, false),
            (502, true, false),
            (503, true, false),
        ] {
            let e = st(code, "");
            assert_eq!(e.is_transient(), transient, "{code}");
            assert_eq!(e.is_client_class(), client, "{code}");
            assert!(!e.never_reached_server());
            assert_eq!(e.status(), Some(code));
        }
        let op = "op".to_string();
        for e in [
            ApiError::Timeout {
                op: op.clone(),
                after: Duration::from_secs(1),
                connecting: false,
            },
            ApiError::InvalidJson {
                op: op.clone(),
                detail: String::new(),
            },
            ApiError::BadResponse {
                op: op.clone(),
                detail: String::new(),
            },
            ApiError::Empty { op: op.clone() },
        ] {
            assert!(e.is_transient() && !e.is_client_class() && e.status().is_none());
        }
    }

    #[test]
    fn ureq_errors_map_to_kinds() {
        use std::io::{Error as IoError, ErrorKind};
        let t = Timings::scaled(1.0);
        let map = |e: ureq::Error| ApiError::from_ureq("Fetching results", "api.test", &e, &t);
        let kind = |e: ApiError| match e {
            ApiError::Network { kind, .. } => Some(kind),
            _ => None,
        };
        let cases = [
            (ureq::Error::HostNotFound, NetKind::Dns, true),
            (
                ureq::Error::Io(IoError::other(
                    "failed to lookup address information: Name or service not known",
                )),
                NetKind::Dns,
                true,
            ),
            (
                ureq::Error::Io(IoError::from(ErrorKind::ConnectionRefused)),
                NetKind::Refused,
                true,
            ),
            (
                ureq::Error::Io(IoError::from(ErrorKind::NetworkUnreachable)),
                NetKind::Unreachable,
                true,
            ),
            (
                ureq::Error::Io(IoError::from(ErrorKind::ConnectionReset)),
                NetKind::Reset,
                false,
            ),
            (
                ureq::Error::ConnectProxyFailed("proxy server responded 407/407".into()),
                NetKind::Proxy,
                true,
            ),
            (
                ureq::Error::Io(IoError::new(
                    ErrorKind::InvalidData,
                    rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
                )),
                NetKind::Certificate(CertIssue::Untrusted),
                true,
            ),
            (
                ureq::Error::Rustls(rustls::Error::DecryptError),
                NetKind::Other,
                false,
            ),
            (ureq::Error::ConnectionFailed, NetKind::Other, false),
        ];
        for (e, want, never) in cases {
            let got = map(e);
            assert_eq!(kind(got.clone()), Some(want), "{got:?}");
            assert_eq!(got.never_reached_server(), never, "{got:?}");
            assert!(got.is_transient());
            assert!(!got.to_string().contains('\n'));
        }
        let tls = map(ureq::Error::Rustls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        )));
        assert_eq!(
            tls.to_string(),
            format!(
                "Fetching results: could not reach api.test: TLS error: invalid peer certificate: \
                 UnknownIssuer ({})",
                crate::platform::UNTRUSTED_CA_ADVICE
            )
        );
        let expired = map(ureq::Error::Rustls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Expired,
        )));
        assert!(
            expired.to_string().ends_with(
                "(the server's certificate has expired, or this machine's clock is wrong)"
            ),
            "{expired}"
        );
        assert!(expired.never_reached_server());
        assert_eq!(
            map(ureq::Error::HostNotFound).to_string(),
            "Fetching results: could not reach api.test: could not resolve host"
        );
        let slow = map(ureq::Error::Timeout(ureq::Timeout::RecvResponse));
        assert_eq!(
            slow.to_string(),
            "Fetching results: the API did not answer within 30s"
        );
        assert!(!slow.never_reached_server());
        let connect = map(ureq::Error::Timeout(ureq::Timeout::Connect));
        assert!(connect.never_reached_server());
        assert_eq!(
            connect.to_string(),
            "Fetching results: could not connect to the API within 10s"
        );
    }
}
