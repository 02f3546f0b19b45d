//! Property tests: every parser of untrusted input (API JSON, config.json, timestamps,
//! server text, argv) survives arbitrary input without panicking, and keeps its invariants.
//! Seeded, so a failure names the seed that reproduces it.

use crate::support::lib::parsers::{self, ResultRow, UploadStatus, parse_results};
use serde_json::{Map, Value, json};

use crate::support::rng::Rng;

const KEYS: &[&str] = &[
    "id",
    "test_file_name",
    "status",
    "retry_of",
    "fail_reason",
    "duration_seconds",
    "simulator_name",
    "config",
    "deviceName",
    "osVersion",
    "cancellation_reason",
    "results",
    "statusCode",
    "message",
    "uploadId",
    "tests",
    "name",
    "durationSeconds",
    "failReason",
    "version",
    "session",
    "access_token",
    "expires_at",
    "current_org_id",
    "supersededBy",
];
const STRINGS: &[&str] = &[
    "",
    "PASSED",
    "FAILED",
    "RUNNING",
    "superseded_by:",
    "superseded_by:x",
    "12",
    "-1",
    "1e400",
    "NaN",
    "\u{202e}evil",
    "\x1b[2J",
    "::error::x",
    "ü",
    "\n\n",
    "9223372036854775808",
];

fn value(r: &mut Rng, depth: u32) -> Value {
    match r.below(if depth > 3 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(r.below(2) == 0),
        2 => json!(r.next() as i64),
        3 => json!((r.next() as f64) / 1e9 - 1e9),
        4 => json!(r.below(5) as i64 - 1),
        5 => Value::String(r.pick(STRINGS).to_string()),
        6 => Value::Array((0..r.below(5)).map(|_| value(r, depth + 1)).collect()),
        _ => {
            let mut m = Map::new();
            for _ in 0..r.below(8) {
                m.insert(r.pick(KEYS).to_string(), value(r, depth + 1));
            }
            Value::Object(m)
        }
    }
}

#[test]
fn api_dto_parsers_never_panic_on_arbitrary_json() {
    for seed in 1..=20_000u64 {
        let mut r = Rng::new(seed);
        let v = value(&mut r, 0);
        let wrapped =
            json!({"results": [v.clone(), value(&mut r, 1)], "statusCode": value(&mut r, 3)});
        let result = std::panic::catch_unwind(|| {
            let _ = parse_results(&v);
            if let Ok(rows) = parse_results(&wrapped) {
                // Invariants the loop relies on.
                let latest = parsers::latest_tries(&rows);
                assert!(latest.len() <= rows.len());
                let _ = parsers::verdict(&latest);
                for row in &rows {
                    assert!(row.duration_seconds.is_none_or(f64::is_finite));
                }
            }
            let _ = ResultRow::from_value(&v);
            let _ = UploadStatus::from_value(&v);
        });
        assert!(result.is_ok(), "seed {seed} panicked on {v}");
    }
}

/// A results array is read whole or not at all: either every element becomes a row, or the
/// poll fails saying rows could not be read — never a verdict over a subset.
#[test]
fn results_are_read_whole_or_not_at_all() {
    for seed in 1..=5_000u64 {
        let mut r = Rng::new(seed);
        let n = r.below(6) as usize;
        let elems: Vec<Value> = (0..n)
            .map(|i| {
                if r.chance(30) {
                    return value(&mut r, 1);
                }
                let mut row = json!({"id": i, "test_file_name": "./a.yaml",
                    "status": r.pick(&["PASSED", "FAILED", "RUNNING"])});
                if r.chance(50) {
                    row["retry_of"] = json!(r.below(6));
                }
                if r.chance(20) {
                    let k = r.pick(&["id", "status", "retry_of", "test_file_name"]);
                    row[k] = value(&mut r, 2);
                }
                row
            })
            .collect();
        let body = json!({ "results": elems });
        match parse_results(&body) {
            Ok(rows) => {
                assert_eq!(rows.len(), n, "seed {seed}: {body}");
                let latest = dcd::domain::verdict::latest_tries(&rows);
                assert!(latest.len() <= rows.len());
            }
            Err(e) => assert!(
                e.contains("could not be read") && !e.contains('\n'),
                "seed {seed}: {e}"
            ),
        }
    }
}

#[test]
fn config_parser_never_panics_on_arbitrary_bytes_or_json() {
    for seed in 1..=20_000u64 {
        let mut r = Rng::new(seed);
        let mut bytes = if r.below(2) == 0 {
            let mut v = value(&mut r, 0);
            if let Value::Object(m) = &mut v {
                m.insert("version".into(), json!(1));
            }
            v.to_string().into_bytes()
        } else {
            (0..r.below(64)).map(|_| r.next() as u8).collect()
        };
        // Truncate or flip a byte of valid JSON now and then.
        if !bytes.is_empty() && r.below(3) == 0 {
            let i = r.below(bytes.len() as u64) as usize;
            bytes[i] ^= 1 << r.below(8);
        }
        let res = std::panic::catch_unwind(|| parsers::parse_config(&bytes));
        assert!(
            res.is_ok(),
            "seed {seed} panicked on {:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn text_parsers_never_panic_and_sanitised_text_is_safe() {
    for seed in 1..=20_000u64 {
        let mut r = Rng::new(seed);
        let s: String = (0..r.below(40))
            .map(|_| match r.below(4) {
                0 => char::from_u32(r.below(0x80) as u32).unwrap_or('?'),
                1 => char::from_u32(0x80 + r.below(0x2000) as u32).unwrap_or('?'),
                2 => r
                    .pick(&["-", ":", "T", "Z", "+", "0", "9", "\u{202e}", "\u{1b}"])
                    .chars()
                    .next()
                    .unwrap(),
                _ => char::from_u32(r.below(0x11_0000) as u32).unwrap_or('?'),
            })
            .collect();
        let res = std::panic::catch_unwind(|| {
            let _ = parsers::parse_iso(&s);
            let _ = parsers::iso_utc(&s);
            let clean = parsers::clean(&s);
            assert!(
                !clean.chars().any(|c| c.is_control()),
                "control char left: {clean:?}"
            );
            assert!(!clean.starts_with("::"));
            assert!(!clean.contains('\u{202e}'));
            let t = parsers::truncate(&clean, 10);
            assert!(parsers::visible_width(&t) <= 10);
        });
        assert!(res.is_ok(), "seed {seed} panicked on {s:?}");
    }
}

#[test]
fn argv_parser_never_panics() {
    let words = [
        "status",
        "cloud",
        "--upload-id",
        "--name",
        "--json",
        "--no-json",
        "--json=1",
        "-q",
        "-e",
        "K=V",
        "--env",
        "--retry",
        "x",
        "3",
        "--timeout",
        "0",
        "-1",
        "--",
        "-",
        "--color",
        "--help",
        "--api-key",
        "--apiKey=",
        "--include-tags",
        "a,,b",
        "--ios-config",
        "=",
        "--=x",
        "-eK=V",
        "--no-",
        "--no-realtime",
        "list",
        "--limit",
        "--orientation",
        "45",
        "\u{ff}",
    ];
    for seed in 1..=20_000u64 {
        let mut r = Rng::new(seed);
        let args: Vec<std::ffi::OsString> =
            (0..r.below(7)).map(|_| r.pick(&words).into()).collect();
        let shown = args.clone();
        let res = std::panic::catch_unwind(|| {
            let _ = parsers::parse_args(args);
        });
        assert!(res.is_ok(), "seed {seed} panicked on {shown:?}");
    }
}
