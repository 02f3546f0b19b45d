//! End-to-end: `dcd upload <app>` and `dcd cloud <app> <flows>` against the fake cloud — the
//! dedup check (hit, miss, `--ignore-sha-check`, refused), every Backblaze mode and its
//! silent failure, TUS resuming after a dropped connection, both targets failing, a
//! finalise that fails and is not retried, `--json`, and no token in any output.

use crate::support::fake_cloud::*;
use crate::support::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

const KEY: &str = "upload-test-key-123456";
const LIMIT: Duration = Duration::from_secs(60);
const MIB: usize = 1 << 20;
const CHUNK: usize = 6 * MIB;
const TUS: &str = "/storage/v1/upload/resumable";

/// A real `.apk`: a zip holding the compiled manifest of `com.example.shop`
/// (`fixtures/apps/AndroidManifest.xml`) and `len` pseudo-random bytes stored uncompressed,
/// so the file is a little over `len` bytes.
struct App {
    _dir: TempDir,
    path: PathBuf,
    bytes: Vec<u8>,
}

fn app(len: usize) -> App {
    use std::io::Write;
    let dir = TempDir::new();
    let path = dir.path().join("my app.apk");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let blob: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let manifest = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/apps/AndroidManifest.xml"),
    )
    .unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(len >= u32::MAX as usize);
    zip.start_file("AndroidManifest.xml", stored).unwrap();
    zip.write_all(&manifest).unwrap();
    zip.start_file("assets/blob.bin", stored).unwrap();
    zip.write_all(&blob).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    std::fs::write(&path, &bytes).unwrap();
    App {
        _dir: dir,
        path,
        bytes,
    }
}

fn sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn fake(s: Scenario) -> FakeCloud {
    FakeCloud::start(s.api_key(KEY))
}

fn dcd_at(fc: &FakeCloud, args: &[&str]) -> Output {
    let (mut c, _dir) = dcd();
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DCD_SUPABASE_URL", fc.url())
        .env("DEVICE_CLOUD_API_KEY", KEY)
        .args(args)
        .args(["--api-url", &fc.url()]);
    run(c, LIMIT)
}

fn upload(fc: &FakeCloud, a: &App, extra: &[&str]) -> Output {
    let p = a.path.to_str().unwrap();
    let mut args = vec!["upload", p];
    args.extend_from_slice(extra);
    dcd_at(fc, &args)
}

/// The one finalise body, checked field by field against the file.
fn finalised(fc: &FakeCloud, a: &App) -> Value {
    let f = fc.finalised();
    assert_eq!(f.len(), 1, "{f:?}");
    let body = f[0].clone();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "backblazeSuccess",
            "bytes",
            "id",
            "metadata",
            "path",
            "sha",
            "supabaseSuccess"
        ]
    );
    assert_eq!(body["bytes"], a.bytes.len());
    assert_eq!(body["sha"], sha256(&a.bytes));
    assert_eq!(
        body["metadata"],
        json!({"appId": "com.example.shop", "platform": "android"})
    );
    body
}

fn tus_object(fc: &FakeCloud, body: &Value) -> Vec<u8> {
    fc.stored_object(body["path"].as_str().unwrap())
        .expect("the TUS object")
}

#[test]
fn upload_streams_the_app_through_tus_and_finalises_it_once() {
    let fc = fake(Scenario::default());
    let a = app(7 * MIB + 123);
    let o = upload(&fc, &a, &[]);
    o.assert_code(0).assert_no_panic();
    let body = finalised(&fc, &a);
    assert_eq!(body["backblazeSuccess"], false);
    assert_eq!(body["supabaseSuccess"], true);
    assert!(tus_object(&fc, &body) == a.bytes, "stored bytes differ");
    let id = body["id"].as_str().unwrap();
    assert!(o.stdout.contains("Uploading app binary"), "{o}");
    assert!(
        o.stdout
            .contains(&format!("✓ Binary uploaded with ID: {id}")),
        "{o}"
    );
    assert!(o.stdout.contains("✓ Upload complete"), "{o}");
    assert!(o.stdout.contains(&format!("binary id {id}")), "{o}");
    assert!(
        o.stdout
            .contains(&format!("dcd cloud --app-binary-id {id} path/to/flow.yaml")),
        "{o}"
    );
    // A log gets the start, the quarters and the end of the transfer, as plain lines.
    for p in ["0% of", "25% of", "50% of", "75% of", "done (7.0 MiB)"] {
        assert!(o.stdout.contains(p), "{p}: {o}");
    }
    // The TUS creation: the metadata, upsert, chunks of 6 MiB.
    let tus = fc.tus_uploads();
    assert_eq!(tus.len(), 1);
    assert_eq!(tus[0].meta("bucketName"), Some("organizations"));
    assert_eq!(tus[0].meta("objectName"), body["path"].as_str());
    assert_eq!(
        tus[0].meta("contentType"),
        Some("application/vnd.android.package-archive")
    );
    assert_eq!(tus[0].meta("cacheControl"), Some("3600"));
    let patches: Vec<usize> = fc
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.body.len())
        .collect();
    assert_eq!(patches, [CHUNK, a.bytes.len() - CHUNK]);
    let slot = fc
        .requests()
        .into_iter()
        .find(|r| r.path == "/uploads/getBinaryUploadUrl")
        .unwrap();
    let slot: Value = serde_json::from_slice(&slot.body).unwrap();
    assert_eq!(
        slot,
        json!({"platform": "android", "fileSize": a.bytes.len()})
    );
}

#[test]
fn upload_json_prints_exactly_the_binary_id() {
    let fc = fake(Scenario::default());
    let a = app(1000);
    let o = upload(&fc, &a, &["--json"]);
    o.assert_code(0);
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    let id = fc.finalised()[0]["id"].clone();
    assert_eq!(v, json!({"appBinaryId": id}), "{o}");
}

#[test]
fn upload_dedup_hit_skips_the_upload_and_ignore_sha_check_forces_it() {
    let a = app(5000);
    let fc = fake(Scenario::default().known_binary(&sha256(&a.bytes), "bin-known"));
    let o = upload(&fc, &a, &[]);
    o.assert_code(0);
    assert!(
        o.stdout.contains(
            "SHA hash matches existing binary with ID: bin-known, skipping upload. Force upload with --ignore-sha-check"
        ),
        "{o}"
    );
    assert!(o.stdout.contains("binary id bin-known"), "{o}");
    assert_eq!(fc.count("/uploads/getBinaryUploadUrl"), 0);
    assert_eq!(fc.count(TUS), 0);
    let o = upload(&fc, &a, &["--ignore-sha-check", "--json"]);
    o.assert_code(0);
    assert_eq!(
        fc.count("/uploads/checkForExistingUpload"),
        1,
        "not asked again"
    );
    assert_eq!(fc.finalised().len(), 1);
    assert_ne!(fc.finalised()[0]["id"], "bin-known");
}

#[test]
fn upload_dedup_miss_uploads_and_a_later_upload_is_a_hit() {
    let fc = fake(Scenario::default());
    let a = app(3000);
    upload(&fc, &a, &[]).assert_code(0);
    let id = fc.finalised()[0]["id"].as_str().unwrap().to_string();
    let o = upload(&fc, &a, &["--json"]);
    o.assert_code(0);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v, json!({"appBinaryId": id}));
    assert_eq!(fc.finalised().len(), 1, "the second was a dedup hit");
}

#[test]
fn upload_dedup_refused_aborts_and_other_dedup_errors_only_warn() {
    let a = app(2000);
    let fc = fake(Scenario::default().endpoint_fault(
        "/uploads/checkForExistingUpload",
        0,
        Fault::Status(403),
    ));
    let o = upload(&fc, &a, &[]);
    o.assert_code(1).assert_no_panic();
    assert!(o.stderr.contains("Access denied"), "{o}");
    assert_eq!(fc.count("/uploads/getBinaryUploadUrl"), 0);
    let fc = fake(Scenario::default().endpoint_fault(
        "/uploads/checkForExistingUpload",
        0,
        Fault::Status(500),
    ));
    let o = upload(&fc, &a, &[]);
    o.assert_code(0);
    assert!(
        o.stderr.contains("Could not check for an existing binary"),
        "{o}"
    );
    assert_eq!(fc.finalised().len(), 1);
}

#[test]
fn upload_every_backblaze_mode_stores_the_exact_bytes() {
    let a = app(2 * MIB + 17);
    for mode in [B2Mode::Simple, B2Mode::S3, B2Mode::Large { parts: 3 }] {
        let fc = fake(Scenario::default().b2(mode.clone()));
        let o = upload(&fc, &a, &[]);
        o.assert_code(0).assert_no_panic();
        let body = finalised(&fc, &a);
        assert_eq!(body["backblazeSuccess"], true, "{mode:?}\n{o}");
        assert_eq!(body["supabaseSuccess"], true, "{mode:?}");
        let name = format!(
            "organizations/org-1/binaries/{}.zip",
            body["id"].as_str().unwrap()
        );
        assert!(
            fc.b2_object(&name) == Some(a.bytes.clone()),
            "{mode:?}: B2 bytes differ"
        );
        assert!(tus_object(&fc, &body) == a.bytes);
        if let B2Mode::Large { parts } = mode {
            assert_eq!(fc.count("/b2/upload/part/"), parts);
            assert_eq!(fc.count("/uploads/finishLargeFile"), 1);
        }
    }
}

#[test]
fn upload_a_backblaze_failure_is_silent_and_tus_carries_it() {
    let a = app(100_000);
    for mode in [B2Mode::Simple, B2Mode::S3, B2Mode::Large { parts: 2 }] {
        let fc = fake(Scenario::default().b2(mode.clone()).endpoint_fault(
            "/b2/",
            0,
            Fault::Status(503),
        ));
        let o = upload(&fc, &a, &[]);
        o.assert_code(0);
        assert!(
            !o.stderr.contains("B2") && !o.stderr.contains("Backblaze"),
            "{o}"
        );
        let body = finalised(&fc, &a);
        assert_eq!(body["backblazeSuccess"], false, "{mode:?}");
        assert_eq!(body["supabaseSuccess"], true, "{mode:?}");
        assert_eq!(fc.count("/uploads/finishLargeFile"), 0);
    }
}

#[test]
fn upload_tus_resumes_after_a_dropped_connection_resending_at_most_one_chunk() {
    let a = app(14 * MIB + 5);
    // Requests under the upload URL: PATCH 0, PATCH 1 (dropped), HEAD, PATCH 1, PATCH 2.
    let fc = fake(Scenario::default().endpoint_fault(&format!("{TUS}/"), 1, Fault::Reset));
    let o = upload(&fc, &a, &["--debug"]);
    o.assert_code(0).assert_no_panic();
    let body = finalised(&fc, &a);
    assert!(tus_object(&fc, &body) == a.bytes);
    let reqs = fc.requests();
    let sent: usize = reqs
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.body.len())
        .sum();
    let resent = sent - a.bytes.len();
    assert!(resent > 0 && resent <= CHUNK, "resent {resent}");
    assert!(
        reqs.iter().any(|r| r.method == "HEAD"),
        "the offset was asked"
    );
}

#[test]
fn upload_both_targets_failing_is_an_error_and_nothing_is_finalised() {
    let a = app(10_000);
    let mut s =
        Scenario::default()
            .b2(B2Mode::Simple)
            .endpoint_fault("/b2/", 0, Fault::Status(500));
    for n in 0..5 {
        s = s.endpoint_fault(TUS, n, Fault::Status(500));
    }
    let fc = fake(s);
    let o = upload(&fc, &a, &[]);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr
            .contains("All uploads failed. Last error: TUS create: HTTP 500"),
        "{o}"
    );
    assert_eq!(fc.count("/uploads/finaliseUpload"), 0);
    assert_eq!(fc.count(TUS), 5, "the first try and four retries");
}

#[test]
fn upload_a_finalise_502_is_not_retried() {
    let a = app(10_000);
    let fc =
        fake(Scenario::default().endpoint_fault("/uploads/finaliseUpload", 0, Fault::Status(502)));
    let o = upload(&fc, &a, &[]);
    o.assert_code(1).assert_no_panic();
    assert_eq!(fc.count("/uploads/finaliseUpload"), 1, "{o}");
    assert!(!o.stdout.contains("Upload complete"), "{o}");
}

#[test]
fn upload_without_an_app_says_how_to_give_one() {
    let fc = fake(Scenario::default());
    let o = dcd_at(&fc, &["upload"]);
    o.assert_code(1);
    assert!(
        o.stderr
            .contains("You must provide an app file path or a signed Expo URL via --app-url"),
        "{o}"
    );
    let o = dcd_at(&fc, &["upload", "missing.apk"]);
    o.assert_code(1);
    assert!(
        o.stderr.contains("App file does not exist: missing.apk"),
        "{o}"
    );
}

#[test]
fn upload_no_token_appears_in_any_output_even_with_debug() {
    let a = app(300_000);
    for mode in [B2Mode::Simple, B2Mode::S3, B2Mode::Large { parts: 2 }] {
        let fc = fake(Scenario::default().b2(mode.clone()));
        let o = upload(&fc, &a, &["--debug"]);
        o.assert_code(0);
        assert!(o.stderr.contains("[DEBUG]"), "{o}");
        for secret in [KEY, "b2-simple-token", "fake-signature", "b2-part-token-"] {
            for text in [&o.stdout, &o.stderr] {
                assert!(!text.contains(secret), "{mode:?}: {secret} leaked\n{o}");
            }
        }
    }
}

#[test]
fn cloud_uploads_the_app_then_submits_with_its_id_and_waits_for_the_verdict() {
    let fc = fake(Scenario::default());
    let a = app(MIB + 1);
    let p = a.path.to_str().unwrap();
    let o = dcd_at(&fc, &["cloud", p, "fixtures/basic"]);
    o.assert_code(0).assert_no_panic();
    let body = finalised(&fc, &a);
    let subs = fc.submissions();
    assert_eq!(subs.len(), 1, "{o}");
    assert_eq!(subs[0].str("appBinaryId"), body["id"].as_str());
    assert!(o.stdout.contains("✓ Binary uploaded with ID:"), "{o}");
    assert!(o.stdout.contains("all 2 tests passed"), "{o}");
    // Again: the dedup hit reuses the id.
    let o = dcd_at(&fc, &["cloud", p, "fixtures/basic", "--json"]);
    o.assert_code(0);
    assert_eq!(fc.finalised().len(), 1);
    assert_eq!(fc.submissions()[1].str("appBinaryId"), body["id"].as_str());
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    assert_eq!(v["status"], "PASSED");
}

#[test]
fn cloud_dry_run_uploads_nothing_and_a_missing_app_stops_before_the_devices() {
    let fc = fake(Scenario::default());
    let a = app(1000);
    let p = a.path.to_str().unwrap();
    let o = dcd_at(&fc, &["cloud", p, "fixtures/basic", "--dry-run"]);
    o.assert_code(0);
    assert!(o.stderr.contains("Dry run mode"), "{o}");
    assert_eq!(fc.count("/uploads/checkForExistingUpload"), 0);
    assert_eq!(fc.count("/uploads/getBinaryUploadUrl"), 0);
    let o = dcd_at(
        &fc,
        &[
            "cloud",
            "nope.apk",
            "fixtures/basic",
            "--android-device",
            "no-such",
        ],
    );
    o.assert_code(1);
    assert!(
        o.stderr.contains("App file does not exist: nope.apk"),
        "{o}"
    );
}
