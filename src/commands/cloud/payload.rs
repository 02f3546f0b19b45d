//! The submission payload (spec H.3): one map of string fields, used as the JSON body of
//! `submitFlowTest` (plus the storage reference), as the multipart parts of `/uploads/flow`,
//! and as the body of `estimateMatrix`. Fields that the TS CLI JSON-encodes are JSON text
//! here too; optional fields are left out rather than sent empty.

use serde_json::{Map, Value, json};

/// Everything the payload is made of, already resolved.
#[derive(Debug, Clone, Default)]
pub struct PayloadInput {
    pub sha: String,
    pub app_binary_id: String,
    pub test_file_names: Vec<String>,
    pub flow_metadata: Value,
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

/// `KEY=VALUE` split on the first `=`; an entry without `=` is an error naming it.
pub fn split_pairs(values: &[String], flag: &str) -> Result<Vec<(String, String)>, String> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) if !k.trim().is_empty() => Ok((k.trim().to_string(), val.to_string())),
            _ => Err(format!("Invalid {flag} value \"{v}\": expected KEY=VALUE")),
        })
        .collect()
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
        // Wire placement unverified in the spec; inside `config` is the likeliest (H.3).
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
    m.insert("flowMetadata".into(), text(&p.flow_metadata));
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
/// payload field as a string part (D.1 #7). Returns (content type, body).
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
            flow_metadata: json!({"./a.yaml": {"name": "A", "tags": ["smoke"]}}),
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
    fn pairs_split_on_the_first_equals() {
        let v = vec!["A=1".to_string(), "B=x=y".into(), "C=".into()];
        assert_eq!(
            split_pairs(&v, "--env").unwrap(),
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "x=y".into()),
                ("C".into(), "".into())
            ]
        );
        assert!(
            split_pairs(&["NOEQ".to_string()], "--env")
                .unwrap_err()
                .contains("NOEQ")
        );
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
