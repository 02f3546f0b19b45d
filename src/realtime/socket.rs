//! Opening the Realtime WebSocket: TCP (directly, or through the HTTP CONNECT or SOCKS5
//! proxy the environment gives for its host), TLS with the same trust store as the API
//! client, then the WebSocket handshake.
//!
//! tungstenite is built without proxy or TLS support, so both are done here: the proxy choice
//! is the one every connection of dcd gets (`net::proxy`), the tunnel is `net::tunnel`, and
//! TLS is a `rustls::StreamOwned`. The handshake runs with the connect timeout as read and
//! write timeout (a silent server fails it); afterwards reads time out every
//! [`POLL_INTERVAL`] so the reader thread can notice shutdown and timers.

use crate::clock::Timings;
use crate::net::proxy::authority;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::WebSocket;

/// How often a blocked read returns to let the thread look at its stop flag and timers.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A plain or TLS stream.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// The parts of a `ws://` / `wss://` URL we need.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

/// `http://…` → `ws://…/realtime/v1/websocket?apikey=…&vsn=…`, `https://…` → `wss://…`.
pub fn websocket_url(supabase_url: &str, anon_key: &str, vsn: &str) -> Result<String, String> {
    let base = supabase_url.trim().trim_end_matches('/');
    let rest = if let Some(r) = base.strip_prefix("https://") {
        format!("wss://{r}")
    } else if let Some(r) = base.strip_prefix("http://") {
        format!("ws://{r}")
    } else {
        return Err(format!("not an http(s) URL: {base}"));
    };
    Ok(format!(
        "{rest}/realtime/v1/websocket?apikey={}&vsn={vsn}",
        crate::encoding::encode_query_component(anon_key)
    ))
}

/// Host, port and TLS of a `ws(s)://` URL.
pub fn target(url: &str) -> Result<Target, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("wss://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("ws://") {
        (false, r)
    } else {
        return Err(format!("not a ws(s) URL: {url}"));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(h) = authority.strip_prefix('[') {
        let (h, p) = h.split_once(']').ok_or("bad IPv6 host")?;
        (h.to_string(), p.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host in {url}"));
    }
    let port = match port {
        Some(p) => p.parse().map_err(|_| format!("bad port in {url}"))?,
        None if tls => 443,
        None => 80,
    };
    Ok(Target { tls, host, port })
}

/// TCP to the target, directly or through the proxy the environment gives for it. A proxy
/// that cannot carry the socket is an error, never a reason to go direct.
fn open_tcp(t: &Target, timeout: Duration) -> Result<TcpStream, String> {
    match crate::net::proxy::env().for_host(&t.host, t.port, t.tls) {
        Some(p) => {
            crate::debug!(
                "[realtime] {} for {}",
                p.describe(),
                authority(&t.host, t.port)
            );
            crate::net::tunnel::open(p, &t.host, t.port, timeout)
        }
        None => crate::net::tunnel::connect(&t.host, t.port, timeout)
            .map_err(|e| format!("connect {}: {e}", authority(&t.host, t.port))),
    }
}

/// Opens the socket and performs the WebSocket handshake.
pub fn connect(url: &str, timings: &Timings) -> Result<WebSocket<Stream>, String> {
    let t = target(url)?;
    let timeout = timings.http_connect;
    let tcp = open_tcp(&t, timeout)?;
    tcp.set_nodelay(true).ok();
    tcp.set_read_timeout(Some(timeout)).ok();
    tcp.set_write_timeout(Some(timeout)).ok();
    let stream = if t.tls {
        let name = rustls::pki_types::ServerName::try_from(t.host.clone())
            .map_err(|e| format!("bad TLS server name {}: {e}", t.host))?;
        let conn = rustls::ClientConnection::new(crate::net::tls::rustls_client_config(), name)
            .map_err(|e| format!("TLS: {e}"))?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        while s.conn.is_handshaking() {
            s.conn
                .complete_io(&mut s.sock)
                .map_err(|e| format!("TLS handshake with {}: {e}", t.host))?;
        }
        Stream::Tls(Box::new(s))
    } else {
        Stream::Plain(tcp)
    };
    let (ws, _resp) =
        tungstenite::client::client_with_config(url, stream, None).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r)) => {
                format!("upgrade rejected: HTTP {}", r.status().as_u16())
            }
            tungstenite::HandshakeError::Failure(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                "upgrade timed out".to_string()
            }
            other => format!("upgrade failed: {other}"),
        })?;
    ws.get_ref()
        .tcp()
        .set_read_timeout(Some(POLL_INTERVAL))
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_urls_follow_the_scheme() {
        assert_eq!(
            websocket_url("https://x.supabase.co/", "a b", "2.0.0").unwrap(),
            "wss://x.supabase.co/realtime/v1/websocket?apikey=a%20b&vsn=2.0.0"
        );
        assert_eq!(
            websocket_url("http://127.0.0.1:9", "k", "1.0.0").unwrap(),
            "ws://127.0.0.1:9/realtime/v1/websocket?apikey=k&vsn=1.0.0"
        );
        assert!(websocket_url("ftp://x", "k", "2.0.0").is_err());
    }

    #[test]
    fn targets() {
        assert_eq!(
            target("wss://x.co/realtime").unwrap(),
            Target {
                tls: true,
                host: "x.co".into(),
                port: 443
            }
        );
        assert_eq!(target("ws://127.0.0.1:9/a?b").unwrap().port, 9);
        assert_eq!(target("ws://[::1]:7/").unwrap().host, "::1");
        assert!(target("ws:///x").is_err());
        assert!(target("ws://h:99999/").is_err());
    }
}
