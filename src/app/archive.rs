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
/// are stored as links, never followed; anything but files, directories and links is
/// refused. Returns the entry names in order.
pub fn zip_dir(dir: &Path, out: &Path) -> Result<Vec<String>, String> {
    let root = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{} has no usable name", dir.display()))?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(256 << 10, file));
    let mut names = Vec::new();
    add_dir(&mut zip, dir, root, 0, &mut names)?;
    let zerr = |e: zip::result::ZipError| format!("cannot write {}: {e}", out.display());
    let mut w = zip.finish().map_err(zerr)?;
    w.flush()
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(names)
}

fn options(mode: u32) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::DEFAULT)
        .unix_permissions(mode & 0o777)
}

fn add_dir<W: Write + std::io::Seek>(
    zip: &mut ZipWriter<W>,
    dir: &Path,
    name: &str,
    depth: usize,
    names: &mut Vec<String>,
) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if depth > MAX_DEPTH {
        return Err(format!("{} nests too deeply", dir.display()));
    }
    let zerr = |e: zip::result::ZipError| format!("cannot zip {}: {e}", dir.display());
    let io = |e: std::io::Error| format!("cannot read {}: {e}", dir.display());
    let dir_name = format!("{name}/");
    zip.add_directory(dir_name.as_str(), options(0o755))
        .map_err(zerr)?;
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
            add_dir(zip, &path, &entry, depth + 1, names)?;
            continue;
        }
        if t.is_symlink() {
            let target = std::fs::read_link(&path).map_err(io)?;
            let target = target
                .to_str()
                .ok_or_else(|| format!("{} links to a name that is not UTF-8", path.display()))?;
            zip.add_symlink(entry.as_str(), target, options(0o777))
                .map_err(zerr)?;
        } else if t.is_file() {
            let (mut f, len) = crate::fsio::open_capped(&path, u64::MAX)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let opts = options(meta.permissions().mode()).large_file(len >= ZIP64_FROM);
            zip.start_file(entry.as_str(), opts).map_err(zerr)?;
            std::io::copy(&mut f, zip)
                .map_err(|e| format!("cannot zip {}: {e}", path.display()))?;
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
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
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
        .map(|n| crate::render::sanitize::one_line(n, 80))
        .collect();
    if found.len() > 5 {
        shown.push(format!("and {} more", found.len() - 5));
    }
    shown.join(", ")
}
