//! The network diagnosis in words: one summary line, one line per step, what to do about
//! the failed step, and the JSON `connectivityCheck` member.

use crate::net::diagnose::Diagnosis;
use serde_json::{Value, json};

fn proxy_note(d: &Diagnosis) -> String {
    d.via_proxy
        .as_ref()
        .map(|p| format!(" via proxy {p}"))
        .unwrap_or_default()
}

/// One line: what failed and why, or that the host is reachable.
pub fn summary(d: &Diagnosis) -> String {
    if let Some(s) = d.failed_step() {
        let what = match s.name {
            "DNS" => format!("DNS lookup of {}", s.target),
            "TCP connect" => format!("TCP connect to {}", s.target),
            "TLS handshake" => format!("TLS handshake with {}", s.target),
            "HTTP" => format!("HTTP request to {}{}", s.target, proxy_note(d)),
            _ => format!("{} {}", s.name, s.target),
        };
        return format!("{what} failed: {}", s.detail);
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
            format!("{mark} {}{sep} {} ({} ms)", s.name, s.detail, s.latency_ms)
        })
        .collect()
}

/// What the user can do about the failed step.
pub fn hint(d: &Diagnosis) -> Option<String> {
    let s = d.failed_step()?;
    let proxied = d.via_proxy.is_some();
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
        "TLS handshake" if s.detail.contains("certificate") => {
            "The server's certificate is not trusted: if a corporate proxy inspects TLS, \
             point SSL_CERT_FILE at its CA bundle (SSL_CERT_FILE=/path/to/ca.pem)."
                .to_string()
        }
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
                o.insert("error".into(), json!(s.detail));
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
