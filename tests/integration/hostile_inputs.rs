//! End-to-end: app inputs built to attack dcd, through the real binary against the fake
//! cloud. An Expo build whose links lead out of its extraction directory (by file and by
//! URL), a binary `Info.plist` whose arrays share references, a text one nested a million
//! deep, an Expo build whose first record is a 1 GiB long name, and FIFOs or devices where
//! a file is expected: each ends with exit 1 and a clear message, no panic, within a memory
//! limit and without hanging, and nothing reaches the fake's storage.

use crate::support::fake_cloud::*;
use crate::support::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const KEY: &str = "hostile-inputs-test-key-123456";
const LIMIT: Duration = Duration::from_secs(60);
/// The address space a run gets: far more than dcd needs, far less than a bomb takes.
const MEMORY: u64 = 512 << 20;

/// One test's directory: the inputs, `tmp/` (every run's `TMPDIR`) and `home/` (its config
/// directory is `home/config`). The binary runs with this as its cwd.
struct Work {
    dir: TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = TempDir::new();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        std::fs::create_dir_all(dir.path().join("home/config")).unwrap();
        Work { dir }
    }

    fn at(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `dcd <args> --api-url <fake>`, at most [`MEMORY`] of address space, [`LIMIT`] of time.
    fn dcd(&self, fc: &FakeCloud, args: &[&str]) -> Output {
        let mut c = dcd_in_memory(&self.at("home"), MEMORY);
        c.current_dir(self.dir.path())
            .env("TMPDIR", self.at("tmp"))
            .env("DCD_SUPABASE_URL", fc.url())
            .env("DEVICE_CLOUD_API_KEY", KEY)
            .args(args)
            .args(["--api-url", &fc.url()]);
        run(c, LIMIT)
    }

    /// What is left in `tmp/` (nothing, once a run is over).
    fn leftovers(&self) -> Vec<String> {
        entries(&self.at("tmp"))
    }
}

fn fake(s: Scenario) -> FakeCloud {
    FakeCloud::start(s.api_key(KEY))
}

/// Exit 1, no panic, stderr exactly `✗ Error: <message>` (one line unless `message` has
/// more), nothing uploaded, no temporary file left.
fn refused(w: &Work, fc: &FakeCloud, o: &Output, message: &str) {
    o.assert_code(1).assert_no_panic();
    assert_eq!(o.stderr, format!("✗ Error: {message}\n"), "{o}");
    let uploads: Vec<String> = fc
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p.starts_with("/uploads/") || p.starts_with("/storage/"))
        .collect();
    assert_eq!(uploads, Vec::<String>::new(), "{o}");
    assert!(fc.finalised().is_empty());
    assert_eq!(w.leftovers(), Vec::<String>::new(), "{o}");
}

/// Whether `secret` reached the fake: in a request body as it is, or in a file of a zip it
/// stored (the app is uploaded deflated).
fn reached_the_fake(fc: &FakeCloud, secret: &[u8]) -> bool {
    let has = |hay: &[u8]| hay.windows(secret.len()).any(|w| w == secret);
    let objects = fc
        .tus_uploads()
        .into_iter()
        .filter_map(|t| t.meta("objectName").and_then(|n| fc.stored_object(n)));
    let in_zip = |bytes: &[u8]| {
        let Ok(mut z) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
            return false;
        };
        (0..z.len()).any(|i| {
            let mut data = Vec::new();
            let _ = z.by_index(i).map(|mut f| f.read_to_end(&mut data));
            has(&data)
        })
    };
    fc.requests().iter().any(|r| has(&r.body)) || objects.into_iter().any(|o| in_zip(&o))
}

/// A header of `kind` for `name` (written raw, up to 100 bytes), `size` bytes declared.
fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    h
}

/// An Expo build whose bundle `MyApp.app` gets, by a hard link, the file at the absolute
/// path `outside`: `up` leads back to the extraction root (40 names down, 40 `..` up), and
/// `esc` goes 40 `..` up from there, to `/`, though its text counts only 40 of its 41 names
/// back. Long names go in GNU records, as `tar` writes them. The `.tar.gz` bytes.
fn escaping_build(outside: &Path) -> Vec<u8> {
    use tar::EntryType as T;
    let deep: String = (0..40).map(|i| format!("d{i}/")).collect();
    let ups = "../".repeat(40);
    let plist = b"<plist><dict><key>CFBundleIdentifier</key><string>dev.dcd.Hostile</string></dict></plist>";
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let h = |kind: T, size: usize| header("", kind, size as u64);
    b.append_data(&mut h(T::Directory, 0), &deep, &b""[..])
        .unwrap();
    b.append_link(&mut h(T::Symlink, 0), format!("{deep}up"), &ups)
        .unwrap();
    b.append_link(&mut h(T::Symlink, 0), "esc", format!("{deep}up/{ups}"))
        .unwrap();
    b.append_data(&mut h(T::Directory, 0), "MyApp.app/", &b""[..])
        .unwrap();
    b.append_data(
        &mut h(T::Regular, plist.len()),
        "MyApp.app/Info.plist",
        &plist[..],
    )
    .unwrap();
    let target = format!("esc{}", outside.display());
    b.append_link(&mut h(T::Link, 0), "MyApp.app/stolen", target)
        .unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

#[test]
fn an_expo_build_cannot_link_a_file_from_outside_into_the_upload_by_file_or_by_url() {
    let w = Work::new();
    // A file of the user's, and the user's own session (tokens).
    let secret = b"SECRET-7f3a9c-not-for-upload";
    std::fs::write(w.at("secret.txt"), secret).unwrap();
    let config = w.at("home/config/config.json");
    let marker = "access-token-SECRET-91bd2e";
    let session = session_config("http://127.0.0.1:9", marker, "org-1", unix_now() + 3600);
    std::fs::write(&config, session).unwrap();

    std::fs::write(w.at("build.tar.gz"), escaping_build(&w.at("secret.txt"))).unwrap();
    let fc = fake(Scenario::default());
    let o = w.dcd(&fc, &["upload", "build.tar.gz"]);
    let why = "the link esc points outside the extraction directory";
    refused(
        &w,
        &fc,
        &o,
        &format!("Failed to extract the Expo build build.tar.gz: {why}"),
    );
    assert!(!reached_the_fake(&fc, secret));
    assert_eq!(std::fs::read(w.at("secret.txt")).unwrap(), secret);

    let fc = fake(Scenario::default().file("build.tar.gz", escaping_build(&config)));
    let url = format!("{}/files/build.tar.gz", fc.url());
    let o = w.dcd(&fc, &["upload", "--app-url", &url]);
    refused(
        &w,
        &fc,
        &o,
        &format!("Failed to extract the Expo build {url}: {why}"),
    );
    assert!(!reached_the_fake(&fc, marker.as_bytes()));
    assert!(
        fc.requests()
            .iter()
            .any(|r| r.path == "/files/build.tar.gz"),
        "the build was downloaded"
    );
}

/// A binary plist of a few hundred bytes: `CFBundleIdentifier`, then arrays of 14
/// references to one array of 14 references to … 12 deep (14^12 values expanded).
fn shared_references_plist() -> Vec<u8> {
    let (levels, width) = (12u8, 14u8);
    let mut objects: Vec<Vec<u8>> = vec![vec![0xD2, 1, 3, 2, 4]];
    let mut key = vec![0x5F, 0x10, 18];
    key.extend_from_slice(b"CFBundleIdentifier");
    objects.push(key);
    objects.push([&[0x57][..], b"dev.dcd"].concat());
    objects.push(vec![0x51, b'a']);
    for level in 0..levels {
        let child = if level + 1 == levels { 2 } else { 5 + level };
        let mut a = vec![0xA0 | width];
        a.extend(std::iter::repeat_n(child, width as usize));
        objects.push(a);
    }
    let mut out = b"bplist00".to_vec();
    let mut offsets = Vec::new();
    for o in &objects {
        offsets.extend_from_slice(&(out.len() as u16).to_be_bytes());
        out.extend_from_slice(o);
    }
    let table = out.len() as u64;
    out.extend_from_slice(&offsets);
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 2, 1]);
    out.extend_from_slice(&(objects.len() as u64).to_be_bytes());
    out.extend_from_slice(&0u64.to_be_bytes());
    out.extend_from_slice(&table.to_be_bytes());
    out
}

#[test]
fn info_plists_that_expand_or_nest_without_end_are_refused_within_a_memory_limit() {
    let w = Work::new();
    let bomb = shared_references_plist();
    assert!(bomb.len() < 400, "{}", bomb.len());
    let deep = format!(
        "{{a = {}{};}}",
        "(".repeat(1_000_000),
        ")".repeat(1_000_000)
    );
    let cases: [(&str, &[u8], &str); 2] = [
        (
            "Shared.app",
            &bomb,
            "Info.plist holds more than 1000000 values",
        ),
        ("Deep.app", deep.as_bytes(), "Info.plist nests too deeply"),
    ];
    for (app, plist, why) in cases {
        std::fs::create_dir(w.at(app)).unwrap();
        std::fs::write(w.at(app).join("Info.plist"), plist).unwrap();
        let fc = fake(Scenario::default());
        let o = w.dcd(&fc, &["upload", app]);
        let says = format!(
            "Failed to extract metadata from {app}. Supported formats: .apk, .app, .zip\n{why}"
        );
        refused(&w, &fc, &o, &says);
    }
    // The same plist in a zip of one bundle.
    let mut z = zip::ZipWriter::new(std::fs::File::create(w.at("Shared.zip")).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    z.add_directory("Shared.app/", opts).unwrap();
    z.start_file("Shared.app/Info.plist", opts).unwrap();
    z.write_all(&bomb).unwrap();
    z.finish().unwrap();
    let fc = fake(Scenario::default());
    let o = w.dcd(&fc, &["upload", "Shared.zip"]);
    let says = "Failed to extract metadata from Shared.zip. Supported formats: .apk, .app, .zip\n\
        Info.plist holds more than 1000000 values";
    refused(&w, &fc, &o, says);
}

/// Bits written least significant first, as deflate packs them.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u64, count: u32) {
        self.acc |= value << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code: its bits go most significant first.
    fn code(&mut self, code: u64, count: u32) {
        let reversed = (0..count).fold(0, |r, i| r << 1 | (code >> i) & 1);
        self.put(reversed, count);
    }
}

/// A `.tar.gz` whose first record is a GNU long name declaring `size` bytes, and that many
/// zero bytes after it: the deflate stream is the header stored, then one fixed-Huffman
/// block of "a zero, then 258 more copied from 1 back" (13 bits per 258 bytes), so 1 GiB
/// costs about 7 MB. The gzip trailer is left zero: nothing should read that far.
fn long_name_bomb(size: u64) -> Vec<u8> {
    let mut h = header("././@LongLink", tar::EntryType::GNULongName, size);
    h.set_cksum();
    let mut bits = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
        acc: 0,
        n: 0,
    };
    // A stored block: the header's 512 bytes.
    bits.put(0, 1);
    bits.put(0, 2);
    bits.put(0, bits.n.wrapping_neg() & 7);
    bits.out.extend_from_slice(&512u16.to_le_bytes());
    bits.out.extend_from_slice(&(!512u16).to_le_bytes());
    bits.out.extend_from_slice(h.as_bytes());
    // The last block, fixed Huffman: literal 0 (code 0x30, 8 bits), then length 258
    // (symbol 285: 0xC5, 8 bits) at distance 1 (code 0, 5 bits), then the end (7 bits).
    bits.put(1, 1);
    bits.put(1, 2);
    bits.code(0x30, 8);
    for _ in 0..(size - 1) / 258 {
        bits.code(0xC5, 8);
        bits.code(0, 5);
    }
    for _ in 0..(size - 1) % 258 {
        bits.code(0x30, 8);
    }
    bits.code(0, 7);
    bits.put(0, bits.n.wrapping_neg() & 7);
    bits.out.extend_from_slice(&[0; 8]);
    bits.out
}

#[test]
fn an_expo_build_whose_first_record_is_a_1_gib_long_name_is_refused_within_a_memory_limit() {
    let w = Work::new();
    // The stream really holds what it says: a GNU long name of 2 KiB made this way reads.
    let small = long_name_bomb(2048);
    let mut gz = flate2::read::GzDecoder::new(&small[..]);
    let mut head = vec![0u8; 512 + 2048];
    gz.read_exact(&mut head).unwrap();
    assert_eq!(&head[..13], b"././@LongLink");
    assert!(head[512..].iter().all(|&b| b == 0));

    std::fs::write(w.at("long.tar.gz"), long_name_bomb(1 << 30)).unwrap();
    let fc = fake(Scenario::default());
    let o = w.dcd(&fc, &["upload", "long.tar.gz"]);
    refused(
        &w,
        &fc,
        &o,
        "Failed to extract the Expo build long.tar.gz: the archive has a long-name record of 1073741824 bytes (at most 64 KiB)",
    );
}

/// Makes a FIFO at `path` with the system's `mkfifo`; `false` when there is none.
fn mkfifo(path: &Path) -> bool {
    std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn fifos_and_devices_where_the_app_file_should_be_are_refused_at_once() {
    let w = Work::new();
    if !mkfifo(&w.at("pipe.zip")) {
        eprintln!("SKIPPED: no mkfifo on this machine");
        return;
    }
    assert!(mkfifo(&w.at("pipe.apk")) && mkfifo(&w.at("pipe.tar.gz")));
    std::os::unix::fs::symlink("/dev/zero", w.at("zero.apk")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", w.at("zero.tar.gz")).unwrap();
    let plist = b"<plist><dict><key>CFBundleIdentifier</key><string>a.b</string></dict></plist>";
    std::fs::create_dir(w.at("Piped.app")).unwrap();
    std::fs::write(w.at("Piped.app/Info.plist"), plist).unwrap();
    assert!(mkfifo(&w.at("Piped.app/Resource")));
    std::fs::create_dir(w.at("PipedPlist.app")).unwrap();
    assert!(mkfifo(&w.at("PipedPlist.app/Info.plist")));
    let not_a_file = |f: &str| format!("App file is not a file: {f}");
    let cases = [
        ("pipe.zip", not_a_file("pipe.zip")),
        ("pipe.apk", not_a_file("pipe.apk")),
        ("pipe.tar.gz", not_a_file("pipe.tar.gz")),
        ("zero.apk", not_a_file("zero.apk")),
        ("zero.tar.gz", not_a_file("zero.tar.gz")),
        (
            "/dev/zero",
            "App file must be a .apk for Android, or a .app directory, a .zip of one or an Expo .tar.gz build for iOS: /dev/zero".to_string(),
        ),
        (
            "Piped.app",
            format!(
                "Failed to zip Piped.app: {} is not a file, a directory or a symbolic link",
                Path::new("Piped.app/Resource").display()
            ),
        ),
        (
            "PipedPlist.app",
            "Failed to extract metadata from PipedPlist.app. Supported formats: .apk, .app, .zip\ncannot read Info.plist: not a regular file".to_string(),
        ),
    ];
    for (input, says) in cases {
        let fc = fake(Scenario::default());
        let o = w.dcd(&fc, &["upload", input]);
        refused(&w, &fc, &o, &says);
    }
    // `dcd cloud --app-file` takes the same way.
    let flows = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/basic");
    let fc = fake(Scenario::default());
    let args = ["cloud", "--app-file", "pipe.zip", flows.to_str().unwrap()];
    let o = w.dcd(&fc, &args);
    refused(&w, &fc, &o, &not_a_file("pipe.zip"));
}
