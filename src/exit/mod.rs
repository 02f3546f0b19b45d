//! Exit codes: the CI contract, in one place.
//!
//! `0` passed / superseded / async / shown, `1` CLI or infrastructure error (including polling
//! giving up and `--timeout`), `2` tests failed, `130` interrupted while waiting. `--json-file`
//! turns a failed run's `2` into `0` (spec A.1). Every terminal path of every command goes
//! through [`Exit`] so no early return can pick a code of its own (the `gh run watch` bug).

use std::fmt;

/// The process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Passed, superseded, `--async`, `--dry-run`, a status shown.
    Success,
    /// CLI, usage, network, API or auth error; polling gave up; `--timeout` expired.
    Failure,
    /// The run's verdict is FAILED.
    TestsFailed,
    /// Ctrl-C while waiting.
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::TestsFailed => 2,
            Exit::Interrupted => 130,
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
        assert_eq!(Exit::Interrupted.code(), 130);
    }
}
