//! Host name lookups with a deadline, for the connections the HTTP agent does not make (the
//! realtime socket, its proxy tunnels, the diagnosis). The system's resolver cannot be
//! interrupted and may block far past any timeout of ours, so a lookup runs on a helper
//! thread and is abandoned (left to end on its own) when the deadline passes, as ureq's own
//! lookups are. An IP address is answered at once.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// The addresses of `host:port` (an IPv6 address with or without brackets), within `timeout`.
/// No address at all is an error.
pub fn lookup(host: &str, port: u16, timeout: Duration) -> io::Result<Vec<SocketAddr>> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let name = host.to_string();
    within(timeout, move || {
        (name.as_str(), port)
            .to_socket_addrs()
            .map(Iterator::collect)
    })
}

/// `resolve` on a helper thread, waited for at most `timeout`.
fn within(
    timeout: Duration,
    resolve: impl FnOnce() -> io::Result<Vec<SocketAddr>> + Send + 'static,
) -> io::Result<Vec<SocketAddr>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let _ = tx.send(resolve());
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) if addrs.is_empty() => Err(io::Error::other("no addresses")),
        Ok(answer) => answer,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within {} ms", timeout.as_millis()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_answered_at_once_and_a_stuck_lookup_gives_up_at_its_deadline() {
        let at_once = lookup("[::1]", 443, Duration::ZERO).unwrap();
        assert_eq!(at_once, ["[::1]:443".parse().unwrap()]);
        assert_eq!(
            lookup("127.0.0.1", 80, Duration::ZERO).unwrap(),
            ["127.0.0.1:80".parse().unwrap()]
        );
        // A resolver that never answers (the thread is left behind, as a real one would be).
        let start = std::time::Instant::now();
        let stuck = within(Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(vec![])
        });
        let e = stuck.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(e.to_string(), "no answer within 50 ms");
        assert!(start.elapsed() < Duration::from_secs(60));
        let empty = within(Duration::from_secs(60), || Ok(vec![])).unwrap_err();
        assert_eq!(empty.to_string(), "no addresses");
    }
}
