//! End-to-end: hostile storage and download hosts, and what a careless configuration must
//! not leak. A TUS server that takes one byte per `PATCH` costs a few passes over the file,
//! not a chunk per byte; a download (artifacts, an Expo `--app-url`) that drips a byte just
//! inside every read timeout ends as "stalled"; a Backblaze answer that does not confirm the
//! bytes sent is no success; a FAILED run whose `--json-file` cannot be
//! written keeps its exit 2; and `--debug` never prints the credentials inside
//! `DCD_SUPABASE_URL` or `DCD_MANIFEST_URL`.

use crate::support::fake_cloud::*;
use crate::support::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const KEY: &str = "hostile-test-key-123456";
/// Generous: a run that ends at all ends far sooner.
const LIMIT: Duration = Duration::from_secs(45);
const TUS: &str = "/storage/v1/upload/resumable";
/// The attempts a TUS upload gets (the first and 4 retries).
const TUS_ATTEMPTS: u64 = 5;

fn basic() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/basic")
        .to_string_lossy()
        .into_owned()
}

/// `dcd cloud --app-binary-id b fixtures/basic <extra>` against `fc`, in `cwd`.
fn cloud_in(fc: &FakeCloud, cwd: &std::path::Path, extra: &[&str]) -> Output {
    let (mut c, _cfg) = dcd();
    c.current_dir(cwd)
        .env("DEVICE_CLOUD_API_KEY", KEY)
        .env("DCD_SUPABASE_URL", fc.url())
        .args(["cloud", "--api-url", &fc.url(), "--app-binary-id", "b"])
        .arg(basic())
        .args(extra);
    run(c, LIMIT)
}

#[test]
fn a_storage_host_taking_one_byte_per_patch_fails_after_a_few_passes() {
    let fc = FakeCloud::start(
        Scenario::new(vec![vec![row(1, "./a.yaml", "PASSED")]])
            .api_key(KEY)
            .tus_one_byte_per_patch(),
    );
    let dir = TempDir::new();
    let o = cloud_in(&fc, dir.path(), &[]);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr
            .contains("All uploads failed. Last error: TUS PATCH at ")
            && o.stderr.contains("the server did not take the "),
        "{o}"
    );
    let uploads = fc.tus_uploads();
    assert_eq!(uploads.len(), 1, "{o}");
    let len = uploads[0].length;
    let sent = fc.tus_patch_bytes();
    let patches = fc
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.starts_with(TUS))
        .count() as u64;
    // Each attempt sends at most the file once: a server taking a byte per PATCH costs at
    // most TUS_ATTEMPTS passes, never a request per byte.
    assert!(len > 100, "the flow zip is {len} bytes");
    assert!(
        sent <= TUS_ATTEMPTS * len && patches <= TUS_ATTEMPTS,
        "{sent} bytes in {patches} PATCHes for a {len}-byte file\n{o}"
    );
    assert!(fc.submissions().is_empty(), "nothing submitted\n{o}");
}

#[test]
fn a_backblaze_answer_that_does_not_confirm_the_bytes_is_not_a_success() {
    for mode in [B2Mode::Simple, B2Mode::Large { parts: 2 }] {
        let fc = FakeCloud::start(
            Scenario::new(vec![vec![row(1, "./a.yaml", "PASSED")]])
                .api_key(KEY)
                .b2(mode.clone())
                .b2_takes_one_byte(),
        );
        let dir = TempDir::new();
        let o = cloud_in(&fc, dir.path(), &[]);
        // Silent, as every Backblaze failure: TUS carries the upload.
        o.assert_code(0).assert_no_panic();
        let sub = &fc.submissions()[0];
        assert_eq!(sub.fields["backblazeSuccess"], false, "{mode:?}\n{o}");
        assert_eq!(sub.fields["supabaseSuccess"], true, "{mode:?}\n{o}");
        assert_eq!(fc.count("/uploads/finishLargeFile"), 0, "{mode:?}\n{o}");
    }
}

#[test]
fn a_dripping_artifacts_download_ends_as_stalled() {
    // One byte every 50 ms: well inside the per-read timeout (0.6 s at this time scale),
    // far below the minimum progress; the fake would go on for 60 s.
    let drip = StreamFault::Drip {
        after: 100,
        every: Duration::from_millis(50),
    };
    let fc = FakeCloud::start(
        Scenario::default()
            .api_key(KEY)
            .artifacts_bytes(4 << 20)
            .stream_fault("/", drip),
    );
    let dir = TempDir::new();
    let (mut c, _cfg) = dcd();
    c.current_dir(dir.path())
        .env("DEVICE_CLOUD_API_KEY", KEY)
        .args(["artifacts", "--api-url", &fc.url()])
        .args([
            "--upload-id",
            DEFAULT_UPLOAD_ID,
            "--download-artifacts",
            "ALL",
        ])
        .args(["--artifacts-path", "out.zip"]);
    let o = run(c, LIMIT);
    assert!(o.elapsed < Duration::from_secs(40), "{o}");
    // A failed download only warns (docs/exit-codes.md).
    o.assert_code(0).assert_no_panic();
    assert!(
        o.stderr
            .contains("Failed to download artifacts: the download broke off after ")
            && o.stderr
                .contains("the transfer stalled: less than 64 KiB in 60 s"),
        "{o}"
    );
    assert!(entries(dir.path()).is_empty(), "nothing half-written\n{o}");
}

/// A loopback host that answers every request 200 with a megabyte announced, then sends a
/// byte every 50 ms (for at most 60 s). Returns its URL.
fn dripping_host() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/build.tar.gz?sig=drip-signature",
        l.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
                    head.push(b[0]);
                }
                let until = Instant::now() + Duration::from_secs(60);
                let mut ok = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n\x1f")
                    .is_ok();
                while ok && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(50));
                    ok = s.write_all(b"\x8b").is_ok();
                }
            });
        }
    });
    url
}

#[test]
fn a_dripping_app_url_host_ends_as_stalled() {
    let fc = FakeCloud::start(Scenario::new(vec![]).api_key(KEY));
    let url = dripping_host();
    let (mut c, _cfg) = dcd();
    c.env("DEVICE_CLOUD_API_KEY", KEY)
        .env("DCD_SUPABASE_URL", fc.url())
        .args(["upload", "--api-url", &fc.url(), "--app-url", &url]);
    let o = run(c, LIMIT);
    assert!(o.elapsed < Duration::from_secs(40), "{o}");
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr
            .contains("Failed to download the Expo build from http://127.0.0.1:")
            && o.stderr
                .contains("the transfer stalled: less than 64 KiB in 60 s"),
        "{o}"
    );
    assert!(!o.stderr.contains("drip-signature"), "{o}");
    assert_eq!(fc.count("/uploads/"), 0, "nothing uploaded\n{o}");
}

#[test]
fn a_failed_run_whose_json_file_cannot_be_written_exits_2() {
    let fc = FakeCloud::start(
        Scenario::new(vec![vec![failed(row(1, "./a.yaml", "FAILED"), "boom")]]).api_key(KEY),
    );
    let dir = TempDir::new();
    // Root-proof: a directory already stands where the file would go.
    let name = format!("{DEFAULT_UPLOAD_ID}_dcd.json");
    std::fs::create_dir(dir.path().join(&name)).unwrap();
    std::fs::write(dir.path().join(&name).join("keep"), "x").unwrap();
    let o = cloud_in(&fc, dir.path(), &["--json-file"]);
    o.assert_code(2).assert_no_panic();
    assert!(
        o.stderr
            .contains(&format!("Could not write the JSON file {name}: "))
            && o.stderr
                .contains("; exiting 2 (FAILED), as no file carries the verdict"),
        "{o}"
    );
    assert!(dir.path().join(&name).is_dir());
    assert_eq!(entries(dir.path()), [name], "no temporary left\n{o}");
}

/// A release manifest on loopback that answers every GET with `{"version":"0.0.1"}`.
fn manifest() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://mfuser:mf-secret-pw@{}/latest.json",
        l.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
                head.push(b[0]);
            }
            let body = r#"{"version":"0.0.1"}"#;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn debug_never_prints_credentials_in_the_supabase_or_manifest_url() {
    let secrets = ["sb-secret-pw", "sbuser", "mf-secret-pw", "mfuser"];
    let fc = FakeCloud::start(
        Scenario::new(vec![
            vec![row(1, "./a.yaml", "RUNNING")],
            vec![row(1, "./a.yaml", "PASSED")],
        ])
        .every(Duration::from_millis(1500))
        .accounts(Accounts::new(vec![org("42", "Acme", "acme")]))
        // The update check never waits: a slow answer gives the manifest time to arrive.
        .endpoint_fault(
            "/results/compatibility",
            0,
            Fault::Slow(Duration::from_millis(300)),
        ),
    );
    let supabase = fc.url().replace("http://", "http://sbuser:sb-secret-pw@");

    // An expiring session is refreshed at the start (the POST to the auth server), and the
    // update check reads the manifest; both are debug lines.
    let home = TempDir::new();
    crate::account::logged_in(&fc, &home, Duration::ZERO);
    let mut c = dcd_in(home.path());
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DCD_NO_UPDATE_CHECK")
        .env("DCD_MANIFEST_URL", manifest())
        .env("DCD_SUPABASE_URL", &supabase)
        .args(["cloud", "--api-url", &fc.url(), "--app-binary-id", "b"])
        .args(["fixtures/basic", "--dry-run", "--debug"]);
    let (code, screen) = run_pty(c, 200, 40, LIMIT);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("/auth/v1/token"), "{screen}");
    for s in secrets {
        assert!(!screen.contains(s), "{s}\n{screen}");
    }

    // The manifest's GET, where it is awaited (the update check above may not answer before
    // a dry run ends): `dcd upgrade --check` reads the same manifest.
    let mut c = dcd_in(home.path());
    c.env("DCD_MANIFEST_URL", manifest())
        .args(["upgrade", "--check", "--debug"]);
    let o = run(c, LIMIT);
    o.assert_code(0).assert_no_panic();
    assert!(o.stderr.contains("upgrade: GET http://127.0.0.1:"), "{o}");
    for s in secrets {
        assert!(!o.stdout.contains(s) && !o.stderr.contains(s), "{s}\n{o}");
    }

    // A wait with a valid session: the realtime connect line.
    let home = TempDir::new();
    crate::account::logged_in(&fc, &home, Duration::from_secs(3600));
    let mut c = dcd_in(home.path());
    c.env("DCD_SUPABASE_URL", &supabase)
        .args([
            "status",
            "--api-url",
            &fc.url(),
            "--upload-id",
            fc.upload_id(),
        ])
        .args(["--watch", "--debug"]);
    let o = run(c, LIMIT);
    o.assert_code(0).assert_no_panic();
    assert!(
        o.stderr
            .contains("[realtime] connecting to ws://127.0.0.1:"),
        "{o}"
    );
    for s in secrets {
        assert!(!o.stdout.contains(s) && !o.stderr.contains(s), "{s}\n{o}");
    }
}
