//! End-to-end: the iOS app inputs of `dcd upload` (and one of `dcd cloud`) through the real
//! binary against the fake cloud — an `.app` directory, its path with spaces, with an XML,
//! a binary or a byte-order-marked `Info.plist`, zipped under its own name; a `.zip` of one
//! bundle uploaded as it is with the shallowest bundle's id; and the inputs refused before
//! anything is uploaded. Every run has a `TMPDIR` of its own, so the temporary zip can be
//! seen to be gone when the binary exits.

use crate::support::fake_cloud::*;
use crate::support::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const KEY: &str = "app-inputs-test-key-123456";
const LIMIT: Duration = Duration::from_secs(60);
const TUS: &str = "/storage/v1/upload/resumable";

/// One test's directory: the app inputs, and `tmp/`, the `TMPDIR` of every run (so the
/// binary's temporary zips are made there). The binary runs with this as its cwd.
struct Work {
    dir: TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = TempDir::new();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        Work { dir }
    }

    fn at(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `dcd <args> --api-url <fake>` run in this directory with `TMPDIR=<tmp>`.
    fn dcd_with_tmp(&self, fc: &FakeCloud, tmp: &Path, args: &[&str]) -> Output {
        let (mut c, _home) = dcd();
        c.current_dir(self.dir.path())
            .env("TMPDIR", tmp)
            .env("DCD_SUPABASE_URL", fc.url())
            .env("DEVICE_CLOUD_API_KEY", KEY)
            .args(args)
            .args(["--api-url", &fc.url()]);
        run(c, LIMIT)
    }

    fn dcd(&self, fc: &FakeCloud, args: &[&str]) -> Output {
        self.dcd_with_tmp(fc, &self.at("tmp"), args)
    }

    /// What is left in `tmp/` (nothing, once a run is over).
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.at("tmp"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

fn fake() -> FakeCloud {
    FakeCloud::start(Scenario::default().api_key(KEY))
}

fn sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// An XML `Info.plist` with `id`, after a nested dictionary whose `CFBundleIdentifier` is
/// not the app's.
fn xml_plist(id: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0">
<dict>
	<key>CFBundleName</key>
	<string>My App</string>
	<key>NSExtension</key>
	<dict>
		<key>CFBundleIdentifier</key>
		<string>nested.not.the.app</string>
	</dict>
	<key>CFBundleIdentifier</key>
	<string>{id}</string>
</dict>
</plist>
"#
    )
    .into_bytes()
}

/// A binary (`bplist00`) `Info.plist` with `id`, written by the plist crate.
fn binary_plist(id: &str) -> Vec<u8> {
    let top: plist::Dictionary = [
        ("CFBundleIdentifier", plist::Value::from(id)),
        ("CFBundlePackageType", plist::Value::from("APPL")),
        ("LSRequiresIPhoneOS", plist::Value::from(true)),
    ]
    .into_iter()
    .collect();
    let mut out = Vec::new();
    plist::Value::from(top).to_writer_binary(&mut out).unwrap();
    assert!(out.starts_with(b"bplist00"), "not a binary plist");
    out
}

/// The files of every test bundle besides its `Info.plist`, by their path inside it (a name
/// with a space among them); `MyApp` is made executable.
const FILES: [(&str, &[u8]); 3] = [
    ("Base.lproj/Main Storyboard.nib", b"nib \x00\x01 bytes"),
    ("Frameworks/K.framework/K", b"\xca\xfe\xba\xbe framework"),
    ("MyApp", b"\xcf\xfa\xed\xfe executable"),
];

/// A bundle directory at `<work>/<rel>`: [`FILES`] and, when given, `Info.plist`.
fn bundle(w: &Work, rel: &str, plist: Option<&[u8]>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let app = w.at(rel);
    for (name, bytes) in FILES {
        let p = app.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
    std::fs::set_permissions(app.join("MyApp"), std::fs::Permissions::from_mode(0o755)).unwrap();
    if let Some(plist) = plist {
        std::fs::write(app.join("Info.plist"), plist).unwrap();
    }
    app
}

/// A zip at `<work>/<rel>`: the directories `dirs`, then the files `(name, bytes)`, in
/// order. Returns its bytes.
fn zip_at(w: &Work, rel: &str, dirs: &[&str], files: &[(&str, &[u8])]) -> Vec<u8> {
    let o = zip::write::SimpleFileOptions::default();
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for d in dirs {
        z.add_directory(*d, o).unwrap();
    }
    for (name, bytes) in files {
        z.start_file(*name, o).unwrap();
        z.write_all(bytes).unwrap();
    }
    let bytes = z.finish().unwrap().into_inner();
    let p = w.at(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, &bytes).unwrap();
    bytes
}

/// The one app upload, checked from the slot to the finalise: an iOS slot of the stored
/// size, one TUS upload of a zip to the finalised path, and a finalise whose size and hash
/// are the stored object's and whose metadata is `app_id` on iOS. Returns the stored bytes
/// and the binary id.
fn stored(fc: &FakeCloud, app_id: &str) -> (Vec<u8>, String) {
    let f = fc.finalised();
    assert_eq!(f.len(), 1, "{f:?}");
    let body = &f[0];
    assert_eq!(
        body["metadata"],
        json!({"appId": app_id, "platform": "ios"})
    );
    let path = body["path"].as_str().unwrap();
    let bytes = fc.stored_object(path).expect("the TUS object");
    assert_eq!(body["bytes"], bytes.len());
    assert_eq!(body["sha"], sha256(&bytes));
    let tus: Vec<TusUpload> = fc
        .tus_uploads()
        .into_iter()
        .filter(|t| t.meta("objectName") == Some(path))
        .collect();
    assert_eq!(tus.len(), 1);
    assert_eq!(tus[0].meta("contentType"), Some("application/zip"));
    let slot = fc
        .requests()
        .into_iter()
        .find(|r| r.path == "/uploads/getBinaryUploadUrl")
        .expect("the slot request");
    let slot: Value = serde_json::from_slice(&slot.body).unwrap();
    assert_eq!(slot, json!({"platform": "ios", "fileSize": bytes.len()}));
    (bytes, body["id"].as_str().unwrap().to_string())
}

/// The entry names of a zip, in order, and the bytes of each file.
fn unzip(bytes: &[u8]) -> (Vec<String>, Vec<(String, Vec<u8>)>) {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a readable zip");
    let names: Vec<String> = z.file_names().map(|n| n.unwrap().into_owned()).collect();
    let mut files = Vec::new();
    for name in names.iter().filter(|n| !n.ends_with('/')) {
        let mut data = Vec::new();
        z.by_name(name).unwrap().read_to_end(&mut data).unwrap();
        files.push((name.clone(), data));
    }
    (names, files)
}

/// Uploads the bundle `<work>/<rel>` holding `plist`, and checks that the zip stored is
/// the bundle — every entry under its folder name, each file's exact bytes — sent as
/// `app_id` on iOS, with nothing left in `tmp/`. Returns the stored zip's entry names.
fn uploads_bundle(w: &Work, fc: &FakeCloud, rel: &str, plist: &[u8], app_id: &str) -> Vec<String> {
    bundle(w, rel, Some(plist));
    let o = w.dcd(fc, &["upload", rel]);
    o.assert_code(0).assert_no_panic();
    let (zip, id) = stored(fc, app_id);
    assert_eq!(fc.tus_uploads().len(), 1, "only the app was uploaded");
    assert!(o.stdout.contains(&format!("binary id {id}")), "{o}");
    let root = Path::new(rel).file_name().unwrap().to_str().unwrap();
    let (names, files) = unzip(&zip);
    assert!(
        names.iter().all(|n| n.starts_with(&format!("{root}/"))),
        "{names:?}"
    );
    let mut expected: Vec<(String, Vec<u8>)> = FILES
        .iter()
        .map(|(n, b)| (format!("{root}/{n}"), b.to_vec()))
        .collect();
    expected.push((format!("{root}/Info.plist"), plist.to_vec()));
    expected.sort();
    assert_eq!(files, expected);
    assert_eq!(
        w.leftovers(),
        Vec::<String>::new(),
        "the temporary zip stays"
    );
    names
}

#[test]
fn upload_an_app_directory_with_spaces_in_its_path_is_zipped_under_its_own_name() {
    let w = Work::new();
    let fc = fake();
    let rel = "My Builds/My App.app";
    let names = uploads_bundle(&w, &fc, rel, &xml_plist("dev.dcd.Spaces"), "dev.dcd.Spaces");
    assert_eq!(
        names,
        [
            "My App.app/",
            "My App.app/Base.lproj/",
            "My App.app/Base.lproj/Main Storyboard.nib",
            "My App.app/Frameworks/",
            "My App.app/Frameworks/K.framework/",
            "My App.app/Frameworks/K.framework/K",
            "My App.app/Info.plist",
            "My App.app/MyApp",
        ]
    );
    let (zip, _) = stored(&fc, "dev.dcd.Spaces");
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(&zip)).unwrap();
    let mode = z.by_name("My App.app/MyApp").unwrap().unix_mode();
    assert_eq!(mode.map(|m| m & 0o777), Some(0o755), "the executable bit");
    // The same bundle, named by its absolute path with a trailing slash, zips to the same
    // bytes: the second upload is a dedup hit on the first.
    let abs = format!("{}/", w.at(rel).display());
    let o = w.dcd(&fc, &["upload", &abs, "--json"]);
    o.assert_code(0);
    let v: Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
    assert_eq!(v, json!({"appBinaryId": fc.finalised()[0]["id"]}), "{o}");
    assert_eq!(fc.finalised().len(), 1, "the second was a dedup hit");
    assert_eq!(w.leftovers(), Vec::<String>::new());
}

#[test]
fn upload_an_app_directory_with_a_binary_info_plist_sends_its_bundle_id() {
    let w = Work::new();
    let fc = fake();
    let plist = binary_plist("dev.dcd.Binary");
    uploads_bundle(&w, &fc, "Bin.app", &plist, "dev.dcd.Binary");
}

#[test]
fn upload_an_app_directory_with_a_byte_order_marked_info_plist_sends_its_bundle_id() {
    let w = Work::new();
    let fc = fake();
    let mut plist = b"\xEF\xBB\xBF".to_vec();
    plist.extend_from_slice(&xml_plist("dev.dcd.Bom"));
    uploads_bundle(&w, &fc, "Bom.app", &plist, "dev.dcd.Bom");
}

#[test]
fn upload_a_zip_of_one_bundle_goes_as_it_is_with_the_shallowest_bundle_id() {
    let w = Work::new();
    let fc = fake();
    let rel = "My Builds/Foo build.zip";
    // Archive order puts the deeper plists first: depth, not order, must decide.
    let framework = xml_plist("dev.dcd.Framework");
    let watch = binary_plist("dev.dcd.Watch");
    let top = xml_plist("dev.dcd.Foo");
    let bytes = zip_at(
        &w,
        rel,
        &["Foo.app/"],
        &[
            ("Foo.app/Frameworks/X.framework/Info.plist", &framework),
            ("Foo.app/Watch/FooWatch.app/Info.plist", &watch),
            ("Foo.app/Info.plist", &top),
            ("Foo.app/Foo", b"\xcf\xfa\xed\xfe executable"),
        ],
    );
    let o = w.dcd(&fc, &["upload", rel]);
    o.assert_code(0).assert_no_panic();
    let (zip, id) = stored(&fc, "dev.dcd.Foo");
    assert!(zip == bytes, "the zip is not uploaded as it is");
    assert_eq!(fc.tus_uploads().len(), 1, "only the app was uploaded");
    assert!(o.stdout.contains(rel), "{o}");
    assert!(
        o.stdout
            .contains(&format!("✓ Binary uploaded with ID: {id}")),
        "{o}"
    );
    assert_eq!(w.leftovers(), Vec::<String>::new());
}

/// No request of the upload itself reached the fake: no dedup check, no slot, no storage,
/// no finalise.
fn assert_nothing_uploaded(fc: &FakeCloud, case: &str) {
    let paths: Vec<String> = fc
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| {
            p.starts_with("/uploads/") || p.starts_with("/storage/") || p.starts_with("/b2")
        })
        .collect();
    assert_eq!(paths, Vec::<String>::new(), "{case}");
    assert_eq!(fc.count(TUS), 0, "{case}");
    assert!(fc.finalised().is_empty(), "{case}");
}

#[test]
fn upload_refuses_bad_ios_inputs_before_uploading_anything_and_leaves_no_temporary_zip() {
    let w = Work::new();
    bundle(&w, "No Plist.app", None);
    bundle(
        &w,
        "No Id.app",
        Some(b"<plist><dict><key>CFBundleName</key><string>NoId</string></dict></plist>"),
    );
    zip_at(
        &w,
        "My Builds/No App.zip",
        &["build/"],
        &[
            ("build/readme.txt", b"no bundle here"),
            ("Info.plist", &xml_plist("dev.dcd.Loose")),
        ],
    );
    let metadata = |input: &str, why: &str| {
        format!(
            "Failed to extract metadata from {input}. Supported formats: .apk, .app, .zip\n{why}"
        )
    };
    let cases = [
        (
            "No Plist.app",
            metadata(
                "No Plist.app",
                "cannot read Info.plist: No such file or directory (os error 2)",
            ),
        ),
        (
            "No Id.app",
            metadata("No Id.app", "Info.plist has no CFBundleIdentifier"),
        ),
        (
            "My Builds/No App.zip",
            "The zip must contain exactly one .app folder at its top level; My Builds/No App.zip has Info.plist, build".to_string(),
        ),
    ];
    for (input, says) in cases {
        let fc = fake();
        let o = w.dcd(&fc, &["upload", input]);
        o.assert_code(1).assert_no_panic();
        assert_eq!(o.stderr, format!("✗ Error: {says}\n"), "{input}\n{o}");
        assert!(!o.stdout.contains("Uploading"), "{input}\n{o}");
        assert_nothing_uploaded(&fc, input);
        assert_eq!(w.leftovers(), Vec::<String>::new(), "{input}");
    }
    // The runs did make their temporary directory under `tmp/`: without one, a bundle
    // cannot be prepared at all.
    bundle(&w, "Good.app", Some(&xml_plist("dev.dcd.Good")));
    let fc = fake();
    let o = w.dcd_with_tmp(&fc, &w.at("no-such-tmp"), &["upload", "Good.app"]);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr
            .contains("Cannot create a temporary directory: No such file or directory"),
        "{o}"
    );
    assert_nothing_uploaded(&fc, "no TMPDIR");
}

#[test]
fn cloud_dry_run_of_an_app_directory_makes_the_zips_checks_but_writes_no_zip() {
    let w = Work::new();
    let fc = fake();
    bundle(&w, "Dry.app", Some(&xml_plist("dev.dcd.Dry")));
    let flows = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/basic");
    let flows = flows.to_str().unwrap();
    // No temporary directory can be made here, and zipping the bundle needs one: a dry run
    // never zips, so it goes through.
    let no_tmp = w.at("no-such-tmp");
    let o = w.dcd_with_tmp(&fc, &no_tmp, &["cloud", "Dry.app", flows, "--dry-run"]);
    o.assert_code(0).assert_no_panic();
    assert!(o.stderr.contains("Dry run mode"), "{o}");
    assert_nothing_uploaded(&fc, "dry run");
    // Every check the zip would make is made: a bundle the zip would refuse fails the dry run
    // with the real run's message.
    bundle(&w, "Sock.app", Some(&xml_plist("dev.dcd.Sock")));
    let _sock = std::os::unix::net::UnixListener::bind(w.at("Sock.app/s.sock")).unwrap();
    let o = w.dcd_with_tmp(&fc, &no_tmp, &["cloud", "Sock.app", flows, "--dry-run"]);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr.contains("Failed to zip Sock.app: ")
            && o.stderr
                .contains("s.sock is not a file, a directory or a symbolic link"),
        "{o}"
    );
    // The bundle is still checked first: one without an appId fails the dry run.
    bundle(&w, "NoId.app", Some(b"<plist><dict></dict></plist>"));
    let o = w.dcd_with_tmp(&fc, &no_tmp, &["cloud", "NoId.app", flows, "--dry-run"]);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr
            .contains("Failed to extract metadata from NoId.app"),
        "{o}"
    );
    // The real run zips the bundle when it uploads it: that is where it fails here.
    let o = w.dcd_with_tmp(&fc, &no_tmp, &["cloud", "Dry.app", flows]);
    o.assert_code(1).assert_no_panic();
    assert!(
        o.stderr.contains("Cannot create a temporary directory"),
        "{o}"
    );
    assert_nothing_uploaded(&fc, "no TMPDIR");
}

#[test]
fn cloud_takes_an_app_directory_with_spaces_through_to_the_verdict() {
    let w = Work::new();
    let fc = fake();
    let rel = "My Builds/My App.app";
    bundle(&w, rel, Some(&xml_plist("dev.dcd.Cloud")));
    let flows = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/basic");
    let o = w.dcd(&fc, &["cloud", rel, flows.to_str().unwrap()]);
    o.assert_code(0).assert_no_panic();
    let (zip, id) = stored(&fc, "dev.dcd.Cloud");
    let (names, _) = unzip(&zip);
    assert_eq!(names.first().map(String::as_str), Some("My App.app/"));
    assert!(
        names.iter().all(|n| n.starts_with("My App.app/")),
        "{names:?}"
    );
    assert!(
        names.contains(&"My App.app/Info.plist".to_string()),
        "{names:?}"
    );
    let subs = fc.submissions();
    assert_eq!(subs.len(), 1, "{o}");
    assert_eq!(subs[0].str("appBinaryId"), Some(id.as_str()));
    assert!(subs[0].zip.is_some(), "the flows were stored");
    assert!(
        o.stdout
            .contains(&format!("✓ Binary uploaded with ID: {id}")),
        "{o}"
    );
    assert!(o.stdout.contains("all 2 tests passed"), "{o}");
    assert_eq!(w.leftovers(), Vec::<String>::new());
}
