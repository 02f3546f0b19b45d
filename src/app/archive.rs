//! Zips: an `.app` directory zipped for upload, and the check that a `.zip` given as the
//! app holds one `.app` bundle at its top level.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// Top-level names a zip made on macOS carries beside the bundle; they do not count.
const IGNORED_TOP: [&str; 2] = ["__MACOSX", ".DS_Store"];
/// Deepest directory nesting zipped (a bundle is a few levels deep; a loop of bind mounts
/// or a hostile tree must not exhaust the stack).
const MAX_DEPTH: usize = 128;
/// Files this large need the zip64 extension.
const ZIP64_FROM: u64 = 0xFFFF_FFFF;

/// Zips the directory `dir` into the new file `out`, every entry under the directory's own
/// name (`MyApp.app/…`). Deterministic: entries sorted by name, dated 1980-01-01, the
/// permission bits kept (an app's executable stays executable), deflate. Symbolic links
/// are stored as links, never followed (a file is opened without following a link, so one
/// swapped in after the walk saw a file is refused); anything but files, directories and
/// links is refused. Returns the entry names in order.
pub fn zip_dir(dir: &Path, out: &Path) -> Result<Vec<String>, String> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(256 << 10, file));
    let names = walk(dir, &mut zip)?;
    let zerr = |e: zip::result::ZipError| format!("cannot write {}: {e}", out.display());
    let mut w = zip.finish().map_err(zerr)?;
    w.flush()
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(names)
}

/// Every check [`zip_dir`] makes of `dir`, without writing a zip: each name, kind and link
/// target, and each file opened (for a dry run). Returns the entry names the zip would hold.
pub fn check_dir(dir: &Path) -> Result<Vec<String>, String> {
    walk(dir, &mut Checked)
}

/// What [`walk`] does with each entry it accepts.
trait Entries {
    /// A directory (`name` ends `/`); `at` names the directory being read, for errors.
    fn dir(&mut self, name: &str, at: &Path) -> Result<(), String>;
    fn symlink(&mut self, name: &str, target: &str, at: &Path) -> Result<(), String>;
    /// The regular file at `path` in the directory `at`, opened, `len` bytes long.
    fn file(
        &mut self,
        name: &str,
        file: File,
        len: u64,
        mode: u32,
        at: &Path,
        path: &Path,
    ) -> Result<(), String>;
}

/// The walk's entries go into the zip.
impl<W: Write + std::io::Seek> Entries for ZipWriter<W> {
    fn dir(&mut self, name: &str, at: &Path) -> Result<(), String> {
        self.add_directory(name, options(0o755))
            .map_err(|e| format!("cannot zip {}: {e}", at.display()))
    }

    fn symlink(&mut self, name: &str, target: &str, at: &Path) -> Result<(), String> {
        self.add_symlink(name, target, options(0o777))
            .map_err(|e| format!("cannot zip {}: {e}", at.display()))
    }

    fn file(
        &mut self,
        name: &str,
        mut file: File,
        len: u64,
        mode: u32,
        at: &Path,
        path: &Path,
    ) -> Result<(), String> {
        let opts = options(mode).large_file(len >= ZIP64_FROM);
        self.start_file(name, opts)
            .map_err(|e| format!("cannot zip {}: {e}", at.display()))?;
        std::io::copy(&mut file, self)
            .map(|_| ())
            .map_err(|e| format!("cannot zip {}: {e}", path.display()))
    }
}

/// The walk's entries are only checked.
struct Checked;

impl Entries for Checked {
    fn dir(&mut self, _: &str, _: &Path) -> Result<(), String> {
        Ok(())
    }
    fn symlink(&mut self, _: &str, _: &str, _: &Path) -> Result<(), String> {
        Ok(())
    }
    fn file(&mut self, _: &str, _: File, _: u64, _: u32, _: &Path, _: &Path) -> Result<(), String> {
        Ok(())
    }
}

fn options(mode: u32) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::DEFAULT)
        .unix_permissions(mode & 0o777)
}

/// Walks `dir` in name order, every entry under the directory's own name; the names in order.
fn walk(dir: &Path, out: &mut dyn Entries) -> Result<Vec<String>, String> {
    let root = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{} has no usable name", dir.display()))?;
    let mut names = Vec::new();
    add_dir(out, dir, root, 0, &mut names)?;
    Ok(names)
}

fn add_dir(
    out: &mut dyn Entries,
    dir: &Path,
    name: &str,
    depth: usize,
    names: &mut Vec<String>,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{} nests too deeply", dir.display()));
    }
    let io = |e: std::io::Error| format!("cannot read {}: {e}", dir.display());
    let dir_name = format!("{name}/");
    out.dir(dir_name.as_str(), dir)?;
    names.push(dir_name);
    let mut children: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    children.sort();
    for child in children {
        let path = dir.join(&child);
        let child = child
            .to_str()
            .ok_or_else(|| format!("{} has a name that is not UTF-8", path.display()))?;
        let entry = format!("{name}/{child}");
        let meta = std::fs::symlink_metadata(&path).map_err(io)?;
        let t = meta.file_type();
        if t.is_dir() {
            add_dir(out, &path, &entry, depth + 1, names)?;
            continue;
        }
        if t.is_symlink() {
            let target = std::fs::read_link(&path).map_err(io)?;
            let target = target
                .to_str()
                .ok_or_else(|| format!("{} links to a name that is not UTF-8", path.display()))?;
            out.symlink(entry.as_str(), target, dir)?;
        } else if t.is_file() {
            // Opened without following a link: the file seen is the file read.
            let (f, len) = crate::fsio::open_capped_nofollow(&path, u64::MAX)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            out.file(
                entry.as_str(),
                f,
                len,
                crate::platform::zip_mode(&meta),
                dir,
                &path,
            )?;
        } else {
            return Err(format!(
                "{} is not a file, a directory or a symbolic link",
                path.display()
            ));
        }
        names.push(entry);
    }
    Ok(())
}

/// Checks that the zip at `path` holds exactly one top-level entry besides `__MACOSX/` and
/// `.DS_Store`, and that it is an `*.app` folder. Returns its name.
pub fn single_top_app(path: &Path) -> Result<String, String> {
    let (file, _) = crate::fsio::open_capped(path, u64::MAX)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("{} is not a readable zip: {e}", path.display()))?;
    let mut top = BTreeSet::new();
    let mut folders = BTreeSet::new();
    for raw in zip.file_names_raw() {
        let name = String::from_utf8_lossy(raw);
        let name = name.trim_start_matches('/');
        let (first, rest) = match name.split_once('/') {
            Some((first, rest)) => (first, Some(rest)),
            None => (name, None),
        };
        if first.is_empty() || IGNORED_TOP.contains(&first) {
            continue;
        }
        if rest.is_some() {
            folders.insert(first.to_string());
        }
        top.insert(first.to_string());
    }
    match top.iter().collect::<Vec<_>>().as_slice() {
        [one] if one.ends_with(".app") && folders.contains(*one) => Ok(one.to_string()),
        found => Err(format!(
            "The zip must contain exactly one .app folder at its top level; {} has {}",
            path.display(),
            describe_top(found)
        )),
    }
}

/// "nothing", or the top-level names (the first few, sanitised).
fn describe_top(found: &[&String]) -> String {
    if found.is_empty() {
        return "nothing".into();
    }
    let mut shown: Vec<String> = found
        .iter()
        .take(5)
        .map(|n| crate::sanitize::one_line(n, 80))
        .collect();
    if found.len() > 5 {
        shown.push(format!("and {} more", found.len() - 5));
    }
    shown.join(", ")
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::fsio::scratch::Scratch;
    use std::os::unix::ffi::OsStrExt;

    fn tree(root: &Path) -> std::path::PathBuf {
        let app = root.join("T.app");
        std::fs::create_dir_all(app.join("Frameworks/K.framework")).unwrap();
        std::fs::write(app.join("Info.plist"), "<plist/>").unwrap();
        std::fs::write(app.join("Frameworks/K.framework/K"), [7u8; 300]).unwrap();
        std::os::unix::fs::symlink("Frameworks/K.framework/K", app.join("K-link")).unwrap();
        app
    }

    /// A dry run's check walks what the zip takes: the same names in the same order, and the
    /// same refusal, word for word, for what cannot go in.
    #[test]
    fn the_check_accepts_and_refuses_what_the_zip_does() {
        let d = Scratch::new("dcd-archive-");
        let app = tree(&d);
        let zipped = zip_dir(&app, &d.join("1.zip")).unwrap();
        assert_eq!(check_dir(&app).unwrap(), zipped);
        assert_eq!(zipped[0], "T.app/");
        assert!(zipped.contains(&"T.app/K-link".to_string()));
        // A socket, a name that is not UTF-8, a link whose target is not UTF-8.
        type Spoil = fn(&Path);
        let spoilers: [(&str, Spoil); 3] = [
            ("socket", |app| {
                std::os::unix::net::UnixListener::bind(app.join("s.sock")).unwrap();
            }),
            ("name", |app| {
                let bad = std::ffi::OsStr::from_bytes(b"bad\xff");
                std::fs::write(app.join(bad), "x").unwrap();
            }),
            ("link", |app| {
                let bad = std::ffi::OsStr::from_bytes(b"to\xfe");
                std::os::unix::fs::symlink(bad, app.join("L")).unwrap();
            }),
        ];
        for (i, (what, spoil)) in spoilers.iter().enumerate() {
            let root = d.join(format!("case{i}"));
            let app = tree(&root);
            spoil(&app);
            let checked = check_dir(&app).unwrap_err();
            let zip_err = zip_dir(&app, &root.join("out.zip")).unwrap_err();
            assert_eq!(checked, zip_err, "{what}");
            assert!(!checked.is_empty(), "{what}");
        }
    }
}
