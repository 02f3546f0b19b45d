//! `dcd cloud`: plan the flows, submit the run, wait, download the results (spec A.2).
//!
//! The order follows the TypeScript CLI's processing order, so errors surface at the same
//! point: flags, auth, compatibility data, Maestro version, app and flows, device
//! validation, notices, the plan, the "Submitting new job" block, `--dry-run`, the flow zip
//! upload and `submitFlowTest` (multipart fallback on 404/405; never retried blindly),
//! `--async`, the wait shared with `dcd status --watch`, downloads, and JSON.
//! Uploading an app binary is a later step: until then `--app-binary-id` is required.

pub mod payload;

use super::{Ctx, connect};
use crate::api::compat::Identity;
use crate::domain::compat::{self, CompatData, DeviceRequest, Platform};
use crate::domain::verdict::Verdict;
use crate::domain::results::ResultRow;
use crate::api::{ApiClient, ApiError};
use crate::auth::Mode;
use crate::domain::environments;
use crate::cli::Parsed;
use crate::exit::{CliError, Exit};
use crate::plan::{self, Plan, PlanOptions};
use crate::render::json::{self as jsonr, FlowInfo};
use crate::render::sanitize::clean;
use crate::render::status::{fields, section};
use crate::term::{out_line, warn};
use payload::{PayloadInput, split_pairs};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const TIP: &str =
    "Tip: run `dcd login` for live test updates and a smoother experience than passing --api-key.";

/// The flow names and tags the JSON output reports, from the plan.
struct PlannedFlows(BTreeMap<String, (String, Vec<String>)>);

impl FlowInfo for PlannedFlows {
    fn flow_name(&self, file: &str) -> Option<String> {
        self.0.get(file).map(|(n, _)| n.clone())
    }
    fn tags(&self, file: &str) -> Vec<String> {
        self.0.get(file).map(|(_, t)| t.clone()).unwrap_or_default()
    }
}

/// The CI provider, for the identity headers and notice rules (spec G; detection rules are
/// not published, so this names the provider behind the standard marker variables).
pub fn ci_provider() -> Option<String> {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    [
        ("GITHUB_ACTIONS", "github-actions"),
        ("GITLAB_CI", "gitlab"),
        ("CIRCLECI", "circleci"),
        ("BITBUCKET_BUILD_NUMBER", "bitbucket"),
        ("BITRISE_IO", "bitrise"),
        ("EAS_BUILD", "eas"),
        ("BUILDKITE", "buildkite"),
        ("JENKINS_URL", "jenkins"),
        ("TF_BUILD", "azure-pipelines"),
        ("TRAVIS", "travis"),
        ("TEAMCITY_VERSION", "teamcity"),
        ("APPVEYOR", "appveyor"),
        ("CODEBUILD_BUILD_ID", "codebuild"),
        ("DRONE", "drone"),
    ]
    .iter()
    .find(|(k, _)| set(k))
    .map(|(_, p)| p.to_string())
}

/// Cross-flag rules that need no network (spec A.2).
fn validate_flags(p: &Parsed) -> Result<(), CliError> {
    if p.given("json-file-name") && !p.flag("json-file") {
        return Err("--json-file-name requires --json-file".into());
    }
    if p.given("artifacts-path") && p.str("download-artifacts").is_none() {
        return Err("--artifacts-path requires --download-artifacts".into());
    }
    for f in ["junit-path", "allure-path", "html-path"] {
        if p.given(f) && p.str("report").is_none() {
            return Err(format!("--{f} requires --report").into());
        }
    }
    if p.given("app-file") && p.given("app-url") {
        return Err("--app-file and --app-url are mutually exclusive".into());
    }
    if !p.list("ios-device-matrix").is_empty() && !p.list("android-device-matrix").is_empty() {
        return Err(
            "--ios-device-matrix and --android-device-matrix cannot mix platforms in one run"
                .into(),
        );
    }
    Ok(())
}

/// `app` and `flows` from the positionals and flags (spec A.2 "Resolution of app and flows").
fn resolve_inputs(p: &Parsed) -> Result<(Option<String>, String), CliError> {
    let pos = p.positionals();
    let first = pos.first().cloned();
    let second = pos.get(1).cloned();
    let from_flag = p.str("app-file").or(p.str("app-url")).map(str::to_string);
    let (app, flows) = if p.str("app-binary-id").is_some() {
        if second.is_some() {
            return Err("You cannot provide both an appBinaryId and a binary file".into());
        }
        (None, p.str("flows").map(str::to_string).or(first))
    } else if from_flag.is_some() {
        (from_flag, p.str("flows").map(str::to_string).or(first))
    } else {
        (first, p.str("flows").map(str::to_string).or(second))
    };
    let flows = flows.ok_or("You must provide a flow file")?;
    Ok((app, flows))
}

/// The device requests to validate: the single-device flags and every matrix cell.
fn device_requests(p: &Parsed) -> Result<(Vec<DeviceRequest>, Option<Value>), CliError> {
    let mut reqs = vec![
        DeviceRequest {
            platform: Platform::Ios,
            device: p.str("ios-device").map(str::to_string),
            version: p.str("ios-version").map(str::to_string),
            google_play: false,
        },
        DeviceRequest {
            platform: Platform::Android,
            device: p.str("android-device").map(str::to_string),
            version: p.str("android-api-level").map(str::to_string),
            google_play: p.flag("google-play"),
        },
    ];
    let mut cells = Vec::new();
    for (flag, platform) in [
        ("ios-device-matrix", Platform::Ios),
        ("android-device-matrix", Platform::Android),
    ] {
        for v in p.list(flag) {
            let r = compat::parse_matrix_cell(platform, &v).map_err(CliError::new)?;
            cells.push(match platform {
                Platform::Ios => json!({"iOSDevice": r.device, "iOSVersion": r.version}),
                Platform::Android if r.google_play => json!({"androidDevice": r.device, "androidApiLevel": r.version, "googlePlay": true}),
                Platform::Android => json!({"androidDevice": r.device, "androidApiLevel": r.version}),
            });
            reqs.push(r);
        }
    }
    Ok((reqs, (!cells.is_empty()).then_some(Value::Array(cells))))
}

/// The notices that apply, rendered (human) and as JSON entries (spec H.15).
fn notices(c: &CompatData, ctx_fields: &BTreeMap<String, String>) -> Vec<Value> {
    c.notices
        .iter()
        .filter(|n| compat::notice_applies(n, ctx_fields))
        .map(|n| {
            json!({
                "slug": n.get("slug").cloned().unwrap_or(Value::Null),
                "level": n.get("level").cloned().unwrap_or(json!("info")),
                "title": n.get("title").cloned().unwrap_or(json!("")),
                "body": n.get("body").cloned().unwrap_or(json!("")),
                "learnMoreUrl": n.get("learnMoreUrl").cloned().unwrap_or(Value::Null),
            })
        })
        .collect()
}

fn print_notices(list: &[Value], ctx: &Ctx) {
    let s = ctx.caps.out;
    for n in list {
        let text = |k: &str| clean(n.get(k).and_then(Value::as_str).unwrap_or(""));
        let title = text("title");
        match n.get("level").and_then(Value::as_str) {
            Some("deprecation") => out_line(&format!("{} {}", s.red("⚠"), s.bold(&title))),
            Some("warn") => out_line(&format!("{} {}", s.yellow("⚠"), s.bold(&title))),
            Some("marketing") => section(&title, s).iter().for_each(|l| out_line(l)),
            _ => out_line(&format!("ℹ {}", s.bold(&title))),
        }
        let body = text("body");
        if !body.is_empty() {
            out_line(&format!("{}{body}", s.dim("  ⎿ ")));
        }
        let url = text("learnMoreUrl");
        if !url.is_empty() {
            out_line(&format!("    See: {url}"));
        }
    }
}

/// Effective `disableAnimations` (spec H.3): the explicit flag, else the workspace config's
/// `platform.<p>.disableAnimations` for the run's platform.
fn disable_animations(
    p: &Parsed,
    workspace: Option<&Value>,
    matrix: Option<&Value>,
) -> Option<bool> {
    if let Some(explicit) = p.tri("disable-animations") {
        return Some(explicit);
    }
    let platform = match matrix.and_then(|m| m.get(0)) {
        Some(cell) if cell.get("iOSDevice").is_some() => "ios",
        Some(_) => "android",
        None if p.str("ios-device").is_some() || p.str("ios-version").is_some() => "ios",
        None => "android",
    };
    workspace?
        .pointer(&format!("/platform/{platform}/disableAnimations"))
        .and_then(Value::as_bool)
}

/// Retries above 2 are clamped with a warning (spec A.2).
fn retries(p: &Parsed, ctx: &Ctx) -> Option<u64> {
    let r = p.int("retry")?;
    if r > 2 {
        ctx.warn("Retries are now free of charge but limited to 2; using --retry 2.");
        return Some(2);
    }
    Some(r)
}

fn submitted_rows(v: &Value) -> Vec<ResultRow> {
    v.get("results")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(ResultRow::from_value).collect())
        .unwrap_or_default()
}

/// The submission (D.1 #5–#7): upload + `submitFlowTest`, or the multipart fallback when the
/// API does not have the client-direct endpoints (404/405 on either).
fn submit(
    client: &ApiClient,
    fields: &Map<String, Value>,
    zip: &[u8],
    ctx: &Ctx,
) -> Result<Value, CliError> {
    use crate::upload::UploadError;
    let direct = crate::upload::upload_flow_zip(client, zip, &ctx.timings).and_then(|stored| {
        let mut body = fields.clone();
        if let Value::Object(s) = stored.to_json() {
            body.extend(s);
        }
        client
            .post_json(
                "Submitting the flows",
                "/uploads/submitFlowTest",
                &Value::Object(body),
            )
            .map_err(UploadError::Api)
    });
    match direct {
        Ok(v) => Ok(v),
        Err(UploadError::Api(e)) if wants_fallback(&e) => {
            crate::debug!(
                "client-direct submission not available (404/405); using POST /uploads/flow"
            );
            let boundary = format!(
                "dcd{}",
                crate::encoding::hex(&crate::auth::unix_now().to_be_bytes())
            );
            let (ct, body) = payload::multipart(fields, zip, &boundary);
            client
                .post_bytes("Submitting the flows", "/uploads/flow", &ct, &body)
                .map_err(|e| CliError::new(e.to_string()))
        }
        Err(UploadError::Api(e)) => Err(CliError::new(e.to_string())),
        Err(UploadError::Failed(e)) => Err(e),
    }
}

/// 404/405 on `getFlowUploadUrl` or `submitFlowTest`: an API without the client-direct path.
fn wants_fallback(e: &ApiError) -> bool {
    matches!(e.status(), Some(404 | 405))
}

/// Where `--json-file` writes: `--json-file-name`, else `<uploadId>_dcd.json`; parent
/// directories are created.
fn write_json_file(p: &Parsed, upload_id: &str, doc: &Value, ctx: &Ctx) -> Result<(), CliError> {
    if !p.flag("json-file") {
        return Ok(());
    }
    let path = PathBuf::from(
        p.str("json-file-name")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{upload_id}_dcd.json")),
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::new(format!("Cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(&path, jsonr::pretty(doc) + "\n")
        .map_err(|e| CliError::new(format!("Cannot write {}: {e}", path.display())))?;
    if !ctx.json {
        out_line(
            &ctx.caps
                .out
                .dim(&format!("JSON output written to {}", path.display())),
        );
    }
    Ok(())
}

pub fn run(p: &Parsed, ctx: &Ctx) -> Result<Exit, CliError> {
    validate_flags(p)?;
    let s = ctx.caps.out;
    let json_file = p.flag("json-file");
    let quiet = p.flag("quiet") || json_file;
    let human = !ctx.json;
    if human {
        out_line(&s.dim(&format!("dcd v{}", env!("CARGO_PKG_VERSION"))));
        if json_file {
            out_line(&s.dim("JSON output will be written to file (--json-file)"));
        }
    }
    if p.given("moropo-v1-api-key") {
        return Err("--moropo-v1-api-key is not available in this build of dcd yet".into());
    }
    if p.tri("encrypt") == Some(true) {
        return Err(
            "--encrypt (client-side encryption) is not available in this build of dcd".into(),
        );
    }
    let (auth, client) = connect(p, ctx)?;
    if auth.mode == Mode::ApiKey && human && !quiet && ctx.caps.interactive {
        out_line(&s.dim(TIP));
    }
    let identity = Identity {
        cli_version: env!("CARGO_PKG_VERSION").into(),
        ci_provider: ci_provider(),
        ci_wrapper_version: None,
    };
    let compat = client.compatibility_data(&identity).map_err(|e| {
        CliError::new(format!(
            "Failed to fetch device compatibility data: {e}. Please check your API key and connection."
        ))
    })?;
    let maestro = compat::resolve_maestro_version(p.str("maestro-version"), &compat.maestro)
        .map_err(CliError::new)?;
    let retries = retries(p, ctx);
    let runner = p.str("runner-type").unwrap_or("default").to_string();
    if human {
        match runner.as_str() {
            "m4" => out_line("ℹ Runner m4: Apple M4 hosts (iOS)."),
            "m1" => out_line("ℹ Runner m1: Android only, all devices, API 34-36."),
            _ => {}
        }
    }

    let (app, flows) = resolve_inputs(p)?;
    let Some(app_binary_id) = p.str("app-binary-id").map(str::to_string) else {
        let what = app
            .as_deref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default();
        return Err(CliError::new(format!(
            "Uploading an app binary{what} is not available in this build of dcd yet. Upload it with `dcd upload` from the TypeScript CLI and pass --app-binary-id <id>."
        )));
    };

    let (requests, matrix) = device_requests(p)?;
    for r in &requests {
        if let Some(note) = compat::validate_device(r, &compat).map_err(CliError::new)? {
            crate::debug!("{note}");
        }
    }
    let mut notice_ctx: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in [
        ("ios_version", p.str("ios-version")),
        ("ios_device", p.str("ios-device")),
        ("android_api_level", p.str("android-api-level")),
        ("android_device", p.str("android-device")),
        ("requested_maestro_version", p.str("maestro-version")),
    ] {
        if let Some(v) = v {
            notice_ctx.insert(k.into(), v.into());
        }
    }
    notice_ctx.insert("maestro_version".into(), maestro.clone());
    notice_ctx.insert("runner_type".into(), runner.clone());
    notice_ctx.insert("cli_version".into(), identity.cli_version.clone());
    if let Some(c) = &identity.ci_provider {
        notice_ctx.insert("ci_provider".into(), c.clone());
    }
    let notices = notices(&compat, &notice_ctx);
    if human {
        print_notices(&notices, ctx);
    }

    // The plan and the zip.
    let cwd =
        std::env::current_dir().map_err(|e| CliError::new(format!("No working directory: {e}")))?;
    let plan_opts = PlanOptions {
        flows: PathBuf::from(&flows),
        cwd: cwd.clone(),
        config: p.str("config").map(PathBuf::from),
        include_tags: p.list("include-tags"),
        exclude_tags: p.list("exclude-tags"),
        exclude_flows: p.list("exclude-flows"),
    };
    let plan = plan::plan(&plan_opts).map_err(|e| CliError::new(e.0))?;
    for w in &plan.warnings {
        warn(w, ctx.caps.err);
    }
    for d in &plan.debug {
        crate::debug!("{d}");
    }
    let root = plan.root();
    let info = PlannedFlows(plan.flow_info(&root));

    if human {
        print_job(p, &plan, &root, &cwd, &app_binary_id, ctx);
    }
    if p.flag("dry-run") {
        if human {
            warn(
                "Dry run mode — no tests were actually triggered",
                ctx.caps.err,
            );
            for l in section("The following tests would have been run", s) {
                out_line(&l);
            }
            for k in plan.test_file_names(&root) {
                out_line(&format!("  {k}"));
            }
            let seq = plan.sequential_flows(&root);
            if !seq.is_empty() {
                for l in section("Sequential flows", s) {
                    out_line(&l);
                }
                for k in seq {
                    out_line(&format!("  {k}"));
                }
            }
        }
        return Ok(Exit::Success);
    }

    // The zip only when something is submitted (`--dry-run` stops above).
    let bundle = plan::bundle(&plan).map_err(|e| CliError::new(e.0))?;
    let mut metadata = Vec::new();
    for (flag, key) in [
        ("branch", "gh_branch"),
        ("commit-sha", "gh_sha"),
        ("repo-name", "gh_repo"),
        ("pr-number", "gh_pr_number"),
        ("pr-url", "gh_pr_url"),
    ] {
        if let Some(v) = p.str(flag) {
            metadata.push((key.to_string(), v.to_string()));
        }
    }
    metadata.extend(split_pairs(&p.list("metadata"), "--metadata").map_err(CliError::new)?);
    let input = PayloadInput {
        sha: bundle.sha256.clone(),
        app_binary_id: app_binary_id.clone(),
        test_file_names: plan.test_file_names(&root),
        flow_metadata: plan.flow_metadata_json(&root),
        test_file_overrides: plan.overrides_json(&root),
        sequential_flows: plan.sequential_flows(&root),
        env: split_pairs(&p.list("env"), "--env").map_err(CliError::new)?,
        metadata,
        device_matrix: matrix.clone(),
        config: payload::Config {
            exclude_tags: plan.all_exclude_tags.clone(),
            include_tags: plan.all_include_tags.clone(),
            android_no_snapshot: p.flag("android-no-snapshot").then_some(true),
            retries,
            continue_on_failure: plan.sequence.as_ref().is_none_or(|s| s.continue_on_failure),
            device_locale: p.str("device-locale").map(str::to_string),
            google_play: p.flag("google-play"),
            maestro_version: maestro.clone(),
            orientation: p.str("orientation").map(str::to_string),
            report: p.str("report").map(str::to_string),
            show_crosshairs: p.flag("show-crosshairs").then_some(true),
            maestro_chrome_onboarding: p.flag("maestro-chrome-onboarding").then_some(true),
            disable_animations: disable_animations(
                p,
                plan.workspace_config.as_ref(),
                matrix.as_ref(),
            ),
            cancel_previous: p.flag("cancel-previous").then_some(true),
            render_engine: p.str("render-engine").map(str::to_string),
            version: identity.cli_version.clone(),
        },
        android_api_level: p.str("android-api-level").map(str::to_string),
        android_device: p.str("android-device").map(str::to_string),
        ios_device: p.str("ios-device").map(str::to_string),
        ios_version: p.str("ios-version").map(str::to_string),
        name: p.str("name").map(str::to_string),
        runner_type: runner,
        workspace_config: plan.workspace_config.clone(),
    };
    let payload = payload::build(&input);

    if matrix.is_some() {
        estimate_matrix(&client, &payload, ctx)?;
    }
    let response = submit(&client, &payload, &bundle.zip, ctx)?;
    let rows = submitted_rows(&response);
    let message = response
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(upload_id) = response
        .pointer("/results/0/test_upload_id")
        .and_then(|v| crate::domain::results::str_field(Some(v)))
        .filter(|_| !rows.is_empty())
    else {
        return Err(CliError::new(format!(
            "No tests created: {}",
            clean(message)
        )));
    };
    let console_url = environments::console_results_url(
        client.base_url(),
        &upload_id,
        rows.first().map(|r| r.id),
    );
    if human {
        out_line("");
        out_line(&format!(
            "{} {}",
            s.green("✓"),
            s.bold(format!("Submitted {}", clean(message)).trim_end())
        ));
        for l in section(&format!("Created {} test(s)", rows.len()), s) {
            out_line(&l);
        }
        let mut names: Vec<String> = rows.iter().map(|r| clean(&r.test_file_name)).collect();
        names.sort();
        out_line(&format!("{}{}", s.dim("  ⎿ "), names.join(", ")));
        for l in fields(
            &[
                ("results", clean(&console_url)),
                ("upload id", clean(&upload_id)),
                ("poll status", format!("dcd status --upload-id {upload_id}")),
            ],
            s,
        ) {
            out_line(&l);
        }
    }

    if p.flag("async") {
        let doc = json!({
            "consoleUrl": console_url,
            "status": "PENDING",
            "tests": rows.iter().map(|r| jsonr::test_entry(r, &info, false)).collect::<Vec<_>>(),
            "uploadId": upload_id,
            "notices": notices,
        });
        write_json_file(p, &upload_id, &doc, ctx)?;
        if ctx.json {
            out_line(&jsonr::pretty(&doc));
        } else {
            out_line("ℹ Not waiting for results as async flag is set to true");
        }
        return Ok(Exit::Success);
    }

    if human {
        out_line("");
    }
    let done = super::wait::run(
        ctx,
        &auth,
        &client,
        &super::wait::Request {
            upload_id: &upload_id,
            console_url: Some(console_url.clone()),
            quiet,
            timeout_minutes: p.number("timeout"),
            realtime: p.flag("realtime"),
        },
    )?;
    // Artifacts, then the report (spec E.10); failures only warn, after any verdict.
    let downloads = crate::report::DownloadRequest::from_flags(p);
    if !downloads.is_empty() {
        let mut sink = crate::report::TermSink {
            caps: ctx.caps,
            json: ctx.json,
        };
        crate::report::download_after_run(&client, &upload_id, &downloads, &mut sink);
    }
    let doc = jsonr::completed_run(
        done.verdict,
        &done.latest,
        &upload_id,
        &done.console_url,
        &info,
        (done.verdict != Verdict::Failed).then(|| notices.clone()),
    );
    write_json_file(p, &upload_id, &doc, ctx)?;
    if ctx.json {
        out_line(&jsonr::pretty(&doc));
    }
    Ok(done.verdict.exit(json_file))
}

/// `POST /uploads/estimateMatrix`: print the cells and cost; an API without it cannot honour
/// a matrix, so the run is refused rather than silently run on the default device.
fn estimate_matrix(
    client: &ApiClient,
    fields: &Map<String, Value>,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let est = match client.post_json(
        "Estimating the device matrix",
        "/uploads/estimateMatrix",
        &Value::Object(fields.clone()),
    ) {
        Ok(v) => v,
        Err(e) if matches!(e.status(), Some(404 | 405)) => {
            return Err(CliError::new(
                "This API does not support device matrices (no /uploads/estimateMatrix); refusing to submit, as the matrix would be ignored.",
            ));
        }
        Err(e) => return Err(CliError::new(e.to_string())),
    };
    if ctx.json {
        return Ok(());
    }
    let s = ctx.caps.out;
    let money = |v: Option<&Value>| format!("${:.2}", v.and_then(Value::as_f64).unwrap_or(0.0));
    for l in section("Device matrix", s) {
        out_line(&l);
    }
    out_line(&format!(
        "{}{} cells · est. cost {}",
        s.dim("  ⎿ "),
        est.get("cellCount").and_then(Value::as_u64).unwrap_or(0),
        money(est.get("totalCost"))
    ));
    for c in est
        .get("columns")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = clean(c.get("deviceName").and_then(Value::as_str).unwrap_or("?"));
        let os = crate::domain::results::str_field(c.get("osVersion")).unwrap_or_default();
        let is_ios = name.starts_with("iphone") || name.starts_with("ipad");
        let play = if c.get("googlePlay").and_then(Value::as_bool) == Some(true) {
            " · Play"
        } else {
            ""
        };
        out_line(&format!(
            "    {name} · {} {os}{play} → {} flow(s) · {}",
            if is_ios { "iOS" } else { "API" },
            c.get("flowCount").and_then(Value::as_u64).unwrap_or(0),
            money(c.get("cost"))
        ));
    }
    if est
        .get("excludedFlows")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        out_line(&s.dim("    Flows that name their own device run on it, outside the matrix."));
    }
    Ok(())
}

/// The "Submitting new job" block (spec A.2 step 13).
fn print_job(p: &Parsed, plan: &Plan, root: &Path, cwd: &Path, app_binary_id: &str, ctx: &Ctx) {
    let s = ctx.caps.out;
    for l in section("Submitting new job", s) {
        out_line(&l);
    }
    let n = plan.test_file_names(root).len() + plan.sequential_flows(root).len();
    let mut rows: Vec<(&str, String)> = vec![
        (
            "flow(s)",
            format!("{n} of {} flow file(s)", plan.total_flow_files),
        ),
        ("app", format!("binary id {}", clean(app_binary_id))),
    ];
    const HIDDEN: [&str; 3] = ["api-key", "moropo-v1-api-key", "app-url"];
    let opts: Vec<String> = p
        .given_flags()
        .into_iter()
        .filter(|(name, v)| !HIDDEN.contains(name) && !v.is_empty() && v != "false")
        .map(|(name, v)| {
            if v == "true" {
                name.to_string()
            } else {
                format!("{name}={}", clean(&v))
            }
        })
        .collect();
    if !opts.is_empty() {
        rows.push(("options", opts.join(" ")));
    }
    for l in fields(&rows, s) {
        out_line(&l);
    }
    let overridden: Vec<_> = plan
        .flow_overrides
        .iter()
        .filter(|(_, o)| !o.is_empty())
        .collect();
    if !overridden.is_empty() {
        for l in section("Overrides", s) {
            out_line(&l);
        }
        for (path, o) in overridden {
            let shown = path
                .strip_prefix(cwd)
                .map(|r| format!("./{}", r.display()))
                .unwrap_or_else(|_| path.display().to_string());
            let kv: Vec<String> = o.iter().map(|(k, v)| format!("{k}={}", clean(v))).collect();
            out_line(&format!("    {} {}", clean(&shown), kv.join(" ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_only_on_404_and_405() {
        let e = |status| ApiError::Status {
            op: "x".into(),
            status,
            message: "m".into(),
            retry_after: None,
        };
        assert!(wants_fallback(&e(404)) && wants_fallback(&e(405)));
        assert!(!wants_fallback(&e(502)) && !wants_fallback(&e(400)));
    }

    fn parsed(args: &[&str]) -> Parsed {
        let mut v = vec!["cloud".to_string()];
        v.extend(args.iter().map(|s| s.to_string()));
        match crate::cli::parse(v.into_iter().map(Into::into)).unwrap() {
            crate::cli::Invocation::Run(p) => p,
            _ => panic!("not a run"),
        }
    }

    #[test]
    fn disable_animations_follows_flag_then_workspace_platform() {
        let ws = json!({"platform": {"ios": {"disableAnimations": true},
                                     "android": {"disableAnimations": false}}});
        let d = |args: &[&str], m: Option<&Value>| disable_animations(&parsed(args), Some(&ws), m);
        assert_eq!(
            d(
                &["--no-disable-animations", "--ios-device", "iphone-16"],
                None
            ),
            Some(false)
        );
        assert_eq!(d(&["--disable-animations"], None), Some(true));
        assert_eq!(d(&["--ios-version", "18"], None), Some(true));
        assert_eq!(d(&[], None), Some(false), "android by default");
        let matrix = json!([{"iOSDevice": "iphone-16", "iOSVersion": "18"}]);
        assert_eq!(d(&[], Some(&matrix)), Some(true));
        assert_eq!(disable_animations(&parsed(&[]), None, None), None);
    }

    #[test]
    fn flows_and_app_resolution() {
        let r = |args: &[&str]| resolve_inputs(&parsed(args)).map_err(|e| e.message);
        assert_eq!(
            r(&["--app-binary-id", "b", "flows/"]),
            Ok((None, "flows/".into()))
        );
        assert_eq!(
            r(&["app.apk", "flows/"]),
            Ok((Some("app.apk".into()), "flows/".into()))
        );
        assert_eq!(
            r(&["--app-file", "a.apk", "flows/"]),
            Ok((Some("a.apk".into()), "flows/".into()))
        );
        assert_eq!(
            r(&["--app-binary-id", "b", "--flows", "f/"]),
            Ok((None, "f/".into()))
        );
        assert_eq!(r(&["app.apk"]), Err("You must provide a flow file".into()));
    }
}
