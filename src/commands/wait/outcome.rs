//! The last step of the wait: the verdict over the newest try of each retry chain, the
//! final table and verdict lines (through the output), and the GitHub Actions step summary.

use super::{Outcome, Request};
use crate::api::ApiClient;
use crate::auth::AuthContext;
use crate::commands::Ctx;
use crate::domain::environments;
use crate::domain::results::ResultRow;
use crate::domain::verdict;
use crate::output::Event;
use crate::output::event::Finished;
use crate::render::table;

pub fn show(
    ctx: &Ctx,
    client: &ApiClient,
    req: &Request<'_>,
    rows: Vec<ResultRow>,
    auth: AuthContext,
) -> Outcome {
    let latest = verdict::latest_tries(&rows);
    let v = verdict::verdict(&latest);
    let console_url = req.console_url.clone().unwrap_or_else(|| {
        environments::console_results_url(
            client.base_url(),
            req.upload_id,
            rows.first().map(|r| r.id),
        )
    });
    let superseded_by = verdict::superseding_upload_id(&latest);
    ctx.out.emit(Event::Finished(&Finished {
        rows: &rows,
        latest: &latest,
        verdict: v,
        console_url: &console_url,
        superseded_by: superseded_by.as_deref(),
    }));
    if ctx.out.caps().github_actions {
        append_step_summary(&table::step_summary(v, &latest, &console_url), ctx);
    }
    Outcome {
        verdict: v,
        latest,
        console_url,
        auth,
    }
}

/// Appends the Markdown summary to `$GITHUB_STEP_SUMMARY`; a failure is a warning.
fn append_step_summary(md: &str, ctx: &Ctx) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    use std::io::Write;
    let r = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| f.write_all(md.as_bytes()));
    if let Err(e) = r {
        ctx.out
            .warn(&format!("Could not write the GitHub step summary: {e}"));
    }
}
