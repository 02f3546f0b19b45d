//! Where a download lands, and how it gets there without ever sitting in memory.
//!
//! Paths follow the TS CLI: a leading `~` is the home directory, parent
//! directories are created, an existing file is overwritten. The body is streamed through a
//! small buffer into the one file writer (`fsio::AtomicFile`): a unique temporary file beside
//! the destination, renamed over it only once the whole body has arrived. A download that
//! breaks off leaves neither a half file nor a damaged previous copy behind, and a retry by
//! another route simply starts a new temporary file.

use crate::fsio::AtomicFile;
use std::fmt;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

/// Read buffer, and write buffer in front of the file.
const READ_BUF: usize = 64 << 10;
const WRITE_BUF: usize = 256 << 10;

/// `~` or `~/…` with the home directory (other `~user` forms are left alone, as in the TS
/// CLI). Without a home directory the path is returned unchanged.
pub fn expand_tilde(path: &Path, home: Option<&Path>) -> PathBuf {
    let Some(home) = home else {
        return path.to_path_buf();
    };
    let mut comps = path.components();
    match comps.next() {
        Some(Component::Normal(first)) if first == "~" => home.join(comps.as_path()),
        _ => path.to_path_buf(),
    }
}

/// `~` expanded with `$HOME`.
pub fn expand_home(path: &Path) -> PathBuf {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    expand_tilde(path, home.as_deref())
}

/// `path` resolved against `cwd` and normalised lexically (`.` dropped, `..` applied), like
/// Node's `path.resolve`: symbolic links are not followed.
pub fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Why a save failed.
#[derive(Debug)]
pub enum SaveError {
    /// The body broke off (reset, stall, shorter than announced) after `bytes` bytes.
    Read { bytes: u64, cause: io::Error },
    /// The file (or its directory) could not be created or written.
    Write { path: PathBuf, cause: io::Error },
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaveError::Read { bytes, cause } => {
                write!(f, "the download broke off after {bytes} bytes: {cause}")
            }
            SaveError::Write { path, cause } => {
                write!(f, "cannot write {}: {cause}", path.display())
            }
        }
    }
}

/// Streams `body` into `dest` (creating its directory) through the one file writer: a
/// unique temporary beside it, renamed over it once complete. Returns the bytes written.
pub fn save(mut body: impl Read, dest: &Path) -> Result<u64, SaveError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |cause| SaveError::Write { path, cause }
    };
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    }
    let file = AtomicFile::create(dest, 0o644).map_err(write_err(dest))?;
    let mut out = BufWriter::with_capacity(WRITE_BUF, file);
    let n = copy(&mut body, &mut out, dest)?;
    let file = out.into_inner().map_err(|e| SaveError::Write {
        path: dest.to_path_buf(),
        cause: e.into_error(),
    })?;
    file.commit().map_err(write_err(dest))?;
    Ok(n)
}

fn copy(body: &mut impl Read, out: &mut impl Write, dest: &Path) -> Result<u64, SaveError> {
    let mut buf = vec![0u8; READ_BUF];
    let mut total = 0u64;
    let write_err = |cause| SaveError::Write {
        path: dest.to_path_buf(),
        cause,
    };
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(cause) => {
                return Err(SaveError::Read {
                    bytes: total,
                    cause,
                });
            }
        };
        out.write_all(&buf[..n]).map_err(write_err)?;
        total += n as u64;
    }
    out.flush().map_err(write_err)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dcd-file-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn tilde_expands_only_alone_or_as_the_first_component() {
        let home = Path::new("/home/me");
        let e = |p: &str| expand_tilde(Path::new(p), Some(home));
        assert_eq!(e("~"), PathBuf::from("/home/me"));
        assert_eq!(e("~/a/b.zip"), PathBuf::from("/home/me/a/b.zip"));
        assert_eq!(e("~bob/x"), PathBuf::from("~bob/x"));
        assert_eq!(e("./~/x"), PathBuf::from("./~/x"));
        assert_eq!(e("/tmp/~"), PathBuf::from("/tmp/~"));
        assert_eq!(expand_tilde(Path::new("~/x"), None), PathBuf::from("~/x"));
    }

    #[test]
    fn absolute_resolves_like_path_resolve() {
        let cwd = Path::new("/work/dir");
        let a = |p: &str| absolute(Path::new(p), cwd);
        assert_eq!(a("./report.xml"), PathBuf::from("/work/dir/report.xml"));
        assert_eq!(a("../r/./x.xml"), PathBuf::from("/work/r/x.xml"));
        assert_eq!(a("/abs/x.html"), PathBuf::from("/abs/x.html"));
        assert_eq!(a("../../../../x"), PathBuf::from("/x"));
    }

    /// Only `names`, nothing else (no temporary left beside them).
    fn only(dir: &Path, names: &[&str]) {
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        assert_eq!(found, names);
    }

    #[test]
    fn save_creates_dirs_overwrites_and_leaves_no_temporary_file() {
        let d = tmp("ok");
        let dest = d.join("x/y/out.zip");
        assert_eq!(save(&b"first version"[..], &dest).unwrap(), 13);
        assert_eq!(save(&b"second"[..], &dest).unwrap(), 6);
        assert_eq!(std::fs::read(&dest).unwrap(), b"second");
        only(&d.join("x/y"), &["out.zip"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Yields `good` bytes, then fails.
    struct Broken(usize);
    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
            }
            let n = self.0.min(buf.len()).min(7);
            buf[..n].fill(b'x');
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_broken_body_keeps_the_old_file_and_removes_the_temporary_file() {
        let d = tmp("broken");
        let dest = d.join("out.zip");
        std::fs::write(&dest, b"old").unwrap();
        match save(Broken(20), &dest) {
            Err(SaveError::Read { bytes: 20, cause }) => {
                assert_eq!(cause.kind(), io::ErrorKind::ConnectionReset)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        only(&d, &["out.zip"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn write_errors_name_the_path() {
        let d = tmp("werr");
        let file = d.join("plain-file");
        std::fs::write(&file, b"").unwrap();
        // A parent that is a file: the directory cannot be created.
        match save(&b"x"[..], &file.join("sub/out.zip")) {
            Err(e @ SaveError::Write { .. }) => {
                assert!(e.to_string().contains("plain-file"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        // A destination that is a directory: the rename fails, no temporary file is left.
        let dir = d.join("is-a-dir");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(
            save(&b"x"[..], &dir),
            Err(SaveError::Write { .. })
        ));
        only(&d, &["is-a-dir", "plain-file"]);
        let _ = std::fs::remove_dir_all(&d);
    }
}
