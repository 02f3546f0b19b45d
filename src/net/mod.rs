//! The network underneath the API and realtime clients: TLS trust, the HTTP agent every
//! request uses (timeouts, proxy, no redirects), and the step-by-step diagnosis of an
//! unreachable host.

pub mod agent;
pub mod diagnose;
pub mod failure;
pub mod tls;

#[cfg(test)]
pub(crate) mod testserver;
