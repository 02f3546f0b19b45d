//! dcd: the devicecloud.dev command-line client.
//!
//! Data flows one way: argv → [`cli`] (the flag table and the typed options) → [`auth`] (the
//! API key or the session) → [`commands`] (each a short list of steps) → [`api`],
//! [`realtime`] → [`poll`] (the wait's poll loop) → [`output`] (one handle, one sink per mode) →
//! [`render`] (pure text) → the exit code ([`exit`]).
//!
//! The imports follow one order, top first; a module uses only modules after its own layer
//! (`tests/integration/architecture.rs` enforces it, and that no folder holds an import
//! cycle): `main` → `lib` (the entry: argv to `cli`, the typed options to a command) →
//! [`commands`] → [`cli`] → [`auth`] → [`upload`], [`report`] → [`app`] → [`api`],
//! [`realtime`] → [`plan`], [`poll`] → [`output`] → [`term`] → [`render`] → [`net`] →
//! [`domain`] (types and pure rules) → [`debug`] → the leaves [`clock`], [`encoding`],
//! [`fsio`] (the one file writer and bounded reader), [`sanitize`] (the one
//! sanitiser) → [`exit`] (the exit codes and the stop signals) → [`platform`] (what differs
//! between Unix and Windows). See `docs/architecture.md`.

// No function of the program is longer than 80 lines (the threshold is in clippy.toml);
// tests are exempt.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub(crate) mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub(crate) mod commands;
pub(crate) mod debug;
pub mod domain;
pub(crate) mod encoding;
pub(crate) mod exit;
pub(crate) mod fsio;
pub(crate) mod net;
pub(crate) mod output;
pub mod plan;
pub(crate) mod platform;
pub(crate) mod poll;
pub mod realtime;
pub mod render;
pub(crate) mod report;
pub mod sanitize;
pub mod term;
pub mod upload;

use exit::{CliError, Exit};

/// The whole program: argv in, exit code out. Errors a user or a server can cause end here
/// as one clear message and exit 1, never as a panic; signals end here too.
pub fn main_entry() -> std::process::ExitCode {
    net::tls::install_provider();
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let exit = match cli::parse(args) {
        Ok(cli::Invocation::Help(text)) => {
            term::out_line(text.trim_end());
            Exit::Success
        }
        Ok(cli::Invocation::Version) => {
            term::out_line(env!("CARGO_PKG_VERSION"));
            Exit::Success
        }
        Ok(cli::Invocation::Run(opts)) => commands::run(&opts),
        Err(usage) => {
            let mut msg = usage.message.clone();
            if usage.help_hint && !msg.contains("--help") {
                let cmd = usage.command.map(|c| format!(" {c}")).unwrap_or_default();
                msg.push_str(&format!("\nRun `dcd{cmd} --help` for usage."));
            }
            let caps = term::Caps::detect(term::ColorChoice::Auto);
            output::report_error(&CliError::new(msg), usage.json, &caps);
            Exit::Failure
        }
    };
    last_word(exit).into()
}

/// The last word: a command that succeeded but could not write its output failed.
fn last_word(exit: Exit) -> Exit {
    fsio::remove_leftovers();
    match term::stdout_failure() {
        Some(why) => {
            term::err_line(&format!("✗ Error: cannot write to stdout: {why}"));
            if exit == Exit::Success {
                Exit::Failure
            } else {
                exit
            }
        }
        None => exit,
    }
}
