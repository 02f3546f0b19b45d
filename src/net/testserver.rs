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
