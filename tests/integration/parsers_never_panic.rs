//! Property tests: every parser of untrusted input (API JSON, config.json, timestamps,
//! server text, argv; an app's Info.plist, compiled Android manifest and zip, and the
//! extraction of an Expo build) survives arbitrary input without panicking, and keeps its
//! invariants. Seeded, so a failure names the seed that reproduces it. Each test counts the
//! inputs that did parse and requires many: a test whose inputs all fail early would only
//! exercise the refusals.

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
    let mut parsed = 0;
    for seed in 1..=20_000u64 {
        let mut r = Rng::new(seed);
        let v = value(&mut r, 0);
        // Rows that may be whole, each field now and then arbitrary, beside arbitrary values:
        // so the invariants below run on bodies that do parse, not only on refusals.
        let rows: Vec<Value> = (0..r.below(4))
            .map(|i| {
                let mut row = json!({"id": i, "test_file_name": "./a.yaml",
                    "status": r.pick(&["PASSED", "FAILED", "RUNNING", "CANCELLED"])});
                for k in [
                    "retry_of",
                    "duration_seconds",
                    "fail_reason",
                    "status",
                    "id",
                ] {
                    if r.chance(15) {
                        row[k] = value(&mut r, 2);
                    }
                }
                row
            })
            .collect();
        let results = if r.chance(20) {
            json!([v.clone(), value(&mut r, 1)])
        } else {
            Value::Array(rows)
        };
        let wrapped = json!({"results": results, "statusCode": value(&mut r, 3)});
        let result = std::panic::catch_unwind(|| {
            let _ = parse_results(&v);
            let read = parse_results(&wrapped);
            if let Ok(rows) = read {
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
        parsed += usize::from(parse_results(&wrapped).is_ok());
    }
    // Not a test of what fails to parse only.
    assert!(parsed > 1000, "only {parsed} result bodies parsed");
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
    let mut parsed = 0;
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
        parsed += usize::from(res.is_ok_and(|r| r.is_ok()));
    }
    assert!(parsed > 1000, "only {parsed} configs parsed");
}

#[test]
fn text_parsers_never_panic_and_sanitised_text_is_safe() {
    let mut parsed = 0;
    for seed in 1..=20_000u64 {
        let mut r = Rng::new(seed);
        // A timestamp of the API's shape now and then, its tail sometimes cut or changed.
        let stamp = format!(
            "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            r.below(100),
            r.below(14),
            r.below(33),
            r.below(25),
            r.below(61),
            r.below(61),
            r.below(1000)
        );
        let head = if r.chance(30) {
            &stamp[..r.below(stamp.len() as u64 + 1) as usize]
        } else {
            ""
        };
        let tail_len = if head.is_empty() || r.chance(30) {
            r.below(40)
        } else {
            0
        };
        let tail: String = (0..tail_len)
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
        let s = format!("{head}{tail}");
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
        parsed += usize::from(parsers::parse_iso(&s).is_some());
    }
    assert!(parsed > 200, "only {parsed} timestamps parsed");
}

#[test]
fn argv_parser_never_panics() {
    let mut parsed = 0;
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
        let res = std::panic::catch_unwind(|| parsers::parse_args(args).is_ok());
        assert!(res.is_ok(), "seed {seed} panicked on {shown:?}");
        parsed += usize::from(res.unwrap_or(false));
    }
    assert!(parsed > 1000, "only {parsed} command lines parsed");
}

// ---------------------------------------------------------------------------
// App inputs: Info.plist, the APK's compiled manifest, zips, the Expo extraction
// ---------------------------------------------------------------------------

use crate::support::TempDir;
use crate::support::lib::app;
use std::path::Path;

const PLIST_KEYS: &[&str] = &[
    "CFBundleIdentifier",
    "CFBundleName",
    "NSExtension",
    "UIDeviceFamily",
    "x",
    "",
];

/// A plist value; a dictionary may hold a `CFBundleIdentifier` of its own (a decoy: only
/// the top level's counts).
fn plist_value(r: &mut Rng, depth: u32) -> plist::Value {
    match r.below(if depth > 3 { 5 } else { 7 }) {
        0 => plist::Value::Boolean(r.chance(50)),
        1 => plist::Value::Integer((r.next() as i64).into()),
        2 => plist::Value::Real(r.below(1000) as f64 / 7.0),
        3 => plist::Value::String(r.pick(STRINGS).to_string()),
        4 => plist::Value::Data((0..r.below(40)).map(|_| r.next() as u8).collect()),
        5 => plist::Value::Array((0..r.below(5)).map(|_| plist_value(r, depth + 1)).collect()),
        _ => plist::Value::Dictionary(plist_dict(r, depth + 1)),
    }
}

fn plist_dict(r: &mut Rng, depth: u32) -> plist::Dictionary {
    (0..r.below(6))
        .map(|_| (r.pick(PLIST_KEYS).to_string(), plist_value(r, depth + 1)))
        .collect()
}

/// Flips a few bytes of `bytes`, now and then cutting it short.
fn mutate(r: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..=r.below(4) {
        if bytes.is_empty() {
            return;
        }
        let i = r.below(bytes.len() as u64) as usize;
        bytes[i] = if r.chance(50) { r.next() as u8 } else { 0xFF };
    }
    if r.chance(20) {
        bytes.truncate(r.below(bytes.len() as u64 + 1) as usize);
    }
}

/// Random plists, XML, binary and byte-order-marked, a third of them damaged: never a panic;
/// an undamaged one gives exactly its top-level `CFBundleIdentifier` (the last of repeats),
/// or an error when it has no string one. Counts what parsed: most undamaged ones must.
#[test]
fn info_plist_reader_never_panics_and_reads_the_top_level_id() {
    let (mut parsed, mut intact) = (0, 0);
    for seed in 1..=4_000u64 {
        let mut r = Rng::new(seed);
        let mut top = plist_dict(&mut r, 0);
        let id = format!("dev.dcd.p{seed}");
        if r.chance(85) {
            top.insert("CFBundleIdentifier".into(), id.clone().into());
        }
        let expected = top
            .get("CFBundleIdentifier")
            .and_then(plist::Value::as_string)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let value = plist::Value::Dictionary(top);
        let mut bytes = Vec::new();
        match r.below(3) {
            0 => value.to_writer_binary(&mut bytes).unwrap(),
            1 => value.to_writer_xml(&mut bytes).unwrap(),
            _ => {
                bytes.extend_from_slice(b"\xEF\xBB\xBF");
                value.to_writer_xml(&mut bytes).unwrap();
            }
        }
        let damaged = r.chance(33);
        if damaged {
            mutate(&mut r, &mut bytes);
        }
        let got = std::panic::catch_unwind(|| app::bundle_id(&bytes));
        let got = got.unwrap_or_else(|_| panic!("seed {seed} panicked"));
        if got.is_ok() {
            parsed += 1;
        }
        if !damaged {
            intact += 1;
            assert_eq!(got.ok(), expected, "seed {seed}: {value:?}");
        }
    }
    assert!(
        parsed > intact / 2,
        "only {parsed} of {intact} intact plists parsed"
    );
}

/// A compiled `AndroidManifest.xml` (UTF-8 string pool): `<manifest package=…>` with the
/// attributes `(name, string value)`.
fn axml(attrs: &[(&str, &str)]) -> Vec<u8> {
    let chunk = |kind: u16, header: &[u8], body: &[u8]| {
        let mut v = kind.to_le_bytes().to_vec();
        v.extend_from_slice(&((8 + header.len()) as u16).to_le_bytes());
        v.extend_from_slice(&((8 + header.len() + body.len()) as u32).to_le_bytes());
        v.extend_from_slice(header);
        v.extend_from_slice(body);
        v
    };
    let mut strings = vec!["manifest"];
    strings.extend(attrs.iter().flat_map(|(n, v)| [*n, *v]));
    let (mut offsets, mut data) = (Vec::new(), Vec::new());
    for s in &strings {
        offsets.extend_from_slice(&(data.len() as u32).to_le_bytes());
        data.extend_from_slice(&[s.len() as u8, s.len() as u8]);
        data.extend_from_slice(s.as_bytes());
        data.push(0);
    }
    while data.len() % 4 != 0 {
        data.push(0);
    }
    let words = |w: &[u32]| -> Vec<u8> { w.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let pool_header = words(&[
        strings.len() as u32,
        0,
        1 << 8,
        28 + offsets.len() as u32,
        0,
    ]);
    let mut body = chunk(1, &pool_header, &[offsets, data].concat());
    let mut element = words(&[u32::MAX, 0]);
    element.extend_from_slice(&20u16.to_le_bytes());
    element.extend_from_slice(&20u16.to_le_bytes());
    element.extend_from_slice(&(attrs.len() as u16).to_le_bytes());
    element.extend_from_slice(&[0; 6]);
    for i in 0..attrs.len() as u32 {
        let (name, value) = (1 + 2 * i, 2 + 2 * i);
        element.extend(words(&[u32::MAX, name, value]));
        element.extend_from_slice(&[8, 0, 0, 3]);
        element.extend(words(&[value]));
    }
    body.extend(chunk(0x0102, &words(&[1, u32::MAX]), &element));
    chunk(3, &[], &body)
}

/// Compiled manifests, most of them damaged: never a panic, and the undamaged ones give
/// their package.
#[test]
fn apk_manifest_reader_never_panics_and_reads_the_package() {
    let (mut parsed, mut intact) = (0, 0);
    for seed in 1..=6_000u64 {
        let mut r = Rng::new(seed);
        let package = format!("dev.dcd.a{seed}");
        let mut attrs = vec![("versionName", "1.0"), ("package", package.as_str())];
        if r.chance(50) {
            attrs.swap(0, 1);
        }
        let mut bytes = axml(&attrs);
        let damaged = r.chance(70);
        if damaged {
            mutate(&mut r, &mut bytes);
        }
        let got = std::panic::catch_unwind(|| app::package_name(&bytes));
        let got = got.unwrap_or_else(|_| panic!("seed {seed} panicked"));
        if got.is_ok() {
            parsed += 1;
        }
        if !damaged {
            intact += 1;
            assert_eq!(got.as_deref(), Ok(package.as_str()), "seed {seed}");
        }
    }
    assert!(
        parsed >= intact && intact > 1000,
        "{parsed} parsed, {intact} intact"
    );
}

/// An app zip, optionally stored: `A.app/` and its `Info.plist` (iOS), or an APK's
/// `AndroidManifest.xml` and `classes.dex`.
fn app_zip(r: &mut Rng, id: &str, android: bool) -> Vec<u8> {
    use std::io::Write;
    let method = if r.chance(50) {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    };
    let o = zip::write::SimpleFileOptions::default().compression_method(method);
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    if android {
        z.start_file("AndroidManifest.xml", o).unwrap();
        z.write_all(&axml(&[("package", id)])).unwrap();
        z.start_file("classes.dex", o).unwrap();
        z.write_all(b"dex\n035\0").unwrap();
    } else {
        let plist = format!(
            "<plist><dict><key>CFBundleIdentifier</key><string>{id}</string></dict></plist>"
        );
        z.add_directory("A.app/", o).unwrap();
        z.start_file("A.app/Info.plist", o).unwrap();
        z.write_all(plist.as_bytes()).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// Zips damaged anywhere, their central directory and end record most often (counts,
/// sizes, offsets): the readers of an `.apk` and a `.zip` never panic nor allocate what a
/// count claims, and undamaged ones read.
#[test]
fn zip_readers_never_panic_and_read_undamaged_zips() {
    let dir = TempDir::new();
    let (mut parsed, mut intact) = (0, 0);
    for seed in 1..=1_500u64 {
        let mut r = Rng::new(seed);
        let id = format!("dev.dcd.z{seed}");
        let android = r.chance(50);
        let mut bytes = app_zip(&mut r, &id, android);
        let damaged = r.chance(75);
        if damaged {
            // The last ~150 bytes hold the central directory and the end record.
            for _ in 0..=r.below(4) {
                let from = if r.chance(70) {
                    bytes.len().saturating_sub(150)
                } else {
                    0
                };
                let i = from + r.below((bytes.len() - from) as u64) as usize;
                bytes[i] = if r.chance(50) { r.next() as u8 } else { 0xFF };
            }
        }
        let path = dir.path().join(format!("{seed}.zip"));
        std::fs::write(&path, &bytes).unwrap();
        let got = std::panic::catch_unwind(|| {
            if android {
                (Ok(String::new()), app::from_apk(&path).map(|m| m.app_id))
            } else {
                let top = app::single_top_app(&path);
                (top, app::from_zip(&path).map(|m| m.app_id))
            }
        });
        let (top, read) = got.unwrap_or_else(|_| panic!("seed {seed} panicked"));
        std::fs::remove_file(&path).unwrap();
        if top.is_ok() && read.is_ok() {
            parsed += 1;
        }
        if !damaged {
            intact += 1;
            if !android {
                assert_eq!(top.as_deref(), Ok("A.app"), "seed {seed}");
            }
            assert_eq!(read.as_deref(), Ok(id.as_str()), "seed {seed}");
        }
    }
    assert!(
        parsed > intact && intact > 200,
        "{parsed} parsed, {intact} intact"
    );
}

/// A tar member for [`tar_of`]: a name and what it is.
#[derive(Clone, Copy, Debug)]
enum Member {
    Dir(&'static str),
    File(&'static str),
    Link(&'static str, &'static str),
    Hard(&'static str, &'static str),
}

/// Runs of members that attack the extraction together, in order (the root is
/// `<case>/root`, the file to protect `<case>/outside/secret`).
const ATTACKS: &[&[Member]] = &[
    // `up` leads to the root, so `esc` leaves it though its text stays inside.
    &[
        Member::Dir("a/b/"),
        Member::Link("a/b/up", "../.."),
        Member::Link("esc", "a/b/up/.."),
        Member::Hard("x.app/s", "esc/outside/secret"),
    ],
    // A link changed after it was checked.
    &[
        Member::Dir("a/"),
        Member::Link("a/l", "m/../.."),
        Member::Link("a/m", "."),
        Member::Hard("x.app/s", "a/l/outside/secret"),
    ],
    &[Member::Link("l", ".."), Member::File("l/outside/secret")],
    &[
        Member::Link("l", "../outside"),
        Member::Hard("h", "l/secret"),
    ],
    &[Member::Hard("h", "../outside/secret")],
    &[Member::Link("x.app/s", "/etc/hostname")],
    &[Member::Link("s", "f"), Member::Hard("h", "s")],
];

const NAMES: &[&str] = &["a", "a/b", "a/l", "l", "m", "x.app", "x.app/f", "f", "d/e"];
const TARGETS: &[&str] = &[
    ".", "..", "a", "a/b", "../..", "l/..", "m/../..", "x.app/f", "f",
];

fn random_member(r: &mut Rng) -> Member {
    let name = r.pick(NAMES);
    match r.below(8) {
        0 | 1 => Member::Dir(name),
        2..=4 => Member::File(name),
        5 | 6 => Member::Link(name, r.pick(TARGETS)),
        _ => Member::Hard(name, r.pick(&["f", "x.app/f", "a/b"])),
    }
}

/// A `.tar.gz` of `members`, names written as they are.
fn tar_of(members: &[Member]) -> Vec<u8> {
    use tar::EntryType as T;
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::none(),
    ));
    for m in members {
        let (name, kind, link, data): (&str, T, &str, &[u8]) = match *m {
            Member::Dir(n) => (n, T::Directory, "", b""),
            Member::File(n) => (n, T::Regular, "", b"file bytes"),
            Member::Link(n, t) => (n, T::Symlink, t, b""),
            Member::Hard(n, t) => (n, T::Link, t, b""),
        };
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// Nothing outside `root` was linked, written or created; and when `accepted`, every link
/// under `root` resolves (when it does) inside it. (A refused archive's partial extraction
/// is removed whole by its caller, links unfollowed.)
fn confined_to(case: &Path, root: &Path, accepted: bool) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let secret = case.join("outside/secret");
    let meta = std::fs::metadata(&secret).map_err(|e| e.to_string())?;
    if meta.nlink() != 1 || std::fs::read(&secret).unwrap() != b"secret" {
        return Err("the file outside was linked or changed".into());
    }
    if crate::support::entries(case) != ["outside", "root", "x.tar.gz"]
        || crate::support::entries(&case.join("outside")) != ["secret"]
    {
        return Err(format!(
            "something was created outside: {:?}",
            crate::support::entries(case)
        ));
    }
    if !accepted {
        return Ok(());
    }
    let real_root = root.canonicalize().unwrap();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                todo.push(e.path());
            } else if t.is_symlink()
                && let Ok(to) = e.path().canonicalize()
                && !to.starts_with(&real_root)
            {
                return Err(format!("{} leads to {}", e.path().display(), to.display()));
            }
        }
    }
    Ok(())
}

/// Random archives of plain members and attack runs: whatever the extraction accepts stays
/// inside its root (every link resolved on the real files), and nothing outside is linked,
/// written or created. Counts both outcomes: the test must see archives extracted and
/// archives refused.
#[test]
fn the_expo_extraction_keeps_everything_inside_its_root() {
    let dir = TempDir::new();
    let (mut extracted, mut refused) = (0, 0);
    for seed in 1..=1_000u64 {
        let mut r = Rng::new(seed);
        let mut members = Vec::new();
        for _ in 0..=r.below(6) {
            if r.chance(15) {
                members.extend_from_slice(ATTACKS[r.below(ATTACKS.len() as u64) as usize]);
            } else {
                members.push(random_member(&mut r));
            }
        }
        let case = dir.path().join(format!("case{seed}"));
        std::fs::create_dir_all(case.join("outside")).unwrap();
        std::fs::create_dir(case.join("root")).unwrap();
        std::fs::write(case.join("outside/secret"), b"secret").unwrap();
        std::fs::write(case.join("x.tar.gz"), tar_of(&members)).unwrap();
        let root = case.join("root");
        let got = std::panic::catch_unwind(|| app::extract(&case.join("x.tar.gz"), &root));
        let accepted = got
            .unwrap_or_else(|_| panic!("seed {seed} panicked: {members:?}"))
            .is_ok();
        if accepted {
            extracted += 1;
        } else {
            refused += 1;
        }
        if let Err(why) = confined_to(&case, &root, accepted) {
            panic!("seed {seed}: {why}\n{members:?}");
        }
        std::fs::remove_dir_all(&case).unwrap();
    }
    assert!(
        extracted > 150 && refused > 150,
        "{extracted} extracted, {refused} refused"
    );
}
