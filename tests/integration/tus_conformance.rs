//! Conformance: our TUS client against the tus project's own server (`@tus/server` with
//! `@tus/file-store`, pinned in tests/conformance/package.json), the server Supabase Storage
//! runs. The fake cloud's TUS routes prove nothing if they drift from it; here the stored
//! bytes, the chunk sizes, the metadata and a resume after a connection cut mid-chunk are
//! checked against the real thing. The client talks to it through a TCP proxy of the test,
//! which counts the bytes and can cut a connection.
//!
//! Without `node` (or without the npm modules) every test prints a `SKIPPED:` line and
//! passes.

use crate::support::TempDir;
use crate::support::lib::tus::{CHUNK, Timings, TusUpload, no_progress, upload};
use crossbeam_channel::Receiver;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

const PATH: &str = "/storage/v1/upload/resumable";

/// Node is on PATH and this test's pinned modules are installed.
fn node_ready() -> bool {
    crate::support::node_ready(
        "@tus/server conformance",
        &["@tus/server", "@tus/file-store"],
    )
}

/// The running server, its store and its event lines.
struct TusServer {
    child: Child,
    store: TempDir,
    lines: Receiver<Value>,
    port: u16,
}

impl TusServer {
    fn start() -> TusServer {
        let store = TempDir::new();
        let mut child = Command::new("node")
            .arg(crate::support::conformance_dir().join("tus_server.mjs"))
            .arg(store.path())
            .current_dir(crate::support::conformance_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node tus_server.mjs");
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&l) {
                    let _ = tx.send(v);
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the server says where it listens");
        let port = first["port"].as_u64().expect("a port") as u16;
        TusServer {
            child,
            store,
            lines,
            port,
        }
    }

    /// The requests seen so far.
    fn requests(&self) -> Vec<Value> {
        self.lines
            .try_iter()
            .filter(|v| v["event"] == "request")
            .collect()
    }

    /// The one stored upload: its bytes and its info file.
    fn stored(&self) -> (Vec<u8>, Value) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.store.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        let data = files.iter().find(|p| p.extension().is_none()).unwrap();
        let info = files
            .iter()
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .unwrap();
        (
            std::fs::read(data).unwrap(),
            serde_json::from_slice(&std::fs::read(info).unwrap()).unwrap(),
        )
    }
}

impl Drop for TusServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback TCP proxy that counts the bytes from client to server and, once, cuts the
/// connection that carries the byte at `cut_at`.
struct Proxy {
    port: u16,
    up_bytes: Arc<AtomicU64>,
}

fn proxy(to: u16, cut_at: Option<u64>) -> Proxy {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let up_bytes = Arc::new(AtomicU64::new(0));
    let cut = Arc::new(AtomicBool::new(false));
    let counter = Arc::clone(&up_bytes);
    std::thread::spawn(move || {
        for client in l.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut &s2, &mut &c2);
                let _ = c2.shutdown(Shutdown::Write);
            });
            let (counter, cut) = (Arc::clone(&counter), Arc::clone(&cut));
            std::thread::spawn(move || pump_up(client, server, &counter, cut_at, &cut));
        }
    });
    Proxy { port, up_bytes }
}

/// Client → server, counted; the cut closes both sides at once, mid-request.
fn pump_up(
    client: TcpStream,
    server: TcpStream,
    counter: &AtomicU64,
    cut_at: Option<u64>,
    cut: &AtomicBool,
) {
    let mut buf = vec![0u8; 64 << 10];
    let (mut c, mut s) = (&client, &server);
    loop {
        let n = match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let before = counter.fetch_add(n as u64, Ordering::SeqCst);
        if let Some(at) = cut_at
            && before + n as u64 >= at
            && !cut.swap(true, Ordering::SeqCst)
        {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
        if s.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Write);
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 4099) as u8).collect()
}

fn send(port: u16, bytes: &[u8]) -> Result<(), String> {
    let up = TusUpload {
        endpoint: format!("http://127.0.0.1:{port}{PATH}"),
        anon_key: "anon-key",
        bucket: "organizations",
        object_name: "org-1/binaries/tmp/bin-1.zip",
        content_type: "application/vnd.android.package-archive",
    };
    let mut src = std::io::Cursor::new(bytes);
    upload(
        &up,
        &mut src,
        bytes.len() as u64,
        &Timings::scaled(0.01),
        &no_progress,
    )
}

#[test]
fn tus_server_stores_the_exact_bytes_in_6_mib_chunks_with_the_metadata() {
    if !node_ready() {
        return;
    }
    let server = TusServer::start();
    let p = proxy(server.port, None);
    let bytes = data(2 * CHUNK + 12_345);
    send(p.port, &bytes).unwrap();
    let (stored, info) = server.stored();
    assert!(stored == bytes, "the stored bytes differ");
    let meta = &info["metadata"];
    assert_eq!(meta["bucketName"], "organizations", "{info}");
    assert_eq!(meta["objectName"], "org-1/binaries/tmp/bin-1.zip");
    assert_eq!(
        meta["contentType"],
        "application/vnd.android.package-archive"
    );
    assert_eq!(meta["cacheControl"], "3600");
    let reqs = server.requests();
    let create = reqs.iter().find(|r| r["method"] == "POST").unwrap();
    assert_eq!(create["headers"]["x-upsert"], "true");
    assert_eq!(create["headers"]["tus-resumable"], "1.0.0");
    assert_eq!(create["headers"]["authorization"], "Bearer anon-key");
    let patches: Vec<(String, String)> = reqs
        .iter()
        .filter(|r| r["method"] == "PATCH")
        .map(|r| {
            assert_eq!(r["contentType"], "application/offset+octet-stream");
            (
                r["offset"].as_str().unwrap().to_string(),
                r["length"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let c = CHUNK.to_string();
    assert_eq!(
        patches,
        [
            ("0".to_string(), c.clone()),
            (c.clone(), c.clone()),
            ((2 * CHUNK).to_string(), "12345".to_string()),
        ]
    );
}

#[test]
fn tus_server_resumes_after_a_connection_cut_mid_chunk_resending_at_most_one_chunk() {
    if !node_ready() {
        return;
    }
    let server = TusServer::start();
    let bytes = data(3 * CHUNK + 99);
    // Cut in the middle of the second chunk.
    let p = proxy(server.port, Some((CHUNK + CHUNK / 2) as u64));
    send(p.port, &bytes).unwrap();
    let (stored, _) = server.stored();
    assert!(stored == bytes, "the stored bytes differ");
    let reqs = server.requests();
    assert!(reqs.iter().any(|r| r["method"] == "HEAD"), "{reqs:?}");
    // Everything sent, headers included, minus the file: at most one chunk (plus headers).
    let up = p.up_bytes.load(Ordering::SeqCst);
    let resent = up.saturating_sub(bytes.len() as u64);
    assert!(
        resent <= (CHUNK + 64 * 1024) as u64,
        "resent {resent} bytes: {reqs:?}"
    );
}
