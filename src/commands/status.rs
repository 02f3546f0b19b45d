//! `dcd status`: an upload's state now, or with `--watch`, wait for it like `dcd cloud` does
//! — same loop, rendering, verdict and exit codes.

use super::wait::{self, Request};
use super::{Ctx, connect};
use crate::api::{ApiClient, ApiError, StatusQuery};
use crate::auth::AuthContext;
use crate::cli::args::{StatusArgs, UploadRef};
use crate::clock::STATUS_ATTEMPTS;
use crate::domain::results::UploadStatus;
use crate::exit::{CliError, Exit, signal};
use crate::net::diagnose;
use crate::output::Event;
use crate::render::{self, diagnosis, json};
use serde_json::{Map, Value, json};

pub fn run(args: &StatusArgs, ctx: &Ctx) -> Result<Exit, CliError> {
    // Auth first, so missing credentials are reported before argument mistakes.
    let (auth, client) = connect(&args.conn, ctx)?;
    let which = args.query()?;
    let status = fetch_status(&client, &which, ctx)?;
    if args.watch {
        return watch(args, ctx, &auth, &client, &status);
    }
    if ctx.json() {
        ctx.out.json(&json::status_doc(&status.raw));
    } else {
        let lines = render::status::upload_status(&status, ctx.out.style());
        ctx.out.emit(Event::Report(&lines));
    }
    Ok(Exit::Success)
}

/// `GET /uploads/status` with up to 5 attempts, `1 s × attempt` apart. Errors that retrying
/// cannot fix (4xx) end it at once. Retry notes go to stderr, never stdout.
fn fetch_status(
    client: &ApiClient,
    which: &UploadRef,
    ctx: &Ctx,
) -> Result<UploadStatus, CliError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (c, w) = (client.clone(), which.clone());
        let err = match signal::run(move || c.upload_status(query(&w)))? {
            Ok(s) => return Ok(s),
            Err(e) => e,
        };
        if err.is_client_class() || !err.is_transient() {
            return Err(CliError {
                json: Some(attempts_json(attempt, None)),
                ..CliError::new(err.to_string())
            });
        }
        if attempt >= STATUS_ATTEMPTS {
            let d = diagnose::diagnose(client.base_url(), &ctx.timings);
            let mut msg = format!("Failed to get upload status after {attempt} attempts: {err}");
            diagnosis::append(&mut msg, &d);
            return Err(CliError {
                json: Some(attempts_json(attempt, Some(diagnosis::to_json(&d)))),
                ..CliError::new(msg)
            });
        }
        let what = if matches!(err, ApiError::Network { .. } | ApiError::Timeout { .. }) {
            "Network error"
        } else {
            "Request failed"
        };
        ctx.out.warn(&format!(
            "{what} on attempt {attempt}/{STATUS_ATTEMPTS}. Retrying... ({err})"
        ));
        signal::sleep(ctx.timings.status_retry_base * attempt)?;
    }
}

fn query(which: &UploadRef) -> StatusQuery<'_> {
    match which {
        UploadRef::Id(id) => StatusQuery::UploadId(id),
        UploadRef::Name(n) => StatusQuery::Name(n),
    }
}

/// The extra members of the `--json` error document: `attempts`, `connectivityCheck`,
/// `tests`.
fn attempts_json(attempt: u32, check: Option<Value>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("attempts".into(), json!(attempt));
    if let Some(x) = check {
        m.insert("connectivityCheck".into(), x);
    }
    m.insert("tests".into(), json!([]));
    m
}

/// `--watch`: the shared wait, then the completed-run JSON (without flow details: status
/// did not plan the flows).
fn watch(
    args: &StatusArgs,
    ctx: &Ctx,
    auth: &AuthContext,
    client: &ApiClient,
    status: &UploadStatus,
) -> Result<Exit, CliError> {
    let done = wait::run(
        ctx,
        auth,
        client,
        &Request {
            upload_id: &status.upload_id,
            console_url: status.console_url.clone(),
            wait: args.wait,
        },
    )?;
    if ctx.json() {
        let doc = json::completed_run(
            done.verdict,
            &done.latest,
            &status.upload_id,
            &done.console_url,
            &json::NoFlowInfo,
            None,
        );
        ctx.out.json(&doc);
    }
    Ok(done.verdict.exit(false))
}
