//! The run's results, the last step of `dcd cloud`: `--async` reports them pending right
//! after the submission; otherwise the shared wait, the downloads (also after a FAILED
//! verdict; their failures only warn), the `--json-file` and the `--json` document, and the
//! exit code of the verdict.

use super::devices::Checked;
use super::planning::Planned;
use super::preflight::Connected;
use super::submit::Run;
use crate::cli::args::CloudArgs;
use crate::commands::Ctx;
use crate::commands::wait::{self, Request};
use crate::domain::verdict::Verdict;
use crate::exit::{CliError, Exit};
use crate::output::Event;
use crate::render::json as jsonr;
use serde_json::{Value, json};
use std::path::PathBuf;

/// `--async`: the run's JSON with every test PENDING; exit 0.
pub fn pending(
    args: &CloudArgs,
    ctx: &Ctx,
    run: &Run,
    checked: &Checked,
    planned: &Planned,
) -> Result<Exit, CliError> {
    // The document is built only when someone reads it (for thousands of flows it is
    // megabytes).
    if ctx.json() || args.json_file.is_some() {
        let tests: Vec<Value> = run
            .rows
            .iter()
            .map(|r| jsonr::test_entry(r, planned.info(), false))
            .collect();
        let doc = json!({
            "consoleUrl": run.console_url,
            "status": "PENDING",
            "tests": tests,
            "uploadId": run.upload_id,
            "notices": checked.notices,
        });
        write_json_file(args, ctx, &run.upload_id, &doc, None);
        if ctx.json() {
            ctx.out.json(&doc);
        }
    }
    if !ctx.json() {
        ctx.out.emit(Event::Info(
            "Not waiting for results as async flag is set to true",
        ));
    }
    Ok(Exit::Success)
}

/// The wait, the downloads, the JSON, the verdict's exit code.
pub fn wait_and_download(
    args: &CloudArgs,
    ctx: &Ctx,
    conn: &Connected,
    run: &Run,
    checked: &Checked,
    planned: &Planned,
) -> Result<Exit, CliError> {
    if ctx.out.human() {
        ctx.out.emit(Event::Report(&[String::new()]));
    }
    let done = wait::run(
        ctx,
        &conn.auth,
        &conn.client,
        &Request {
            upload_id: &run.upload_id,
            console_url: Some(run.console_url.clone()),
            wait: args.wait,
        },
    )?;
    if !args.downloads.is_empty() {
        fresh_for_downloads(ctx, conn, done.auth.clone());
        crate::report::download_after_run(&conn.client, &run.upload_id, &args.downloads, &ctx.out)
            .map_err(|stop| CliError::stopped(stop, None))?;
    }
    let notices = (done.verdict != Verdict::Failed).then(|| checked.notices.clone());
    let doc = jsonr::completed_run(
        done.verdict,
        &done.latest,
        &run.upload_id,
        &done.console_url,
        planned.info(),
        notices,
    );
    let written = write_json_file(args, ctx, &run.upload_id, &doc, Some(done.verdict));
    if ctx.json() {
        ctx.out.json(&doc);
    }
    Ok(done.verdict.exit(written))
}

/// A login session that expires within a minute is refreshed before the downloads; if it
/// cannot be, the downloads try with what there is (their failures only warn).
fn fresh_for_downloads(ctx: &Ctx, conn: &Connected, mut auth: crate::auth::AuthContext) {
    use crate::auth::refresh::{RefreshError, refresh_if_expiring};
    let mut warn = |w: String| ctx.out.warn(&w);
    match refresh_if_expiring(
        &mut auth,
        &ctx.timings,
        crate::auth::unix_now_ms(),
        &mut warn,
    ) {
        Ok(true) => conn.client.set_auth_headers(auth.headers),
        // The downloads see the stop themselves.
        Ok(false) | Err(RefreshError::Stopped(_)) => {}
        Err(RefreshError::Definitive(m)) => ctx.out.warn(&m),
        Err(e) => ctx
            .out
            .warn(&format!("Could not refresh the session: {e}.")),
    }
}

/// `--json-file`: `--json-file-name`, else `<uploadId>_dcd.json` (the id reduced to a safe
/// file name); parent directories are created; written through the one file writer, so a
/// failed write leaves the previous file (or none), never a part. Returns whether the file
/// was written: only then does a FAILED verdict exit 0. A failure is a warning naming the
/// file, and, after a FAILED verdict, saying that the exit code stays 2 (docs/exit-codes.md).
fn write_json_file(
    args: &CloudArgs,
    ctx: &Ctx,
    upload_id: &str,
    doc: &Value,
    verdict: Option<Verdict>,
) -> bool {
    let Some(jf) = &args.json_file else {
        return false;
    };
    let path = jf.name.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}_dcd.json",
            crate::sanitize::safe_name(upload_id)
        ))
    });
    let written = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|_| {
            crate::fsio::write_file(&path, (jsonr::pretty(doc) + "\n").as_bytes(), 0o644)
        });
    let shown = crate::sanitize::clean(&path.to_string_lossy());
    match written {
        Ok(()) => {
            ctx.out
                .emit(Event::Note(&format!("JSON output written to {shown}")));
            true
        }
        Err(e) => {
            let stays = match verdict {
                Some(v @ Verdict::Failed) => format!(
                    "; exiting {} ({}), as no file carries the verdict",
                    v.exit(false).code(),
                    v.as_str()
                ),
                _ => String::new(),
            };
            ctx.out.warn(&format!(
                "Could not write the JSON file {shown}: {e}{stays}"
            ));
            false
        }
    }
}
