//! "Why can't we reach the API?", answered step by step.
//!
//! When polling gives up, the TS CLI probes google.com and cloudflare.com. We diagnose the
//! API host itself instead (docs/wait.md, "Giving up"): DNS, TCP connect, TLS handshake
//! (through the HTTP proxy's CONNECT tunnel when one is used), one HTTP request, stopping at
//! the first failure, so the user learns which step broke and what
//! to do about it (DNS, firewall, proxy, a TLS-inspecting proxy's CA) without dcd talking
//! to third-party sites.

use super::failure::{CertIssue, Failure, NetKind, classify, network_cause};
use super::proxy::{Kind, Server};
use crate::clock::Timings;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One step of the diagnosis.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// "URL" | "DNS" | "TCP connect" | "Proxy CONNECT" | "TLS handshake" | "HTTP"
    pub name: &'static str,
    /// What the step talked to: a host, `host:port`, or the URL (never with credentials).
    pub target: String,
    pub ok: bool,
    pub detail: String,
    pub latency_ms: u64,
    /// A failed step's certificate problem, when that was the cause.
    pub cert: Option<CertIssue>,
}

impl Step {
    fn new(
        name: &'static str,
        target: &str,
        result: Result<String, String>,
        start: Instant,
    ) -> Step {
        let ok = result.is_ok();
        Step {
            name,
            target: target.to_string(),
            ok,
            detail: result.unwrap_or_else(|e| e),
            latency_ms: ms(start),
            cert: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// The API URL diagnosed, without credentials.
    pub target: String,
    pub steps: Vec<Step>,
    /// `host:port` of the HTTP proxy used, if any (never its credentials).
    pub via_proxy: Option<String>,
}

impl Diagnosis {
    /// Every step passed, the HTTP one included (any HTTP status counts).
    pub fn reachable(&self) -> bool {
        self.steps.iter().all(|s| s.ok) && self.steps.last().is_some_and(|s| s.name == "HTTP")
    }

    pub fn failed_step(&self) -> Option<&Step> {
        self.steps.iter().find(|s| !s.ok)
    }
}

/// Diagnoses the API host of `base_url`, through the environment's proxy if one applies.
pub fn diagnose(base_url: &str, timings: &Timings) -> Diagnosis {
    diagnose_with(
        base_url,
        timings,
        super::proxy::env().for_url(base_url).cloned(),
        None,
    )
}

fn ms(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

/// The API host of the URL: its name (no brackets), port, scheme and `host:port` form.
struct Target {
    host: String,
    port: u16,
    https: bool,
    authority: String,
}

impl Target {
    fn parse(base: &str) -> Option<(Target, ureq::http::Uri)> {
        let uri = base.parse::<ureq::http::Uri>().ok()?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return None,
        };
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let t = Target {
            host: host.to_string(),
            port,
            https,
            authority: super::proxy::authority(host, port),
        };
        Some((t, uri))
    }
}

/// `tls`: the client config of the TLS step (dcd's roots when `None`).
fn diagnose_with(
    base_url: &str,
    timings: &Timings,
    proxy: Option<Server>,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Diagnosis {
    super::tls::install_provider();
    let base = base_url.trim_end_matches('/').to_string();
    let mut d = Diagnosis {
        target: crate::debug::redact_url(&base),
        steps: Vec::new(),
        via_proxy: None,
    };
    let Some((t, uri)) = Target::parse(&base) else {
        let failed = Err("not an http(s) URL".to_string());
        d.steps
            .push(Step::new("URL", &d.target, failed, Instant::now()));
        return d;
    };
    let _ = &uri;
    let (dns_host, dns_port) = match &proxy {
        Some(p) => {
            d.via_proxy = Some(super::proxy::authority(p.host(), p.port()));
            (p.host().to_string(), p.port())
        }
        None => (t.host.clone(), t.port),
    };
    let Some(addrs) = dns_step(&mut d, &dns_host, dns_port, timings) else {
        return d;
    };
    let connect_to = super::proxy::authority(&dns_host, dns_port);
    let Some(mut stream) = tcp_step(&mut d, &addrs, &connect_to, timings) else {
        return d;
    };
    // The TLS handshake runs directly, or through a CONNECT tunnel of an HTTP proxy (so a
    // TLS-inspecting proxy's certificate is seen and named); other proxies are ureq's.
    let http_proxy = proxy.as_ref().filter(|p| p.kind() == Kind::Http);
    if t.https && (proxy.is_none() || http_proxy.is_some()) {
        if let Some(p) = http_proxy {
            let start = Instant::now();
            let result = open_tunnel(&mut stream, &t.authority, p, timings.http_connect);
            let ok = result.is_ok();
            d.steps
                .push(Step::new("Proxy CONNECT", &t.authority, result, start));
            if !ok {
                return d;
            }
        }
        let start = Instant::now();
        let config = tls.unwrap_or_else(super::tls::rustls_client_config);
        let result = tls_handshake(stream, &t.host, timings.http_connect, config);
        let (result, cert) = match result {
            Ok(detail) => (Ok(detail), None),
            Err((detail, cert)) => (Err(detail), cert),
        };
        let mut step = Step::new("TLS handshake", &t.authority, result, start);
        step.cert = cert;
        let ok = step.ok;
        d.steps.push(step);
        if !ok {
            return d;
        }
    } else {
        drop(stream);
    }
    http_step(&mut d, &base, timings, proxy);
    d
}

/// DNS, within the connect timeout (`net::dns`).
fn dns_step(
    d: &mut Diagnosis,
    host: &str,
    port: u16,
    timings: &Timings,
) -> Option<Vec<SocketAddr>> {
    let start = Instant::now();
    let (addrs, detail) = match super::dns::lookup(host, port, timings.http_connect) {
        Ok(a) => {
            let shown: Vec<String> = a.iter().take(3).map(|a| a.ip().to_string()).collect();
            let detail = format!("{host} → {}", shown.join(", "));
            (Some(a), detail)
        }
        Err(e) => (None, e.to_string()),
    };
    let result = if addrs.is_some() {
        Ok(detail)
    } else {
        Err(detail)
    };
    d.steps.push(Step::new("DNS", host, result, start));
    addrs
}

/// TCP connect: each address in turn, like ureq.
fn tcp_step(
    d: &mut Diagnosis,
    addrs: &[SocketAddr],
    connect_to: &str,
    timings: &Timings,
) -> Option<TcpStream> {
    let start = Instant::now();
    let (stream, detail) = match connect_any(addrs, timings.http_connect) {
        Ok((s, addr)) => (Some(s), format!("connected to {addr}")),
        Err(e) => {
            let detail = match e.kind() {
                io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                    format!("no answer within {} ms", timings.http_connect.as_millis())
                }
                _ => e.to_string(),
            };
            (None, detail)
        }
    };
    let result = if stream.is_some() {
        Ok(detail)
    } else {
        Err(detail)
    };
    d.steps
        .push(Step::new("TCP connect", connect_to, result, start));
    stream
}

/// HTTP: any status means the API answered.
fn http_step(d: &mut Diagnosis, base: &str, timings: &Timings, proxy: Option<Server>) {
    let start = Instant::now();
    let url = format!("{base}/");
    let agent = super::agent::api_agent(timings, proxy.as_ref(), &url);
    let mut cert = None;
    let result = match agent.get(&url).call() {
        Ok(resp) => Ok(format!("HTTP {}", resp.status().as_u16())),
        Err(e) => {
            if let Failure::Network {
                kind: NetKind::Certificate(c),
                ..
            } = classify(&e)
            {
                cert = Some(c);
            }
            Err(probe_cause(&e, timings))
        }
    };
    let mut step = Step::new("HTTP", &crate::debug::redact_url(&url), result, start);
    step.cert = cert;
    d.steps.push(step);
}

/// Asks the HTTP proxy on `stream` for a CONNECT tunnel to `authority` (with Basic auth when
/// the proxy URL has credentials). Ok on a 2xx answer.
fn open_tunnel(
    stream: &mut TcpStream,
    authority: &str,
    proxy: &Server,
    timeout: Duration,
) -> Result<String, String> {
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let mut req = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {}\r\n",
        super::agent::user_agent()
    );
    if let Some(user) = proxy.user() {
        let creds = format!("{user}:{}", proxy.password().unwrap_or(""));
        let basic = crate::encoding::base64(creds.as_bytes());
        req.push_str(&format!("Proxy-Authorization: Basic {basic}\r\n"));
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .map_err(|e| io_text(&e, timeout))?;
    // Byte by byte up to the blank line: nothing of the tunnel is read ahead.
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut b) {
            Ok(1) => head.push(b[0]),
            Ok(_) => return Err("the proxy closed the connection".into()),
            Err(e) => return Err(io_text(&e, timeout)),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(c @ 200..=299) => Ok(format!("tunnel open (HTTP {c})")),
        Some(407) => Err("the proxy requires authentication (HTTP 407)".into()),
        Some(c) => Err(format!("the proxy refused the tunnel (HTTP {c})")),
        None => Err("the proxy did not answer in HTTP".into()),
    }
}

fn io_text(e: &io::Error, timeout: Duration) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("no answer within {} ms", timeout.as_millis())
        }
        io::ErrorKind::UnexpectedEof => "the server closed the connection".to_string(),
        _ => e.to_string(),
    }
}

fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> io::Result<(TcpStream, SocketAddr)> {
    let mut last = io::Error::other("no addresses");
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => return Ok((s, *addr)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A rustls handshake over `stream`. Ok: "TLS 1.3, <suite>"; Err: what failed, and the
/// certificate problem when that was the cause.
fn tls_handshake(
    mut stream: TcpStream,
    host: &str,
    timeout: Duration,
    config: Arc<rustls::ClientConfig>,
) -> Result<String, (String, Option<CertIssue>)> {
    use rustls::pki_types::ServerName;
    let plain = |e: String| (e, None);
    let name = ServerName::try_from(host.to_string()).map_err(|e| plain(e.to_string()))?;
    let mut conn = rustls::ClientConnection::new(config, name).map_err(|e| plain(e.to_string()))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| plain(e.to_string()))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut stream) {
            let cert = match super::failure::io_tls_kind(&e) {
                Some(NetKind::Certificate(c)) => Some(c),
                _ => None,
            };
            return Err((io_text(&e, timeout), cert));
        }
    }
    let version = conn.protocol_version().map_or_else(
        || "TLS".to_string(),
        |v| format!("{v:?}").replace("TLSv1_", "TLS 1."),
    );
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!(", {:?}", s.suite()))
        .unwrap_or_default();
    Ok(format!("{version}{suite}"))
}

/// The cause of a failed probe, in the words the API errors use.
fn probe_cause(e: &ureq::Error, timings: &Timings) -> String {
    match classify(e) {
        Failure::Timeout { connecting } => {
            let after = if connecting {
                timings.http_connect
            } else {
                timings.http_request
            };
            format!("no answer within {}s", after.as_secs_f64())
        }
        Failure::Network { kind, detail } => network_cause(kind, &detail),
        Failure::BodyTooLarge(n) => format!("response body larger than {n} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::testserver::{
        closed_port, inspecting_proxy, leaf, resp, serve, stuck, tls_server, trusting_test_ca,
    };
    use crate::render::diagnosis as text;

    fn t() -> Timings {
        Timings::scaled(0.01)
    }

    fn names(d: &Diagnosis) -> Vec<(&str, bool)> {
        d.steps.iter().map(|s| (s.name, s.ok)).collect()
    }

    #[test]
    fn a_live_http_server_is_reachable() {
        // The TCP step's probe connection takes the first answer.
        let srv = serve(vec![resp("404 Not Found", &[], ""); 2]);
        let d = diagnose_with(&srv.base, &t(), None, None);
        assert_eq!(
            names(&d),
            [("DNS", true), ("TCP connect", true), ("HTTP", true)]
        );
        assert!(d.reachable() && d.failed_step().is_none() && text::hint(&d).is_none());
        assert!(
            text::summary(&d).starts_with("127.0.0.1:"),
            "{}",
            text::summary(&d)
        );
        assert!(
            text::summary(&d).contains(" is reachable (HTTP 404 in "),
            "{}",
            text::summary(&d)
        );
        assert!(
            text::lines(&d)[0].starts_with("✓ DNS  127.0.0.1 → 127.0.0.1 ("),
            "{:?}",
            text::lines(&d)
        );
        let j = text::to_json(&d);
        assert_eq!(j["connected"], true);
        assert_eq!(
            j["endpointResults"][2]["endpoint"],
            format!("HTTP ({}/)", srv.base)
        );
        assert!(j["endpointResults"][0].get("error").is_none());
        assert_eq!(srv.requests.recv().unwrap(), "");
        assert!(srv.requests.recv().unwrap().starts_with("GET / HTTP/1.1"));
    }

    #[test]
    fn a_closed_port_fails_the_tcp_step() {
        let port = closed_port();
        let d = diagnose_with(&format!("http://127.0.0.1:{port}"), &t(), None, None);
        assert_eq!(names(&d), [("DNS", true), ("TCP connect", false)]);
        assert!(!d.reachable());
        assert_eq!(
            text::summary(&d),
            format!("TCP connect to 127.0.0.1:{port} failed: connection refused")
        );
        assert!(text::hint(&d).unwrap().contains("HTTPS_PROXY"));
        assert!(text::lines(&d)[1].starts_with("✗ TCP connect: connection refused ("));
        let j = text::to_json(&d);
        assert_eq!(j["connected"], false);
        assert_eq!(j["endpointResults"][1]["error"], "connection refused");
        assert_eq!(j["message"], text::summary(&d));
    }

    #[test]
    fn an_unresolvable_host_fails_the_dns_step() {
        let d = diagnose_with("https://nonexistent.invalid", &t(), None, None);
        assert_eq!(names(&d), [("DNS", false)]);
        assert!(text::summary(&d).starts_with("DNS lookup of nonexistent.invalid failed: "));
        assert!(text::hint(&d).unwrap().contains("DNS"));
    }

    #[test]
    fn a_server_that_does_not_speak_tls_fails_the_tls_step() {
        let addr = stuck(Some(b"HTTP/1.1 400 Bad Request\r\n\r\n"));
        let d = diagnose_with(&format!("https://{addr}"), &t(), None, None);
        assert_eq!(
            names(&d),
            [
                ("DNS", true),
                ("TCP connect", true),
                ("TLS handshake", false)
            ]
        );
        assert!(text::summary(&d).starts_with(&format!("TLS handshake with {addr} failed: ")));
        assert!(text::hint(&d).unwrap().contains("does not speak TLS"));
        // A silent server: the handshake times out instead of hanging.
        let d = diagnose_with(&format!("https://{}", stuck(None)), &t(), None, None);
        let failed = d.failed_step().unwrap();
        assert_eq!(failed.name, "TLS handshake");
        assert!(
            failed.detail.starts_with("no answer within"),
            "{}",
            failed.detail
        );
    }

    #[test]
    fn a_proxy_is_diagnosed_instead_of_the_host() {
        let port = closed_port();
        let proxy =
            Server::parse(&format!("http://user:pw@127.0.0.1:{port}"), "HTTPS_PROXY").unwrap();
        let d = diagnose_with("https://api.example.test", &t(), Some(proxy), None);
        assert_eq!(d.via_proxy, Some(format!("127.0.0.1:{port}")));
        assert_eq!(names(&d), [("DNS", true), ("TCP connect", false)]);
        assert!(text::hint(&d).unwrap().contains("proxy"));
        assert!(!format!("{d:?}").contains("pw"));

        // The proxy answers but refuses the tunnel: the CONNECT step says so, and the
        // tunnel request carried the proxy's credentials.
        let srv = serve(vec![resp("407 Proxy Authentication Required", &[], "")]);
        let proxy = Server::parse(
            &srv.base.replace("http://", "http://user:pw@"),
            "HTTPS_PROXY",
        )
        .unwrap();
        let d = diagnose_with("https://api.example.test", &t(), Some(proxy), None);
        assert_eq!(
            names(&d),
            [
                ("DNS", true),
                ("TCP connect", true),
                ("Proxy CONNECT", false)
            ]
        );
        assert_eq!(
            text::summary(&d),
            format!(
                "Proxy CONNECT to api.example.test:443 via proxy {} failed: the proxy requires \
                 authentication (HTTP 407)",
                srv.base.trim_start_matches("http://")
            )
        );
        assert!(
            text::hint(&d)
                .unwrap()
                .contains("credentials in HTTPS_PROXY")
        );
        let head = srv.requests.recv().unwrap();
        assert!(
            head.starts_with(
                "CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\n"
            ),
            "{head}"
        );
        assert!(
            head.contains("Proxy-Authorization: Basic dXNlcjpwdw==\r\n"),
            "{head}"
        );
    }

    #[test]
    fn an_untrusted_issuer_is_named_directly_and_behind_an_inspecting_proxy() {
        let addr = tls_server(leaf("good"));
        let d = diagnose_with(&format!("https://{addr}"), &t(), None, None);
        let failed = d.failed_step().unwrap();
        assert_eq!(failed.name, "TLS handshake");
        assert_eq!(failed.cert, Some(CertIssue::Untrusted));
        let hint = text::hint(&d).unwrap();
        assert!(
            hint.contains("SSL_CERT_FILE=") && hint.contains("SSL_CERT_DIR"),
            "{hint}"
        );

        // Through a CONNECT proxy that answers the handshake itself: the TLS step runs
        // through the tunnel and names the proxy, not its address or credentials.
        let (proxy, heads) = inspecting_proxy();
        let p = Server::parse(&format!("http://{proxy}"), "HTTPS_PROXY").unwrap();
        let d = diagnose_with("https://api.example.test", &t(), Some(p), None);
        assert_eq!(
            names(&d),
            [
                ("DNS", true),
                ("TCP connect", true),
                ("Proxy CONNECT", true),
                ("TLS handshake", false)
            ]
        );
        assert!(
            heads
                .recv()
                .unwrap()
                .starts_with("CONNECT api.example.test:443 ")
        );
        let failed = d.failed_step().unwrap();
        assert_eq!(failed.cert, Some(CertIssue::Untrusted));
        assert!(
            text::summary(&d).starts_with(&format!(
                "TLS handshake with api.example.test:443 via proxy {proxy} failed: "
            )),
            "{}",
            text::summary(&d)
        );
        let hint = text::hint(&d).unwrap();
        assert!(hint.contains("the proxy inspects TLS"), "{hint}");
        assert!(hint.contains("SSL_CERT_FILE"), "{hint}");
    }

    #[test]
    fn expired_early_and_wrong_host_certificates_say_so() {
        for (cert, issue, words) in [
            ("expired", CertIssue::Expired, "has expired"),
            ("future", CertIssue::NotYetValid, "not valid yet"),
            ("wronghost", CertIssue::WrongHost, "for another host"),
        ] {
            let addr = tls_server(leaf(cert));
            let d = diagnose_with(
                &format!("https://{addr}"),
                &t(),
                None,
                Some(trusting_test_ca()),
            );
            let failed = d.failed_step().unwrap();
            assert_eq!(
                (failed.name, failed.cert),
                ("TLS handshake", Some(issue)),
                "{cert}"
            );
            let hint = text::hint(&d).unwrap();
            assert!(hint.contains(words), "{cert}: {hint}");
            assert!(!hint.contains("SSL_CERT_FILE"), "{cert}: {hint}");
        }
        // The good certificate with its CA trusted passes the TLS step.
        let addr = tls_server(leaf("good"));
        let d = diagnose_with(
            &format!("https://{addr}"),
            &t(),
            None,
            Some(trusting_test_ca()),
        );
        assert!(
            d.steps[2].ok && d.steps[2].detail.starts_with("TLS 1."),
            "{d:?}"
        );
    }

    #[test]
    fn credentials_in_the_url_are_never_shown() {
        let port = closed_port();
        let d = diagnose_with(
            &format!("http://user:hunter2@127.0.0.1:{port}"),
            &t(),
            None,
            None,
        );
        assert_eq!(d.target, format!("http://127.0.0.1:{port}"));
        let mut all = text::lines(&d).join("\n");
        text::append(&mut all, &d);
        assert!(!all.contains("hunter2") && !text::to_json(&d).to_string().contains("hunter2"));
    }

    #[test]
    fn a_bad_url_is_reported_not_probed() {
        let d = diagnose_with("ftp://x", &t(), None, None);
        assert_eq!(names(&d), [("URL", false)]);
        assert_eq!(text::summary(&d), "URL ftp://x failed: not an http(s) URL");
    }
}
