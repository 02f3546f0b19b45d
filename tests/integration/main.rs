//! The integration tests: one test binary (`cargo test --test integration`), one module per
//! area, and the shared helpers and loopback fakes of `tests/support/` compiled once.
//!
//! Most modules drive the real `dcd` binary (`CARGO_BIN_EXE_dcd`) against the fakes; the few
//! library items some tests call directly are all named in `support/lib.rs`.
//!
//! Under nextest every test runs in a process of its own; under plain `cargo test` they are
//! threads of this one process. A test that needs process-wide state (an environment
//! variable the library reads, the peak RSS of its children) runs its body in a child
//! process of its own: see `support::in_own_process`.

mod account;
mod app_inputs;
mod architecture;
mod cloud;
mod confinement;
mod fake_cloud;
mod fake_realtime;
mod fault_soak;
mod files;
mod help_contract;
mod hostile_hosts;
mod hostile_inputs;
mod install;
mod list_artifacts;
mod output_seam;
mod parsers_never_panic;
mod plan;
mod proxies;
mod realtime_client;
mod realtime_conformance;
mod realtime_e2e;
mod realtime_proxy;
mod resize;
mod secrets_and_advice;
mod session_safety;
mod status_and_input;
mod status_watch;
mod stops;
mod tus_conformance;
mod upgrade;
mod upload;
mod workflows;
mod wrappers;

// The helpers live beside the other test assets (`tests/conformance/`, `tests/scripts/`) and
// are shared with the `fake-cloud` and `realtime-bench` examples.
#[path = "../support/mod.rs"]
mod support;
