//! The wait, shared by `dcd cloud` and `dcd status --watch` (DESIGN.md: same loop,
//! rendering, verdict and exit codes): realtime for logged-in users, the display, the poll
//! loop, then the final table, the verdict lines and the GitHub Actions extras.

use super::Ctx;
use crate::net::diagnose;
use crate::domain::results::ResultRow;
use crate::api::{ApiClient, ApiError, EtagCache};
use crate::domain::environments;
use crate::auth::{AuthContext, Mode};
use crate::clock::{Clock, RealClock};
use crate::exit::CliError;
use crate::render::{self, json, table};
use crate::term::out_line;
use crate::watch::display::{Display, Mode as DisplayMode};
use crate::domain::verdict::{self, Verdict};
use crate::watch::{self, Pace, WaitError};
use std::time::Duration;

/// What to wait for.
pub struct Request<'a> {
    pub upload_id: &'a str,
    /// The console link; computed from the API URL and the first row when `None`.
    pub console_url: Option<String>,
    pub quiet: bool,
    pub timeout_minutes: Option<f64>,
    /// `--realtime` (false with `--no-realtime`).
    pub realtime: bool,
}

/// A completed run.
pub struct Done {
    pub verdict: Verdict,
    /// Every row, retries included.
    pub rows: Vec<ResultRow>,
    /// The newest try of each retry chain.
    pub latest: Vec<ResultRow>,
    pub console_url: String,
}

fn reattach_hint(upload_id: &str) -> String {
    format!(
        "The tests keep running in the cloud. Re-attach with: dcd status --upload-id {upload_id} --watch"
    )
}

/// Waits for the upload, prints the final table and verdict (not under `--json`), and
/// returns the outcome for the caller's JSON and exit code.
pub fn run(
    ctx: &Ctx,
    auth: &AuthContext,
    client: &ApiClient,
    req: &Request<'_>,
) -> Result<Done, CliError> {
    let upload_id = req.upload_id.to_string();
    let timings = ctx.timings;
    let interval = match auth.mode {
        Mode::Bearer => timings.backstop_bearer,
        Mode::ApiKey => timings.backstop_api_key,
    };
    let timeout = req
        .timeout_minutes
        .map(|m| Duration::from_secs_f64(m * 60.0 * timings.scale));
    crate::debug!(
        "Watching upload {upload_id}: poll every {:.1}s{}",
        interval.as_secs_f64(),
        timeout
            .map(|t| format!(", timeout {:.1}s", t.as_secs_f64()))
            .unwrap_or_default()
    );
    let hint = reattach_hint(&upload_id);
    crate::term::signal::exit_on_interrupt(
        ctx.caps.err.yellow(&format!("\n⚠ Interrupted. {hint}")),
        ctx.json
            .then(|| json::pretty(&json::error_doc(&format!("Interrupted. {hint}"), None))),
    );

    let clock = RealClock::new();
    // The poke channel: the realtime subscription (logged-in users) pokes, the loop fetches.
    let (poke_tx, pokes) = crossbeam_channel::bounded::<()>(1);
    let realtime = if req.realtime && !crate::realtime::disabled_by_env() {
        crate::realtime::Realtime::start(auth, &upload_id, timings, poke_tx)
    } else {
        None
    };
    if realtime.is_some() {
        crate::debug!(
            "Realtime enabled; backstop poll every {}s",
            timings.unscale(interval).as_secs()
        );
    }
    let mode = DisplayMode::pick(&ctx.caps, ctx.json);
    let quiet = req.quiet;
    let connected = realtime.as_ref().map(|r| r.connected());
    let mut display = Display::new(mode, quiet, ctx.caps, timings, connected, clock.now());
    display.start();
    let mut fetcher = ResultsFetcher {
        client,
        upload_id: &upload_id,
        cache: EtagCache::default(),
    };
    let pace = Pace {
        interval,
        timings,
        timeout,
    };
    let waited = watch::wait(&pace, &mut fetcher, &clock, &pokes, &mut display);
    if let Some(r) = realtime {
        r.stop();
    }
    let rows = match waited {
        Ok(rows) => rows,
        Err(e) => {
            display.abort();
            return Err(CliError::new(wait_error_message(e, client, ctx, &hint)));
        }
    };
    display.finish(&rows);

    let latest = verdict::latest_tries(&rows);
    let v = verdict::verdict(&latest);
    let console_url = req.console_url.clone().unwrap_or_else(|| {
        environments::console_results_url(client.base_url(), &upload_id, rows.first().map(|r| r.id))
    });
    let superseded_by = verdict::superseding_upload_id(&latest);
    if !ctx.json {
        let s = ctx.caps.out;
        let gha = ctx.caps.github_actions;
        out_line("");
        if gha {
            out_line("::group::devicecloud.dev results");
        }
        for l in table::final_table(&rows, s) {
            out_line(&l);
        }
        if gha {
            out_line("::endgroup::");
            for l in table::gha_annotations(&latest) {
                out_line(&l);
            }
        }
        out_line("");
        for l in table::verdict_lines(v, &latest, &console_url, superseded_by.as_deref(), s) {
            out_line(&l);
        }
        out_line("");
    }
    if ctx.caps.github_actions {
        append_step_summary(&table::step_summary(v, &latest, &console_url), ctx);
    }
    Ok(Done {
        verdict: v,
        rows,
        latest,
        console_url,
    })
}

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
        ctx.warn(&format!("Could not write the GitHub step summary: {e}"));
    }
}

fn wait_error_message(e: WaitError, client: &ApiClient, ctx: &Ctx, hint: &str) -> String {
    match e {
        WaitError::TimedOut { after } => format!(
            "Timed out after {} waiting for results (--timeout). {hint}",
            render::time::elapsed(ctx.timings.unscale(after).as_secs())
        ),
        WaitError::Fatal(e) => format!("{e}\n{hint}"),
        WaitError::GaveUp { last, failures } => {
            let d = diagnose::diagnose(client.base_url(), &ctx.timings);
            let mut msg = format!("Unable to fetch results after {failures} attempts: {last}");
            super::status::append_diagnosis(&mut msg, &d);
            msg.push('\n');
            msg.push_str(hint);
            msg
        }
    }
}

/// The production [`watch::Fetch`]: `GET /results/{id}?view=summary` with the ETag cache.
struct ResultsFetcher<'a> {
    client: &'a ApiClient,
    upload_id: &'a str,
    cache: EtagCache,
}

impl watch::Fetch for ResultsFetcher<'_> {
    fn fetch(&mut self) -> Result<Vec<crate::domain::results::ResultRow>, ApiError> {
        self.client.results_summary(self.upload_id, &mut self.cache)
    }
}
