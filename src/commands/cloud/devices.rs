//! Step 2 of `dcd cloud`: what the server offers and whether the run fits it — the
//! compatibility data, the Maestro version, the retry clamp, runner notes, the app and
//! flows to use, every requested device and matrix cell, and the notices that apply.

use super::preflight::Connected;
use crate::api::compat::Identity;
use crate::cli::args::{CloudArgs, Inputs};
use crate::commands::Ctx;
use crate::domain::choice::RunnerType;
use crate::domain::compat::{self, CompatData, DeviceRequest, Platform};
use crate::exit::{CliError, signal};
use crate::output::Event;
use crate::render::cloud::notice_json;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// What the server's data decided for this run.
pub struct Checked {
    pub identity: Identity,
    pub maestro: String,
    pub retries: Option<u64>,
    pub inputs: Inputs,
    /// The binary: an id, or the checked file, made ready and uploaded after the dry-run step.
    pub app: super::app::App,
    /// The `deviceMatrix` payload field, when a matrix was given.
    pub matrix: Option<Value>,
    /// The notices that apply, as the JSON output reports them.
    pub notices: Vec<Value>,
}

pub fn check(args: &CloudArgs, ctx: &Ctx, conn: &Connected) -> Result<Checked, CliError> {
    let identity = Identity {
        cli_version: env!("CARGO_PKG_VERSION").into(),
        ci_provider: ci_provider(),
        ci_wrapper_version: None,
    };
    let (client, id) = (conn.client.clone(), identity.clone());
    let compat = signal::run(move || client.compatibility_data(&id))?.map_err(|e| {
        CliError::new(format!(
            "Failed to fetch device compatibility data: {e}. Please check your API key and connection."
        ))
    })?;
    let x = &args.execution;
    let maestro = compat::resolve_maestro_version(x.maestro_version.as_deref(), &compat.maestro)
        .map_err(CliError::new)?;
    let retries = x.retry.map(|r| {
        if r > 2 {
            ctx.out
                .warn("Retries are now free of charge but limited to 2; using --retry 2.");
        }
        r.min(2)
    });
    match x.runner_type {
        RunnerType::M4 => ctx
            .out
            .emit(Event::Info("Runner m4: Apple M4 hosts (iOS).")),
        RunnerType::M1 => ctx.out.emit(Event::Info(
            "Runner m1: Android only, all devices, API 34-36.",
        )),
        _ => {}
    }
    let inputs = args.inputs()?;
    let app = super::app::check(args, &inputs, ctx)?;
    let (requests, matrix) = device_requests(args)?;
    for r in &requests {
        if let Some(note) = compat::validate_device(r, &compat).map_err(CliError::new)? {
            crate::debug!("{note}");
        }
    }
    let notices = notices(args, &compat, &identity, &maestro);
    if !notices.is_empty() {
        ctx.out.emit(Event::Notices(&notices));
    }
    Ok(Checked {
        identity,
        maestro,
        retries,
        inputs,
        app,
        matrix,
        notices,
    })
}

/// The device requests to validate — the single-device flags and every matrix cell — and
/// the `deviceMatrix` payload field.
fn device_requests(args: &CloudArgs) -> Result<(Vec<DeviceRequest>, Option<Value>), CliError> {
    let d = &args.devices;
    let mut reqs = vec![
        DeviceRequest {
            platform: Platform::Ios,
            device: d.ios_device.clone(),
            version: d.ios_version.clone(),
            google_play: false,
        },
        DeviceRequest {
            platform: Platform::Android,
            device: d.android_device.clone(),
            version: d.android_api_level.clone(),
            google_play: d.google_play,
        },
    ];
    let mut cells = Vec::new();
    for (values, platform) in [
        (&d.ios_matrix, Platform::Ios),
        (&d.android_matrix, Platform::Android),
    ] {
        for v in values {
            let r = compat::parse_matrix_cell(platform, v).map_err(CliError::new)?;
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

/// The notices whose rules match this run.
fn notices(args: &CloudArgs, c: &CompatData, id: &Identity, maestro: &str) -> Vec<Value> {
    let d = &args.devices;
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in [
        ("ios_version", &d.ios_version),
        ("ios_device", &d.ios_device),
        ("android_api_level", &d.android_api_level),
        ("android_device", &d.android_device),
        ("requested_maestro_version", &args.execution.maestro_version),
        ("ci_provider", &id.ci_provider),
    ] {
        if let Some(v) = v {
            fields.insert(k.into(), v.clone());
        }
    }
    fields.insert("maestro_version".into(), maestro.to_string());
    fields.insert(
        "runner_type".into(),
        args.execution.runner_type.name().to_string(),
    );
    fields.insert("cli_version".into(), id.cli_version.clone());
    c.notices
        .iter()
        .filter(|n| compat::notice_applies(n, &fields))
        .map(notice_json)
        .collect()
}

/// The CI provider, for the identity headers and notice rules: the provider behind the
/// standard marker variables (the official detection rules are not published).
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
