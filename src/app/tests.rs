//! `prepare` on every kind of input, built here: an APK with a compiled manifest, `.app`
//! directories (XML and binary `Info.plist`, a path with spaces), zips (plain, nested
//! bundles, macOS leftovers, wrong shapes), Expo `.tar.gz` builds (file and URL, hostile
//! entries).

use super::axml::writer::{Val, manifest};
use super::info_plist::samples;
use super::*;
use crate::fsio::scratch::Scratch;
use std::io::Write;

fn t() -> Timings {
    Timings::scaled(0.01)
}

/// A fresh directory whose path has a space in it, removed at the end of the test.
fn scratch() -> Scratch {
    Scratch::new("dcd-app-test ")
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A zip of `(name, bytes)`; a name ending `/` is a directory.
fn zip_of(path: &Path, entries: &[(&str, &[u8])]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let o = zip::write::SimpleFileOptions::default();
    for (name, bytes) in entries {
        if name.ends_with('/') {
            z.add_directory(*name, o).unwrap();
        } else {
            z.start_file(*name, o).unwrap();
            z.write_all(bytes).unwrap();
        }
    }
    z.finish().unwrap();
}

fn apk(dir: &Path, package: &str) -> PathBuf {
    let m = manifest("manifest", &[("package", Val::Str(package))], false);
    let p = dir.join("app-debug.apk");
    zip_of(
        &p,
        &[("AndroidManifest.xml", &m), ("classes.dex", b"dex\n035\0")],
    );
    p
}

/// `<dir>/<name>` as a bundle: Info.plist, an executable, a framework and a link.
#[cfg(unix)]
fn bundle(dir: &Path, name: &str, plist: &[u8]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let app = dir.join(name);
    std::fs::create_dir_all(app.join("Frameworks/K.framework")).unwrap();
    std::fs::write(app.join("Info.plist"), plist).unwrap();
    std::fs::write(app.join("Sample"), b"\xcf\xfa\xed\xfe").unwrap();
    std::fs::set_permissions(app.join("Sample"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(app.join("Frameworks/K.framework/K"), b"k").unwrap();
    std::os::unix::fs::symlink("Frameworks/K.framework/K", app.join("K-link")).unwrap();
    app
}

#[cfg(unix)]
fn zip_names(path: &Path) -> Vec<String> {
    let z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    z.file_names().map(|n| n.unwrap().into_owned()).collect()
}

#[test]
fn an_apk_is_uploaded_as_it_is_with_its_package() {
    let d = scratch();
    let p = apk(&d, "dev.devicecloud.sample");
    let app = prepare(&s(&p), &t()).unwrap();
    assert_eq!(app.upload_path, p);
    assert_eq!(app.platform, AppPlatform::Android);
    assert_eq!(app.content_type, "application/vnd.android.package-archive");
    assert_eq!(app.metadata.app_id, "dev.devicecloud.sample");
    assert_eq!(
        app.metadata.to_json(),
        serde_json::json!({"appId": "dev.devicecloud.sample", "platform": "android"})
    );
    assert!(app.temp_dir().is_none());
}

#[cfg(unix)]
#[test]
fn an_app_directory_with_spaces_is_zipped_under_its_name_and_the_zip_goes_on_drop() {
    let root = scratch();
    let d = root.join("My Builds");
    let xml = samples::xml("dev.dcd.Spaces");
    let dir = bundle(&d, "My App.app", xml.as_bytes());
    let app = prepare(&s(&dir), &t()).unwrap();
    assert_eq!(app.platform, AppPlatform::Ios);
    assert_eq!(app.content_type, "application/zip");
    assert_eq!(app.metadata.app_id, "dev.dcd.Spaces");
    assert_eq!(app.original, s(&dir));
    let expected = [
        "My App.app/",
        "My App.app/Frameworks/",
        "My App.app/Frameworks/K.framework/",
        "My App.app/Frameworks/K.framework/K",
        "My App.app/Info.plist",
        "My App.app/K-link",
        "My App.app/Sample",
    ];
    assert_eq!(app.zip_entries, expected);
    assert_eq!(zip_names(&app.upload_path), expected);
    let mut z = zip::ZipArchive::new(std::fs::File::open(&app.upload_path).unwrap()).unwrap();
    assert_eq!(
        z.by_name("My App.app/Sample").unwrap().unix_mode().unwrap() & 0o777,
        0o755
    );
    assert!(z.by_name("My App.app/K-link").unwrap().is_symlink());
    // The same bundle zips to the same bytes.
    let again = prepare(&s(&dir), &t()).unwrap();
    assert_eq!(
        std::fs::read(&app.upload_path).unwrap(),
        std::fs::read(&again.upload_path).unwrap()
    );
    let temp = app.temp_dir().unwrap().to_path_buf();
    assert!(app.upload_path.starts_with(&temp));
    drop(app);
    assert!(!temp.exists(), "the temporary zip is removed on drop");
}

#[cfg(unix)]
#[test]
fn a_bundle_is_checked_at_once_and_zipped_only_for_the_upload() {
    let d = scratch();
    let dir = bundle(&d, "Lazy.app", samples::xml("dev.dcd.Lazy").as_bytes());
    let mut app = check(&s(&dir), &t()).unwrap();
    assert!(!app.zipped(), "checking a bundle (a dry run) zips nothing");
    assert_eq!(app.original(), s(&dir));
    let file = app.upload_file().unwrap();
    assert_eq!(file.metadata.app_id, "dev.dcd.Lazy");
    assert_eq!(file.zip_entries[0], "Lazy.app/");
    let zip = file.upload_path.clone();
    assert_eq!(zip_names(&zip)[0], "Lazy.app/");
    assert_eq!(app.upload_file().unwrap().upload_path, zip, "zipped once");
    // A bundle without an appId fails the check itself, before any dry run.
    let bad = bundle(&d, "Bad.app", b"<plist><dict></dict></plist>");
    let e = check(&s(&bad), &t()).unwrap_err();
    assert!(e.to_string().contains("Failed to extract metadata"), "{e}");

    // An Expo build is downloaded and extracted by the check (where the TypeScript CLI does
    // it), and zipped for the upload, which removes the extracted files.
    let p = d.join("build.tar.gz");
    expo_build(&p, "dev.dcd.Expo");
    let mut expo = check(&s(&p), &t()).unwrap();
    assert!(!expo.zipped());
    let extracted = expo.extracted_dir().unwrap().to_path_buf();
    assert!(extracted.is_dir());
    let file = expo.upload_file().unwrap();
    assert_eq!(file.metadata.app_id, "dev.dcd.Expo");
    assert!(file.upload_path.is_file());
    assert!(!extracted.exists(), "the extracted files go once zipped");
}

#[cfg(unix)]
#[test]
fn a_binary_or_bom_info_plist_gives_the_bundle_id_too() {
    let d = scratch();
    let dir = bundle(&d, "Bin.app", &samples::binary("dev.dcd.Binary"));
    assert_eq!(
        prepare(&s(&dir), &t()).unwrap().metadata.app_id,
        "dev.dcd.Binary"
    );
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(samples::xml("dev.dcd.Bom").as_bytes());
    let dir = bundle(&d, "Bom.app", &bom);
    // A trailing slash (shell completion adds one) names the same bundle.
    let app = prepare(&format!("{}/", s(&dir)), &t()).unwrap();
    assert_eq!(app.metadata.app_id, "dev.dcd.Bom");
    assert_eq!(app.zip_entries[0], "Bom.app/");
}

#[test]
fn a_zip_of_one_bundle_is_uploaded_as_it_is_with_the_shallowest_plist() {
    let d = scratch();
    let p = d.join("Sample.zip");
    let outer = samples::xml("dev.dcd.Outer");
    let inner = samples::binary("dev.dcd.Inner");
    zip_of(
        &p,
        &[
            ("Sample.app/", b""),
            ("Sample.app/PlugIns/Widget.app/Info.plist", &inner),
            ("Sample.app/Info.plist", outer.as_bytes()),
            ("__MACOSX/Sample.app/._Info.plist", b"junk"),
            (".DS_Store", b"junk"),
        ],
    );
    let app = prepare(&s(&p), &t()).unwrap();
    assert_eq!(app.upload_path, p);
    assert_eq!(app.platform, AppPlatform::Ios);
    assert_eq!(app.content_type, "application/zip");
    assert_eq!(app.metadata.app_id, "dev.dcd.Outer");
}

/// A zip's name, its entries, and what the refusal says.
type Shape<'a> = (&'a str, Vec<(&'a str, &'a [u8])>, &'a str);

#[test]
fn zips_of_another_shape_are_refused_with_what_they_hold() {
    let d = scratch();
    let plist = samples::xml("x.y");
    let shapes: [Shape<'_>; 4] = [
        (
            "two",
            vec![
                ("A.app/Info.plist", plist.as_bytes()),
                ("B.app/Info.plist", plist.as_bytes()),
            ],
            "has A.app, B.app",
        ),
        (
            "none",
            vec![("Payload/A.app/Info.plist", plist.as_bytes())],
            "has Payload",
        ),
        ("empty", vec![], "has nothing"),
        ("file", vec![("A.app", b"not a folder")], "has A.app"),
    ];
    for (name, entries, says) in shapes {
        let p = d.join(format!("{name}.zip"));
        zip_of(&p, &entries);
        let e = prepare(&s(&p), &t()).unwrap_err().message;
        assert!(
            e.starts_with("The zip must contain exactly one .app folder at its top level"),
            "{e}"
        );
        assert!(e.contains(says), "{name}: {e}");
    }
    // One bundle but no Info.plist: the metadata failure.
    let p = d.join("noplist.zip");
    zip_of(&p, &[("A.app/", b""), ("A.app/Sample", b"x")]);
    let e = prepare(&s(&p), &t()).unwrap_err().message;
    assert!(
        e.starts_with(&format!(
            "Failed to extract metadata from {}. Supported formats: .apk, .app, .zip\n",
            s(&p)
        )),
        "{e}"
    );
}

#[test]
fn missing_unsupported_and_unreadable_inputs_get_their_messages() {
    let d = scratch();
    let missing = s(&d.join("My App.app"));
    let e = prepare(&missing, &t()).unwrap_err().message;
    assert!(
        e.starts_with(&format!("App file does not exist: {missing}\n")),
        "{e}"
    );
    assert!(e.contains("quotes"), "{e}");
    let ipa = d.join("app.ipa");
    std::fs::write(&ipa, "x").unwrap();
    let e = prepare(&s(&ipa), &t()).unwrap_err().message;
    assert!(e.starts_with("App file must be"), "{e}");
    let fake_app = d.join("File.app");
    std::fs::write(&fake_app, "x").unwrap();
    let e = prepare(&s(&fake_app), &t()).unwrap_err().message;
    assert!(e.starts_with("App file must be a directory"), "{e}");
    // An APK that is not a zip, and one whose manifest is text.
    let bad = d.join("bad.apk");
    std::fs::write(&bad, "not a zip").unwrap();
    let e = prepare(&s(&bad), &t()).unwrap_err().message;
    assert!(
        e.starts_with(&format!(
            "Failed to extract metadata from {}. Supported formats: .apk, .app, .zip",
            s(&bad)
        )),
        "{e}"
    );
    let text = d.join("text.apk");
    zip_of(
        &text,
        &[("AndroidManifest.xml", b"<manifest package=\"a.b\"/>")],
    );
    let e = prepare(&s(&text), &t()).unwrap_err().message;
    assert!(e.contains("not binary Android XML"), "{e}");
    let noplist = d.join("Empty.app");
    std::fs::create_dir_all(&noplist).unwrap();
    let e = prepare(&s(&noplist), &t()).unwrap_err().message;
    assert!(e.contains("cannot read Info.plist"), "{e}");
}

/// A `.tar.gz` of `(name, kind)` written with raw names, so hostile ones can be made.
enum E<'a> {
    Dir,
    File(&'a [u8], u32),
    Link(&'a str),
    Hard(&'a str),
    /// A record of this type declaring `size` bytes, followed by `data` only.
    #[cfg_attr(windows, allow(dead_code))]
    Raw(tar::EntryType, u64, &'a [u8]),
}

fn tar_gz(path: &Path, entries: &[(&str, E<'_>)]) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut b = tar::Builder::new(gz);
    for (name, e) in entries {
        let mut h = tar::Header::new_gnu();
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        let data: &[u8] = match e {
            E::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                b""
            }
            E::File(bytes, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                bytes
            }
            E::Link(target) | E::Hard(target) => {
                let kind = if matches!(e, E::Link(_)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                h.set_entry_type(kind);
                h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
                b""
            }
            E::Raw(kind, size, data) => {
                h.set_entry_type(*kind);
                h.set_size(*size);
                h.set_cksum();
                b.append(&h, *data).unwrap();
                continue;
            }
        };
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
}

fn expo_build(path: &Path, id: &str) {
    let plist = samples::xml(id);
    tar_gz(
        path,
        &[
            ("./", E::Dir),
            ("./__MACOSX/", E::Dir),
            ("./__MACOSX/Decoy.app/", E::Dir),
            ("./build/", E::Dir),
            ("./build/Sample.app/", E::Dir),
            (
                "./build/Sample.app/Info.plist",
                E::File(plist.as_bytes(), 0o644),
            ),
            ("./build/Sample.app/Sample", E::File(b"bin", 0o755)),
            (
                "./build/Sample.app/PlugIns/W.app/Info.plist",
                E::File(b"x", 0o644),
            ),
            ("./build/Sample.app/Current", E::Link("PlugIns/W.app")),
            (
                "./build/Sample.app/Copy",
                E::Hard("build/Sample.app/Sample"),
            ),
            ("./deeper/more/Other.app/Info.plist", E::File(b"x", 0o644)),
        ],
    );
}

// Expo builds hold symbolic links; Wine's are not Windows' (docs/building.md, "Every platform").
#[cfg(unix)]
#[test]
fn an_expo_tarball_gives_its_shallowest_bundle_zipped() {
    let d = scratch();
    let p = d.join("build.tar.gz");
    expo_build(&p, "dev.dcd.Expo");
    let app = prepare(&s(&p), &t()).unwrap();
    assert_eq!(app.platform, AppPlatform::Ios);
    assert_eq!(app.content_type, "application/zip");
    assert_eq!(app.metadata.app_id, "dev.dcd.Expo");
    assert_eq!(
        app.zip_entries,
        [
            "Sample.app/",
            "Sample.app/Copy",
            "Sample.app/Current",
            "Sample.app/Info.plist",
            "Sample.app/PlugIns/",
            "Sample.app/PlugIns/W.app/",
            "Sample.app/PlugIns/W.app/Info.plist",
            "Sample.app/Sample",
        ]
    );
    let temp = app.temp_dir().unwrap().to_path_buf();
    drop(app);
    assert!(!temp.exists());
    assert!(p.exists(), "the user's own tarball stays");
}

/// A tarball's name, its entries, and what the refusal says.
#[cfg(unix)]
type Case<'a> = (&'a str, Vec<(&'a str, E<'a>)>, &'a str);

// Expo builds hold symbolic links; Wine's are not Windows' (docs/building.md, "Every platform").
#[cfg(unix)]
#[test]
fn hostile_tarballs_are_refused_and_write_nothing_outside() {
    let d = scratch();
    let outside = d.join("escaped");
    let cases: Vec<Case<'_>> = vec![
        (
            "dotdot",
            vec![("../escaped", E::File(b"x", 0o644))],
            "outside",
        ),
        (
            "absolute",
            vec![("/tmp/escaped-dcd-test", E::File(b"x", 0o644))],
            "outside",
        ),
        (
            "link-out",
            vec![("a.app/l", E::Link("../../escaped"))],
            "points outside",
        ),
        (
            "link-abs",
            vec![("a.app/l", E::Link("/etc"))],
            "points outside",
        ),
        (
            "through-link",
            vec![
                ("l", E::Link(".")),
                ("l/x.app/Info.plist", E::File(b"x", 0o644)),
            ],
            "passes through a link",
        ),
        (
            "hard-out",
            vec![("h", E::Hard("../escaped"))],
            "no file extracted before it",
        ),
        // `up` resolves to the root: the text of `esc` stays inside, the files leave it.
        (
            "up-and-out",
            vec![
                ("a/b/c/d/", E::Dir),
                ("a/b/c/d/up", E::Link("../../../..")),
                ("esc", E::Link("a/b/c/d/up/../..")),
            ],
            "the link esc points outside",
        ),
        // A hard link never goes through a link, even one that stays inside.
        (
            "hard-through-link",
            vec![
                ("f", E::File(b"x", 0o644)),
                ("l", E::Link(".")),
                ("x.app/h", E::Hard("l/f")),
            ],
            "the hard link x.app/h has no file extracted before it",
        ),
        (
            "hard-to-link",
            vec![
                ("f", E::File(b"x", 0o644)),
                ("s", E::Link("f")),
                ("h", E::Hard("s")),
            ],
            "the hard link h has no file",
        ),
        (
            "hard-to-dir",
            vec![("d/", E::Dir), ("h", E::Hard("d"))],
            "the hard link h has no file",
        ),
        (
            "hard-to-later",
            vec![("h", E::Hard("f")), ("f", E::File(b"x", 0o644))],
            "the hard link h has no file",
        ),
        // Each link is inside when it is made; a later one changes where the first leads.
        (
            "changed-later",
            vec![
                ("a/", E::Dir),
                ("a/l", E::Link("m/../..")),
                ("a/m", E::Link(".")),
            ],
            "the link a/l points outside",
        ),
        // A file replaced by a link changes it too.
        (
            "file-then-link",
            vec![
                ("a/", E::Dir),
                ("a/m", E::File(b"x", 0o644)),
                ("a/l", E::Link("m/../..")),
                ("a/m", E::Link(".")),
            ],
            "the link a/l points outside",
        ),
        (
            "chain-out",
            vec![
                ("a", E::Link("b")),
                ("b", E::Link("c/..")),
                ("c", E::Link("..")),
            ],
            "the link c points outside",
        ),
        (
            "loop",
            vec![("a", E::Link("b")), ("b", E::Link("a"))],
            "too many links",
        ),
        (
            "dir-then-link",
            vec![("d/", E::Dir), ("d", E::Link("x"))],
            "cannot extract d: File exists",
        ),
        (
            "link-then-dir",
            vec![("d", E::Link("x")), ("d/", E::Dir)],
            "both a file and a directory",
        ),
        (
            "write-through-later-link",
            vec![
                ("d", E::Link("..")),
                ("d/x.app/Info.plist", E::File(b"x", 0o644)),
            ],
            "points outside",
        ),
        (
            "long-name-bomb",
            vec![(
                "././@LongLink",
                E::Raw(tar::EntryType::GNULongName, 1 << 30, b""),
            )],
            "a long-name record of 1073741824 bytes (at most 64 KiB)",
        ),
        (
            "pax-bomb",
            vec![("pax", E::Raw(tar::EntryType::XHeader, 1 << 40, b""))],
            "a PAX record of 1099511627776 bytes",
        ),
        (
            "pax-size",
            vec![
                ("pax", E::Raw(tar::EntryType::XHeader, 12, b"12 size=999\n")),
                ("f", E::File(b"x", 0o644)),
            ],
            "PAX size disagrees",
        ),
        (
            "two-long-names",
            vec![
                ("L", E::Raw(tar::EntryType::GNULongName, 2, b"a\0")),
                ("L", E::Raw(tar::EntryType::GNULongName, 2, b"b\0")),
                ("f", E::File(b"x", 0o644)),
            ],
            "two long-name records",
        ),
        (
            "dangling-long-name",
            vec![("L", E::Raw(tar::EntryType::GNULongName, 2, b"a\0"))],
            "does not follow",
        ),
        (
            "sparse",
            vec![("s", E::Raw(tar::EntryType::GNUSparse, 0, b""))],
            "sparse",
        ),
    ];
    for (name, entries, says) in cases {
        let p = d.join(format!("{name}.tar.gz"));
        tar_gz(&p, &entries);
        let e = prepare(&s(&p), &t()).unwrap_err().message;
        assert!(e.contains(says), "{name}: {e}");
        assert!(!outside.exists(), "{name}");
    }
    assert!(!Path::new("/tmp/escaped-dcd-test").exists());
    // Long names (GNU records) within their cap, a PAX name, and a link through a link that
    // stays inside are fine.
    let p = d.join("long.tar.gz");
    let long = format!("./build/{}/Sample.app", "deep".repeat(40));
    let plist = samples::xml("dev.dcd.Long");
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(&p).unwrap(),
        flate2::Compression::fast(),
    ));
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(plist.len() as u64);
    b.append_data(&mut h, format!("{long}/Info.plist"), plist.as_bytes())
        .unwrap();
    let record = format!("{long}/PaxName");
    // "<length> path=<name>\n", the length counting its own digits.
    let rest = record.len() + " path=\n".len();
    let digits = (rest + 3).to_string().len();
    let pax = format!("{} path={record}\n", rest + digits);
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(pax.len() as u64);
    h.set_cksum();
    b.append(&h, pax.as_bytes()).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_path("short-name").unwrap();
    h.set_size(1);
    h.set_cksum();
    b.append(&h, &b"p"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, format!("{long}/Up"), "../../../build")
        .unwrap();
    b.into_inner().unwrap().finish().unwrap();
    let app = prepare(&s(&p), &t()).unwrap();
    assert_eq!(app.metadata.app_id, "dev.dcd.Long");
    assert_eq!(
        app.zip_entries,
        [
            "Sample.app/",
            "Sample.app/Info.plist",
            "Sample.app/PaxName",
            "Sample.app/Up"
        ]
    );
    let p = d.join("no-app.tar.gz");
    tar_gz(&p, &[("x/readme", E::File(b"x", 0o644))]);
    let e = prepare(&s(&p), &t()).unwrap_err().message;
    assert!(e.starts_with("No .app found in the Expo build"), "{e}");
    let p = d.join("junk.tar.gz");
    std::fs::write(&p, b"\x1f\x8b garbage").unwrap();
    assert!(
        prepare(&s(&p), &t())
            .unwrap_err()
            .message
            .contains("not a readable .tar.gz")
    );
}

/// Serves each scripted `(head, body)` on its own connection and records request lines.
fn serve_bytes(script: Vec<(String, Vec<u8>)>) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::Read;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (head, body) in script {
            let Ok((mut c, _)) = l.accept() else { return };
            let mut req = Vec::new();
            let mut b = [0u8; 1];
            while !req.ends_with(b"\r\n\r\n") && c.read(&mut b).unwrap_or(0) == 1 {
                req.push(b[0]);
            }
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let _ = tx.send(line);
            let _ = c.write_all(head.as_bytes());
            let _ = c.write_all(&body);
        }
    });
    (base, rx)
}

fn ok(body: &[u8]) -> (String, Vec<u8>) {
    (
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        ),
        body.to_vec(),
    )
}

fn status(code: &str, extra: &str) -> (String, Vec<u8>) {
    (
        format!("HTTP/1.1 {code}\r\n{extra}content-length: 0\r\nconnection: close\r\n\r\n"),
        Vec::new(),
    )
}

#[test]
fn an_expo_url_is_downloaded_with_retries_and_redirects_and_its_query_never_shown() {
    let d = scratch();
    let p = d.join("b.tar.gz");
    expo_build(&p, "dev.dcd.Url");
    let body = std::fs::read(&p).unwrap();
    let (base, reqs) = serve_bytes(vec![
        status("503 Service Unavailable", ""),
        status(
            "302 Found",
            "location: /signed/build.tar.gz?sig=second-secret\r\n",
        ),
        ok(&body),
    ]);
    let url = format!("{base}/artifacts/build.tar.gz?token=very-secret-signature");
    let app = prepare(&url, &t()).unwrap();
    assert_eq!(app.original, format!("{base}/artifacts/build.tar.gz"));
    assert_eq!(app.metadata.app_id, "dev.dcd.Url");
    assert_eq!(app.platform, AppPlatform::Ios);
    let lines: Vec<String> = reqs.try_iter().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[2].starts_with("GET /signed/build.tar.gz?sig=second-secret "),
        "{lines:?}"
    );
    assert_eq!(crate::debug::redact("x very-secret-signature x"), "x *** x");

    let (base, reqs) = serve_bytes(vec![status("403 Forbidden", ""), ok(&body)]);
    let e = prepare(
        &format!("{base}/b.tar.gz?X-Amz-Signature=abcdef123456"),
        &t(),
    )
    .unwrap_err();
    assert!(
        e.message.contains("HTTP 403") && e.message.contains("expire"),
        "{}",
        e.message
    );
    assert!(!e.message.contains("abcdef123456"), "{}", e.message);
    assert_eq!(reqs.try_iter().count(), 1, "a 4xx is not retried");

    let (base, reqs) = serve_bytes(vec![
        status("500 Oops", ""),
        status("502 Bad", ""),
        status("504 Late", ""),
    ]);
    let e = prepare(&format!("{base}/b.tar.gz"), &t()).unwrap_err();
    assert!(e.message.contains("HTTP 504"), "{}", e.message);
    assert_eq!(reqs.try_iter().count(), 3, "three attempts in all");
}

#[test]
fn a_url_is_shown_without_its_query_or_credentials() {
    assert_eq!(
        expo::shown_url("https://u:p@h/x.tar.gz?sig=1#f"),
        "https://h/x.tar.gz"
    );
}
