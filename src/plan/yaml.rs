//! YAML → `serde_json::Value`, and the Maestro flow-file split into header and steps.
//!
//! Flow files and `config.yaml` are user input that ends up, converted to JSON, in the
//! submission payload (`flowMetadata`, `workspaceConfig`). The TS CLI used js-yaml; this module
//! drives yaml-rust2's event parser directly (not its `YamlLoader`) so that nesting depth and
//! alias expansion are bounded — a hostile or broken file gives an error, never a stack
//! overflow or an out-of-memory — and builds JSON values in one pass. Scalars are resolved like
//! js-yaml's core schema (the TS behaviour): `null`/`~`/empty → null, `true`/`false` (three
//! casings) → bool, decimal/`0x`/`0o`/`0b` integers, YAML floats (non-finite → null, as
//! `JSON.stringify` does), everything else a string; quoted scalars stay strings. Custom tags
//! (`!foo`) are dropped and the scalar is resolved as if untagged. Map keys become their string
//! form.

use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

/// Deepest nesting of sequences/maps accepted (Maestro flows are a handful of levels deep).
pub const MAX_DEPTH: usize = 200;
/// Most nodes one file may expand to, aliases included (guards against "billion laughs").
pub const MAX_NODES: usize = 2_000_000;

/// A flow file split into header and steps the way the TS CLI's `readTestYamlFileAsJson` does
/// (see [`parse_flow_text`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowFile {
    /// Document 1 when the file has a `---` separator and that document is a non-empty map.
    pub header: Option<Map<String, Value>>,
    /// The steps: everything after the first separator, or the whole file when there is no
    /// header. `Value::Null` for an empty document.
    pub steps: Value,
}

/// Parses every document of `text` (a multi-document stream gives several values; an empty
/// document gives `Null`). The error is the parser's message with its position.
pub fn load_docs(text: &str) -> Result<Vec<Value>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser::new_from_str(text);
    let mut b = Builder::default();
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| e.to_string())?;
        let at = || format!(" at line {} column {}", mark.line(), mark.col() + 1);
        match ev {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart => {}
            Event::DocumentStart => {
                b.doc = None;
                b.anchors.clear();
            }
            Event::DocumentEnd => {
                let v = b.doc.take().unwrap_or(Value::Null);
                b.docs.push(v);
                b.stack.clear();
            }
            Event::SequenceStart(aid, _) => {
                b.open(Frame::Seq(Vec::new()), aid)
                    .map_err(|e| format!("{e}{}", at()))?;
            }
            Event::MappingStart(aid, _) => {
                b.open(Frame::Map(Map::new(), None), aid)
                    .map_err(|e| format!("{e}{}", at()))?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                b.close().map_err(|e| format!("{e}{}", at()))?;
            }
            Event::Scalar(v, style, aid, tag) => {
                let value = resolve_scalar(v, style, tag.as_ref());
                b.count(1).map_err(|e| format!("{e}{}", at()))?;
                b.insert(value, aid).map_err(|e| format!("{e}{}", at()))?;
            }
            Event::Alias(id) => {
                let (value, size) = b.anchors.get(&id).cloned().unwrap_or((Value::Null, 1));
                b.count(size).map_err(|e| format!("{e}{}", at()))?;
                b.insert(value, 0).map_err(|e| format!("{e}{}", at()))?;
            }
        }
    }
    Ok(b.docs)
}

/// Parses `text` as exactly one document (`null` when empty); several documents are an error,
/// as with js-yaml's `load`.
pub fn load_single(text: &str) -> Result<Value, String> {
    let mut docs = load_docs(text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.pop().unwrap_or(Value::Null)),
        _ => Err("expected a single document in the stream, but found more".to_string()),
    }
}

/// `readTestYamlFileAsJson` on text: CRLF → LF; a `---` line with trailing spaces/tabs becomes
/// `---`; if `\n---\n` occurs, document 1 is the header (kept only if it is a non-empty map)
/// and everything after the first separator, the pieces rejoined with `\n`, is the steps.
/// Otherwise (or when document 1 is not a non-empty map) the whole file is the steps.
pub fn parse_flow_text(text: &str) -> Result<FlowFile, String> {
    let lf = if text.contains('\r') {
        std::borrow::Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    let normalized = normalize_separators(&lf);
    if normalized.contains("\n---\n") {
        let mut parts = normalized.split("\n---\n");
        let head = parts.next().unwrap_or("");
        if let Value::Object(header) = load_single(head)?
            && !header.is_empty()
        {
            let rest: Vec<&str> = parts.collect();
            let steps = load_single(&rest.join("\n"))?;
            return Ok(FlowFile {
                header: Some(header),
                steps,
            });
        }
    }
    Ok(FlowFile {
        header: None,
        steps: load_single(&normalized)?,
    })
}

/// Replaces every non-overlapping `\n---[ \t]*\n` with `\n---\n`, scanning left to right like
/// the JS regex `/\n---[\t ]*\n/g`.
fn normalize_separators(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    // Allocated only at the first separator that has blanks to drop (most files have none).
    let mut out: Option<String> = None;
    let mut i = 0;
    let mut copied = 0;
    while let Some(at) = text[i..].find("\n---").map(|k| i + k) {
        let mut j = at + 4;
        while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'\n' {
            if j > at + 4 {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[copied..at]);
                o.push_str("\n---\n");
                copied = j + 1;
            }
            i = j + 1;
        } else {
            i = at + 1;
        }
    }
    match out {
        None => std::borrow::Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            std::borrow::Cow::Owned(o)
        }
    }
}

/// A container being built.
enum Frame {
    Seq(Vec<Value>),
    /// The map and the key waiting for its value.
    Map(Map<String, Value>, Option<String>),
}

#[derive(Default)]
struct Builder {
    docs: Vec<Value>,
    doc: Option<Value>,
    /// Open containers with their anchor id and the node count when they opened.
    stack: Vec<(Frame, usize, usize)>,
    /// Anchored values with their node counts.
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
}

impl Builder {
    fn count(&mut self, n: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(format!("document expands to more than {MAX_NODES} nodes"));
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, aid: usize) -> Result<(), String> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        self.count(1)?;
        let start = self.nodes;
        self.stack.push((frame, aid, start));
        Ok(())
    }

    fn close(&mut self) -> Result<(), String> {
        let Some((frame, aid, start)) = self.stack.pop() else {
            return Ok(());
        };
        let value = match frame {
            Frame::Seq(v) => Value::Array(v),
            Frame::Map(m, _) => Value::Object(m),
        };
        if aid > 0 {
            let size = self.nodes - start + 1;
            self.anchors.insert(aid, (value.clone(), size));
        }
        self.place(value)
    }

    fn insert(&mut self, value: Value, aid: usize) -> Result<(), String> {
        if aid > 0 {
            self.anchors.insert(aid, (value.clone(), 1));
        }
        self.place(value)
    }

    fn place(&mut self, value: Value) -> Result<(), String> {
        match self.stack.last_mut() {
            None => {
                self.doc = Some(value);
                Ok(())
            }
            Some((Frame::Seq(v), _, _)) => {
                v.push(value);
                Ok(())
            }
            Some((Frame::Map(m, pending), _, _)) => match pending.take() {
                None => {
                    *pending = Some(match value {
                        Value::String(s) => s,
                        other => key_string(&other),
                    });
                    Ok(())
                }
                Some(key) => match m.entry(key) {
                    serde_json::map::Entry::Occupied(o) => {
                        Err(format!("duplicated key in mapping: {:?}", o.key()))
                    }
                    serde_json::map::Entry::Vacant(v) => {
                        v.insert(value);
                        Ok(())
                    }
                },
            },
        }
    }
}

/// The string a YAML key becomes in JSON (JS `String(key)` for scalars, compact JSON otherwise).
pub fn key_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Resolves one scalar like js-yaml's core schema (see the module header).
fn resolve_scalar(v: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(v);
    }
    if let Some(t) = tag
        && t.handle == "tag:yaml.org,2002:"
    {
        let plain = resolve_plain(&v);
        return match t.suffix.as_str() {
            "str" => Value::String(v),
            "int" | "float" if plain.is_number() => plain,
            "bool" if plain.is_boolean() => plain,
            "null" if plain.is_null() => plain,
            "int" | "float" | "bool" | "null" => Value::Null,
            _ => plain,
        };
    }
    resolve_owned(v)
}

/// [`resolve_plain`] of an owned scalar: a string stays the same allocation.
fn resolve_owned(v: String) -> Value {
    match resolve_plain_typed(&v) {
        Some(typed) => typed,
        None => Value::String(v),
    }
}

/// Resolves an untagged plain scalar.
pub fn resolve_plain(s: &str) -> Value {
    resolve_plain_typed(s).unwrap_or_else(|| Value::String(s.to_string()))
}

/// A plain scalar's value when it is not a string (null, a boolean, a number).
fn resolve_plain_typed(s: &str) -> Option<Value> {
    // Every typed form starts with one of these bytes (or is empty); most scalars of a flow
    // (commands, ids, labels) start with another letter and are strings at once.
    match s.as_bytes().first() {
        Some(b'~' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'.' | b'+' | b'-' | b'0'..=b'9')
        | None => typed_by_rules(s),
        Some(_) => None,
    }
}

/// The rules of [`resolve_plain_typed`], for any first byte.
fn typed_by_rules(s: &str) -> Option<Value> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return Some(Value::Null),
        _ => {}
    }
    if let Some(n) = parse_int(s) {
        return Some(n);
    }
    if is_yaml_float(s)
        && let Ok(f) = s.parse::<f64>()
    {
        return Some(number_from_f64(f));
    }
    None
}

fn parse_int(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b") {
        (2, d)
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    match i64::from_str_radix(digits, radix) {
        Ok(n) => Some(Value::from(if neg { -n } else { n })),
        // Beyond i64: a JS number (a float) for decimal, as js-yaml would give.
        Err(_) if radix == 10 => s.parse::<f64>().ok().map(number_from_f64),
        Err(_) => Some(Value::String(s.to_string())),
    }
}

/// YAML 1.2 core float: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// A JSON number the way JavaScript would print it: integral values in the safe range are
/// integers (`1.0` → `1`), non-finite values are `null`.
fn number_from_f64(f: f64) -> Value {
    if !f.is_finite() {
        return Value::Null;
    }
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        return Value::from(f as i64);
    }
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// The string form of a scalar as JS `String(value)` gives it (tags, names, overrides).
/// `None` for null, maps and lists.
pub fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// JavaScript truthiness of a parsed value (`null`, `false`, `0` and `""` are falsy).
pub fn js_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        load_single(text).unwrap()
    }

    #[test]
    fn the_first_byte_shortcut_changes_no_answer() {
        // Every string of up to 3 pieces from an alphabet of the bytes that matter, and the
        // longer typed words: the shortcut gives what the full rules give.
        let alphabet = [
            "", "~", "n", "N", "t", "T", "f", "F", ".", "+", "-", "0", "7", "x", "o", "b", "e",
            "E", "i", "a", "u", "l", "r", "s", " ", "_", "é",
        ];
        let typed = "null Null NULL true True TRUE false False FALSE .inf -.Inf +.INF .nan .NaN \
                     0x1F 0o17 0b101 1e5 -2.5E-3 99999999999999999999";
        let mut words: Vec<String> = typed.split_whitespace().map(String::from).collect();
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    words.push(format!("{a}{b}{c}"));
                }
            }
        }
        for w in &words {
            assert_eq!(resolve_plain_typed(w), typed_by_rules(w), "{w:?}");
        }
    }

    #[test]
    fn scalars_resolve_like_the_core_schema() {
        let v = one(
            "a: 1\nb: -2\nc: 1.5\nd: 1.0\ne: true\nf: False\ng: ~\nh:\ni: 'true'\nj: \"1\"\n\
             k: 0x1F\nl: 0o17\nm: 1e3\nn: .inf\no: yes\np: 12345678901234567890\nq: 1.2.3\n\
             r: NULL\ns: +5\nt: .5\n",
        );
        assert_eq!(
            v,
            json!({"a": 1, "b": -2, "c": 1.5, "d": 1, "e": true, "f": false, "g": null,
                   "h": null, "i": "true", "j": "1", "k": 31, "l": 15, "m": 1000, "n": null,
                   "o": "yes", "p": 12345678901234567000.0, "q": "1.2.3", "r": null, "s": 5,
                   "t": 0.5})
        );
    }

    #[test]
    fn non_string_keys_become_their_string_form() {
        let v = one("1: a\ntrue: b\n~: c\n1.5: d\n[x, y]: e\n");
        assert_eq!(
            v,
            json!({"1": "a", "true": "b", "null": "c", "1.5": "d", "[\"x\",\"y\"]": "e"})
        );
    }

    #[test]
    fn custom_tags_are_dropped_and_core_tags_honoured() {
        let v = one("a: !custom 5\nb: !!str 5\nc: !!int 7\nd: !!int nope\ne: !thing [1]\n");
        assert_eq!(v, json!({"a": 5, "b": "5", "c": 7, "d": null, "e": [1]}));
    }

    #[test]
    fn anchors_and_aliases_expand() {
        let v = one("base: &b {x: 1}\nuse: *b\nlist: &l [1, 2]\nagain: *l\n");
        assert_eq!(
            v,
            json!({"base": {"x": 1}, "use": {"x": 1}, "list": [1, 2], "again": [1, 2]})
        );
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_errors_not_crashes() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            let refs = vec![format!("*{prev}"); 10].join(", ");
            bomb.push_str(&format!("b{i}: &b{i} [{refs}]\n"));
        }
        assert!(load_docs(&bomb).unwrap_err().contains("nodes"));
        let deep = "- ".repeat(5000) + "x";
        assert!(load_docs(&deep).unwrap_err().contains("nesting"));
        let deep_flow = "[".repeat(250) + &"]".repeat(250);
        assert!(load_docs(&deep_flow).is_err());
    }

    #[test]
    fn multi_document_streams_give_every_document() {
        assert_eq!(
            load_docs("a: 1\n---\n- b\n---\n").unwrap(),
            vec![json!({"a": 1}), json!(["b"]), Value::Null]
        );
        assert_eq!(load_docs("").unwrap(), Vec::<Value>::new());
        assert!(load_single("a: 1\n---\nb: 2\n").is_err());
        assert_eq!(load_single("# only a comment\n").unwrap(), Value::Null);
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_are_reported() {
        assert!(
            load_docs("a: 1\na: 2\n")
                .unwrap_err()
                .contains("duplicated key")
        );
        let e = load_docs("a: [1, 2\n").unwrap_err();
        assert!(e.contains("line"), "{e}");
    }

    #[test]
    fn a_bom_is_ignored() {
        assert_eq!(one("\u{feff}a: 1\n"), json!({"a": 1}));
    }

    #[test]
    fn header_and_steps_split_on_the_first_separator() {
        let f = parse_flow_text("appId: x\nname: Login\n---\n- launchApp\n- tapOn: OK\n").unwrap();
        assert_eq!(
            f.header,
            Some(
                json!({"appId": "x", "name": "Login"})
                    .as_object()
                    .unwrap()
                    .clone()
            )
        );
        assert_eq!(f.steps, json!(["launchApp", {"tapOn": "OK"}]));
    }

    #[test]
    fn crlf_and_trailing_blanks_on_separators_are_normalised() {
        let f = parse_flow_text("appId: x\r\n--- \t\r\n- launchApp\r\n").unwrap();
        assert_eq!(f.header.unwrap()["appId"], json!("x"));
        assert_eq!(f.steps, json!(["launchApp"]));
    }

    #[test]
    fn later_separators_are_rejoined_into_the_steps() {
        let f = parse_flow_text("appId: x\n---\n- a\n---\n- b\n").unwrap();
        assert_eq!(f.steps, json!(["a", "b"]));
    }

    #[test]
    fn no_header_when_the_first_document_is_not_a_non_empty_map() {
        let f = parse_flow_text("- launchApp\n").unwrap();
        assert_eq!((f.header, f.steps), (None, json!(["launchApp"])));
        // Leading `---` only: a single document.
        let f = parse_flow_text("---\n- launchApp\n").unwrap();
        assert_eq!((f.header, f.steps), (None, json!(["launchApp"])));
        // Empty first document: the whole file is read (a `---` then a document).
        let f = parse_flow_text("\n---\n- launchApp\n").unwrap();
        assert_eq!((f.header, f.steps), (None, json!(["launchApp"])));
        // `{}` header: not kept; the whole file has two documents → error like js-yaml.
        assert!(parse_flow_text("{}\n---\n- a\n").is_err());
        // A map without separator: header None, steps the map.
        let f = parse_flow_text("flows:\n  - a.yaml\n").unwrap();
        assert_eq!(f.header, None);
        assert_eq!(f.steps, json!({"flows": ["a.yaml"]}));
    }

    #[test]
    fn separator_scan_matches_the_js_regex() {
        assert_eq!(normalize_separators("a\n---  \nb"), "a\n---\nb");
        assert_eq!(normalize_separators("a\n--- x\nb"), "a\n--- x\nb");
        assert_eq!(normalize_separators("a\n---\n---\nb"), "a\n---\n---\nb");
        assert_eq!(normalize_separators("a\n---"), "a\n---");
        assert_eq!(normalize_separators("a\n----\nb"), "a\n----\nb");
        assert_eq!(
            normalize_separators("a\n--- \nb\n---\nc\n---\t\nd"),
            "a\n---\nb\n---\nc\n---\nd"
        );
        // Nothing to drop: the text itself, not a copy.
        assert!(matches!(
            normalize_separators("h: 1\n---\n- a\n"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn empty_files_have_null_steps() {
        let f = parse_flow_text("").unwrap();
        assert_eq!((f.header, f.steps), (None, Value::Null));
        let f = parse_flow_text("appId: x\n---\n").unwrap();
        assert_eq!(f.steps, Value::Null);
        assert!(f.header.is_some());
    }
}
