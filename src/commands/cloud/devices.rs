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
    let identity = identity(ctx);
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
        ("ci_wrapper_version", &id.ci_wrapper_version),
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

/// Who is asking, for the identity headers and the notices' rules: this version, and the CI
/// wrapper's own word when it gives one (`DCD_CI_PROVIDER`, `DCD_CI_WRAPPER_VERSION`), else
/// the provider behind the CI marker variables (docs/ci.md, "Wrapper identity").
fn identity(ctx: &Ctx) -> Identity {
    let given = |var: &str| {
        let raw = std::env::var(var).ok()?;
        let value = wrapper_value(&raw);
        if value.is_none() && !raw.trim().is_empty() {
            ctx.out.warn(&format!(
                "{var} is not usable (at most {MAX_WRAPPER_VALUE} visible ASCII characters); \
                 not sent"
            ));
        }
        value
    };
    let provider = given("DCD_CI_PROVIDER");
    let wrapper_version = given("DCD_CI_WRAPPER_VERSION");
    let id = Identity {
        cli_version: env!("CARGO_PKG_VERSION").into(),
        ci_provider: provider.or_else(ci_provider),
        ci_wrapper_version: wrapper_version,
    };
    crate::debug!(
        "CI provider {}, wrapper version {}",
        id.ci_provider.as_deref().unwrap_or("none"),
        id.ci_wrapper_version.as_deref().unwrap_or("none")
    );
    id
}

/// The longest wrapper identity value sent.
const MAX_WRAPPER_VALUE: usize = 64;

/// A wrapper's identity value as it may go into a header: trimmed, non-empty, at most
/// [`MAX_WRAPPER_VALUE`] visible ASCII characters (no spaces, no control characters).
fn wrapper_value(raw: &str) -> Option<String> {
    let v = raw.trim();
    let ok =
        !v.is_empty() && v.len() <= MAX_WRAPPER_VALUE && v.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| v.to_string())
}

/// The CI provider behind the standard marker variables, when no wrapper names one (the
/// official detection rules are not published).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapper_value_is_one_short_visible_word() {
        assert_eq!(wrapper_value(" 2.6.0 ").as_deref(), Some("2.6.0"));
        assert_eq!(wrapper_value("github").as_deref(), Some("github"));
        assert_eq!(
            wrapper_value("v1.0.0-beta.2+b7").as_deref(),
            Some("v1.0.0-beta.2+b7")
        );
        for bad in [
            "",
            "  ",
            "2.6\n0",
            "two words",
            "é",
            "\u{1b}[2J",
            &"9".repeat(65),
        ] {
            assert_eq!(wrapper_value(bad), None, "{bad:?}");
        }
        assert!(wrapper_value(&"9".repeat(64)).is_some());
    }
}
