//! `fake-cloud`: the loopback fake devicecloud API as a process, for `make demo` and for
//! trying the CLI by hand without an account. Serves `demo_scenario()` until killed.
//!
//! Usage: `cargo run --example fake-cloud -- [--port N] [--port-file PATH] [--scenario demo]`
//!
//! With `--realtime` it also serves a fake Supabase: one loopback origin (the second line of
//! the port file) whose `/realtime/…` goes to the fake Realtime and everything else (the TUS
//! storage endpoint) to the fake API, as one Supabase project serves both.

// The fakes of the test support tree, with the sibling modules they share, laid out
// as in `tests/support/mod.rs`. An example uses only part of what they export.
#[path = "fake_cloud/mod.rs"]
#[allow(unused_imports)]
mod fake_cloud;
#[path = "fake_realtime/mod.rs"]
#[allow(unused_imports)]
mod fake_realtime;
#[path = "iso.rs"]
mod iso;
#[path = "url.rs"]
mod url;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: fake-cloud [--port N] [--port-file PATH] [--scenario demo] [--step-ms MS] [--realtime] [--artifacts-mib N]";

struct Args {
    port: u16,
    port_file: Option<PathBuf>,
    /// Time between two snapshots of the demo run (default 2500 ms: about 20 s in all).
    step: Option<std::time::Duration>,
    /// Also serve a fake Supabase Realtime that pushes a change whenever the run moves.
    realtime: bool,
    /// Size of the generated artifacts download (for the download bench).
    artifacts_mib: Option<u64>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        port: 0,
        port_file: None,
        step: None,
        realtime: false,
        artifacts_mib: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => {
                let v = value("--port")?;
                args.port = v.parse().map_err(|_| format!("bad --port value: {v}"))?;
            }
            "--realtime" => args.realtime = true,
            "--artifacts-mib" => {
                let v = value("--artifacts-mib")?;
                args.artifacts_mib = Some(
                    v.parse()
                        .map_err(|_| format!("bad --artifacts-mib value: {v}"))?,
                );
            }
            "--step-ms" => {
                let v = value("--step-ms")?;
                let ms: u64 = v.parse().map_err(|_| format!("bad --step-ms value: {v}"))?;
                args.step = Some(std::time::Duration::from_millis(ms));
            }
            "--port-file" => args.port_file = Some(PathBuf::from(value("--port-file")?)),
            "--scenario" => {
                let v = value("--scenario")?;
                if v != "demo" {
                    return Err(format!("unknown scenario: {v} (known: demo)"));
                }
            }
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Some(args))
}

/// Write via a temporary file and rename, so a script polling for the file never reads
/// half a URL.
fn write_port_file(path: &PathBuf, url: &str) -> std::io::Result<()> {
    let mut tmp = path.clone().into_os_string();
    tmp.push(".tmp");
    std::fs::write(&tmp, format!("{url}\n"))?;
    std::fs::rename(&tmp, path)
}

fn scenario(args: &Args) -> fake_cloud::Scenario {
    let mut s = fake_cloud::demo_scenario();
    if let Some(step) = args.step {
        s = s.every(step);
    }
    if let Some(mib) = args.artifacts_mib {
        s = s.artifacts_bytes(mib << 20);
    }
    s
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fake-cloud: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cloud = match fake_cloud::FakeCloud::start_on(scenario(&args), args.port) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fake-cloud: cannot listen on 127.0.0.1:{}: {e}", args.port);
            return ExitCode::from(1);
        }
    };
    let url = cloud.url();
    eprintln!(
        "fake devicecloud API listening on {url} (upload {})",
        cloud.upload_id()
    );
    let mut urls = url.clone();
    let realtime = match args.realtime.then(|| start_supabase(&cloud)).transpose() {
        Ok(r) => r.map(|(rt, front)| {
            eprintln!("fake Supabase (Realtime and storage) listening on {front}");
            urls.push('\n');
            urls.push_str(&front);
            std::sync::Arc::new(rt)
        }),
        Err(e) => {
            eprintln!("fake-cloud: cannot start the fake Supabase: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(path) = &args.port_file
        && let Err(e) = write_port_file(path, &urls)
    {
        eprintln!("fake-cloud: cannot write {}: {e}", path.display());
        return ExitCode::from(1);
    }
    if let Some(rt) = realtime {
        // Like the real database: every change of the run's rows is announced.
        let mut seen = cloud.snapshot_index();
        let id = cloud.upload_id().to_string();
        loop {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let now = cloud.snapshot_index();
            if now != seen {
                seen = now;
                rt.push_change(serde_json::json!({"test_upload_id": id, "org_id": 1}));
            }
        }
    }
    // Serve until killed (SIGTERM/SIGINT default action ends the process).
    loop {
        std::thread::park();
    }
}

/// The fake Realtime, and the URL of a loopback front that sends `/realtime/…` to it and
/// every other request to the fake API (its TUS endpoint).
fn start_supabase(
    cloud: &fake_cloud::FakeCloud,
) -> std::io::Result<(fake_realtime::FakeRealtime, String)> {
    let rt = fake_realtime::FakeRealtime::start(fake_realtime::RtScript::default());
    let rt_addr = host_port(&rt.url());
    let api_addr = cloud.addr().to_string();
    let front = std::net::TcpListener::bind("127.0.0.1:0")?;
    let front_url = format!("http://{}", front.local_addr()?);
    std::thread::spawn(move || {
        for conn in front.incoming().flatten() {
            let (rt_addr, api_addr) = (rt_addr.clone(), api_addr.clone());
            std::thread::spawn(move || route(conn, &rt_addr, &api_addr));
        }
    });
    Ok((rt, front_url))
}

/// `http://127.0.0.1:1234/x` → `127.0.0.1:1234`.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// Reads the first request line, connects to the backend its path belongs to, replays what
/// was read and then copies both ways until either side closes.
fn route(mut client: std::net::TcpStream, rt_addr: &str, api_addr: &str) {
    use std::io::{Read, Write};
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") && head.len() < 8192 {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let line = String::from_utf8_lossy(&head);
    let path = line.split(' ').nth(1).unwrap_or("");
    let backend = if path.starts_with("/realtime/") {
        rt_addr
    } else {
        api_addr
    };
    let Ok(mut server) = std::net::TcpStream::connect(backend) else {
        return;
    };
    if server.write_all(&head).is_err() {
        return;
    }
    let (Ok(mut client_r), Ok(mut server_w)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_r, &mut server_w);
        let _ = server_w.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Both);
    let _ = up.join();
}
