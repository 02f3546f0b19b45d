//! Exit codes: the CI contract, in one place.
//!
//! `0` passed / superseded / `--async` submitted / shown, `1` CLI or infrastructure error
//! (including polling giving up and `--timeout`), `2` tests failed, `130`/`143`/`129`
//! interrupted by SIGINT/SIGTERM/SIGHUP (the run goes on in the cloud), `141` stdout closed
//! under us (`dcd … | head`), quietly, like a process killed by SIGPIPE. `--json-file` turns a
//! failed run's `2` into `0`. Every way out of every command — errors, verdicts and signals —
//! is an [`Exit`] value returned to `main`, so no early return picks a code of its own and
//! no thread calls `process::exit` behind the main flow's back. See `docs/exit-codes.md`.

pub mod signal;

pub use signal::Stop;

use std::fmt;

/// The process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Passed, superseded, `--async`, `--dry-run`, a status shown.
    Success,
    /// CLI, usage, network, API or auth error; polling gave up; `--timeout` expired; a
    /// failed write to stdout.
    Failure,
    /// The run's verdict is FAILED.
    TestsFailed,
    /// A signal or a closed stdout stopped the command.
    Stopped(Stop),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::TestsFailed => 2,
            Exit::Stopped(s) => s.code(),
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

/// An error that ends a command: a one-line (or short multi-line) message for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct CliError {
    pub message: String,
    pub exit: Exit,
    /// Extra members for the `--json` error document (e.g. `attempts` for `dcd status`).
    pub json: Option<serde_json::Map<String, serde_json::Value>>,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            exit: Exit::Failure,
            json: None,
        }
    }

    /// The command was stopped by `stop`. `hint` says how to re-attach when a run exists.
    /// A closed stdout ends quietly: there is nobody left to read a message.
    pub fn stopped(stop: Stop, hint: Option<&str>) -> CliError {
        let message = match stop {
            Stop::BrokenPipe => String::new(),
            s => match hint {
                Some(h) => format!("Interrupted ({}). {h}", s.name()),
                None => format!("Interrupted ({}).", s.name()),
            },
        };
        CliError {
            message,
            exit: Exit::Stopped(stop),
            json: None,
        }
    }

    /// Adds the re-attach hint to an interruption that does not carry one yet.
    pub fn with_hint(self, hint: &str) -> CliError {
        match self.exit {
            Exit::Stopped(s) if !self.message.contains(hint) => CliError::stopped(s, Some(hint)),
            _ => self,
        }
    }

    /// Nothing to print (a closed stdout).
    pub fn is_silent(&self) -> bool {
        self.exit == Exit::Stopped(Stop::BrokenPipe)
    }
}

impl From<Stop> for CliError {
    fn from(s: Stop) -> Self {
        CliError::stopped(s, None)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<String> for CliError {
    fn from(s: String) -> Self {
        CliError::new(s)
    }
}

impl From<&str> for CliError {
    fn from(s: &str) -> Self {
        CliError::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_contract() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Failure.code(), 1);
        assert_eq!(Exit::TestsFailed.code(), 2);
        assert_eq!(Exit::Stopped(Stop::Interrupt).code(), 130);
        assert_eq!(Exit::Stopped(Stop::Terminate).code(), 143);
        assert_eq!(Exit::Stopped(Stop::Hangup).code(), 129);
        assert_eq!(Exit::Stopped(Stop::BrokenPipe).code(), 141);
    }

    #[test]
    fn interruptions_carry_the_hint_once_and_a_closed_pipe_is_silent() {
        let e = CliError::from(Stop::Terminate).with_hint("Re-attach with: x");
        assert_eq!(e.message, "Interrupted (SIGTERM). Re-attach with: x");
        assert_eq!(e.clone().with_hint("Re-attach with: x"), e);
        assert!(CliError::from(Stop::BrokenPipe).is_silent());
        assert!(!CliError::new("x").with_hint("h").message.contains('h'));
    }
}
