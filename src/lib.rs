//! dcd: the devicecloud.dev command-line client.
//!
//! Data flows one way, and so do the imports (a test checks it): argv → [`cli`] (the flag
//! table and the typed options) → [`auth`] → [`commands`] (each a short list of steps) →
//! [`upload`], [`report`] → [`app`] (the app binary: inputs and metadata) → [`api`], [`realtime`] → [`plan`], [`poll`] (the poll loop of the wait) →
//! [`output`] (one handle, one sink per mode) → [`term`] → [`render`] (pure text) →
//! [`net`] → [`domain`] (types and pure rules) → [`clock`], [`debug`], [`encoding`],
//! [`fsio`] (the one file writer and bounded reader) →
//! [`exit`] (the exit codes and the stop signals). See `docs/README.md`.

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
pub(crate) mod poll;
pub mod realtime;
pub mod render;
pub(crate) mod report;
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
    finish(exit).into()
}

/// The last word: a command that succeeded but could not write its output failed.
fn finish(exit: Exit) -> Exit {
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
