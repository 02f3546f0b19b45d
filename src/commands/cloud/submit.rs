//! Step 4 of `dcd cloud`: the submission — the flow zip, the payload, the device-matrix
//! estimate, the upload to storage and `submitFlowTest` (or the multipart fallback when the
//! API lacks the client-direct endpoints), then the submitted block.
//!
//! Building and uploading the zip may be cut off by a signal at any point: nothing exists on
//! the server yet. The submitting POST may not: once sent it may have started the run, so a
//! signal then is held until the answer arrives, and the command exits with the upload id
//! and the re-attach hint instead of leaving the user with a run they cannot find.

use super::devices::Checked;
use super::payload::{self, PayloadInput};
use super::planning::Planned;
use super::preflight::Connected;
use crate::api::ApiClient;
use crate::cli::args::CloudArgs;
use crate::commands::Ctx;
use crate::commands::wait::reattach_hint;
use crate::domain::environments;
use crate::domain::results::{Created, ResultRow};
use crate::exit::{CliError, Stop, signal};
use crate::output::Event;
use crate::render::cloud::Submitted;
use crate::sanitize::clean;
use crate::upload::UploadError;
use serde_json::{Map, Value};

/// A created run.
pub struct Run {
    pub upload_id: String,
    pub console_url: String,
    pub rows: Vec<ResultRow>,
}

pub fn submit(
    args: &CloudArgs,
    ctx: &Ctx,
    conn: &Connected,
    checked: &Checked,
    planned: &Planned,
    binary_id: &str,
) -> Result<Run, CliError> {
    let plan = std::sync::Arc::clone(&planned.plan);
    let bundle =
        signal::run(move || crate::plan::bundle(&plan))?.map_err(|e| CliError::new(e.0))?;
    let fields = payload::build(&input(
        args,
        checked,
        planned,
        bundle.sha256.clone(),
        binary_id,
    ));
    if checked.matrix.is_some() {
        let c = conn.client.clone();
        let f = fields.clone();
        let est = signal::run(move || c.estimate_matrix(&f))?
            .map_err(|e| CliError::new(e.to_string()))?;
        let Some(est) = est else {
            return Err(CliError::new(
                "This API does not support device matrices (no /uploads/estimateMatrix); refusing to submit, as the matrix would be ignored.",
            ));
        };
        ctx.out.emit(Event::Matrix(&est));
    }
    let (response, held) = send(ctx, &conn.client, fields, bundle.zip)?;
    let message = response.message.clone().unwrap_or_default();
    let run = created(&conn.client, response)?;
    let names = run.rows.iter().map(|r| r.test_file_name.clone()).collect();
    ctx.out.emit(Event::Submitted(&Submitted {
        message,
        names,
        console_url: run.console_url.clone(),
        upload_id: run.upload_id.clone(),
    }));
    match held {
        Some(stop) => Err(CliError::stopped(
            stop,
            Some(&reattach_hint(&run.upload_id)),
        )),
        None => Ok(run),
    }
}

/// Everything the payload is made of.
fn input(
    args: &CloudArgs,
    checked: &Checked,
    planned: &Planned,
    sha: String,
    binary_id: &str,
) -> PayloadInput {
    let (plan, root) = (&planned.plan, &planned.root);
    let d = &args.devices;
    PayloadInput {
        sha,
        app_binary_id: binary_id.to_string(),
        test_file_names: plan.test_file_names(root),
        flow_metadata: plan.flow_metadata_text(root),
        test_file_overrides: plan.overrides_json(root),
        sequential_flows: plan.sequential_flows(root),
        env: args.env.clone(),
        metadata: args.metadata.clone(),
        device_matrix: checked.matrix.clone(),
        config: payload::config(args, checked, plan),
        android_api_level: d.android_api_level.clone(),
        android_device: d.android_device.clone(),
        ios_device: d.ios_device.clone(),
        ios_version: d.ios_version.clone(),
        name: args.name.clone(),
        runner_type: args.execution.runner_type.name().to_string(),
        workspace_config: plan.workspace_config.clone(),
    }
}

/// Uploads the zip and submits. Returns the answer, and the stop that arrived while the
/// submitting POST was in flight (held until it answered), if any.
fn send(
    ctx: &Ctx,
    client: &ApiClient,
    fields: Map<String, Value>,
    zip: Vec<u8>,
) -> Result<(Created, Option<Stop>), CliError> {
    // Shared with the upload's thread, and the payload lent to the posting thread and handed
    // back: neither is copied (for thousands of flows the payload is megabytes).
    let zip = std::sync::Arc::new(zip);
    let (c, t, z) = (client.clone(), ctx.timings, zip.clone());
    let stored = signal::run(move || crate::upload::upload_flow_zip(&c, &z, &t))?;
    let c = client.clone();
    let (direct, fields) = match stored {
        Ok(stored) => {
            let mut body = fields;
            let mut added = Vec::new();
            if let Value::Object(s) = stored.to_json() {
                added = s
                    .keys()
                    .filter(|k| !body.contains_key(*k))
                    .cloned()
                    .collect();
                body.extend(s);
            }
            let ((answer, mut body), held) = post_to_end(ctx, move || {
                let answer = c.submit_flow_test(&body).map_err(UploadError::Api);
                (answer, body)
            });
            for k in &added {
                body.shift_remove(k);
            }
            ((answer, held), body)
        }
        Err(e) => ((Err(e), None), fields),
    };
    match direct {
        (Ok(v), held) => Ok((v, held)),
        (Err(UploadError::Api(e)), None) if matches!(e.status(), Some(404 | 405)) => {
            crate::debug!(
                "client-direct submission not available (404/405); using POST /uploads/flow"
            );
            let boundary = format!(
                "dcd{}",
                crate::encoding::hex(&crate::auth::unix_now().to_be_bytes())
            );
            let (ct, body) = payload::multipart(&fields, &zip, &boundary);
            let c = client.clone();
            match post_to_end(ctx, move || c.submit_multipart(&ct, &body)) {
                (Ok(v), held) => Ok((v, held)),
                (Err(e), held) => Err(failed(CliError::new(e.to_string()), held)),
            }
        }
        (Err(UploadError::Api(e)), held) => Err(failed(CliError::new(e.to_string()), held)),
        (Err(UploadError::Failed(e)), held) => Err(failed(e, held)),
    }
}

/// The submitting POST, finished even through a signal.
fn post_to_end<T: Send + 'static>(
    ctx: &Ctx,
    post: impl FnOnce() -> T + Send + 'static,
) -> (T, Option<Stop>) {
    crate::commands::post::run_to_end(
        ctx,
        "Finishing the submission: it may already have reached the server. dcd exits as soon as it answers.",
        post,
    )
}

/// A submission that failed while a stop was held still exits with the stop's code.
fn failed(e: CliError, held: Option<Stop>) -> CliError {
    match held {
        Some(stop) => CliError {
            message: format!("{} (interrupted by {})", e.message, stop.name()),
            ..CliError::stopped(stop, None)
        },
        None => e,
    }
}

/// The created run from the submission's answer; none created is an error.
fn created(client: &ApiClient, response: Created) -> Result<Run, CliError> {
    let Created {
        message,
        upload_id,
        rows,
    } = response;
    let Some(upload_id) = upload_id.filter(|_| !rows.is_empty()) else {
        return Err(CliError::new(format!(
            "No tests created: {}",
            clean(message.as_deref().unwrap_or(""))
        )));
    };
    let console_url = environments::console_results_url(
        client.base_url(),
        &upload_id,
        rows.first().map(|r| r.id),
    );
    Ok(Run {
        upload_id,
        console_url,
        rows,
    })
}
