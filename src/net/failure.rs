//! What went wrong below HTTP: a ureq failure sorted into timeouts, network failures by kind
//! (DNS, refused, unreachable, reset, TLS, proxy) and oversized bodies, with the one-line
//! cause a user reads. The API errors and the diagnosis both use it, so a failure reads the
//! same wherever it surfaces.

/// Why a request did not get an HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetKind {
    /// The host name did not resolve.
    Dns,
    /// Nothing listens on the port (or a firewall rejects).
    Refused,
    /// No route to the host / network down.
    Unreachable,
    /// The connection was reset or closed mid-exchange.
    Reset,
    /// The TLS handshake failed (certificate, protocol, not TLS at all).
    Tls,
    /// The proxy (HTTP CONNECT or SOCKS) refused or did not answer.
    Proxy,
    Other,
}

/// A ureq failure, sorted.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// No answer in time; `connecting` when it was the DNS or TCP connect that timed out
    /// (the request never left).
    Timeout { connecting: bool },
    /// No HTTP response.
    Network { kind: NetKind, detail: String },
    /// The body was larger than the cap.
    BodyTooLarge(u64),
}

/// Sorts a ureq failure.
pub fn classify(e: &ureq::Error) -> Failure {
    use ureq::Error as E;
    let net = |kind: NetKind, detail: String| Failure::Network { kind, detail };
    match e {
        E::Timeout(which) => Failure::Timeout {
            connecting: matches!(which, ureq::Timeout::Resolve | ureq::Timeout::Connect),
        },
        E::HostNotFound => net(NetKind::Dns, e.to_string()),
        E::ConnectProxyFailed(reason) => net(NetKind::Proxy, reason.clone()),
        E::Tls(reason) => net(NetKind::Tls, reason.to_string()),
        E::Rustls(r) => net(rustls_kind(r), r.to_string()),
        E::Io(io) => {
            if let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return net(rustls_kind(r), r.to_string());
            }
            net(io_kind(io), io.to_string())
        }
        E::BodyExceedsLimit(n) => Failure::BodyTooLarge(*n),
        _ => net(NetKind::Other, e.to_string()),
    }
}

/// Sorts a failure of a request made through a proxy of the SOCKS kind when `socks`: the
/// proxy's refusals and protocol errors come as I/O errors without an OS error code, and
/// are proxy errors.
pub fn classify_through(e: &ureq::Error, socks: bool) -> Failure {
    match (classify(e), e) {
        (
            Failure::Network {
                kind: NetKind::Other,
                detail,
            },
            ureq::Error::Io(io),
        ) if socks && io.raw_os_error().is_none() => Failure::Network {
            kind: NetKind::Proxy,
            detail,
        },
        (f, _) => f,
    }
}

/// Why a request got no response, in a few words: "connection refused", "TLS error: …".
pub fn network_cause(kind: NetKind, detail: &str) -> String {
    match kind {
        NetKind::Dns => "could not resolve host".to_string(),
        NetKind::Refused => "connection refused".to_string(),
        NetKind::Unreachable => "network unreachable".to_string(),
        NetKind::Reset => "connection reset".to_string(),
        NetKind::Proxy => format!("proxy error: {detail}"),
        NetKind::Tls if detail.contains("certificate") => format!(
            "TLS error: {detail} (behind a TLS-inspecting proxy? set SSL_CERT_FILE \
                     to your organisation's CA bundle)"
        ),
        NetKind::Tls => format!("TLS error: {detail}"),
        NetKind::Other => detail.to_string(),
    }
}

/// Handshake-time rustls errors: no request byte was sent. Anything else (decrypt errors
/// mid-stream…) may have followed a sent request.
fn rustls_kind(e: &rustls::Error) -> NetKind {
    use rustls::Error as R;
    match e {
        R::InvalidCertificate(_)
        | R::NoCertificatesPresented
        | R::UnsupportedNameType
        | R::PeerIncompatible(_)
        | R::InappropriateHandshakeMessage { .. }
        | R::InappropriateMessage { .. }
        | R::InvalidMessage(_)
        | R::AlertReceived(_)
        | R::HandshakeNotComplete => NetKind::Tls,
        _ => NetKind::Other,
    }
}

fn io_kind(e: &std::io::Error) -> NetKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => NetKind::Refused,
        K::HostUnreachable | K::NetworkUnreachable | K::NetworkDown | K::AddrNotAvailable => {
            NetKind::Unreachable
        }
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            NetKind::Reset
        }
        // getaddrinfo failures carry no stable kind, only this std message.
        _ if e.to_string().contains("failed to lookup address") => NetKind::Dns,
        _ => NetKind::Other,
    }
}
