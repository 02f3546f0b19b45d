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
    /// The TLS handshake failed (protocol, not TLS at all).
    Tls,
    /// The TLS handshake failed on the server's certificate.
    Certificate(CertIssue),
    /// The proxy (HTTP CONNECT or SOCKS) refused or did not answer.
    Proxy,
    Other,
}

/// What was wrong with the server's certificate: each cause has its own advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertIssue {
    /// Signed by an issuer not in the trusted roots (a TLS-inspecting proxy's CA, a private
    /// CA, a self-signed certificate).
    Untrusted,
    Expired,
    NotYetValid,
    /// Issued for another host name.
    WrongHost,
    Other,
}

impl CertIssue {
    /// The kind of a rustls certificate error.
    pub fn of(e: &rustls::CertificateError) -> CertIssue {
        use rustls::CertificateError as C;
        match e {
            C::UnknownIssuer => CertIssue::Untrusted,
            C::Expired | C::ExpiredContext { .. } => CertIssue::Expired,
            C::NotValidYet | C::NotValidYetContext { .. } => CertIssue::NotYetValid,
            C::NotValidForName | C::NotValidForNameContext { .. } => CertIssue::WrongHost,
            _ => CertIssue::Other,
        }
    }

    /// What to do about it, in one clause.
    pub fn advice(self) -> &'static str {
        match self {
            CertIssue::Untrusted => crate::platform::UNTRUSTED_CA_ADVICE,
            CertIssue::Expired => {
                "the server's certificate has expired, or this machine's clock is wrong"
            }
            CertIssue::NotYetValid => {
                "the server's certificate is not valid yet: check this machine's clock"
            }
            CertIssue::WrongHost => {
                "the certificate is for another host: check --api-url, or a proxy intercepts \
                 the connection"
            }
            CertIssue::Other => "the server's certificate was rejected",
        }
    }
}

/// The kind of a TLS failure found in an I/O error (rustls reports through `io::Error`).
pub fn io_tls_kind(e: &std::io::Error) -> Option<NetKind> {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .map(rustls_kind)
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
        NetKind::Certificate(issue) => format!("TLS error: {detail} ({})", issue.advice()),
        NetKind::Tls => format!("TLS error: {detail}"),
        NetKind::Other => detail.to_string(),
    }
}

/// Handshake-time rustls errors: no request byte was sent. Anything else (decrypt errors
/// mid-stream…) may have followed a sent request.
fn rustls_kind(e: &rustls::Error) -> NetKind {
    use rustls::Error as R;
    match e {
        R::InvalidCertificate(c) => NetKind::Certificate(CertIssue::of(c)),
        R::NoCertificatesPresented
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

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CertificateError as C;

    #[test]
    fn each_certificate_problem_has_its_own_advice() {
        let cause = |c: C| {
            let e = ureq::Error::Rustls(rustls::Error::InvalidCertificate(c));
            match classify(&e) {
                Failure::Network { kind, detail } => network_cause(kind, &detail),
                other => panic!("{other:?}"),
            }
        };
        let untrusted = cause(C::UnknownIssuer);
        assert!(
            untrusted.contains(crate::platform::UNTRUSTED_CA_ADVICE)
                && untrusted.contains("SSL_CERT_FILE"),
            "{untrusted}"
        );
        assert!(untrusted.contains("TLS-inspecting proxy"), "{untrusted}");
        let expired = cause(C::Expired);
        assert!(
            expired.contains("has expired") && expired.contains("clock"),
            "{expired}"
        );
        assert!(!expired.contains("SSL_CERT_FILE"), "{expired}");
        let early = cause(C::NotValidYet);
        assert!(
            early.contains("not valid yet") && early.contains("clock"),
            "{early}"
        );
        let name = cause(C::NotValidForName);
        assert!(
            name.contains("for another host") && name.contains("--api-url"),
            "{name}"
        );
        assert!(!name.contains("SSL_CERT_FILE"), "{name}");
        let other = cause(C::BadSignature);
        assert!(
            other.ends_with("(the server's certificate was rejected)"),
            "{other}"
        );
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(C::UnknownIssuer),
        );
        assert_eq!(
            io_tls_kind(&io),
            Some(NetKind::Certificate(CertIssue::Untrusted))
        );
        assert_eq!(io_tls_kind(&std::io::Error::other("x")), None);
    }
}
