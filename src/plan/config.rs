//! The workspace config (`config.yaml`, or `--config`): validation and normalisation
//! (docs/planning.md, "Workspace config").
//!
//! The TS CLI validates it with a zod schema that keeps unknown keys (the whole config is
//! forwarded to the API as `workspaceConfig`, so `notifications` etc. work) but refuses the
//! shapes that have no sensible reading: a config that is not a map, and a malformed
//! `executionOrder` — which older TS releases silently ignored, so every flow ran in
//! parallel. Unknown top-level keys are a single warning with a "did you mean" per key.
//! The message texts are kept as the TS CLI prints them.

use super::yaml::{js_truthy, scalar_string};
use serde_json::{Map, Value};

/// The keys a workspace config may have, in the schema's order (also the keys that make a
/// YAML file "config-shaped").
pub const WORKSPACE_CONFIG_KEYS: [&str; 8] = [
    "excludeTags",
    "executionOrder",
    "flows",
    "includedPaths",
    "includeTags",
    "local",
    "notifications",
    "platform",
];

/// Near-misses that are not a casing slip, keyed lower-case.
const KEY_ALIASES: [(&str, &str); 11] = [
    ("assets", "includedPaths"),
    ("continueonfailure", "executionOrder.continueOnFailure"),
    ("excludetag", "excludeTags"),
    ("files", "includedPaths"),
    ("floworder", "executionOrder.flowsOrder"),
    ("flowsorder", "executionOrder.flowsOrder"),
    ("includedpath", "includedPaths"),
    ("includefiles", "includedPaths"),
    ("includepaths", "includedPaths"),
    ("includetag", "includeTags"),
    ("tags", "includeTags / excludeTags"),
];

/// The key the author probably meant: a real key differing only in case, else an alias.
pub fn suggest_key(key: &str) -> Option<&'static str> {
    let lower = key.to_lowercase();
    WORKSPACE_CONFIG_KEYS
        .iter()
        .find(|k| k.to_lowercase() == lower)
        .copied()
        .or_else(|| {
            KEY_ALIASES
                .iter()
                .find(|(alias, _)| *alias == lower)
                .map(|(_, real)| *real)
        })
}

/// Validates a parsed config (`file` names it in messages) and normalises it: tag lists
/// (scalar → list, numbers/booleans → strings, a null/false/empty scalar → `[]`) and
/// `executionOrder.continueOnFailure` defaulting to `true`. Unknown keys are kept and produce
/// one warning, pushed to `warnings`. A null config (empty file) is `{}`.
pub fn validate(raw: Value, file: &str, warnings: &mut Vec<String>) -> Result<Value, String> {
    let mut map = match raw {
        Value::Null => return Ok(Value::Object(Map::new())),
        Value::Object(m) => m,
        other => {
            let found = match other {
                Value::Array(_) => "a list".to_string(),
                v => format!("a {} value", js_typeof(&v)),
            };
            return Err(format!(
                "Invalid workspace config in {file}\n\nExpected a map of configuration keys ({}), \
                 but found {found}.",
                WORKSPACE_CONFIG_KEYS.join(", ")
            ));
        }
    };

    for key in ["includeTags", "excludeTags"] {
        if let Some(v) = map.get_mut(key) {
            normalise_tags(v);
        }
    }

    if let Some(problem) = map.get("executionOrder").and_then(execution_order_problem) {
        let found = map.get("executionOrder").cloned().unwrap_or(Value::Null);
        return Err(execution_order_error(file, problem, &found));
    }

    let unknown: Vec<&String> = map
        .keys()
        .filter(|k| !WORKSPACE_CONFIG_KEYS.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        let lines: Vec<String> = unknown
            .iter()
            .map(|k| match suggest_key(k) {
                Some(s) => format!("  {k} — did you mean {s}?"),
                None => format!("  {k}"),
            })
            .collect();
        warnings.push(format!(
            "Warning: unrecognised key(s) in {file} — these are ignored:\n{}\n\nSupported keys: {}",
            lines.join("\n"),
            WORKSPACE_CONFIG_KEYS.join(", ")
        ));
    }

    let mut issues = Vec::new();
    schema_issues(&map, &mut issues);
    if !issues.is_empty() {
        return Err(format!(
            "Invalid workspace config in {file}\n\n{}",
            issues.join("\n")
        ));
    }

    if let Some(Value::Object(eo)) = map.get_mut("executionOrder")
        && !eo.contains_key("continueOnFailure")
    {
        eo.insert("continueOnFailure".to_string(), Value::Bool(true));
    }
    Ok(Value::Object(map))
}

/// `includeTags: smoke` → `["smoke"]`; `[2, true]` → `["2", "true"]`; null/false/0/"" → `[]`
/// (the TS reader's falsy rule). Other members are left for the schema check to refuse.
fn normalise_tags(v: &mut Value) {
    let members = match std::mem::take(v) {
        Value::Array(a) => a,
        s if js_truthy(&s) => vec![s],
        _ => Vec::new(),
    };
    *v = Value::Array(
        members
            .into_iter()
            .map(|m| match m {
                Value::Number(_) | Value::Bool(_) => {
                    Value::String(scalar_string(&m).unwrap_or_default())
                }
                other => other,
            })
            .collect(),
    );
}

/// JS `typeof` of a parsed YAML value.
fn js_typeof(v: &Value) -> &'static str {
    match v {
        Value::Null | Value::Array(_) | Value::Object(_) => "object",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
    }
}

/// zod's name for the type it received.
fn zod_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
    }
}

fn execution_order_problem(v: &Value) -> Option<&'static str> {
    match v {
        Value::Null => None,
        Value::Array(_) => Some("a bare list of flow names"),
        Value::Object(m) => match m.get("flowsOrder") {
            None => Some("a map with no `flowsOrder` key"),
            Some(Value::Array(_)) => None,
            Some(_) => Some("a map whose `flowsOrder` is not a list"),
        },
        Value::String(_) => Some("a string value"),
        Value::Number(_) => Some("a number value"),
        Value::Bool(_) => Some("a boolean value"),
    }
}

fn execution_order_error(file: &str, problem: &str, found: &Value) -> String {
    let mut f = Map::new();
    f.insert("executionOrder".to_string(), found.clone());
    let expected = serde_json::json!({
        "executionOrder": {"continueOnFailure": true, "flowsOrder": ["first-flow", "second-flow"]}
    });
    format!(
        "Invalid `executionOrder` in {file}\n\n`executionOrder` must be a map containing a \
         `flowsOrder` list, but it is {problem}.\n\nFound:\n{}\n\nExpected:\n{}\n\nWithout \
         `flowsOrder` the flows are not sequenced — they all run in parallel.",
        indent(&dump(&Value::Object(f))),
        indent(&dump(&expected))
    )
}

fn indent(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The remaining schema checks (zod's messages: `  <path>: Invalid input: expected X, received Y`).
fn schema_issues(map: &Map<String, Value>, issues: &mut Vec<String>) {
    for key in ["excludeTags", "includeTags", "flows", "includedPaths"] {
        match map.get(key) {
            None | Some(Value::Null) => {}
            Some(v) => expect_string_list(issues, key, v),
        }
    }
    if let Some(Value::Object(eo)) = map.get("executionOrder") {
        execution_order_issues(eo, issues);
    }
    if expect_object(issues, "local", map.get("local"), true) {
        local_issues(&map["local"], issues);
    }
    if expect_object(issues, "notifications", map.get("notifications"), true) {
        notifications_issues(&map["notifications"], issues);
    }
    if expect_object(issues, "platform", map.get("platform"), true) {
        platform_issues(&map["platform"], issues);
    }
}

/// Records one zod-style issue: `  <path>: Invalid input: expected <expected>, received <type>`.
fn expect(issues: &mut Vec<String>, path: &str, expected: &str, v: &Value) {
    issues.push(format!(
        "  {path}: Invalid input: expected {expected}, received {}",
        zod_type(v)
    ));
}

/// Checks that `v` is a list of strings: an issue for a non-list, else one per non-string item
/// (at `<path>.<index>`).
fn expect_string_list(issues: &mut Vec<String>, path: &str, v: &Value) {
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_string() {
                    expect(issues, &format!("{path}.{i}"), "string", item);
                }
            }
        }
        other => expect(issues, path, "array", other),
    }
}

/// Checks an optional object field (null allowed when `nullable`); true when it is present and
/// an object, so its own fields are to be checked.
fn expect_object(issues: &mut Vec<String>, path: &str, v: Option<&Value>, nullable: bool) -> bool {
    match v {
        None => false,
        Some(Value::Null) if nullable => false,
        Some(Value::Object(_)) => true,
        Some(other) => {
            expect(issues, path, "object", other);
            false
        }
    }
}

/// Checks an optional boolean field (null allowed when `nullable`).
fn expect_boolean(issues: &mut Vec<String>, path: &str, v: Option<&Value>, nullable: bool) {
    match v {
        None | Some(Value::Bool(_)) => {}
        Some(Value::Null) if nullable => {}
        Some(other) => expect(issues, path, "boolean", other),
    }
}

/// `executionOrder` (already known to be a map): `continueOnFailure` and `flowsOrder`.
fn execution_order_issues(eo: &Map<String, Value>, issues: &mut Vec<String>) {
    match eo.get("continueOnFailure") {
        None | Some(Value::Bool(_)) => {}
        Some(v) => expect(issues, "executionOrder.continueOnFailure", "boolean", v),
    }
    if let Some(v) = eo.get("flowsOrder") {
        expect_string_list(issues, "executionOrder.flowsOrder", v);
    }
}

/// `local` (already known to be a map): `deterministicOrder`.
fn local_issues(local: &Value, issues: &mut Vec<String>) {
    expect_boolean(
        issues,
        "local.deterministicOrder",
        local.get("deterministicOrder"),
        true,
    );
}

/// `notifications` (already known to be a map): the `email` map's `enabled`, `onSuccess` and
/// `recipients`.
fn notifications_issues(n: &Value, issues: &mut Vec<String>) {
    if !expect_object(issues, "notifications.email", n.get("email"), false) {
        return;
    }
    let e = &n["email"];
    expect_boolean(
        issues,
        "notifications.email.enabled",
        e.get("enabled"),
        false,
    );
    expect_boolean(
        issues,
        "notifications.email.onSuccess",
        e.get("onSuccess"),
        false,
    );
    if let Some(r) = e.get("recipients") {
        expect_string_list(issues, "notifications.email.recipients", r);
    }
}

/// `platform` (already known to be a map): `android` / `ios` maps and their
/// `disableAnimations`.
fn platform_issues(p: &Value, issues: &mut Vec<String>) {
    for os in ["android", "ios"] {
        let path = format!("platform.{os}");
        if expect_object(issues, &path, p.get(os), false) {
            expect_boolean(
                issues,
                &format!("{path}.disableAnimations"),
                p[os].get("disableAnimations"),
                false,
            );
        }
    }
}

/// A small block-style YAML emitter in js-yaml's `dump` style, for error messages.
pub fn dump(v: &Value) -> String {
    let mut out = String::new();
    dump_into(v, 0, &mut out);
    out
}

fn dump_into(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, val) in m {
                out.push_str(&format!("{pad}{}:", scalar_text(&Value::String(k.clone()))));
                dump_child(val, indent, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                out.push_str(&format!("{pad}-"));
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        // First key on the dash line, the rest aligned under it.
                        let mut inner = String::new();
                        dump_into(item, indent + 2, &mut inner);
                        out.push(' ');
                        out.push_str(inner.trim_start());
                    }
                    _ => dump_child(item, indent, out),
                }
            }
        }
        other => {
            out.push_str(&format!("{pad}{}\n", scalar_text(other)));
        }
    }
}

fn dump_child(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            dump_into(v, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            dump_into(v, indent + 2, out);
        }
        other => out.push_str(&format!(" {}\n", scalar_text(other))),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
        Value::String(s) => {
            let plain = !s.is_empty()
                && super::yaml::resolve_plain(s) == Value::String(s.clone())
                && !s.starts_with([
                    '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'',
                    '"', '%', '@', '`', ' ',
                ])
                && !s.ends_with(' ')
                && !s.contains(": ")
                && !s.contains(" #")
                && !s.contains('\n');
            if plain {
                s.clone()
            } else {
                format!("'{}'", s.replace('\'', "''"))
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> (Result<Value, String>, Vec<String>) {
        let mut w = Vec::new();
        let r = validate(v, "/ws/config.yaml", &mut w);
        (r, w)
    }

    #[test]
    fn tags_are_normalised_to_string_lists() {
        let (r, w) = check(json!({"includeTags": "smoke", "excludeTags": [2, true, "x"]}));
        assert_eq!(
            r.unwrap(),
            json!({"includeTags": ["smoke"], "excludeTags": ["2", "true", "x"]})
        );
        assert!(w.is_empty());
        let (r, _) = check(json!({"includeTags": null, "excludeTags": 7}));
        assert_eq!(r.unwrap(), json!({"includeTags": [], "excludeTags": ["7"]}));
    }

    #[test]
    fn a_config_that_is_not_a_map_lists_the_supported_keys() {
        let (r, _) = check(json!(["a", "b"]));
        assert_eq!(
            r.unwrap_err(),
            "Invalid workspace config in /ws/config.yaml\n\nExpected a map of configuration keys \
             (excludeTags, executionOrder, flows, includedPaths, includeTags, local, \
             notifications, platform), but found a list."
        );
        assert!(
            check(json!("x"))
                .0
                .unwrap_err()
                .ends_with("but found a string value.")
        );
        assert_eq!(check(Value::Null).0.unwrap(), json!({}));
    }

    #[test]
    fn a_bare_list_execution_order_is_a_hard_error_showing_found_and_expected() {
        let (r, _) = check(json!({"executionOrder": ["login", "checkout"]}));
        assert_eq!(
            r.unwrap_err(),
            "Invalid `executionOrder` in /ws/config.yaml\n\n`executionOrder` must be a map \
             containing a `flowsOrder` list, but it is a bare list of flow names.\n\nFound:\n    \
             executionOrder:\n      - login\n      - checkout\n\nExpected:\n    executionOrder:\n      \
             continueOnFailure: true\n      flowsOrder:\n        - first-flow\n        - \
             second-flow\n\nWithout `flowsOrder` the flows are not sequenced — they all run in \
             parallel."
        );
    }

    #[test]
    fn other_malformed_execution_orders() {
        let msg = |v: Value| check(json!({ "executionOrder": v })).0.unwrap_err();
        assert!(msg(json!("x")).contains("but it is a string value."));
        assert!(msg(json!(3)).contains("but it is a number value."));
        assert!(
            msg(json!({"continueOnFailure": false})).contains("a map with no `flowsOrder` key")
        );
        assert!(msg(json!({"flowsOrder": "a"})).contains("a map whose `flowsOrder` is not a list"));
        assert!(msg(json!({"flowsOrder": null})).contains("is not a list"));
        assert!(check(json!({"executionOrder": null})).0.is_ok());
    }

    #[test]
    fn continue_on_failure_defaults_to_true() {
        let (r, _) = check(json!({"executionOrder": {"flowsOrder": ["a"]}}));
        assert_eq!(
            r.unwrap()["executionOrder"],
            json!({"flowsOrder": ["a"], "continueOnFailure": true})
        );
    }

    #[test]
    fn unknown_keys_are_one_warning_with_suggestions_and_are_kept() {
        let (r, w) = check(json!({"Flows": ["*"], "assets": [], "tags": "x", "zzz": 1}));
        assert_eq!(r.unwrap()["zzz"], json!(1));
        assert_eq!(w.len(), 1);
        assert_eq!(
            w[0],
            "Warning: unrecognised key(s) in /ws/config.yaml — these are ignored:\n  Flows — did \
             you mean flows?\n  assets — did you mean includedPaths?\n  tags — did you mean \
             includeTags / excludeTags?\n  zzz\n\nSupported keys: excludeTags, executionOrder, \
             flows, includedPaths, includeTags, local, notifications, platform"
        );
        assert_eq!(suggest_key("FLOWSORDER"), Some("executionOrder.flowsOrder"));
        assert_eq!(suggest_key("includepaths"), Some("includedPaths"));
        assert_eq!(suggest_key("nothing"), None);
    }

    #[test]
    fn wrong_types_are_schema_errors() {
        let (r, _) = check(
            json!({"flows": "*.yaml", "platform": {"ios": {"disableAnimations": "yes"}},
                                   "executionOrder": {"flowsOrder": [1], "continueOnFailure": "no"}}),
        );
        assert_eq!(
            r.unwrap_err(),
            "Invalid workspace config in /ws/config.yaml\n\n  flows: Invalid input: expected \
             array, received string\n  executionOrder.continueOnFailure: Invalid input: expected \
             boolean, received string\n  executionOrder.flowsOrder.0: Invalid input: expected \
             string, received number\n  platform.ios.disableAnimations: Invalid input: expected \
             boolean, received string"
        );
        let (r, _) = check(
            json!({"notifications": {"email": {"recipients": ["a@b.c"], "enabled": true}},
                                   "local": null, "platform": null}),
        );
        assert!(r.is_ok());
    }

    #[test]
    fn dump_quotes_what_would_not_read_back_as_a_string() {
        assert_eq!(
            dump(
                &json!({"a": ["x", "1", "true", "", "a: b", 2, null], "b": {}, "c": [{"k": 1, "l": 2}]})
            ),
            "a:\n  - x\n  - '1'\n  - 'true'\n  - ''\n  - 'a: b'\n  - 2\n  - null\nb: {}\nc:\n  - k: 1\n    l: 2\n"
        );
    }
}
