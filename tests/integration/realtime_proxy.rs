//! The realtime socket goes through an HTTP CONNECT proxy when `HTTPS_PROXY` says so (a
//! locked-down network). The library reads the proxy from the process environment, so the
//! client runs in a process of its own that gets `HTTPS_PROXY` at spawn
//! (`support::rerun_in_own_process`); no test ever sets a variable on a shared process.

use crate::support::client_thread::{config, start};
use crate::support::fake_realtime::*;
use crate::support::{in_own_process, rerun_in_own_process, wait_for};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A minimal HTTP CONNECT proxy on loopback that records the CONNECT targets.
fn connect_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut client) = conn else { continue };
            let seen = seen2.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l).unwrap() == 0 || l == "\r\n" {
                        break;
                    }
                }
                let target = first.split_whitespace().nth(1).unwrap_or("").to_string();
                seen.lock().unwrap().push(first.trim().to_string());
                let Ok(mut upstream) = TcpStream::connect(&target) else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                    return;
                };
                client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .unwrap();
                let mut up2 = upstream.try_clone().unwrap();
                let mut reader = reader; // may hold buffered bytes after the headers
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n) = reader.read(&mut buf) {
                        if n == 0 || up2.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
                let mut buf = [0u8; 8192];
                while let Ok(n) = upstream.read(&mut buf) {
                    if n == 0 || client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// Where the child process finds the fake Realtime server the parent started.
const RT_URL: &str = "DCD_TEST_REALTIME_URL";

#[test]
fn the_socket_goes_through_an_http_connect_proxy() {
    if in_own_process() {
        return join_through_the_proxy(&std::env::var(RT_URL).unwrap());
    }
    let rt = FakeRealtime::start(RtScript::default());
    let (proxy, seen) = connect_proxy();
    rerun_in_own_process(
        module_path!(),
        "the_socket_goes_through_an_http_connect_proxy",
        &[
            ("HTTPS_PROXY", Some(&proxy)),
            ("NO_PROXY", None),
            ("no_proxy", None),
            (RT_URL, Some(&rt.url())),
        ],
    );
    // The child saw the join's ok reply; it has closed the socket since, so look at the log.
    assert!(
        !rt.events("phx_join").is_empty(),
        "no join came through the proxy"
    );
    let port = rt.url().rsplit(':').next().unwrap().to_string();
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().any(
            |l| l.starts_with("CONNECT 127.0.0.1:") && l.ends_with(&format!("{port} HTTP/1.1"))
        ),
        "{seen:?}"
    );
}

/// In the child, with `HTTPS_PROXY` from its spawn: the client connects and joins.
fn join_through_the_proxy(rt_url: &str) {
    let r = start(config(rt_url, 0.01));
    wait_for("the join through the proxy", || r.connected());
    r.stop();
}
