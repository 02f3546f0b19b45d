//! Compatibility data (`GET /results/compatibility/data`) and what `dcd cloud` decides from
//! it: the Maestro version, device and OS validation for single devices and matrix cells,
//! and which server notices apply.
//!
//! Validation is against the server's data only, so new devices need no CLI release. The
//! per-device entries come as bare arrays (what the live API sends) or as objects
//! `{versions|apiLevels: [...]}` (the OpenAPI example); both are accepted.

use serde_json::Value;
use std::collections::BTreeMap;

const DEVICES_DOC: &str = "https://docs.devicecloud.dev/getting-started/devices-configuration";

/// Device slug → offered versions (iOS versions or Android API levels).
pub type Table = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MaestroVersions {
    pub default_version: Option<String>,
    pub latest_version: Option<String>,
    pub supported: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompatData {
    pub android: Table,
    pub android_play: Table,
    pub ios: Table,
    pub maestro: MaestroVersions,
    pub notices: Vec<Value>,
    pub encryption_default_on: bool,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| super::results::str_field(Some(x)))
                .collect()
        })
        .unwrap_or_default()
}

fn table(v: Option<&Value>) -> Table {
    let Some(o) = v.and_then(Value::as_object) else {
        return Table::new();
    };
    o.iter()
        .map(|(device, entry)| {
            let versions = match entry {
                Value::Array(_) => strings(entry),
                Value::Object(m) => m
                    .get("versions")
                    .or_else(|| m.get("apiLevels"))
                    .map(strings)
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            (device.clone(), versions)
        })
        .collect()
}

impl CompatData {
    /// Reads the envelope `{statusCode: 200, data: {...}}`; another `statusCode` or no
    /// `data` is an error.
    pub fn from_envelope(v: &Value) -> Result<CompatData, String> {
        if let Some(code) = v.get("statusCode").and_then(super::results::int_field)
            && code != 200
        {
            let msg = v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            return Err(format!("server reported status {code}: {msg}"));
        }
        let d = v
            .get("data")
            .filter(|d| d.is_object())
            .ok_or("the response has no data")?;
        let m = d.get("maestro");
        Ok(CompatData {
            android: table(d.get("android")),
            android_play: table(d.get("androidPlay")),
            ios: table(d.get("ios")),
            maestro: MaestroVersions {
                default_version: super::results::str_field(m.and_then(|m| m.get("defaultVersion"))),
                latest_version: super::results::str_field(m.and_then(|m| m.get("latestVersion"))),
                supported: m
                    .and_then(|m| m.get("supportedVersions"))
                    .map(strings)
                    .unwrap_or_default(),
            },
            notices: d
                .get("notices")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            encryption_default_on: d
                .pointer("/encryption/defaultOn")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }
}

/// `latest` → the latest version; unset → the default; the result must be supported.
pub fn resolve_maestro_version(
    requested: Option<&str>,
    m: &MaestroVersions,
) -> Result<String, String> {
    let v = match requested.map(str::trim).filter(|s| !s.is_empty()) {
        Some("latest") => m
            .latest_version
            .clone()
            .ok_or("The API did not say which Maestro version is the latest")?,
        Some(v) => v.to_string(),
        None => m.default_version.clone().ok_or(
            "The API did not say which Maestro version is the default; pass --maestro-version",
        )?,
    };
    if !m.supported.is_empty() && !m.supported.contains(&v) {
        return Err(format!(
            "Maestro version {v} is not supported. Supported versions: {}",
            m.supported.join(", ")
        ));
    }
    Ok(v)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Android,
    Ios,
}

/// One requested device: a single-device flag set or a matrix cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub platform: Platform,
    pub device: Option<String>,
    pub version: Option<String>,
    pub google_play: bool,
}

/// Checks a device and OS request against the server's compatibility data. `Ok(None)` when
/// fine, `Ok(Some)` with a debug note when the check was skipped (the API decides), `Err`
/// with the message.
pub fn validate_device(r: &DeviceRequest, c: &CompatData) -> Result<Option<String>, String> {
    if r.device.is_none() && r.version.is_none() {
        return Ok(None);
    }
    let (default_device, default_version) = match r.platform {
        Platform::Android => ("pixel-7", "34"),
        Platform::Ios => ("iphone-14", "17"),
    };
    let device = r.device.as_deref().unwrap_or(default_device);
    let version = r.version.as_deref().unwrap_or(default_version);
    let (tbl, platform, kind, what) = match (r.platform, r.google_play) {
        (Platform::Ios, _) => (&c.ios, "iOS", "iOS", "iOS versions"),
        (Platform::Android, false) => (&c.android, "Android", "Android", "Android API levels"),
        (Platform::Android, true) => (
            &c.android_play,
            "Android",
            "Google Play",
            "Android API levels",
        ),
    };
    let offered = |t: &Table| -> Vec<String> {
        t.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, _)| k.clone())
            .collect()
    };
    let versions = tbl.get(device).filter(|v| !v.is_empty());
    let Some(versions) = versions else {
        if r.device.is_none() {
            return Ok(Some(format!(
                "default device {device} has no versions in the compatibility data; leaving the check to the API"
            )));
        }
        if r.google_play && c.android.get(device).is_some_and(|v| !v.is_empty()) {
            return Err(format!(
                "Android device \"{device}\" is not available with Google Play. Supported Google Play devices: {}. See {DEVICES_DOC}",
                offered(tbl).join(", ")
            ));
        }
        return Err(format!(
            "{platform} device \"{device}\" is not supported. Supported {kind} devices: {}. See {DEVICES_DOC}",
            offered(tbl).join(", ")
        ));
    };
    if versions.iter().any(|v| v == version) {
        return Ok(None);
    }
    let play = if r.google_play { " (Play Store)" } else { "" };
    let mut msg = format!(
        "{device}{play} only supports these {what}: {}",
        versions.join(", ")
    );
    let flag = match r.platform {
        Platform::Ios => "--ios-version",
        Platform::Android => "--android-api-level",
    };
    if r.version.is_none() {
        msg.push_str(&format!(
            ". The default ({version}) was checked because none was given; pass {flag} explicitly"
        ));
    }
    if r.device.is_none() {
        let with: Vec<String> = tbl
            .iter()
            .filter(|(_, v)| v.iter().any(|x| x == version))
            .map(|(k, _)| k.clone())
            .collect();
        if !with.is_empty() {
            msg.push_str(&format!(
                ". Devices offering {version}: {}",
                with.join(", ")
            ));
        }
    }
    Err(msg)
}

/// A `--ios-device-matrix` (`<device>:<version>`) or `--android-device-matrix`
/// (`<device>:<apiLevel>[:play]`) value.
pub fn parse_matrix_cell(platform: Platform, value: &str) -> Result<DeviceRequest, String> {
    let parts: Vec<&str> = value.split(':').collect();
    let bad = || match platform {
        Platform::Ios => format!(
            "Invalid --ios-device-matrix value \"{value}\": expected <device>:<version>, e.g. iphone-16:18"
        ),
        Platform::Android => format!(
            "Invalid --android-device-matrix value \"{value}\": expected <device>:<apiLevel>[:play], e.g. pixel-7:34:play"
        ),
    };
    if parts.iter().any(|p| p.trim().is_empty()) {
        return Err(bad());
    }
    match (platform, parts.as_slice()) {
        (Platform::Ios, [d, v]) => Ok(DeviceRequest {
            platform,
            device: Some(d.to_string()),
            version: Some(v.to_string()),
            google_play: false,
        }),
        (Platform::Android, [d, v]) => Ok(DeviceRequest {
            platform,
            device: Some(d.to_string()),
            version: Some(v.to_string()),
            google_play: false,
        }),
        (Platform::Android, [d, v, p]) if p.eq_ignore_ascii_case("play") => Ok(DeviceRequest {
            platform,
            device: Some(d.to_string()),
            version: Some(v.to_string()),
            google_play: true,
        }),
        _ => Err(bad()),
    }
}

/// SemVer 2.0.0 precedence with the TS CLI's leniencies: a leading `v` is ignored and
/// missing numeric segments are 0.
pub fn semver_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    fn split(s: &str) -> (Vec<u64>, Option<Vec<String>>) {
        let s = s.trim().trim_start_matches(['v', 'V']);
        let s = s.split('+').next().unwrap_or("");
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p.split('.').map(str::to_string).collect())),
            None => (s, None),
        };
        (
            core.split('.').map(|n| n.parse().unwrap_or(0)).collect(),
            pre,
        )
    }
    let (ca, pa) = split(a);
    let (cb, pb) = split(b);
    for i in 0..ca.len().max(cb.len()) {
        let o = ca.get(i).unwrap_or(&0).cmp(cb.get(i).unwrap_or(&0));
        if o != Equal {
            return o;
        }
    }
    match (pa, pb) {
        (None, None) => Equal,
        (None, Some(_)) => Greater,
        (Some(_), None) => Less,
        (Some(x), Some(y)) => {
            for (p, q) in x.iter().zip(&y) {
                let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Less,
                    (Err(_), Ok(_)) => Greater,
                    _ => p.cmp(q),
                };
                if o != Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
    }
}

/// Whether a server notice applies to this CLI context: no rules, or every rule holds.
pub fn notice_applies(notice: &Value, ctx: &BTreeMap<String, String>) -> bool {
    let Some(rules) = notice.pointer("/match/rules").and_then(Value::as_array) else {
        return true;
    };
    rules.iter().all(|rule| {
        let field = rule.get("field").and_then(Value::as_str).unwrap_or("");
        let op = rule.get("op").and_then(Value::as_str).unwrap_or("");
        let have = ctx.get(field).filter(|v| !v.is_empty() && *v != "false");
        let value = rule.get("value");
        let as_str = |v: &Value| super::results::str_field(Some(v)).unwrap_or_default();
        match op {
            "present" => have.is_some(),
            "absent" => have.is_none(),
            "equals" => have.is_some_and(|h| value.is_some_and(|v| as_str(v) == *h)),
            "in" | "not_in" => have.is_some_and(|h| {
                let list: Vec<String> = value
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(as_str).collect())
                    .unwrap_or_default();
                list.contains(h) == (op == "in")
            }),
            "lt" => have.is_some_and(|h| value.is_some_and(|v| semver_cmp(h, &as_str(v)).is_lt())),
            "gt" => have.is_some_and(|h| value.is_some_and(|v| semver_cmp(h, &as_str(v)).is_gt())),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> CompatData {
        CompatData::from_envelope(&json!({"statusCode": 200, "data": {
            "android": {"pixel-7": ["33", "34"], "pixel-6": ["34"], "old": []},
            "androidPlay": {"pixel-7": ["34"]},
            "ios": {"iphone-14": ["17", "18"], "iphone-16": {"versions": ["18", "26"], "deprecated": false}},
            "maestro": {"defaultVersion": "1.39.13", "latestVersion": "2.0.2",
                        "supportedVersions": ["1.39.13", "2.0.2"]},
            "encryption": {"defaultOn": true}
        }}))
        .unwrap()
    }

    fn req(p: Platform, d: Option<&str>, v: Option<&str>, play: bool) -> DeviceRequest {
        DeviceRequest {
            platform: p,
            device: d.map(str::to_string),
            version: v.map(str::to_string),
            google_play: play,
        }
    }

    #[test]
    fn envelope_shapes_and_errors() {
        let c = data();
        assert_eq!(c.ios["iphone-16"], vec!["18", "26"]);
        assert!(c.encryption_default_on);
        assert!(
            CompatData::from_envelope(&json!({"statusCode": 401, "message": "bad key"}))
                .unwrap_err()
                .contains("bad key")
        );
        assert!(CompatData::from_envelope(&json!({"statusCode": 200})).is_err());
    }

    #[test]
    fn maestro_version_resolution() {
        let m = data().maestro;
        assert_eq!(resolve_maestro_version(None, &m).unwrap(), "1.39.13");
        assert_eq!(
            resolve_maestro_version(Some("latest"), &m).unwrap(),
            "2.0.2"
        );
        assert_eq!(
            resolve_maestro_version(Some("1.0.0"), &m).unwrap_err(),
            "Maestro version 1.0.0 is not supported. Supported versions: 1.39.13, 2.0.2"
        );
    }

    #[test]
    fn device_validation_messages() {
        use Platform::*;
        let c = data();
        assert_eq!(validate_device(&req(Ios, None, None, false), &c), Ok(None));
        assert_eq!(
            validate_device(&req(Ios, Some("iphone-16"), Some("26"), false), &c),
            Ok(None)
        );
        assert_eq!(
            validate_device(&req(Ios, Some("iphone-99"), None, false), &c).unwrap_err(),
            format!(
                "iOS device \"iphone-99\" is not supported. Supported iOS devices: iphone-14, iphone-16. See {DEVICES_DOC}"
            )
        );
        assert_eq!(
            validate_device(&req(Android, Some("pixel-6"), Some("34"), true), &c).unwrap_err(),
            format!(
                "Android device \"pixel-6\" is not available with Google Play. Supported Google Play devices: pixel-7. See {DEVICES_DOC}"
            )
        );
        assert_eq!(
            validate_device(&req(Android, Some("pixel-7"), Some("29"), false), &c).unwrap_err(),
            "pixel-7 only supports these Android API levels: 33, 34"
        );
        let e = validate_device(&req(Ios, None, Some("26"), false), &c).unwrap_err();
        assert_eq!(
            e,
            "iphone-14 only supports these iOS versions: 17, 18. Devices offering 26: iphone-16"
        );
        let e = validate_device(&req(Ios, Some("iphone-16"), None, false), &c).unwrap_err();
        assert!(
            e.contains("The default (17) was checked") && e.contains("--ios-version"),
            "{e}"
        );
        // An unknown default device is left to the API.
        let mut c2 = c.clone();
        c2.android.remove("pixel-7");
        assert!(
            validate_device(&req(Android, None, Some("34"), false), &c2)
                .unwrap()
                .is_some()
        );
        assert!(validate_device(&req(Android, Some("old"), None, false), &c).is_err());
    }

    #[test]
    fn matrix_cells() {
        use Platform::*;
        assert_eq!(
            parse_matrix_cell(Ios, "iphone-16:18").unwrap(),
            req(Ios, Some("iphone-16"), Some("18"), false)
        );
        assert!(
            parse_matrix_cell(Android, "pixel-7:34:play")
                .unwrap()
                .google_play
        );
        for bad in ["iphone-16", "iphone-16:", ":18", "a:b:c"] {
            assert!(
                parse_matrix_cell(Ios, bad).unwrap_err().contains(bad),
                "{bad}"
            );
        }
        assert!(parse_matrix_cell(Android, "pixel-7:34:gold").is_err());
    }

    #[test]
    fn semver_precedence_pins() {
        use std::cmp::Ordering::*;
        for (a, b, o) in [
            ("5.0.0", "5.0.1", Less),
            ("4.9.0", "5.0.0", Less),
            ("5.0.0-beta.0", "5.0.0-beta.1", Less),
            ("5.0.0-beta.10", "5.0.0-beta.2", Greater),
            ("5.0.0-beta.1", "5.0.0", Less),
            ("5.0.0", "5.0.0", Equal),
            ("v5.0.0", "v5.0.1", Less),
            ("5.0", "5.0.1", Less),
            ("1.0.0-alpha", "1.0.0-alpha.1", Less),
            ("1.0.0-1", "1.0.0-alpha", Less),
            ("6.0.0-alpha.1", "5.99.99", Greater),
            ("6.0.0-alpha.1", "6.0.0", Less),
            ("6.0.0-alpha.1", "6.0.0-alpha.2", Less),
            ("6.0.0-alpha.10", "6.0.0-alpha.9", Greater),
            ("6.0.0-alpha.1", "6.0.0-beta", Less),
        ] {
            assert_eq!(semver_cmp(a, b), o, "{a} vs {b}");
        }
    }

    #[test]
    fn version_rules_see_the_successor_of_the_5_x_series() {
        let ctx: BTreeMap<String, String> =
            [("cli_version".to_string(), "6.0.0-alpha.1".to_string())].into();
        let rule = |op: &str, v: &str| {
            notice_applies(
                &json!({"match": {"rules": [{"field": "cli_version", "op": op, "value": v}]}}),
                &ctx,
            )
        };
        assert!(!rule("lt", "5.0.0"), "an 'older than 5' notice");
        assert!(!rule("lt", "5.99.0"));
        assert!(rule("gt", "5.99.0"));
        assert!(rule("lt", "6.0.0"), "a pre-release sorts below its release");
        assert!(rule("gt", "6.0.0-alpha.0"));
    }

    #[test]
    fn notice_rules() {
        let ctx: BTreeMap<String, String> = [
            ("runner_type", "gpu1"),
            ("cli_version", "0.1.0"),
            ("platform", "android"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let n = |rules: Value| json!({"match": {"rules": rules}});
        assert!(notice_applies(&json!({"match": null}), &ctx));
        assert!(notice_applies(
            &n(json!([{"field": "runner_type", "op": "equals", "value": "gpu1"}])),
            &ctx
        ));
        assert!(!notice_applies(
            &n(json!([{"field": "runner_type", "op": "equals", "value": "m4"}])),
            &ctx
        ));
        assert!(notice_applies(
            &n(json!([{"field": "ios_version", "op": "absent"}])),
            &ctx
        ));
        assert!(notice_applies(
            &n(json!([{"field": "cli_version", "op": "lt", "value": "5.0.0"}])),
            &ctx
        ));
        assert!(notice_applies(
            &n(json!([{"field": "platform", "op": "in", "value": ["ios", "android"]}])),
            &ctx
        ));
        assert!(!notice_applies(
            &n(json!([{"field": "platform", "op": "not_in", "value": ["android"]}])),
            &ctx
        ));
        assert!(!notice_applies(
            &n(json!([{"field": "ios_device", "op": "in", "value": ["x"]}])),
            &ctx
        ));
        assert!(!notice_applies(
            &n(json!([
            {"field": "platform", "op": "present"}, {"field": "runner_type", "op": "equals", "value": "m1"}])),
            &ctx
        ));
    }
}
