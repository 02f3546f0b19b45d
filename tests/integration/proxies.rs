//! End-to-end: no proxy is silently bypassed. The real `dcd` against the fake cloud and the
//! fake Realtime server, through a SOCKS5 proxy and an HTTP CONNECT proxy written here (both
//! on loopback, both recording what they were asked to connect to), and an IPv6 loopback
//! server reached directly, through a proxy and past `NO_PROXY`. A proxy that refuses fails
//! the command; the fake cloud is never reached around it. An unusable proxy variable warns
//! by name.

use crate::support::fake_cloud::*;
use crate::support::fake_realtime::*;
use crate::support::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "test-api-key-0123456789";
const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.realtime-user-token.sig";
const ORG: &str = "42";
const LIMIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// A SOCKS5 proxy
// ---------------------------------------------------------------------------

/// What a SOCKS5 client asked for.
#[derive(Debug, Clone, PartialEq)]
struct SocksRequest {
    /// `ip` (an address) or `name` (a host name for the proxy to resolve).
    kind: &'static str,
    host: String,
    port: u16,
    /// The user name sent, if any.
    user: Option<String>,
}

struct Socks {
    port: u16,
    seen: Arc<Mutex<Vec<SocksRequest>>>,
}

impl Socks {
    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
    fn seen(&self) -> Vec<SocksRequest> {
        self.seen.lock().unwrap().clone()
    }
}

/// A SOCKS5 proxy on loopback. `refuse`: answer every CONNECT with that reply code instead
/// of connecting. `auth`: require this user name and password.
fn socks_proxy(refuse: Option<u8>, auth: Option<(&'static str, &'static str)>) -> Socks {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let seen = seen2.clone();
            std::thread::spawn(move || {
                let _ = socks_session(c, refuse, auth, &seen);
            });
        }
    });
    Socks { port, seen }
}

fn read_n(c: &mut TcpStream, n: usize) -> std::io::Result<Vec<u8>> {
    let mut v = vec![0u8; n];
    c.read_exact(&mut v)?;
    Ok(v)
}

fn socks_session(
    mut c: TcpStream,
    refuse: Option<u8>,
    auth: Option<(&str, &str)>,
    seen: &Mutex<Vec<SocksRequest>>,
) -> std::io::Result<()> {
    let head = read_n(&mut c, 2)?;
    assert_eq!(head[0], 5, "not a SOCKS5 greeting");
    let methods = read_n(&mut c, usize::from(head[1]))?;
    let mut user = None;
    match auth {
        Some((u, p)) => {
            if !methods.contains(&2) {
                return c.write_all(&[5, 0xff]);
            }
            c.write_all(&[5, 2])?;
            let h = read_n(&mut c, 2)?;
            let got_user = String::from_utf8(read_n(&mut c, usize::from(h[1]))?).unwrap();
            let pl = read_n(&mut c, 1)?;
            let got_pw = String::from_utf8(read_n(&mut c, usize::from(pl[0]))?).unwrap();
            let ok = got_user == u && got_pw == p;
            c.write_all(&[1, u8::from(!ok)])?;
            if !ok {
                return Ok(());
            }
            user = Some(got_user);
        }
        None => c.write_all(&[5, 0])?,
    }
    let req = read_n(&mut c, 4)?;
    let (kind, host) = match req[3] {
        1 => {
            let a: [u8; 4] = read_n(&mut c, 4)?.try_into().unwrap();
            ("ip", std::net::Ipv4Addr::from(a).to_string())
        }
        4 => {
            let a: [u8; 16] = read_n(&mut c, 16)?.try_into().unwrap();
            ("ip", std::net::Ipv6Addr::from(a).to_string())
        }
        _ => {
            let n = read_n(&mut c, 1)?;
            (
                "name",
                String::from_utf8(read_n(&mut c, usize::from(n[0]))?).unwrap(),
            )
        }
    };
    let p = read_n(&mut c, 2)?;
    let port = u16::from_be_bytes([p[0], p[1]]);
    seen.lock().unwrap().push(SocksRequest {
        kind,
        host: host.clone(),
        port,
        user,
    });
    let reply = |code: u8| [5, code, 0, 1, 127, 0, 0, 1, 0, 0];
    if let Some(code) = refuse {
        return c.write_all(&reply(code));
    }
    // Names resolve here, at the proxy; only loopback is ever relayed to.
    let upstream = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))?
        .filter(|a| a.ip().is_loopback())
        .find_map(|a| TcpStream::connect(a).ok());
    let Some(upstream) = upstream else {
        return c.write_all(&reply(5));
    };
    c.write_all(&reply(0))?;
    relay(c, upstream);
    Ok(())
}

/// Copies bytes both ways until either side closes.
fn relay(client: TcpStream, upstream: TcpStream) {
    let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let (mut c, mut u) = (client, upstream);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut u, &mut c);
    let _ = c.shutdown(std::net::Shutdown::Write);
}

// ---------------------------------------------------------------------------
// An HTTP CONNECT proxy
// ---------------------------------------------------------------------------

/// An HTTP CONNECT proxy on loopback that records the request lines.
fn connect_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for client in l.incoming().flatten() {
            let seen = seen2.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                        break;
                    }
                }
                seen.lock().unwrap().push(first.trim().to_string());
                let target = first.split_whitespace().nth(1).unwrap_or("").to_string();
                let up = target
                    .parse::<SocketAddr>()
                    .ok()
                    .filter(|a| a.ip().is_loopback())
                    .and_then(|a| TcpStream::connect(a).ok());
                let mut client = client;
                let Some(up) = up else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                    return;
                };
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                relay(client, up);
            });
        }
    });
    (format!("http://{addr}"), seen)
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn done_run() -> Scenario {
    Scenario::new(vec![vec![row(1, "./a.yaml", "PASSED")]]).api_key(KEY)
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `dcd status --upload-id … --json` against `api_url` with the given environment.
fn status(api_url: &str, upload_id: &str, env: &[(&str, &str)], extra: &[&str]) -> Output {
    let (mut c, _dir) = dcd();
    c.args(["status", "--upload-id", upload_id, "--api-key", KEY])
        .args(["--api-url", api_url, "--json"])
        .args(extra);
    for (k, v) in env {
        c.env(k, v);
    }
    run(c, LIMIT)
}

fn assert_status_passed(o: &Output) {
    o.assert_code(0).assert_no_panic();
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    assert_eq!(v["status"], "PASSED", "{o}");
}

/// The IPv6 loopback, or `None` (with a visible SKIPPED line) when the machine has none.
fn ipv6_loopback(test: &str) -> Option<SocketAddr> {
    let at: SocketAddr = "[::1]:0".parse().unwrap();
    match TcpListener::bind(at) {
        Ok(_) => Some(at),
        Err(e) => {
            println!("SKIPPED {test}: no IPv6 loopback on this machine ({e})");
            None
        }
    }
}

/// A logged-in `dcd status --watch --json` whose realtime socket goes to `rt_url`.
fn watch_logged_in(cloud: &FakeCloud, rt_url: &str, env: &[(&str, &str)]) -> (Child, TempDir) {
    let (mut c, dir) = status_watch_json(cloud.upload_id(), "0.05");
    write_config(
        &dir,
        &realtime_session_config(&cloud.url(), rt_url, TOKEN, ORG),
    );
    for (k, v) in env {
        c.env(k, v);
    }
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, dir)
}

fn finish(child: Child) -> Output {
    let start = Instant::now();
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// A cloud that moves only when told, for a logged-in user.
fn manual_cloud(at: SocketAddr) -> FakeCloud {
    FakeCloud::start_at(
        Scenario::new(vec![
            vec![row(1, "./a.yaml", "RUNNING")],
            vec![row(1, "./a.yaml", "PASSED")],
        ])
        .manual()
        .bearer(TOKEN, ORG),
        at,
    )
    .unwrap()
}

/// Waits for the channel join, then moves the run on and pushes the change.
fn join_then_pass(cloud: &FakeCloud, rt: &FakeRealtime, child: Child) -> Output {
    let joined = rt.wait_until("a joined channel", Duration::from_secs(10), |r| {
        !r.joined().is_empty()
    });
    if !joined {
        let mut child = child;
        let _ = child.kill();
        panic!("realtime never joined\n{}", finish(child));
    }
    cloud.advance();
    rt.push_change(
        json!({"id": 1, "test_upload_id": cloud.upload_id(), "status": "PASSED", "org_id": 42}),
    );
    let o = finish(child);
    assert_status_passed(&o);
    o
}

// ---------------------------------------------------------------------------
// SOCKS5
// ---------------------------------------------------------------------------

#[test]
fn status_goes_through_a_socks5_proxy_with_credentials() {
    let cloud = FakeCloud::start(done_run());
    let socks = socks_proxy(None, Some(("ci-user", "socks-secret-pw")));
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let all = format!("socks5://ci-user:socks-secret-pw@127.0.0.1:{}", socks.port);
    // For an http:// API, ALL_PROXY comes before HTTPS_PROXY (the https:// variable).
    let o = status(
        &cloud.url(),
        cloud.upload_id(),
        &[("ALL_PROXY", &all), ("HTTPS_PROXY", &closed)],
        &["--debug"],
    );
    assert_status_passed(&o);
    let seen = socks.seen();
    assert!(!seen.is_empty(), "the SOCKS proxy saw nothing\n{o}");
    for r in &seen {
        assert_eq!(
            (r.kind, r.host.as_str(), r.port, r.user.as_deref()),
            ("ip", "127.0.0.1", cloud.addr().port(), Some("ci-user")),
            "{o}"
        );
    }
    assert!(!cloud.requests().is_empty());
    assert!(
        o.stderr.contains(&format!(
            "SOCKS5 proxy 127.0.0.1:{} (from ALL_PROXY)",
            socks.port
        )),
        "{o}"
    );
    assert!(!o.stderr.contains("HTTP proxy"), "{o}");
    assert!(!o.stderr.contains("socks-secret-pw"), "{o}");
}

#[test]
fn socks5h_lets_the_proxy_resolve_the_name() {
    let cloud = FakeCloud::start(done_run());
    let socks = socks_proxy(None, None);
    let url = format!("http://localhost:{}", cloud.addr().port());
    let o = status(
        &url,
        cloud.upload_id(),
        &[("all_proxy", &socks.url("socks5h"))],
        &[],
    );
    assert_status_passed(&o);
    let seen = socks.seen();
    assert!(!seen.is_empty(), "{o}");
    assert!(
        seen.iter()
            .all(|r| r.kind == "name" && r.host == "localhost" && r.port == cloud.addr().port()),
        "{seen:?}"
    );
}

#[test]
fn a_refusing_socks_proxy_fails_the_command_and_nothing_goes_direct() {
    let cloud = FakeCloud::start(done_run());
    let socks = socks_proxy(Some(2), None);
    let o = status(
        &cloud.url(),
        cloud.upload_id(),
        &[("ALL_PROXY", &socks.url("socks5"))],
        &[],
    );
    o.assert_code(1).assert_no_panic();
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    let error = v["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("proxy error") && error.contains("connection not allowed by ruleset"),
        "{o}"
    );
    assert!(
        error.contains(&format!("SOCKS5 proxy 127.0.0.1:{}", socks.port)),
        "{o}"
    );
    assert!(!socks.seen().is_empty());
    assert!(
        cloud.requests().is_empty(),
        "the cloud was reached around the proxy"
    );
}

#[test]
fn the_realtime_socket_goes_through_a_socks5_proxy() {
    let cloud = manual_cloud("127.0.0.1:0".parse().unwrap());
    let rt = FakeRealtime::start(RtScript::default());
    let socks = socks_proxy(None, None);
    let (child, _dir) = watch_logged_in(
        &cloud,
        &rt.url(),
        &[
            ("ALL_PROXY", &socks.url("socks5h")),
            ("HTTPS_PROXY", "http://127.0.0.1:9"),
        ],
    );
    join_then_pass(&cloud, &rt, child);
    let seen = socks.seen();
    assert!(
        seen.iter().any(|r| r.port == rt.addr().port()),
        "the socket did not go through the proxy: {seen:?}"
    );
    assert!(
        seen.iter().any(|r| r.port == cloud.addr().port()),
        "{seen:?}"
    );
}

// ---------------------------------------------------------------------------
// A scheme's own variable before ALL_PROXY
// ---------------------------------------------------------------------------

#[test]
fn an_https_api_goes_through_https_proxy_not_the_all_proxy_tunnel() {
    // `ALL_PROXY=socks5://tunnel HTTPS_PROXY=http://squid`: the API is https, so squid.
    let socks = socks_proxy(Some(2), None);
    let (proxy, seen) = connect_proxy();
    let port = closed_port();
    let (mut c, _dir) = dcd();
    c.args(["status", "--upload-id", "u1", "--api-key", KEY, "--debug"])
        .args(["--api-url", &format!("https://127.0.0.1:{port}")])
        .env("ALL_PROXY", socks.url("socks5"))
        .env("HTTPS_PROXY", &proxy);
    let o = run(c, LIMIT);
    o.assert_code(1).assert_no_panic();
    let want = format!("CONNECT 127.0.0.1:{port} HTTP/1.1");
    assert!(seen.lock().unwrap().contains(&want), "{:?}\n{o}", seen);
    assert!(
        socks.seen().is_empty(),
        "the SOCKS tunnel was used: {:?}",
        socks.seen()
    );
    let proxy_port = proxy.rsplit(':').next().unwrap();
    assert!(
        o.stderr.contains(&format!(
            "HTTP proxy 127.0.0.1:{proxy_port} (from HTTPS_PROXY)"
        )),
        "{o}"
    );
}

#[test]
fn an_http_api_and_its_websocket_go_through_http_proxy_not_all_proxy() {
    let cloud = manual_cloud("127.0.0.1:0".parse().unwrap());
    let rt = FakeRealtime::start(RtScript::default());
    assert!(rt.url().starts_with("http://"), "a ws:// socket");
    let socks = socks_proxy(Some(2), None);
    let (proxy, seen) = connect_proxy();
    let (child, _dir) = watch_logged_in(
        &cloud,
        &rt.url(),
        &[("ALL_PROXY", &socks.url("socks5")), ("HTTP_PROXY", &proxy)],
    );
    join_then_pass(&cloud, &rt, child);
    let seen = seen.lock().unwrap().clone();
    for port in [cloud.addr().port(), rt.addr().port()] {
        let want = format!("CONNECT 127.0.0.1:{port} HTTP/1.1");
        assert!(seen.contains(&want), "{want} missing from {seen:?}");
    }
    assert!(socks.seen().is_empty(), "{:?}", socks.seen());
}

// ---------------------------------------------------------------------------
// IPv6
// ---------------------------------------------------------------------------

#[test]
fn an_ipv6_api_is_reached_directly_through_a_connect_proxy_and_past_no_proxy() {
    let Some(at) = ipv6_loopback("an_ipv6_api_is_reached_…") else {
        return;
    };
    let cloud = FakeCloud::start_at(done_run(), at).unwrap();
    let url = cloud.url();
    assert!(url.starts_with("http://[::1]:"), "{url}");
    // Direct.
    assert_status_passed(&status(&url, cloud.upload_id(), &[], &[]));
    // Through an HTTP CONNECT proxy: the target keeps its brackets.
    let (proxy, seen) = connect_proxy();
    let o = status(&url, cloud.upload_id(), &[("HTTPS_PROXY", &proxy)], &[]);
    assert_status_passed(&o);
    let want = format!("CONNECT [::1]:{} HTTP/1.1", cloud.addr().port());
    assert!(seen.lock().unwrap().contains(&want), "{seen:?}\n{o}");
    // NO_PROXY names the host in either form: direct, the (refusing) proxy never asked.
    for no_proxy in ["::1", "[::1]", &format!("[::1]:{}", cloud.addr().port())] {
        let socks = socks_proxy(Some(2), None);
        let o = status(
            &url,
            cloud.upload_id(),
            &[("ALL_PROXY", &socks.url("socks5")), ("NO_PROXY", no_proxy)],
            &[],
        );
        assert_status_passed(&o);
        assert!(
            socks.seen().is_empty(),
            "NO_PROXY={no_proxy}: {:?}",
            socks.seen()
        );
    }
}

#[test]
fn realtime_on_an_ipv6_host_directly_and_through_a_connect_proxy() {
    let Some(at) = ipv6_loopback("realtime_on_an_ipv6_host_…") else {
        return;
    };
    // Direct.
    let cloud = manual_cloud(at);
    let rt = FakeRealtime::start_at(RtScript::default(), at).unwrap();
    assert!(rt.url().starts_with("http://[::1]:"));
    let (child, _dir) = watch_logged_in(&cloud, &rt.url(), &[]);
    join_then_pass(&cloud, &rt, child);
    // Through an HTTP CONNECT proxy.
    let cloud = manual_cloud(at);
    let rt = FakeRealtime::start_at(RtScript::default(), at).unwrap();
    let (proxy, seen) = connect_proxy();
    let (child, _dir) = watch_logged_in(&cloud, &rt.url(), &[("HTTPS_PROXY", &proxy)]);
    join_then_pass(&cloud, &rt, child);
    let want = format!("CONNECT [::1]:{} HTTP/1.1", rt.addr().port());
    assert!(seen.lock().unwrap().contains(&want), "{seen:?}");
}

// ---------------------------------------------------------------------------
// Unusable variables
// ---------------------------------------------------------------------------

#[test]
fn an_unusable_proxy_variable_warns_by_name_without_its_credentials() {
    let cloud = FakeCloud::start(done_run());
    let o = status(
        &cloud.url(),
        cloud.upload_id(),
        &[
            ("ALL_PROXY", "http://user:hunter2-secret@bad host:1"),
            ("HTTPS_PROXY", "gopher://proxy.example:70"),
            ("NO_PROXY", "localhost,[::1"),
        ],
        &[],
    );
    assert_status_passed(&o);
    assert!(
        o.stderr.contains("ALL_PROXY is not a usable proxy URL"),
        "{o}"
    );
    assert!(
        o.stderr.contains("HTTPS_PROXY is not a usable proxy URL"),
        "{o}"
    );
    assert!(
        o.stderr.contains("NO_PROXY: ignoring the entry \"[::1\""),
        "{o}"
    );
    assert!(
        !o.stderr.contains("hunter2-secret") && !o.stdout.contains("hunter2-secret"),
        "{o}"
    );
}
