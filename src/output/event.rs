//! What a command tells its output: one variant per thing that happened. The sinks decide
//! what each looks like in their mode.

use crate::domain::results::ResultRow;
use crate::domain::verdict::Verdict;
use crate::render::cloud::{Job, PlanListing, Submitted};
pub use crate::render::upload::Direction;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Something the user may want to know.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A one-shot command's whole human report (already rendered by a pure renderer).
    Report(&'a [String]),
    /// An `ℹ` line.
    Info(&'a str),
    /// A dim line.
    Note(&'a str),
    /// `⚠ …` on stderr, in every mode.
    Warning(&'a str),
    /// Server notices (`dcd cloud`).
    Notices(&'a [Value]),
    /// The plan is made: the "Submitting new job" block.
    Planned(&'a Job),
    /// `--dry-run`: what would have run.
    DryRun(&'a PlanListing),
    /// The device-matrix estimate.
    Matrix(&'a Value),
    /// The run was created.
    Submitted(&'a Submitted),
    /// The wait begins; `realtime` is the subscription's connection state, when there is one.
    WaitStarted { realtime: Option<Arc<AtomicBool>> },
    /// A poll is starting.
    Fetching,
    /// A poll succeeded and not everything is done; the next backstop fetch is at `next_at`.
    Polled {
        rows: &'a [ResultRow],
        next_at: Duration,
    },
    /// A poll failed (the `failures`-th in a row); the next try is at `retry_at`.
    PollFailed {
        error: &'a str,
        failures: u32,
        retry_at: Duration,
    },
    /// Every test is done.
    Finished(&'a Finished<'a>),
    /// The wait ended without a verdict (error, timeout, interruption).
    WaitAborted,
    /// A transfer moved on: `done` of `total` bytes of `what` (a file, a target) went
    /// `direction`.
    Transfer {
        direction: Direction,
        what: &'a str,
        done: u64,
        total: u64,
    },
    /// A download landed: its success line (`spaced`: after a blank line).
    Downloaded { line: &'a str, spaced: bool },
}

/// A completed run, as the final table and verdict lines show it.
#[derive(Debug, Clone)]
pub struct Finished<'a> {
    /// Every row, retries included.
    pub rows: &'a [ResultRow],
    /// The newest try of each retry chain.
    pub latest: &'a [ResultRow],
    pub verdict: Verdict,
    pub console_url: &'a str,
    pub superseded_by: Option<&'a str>,
}
