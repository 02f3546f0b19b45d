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
pub use parse::{Invocation, Parsed, UsageError, parse};

/// Every command, in root-help order (including those not available yet).
pub fn commands() -> &'static [CommandDef] {
    defs::COMMANDS
}
