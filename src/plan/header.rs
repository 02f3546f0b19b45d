//! A flow's header (its first YAML document) as the plan keeps it — the `flowMetadata` JSON,
//! the name, the tags, the `DEVICECLOUD_OVERRIDE_*` entries — and the rule that tells a
//! workspace config file from a flow (docs/planning.md, "Flow files: header and steps").

use super::config;
use super::yaml::{self, js_truthy, scalar_string};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// What the plan keeps of a flow's header (document 1), worked out where the file is parsed
/// so the header's value tree is dropped there: for thousands of flows the trees were most of
/// planning's memory and allocations.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The header map as compact JSON, keys in file order: the flow's `flowMetadata` value.
    pub json: Box<str>,
    /// [`flow_name`]'s header part: `name` when it is a non-empty scalar.
    pub name: Option<String>,
    /// [`flow_tags`].
    pub tags: Vec<String>,
    /// [`overrides`].
    pub overrides: BTreeMap<String, String>,
}

impl Header {
    pub fn of(map: &Map<String, Value>) -> Header {
        let mut tags = flow_tags(Some(map));
        tags.shrink_to_fit();
        Header {
            json: serde_json::to_string(map)
                .unwrap_or_default()
                .into_boxed_str(),
            name: header_name(map),
            tags,
            overrides: overrides(map),
        }
    }

    /// The header map again (what `flowMetadata` sends for the flow).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }
}

/// The header's `name` when it is a non-empty scalar, as a string.
fn header_name(header: &Map<String, Value>) -> Option<String> {
    header
        .get("name")
        .filter(|v| js_truthy(v))
        .and_then(scalar_string)
}

/// The flow's name: its header `name` (a non-empty scalar), else the file stem.
pub fn flow_name(path: &Path, header: Option<&Header>) -> String {
    header
        .and_then(|h| h.name.clone())
        .unwrap_or_else(|| file_stem(path))
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The flow's tags as strings: a list's scalar members, or a single truthy scalar.
pub fn flow_tags(header: Option<&Map<String, Value>>) -> Vec<String> {
    match header.and_then(|h| h.get("tags")) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| scalar_string(v).unwrap_or_else(|| v.to_string()))
            .collect(),
        Some(v) if js_truthy(v) => vec![scalar_string(v).unwrap_or_else(|| v.to_string())],
        _ => Vec::new(),
    }
}

/// `DEVICECLOUD_OVERRIDE_*` entries of the header's `env` map, prefix stripped; values as
/// strings (maps/lists as JSON text; nulls dropped).
pub fn overrides(header: &Map<String, Value>) -> BTreeMap<String, String> {
    const PREFIX: &str = "DEVICECLOUD_OVERRIDE_";
    let mut out = BTreeMap::new();
    if let Some(Value::Object(env)) = header.get("env") {
        for (k, v) in env {
            if let Some(name) = k.strip_prefix(PREFIX) {
                if v.is_null() {
                    continue;
                }
                out.insert(
                    name.to_string(),
                    scalar_string(v).unwrap_or_else(|| v.to_string()),
                );
            }
        }
    }
    out
}

/// A YAML file with no header whose top level is a map with at least one workspace-config
/// key (docs/planning.md, "A workspace directory", step 5). Unparseable files are not
/// config-shaped.
pub fn is_config_shaped(parsed: &Result<yaml::FlowFile, String>) -> bool {
    parsed.as_ref().is_ok_and(config_shaped)
}

/// [`is_config_shaped`] of a file that parsed.
pub fn config_shaped(f: &yaml::FlowFile) -> bool {
    f.header.is_none()
        && f.steps.as_object().is_some_and(|m| {
            m.keys()
                .any(|k| config::WORKSPACE_CONFIG_KEYS.contains(&k.as_str()))
        })
}
