//! The network diagnosis in words: one summary line, one line per step, what to do about
//! the failed step, and the JSON `connectivityCheck` member.

use crate::net::diagnose::{Diagnosis, Step};
use crate::net::failure::CertIssue;
use crate::sanitize::one_line;
use serde_json::{Value, json};

fn proxy_note(d: &Diagnosis) -> String {
    d.via_proxy
        .as_ref()
        .map(|p| format!(" via proxy {p}"))
        .unwrap_or_default()
}

/// A step's detail as one safe line: it can carry server text (certificate names).
fn detail(s: &Step) -> String {
    one_line(&s.detail, 300)
}

/// One line: what failed and why, or that the host is reachable.
pub fn summary(d: &Diagnosis) -> String {
    if let Some(s) = d.failed_step() {
        let what = match s.name {
            "DNS" => format!("DNS lookup of {}", s.target),
            "TCP connect" => format!("TCP connect to {}", s.target),
            "Proxy CONNECT" => format!("Proxy CONNECT to {}{}", s.target, proxy_note(d)),
            "TLS handshake" => format!("TLS handshake with {}{}", s.target, proxy_note(d)),
            "HTTP" => format!("HTTP request to {}{}", s.target, proxy_note(d)),
            _ => format!("{} {}", s.name, s.target),
        };
        return format!("{what} failed: {}", detail(s));
    }
    let host = crate::net::agent::host_of(&d.target);
    match d.steps.last() {
        Some(s) if d.reachable() => format!(
            "{host} is reachable{} ({} in {} ms)",
            proxy_note(d),
            s.detail,
            s.latency_ms
        ),
        _ => format!("{host}: diagnosis incomplete"),
    }
}

/// One line per step run, e.g. `✓ DNS  api.devicecloud.dev → 1.2.3.4 (3 ms)`.
pub fn lines(d: &Diagnosis) -> Vec<String> {
    d.steps
        .iter()
        .map(|s| {
            let mark = if s.ok { '✓' } else { '✗' };
            let sep = if s.ok { " " } else { ":" };
            format!("{mark} {}{sep} {} ({} ms)", s.name, detail(s), s.latency_ms)
        })
        .collect()
}

/// What to do about a certificate the handshake refused; `proxy` when it came through one.
fn cert_hint(issue: CertIssue, proxy: Option<&str>) -> String {
    match (issue, proxy) {
        (CertIssue::Untrusted, Some(p)) => format!(
            "The certificate that came through the proxy at {p} is signed by an issuer this \
             machine does not trust: the proxy inspects TLS. Add its CA certificate with \
             SSL_CERT_FILE=/path/to/proxy-ca.pem (or a directory of certificates in SSL_CERT_DIR)."
        ),
        (CertIssue::Untrusted, None) => "The server's certificate is signed by an issuer this \
             machine does not trust. If a proxy or security software inspects TLS on this \
             network, add its CA certificate with SSL_CERT_FILE=/path/to/ca.pem (or a directory \
             of certificates in SSL_CERT_DIR)."
            .to_string(),
        (CertIssue::Expired, _) => "The server's certificate has expired, or this machine's \
             clock is wrong: check the date (date -u). If the date is right, the server (or a \
             proxy intercepting TLS) presents an outdated certificate."
            .to_string(),
        (CertIssue::NotYetValid, _) => "The server's certificate is not valid yet: this \
             machine's clock is probably behind; check the date (date -u)."
            .to_string(),
        (CertIssue::WrongHost, _) => "The certificate is for another host: check that \
             --api-url names the API (e.g. https://api.devicecloud.dev); otherwise a proxy or a \
             captive portal intercepts the connection."
            .to_string(),
        (CertIssue::Other, _) => "The server's certificate was rejected: if a proxy inspects \
             TLS on this network, add its CA certificate with SSL_CERT_FILE or SSL_CERT_DIR."
            .to_string(),
    }
}

/// What the user can do about the failed step.
pub fn hint(d: &Diagnosis) -> Option<String> {
    let s = d.failed_step()?;
    let proxied = d.via_proxy.is_some();
    if let Some(issue) = s.cert {
        return Some(cert_hint(issue, d.via_proxy.as_deref()));
    }
    let hint = match s.name {
        "URL" => "Check --api-url.".to_string(),
        "DNS" if proxied => format!(
            "The proxy host {} does not resolve: check HTTPS_PROXY / HTTP_PROXY.",
            s.target
        ),
        "DNS" => format!(
            "This machine cannot resolve {}: check the network connection and DNS settings.",
            s.target
        ),
        "TCP connect" if proxied => format!(
            "The proxy at {} is not accepting connections: check HTTPS_PROXY / HTTP_PROXY.",
            s.target
        ),
        "TCP connect" => format!(
            "Nothing answered at {}: a firewall may block outbound connections; if this \
             network requires a proxy, set HTTPS_PROXY (and NO_PROXY for internal hosts).",
            s.target
        ),
        "Proxy CONNECT" => format!(
            "The proxy at {} would not open a tunnel to {}: check the credentials in \
             HTTPS_PROXY (http://user:password@host:port) and that the proxy allows this host \
             (NO_PROXY lists hosts to reach directly).",
            d.via_proxy.as_deref().unwrap_or("?"),
            s.target
        ),
        "TLS handshake" => format!(
            "Something at {} does not speak TLS: a proxy may intercept traffic; if this \
             network requires a proxy, set HTTPS_PROXY.",
            s.target
        ),
        _ if proxied => "The proxy could not relay the request: check its address, \
                         credentials and NO_PROXY."
            .to_string(),
        _ => "The host accepted the connection but the HTTP request failed: try again \
              later."
            .to_string(),
    };
    Some(hint)
}

/// The `connectivityCheck` member of `dcd status --json` errors: `connected`,
/// `endpointResults` (one per step), `message`.
pub fn to_json(d: &Diagnosis) -> Value {
    let endpoints: Vec<Value> = d
        .steps
        .iter()
        .map(|s| {
            let mut o = serde_json::Map::new();
            o.insert(
                "endpoint".into(),
                json!(format!("{} ({})", s.name, s.target)),
            );
            o.insert("success".into(), json!(s.ok));
            if !s.ok {
                o.insert("error".into(), json!(detail(s)));
            }
            o.insert("latencyMs".into(), json!(s.latency_ms));
            Value::Object(o)
        })
        .collect();
    json!({"connected": d.reachable(), "endpointResults": endpoints, "message": summary(d)})
}

/// Appends the diagnosis to an error message: "Checked <url>:", the steps, the hint.
pub fn append(msg: &mut String, d: &Diagnosis) {
    msg.push_str(&format!("\nChecked {}:", d.target));
    for l in lines(d) {
        msg.push_str(&format!("\n  {l}"));
    }
    if let Some(h) = hint(d) {
        msg.push_str(&format!("\n{h}"));
    }
}
