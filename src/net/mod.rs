//! The network underneath the API and realtime clients: TLS trust, the one proxy decision,
//! the HTTP agent every request uses (timeouts, proxy, no redirects), the one
//! minimum-progress rule of streamed transfers, host lookups with a deadline outside the
//! agent, the proxy tunnels of the realtime socket, and the step-by-step diagnosis of an
//! unreachable host.

pub mod agent;
pub mod diagnose;
pub mod dns;
pub mod failure;
pub mod proxy;
pub mod stall;
pub mod tls;
pub mod tunnel;

#[cfg(test)]
pub(crate) mod testserver;
