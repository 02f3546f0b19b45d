//! End-to-end: every file dcd writes goes through one writer. A FIFO or a device node as a
//! download target is written in place (never replaced by a regular file), a full disk
//! leaves no partial `--json-file` and still reports the verdict (exit 2), and a hostile upload id
//! cannot put the JSON file outside the working directory.

use crate::support::fake_cloud::*;
use crate::support::*;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const KEY: &str = "files-test-key-123456";
const LIMIT: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The command, and the home directory it runs with (keep it until the command is done).
fn artifacts_to(fc: &FakeCloud, dir: &Path, target: &Path) -> (Command, TempDir) {
    let (mut c, home) = dcd();
    c.current_dir(dir).env("DEVICE_CLOUD_API_KEY", KEY).args([
        "artifacts",
        "--api-url",
        &fc.url(),
        "--upload-id",
        DEFAULT_UPLOAD_ID,
        "--download-artifacts",
        "ALL",
        "--artifacts-path",
        target.to_str().unwrap(),
    ]);
    (c, home)
}

#[test]
fn a_fifo_download_target_is_written_in_place() {
    let fc = FakeCloud::start(Scenario::default().api_key(KEY).artifacts_bytes(300_000));
    let dir = TempDir::new();
    let fifo = dir.path().join("artifacts.zip");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path in our own temporary directory.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let (c, _home) = artifacts_to(&fc, dir.path(), &fifo);
    let o = run(c, LIMIT);
    o.assert_code(0).assert_no_panic();
    let got = reader.join().unwrap();
    assert_eq!(got.len(), 300_000, "{o}");
    assert!(
        std::fs::metadata(&fifo).unwrap().file_type().is_fifo(),
        "the FIFO was replaced"
    );
    assert_eq!(entries(dir.path()), ["artifacts.zip"], "no temporary left");
}

#[test]
fn a_device_node_download_target_stays_a_device() {
    let fc = FakeCloud::start(Scenario::default().api_key(KEY).artifacts_bytes(100_000));
    let dir = TempDir::new();
    let node = dir.path().join("null-device");
    let c_path = std::ffi::CString::new(node.to_str().unwrap()).unwrap();
    // SAFETY: mknod of a character device (the null device's numbers) in our own temporary
    // directory; needs root.
    let made = unsafe { libc::mknod(c_path.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    if made != 0 {
        println!("SKIPPED: creating a device node needs root");
        return;
    }
    let (c, _home) = artifacts_to(&fc, dir.path(), &node);
    let o = run(c, LIMIT);
    o.assert_code(0).assert_no_panic();
    let t = std::fs::metadata(&node).unwrap().file_type();
    assert!(t.is_char_device(), "the device node was replaced\n{o}");
    assert_eq!(entries(dir.path()), ["null-device"], "no temporary left");
}

/// `dcd cloud … --json-file` with a file size limit that the JSON document exceeds: the
/// write fails as on a full disk.
fn cloud_on_a_full_disk(fc: &FakeCloud, dir: &Path, extra: &[&str]) -> Output {
    let (mut c, _cfg) = dcd();
    limit_file_size(&mut c, 64);
    c.current_dir(dir)
        .env("DEVICE_CLOUD_API_KEY", KEY)
        .env("DCD_SUPABASE_URL", fc.url())
        .args(["cloud", "--api-url", &fc.url(), "--app-binary-id", "b"])
        .args(extra)
        .arg(fixture("basic"));
    run(c, LIMIT)
}

#[test]
fn a_full_disk_leaves_no_partial_json_file_and_the_verdict_still_arrives() {
    let fc = FakeCloud::start(
        Scenario::new(vec![vec![
            failed(row(1, "./login.yaml", "FAILED"), "boom"),
            row(2, "./checkout.yml", "PASSED"),
        ]])
        .api_key(KEY),
    );
    let dir = TempDir::new();
    std::fs::write(dir.path().join("out.json"), "previous").unwrap();
    let o = cloud_on_a_full_disk(
        &fc,
        dir.path(),
        &["--json-file", "--json-file-name", "out.json", "--json"],
    );
    // No file carries the verdict, so the failed run's 2 stands (only a written
    // --json-file turns it into 0); the document still reaches stdout.
    o.assert_code(2).assert_no_panic();
    assert!(
        o.stderr
            .contains("Could not write the JSON file out.json: ")
            && o.stderr
                .contains("; exiting 2 (FAILED), as no file carries the verdict"),
        "{o}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    assert_eq!(doc["status"], "FAILED");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.json")).unwrap(),
        "previous",
        "the previous file is untouched"
    );
    assert_eq!(entries(dir.path()), ["out.json"], "no partial file");
}

#[test]
fn a_hostile_upload_id_cannot_place_the_json_file_elsewhere() {
    let fc = FakeCloud::start(
        Scenario::new(vec![])
            .api_key(KEY)
            .upload_id("../../x/PWNED"),
    );
    let top = TempDir::new();
    let dir = top.path().join("a/b");
    std::fs::create_dir_all(&dir).unwrap();
    let (mut c, _cfg) = dcd();
    c.current_dir(&dir)
        .env("DEVICE_CLOUD_API_KEY", KEY)
        .env("DCD_SUPABASE_URL", fc.url())
        .args([
            "cloud",
            "--api-url",
            &fc.url(),
            "--app-binary-id",
            "b",
            "--async",
            "--json-file",
        ])
        .arg(fixture("basic"));
    let o = run(c, LIMIT);
    o.assert_code(0).assert_no_panic();
    assert_eq!(entries(&dir), ["____x_PWNED_dcd.json"], "{o}");
    assert_eq!(
        entries(top.path()),
        ["a"],
        "nothing written above the working directory"
    );
}
