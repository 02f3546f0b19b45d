//! A loopback download host shaped like `get.devicecloud.dev` (docs/install.md): it serves a
//! directory — `latest.json`, `download/<version>/<asset>`, `download/<version>/SHA256SUMS`,
//! `install.sh` — over HTTP/1.1 with one connection per request. The beta channel
//! (`/latest.json?channel=beta`) is served from `latest-beta.json`, as the real host answers
//! it from its own record. Asked as an HTTP proxy (an absolute URL as the target), it serves
//! the same files whatever host the URL names, so a test can tell a proxied request by its
//! recorded target. Faults make a file's answer break: a status, a body cut off after
//! some bytes, or a body that stops after some bytes and hangs (for signals mid-download).
//! [`release`] writes one version's files.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a file's answer breaks.
#[derive(Clone, Copy, Debug)]
pub enum HostFault {
    /// This status and no body.
    Status(u16),
    /// The full `content-length`, but the connection is closed after this many bytes.
    Cut(usize),
    /// This many bytes, then nothing until the client goes away (at most a minute).
    Stall(usize),
}

#[derive(Default)]
struct State {
    faults: HashMap<String, HostFault>,
    /// Request targets, in order (path and query).
    requests: Vec<String>,
}

pub struct DownloadHost {
    url: String,
    state: Arc<Mutex<State>>,
}

impl DownloadHost {
    /// Serves `root` on 127.0.0.1 until the process ends.
    pub fn start(root: &Path) -> DownloadHost {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let (root, st) = (root.to_path_buf(), state.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (root, st) = (root.clone(), st.clone());
                std::thread::spawn(move || serve(conn, &root, &st));
            }
        });
        DownloadHost { url, state }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Breaks the answer for `path` (without its query), from now on.
    pub fn fault(&self, path: &str, f: HostFault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .insert(path.to_string(), f);
    }

    /// The request targets so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn serve(conn: TcpStream, root: &Path, st: &Mutex<State>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    // The rest of the head; no request here has a body.
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h == "\r\n" || h == "\n" => break,
            Ok(_) => {}
        }
    }
    let fault = {
        let mut s = st.lock().unwrap();
        s.requests.push(target.clone());
        let path = target.split('?').next().unwrap_or("/");
        let path = path
            .strip_prefix("http://")
            .map_or(path, |r| r.find('/').map_or("/", |i| &r[i..]));
        s.faults.get(path).copied()
    };
    let mut out = conn;
    // Asked as a proxy (`GET http://host/path`): the host serves its own files for any host.
    let origin_form = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]).to_string(),
        None => target.clone(),
    };
    let (path, query) = origin_form.split_once('?').unwrap_or((&origin_form, ""));
    let file = if path == "/latest.json" && query.split('&').any(|p| p == "channel=beta") {
        root.join("latest-beta.json")
    } else {
        let rel: PathBuf = path
            .trim_start_matches('/')
            .split('/')
            .filter(|c| !c.is_empty() && *c != "..")
            .collect();
        root.join(rel)
    };
    let body = match (fault, std::fs::read(&file)) {
        (Some(HostFault::Status(s)), _) => return head(&mut out, s, 0),
        (_, Ok(b)) if file.is_file() => b,
        _ => return head(&mut out, 404, 0),
    };
    head(&mut out, 200, body.len());
    match fault {
        Some(HostFault::Cut(n)) => {
            let _ = out.write_all(&body[..n.min(body.len())]);
        }
        Some(HostFault::Stall(n)) => {
            let _ = out.write_all(&body[..n.min(body.len())]);
            let _ = out.flush();
            // Until the client gives up: a read sees its close (or the minute passes).
            let _ = out.set_read_timeout(Some(Duration::from_secs(60)));
            let _ = std::io::Read::read(&mut reader, &mut [0u8; 1]);
        }
        _ => {
            let _ = out.write_all(&body);
        }
    }
}

fn head(out: &mut TcpStream, status: u16, len: usize) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Error",
    };
    let _ = write!(
        out,
        "HTTP/1.1 {status} {reason}\r\ncontent-length: {len}\r\ncontent-type: application/octet-stream\r\nconnection: close\r\n\r\n"
    );
}

/// The asset name of the machine the tests run on (`dcd-linux-x64`, …).
pub fn native_asset() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => return "dcd-windows-x64.exe".into(),
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("dcd-{os}-{arch}")
}

/// A stand-in binary: a shell script that prints `version` for `--version`.
pub fn stand_in(version: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho {version}\n").into_bytes()
}

/// Writes release `version` under `root`: each asset and a SHA256SUMS listing them
/// (`<hex>  <asset>`, sorted by name).
pub fn release(root: &Path, version: &str, assets: &[(&str, &[u8])]) {
    use sha2::{Digest, Sha256};
    let dir = root.join("download").join(version);
    std::fs::create_dir_all(&dir).unwrap();
    let mut sums: Vec<String> = assets
        .iter()
        .map(|(name, bytes)| {
            std::fs::write(dir.join(name), bytes).unwrap();
            let hex: String = Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("{hex}  {name}\n")
        })
        .collect();
    sums.sort_by(|a, b| a[66..].cmp(&b[66..]));
    std::fs::write(dir.join("SHA256SUMS"), sums.concat()).unwrap();
}

/// Writes `latest.json` (stable) or `latest-beta.json` naming `version` (`None`: no release).
pub fn latest(root: &Path, beta: bool, version: Option<&str>) {
    let name = if beta {
        "latest-beta.json"
    } else {
        "latest.json"
    };
    let v = serde_json::json!({ "version": version });
    std::fs::write(root.join(name), v.to_string()).unwrap();
}
