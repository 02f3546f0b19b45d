//! The one proxy decision: which proxy, if any, a connection to a URL goes through.
//!
//! The environment is read once, with the precedence of curl, wget and Python: a URL's own
//! scheme variable comes before `ALL_PROXY`. For `https://` (and the `wss://` WebSocket) the
//! first of `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`, `all_proxy` that holds a usable proxy
//! URL is the proxy; for `http://` (and `ws://`) the first of `HTTP_PROXY`, `http_proxy`,
//! `ALL_PROXY`, `all_proxy`. When none of those is set, the other scheme's variable is used
//! rather than going direct (a configured proxy is never bypassed). `NO_PROXY` (else
//! `no_proxy`) lists the hosts that bypass them. A value that
//! cannot be used is skipped with a warning naming the variable (never its value, which may
//! hold credentials). The API agent, the storage transfers, the diagnosis and the realtime
//! socket all ask [`Proxies::for_url`] / [`Proxies::for_host`], so no path connects directly
//! while a proxy applies to its host.
//!
//! `NO_PROXY` entries, separated by commas or blanks: `*` (everything); a host name or an IP
//! address (`::1` and `[::1]` alike), matched exactly; `.example.com` or `*.example.com`
//! (any name below example.com); `10.` or `10.*` (a textual prefix); `10.0.0.0/8` (an address
//! range). Any entry may end in `:port` (`[::1]:8080` for IPv6), which limits it to that port.

use std::net::IpAddr;
use std::sync::OnceLock;

/// Every proxy variable dcd reads.
pub const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The variables tried for an `https://` or `wss://` URL, in order: its own, `ALL_PROXY`,
/// and last the other scheme's (where curl would go direct; a configured proxy is never
/// bypassed).
const TLS_ORDER: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

/// The variables tried for an `http://` or `ws://` URL, in order (as [`TLS_ORDER`]).
const PLAIN_ORDER: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
];

/// The bypass list variables, in the order they are tried.
pub const NO_PROXY_VARS: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// How a proxy carries a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `http://`: an HTTP `CONNECT` tunnel.
    Http,
    /// `https://`: an HTTP `CONNECT` tunnel over TLS to the proxy.
    Https,
    /// `socks4://`: the target resolved here.
    Socks4,
    /// `socks4a://`: the target name resolved by the proxy.
    Socks4a,
    /// `socks5://` (or `socks://`): the target resolved here, sent as an IP address.
    Socks5,
    /// `socks5h://`: the target name sent to the proxy, which resolves it.
    Socks5h,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Http => "HTTP",
            Kind::Https => "HTTPS",
            Kind::Socks4 => "SOCKS4",
            Kind::Socks4a => "SOCKS4a",
            Kind::Socks5 => "SOCKS5",
            Kind::Socks5h => "SOCKS5h",
        }
    }

    pub fn is_socks(self) -> bool {
        matches!(
            self,
            Kind::Socks4 | Kind::Socks4a | Kind::Socks5 | Kind::Socks5h
        )
    }
}

/// A configured proxy server.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    kind: Kind,
    /// The host without IPv6 brackets.
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
    /// The variable it came from (`ALL_PROXY`…), or `"proxy"` when given directly.
    var: &'static str,
    /// The same proxy for the HTTP agent, without ureq's own `NO_PROXY` reading.
    ureq: ureq::Proxy,
}

impl Server {
    /// Parses a proxy URL (`scheme://[user[:password]@]host[:port]`; no scheme means
    /// `http://`). The error never repeats the value.
    pub fn parse(value: &str, var: &'static str) -> Result<Server, String> {
        let value = value.trim();
        let bad = |why: &str| format!("{var} is not a usable proxy URL ({why}); ignoring it");
        let p = ureq::Proxy::new(value).map_err(|_| {
            bad("expected scheme://host:port with scheme http, https, socks4, socks4a, socks5 or socks5h")
        })?;
        let kind = match p.protocol() {
            ureq::ProxyProtocol::Http => Kind::Http,
            ureq::ProxyProtocol::Https => Kind::Https,
            ureq::ProxyProtocol::Socks4 => Kind::Socks4,
            ureq::ProxyProtocol::Socks4A => Kind::Socks4a,
            ureq::ProxyProtocol::Socks5 => Kind::Socks5,
            ureq::ProxyProtocol::Socks5h => Kind::Socks5h,
            _ => return Err(bad("unknown scheme")),
        };
        let host = bare(p.host()).to_string();
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c))
        {
            return Err(bad("no valid host"));
        }
        let written = p.uri().authority().map_or("", |a| a.as_str());
        let written = written.rsplit('@').next().unwrap_or(written);
        let after_host = match written.strip_prefix('[') {
            Some(rest) => rest.split_once(']').map_or("", |(_, after)| after),
            None => written.split_once(':').map_or("", |(_, p)| p),
        };
        let written_port = after_host.strip_prefix(':').unwrap_or(after_host);
        if (!written_port.is_empty() && written_port.parse::<u16>().is_err()) || p.port() == 0 {
            return Err(bad("bad port"));
        }
        if let Some(pw) = p.password() {
            crate::debug::add_secret(pw);
        }
        Ok(Server {
            kind,
            host,
            port: p.port(),
            user: p.username().map(str::to_string),
            password: p.password().map(str::to_string),
            var,
            ureq: p,
        })
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The host, without brackets (`::1`).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The variable the proxy came from.
    pub fn var(&self) -> &'static str {
        self.var
    }

    /// `host:port`, brackets around an IPv6 host; never the credentials.
    pub fn addr(&self) -> String {
        authority(&self.host, self.port)
    }

    /// `SOCKS5 proxy host:port`: what debug lines and messages show.
    pub fn describe(&self) -> String {
        format!("{} proxy {}", self.kind.name(), self.addr())
    }

    /// The proxy for a ureq agent.
    pub fn ureq(&self) -> ureq::Proxy {
        self.ureq.clone()
    }
}

/// `host:port`, with brackets around an IPv6 literal.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A host without the brackets of an IPv6 literal.
pub fn bare(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The proxy settings of the environment, read once.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    /// For `https://` and `wss://`.
    tls: Option<Server>,
    /// For `http://` and `ws://`.
    plain: Option<Server>,
    no_proxy: Vec<Entry>,
    warnings: Vec<String>,
}

/// The environment's proxy settings, read on first use.
pub fn env() -> &'static Proxies {
    static ENV: OnceLock<Proxies> = OnceLock::new();
    ENV.get_or_init(|| Proxies::from_lookup(|k| std::env::var(k).ok()))
}

impl Proxies {
    /// The settings from a variable lookup (the environment, or a table in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Proxies {
        let mut p = Proxies::default();
        // Each set variable is read once; one that cannot be used is warned about once, when
        // an order reaches it.
        let parsed: Vec<(&'static str, Result<Server, String>)> = PROXY_VARS
            .iter()
            .filter_map(|var| {
                let value = get(var).filter(|v| !v.trim().is_empty())?;
                Some((*var, Server::parse(&value, var)))
            })
            .collect();
        let pick = |order: [&str; 6], warnings: &mut Vec<String>| {
            for var in order {
                match parsed.iter().find(|(v, _)| *v == var).map(|(_, r)| r) {
                    Some(Ok(s)) => return Some(s.clone()),
                    Some(Err(w)) if !warnings.contains(w) => warnings.push(w.clone()),
                    _ => {}
                }
            }
            None
        };
        p.tls = pick(TLS_ORDER, &mut p.warnings);
        p.plain = pick(PLAIN_ORDER, &mut p.warnings);
        if let Some((var, list)) = NO_PROXY_VARS
            .iter()
            .find_map(|v| get(v).map(|list| (*v, list)))
        {
            for raw in list.split(|c: char| c == ',' || c.is_whitespace()) {
                match Entry::parse(raw) {
                    Ok(Some(e)) => p.no_proxy.push(e),
                    Ok(None) => {}
                    Err(why) => p.warnings.push(format!(
                        "{var}: ignoring the entry \"{}\" ({why})",
                        raw.chars()
                            .filter(|c| !c.is_control())
                            .take(80)
                            .collect::<String>()
                    )),
                }
            }
        }
        p
    }

    #[cfg(test)]
    /// One proxy for every scheme, no bypass list.
    pub fn only(server: Option<Server>) -> Proxies {
        Proxies {
            tls: server.clone(),
            plain: server,
            ..Proxies::default()
        }
    }

    /// The warnings about variables that could not be used, for the user.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The proxy configured for a URL of this kind (`tls`: `https://`, `wss://`), whatever
    /// `NO_PROXY` says.
    pub fn server(&self, tls: bool) -> Option<&Server> {
        if tls {
            self.tls.as_ref()
        } else {
            self.plain.as_ref()
        }
    }

    /// The proxy a connection to `url` goes through: `None` means direct. `https://` and
    /// `wss://` take the TLS order, anything else the plain one. A URL whose host cannot be
    /// read goes through a proxy (a bypass needs a host that matches): its scheme's, else
    /// any configured one.
    pub fn for_url(&self, url: &str) -> Option<&Server> {
        let scheme = url
            .trim()
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        let tls = matches!(scheme.as_deref(), Some("https" | "wss"));
        let unreadable = || {
            self.server(tls)
                .or(self.tls.as_ref())
                .or(self.plain.as_ref())
        };
        let Ok(uri) = url.trim().parse::<ureq::http::Uri>() else {
            return unreadable();
        };
        let Some(host) = uri.host() else {
            return unreadable();
        };
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        self.for_host(host, port, tls)
    }

    /// The proxy a connection to `host:port` goes through (`host` with or without IPv6
    /// brackets; `tls` for `https://` and `wss://`): `None` means direct.
    pub fn for_host(&self, host: &str, port: u16, tls: bool) -> Option<&Server> {
        let server = self.server(tls)?;
        let host = bare(host).trim_end_matches('.').to_ascii_lowercase();
        if self.no_proxy.iter().any(|e| e.matches(&host, port)) {
            None
        } else {
            Some(server)
        }
    }
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    pattern: Pattern,
    /// Only this port, when given.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    All,
    Ip(IpAddr),
    Name(String),
    /// `.example.com`: names ending so.
    Suffix(String),
    /// `10.`: hosts starting so.
    Prefix(String),
    /// `10.0.0.0/8`.
    Range(IpAddr, u8),
}

impl Entry {
    /// `Ok(None)` for an empty entry.
    fn parse(raw: &str) -> Result<Option<Entry>, &'static str> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        if raw == "*" {
            return Ok(Some(Entry {
                pattern: Pattern::All,
                port: None,
            }));
        }
        let (host, port) = split_port(raw)?;
        Ok(Some(Entry {
            pattern: pattern(&host.to_ascii_lowercase())?,
            port,
        }))
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match &self.pattern {
            Pattern::All => true,
            Pattern::Ip(ip) => host.parse::<IpAddr>().is_ok_and(|h| h == *ip),
            Pattern::Name(n) => host == n,
            Pattern::Suffix(s) => host.ends_with(s.as_str()) && host.len() > s.len(),
            Pattern::Prefix(p) => host.starts_with(p.as_str()),
            Pattern::Range(net, bits) => host
                .parse::<IpAddr>()
                .is_ok_and(|h| in_range(h, *net, *bits)),
        }
    }
}

/// `host:port`, `[v6]:port`, `[v6]`, a bare IPv6 address, or a host.
fn split_port(raw: &str) -> Result<(&str, Option<u16>), &'static str> {
    let port = |p: &str| p.parse::<u16>().map_err(|_| "bad port");
    if let Some(rest) = raw.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed [")?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("not an IPv6 address in brackets");
        }
        return match after {
            "" => Ok((host, None)),
            a => Ok((host, Some(port(a.strip_prefix(':').ok_or("bad port")?)?))),
        };
    }
    if raw.matches(':').count() > 1 {
        // A bare IPv6 address (or range): it cannot carry a port.
        return Ok((raw, None));
    }
    match raw.split_once(':') {
        Some((host, p)) => Ok((host, Some(port(p)?))),
        None => Ok((raw, None)),
    }
}

fn pattern(host: &str) -> Result<Pattern, &'static str> {
    if let Some((net, bits)) = host.split_once('/') {
        let net: IpAddr = net.parse().map_err(|_| "not an address range")?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits: u8 = bits
            .parse()
            .ok()
            .filter(|b| *b <= max)
            .ok_or("bad prefix length")?;
        return Ok(Pattern::Range(net, bits));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Pattern::Ip(ip));
    }
    let name_char = |c: char| c.is_ascii_alphanumeric() || "-._".contains(c);
    if let Some(rest) = host.strip_prefix('*') {
        let rest = rest.trim_start_matches('.');
        if rest.is_empty() || !rest.chars().all(name_char) {
            return Err("not a host name");
        }
        return Ok(Pattern::Suffix(format!(".{rest}")));
    }
    let stem = host.strip_suffix('*').unwrap_or(host);
    if stem.is_empty() || !stem.chars().all(name_char) {
        return Err("not a host name");
    }
    Ok(if host.starts_with('.') {
        Pattern::Suffix(host.to_string())
    } else if host.ends_with('*') || host.ends_with('.') {
        Pattern::Prefix(stem.to_string())
    } else {
        Pattern::Name(host.to_string())
    })
}

fn in_range(host: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (h, n, width) = match (host, net) {
        (IpAddr::V4(h), IpAddr::V4(n)) => (u32::from(h) as u128, u32::from(n) as u128, 32),
        (IpAddr::V6(h), IpAddr::V6(n)) => (u128::from(h), u128::from(n), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - u32::from(bits);
    (h >> shift) == (n >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(vars: &[(&str, &str)]) -> Proxies {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Proxies::from_lookup(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    /// The proxy for `https://` URLs (`tls`) or `http://` URLs.
    fn chosen(p: &Proxies, tls: bool) -> Option<(Kind, String, &'static str)> {
        p.server(tls).map(|s| (s.kind(), s.addr(), s.var()))
    }

    #[test]
    fn a_scheme_s_own_variable_comes_before_all_proxy() {
        // The case that sent the API through a SOCKS tunnel instead of the HTTP proxy.
        let p = proxies(&[
            ("ALL_PROXY", "socks5://tunnel:1080"),
            ("HTTPS_PROXY", "http://squid:3128"),
        ]);
        assert_eq!(
            chosen(&p, true),
            Some((Kind::Http, "squid:3128".into(), "HTTPS_PROXY"))
        );
        assert_eq!(
            chosen(&p, false),
            Some((Kind::Socks5, "tunnel:1080".into(), "ALL_PROXY"))
        );
        assert_eq!(
            p.for_url("https://api.example/x").unwrap().var(),
            "HTTPS_PROXY"
        );
        assert_eq!(
            p.for_url("wss://rt.example/x").unwrap().var(),
            "HTTPS_PROXY"
        );
        assert_eq!(
            p.for_url("http://api.example/x").unwrap().var(),
            "ALL_PROXY"
        );
        assert_eq!(p.for_url("ws://rt.example/x").unwrap().var(), "ALL_PROXY");
        assert_eq!(
            p.for_url("HTTPS://api.example/x").unwrap().var(),
            "HTTPS_PROXY"
        );
        assert_eq!(
            p.for_host("api.example", 443, true).unwrap().var(),
            "HTTPS_PROXY"
        );
        assert_eq!(
            p.for_host("api.example", 80, false).unwrap().var(),
            "ALL_PROXY"
        );

        let p = proxies(&[
            ("all_proxy", "socks5://a:3"),
            ("HTTP_PROXY", "http://h:1"),
            ("https_proxy", "http://s:2"),
        ]);
        assert_eq!(
            chosen(&p, true),
            Some((Kind::Http, "s:2".into(), "https_proxy"))
        );
        assert_eq!(
            chosen(&p, false),
            Some((Kind::Http, "h:1".into(), "HTTP_PROXY"))
        );
        // Upper case before lower case.
        let p = proxies(&[
            ("HTTPS_PROXY", "http://up:4"),
            ("https_proxy", "http://low:5"),
            ("ALL_PROXY", "socks5h://all:6"),
            ("all_proxy", "socks5h://lowall:7"),
        ]);
        assert_eq!(
            chosen(&p, true),
            Some((Kind::Http, "up:4".into(), "HTTPS_PROXY"))
        );
        assert_eq!(
            chosen(&p, false),
            Some((Kind::Socks5h, "all:6".into(), "ALL_PROXY"))
        );
        // Only ALL_PROXY: every scheme.
        let p = proxies(&[("all_proxy", "socks5://a:3")]);
        assert_eq!(chosen(&p, true), chosen(&p, false));
        assert!(chosen(&p, true).is_some());
        // Only one scheme's variable: the other scheme uses it too rather than going direct.
        let p = proxies(&[("https_proxy", "s:8080")]);
        assert_eq!(
            chosen(&p, true),
            Some((Kind::Http, "s:8080".into(), "https_proxy"))
        );
        assert_eq!(chosen(&p, false), chosen(&p, true));
        let p = proxies(&[("HTTP_PROXY", "http://h:1"), ("all_proxy", "socks5://a:3")]);
        assert_eq!(
            chosen(&p, true),
            Some((Kind::Socks5, "a:3".into(), "all_proxy"))
        );
        let p = proxies(&[("HTTP_PROXY", "http://h:1")]);
        assert_eq!(
            chosen(&p, true),
            Some((Kind::Http, "h:1".into(), "HTTP_PROXY"))
        );
        assert!(p.warnings().is_empty());
        assert_eq!(chosen(&proxies(&[]), true), None);
        // An empty variable is unset, not an error.
        let p = proxies(&[("HTTPS_PROXY", " "), ("ALL_PROXY", "http://h:1")]);
        assert_eq!(
            chosen(&p, true),
            Some((Kind::Http, "h:1".into(), "ALL_PROXY"))
        );
        assert!(p.warnings().is_empty());
    }

    #[test]
    fn kinds_ports_and_credentials() {
        let s = Server::parse("socks5://user:p%40ss-word@[::1]:1081", "ALL_PROXY").unwrap();
        assert_eq!((s.kind(), s.host(), s.port()), (Kind::Socks5, "::1", 1081));
        assert_eq!((s.user(), s.password()), (Some("user"), Some("p@ss-word")));
        assert_eq!(s.describe(), "SOCKS5 proxy [::1]:1081");
        assert_eq!(
            Server::parse("socks://h", "x").unwrap().kind(),
            Kind::Socks5
        );
        assert_eq!(Server::parse("socks://h", "x").unwrap().port(), 1080);
        assert_eq!(
            Server::parse("SOCKS5H://h:1", "x").unwrap().kind(),
            Kind::Socks5h
        );
        assert_eq!(Server::parse("http://h", "x").unwrap().port(), 80);
        assert_eq!(Server::parse("https://h", "x").unwrap().kind(), Kind::Https);
        assert_eq!(
            Server::parse("socks4a://h", "x").unwrap().kind(),
            Kind::Socks4a
        );
        assert_eq!(
            Server::parse("h:3128", "x").unwrap().describe(),
            "HTTP proxy h:3128"
        );
    }

    #[test]
    fn an_unusable_variable_warns_by_name_and_the_next_one_is_tried() {
        let p = proxies(&[
            ("HTTPS_PROXY", "ftp://user:hunter22@h:1"),
            ("https_proxy", "http://user:hunter22@bad host:1"),
            ("ALL_PROXY", "http://h:notaport"),
            ("all_proxy", "http://ok:3128"),
            ("HTTP_PROXY", "http://plain:8080"),
        ]);
        assert_eq!(
            chosen(&p, true),
            Some((Kind::Http, "ok:3128".into(), "all_proxy"))
        );
        assert_eq!(
            chosen(&p, false),
            Some((Kind::Http, "plain:8080".into(), "HTTP_PROXY"))
        );
        let w = p.warnings();
        assert_eq!(w.len(), 3, "each unusable variable once: {w:?}");
        for (warning, var) in w.iter().zip(["HTTPS_PROXY", "https_proxy", "ALL_PROXY"]) {
            assert!(
                warning.starts_with(&format!("{var} is not a usable proxy URL")),
                "{warning}"
            );
            assert!(!warning.contains("hunter22"), "{warning}");
        }
        let p = proxies(&[("ALL_PROXY", "http://[::1")]);
        assert_eq!(chosen(&p, true), None);
        assert_eq!(chosen(&p, false), None);
        assert_eq!(p.warnings().len(), 1);
    }

    fn via(p: &Proxies, url: &str) -> bool {
        p.for_url(url).is_some()
    }

    #[test]
    fn no_proxy_forms() {
        let p = proxies(&[
            ("ALL_PROXY", "socks5://127.0.0.1:1080"),
            (
                "NO_PROXY",
                "localhost, .internal.example *.corp.test,::1 [fe80::1]:8080 \
                 10.*,192.168.0.0/16,fd00::/8,API.Example.com:8443",
            ),
        ]);
        assert!(p.warnings().is_empty(), "{:?}", p.warnings());
        assert!(!via(&p, "http://localhost:9/x"));
        assert!(!via(&p, "http://LOCALHOST./x"));
        assert!(via(&p, "http://localhost.evil.test/"));
        assert!(!via(&p, "https://a.internal.example/"));
        assert!(via(&p, "https://internal.example/"));
        assert!(via(&p, "https://xinternal.example/"));
        assert!(!via(&p, "https://b.a.corp.test/"));
        assert!(!via(&p, "http://[::1]:7/"));
        assert!(!via(&p, "http://[0:0:0:0:0:0:0:1]/"));
        assert!(!via(&p, "http://[fe80::1]:8080/"));
        assert!(via(&p, "http://[fe80::1]:8081/"));
        assert!(!via(&p, "http://10.1.2.3/"));
        assert!(!via(&p, "http://192.168.4.5:81/"));
        assert!(via(&p, "http://192.169.4.5/"));
        assert!(!via(&p, "ws://[fd12::5]/"));
        assert!(!via(&p, "https://api.example.com:8443/"));
        assert!(via(&p, "https://api.example.com/"));
        assert!(via(&p, "wss://api.example.com/"));
        assert!(!via(&p, "ws://api.example.com:8443/"));
        assert!(p.for_host("[::1]", 5, false).is_none());
        assert!(p.for_host("::1", 5, true).is_none());
        assert!(p.for_host("127.0.0.1", 5, true).is_some());
    }

    #[test]
    fn no_proxy_star_bypasses_everything_and_bad_entries_warn() {
        let p = proxies(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "*")]);
        assert!(!via(&p, "https://anything.example/"));
        let p = proxies(&[
            ("HTTPS_PROXY", "http://p:1"),
            ("NO_PROXY", "[::1,h:99999,http://x,ok.test,10.0.0.0/40"),
            ("no_proxy", "*"),
        ]);
        assert_eq!(p.warnings().len(), 4, "{:?}", p.warnings());
        assert!(
            p.warnings()
                .iter()
                .all(|w| w.starts_with("NO_PROXY: ignoring the entry"))
        );
        assert!(!via(&p, "https://ok.test/"));
        assert!(via(&p, "https://other.test/"));
    }

    #[test]
    fn an_unreadable_url_goes_through_the_proxy() {
        let p = proxies(&[("HTTP_PROXY", "http://p:1"), ("NO_PROXY", "*")]);
        assert!(via(&p, "http://bad host/"));
        assert!(!via(&proxies(&[]), "http://bad host/"));
    }
}
