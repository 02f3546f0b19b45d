//! The one HTTP agent configuration: every request dcd makes — API calls, storage
//! transfers, the diagnosis probe — gets the same timeouts, TLS trust, proxy choice and
//! redirect policy from here.

use super::proxy::{self, Server};
use crate::clock::Timings;

/// `dcd/<version> (rust; <os> <arch>)`.
pub fn user_agent() -> String {
    format!(
        "dcd/{} (rust; {} {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The agent config every dcd HTTP call uses: timeouts, TLS roots, the given proxy (the
/// decision of [`proxy::Proxies::for_url`] for the URLs it will fetch), no status-as-error,
/// and no redirects (ureq would forward `x-app-api-key` to another host). `for_url` says what
/// it will fetch: the trust store is loaded only for an `https://` URL, so a command against
/// a plain-HTTP API never reads the system's certificates.
pub fn api_agent(timings: &Timings, proxy: Option<&Server>, for_url: &str) -> ureq::Agent {
    let config = builder(timings, proxy, is_https(for_url))
        .timeout_global(Some(timings.http_request))
        .accept("application/json")
        .build();
    with_resolver(config)
}

/// The send buffer of storage transfers.
const TRANSFER_WRITE_BUFFER: usize = 1 << 20;

/// The agent for uploads to storage URLs (TUS, Backblaze): the same config without an
/// overall deadline (a large upload takes what it takes) — connect, read and write each
/// still time out — and the environment's proxy for `url`.
pub fn transfer_agent(timings: &Timings, url: &str) -> ureq::Agent {
    let proxy = proxy::env().for_url(url);
    if let Some(p) = proxy {
        crate::debug!("{} for {}", p.describe(), host_of(url));
    }
    let config = builder(timings, proxy, is_https(url))
        .timeout_per_write(Some(timings.http_request))
        // Large writes: a 6 MiB chunk goes out in 1 MiB sends, not 48 of ureq's 128 KiB.
        .output_buffer_size(TRANSFER_WRITE_BUFFER)
        .build();
    with_resolver(config)
}

fn with_resolver(config: ureq::config::Config) -> ureq::Agent {
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        Resolver::default(),
    )
}

/// How long a host's addresses are reused before they are looked up again.
const RESOLVED_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// Host name lookups for the agents. ureq's own resolver asks the system before every
/// request — pooled connection or not — and, since every dcd request has a deadline, on a
/// new thread each time: a wait polling for hours made a thread and a lookup per poll. This
/// one answers an IP address at once and keeps a host's addresses for [`RESOLVED_FOR`]
/// (ureq's resolver, deadline and all, does the lookups).
#[derive(Debug, Default)]
struct Resolver {
    system: ureq::unversioned::resolver::DefaultResolver,
    known: std::sync::Mutex<
        Vec<(
            String,
            std::time::Instant,
            ureq::unversioned::resolver::ResolvedSocketAddrs,
        )>,
    >,
}

impl ureq::unversioned::resolver::Resolver for Resolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or("");
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<std::net::IpAddr>() {
            let mut addrs = self.empty();
            addrs.push(std::net::SocketAddr::new(ip, port));
            return Ok(addrs);
        }
        let key = format!("{host}:{port}");
        let now = std::time::Instant::now();
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.retain(|(_, at, _)| now.duration_since(*at) < RESOLVED_FOR);
        if let Some((_, _, addrs)) = known.iter().find(|(k, _, _)| *k == key) {
            return Ok(addrs.clone());
        }
        drop(known);
        let addrs = self.system.resolve(uri, config, timeout)?;
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.push((key, now, addrs.clone()));
        Ok(addrs)
    }
}

/// Whether `url` needs TLS (and so the trust store).
pub fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

fn builder(
    timings: &Timings,
    proxy: Option<&Server>,
    https: bool,
) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    let tls = if https {
        super::tls::ureq_tls_config()
    } else {
        super::tls::ureq_tls_config_without_roots()
    };
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_connect(Some(timings.http_connect))
        .timeout_per_read(Some(timings.http_request))
        .proxy(proxy.map(Server::ureq))
        .tls_config(tls)
        .user_agent(user_agent())
}

/// The host (and port, if any) of a URL, for messages.
pub fn host_of(url: &str) -> String {
    url.parse::<ureq::http::Uri>()
        .ok()
        .and_then(|u| {
            u.authority()
                .map(|a| a.as_str().rsplit('@').next().unwrap_or("").to_string())
        })
        .unwrap_or_else(|| url.to_string())
}
