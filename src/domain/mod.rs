//! The domain: what results, statuses, verdicts, devices and notices *are*, and the pure
//! rules over them. No I/O here: the API layer parses the server's JSON into these types,
//! the wait and the renderers consume them, and every rule has its unit tests beside it.
//!
//! - [`results`]: result rows, statuses and upload status, read leniently from JSON.
//! - [`verdict`]: when a run is complete, the newest try of each retry chain, the verdict.
//! - [`compat`]: the server's compatibility data; Maestro version, device, matrix and notice
//!   rules.
//! - [`environments`]: prod and dev — API, console and Supabase URLs, and how one is chosen.
//! - [`update`]: the update check: when it runs, which manifest, whether it is newer.

pub mod choice;
pub mod compat;
pub mod environments;
pub mod results;
pub mod update;
pub mod verdict;
