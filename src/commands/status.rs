//! `dcd status`: an upload's state now (spec A.4), or with `--watch`, wait for it like
//! `dcd cloud` does (DESIGN.md) — same loop, rendering, verdict and exit codes.

use super::{Ctx, connect};
use crate::api::diagnose;
use crate::api::dto::UploadStatus;
use crate::api::{ApiClient, ApiError, EtagCache, StatusQuery};
use crate::auth::environments;
use crate::auth::{AuthContext, Mode};
use crate::cli::Parsed;
use crate::clock::{Clock, RealClock, STATUS_ATTEMPTS};
use crate::exit::{CliError, Exit};
use crate::render::{self, json, table};
use crate::term::{err_line, out_line};
use crate::watch::display::{Display, Mode as DisplayMode};
use crate::watch::{self, Pace, WaitError, verdict};
use serde_json::{Map, Value, json};
use std::time::Duration;

pub fn run(p: &Parsed, ctx: &Ctx) -> Result<Exit, CliError> {
    // Auth first, so missing credentials are reported before argument mistakes (spec A.4).
    let (auth, client) = connect(p, ctx)?;
    let query = match (p.str("upload-id"), p.str("name")) {
        (Some(_), Some(_)) => {
            return Err(CliError::new(
                "--upload-id and --name are mutually exclusive: pass one of them",
            ));
        }
        (Some(id), None) if !id.trim().is_empty() => StatusQuery::UploadId(id.trim()),
        (None, Some(n)) if !n.trim().is_empty() => StatusQuery::Name(n.trim()),
        _ => {
            return Err(CliError::new(
                "Either --name or --upload-id must be provided",
            ));
        }
    };
    let status = fetch_status(&client, query, ctx)?;
    if p.flag("watch") {
        return watch(p, ctx, &auth, &client, &status);
    }
    if ctx.json {
        out_line(&json::pretty(&json::status_doc(&status.raw)));
    } else {
        for l in render::status::upload_status(&status, ctx.caps.out) {
            out_line(&l);
        }
    }
    Ok(Exit::Success)
}

/// `GET /uploads/status` with up to 5 attempts, `1 s × attempt` apart (spec A.4). Errors that
/// retrying cannot fix (4xx) end it at once. Retry notes go to stderr, never stdout.
fn fetch_status(
    client: &ApiClient,
    query: StatusQuery<'_>,
    ctx: &Ctx,
) -> Result<UploadStatus, CliError> {
    let clock = RealClock::new();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let err = match client.upload_status(query) {
            Ok(s) => return Ok(s),
            Err(e) => e,
        };
        let attempts_json = |extra: Option<Value>| {
            let mut m = Map::new();
            m.insert("attempts".into(), json!(attempt));
            if let Some(x) = extra {
                m.insert("connectivityCheck".into(), x);
            }
            m.insert("tests".into(), json!([]));
            m
        };
        if err.is_client_class() || !err.is_transient() {
            return Err(CliError {
                json: Some(attempts_json(None)),
                ..CliError::new(err.to_string())
            });
        }
        if attempt >= STATUS_ATTEMPTS {
            let d = diagnose::diagnose(client.base_url(), &ctx.timings);
            let mut msg = format!("Failed to get upload status after {attempt} attempts: {err}");
            append_diagnosis(&mut msg, &d);
            return Err(CliError {
                json: Some(attempts_json(Some(d.to_json()))),
                ..CliError::new(msg)
            });
        }
        let what = if matches!(err, ApiError::Network { .. } | ApiError::Timeout { .. }) {
            "Network error"
        } else {
            "Request failed"
        };
        err_line(&ctx.caps.err.yellow(&format!(
            "⚠ {what} on attempt {attempt}/{STATUS_ATTEMPTS}. Retrying... ({err})"
        )));
        clock.sleep_until(clock.now() + ctx.timings.status_retry_base * attempt);
    }
}

fn append_diagnosis(msg: &mut String, d: &diagnose::Diagnosis) {
    msg.push_str(&format!("\nChecked {}:", d.target));
    for l in d.lines() {
        msg.push_str(&format!("\n  {l}"));
    }
    if let Some(h) = d.hint() {
        msg.push_str(&format!("\n{h}"));
    }
}

fn reattach_hint(upload_id: &str) -> String {
    format!(
        "The tests keep running in the cloud. Re-attach with: dcd status --upload-id {upload_id} --watch"
    )
}

/// `--watch`: the wait loop, then the final table and verdict.
fn watch(
    p: &Parsed,
    ctx: &Ctx,
    auth: &AuthContext,
    client: &ApiClient,
    status: &UploadStatus,
) -> Result<Exit, CliError> {
    let upload_id = status.upload_id.clone();
    let timings = ctx.timings;
    let interval = match auth.mode {
        Mode::Bearer => timings.backstop_bearer,
        Mode::ApiKey => timings.backstop_api_key,
    };
    let timeout = p
        .number("timeout")
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
    let realtime = if p.flag("realtime") && !crate::realtime::disabled_by_env() {
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
    let quiet = p.flag("quiet");
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
    let console_url = status.console_url.clone().unwrap_or_else(|| {
        environments::console_results_url(client.base_url(), &upload_id, rows.first().map(|r| r.id))
    });
    let superseded_by = verdict::superseding_upload_id(&latest);
    if ctx.json {
        let doc = json::completed_run(
            v,
            &latest,
            &upload_id,
            &console_url,
            &json::NoFlowInfo,
            None,
        );
        out_line(&json::pretty(&doc));
    } else {
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
    Ok(v.exit(false))
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
            append_diagnosis(&mut msg, &d);
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
    fn fetch(&mut self) -> Result<Vec<crate::api::dto::ResultRow>, ApiError> {
        self.client.results_summary(self.upload_id, &mut self.cache)
    }
}
