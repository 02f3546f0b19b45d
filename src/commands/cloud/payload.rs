//! The submission payload: one map of string fields, used as the JSON body of
//! `submitFlowTest` (plus the storage reference), as the multipart parts of `/uploads/flow`,
//! and as the body of `estimateMatrix`. Fields that the TS CLI JSON-encodes are JSON text
//! here too; optional fields are left out rather than sent empty.

use super::devices::Checked;
use crate::cli::args::{CloudArgs, Devices};
use crate::plan::Plan;
use serde_json::{Map, Value, json};

/// Everything the payload is made of, already resolved.
#[derive(Debug, Clone, Default)]
pub struct PayloadInput {
    pub sha: String,
    pub app_binary_id: String,
    pub test_file_names: Vec<String>,
    /// JSON text.
    pub flow_metadata: String,
    pub test_file_overrides: Value,
    pub sequential_flows: Vec<String>,
    /// `--env` pairs in order (later duplicates win).
    pub env: Vec<(String, String)>,
    /// gh_* entries first, then `--metadata` pairs.
    pub metadata: Vec<(String, String)>,
    pub device_matrix: Option<Value>,
    pub config: Config,
    pub android_api_level: Option<String>,
    pub android_device: Option<String>,
    pub ios_device: Option<String>,
    pub ios_version: Option<String>,
    pub name: Option<String>,
    pub runner_type: String,
    pub workspace_config: Option<Value>,
}

/// The `config` member (undefined members dropped).
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub exclude_tags: Vec<String>,
    pub include_tags: Vec<String>,
    pub android_no_snapshot: Option<bool>,
    pub retries: Option<u64>,
    pub continue_on_failure: bool,
    pub device_locale: Option<String>,
    pub google_play: bool,
    pub maestro_version: String,
    pub orientation: Option<String>,
    pub report: Option<String>,
    pub show_crosshairs: Option<bool>,
    pub maestro_chrome_onboarding: Option<bool>,
    pub disable_animations: Option<bool>,
    pub cancel_previous: Option<bool>,
    pub render_engine: Option<String>,
    pub version: String,
}

/// The `config` member for this run.
pub fn config(args: &CloudArgs, checked: &Checked, plan: &Plan) -> Config {
    let d = &args.devices;
    Config {
        exclude_tags: plan.all_exclude_tags.clone(),
        include_tags: plan.all_include_tags.clone(),
        android_no_snapshot: d.android_no_snapshot.then_some(true),
        retries: checked.retries,
        continue_on_failure: plan.sequence.as_ref().is_none_or(|s| s.continue_on_failure),
        device_locale: d.device_locale.clone(),
        google_play: d.google_play,
        maestro_version: checked.maestro.clone(),
        orientation: d.orientation.map(|o| o.name().to_string()),
        report: args
            .downloads
            .report
            .as_ref()
            .map(|(k, _)| k.name().to_string()),
        show_crosshairs: d.show_crosshairs.then_some(true),
        maestro_chrome_onboarding: d.maestro_chrome_onboarding.then_some(true),
        disable_animations: disable_animations(
            d,
            plan.workspace_config.as_ref(),
            checked.matrix.as_ref(),
        ),
        cancel_previous: args.execution.cancel_previous.then_some(true),
        render_engine: d.render_engine.map(|r| r.name().to_string()),
        version: checked.identity.cli_version.clone(),
    }
}

/// Effective `disableAnimations`: the explicit flag, else the workspace config's
/// `platform.<p>.disableAnimations` for the run's platform (the matrix's first cell, else
/// iOS when iOS flags are given, else Android).
fn disable_animations(
    d: &Devices,
    workspace: Option<&Value>,
    matrix: Option<&Value>,
) -> Option<bool> {
    if let Some(explicit) = d.disable_animations {
        return Some(explicit);
    }
    let platform = match matrix.and_then(|m| m.get(0)) {
        Some(cell) if cell.get("iOSDevice").is_some() => "ios",
        Some(_) => "android",
        None if d.ios_device.is_some() || d.ios_version.is_some() => "ios",
        None => "android",
    };
    workspace?
        .pointer(&format!("/platform/{platform}/disableAnimations"))
        .and_then(Value::as_bool)
}

fn object(pairs: &[(String, String)]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(m)
}

impl Config {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        };
        put("allExcludeTags", Some(json!(self.exclude_tags)));
        put("allIncludeTags", Some(json!(self.include_tags)));
        put(
            "androidNoSnapshot",
            self.android_no_snapshot.map(Value::Bool),
        );
        put("autoRetriesRemaining", self.retries.map(|r| json!(r)));
        put("continueOnFailure", Some(json!(self.continue_on_failure)));
        put(
            "deviceLocale",
            self.device_locale.clone().map(Value::String),
        );
        put("googlePlay", Some(json!(self.google_play)));
        put("maestroVersion", Some(json!(self.maestro_version)));
        put("orientation", self.orientation.clone().map(Value::String));
        put("raw", Some(json!("[]")));
        put("report", self.report.clone().map(Value::String));
        put("showCrosshairs", self.show_crosshairs.map(Value::Bool));
        put(
            "maestroChromeOnboarding",
            self.maestro_chrome_onboarding.map(Value::Bool),
        );
        put(
            "disableAnimations",
            self.disable_animations.map(Value::Bool),
        );
        // Where the API expects `cancelPrevious` and `renderEngine` is unconfirmed; inside
        // `config` is the likeliest place.
        put("cancelPrevious", self.cancel_previous.map(Value::Bool));
        put(
            "renderEngine",
            self.render_engine.clone().map(Value::String),
        );
        put("version", Some(json!(self.version)));
        Value::Object(m)
    }
}

/// The payload map: every value a string.
pub fn build(p: &PayloadInput) -> Map<String, Value> {
    let mut m = Map::new();
    let text = |v: &Value| Value::String(v.to_string());
    m.insert("sha".into(), p.sha.clone().into());
    m.insert("appBinaryId".into(), p.app_binary_id.clone().into());
    m.insert("testFileNames".into(), text(&json!(p.test_file_names)));
    m.insert("flowMetadata".into(), p.flow_metadata.clone().into());
    m.insert("testFileOverrides".into(), text(&p.test_file_overrides));
    m.insert("sequentialFlows".into(), text(&json!(p.sequential_flows)));
    m.insert("env".into(), text(&object(&p.env)));
    if let Some(matrix) = &p.device_matrix {
        m.insert("deviceMatrix".into(), text(matrix));
    }
    m.insert("config".into(), text(&p.config.to_json()));
    if !p.metadata.is_empty() {
        m.insert(
            "metadata".into(),
            text(&json!({"userMetadata": object(&p.metadata)})),
        );
    }
    for (k, v) in [
        ("androidApiLevel", &p.android_api_level),
        ("androidDevice", &p.android_device),
        ("iOSDevice", &p.ios_device),
        ("iOSVersion", &p.ios_version),
        ("name", &p.name),
    ] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            m.insert(k.into(), v.clone().into());
        }
    }
    m.insert("runnerType".into(), p.runner_type.clone().into());
    if let Some(w) = &p.workspace_config {
        m.insert("workspaceConfig".into(), text(w));
    }
    m
}

/// `multipart/form-data`: part `file` (`flowFile.zip`, `application/zip`) first, then every
/// payload field as a string part, for the `POST /uploads/flow` fallback. Returns
/// (content type, body).
pub fn multipart(fields: &Map<String, Value>, zip: &[u8], boundary: &str) -> (String, Vec<u8>) {
    let mut body = Vec::with_capacity(zip.len() + 4096);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"flowFile.zip\"\r\nContent-Type: application/zip\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(zip);
    body.extend_from_slice(b"\r\n");
    for (k, v) in fields {
        let v = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PayloadInput {
        PayloadInput {
            sha: "abc".into(),
            app_binary_id: "bin-1".into(),
            test_file_names: vec!["./a.yaml".into()],
            flow_metadata: json!({"./a.yaml": {"name": "A", "tags": ["smoke"]}}).to_string(),
            test_file_overrides: json!({"./a.yaml": {"IOS_DEVICE": "iphone-16"}}),
            sequential_flows: vec![],
            env: vec![("USER".into(), "a=b".into())],
            metadata: vec![
                ("gh_branch".into(), "main".into()),
                ("team".into(), "x".into()),
            ],
            device_matrix: None,
            config: Config {
                include_tags: vec!["smoke".into()],
                continue_on_failure: true,
                maestro_version: "1.39.13".into(),
                retries: Some(1),
                version: "0.1.0".into(),
                ..Config::default()
            },
            ios_device: Some("iphone-16".into()),
            runner_type: "default".into(),
            ..PayloadInput::default()
        }
    }

    #[test]
    fn every_value_is_a_string_and_optional_fields_are_omitted() {
        let m = build(&input());
        assert!(m.values().all(Value::is_string));
        assert_eq!(m["testFileNames"], r#"["./a.yaml"]"#);
        assert_eq!(m["env"], r#"{"USER":"a=b"}"#);
        assert_eq!(
            m["metadata"],
            r#"{"userMetadata":{"gh_branch":"main","team":"x"}}"#
        );
        assert_eq!(m["iOSDevice"], "iphone-16");
        assert!(!m.contains_key("androidDevice") && !m.contains_key("deviceMatrix"));
        let config: Value = serde_json::from_str(m["config"].as_str().unwrap()).unwrap();
        assert_eq!(config["autoRetriesRemaining"], 1);
        assert_eq!(config["googlePlay"], false);
        assert_eq!(config["raw"], "[]");
        assert!(config.get("orientation").is_none());
    }

    #[test]
    fn disable_animations_follows_flag_then_workspace_platform() {
        let ws = json!({"platform": {"ios": {"disableAnimations": true},
                                     "android": {"disableAnimations": false}}});
        let dev = |explicit: Option<bool>, ios: bool| Devices {
            disable_animations: explicit,
            ios_version: ios.then(|| "18".to_string()),
            ..Devices::default()
        };
        let d = |devices: Devices, m: Option<&Value>| disable_animations(&devices, Some(&ws), m);
        assert_eq!(d(dev(Some(false), true), None), Some(false));
        assert_eq!(d(dev(Some(true), false), None), Some(true));
        assert_eq!(d(dev(None, true), None), Some(true));
        assert_eq!(d(dev(None, false), None), Some(false), "android by default");
        let matrix = json!([{"iOSDevice": "iphone-16", "iOSVersion": "18"}]);
        assert_eq!(d(dev(None, false), Some(&matrix)), Some(true));
        assert_eq!(disable_animations(&dev(None, false), None, None), None);
    }

    #[test]
    fn multipart_puts_the_file_first() {
        let mut f = Map::new();
        f.insert("sha".into(), "abc".into());
        let (ct, body) = multipart(&f, b"ZIP", "XYZ");
        assert_eq!(ct, "multipart/form-data; boundary=XYZ");
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(
            "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"flowFile.zip\""
        ));
        assert!(text.contains("name=\"sha\"\r\n\r\nabc\r\n"));
        assert!(text.ends_with("--XYZ--\r\n"));
    }
}
