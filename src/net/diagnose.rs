//! "Why can't we reach the API?", answered step by step.
//!
//! When polling gives up, the TS CLI probes google.com and cloudflare.com. We diagnose the
//! API host itself instead (docs/wait.md, "Giving up"): DNS, TCP connect, TLS handshake, one
//! HTTP request, stopping at the first failure, so the user learns which step broke and what
//! to do about it (DNS, firewall, proxy, a TLS-inspecting proxy's CA) without dcd talking
//! to third-party sites.

use super::proxy::Server;
use crate::clock::Timings;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One step of the diagnosis.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// "URL" | "DNS" | "TCP connect" | "TLS handshake" | "HTTP"
    pub name: &'static str,
    /// What the step talked to: a host, `host:port`, or the URL.
    pub target: String,
    pub ok: bool,
    pub detail: String,
    pub latency_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// The API URL diagnosed.
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
    diagnose_with(base_url, timings, super::proxy::env().for_url(base_url))
}

fn ms(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

fn diagnose_with(base_url: &str, timings: &Timings, proxy: Option<&Server>) -> Diagnosis {
    super::tls::install_provider();
    let base = base_url.trim_end_matches('/').to_string();
    let mut d = Diagnosis {
        target: base.clone(),
        steps: Vec::new(),
        via_proxy: None,
    };
    let uri = match base.parse::<ureq::http::Uri>() {
        Ok(u) if u.host().is_some() && matches!(u.scheme_str(), Some("http" | "https")) => u,
        _ => {
            d.steps.push(Step {
                name: "URL",
                target: base,
                ok: false,
                detail: "not an http(s) URL".into(),
                latency_ms: 0,
            });
            return d;
        }
    };
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().unwrap_or_default();
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let (dns_host, dns_port) = match proxy {
        Some(p) => {
            d.via_proxy = Some(p.addr());
            (p.host().to_string(), p.port())
        }
        None => (host.clone(), port),
    };
    let connect_to = super::proxy::authority(&dns_host, dns_port);
    let Some(addrs) = dns_step(&mut d, &dns_host, dns_port, timings) else {
        return d;
    };
    let Some(stream) = tcp_step(&mut d, &addrs, &connect_to, timings) else {
        return d;
    };
    // TLS handshake, directly only: through a proxy the tunnel is ureq's business.
    if https && proxy.is_none() {
        let start = Instant::now();
        let (ok, detail) = match tls_handshake(stream, &host, timings.http_connect) {
            Ok(d) => (true, d),
            Err(e) => (false, e),
        };
        d.steps.push(Step {
            name: "TLS handshake",
            target: connect_to,
            ok,
            detail,
            latency_ms: ms(start),
        });
        if !ok {
            return d;
        }
    } else {
        drop(stream);
    }
    http_step(&mut d, &base, timings, proxy);
    d
}

/// DNS, on a helper thread: getaddrinfo can hang far beyond any timeout of ours.
fn dns_step(
    d: &mut Diagnosis,
    host: &str,
    port: u16,
    timings: &Timings,
) -> Option<Vec<SocketAddr>> {
    let start = Instant::now();
    let (tx, rx) = mpsc::channel();
    let h = host.to_string();
    std::thread::spawn(move || {
        let _ = tx.send(
            (h.as_str(), port)
                .to_socket_addrs()
                .map(|a| a.collect::<Vec<_>>()),
        );
    });
    let (addrs, detail) = match rx.recv_timeout(timings.http_connect) {
        Ok(Ok(a)) if !a.is_empty() => {
            let shown: Vec<String> = a.iter().take(3).map(|a| a.ip().to_string()).collect();
            let detail = format!("{host} → {}", shown.join(", "));
            (Some(a), detail)
        }
        Ok(Err(e)) => (None, e.to_string()),
        Ok(Ok(_)) => (None, "no addresses".into()),
        Err(_) => (
            None,
            format!("no answer within {} ms", timings.http_connect.as_millis()),
        ),
    };
    d.steps.push(Step {
        name: "DNS",
        target: host.to_string(),
        ok: addrs.is_some(),
        detail,
        latency_ms: ms(start),
    });
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
    d.steps.push(Step {
        name: "TCP connect",
        target: connect_to.to_string(),
        ok: stream.is_some(),
        detail,
        latency_ms: ms(start),
    });
    stream
}

/// HTTP: any status means the API answered.
fn http_step(d: &mut Diagnosis, base: &str, timings: &Timings, proxy: Option<&Server>) {
    let start = Instant::now();
    let url = format!("{base}/");
    let agent = super::agent::api_agent(timings, proxy);
    let (ok, detail) = match agent.get(&url).call() {
        Ok(resp) => (true, format!("HTTP {}", resp.status().as_u16())),
        Err(e) => (
            false,
            probe_cause(&e, timings, proxy.is_some_and(|p| p.kind().is_socks())),
        ),
    };
    d.steps.push(Step {
        name: "HTTP",
        target: url,
        ok,
        detail,
        latency_ms: ms(start),
    });
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

/// A rustls handshake over `stream` with dcd's roots. Ok: "TLS 1.3, <suite>".
fn tls_handshake(mut stream: TcpStream, host: &str, timeout: Duration) -> Result<String, String> {
    use rustls::pki_types::ServerName;
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let mut conn = rustls::ClientConnection::new(super::tls::rustls_client_config(), name)
        .map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut stream) {
            return Err(match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    format!("no answer within {} ms", timeout.as_millis())
                }
                io::ErrorKind::UnexpectedEof => "the server closed the connection".to_string(),
                _ => e.to_string(),
            });
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
fn probe_cause(e: &ureq::Error, timings: &Timings, socks: bool) -> String {
    use super::failure::{Failure, classify_through, network_cause};
    match classify_through(e, socks) {
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
    use crate::net::testserver::{closed_port, resp, serve, stuck};
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
        let d = diagnose_with(&srv.base, &t(), None);
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
        let d = diagnose_with(&format!("http://127.0.0.1:{port}"), &t(), None);
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
        let d = diagnose_with("https://nonexistent.invalid", &t(), None);
        assert_eq!(names(&d), [("DNS", false)]);
        assert!(text::summary(&d).starts_with("DNS lookup of nonexistent.invalid failed: "));
        assert!(text::hint(&d).unwrap().contains("DNS"));
    }

    #[test]
    fn a_server_that_does_not_speak_tls_fails_the_tls_step() {
        let addr = stuck(Some(b"HTTP/1.1 400 Bad Request\r\n\r\n"));
        let d = diagnose_with(&format!("https://{addr}"), &t(), None);
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
        let d = diagnose_with(&format!("https://{}", stuck(None)), &t(), None);
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
        let proxy = Server::parse(&format!("http://user:pw@127.0.0.1:{port}"), "HTTPS_PROXY");
        let d = diagnose_with("https://api.example.test", &t(), proxy.as_ref().ok());
        assert_eq!(d.via_proxy, Some(format!("127.0.0.1:{port}")));
        assert_eq!(names(&d), [("DNS", true), ("TCP connect", false)]);
        assert!(text::hint(&d).unwrap().contains("proxy"));
        assert!(!format!("{d:?}").contains("pw"));

        // The proxy answers but refuses the tunnel: the HTTP step says so.
        let srv = serve(vec![resp("403 Forbidden", &[], ""); 2]);
        let proxy = Server::parse(&srv.base, "HTTPS_PROXY").unwrap();
        let d = diagnose_with("https://api.example.test", &t(), Some(&proxy));
        assert_eq!(
            names(&d),
            [("DNS", true), ("TCP connect", true), ("HTTP", false)]
        );
        assert!(
            text::summary(&d).contains("via proxy 127.0.0.1:"),
            "{}",
            text::summary(&d)
        );
        assert!(
            text::summary(&d).contains("proxy error: "),
            "{}",
            text::summary(&d)
        );
    }

    #[test]
    fn a_bad_url_is_reported_not_probed() {
        let d = diagnose_with("ftp://x", &t(), None);
        assert_eq!(names(&d), [("URL", false)]);
        assert_eq!(text::summary(&d), "URL ftp://x failed: not an http(s) URL");
    }
}
