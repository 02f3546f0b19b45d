//! A TCP stream to a target through a proxy, for connections the HTTP agent does not make
//! (the realtime WebSocket): an HTTP `CONNECT` tunnel, or a SOCKS5 `CONNECT` with no
//! authentication or username/password. `socks5` sends the target as an IP address resolved
//! here, `socks5h` sends the name for the proxy to resolve. Any other kind of proxy is
//! refused: the connection never falls back to going direct.

use super::proxy::{Kind, Server, authority};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// Connects to `host:port` (an IPv6 host without brackets) through `server`. Reads and
/// writes on the returned stream time out after `timeout` until the caller changes that.
pub fn open(
    server: &Server,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, String> {
    if !carries(server.kind()) {
        return Err(refusal(server));
    }
    let mut s = connect(server.host(), server.port(), timeout)
        .map_err(|e| format!("{}: {e}", server.describe()))?;
    s.set_read_timeout(Some(timeout)).ok();
    s.set_write_timeout(Some(timeout)).ok();
    let result = match server.kind() {
        Kind::Http => http_connect(&mut s, server, host, port),
        Kind::Socks5 => {
            resolve(host, port, timeout).and_then(|ip| socks5(&mut s, server, &Addr::Ip(ip), port))
        }
        _ => {
            let target = host.parse().map_or(Addr::Name(host), Addr::Ip);
            socks5(&mut s, server, &target, port)
        }
    };
    result.map_err(|e| format!("{}: {e}", server.describe()))?;
    Ok(s)
}

/// Whether [`open`] can tunnel through this kind of proxy.
pub fn carries(kind: Kind) -> bool {
    matches!(kind, Kind::Http | Kind::Socks5 | Kind::Socks5h)
}

/// Why [`open`] refuses a proxy it cannot tunnel through.
pub fn refusal(server: &Server) -> String {
    format!(
        "{} ({}) cannot carry this connection: use an http://, socks5:// or socks5h:// proxy",
        server.describe(),
        server.var()
    )
}

/// TCP to the first address of `host:port` that accepts; the lookup and each connection
/// attempt get `timeout`.
pub fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let addrs = super::dns::lookup(host, port, timeout)
        .map_err(|e| io::Error::new(e.kind(), format!("resolving {host}: {e}")))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other(format!("{host} did not resolve"))))
}

/// The first address of `host`, for a `socks5://` proxy (which is sent addresses, not names).
fn resolve(host: &str, port: u16, timeout: Duration) -> Result<IpAddr, String> {
    let addrs =
        super::dns::lookup(host, port, timeout).map_err(|e| format!("resolving {host}: {e}"))?;
    addrs
        .first()
        .map(SocketAddr::ip)
        .ok_or_else(|| format!("{host} did not resolve"))
}

/// `CONNECT host:port`; a 200 leaves `stream` as a tunnel.
fn http_connect(
    stream: &mut TcpStream,
    server: &Server,
    host: &str,
    port: u16,
) -> Result<(), String> {
    let target = authority(host, port);
    let mut req = format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: {}\r\n",
        super::agent::user_agent()
    );
    if let Some(user) = server.user() {
        let creds = format!("{user}:{}", server.password().unwrap_or_default());
        req.push_str(&format!(
            "Proxy-Authorization: Basic {}\r\n",
            crate::encoding::base64(creds.as_bytes())
        ));
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .map_err(|e| e.to_string())?;
    // Byte by byte up to the blank line, so nothing after the headers is consumed.
    let mut reader = BufReader::with_capacity(1, &mut *stream);
    let mut status = String::new();
    reader.read_line(&mut status).map_err(|e| e.to_string())?;
    let mut total = status.len();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).map_err(|e| e.to_string())?;
        total += n;
        if n == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if total > 64 << 10 {
            return Err("CONNECT answer headers too long".into());
        }
    }
    let printable: String = status
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    match status.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        _ if status.is_empty() => Err("closed the connection instead of answering CONNECT".into()),
        _ => Err(format!("refused CONNECT {target}: {printable}")),
    }
}

/// What a SOCKS5 request names.
enum Addr<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

/// The SOCKS5 greeting, the optional username/password exchange and `CONNECT`.
fn socks5(s: &mut TcpStream, server: &Server, target: &Addr, port: u16) -> Result<(), String> {
    let io = |e: io::Error| match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            "closed the connection during the SOCKS5 handshake".to_string()
        }
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            "no SOCKS5 answer in time".to_string()
        }
        _ => e.to_string(),
    };
    let user = server.user().filter(|u| !u.is_empty());
    let greeting: &[u8] = if user.is_some() {
        &[5, 2, 0, 2]
    } else {
        &[5, 1, 0]
    };
    s.write_all(greeting).map_err(io)?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).map_err(io)?;
    if reply[0] != 5 {
        return Err("not a SOCKS5 proxy (bad version in its answer)".into());
    }
    match (reply[1], user) {
        (0, _) => {}
        (2, Some(user)) => authenticate(s, user, server.password().unwrap_or_default())?,
        (0xff, None) => {
            return Err("asks for credentials: put user:password@ in the proxy URL".into());
        }
        (0xff, Some(_)) => return Err("accepts none of the offered authentication methods".into()),
        (m, _) => return Err(format!("chose an authentication method not offered ({m})")),
    }
    let mut req = vec![5, 1, 0];
    match target {
        Addr::Ip(IpAddr::V4(ip)) => {
            req.push(1);
            req.extend_from_slice(&ip.octets());
        }
        Addr::Ip(IpAddr::V6(ip)) => {
            req.push(4);
            req.extend_from_slice(&ip.octets());
        }
        Addr::Name(name) => {
            let len = u8::try_from(name.len()).map_err(|_| "host name too long for SOCKS5")?;
            req.extend_from_slice(&[3, len]);
            req.extend_from_slice(name.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).map_err(io)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).map_err(io)?;
    if head[0] != 5 {
        return Err("not a SOCKS5 proxy (bad version in its answer)".into());
    }
    if head[1] != 0 {
        return Err(format!("refused the connection: {}", socks5_reply(head[1])));
    }
    // The address the proxy bound, then its port: read past them.
    let len = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut n = [0u8; 1];
            s.read_exact(&mut n).map_err(io)?;
            usize::from(n[0])
        }
        _ => return Err("answered with an unknown address type".into()),
    };
    let mut rest = vec![0u8; len + 2];
    s.read_exact(&mut rest).map_err(io)?;
    Ok(())
}

/// The username/password sub-negotiation: version 1, each field after its length.
fn authenticate(s: &mut TcpStream, user: &str, password: &str) -> Result<(), String> {
    let (Ok(ul), Ok(pl)) = (u8::try_from(user.len()), u8::try_from(password.len())) else {
        return Err("SOCKS5 user name or password longer than 255 bytes".into());
    };
    let mut req = vec![1, ul];
    req.extend_from_slice(user.as_bytes());
    req.push(pl);
    req.extend_from_slice(password.as_bytes());
    s.write_all(&req).map_err(|e| e.to_string())?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).map_err(|e| e.to_string())?;
    if reply[1] != 0 {
        return Err("rejected the user name and password".into());
    }
    Ok(())
}

fn socks5_reply(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// A one-connection SOCKS5 server: answers per `script` and reports what it read.
    fn socks_once(
        auth: Option<(&'static str, &'static str)>,
        rep: u8,
    ) -> (u16, mpsc::Receiver<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 2];
            c.read_exact(&mut buf).unwrap();
            let mut methods = vec![0u8; usize::from(buf[1])];
            c.read_exact(&mut methods).unwrap();
            seen.extend_from_slice(&methods);
            match auth {
                Some((u, p)) if methods.contains(&2) => {
                    c.write_all(&[5, 2]).unwrap();
                    let mut v = [0u8; 2];
                    c.read_exact(&mut v).unwrap();
                    let mut user = vec![0u8; usize::from(v[1])];
                    c.read_exact(&mut user).unwrap();
                    let mut pl = [0u8; 1];
                    c.read_exact(&mut pl).unwrap();
                    let mut pw = vec![0u8; usize::from(pl[0])];
                    c.read_exact(&mut pw).unwrap();
                    let ok = user == u.as_bytes() && pw == p.as_bytes();
                    c.write_all(&[1, if ok { 0 } else { 1 }]).unwrap();
                    if !ok {
                        let _ = tx.send(seen);
                        return;
                    }
                }
                Some(_) => {
                    c.write_all(&[5, 0xff]).unwrap();
                    let _ = tx.send(seen);
                    return;
                }
                None => c.write_all(&[5, 0]).unwrap(),
            }
            let mut head = [0u8; 4];
            c.read_exact(&mut head).unwrap();
            seen.push(head[3]);
            let len = match head[3] {
                1 => 4,
                4 => 16,
                _ => {
                    let mut n = [0u8; 1];
                    c.read_exact(&mut n).unwrap();
                    seen.push(n[0]);
                    usize::from(n[0])
                }
            };
            let mut addr = vec![0u8; len + 2];
            c.read_exact(&mut addr).unwrap();
            seen.extend_from_slice(&addr);
            c.write_all(&[5, rep, 0, 1, 127, 0, 0, 1, 0, 80]).unwrap();
            let _ = tx.send(seen);
        });
        (port, rx)
    }

    fn server(url: &str) -> Server {
        Server::parse(url, "ALL_PROXY").unwrap()
    }

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn socks5h_sends_the_name_and_socks5_the_address() {
        let (port, seen) = socks_once(None, 0);
        open(
            &server(&format!("socks5h://127.0.0.1:{port}")),
            "example.test",
            443,
            T,
        )
        .unwrap();
        let mut want = vec![0, 3, 12];
        want.extend_from_slice(b"example.test");
        want.extend_from_slice(&443u16.to_be_bytes());
        assert_eq!(seen.recv().unwrap(), want);

        let (port, seen) = socks_once(None, 0);
        open(
            &server(&format!("socks5://127.0.0.1:{port}")),
            "localhost",
            80,
            T,
        )
        .unwrap();
        let got = seen.recv().unwrap();
        assert!(
            got[1] == 1 || got[1] == 4,
            "an address, not a name: {got:?}"
        );

        let (port, seen) = socks_once(None, 0);
        open(
            &server(&format!("socks5h://127.0.0.1:{port}")),
            "::1",
            8080,
            T,
        )
        .unwrap();
        let mut want = vec![0, 4];
        want.extend_from_slice(&"::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        want.extend_from_slice(&8080u16.to_be_bytes());
        assert_eq!(seen.recv().unwrap(), want);
    }

    #[test]
    fn socks5_credentials_and_refusals() {
        let (port, _seen) = socks_once(Some(("me", "secret-pw")), 0);
        open(
            &server(&format!("socks5h://me:secret-pw@127.0.0.1:{port}")),
            "h.test",
            1,
            T,
        )
        .unwrap();
        let (port, _seen) = socks_once(Some(("me", "secret-pw")), 0);
        let e = open(
            &server(&format!("socks5h://me:wrong-pw@127.0.0.1:{port}")),
            "h.test",
            1,
            T,
        )
        .unwrap_err();
        assert!(e.contains("rejected the user name and password"), "{e}");
        assert!(!e.contains("wrong-pw"), "{e}");
        let (port, _seen) = socks_once(Some(("me", "pw")), 0);
        let e = open(
            &server(&format!("socks5h://127.0.0.1:{port}")),
            "h.test",
            1,
            T,
        )
        .unwrap_err();
        assert!(e.contains("asks for credentials"), "{e}");
        let (port, _seen) = socks_once(None, 2);
        let e = open(
            &server(&format!("socks5h://127.0.0.1:{port}")),
            "h.test",
            1,
            T,
        )
        .unwrap_err();
        assert_eq!(
            e,
            format!(
                "SOCKS5h proxy 127.0.0.1:{port}: refused the connection: connection not allowed by ruleset"
            )
        );
    }

    #[test]
    fn other_proxy_kinds_are_refused_not_bypassed() {
        let e = open(&server("socks4://127.0.0.1:9"), "h.test", 1, T).unwrap_err();
        assert!(
            e.contains("SOCKS4 proxy 127.0.0.1:9 (ALL_PROXY) cannot carry"),
            "{e}"
        );
        let e = open(&server("https://127.0.0.1:9"), "h.test", 1, T).unwrap_err();
        assert!(
            e.contains("use an http://, socks5:// or socks5h:// proxy"),
            "{e}"
        );
    }

    #[test]
    fn connect_puts_brackets_around_ipv6_and_sends_credentials() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (c, _) = l.accept().unwrap();
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            (&c).write_all(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
            head
        });
        open(
            &server(&format!("http://u:pw@127.0.0.1:{port}")),
            "::1",
            4000,
            T,
        )
        .unwrap();
        let head = h.join().unwrap();
        assert!(
            head.starts_with("CONNECT [::1]:4000 HTTP/1.1\r\nHost: [::1]:4000\r\n"),
            "{head}"
        );
        assert!(head.contains(&format!(
            "Proxy-Authorization: Basic {}",
            crate::encoding::base64(b"u:pw")
        )));
    }
}
