//! The wait, shared by `dcd cloud` and `dcd status --watch` — same loop, rendering, verdict
//! and exit codes — as three steps: start realtime for logged-in users ([`realtime`]), poll
//! until every test is done ([`poll`], around the loop in `crate::poll`), and show the
//! outcome: the final table, the verdict lines and the GitHub Actions extras ([`outcome`]).
//! No subcommand owns it.

mod outcome;
mod poll;
mod realtime;

use super::Ctx;
use crate::api::ApiClient;
use crate::auth::AuthContext;
use crate::cli::args::WaitArgs;
use crate::domain::results::ResultRow;
use crate::domain::verdict::Verdict;
use crate::exit::CliError;

/// What to wait for.
pub struct Request<'a> {
    pub upload_id: &'a str,
    /// The console link; computed from the API URL and the first row when `None`.
    pub console_url: Option<String>,
    pub wait: WaitArgs,
}

/// A completed run.
pub struct Outcome {
    pub verdict: Verdict,
    /// The newest try of each retry chain.
    pub latest: Vec<ResultRow>,
    pub console_url: String,
    /// The credentials as they are now (a session may have been refreshed while waiting).
    pub auth: AuthContext,
}

/// How to pick the run up again: it keeps going in the cloud whatever happens here.
pub fn reattach_hint(upload_id: &str) -> String {
    format!(
        "The tests keep running in the cloud. Re-attach with: dcd status --upload-id {upload_id} --watch"
    )
}

/// Waits for the upload and shows the outcome (not under `--json`); returns it for the
/// caller's JSON and exit code. Every way the wait can end early carries the re-attach hint.
pub fn run(
    ctx: &Ctx,
    auth: &AuthContext,
    client: &ApiClient,
    req: &Request<'_>,
) -> Result<Outcome, CliError> {
    // One slot: pokes that arrive before the next fetch coalesce into one.
    let (poke_tx, pokes) = crossbeam_channel::bounded::<()>(1);
    let subscription = realtime::start(ctx, auth, req, poke_tx);
    let rows = poll::run(ctx, auth, client, req, &pokes, subscription.as_ref());
    if let Some(s) = subscription {
        s.stop();
    }
    let (rows, auth) = rows?;
    Ok(outcome::show(ctx, client, req, rows, auth))
}
