//! A scripted loopback HTTP server for the unit tests of the network and API layers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;

pub struct Server {
    pub base: String,
    /// The head of each request received (request line and headers).
    pub requests: mpsc::Receiver<String>,
}

/// A response with `content-length` and `connection: close`.
pub fn resp(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut s = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s + &format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
        head.push(b[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Answers one connection per scripted response, in order.
pub fn serve(responses: Vec<String>) -> Server {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for r in responses {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = tx.send(read_head(&mut s));
            let _ = s.write_all(r.as_bytes());
        }
    });
    Server { base, requests: rx }
}

/// Accepts connections and then says nothing (`garbage: None`) or writes non-TLS,
/// non-HTTP bytes and keeps the socket open.
pub fn stuck(garbage: Option<&'static [u8]>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for mut s in l.incoming().flatten() {
            if let Some(g) = garbage {
                let _ = s.write_all(g);
            }
            open.push(s);
        }
    });
    addr
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The fixed test PKI of `tests/tls/` (see `gen.sh` there).
pub const TEST_CA: &str = include_str!("../../tests/tls/ca.pem");
const LEAF_KEY: &str = include_str!("../../tests/tls/leaf.key");

/// A leaf certificate of the test PKI: `good`, `expired`, `future` or `wronghost`.
pub fn leaf(name: &str) -> &'static str {
    match name {
        "good" => include_str!("../../tests/tls/good.pem"),
        "expired" => include_str!("../../tests/tls/expired.pem"),
        "future" => include_str!("../../tests/tls/future.pem"),
        "wronghost" => include_str!("../../tests/tls/wronghost.pem"),
        _ => panic!("no test certificate {name}"),
    }
}

fn server_config(cert: &str) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(LEAF_KEY.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    std::sync::Arc::new(config)
}

/// A client config trusting only the test CA.
pub fn trusting_test_ca() -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(TEST_CA.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    std::sync::Arc::new(config)
}

/// Answers one HTTP request over TLS with `cert` on the accepted stream.
fn answer_tls(s: TcpStream, config: std::sync::Arc<rustls::ServerConfig>) {
    let conn = rustls::ServerConnection::new(config).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, s);
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && tls.read(&mut b).unwrap_or(0) == 1 {
        head.push(b[0]);
    }
    let _ = tls.write_all(resp("200 OK", &[], "{}").as_bytes());
    let _ = tls.flush();
}

/// A TLS server presenting `cert` (see [`leaf`]) that answers every request `200 {}`.
pub fn tls_server(cert: &str) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let config = server_config(cert);
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || answer_tls(s, config));
        }
    });
    addr
}

/// An HTTP CONNECT proxy that inspects TLS: it accepts every tunnel, then answers the TLS
/// handshake itself with the test PKI's `good` certificate. The heads of the CONNECT
/// requests are sent on the channel.
pub fn inspecting_proxy() -> (String, mpsc::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let config = server_config(leaf("good"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let _ = tx.send(read_head(&mut s));
            let _ = s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
            let config = config.clone();
            std::thread::spawn(move || answer_tls(s, config));
        }
    });
    (addr, rx)
}
