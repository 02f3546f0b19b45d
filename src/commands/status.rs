//! `dcd status`: an upload's state now (spec A.4), or with `--watch`, wait for it like
//! `dcd cloud` does (DESIGN.md) — same loop, rendering, verdict and exit codes.

use super::{Ctx, connect};
use crate::net::diagnose;
use crate::domain::results::UploadStatus;
use crate::api::{ApiClient, ApiError, StatusQuery};
use crate::auth::AuthContext;
use crate::cli::Parsed;
use crate::clock::{Clock, RealClock, STATUS_ATTEMPTS};
use crate::exit::{CliError, Exit};
use crate::render::{self, json};
use crate::term::{err_line, out_line};
use serde_json::{Map, Value, json};

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

pub(super) fn append_diagnosis(msg: &mut String, d: &diagnose::Diagnosis) {
    msg.push_str(&format!("\nChecked {}:", d.target));
    for l in d.lines() {
        msg.push_str(&format!("\n  {l}"));
    }
    if let Some(h) = d.hint() {
        msg.push_str(&format!("\n{h}"));
    }
}

/// `--watch`: the shared wait, then the completed-run JSON (without flow details: status
/// did not plan the flows).
fn watch(
    p: &Parsed,
    ctx: &Ctx,
    auth: &AuthContext,
    client: &ApiClient,
    status: &UploadStatus,
) -> Result<Exit, CliError> {
    let done = super::wait::run(
        ctx,
        auth,
        client,
        &super::wait::Request {
            upload_id: &status.upload_id,
            console_url: status.console_url.clone(),
            quiet: p.flag("quiet"),
            timeout_minutes: p.number("timeout"),
            realtime: p.flag("realtime"),
        },
    )?;
    if ctx.json {
        let doc = json::completed_run(
            done.verdict,
            &done.latest,
            &status.upload_id,
            &done.console_url,
            &json::NoFlowInfo,
            None,
        );
        out_line(&json::pretty(&doc));
    }
    Ok(done.verdict.exit(false))
}
