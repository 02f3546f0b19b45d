//! The one extraction of an untrusted archive: an Expo build (a gzip-compressed tar) into a
//! private directory, the *root*, that nothing but this extraction writes to. The rules
//! (docs/commands.md, "The app"):
//!
//! - **Names** are relative and have no `..`. Every directory on the way to an entry is a real
//!   directory (made here if missing), never a link or a file, so nothing is written through
//!   a link; an entry replaces an earlier file or link of the same name, never a directory.
//! - **Symbolic links**: the target is resolved on the real files, as the kernel would —
//!   every link on the way followed, a `..` taken from where that link led — and must stay
//!   inside the root. A name that does not exist (yet) counts as a directory, whatever a
//!   later entry makes of it; and because a later entry can change what a link resolves
//!   through, every link is checked again once the whole archive is out.
//! - **Hard links** point only at a regular file this archive extracted before, named by a
//!   path of real directories (no link on the way): never at a link, a directory or anything
//!   reached through a link.
//! - Devices and FIFOs are skipped; sparse files are refused.
//! - **Budgets**, each holding before anything grows past it: bytes and entries extracted;
//!   each extension record (GNU long names, PAX headers) read by this module, not by the tar
//!   crate, and refused from its declared size before a byte of it is read; the names of
//!   the links kept for the final check; the steps spent resolving links.
//!
//! The archive is read as raw records (`tar::Entries::raw`): the crate would read a long-name
//! record of any declared size into memory.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use tar::EntryType as T;

/// The most extracted: bytes over all files, and records.
const MAX_EXTRACTED: u64 = 16 << 30;
const MAX_ENTRIES: u64 = 1_000_000;
/// The largest GNU long-name or long-link record (a path is at most 4 KiB on Linux).
const MAX_LONG_NAME: u64 = 64 << 10;
/// The largest PAX record (names, times, extended attributes).
const MAX_PAX: u64 = 1 << 20;
/// Bytes of link names kept for the final check.
const MAX_LINK_NAMES: u64 = 64 << 20;
/// Links followed while resolving one target (as the kernel's limit).
const MAX_HOPS: u32 = 40;
/// Names looked up while resolving the link targets of one archive (each link is resolved
/// twice: when it is made and once the archive is out).
const MAX_STEPS: u64 = 4_000_000;

/// Extracts the gzip-compressed tar `tarball` into the existing, empty, private directory
/// `root`, under the rules of the module header.
pub fn extract(tarball: &Path, root: &Path) -> Result<(), String> {
    let (file, _) = crate::fsio::open_capped(tarball, u64::MAX).map_err(|e| e.to_string())?;
    let gz = flate2::read::GzDecoder::new(io::BufReader::new(file));
    let mut archive = tar::Archive::new(gz);
    let mut x = Extraction {
        root: root.to_path_buf(),
        budget: MAX_EXTRACTED,
        links: Vec::new(),
        link_names: 0,
        steps: 0,
    };
    let mut pending = Pending::default();
    let entries = archive.entries().map_err(unreadable)?.raw(true);
    for (n, entry) in entries.enumerate() {
        if n as u64 >= MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        let mut entry = entry.map_err(unreadable)?;
        if pending.take(&mut entry)? {
            continue;
        }
        let names = pending.names(&entry)?;
        x.entry(&mut entry, &names)?;
    }
    if !pending.is_empty() {
        return Err(unreadable(io::Error::other(
            "the archive ends with a record describing a member that does not follow",
        )));
    }
    x.check_links()
}

fn unreadable(e: io::Error) -> String {
    format!("not a readable .tar.gz: {e}")
}

fn shown(p: &Path) -> String {
    crate::sanitize::one_line(&p.to_string_lossy(), 120)
}

/// Extension records read so far, describing the next member.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Vec<u8>>,
}

/// A member's name, and its link target if it has one.
struct Names {
    path: Vec<u8>,
    link: Option<Vec<u8>>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.long_name.is_none() && self.long_link.is_none() && self.pax.is_none()
    }

    /// Takes `entry` when it is an extension record (reading it, within its cap) or a global
    /// PAX header (skipped: nothing in one matters here); `false` for a member.
    fn take<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<bool, String> {
        let kind = entry.header().entry_type();
        let (slot, cap, what) = if kind.is_gnu_longname() {
            (&mut self.long_name, MAX_LONG_NAME, "long-name")
        } else if kind.is_gnu_longlink() {
            (&mut self.long_link, MAX_LONG_NAME, "long-link")
        } else if kind.is_pax_local_extensions() {
            (&mut self.pax, MAX_PAX, "PAX")
        } else {
            return Ok(kind.is_pax_global_extensions());
        };
        let size = entry.header().entry_size().map_err(unreadable)?;
        if size > cap {
            return Err(format!(
                "the archive has a {what} record of {size} bytes (at most {} KiB)",
                cap >> 10
            ));
        }
        if slot.is_some() {
            return Err(format!("the archive has two {what} records for one member"));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut bytes).map_err(unreadable)?;
        *slot = Some(bytes);
        Ok(true)
    }

    /// The member's name and link target, from the records before it or its own header;
    /// the records are used up.
    fn names<R: Read>(&mut self, entry: &tar::Entry<'_, R>) -> Result<Names, String> {
        let header = entry.header();
        let pax = self.pax.take();
        let pax_value = |key: &[u8]| -> Result<Option<Vec<u8>>, String> {
            let Some(pax) = pax.as_deref() else {
                return Ok(None);
            };
            for ext in tar::PaxExtensions::new(pax) {
                let ext = ext.map_err(|_| "the archive has a damaged PAX record".to_string())?;
                if ext.key_bytes() == key {
                    return Ok(Some(ext.value_bytes().to_vec()));
                }
            }
            Ok(None)
        };
        // The tar crate sizes a raw record by its header: a PAX size that says otherwise
        // would make this reading and another tool's disagree.
        if let Some(size) = pax_value(b"size")? {
            let header_size = header.entry_size().map_err(unreadable)?;
            if std::str::from_utf8(&size).ok().and_then(|s| s.parse().ok()) != Some(header_size) {
                return Err("the archive's PAX size disagrees with its header".into());
            }
        }
        let path = match (pax_value(b"path")?, self.long_name.take()) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => header.path_bytes().into_owned(),
        };
        let link = match (pax_value(b"linkpath")?, self.long_link.take()) {
            (Some(l), _) | (None, Some(l)) => Some(l),
            (None, None) => header.link_name_bytes().map(|l| l.into_owned()),
        };
        // A name ends at its first NUL (GNU records carry one).
        let cut = |mut b: Vec<u8>| {
            if let Some(i) = b.iter().position(|&c| c == 0) {
                b.truncate(i);
            }
            b
        };
        Ok(Names {
            path: cut(path),
            link: link.map(cut),
        })
    }
}

/// One extraction in progress.
struct Extraction {
    root: PathBuf,
    /// Bytes still allowed.
    budget: u64,
    /// Every symbolic link made, relative to the root, for the final check.
    links: Vec<PathBuf>,
    link_names: u64,
    /// Resolution steps spent.
    steps: u64,
}

/// `rel` without `.`, or `None` when it is absolute or has a `..`.
fn confined(rel: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

/// A member's name or link target as a path: UTF-8 on every platform (the bundle's zip
/// needs UTF-8 names anyway, and Windows paths are not bytes).
fn utf8_name(bytes: &[u8]) -> Result<&OsStr, String> {
    std::str::from_utf8(bytes).map(OsStr::new).map_err(|_| {
        format!(
            "the entry {} has a name that is not UTF-8",
            crate::sanitize::one_line(&String::from_utf8_lossy(bytes), 120)
        )
    })
}

impl Extraction {
    /// Extracts one member.
    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        names: &Names,
    ) -> Result<(), String> {
        let raw = Path::new(utf8_name(&names.path)?);
        let Some(rel) = confined(raw) else {
            return Err(format!(
                "the entry {} would be written outside the extraction directory",
                shown(raw)
            ));
        };
        if rel.as_os_str().is_empty() {
            return Ok(());
        }
        let kind = entry.header().entry_type();
        if kind.is_gnu_sparse() {
            return Err(format!("the entry {} is a sparse file", shown(&rel)));
        }
        if !matches!(
            kind,
            T::Regular | T::Continuous | T::Directory | T::Symlink | T::Link
        ) {
            // Devices, FIFOs and the like have no place in an app.
            return Ok(());
        }
        let dest = self.prepare_parent(&rel)?;
        let werr = |e: io::Error| format!("cannot extract {}: {e}", shown(&rel));
        if kind != T::Directory {
            remove_existing_file(&dest).map_err(werr)?;
        }
        let link = || {
            names
                .link
                .as_deref()
                .filter(|l| !l.is_empty())
                .ok_or_else(|| format!("the link {} has no target", shown(&rel)))
                .and_then(|l| utf8_name(l).map(PathBuf::from))
        };
        match kind {
            T::Directory => match std::fs::symlink_metadata(&dest) {
                Ok(m) if m.is_dir() => Ok(()),
                Ok(_) => Err(format!(
                    "the entry {} is both a file and a directory",
                    shown(&rel)
                )),
                Err(_) => std::fs::create_dir(&dest).map_err(werr),
            },
            T::Symlink => self.symlink(&rel, &link()?, &dest),
            T::Link => self.hard_link(&rel, &link()?, &dest),
            _ => self.file(entry, &rel, &dest),
        }
    }

    /// Creates the directories above `root/rel`, refusing a path that passes through a
    /// symbolic link or a file. Returns `root/rel`.
    fn prepare_parent(&self, rel: &Path) -> Result<PathBuf, String> {
        let mut at = self.root.clone();
        let mut parts = rel.components().peekable();
        while let Some(c) = parts.next() {
            at.push(c);
            if parts.peek().is_none() {
                break;
            }
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(format!(
                        "the entry {} passes through a link or a file",
                        shown(rel)
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    std::fs::create_dir(&at)
                        .map_err(|e| format!("cannot create {}: {e}", shown(rel)))?;
                }
                Err(e) => return Err(format!("cannot create {}: {e}", shown(rel))),
            }
        }
        Ok(at)
    }

    /// A regular file, its bytes counted against the budget as they are written.
    fn file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        rel: &Path,
        dest: &Path,
    ) -> Result<(), String> {
        let werr = |e: io::Error| format!("cannot extract {}: {e}", shown(rel));
        let mode = entry.header().mode().unwrap_or(0o644) & 0o755 | 0o600;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        let mut out = crate::platform::set_create_mode(&mut options, mode)
            .open(dest)
            .map_err(werr)?;
        let n = io::copy(&mut entry.take(self.budget + 1), &mut out).map_err(werr)?;
        if n > self.budget {
            return Err(format!(
                "the archive holds more than {} GiB",
                MAX_EXTRACTED >> 30
            ));
        }
        self.budget -= n;
        Ok(())
    }

    /// A symbolic link whose target resolves inside the root, kept for the final check.
    fn symlink(&mut self, rel: &Path, target: &Path, dest: &Path) -> Result<(), String> {
        self.link_names += rel.as_os_str().len() as u64;
        if self.link_names > MAX_LINK_NAMES {
            return Err(format!(
                "the archive's links have more than {} MiB of names",
                MAX_LINK_NAMES >> 20
            ));
        }
        self.check_link(rel, target)?;
        crate::platform::symlink(target, dest)
            .map_err(|e| format!("cannot extract {}: {e}", shown(rel)))?;
        self.links.push(rel.to_path_buf());
        Ok(())
    }

    /// A hard link to a regular file extracted before, reached through real directories.
    fn hard_link(&mut self, rel: &Path, target: &Path, dest: &Path) -> Result<(), String> {
        let source = confined(target)
            .filter(|t| !t.as_os_str().is_empty())
            .and_then(|t| self.extracted_file(&t))
            .ok_or_else(|| {
                format!(
                    "the hard link {} has no file extracted before it to point at",
                    shown(rel)
                )
            })?;
        std::fs::hard_link(source, dest).map_err(|e| format!("cannot extract {}: {e}", shown(rel)))
    }

    /// `root/rel` when every directory on the way is a real directory and `rel` itself a
    /// regular file — none of them a link. Everything under the root was made by this
    /// extraction, so such a file is one the archive wrote.
    fn extracted_file(&self, rel: &Path) -> Option<PathBuf> {
        let mut at = self.root.clone();
        let mut parts = rel.components().peekable();
        while let Some(c) = parts.next() {
            at.push(c);
            let m = std::fs::symlink_metadata(&at).ok()?;
            let fits = if parts.peek().is_some() {
                m.is_dir()
            } else {
                m.is_file()
            };
            if !fits {
                return None;
            }
        }
        Some(at)
    }

    /// Refuses the link `rel` → `target` unless the target resolves inside the root.
    fn check_link(&mut self, rel: &Path, target: &Path) -> Result<(), String> {
        resolve_inside(&self.root, rel, target, &mut self.steps).map_err(|why| match why {
            Unresolved::Outside => format!(
                "the link {} points outside the extraction directory",
                shown(rel)
            ),
            Unresolved::Loop => format!("the link {} leads through too many links", shown(rel)),
            Unresolved::Budget => {
                format!("the archive's links take more than {MAX_STEPS} steps to resolve")
            }
            Unresolved::Io(e) => format!("cannot check the link {}: {e}", shown(rel)),
        })
    }

    /// Every link made, checked again now that nothing can change what it resolves through.
    fn check_links(&mut self) -> Result<(), String> {
        for rel in std::mem::take(&mut self.links) {
            let at = self.root.join(&rel);
            // A later entry may have replaced the link; what is there now is what counts.
            let Ok(target) = std::fs::read_link(&at) else {
                continue;
            };
            self.check_link(&rel, &target)?;
        }
        Ok(())
    }
}

/// A later entry of the same name replaces an earlier file or link (as `tar` does).
fn remove_existing_file(dest: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(dest) {
        Ok(m) if !m.is_dir() => std::fs::remove_file(dest),
        _ => Ok(()),
    }
}

/// Why a link target was not found inside the root.
enum Unresolved {
    Outside,
    Loop,
    Budget,
    Io(io::Error),
}

/// One step of a path still to resolve.
enum Step {
    Up,
    Name(OsString),
}

/// Pushes the components of `target` onto `todo` so that the first is popped first; an
/// absolute target leaves the root.
fn push_target(todo: &mut Vec<Step>, target: &Path) -> Result<(), Unresolved> {
    let mut steps = Vec::new();
    for c in target.components() {
        match c {
            Component::Normal(n) => steps.push(Step::Name(n.to_os_string())),
            Component::ParentDir => steps.push(Step::Up),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err(Unresolved::Outside),
        }
    }
    todo.extend(steps.into_iter().rev());
    Ok(())
}

/// Whether the link at `rel` (under `root`) with `target` resolves inside `root`, on the real
/// files: from the link's directory, each name looked up without following it; a link found
/// on the way is followed from where it is (its own target spliced in), a `..` goes up from
/// wherever the path has got to, and leaving the root at any point is outside. A name that
/// is not there, or not a directory, counts as a directory (what a later entry could make
/// it). `steps` counts the names looked up, against [`MAX_STEPS`].
fn resolve_inside(
    root: &Path,
    rel: &Path,
    target: &Path,
    steps: &mut u64,
) -> Result<(), Unresolved> {
    let mut at: Vec<OsString> = rel
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    let mut todo = Vec::new();
    push_target(&mut todo, target)?;
    let mut hops = 0;
    while let Some(step) = todo.pop() {
        *steps += 1;
        if *steps > MAX_STEPS {
            return Err(Unresolved::Budget);
        }
        let name = match step {
            Step::Up => {
                at.pop().ok_or(Unresolved::Outside)?;
                continue;
            }
            Step::Name(n) => n,
        };
        let path: PathBuf = std::iter::once(root.as_os_str())
            .chain(at.iter().map(OsString::as_os_str))
            .chain(std::iter::once(name.as_os_str()))
            .collect();
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(Unresolved::Loop);
                }
                let next = std::fs::read_link(&path).map_err(Unresolved::Io)?;
                push_target(&mut todo, &next)?;
            }
            Ok(_) => at.push(name),
            Err(e) if e.kind() == io::ErrorKind::NotFound => at.push(name),
            Err(e) => return Err(Unresolved::Io(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_confined_textually_first() {
        assert_eq!(confined(Path::new("./a/./b")), Some(PathBuf::from("a/b")));
        assert_eq!(confined(Path::new("a/../b")), None);
        assert_eq!(confined(Path::new("/a")), None);
    }

    /// Resolution on real files: links on the way are followed, `..` goes up from where a
    /// link led, and a missing name counts as a directory.
    #[cfg(unix)]
    #[test]
    fn links_resolve_on_the_real_files() {
        let d = crate::fsio::scratch::Scratch::new("dcd-extract-");
        let root = d.join("root");
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        let link = |at: &str, to: &str| std::os::unix::fs::symlink(to, root.join(at)).unwrap();
        link("a/b/c/up", "../../..");
        link("a/down", "b/c");
        link("loop1", "loop2");
        link("loop2", "loop1");
        let inside = |rel: &str, target: &str| {
            let mut steps = 0;
            match resolve_inside(&root, Path::new(rel), Path::new(target), &mut steps) {
                Ok(()) => Ok(()),
                Err(Unresolved::Outside) => Err("outside"),
                Err(Unresolved::Loop) => Err("loop"),
                Err(Unresolved::Budget) => Err("budget"),
                Err(Unresolved::Io(_)) => Err("io"),
            }
        };
        assert_eq!(inside("x", "a/b/c"), Ok(()));
        assert_eq!(inside("a/x", "../a/b"), Ok(()));
        assert_eq!(inside("x", "/etc"), Err("outside"));
        assert_eq!(inside("x", ".."), Err("outside"));
        // `up` leads to the root itself: one `..` after it leaves, though the text has
        // four names before it.
        assert_eq!(inside("x", "a/b/c/up"), Ok(()));
        assert_eq!(inside("x", "a/b/c/up/.."), Err("outside"));
        assert_eq!(inside("esc", "a/b/c/up/../../.."), Err("outside"));
        // `..` after a link to a deeper directory goes up from there: the text would call
        // this outside, the files say inside.
        assert_eq!(inside("x", "a/down/../../.."), Ok(()));
        assert_eq!(inside("x", "a/down/../../../.."), Err("outside"));
        // Names not there yet count as directories.
        assert_eq!(inside("x", "later/.."), Ok(()));
        assert_eq!(inside("x", "later/../.."), Err("outside"));
        assert_eq!(inside("x", "loop1"), Err("loop"));
    }
}
