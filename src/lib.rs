//! dcd: the devicecloud.dev command-line client.
//!
//! `main_entry` parses argv with the flag table in [`cli`], resolves auth ([`auth`]), and runs
//! one of [`commands`]. Waiting for a run is [`watch`]; what the user sees is [`render`]
//! (pure) and [`term`] (the terminal); the HTTP API is [`api`].

pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod debug;
pub mod exit;
pub mod render;
pub mod term;
pub mod watch;

pub fn main_entry() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
