//! The command line: one table of flag definitions per command, and everything driven by it.
//!
//! TS dcd's flags are a compatibility contract (CI scripts spell them in every way citty
//! allowed), so they are declared once, as data, in [`defs`]; the parser ([`parse()`]),
//! the value validation and `--help` ([`help`]) all read that table, and meta-tests walk
//! it. Parsing is pure: it reads no environment and does no I/O; the dispatcher turns a
//! [`Parsed`] into a running command.
//!
//! - [`flags`]: the vocabulary (`FlagDef`, `Group`, `CommandDef`).
//! - [`defs`]: the tables (every command, every flag, shared groups).
//! - [`parse`](mod@parse): argv → [`Invocation`], and the [`Parsed`] getters.
//! - [`help`]: help text generated from the table.
//! - [`suggest`]: "did you mean" for unknown flags and commands.

pub mod args;
pub mod defs;
pub mod flags;
pub mod help;
pub mod parse;
pub mod suggest;

pub use args::{Command, Common, Options};
pub use flags::{CommandDef, FlagDef, Group, Kind, Multi, Positional, Removed};
pub use parse::{Parsed, UsageError};

use parse::Raw;
use std::ffi::OsString;

/// Every command, in root-help order (including those not available yet).
pub fn commands() -> &'static [CommandDef] {
    defs::COMMANDS
}

/// What the process should do, as decided by argv alone.
#[derive(Debug)]
pub enum Invocation {
    /// Print this help text to stdout and exit 0.
    Help(String),
    /// Print the bare version string and exit 0.
    Version,
    /// Run a command with these typed options.
    Run(Options),
}

/// argv → what to do: help, the version, or a command with its typed options.
///
/// A syntax mistake, or a value the typed options refuse, is a [`UsageError`].
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Invocation, UsageError> {
    match parse::parse_raw(args)? {
        Raw::Help(text) => Ok(Invocation::Help(text)),
        Raw::Version => Ok(Invocation::Version),
        Raw::Run(p) => args::options(&p)
            .map(Invocation::Run)
            .map_err(|e| UsageError {
                message: e.message,
                command: Some(p.command.name),
                json: p.command.flag("json").is_some() && p.flag("json"),
                help_hint: false,
            }),
    }
}
