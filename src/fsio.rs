//! The one way dcd writes a file, and the one way it reads one.
//!
//! **Writing** ([`AtomicFile`]): the bytes go to a unique temporary file beside the target
//! (created exclusively, with the mode the target needs) and are renamed over the target
//! only when everything was written — so a failed write leaves the previous file untouched
//! and nothing empty or partial under the final name, and two writers of the same path never
//! interleave. A target that exists and is not a regular file (a FIFO, a device, a socket) is
//! written in place instead: renaming over `/dev/null` would replace the device with a file.
//! Every temporary file is registered until it is renamed or removed; [`remove_leftovers`]
//! (called on the way out, signals included) removes those a stopped command left behind.
//!
//! **Temporary directories** ([`TempDir`]): created private (0700) under the system's
//! temporary directory, removed with everything in them when dropped, and registered like
//! the temporary files, so [`remove_leftovers`] removes them on a stopped command's way out.
//!
//! **Reading** ([`read_capped`], [`open_capped`]): only regular files, never more than a cap,
//! so pointing a path at `/dev/zero`, a FIFO or a huge file is a clear error instead of a hang
//! or an exhausted memory. Every file dcd reads that a user or an archive chose (the app
//! inputs and every file of a bundle among them) is opened here;
//! [`open_capped_nofollow`] is the same for a walk that must not follow a link.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Temporary files not yet renamed or removed.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// Temporary directories not yet removed.
static LIVE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static COUNTER: AtomicU64 = AtomicU64::new(0);

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A file being written: to a temporary beside the target, or in place for a special file.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    /// `None` when writing in place.
    temp: Option<PathBuf>,
    file: Option<File>,
}

/// Whether `path` exists and is something other than a regular file (or a link to one).
fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| crate::platform::non_regular_kind(&m).is_some())
}

/// `.<name>.<pid>-<n>-<nanos>.tmp` beside `target`.
fn temp_name(target: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(target.file_name().unwrap_or_default());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    name.push(format!(
        ".{}-{}-{nanos:08x}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    target.with_file_name(name)
}

impl AtomicFile {
    /// Starts writing `target` with permissions `mode` (for a new file). The target's
    /// directory must exist.
    pub fn create(target: &Path, mode: u32) -> io::Result<AtomicFile> {
        if target.file_name().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the path names a directory, not a file",
            ));
        }
        if is_special(target) {
            let file = OpenOptions::new().write(true).open(target)?;
            return Ok(AtomicFile {
                target: target.to_path_buf(),
                temp: None,
                file: Some(file),
            });
        }
        let mut attempts = 0;
        loop {
            let temp = temp_name(target);
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            match crate::platform::set_create_mode(&mut options, mode).open(&temp) {
                Ok(file) => {
                    live().push(temp.clone());
                    return Ok(AtomicFile {
                        target: target.to_path_buf(),
                        temp: Some(temp),
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => {
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Everything was written: put the file in place. Other processes see the old file or
    /// the whole new one, never a part (a large download is not forced to disk first: that
    /// would cost a second pass over it).
    pub fn commit(self) -> io::Result<()> {
        self.finish(false)
    }

    /// As [`AtomicFile::commit`], after forcing the bytes to disk, so that a crash right
    /// after cannot leave an empty file under the target's name (for small files that must
    /// survive: the session, the JSON result).
    pub fn commit_synced(self) -> io::Result<()> {
        self.finish(true)
    }

    /// As [`AtomicFile::commit_synced`], for a target that is a running program (`dcd
    /// upgrade` replacing itself). Unix replaces it by the rename like any file; Windows cannot
    /// rename over a running executable, but can rename it: the old file is first moved aside
    /// to [`aside`] (removed by the next upgrade, once it no longer runs), and put back if the
    /// new one cannot take its place.
    pub fn commit_over_program(self) -> io::Result<()> {
        if cfg!(windows) && self.temp.is_some() && self.target.exists() {
            let aside = aside(&self.target);
            let _ = std::fs::remove_file(&aside);
            std::fs::rename(&self.target, &aside)?;
            let target = self.target.clone();
            return self.finish(true).inspect_err(|_| {
                let _ = std::fs::rename(&aside, &target);
            });
        }
        self.finish(true)
    }

    fn finish(mut self, sync: bool) -> io::Result<()> {
        let file = self.file.take().expect("not yet committed");
        if let Some(temp) = self.temp.take() {
            let synced = if sync { file.sync_all() } else { Ok(()) };
            let done = synced.and_then(|_| std::fs::rename(&temp, &self.target));
            drop(file);
            if done.is_err() {
                let _ = std::fs::remove_file(&temp);
            }
            live().retain(|p| *p != temp);
            done
        } else {
            Ok(())
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().expect("not yet committed").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("not yet committed").flush()
    }
}

impl Drop for AtomicFile {
    /// Not committed: the temporary file goes, the target stays as it was.
    fn drop(&mut self) {
        self.file.take();
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(&temp);
            live().retain(|p| *p != temp);
        }
    }
}

/// Where [`AtomicFile::commit_over_program`] moves a running program aside on Windows:
/// `<name>.old` beside it.
pub fn aside(program: &Path) -> PathBuf {
    let mut name = program.file_name().unwrap_or_default().to_os_string();
    name.push(".old");
    program.with_file_name(name)
}

/// Writes `bytes` to `target` through an [`AtomicFile`], forced to disk before the rename.
pub fn write_file(target: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut f = AtomicFile::create(target, mode)?;
    f.write_all(bytes)?;
    f.commit_synced()
}

/// Removes every temporary file and directory still registered: a stopped command's
/// half-written ones.
pub fn remove_leftovers() {
    for p in live().drain(..) {
        let _ = std::fs::remove_file(p);
    }
    for d in live_dirs().drain(..) {
        let _ = std::fs::remove_dir_all(d);
    }
}

fn live_dirs() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE_DIRS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A private temporary directory, removed with its contents when dropped (or by
/// [`remove_leftovers`] when the command is stopped first).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `dcd-<prefix>-<pid>-<n>-<nanos>` under the system's temporary directory
    /// (`TMPDIR`), mode 0700, never reusing an existing one.
    pub fn new(prefix: &str) -> io::Result<TempDir> {
        let base = std::env::temp_dir();
        let mut attempts = 0;
        loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let path = base.join(format!(
                "dcd-{prefix}-{}-{}-{nanos:08x}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            match crate::platform::private_dir(&mut std::fs::DirBuilder::new()).create(&path) {
                Ok(()) => {
                    live_dirs().push(path.clone());
                    return Ok(TempDir { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => {
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        live_dirs().retain(|p| *p != self.path);
    }
}

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// Not a regular file (a directory, a FIFO, a device…).
    NotAFile,
    /// Larger than the cap.
    TooLarge {
        cap: u64,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotAFile => f.write_str("not a regular file"),
            ReadError::TooLarge { cap } => write!(f, "larger than {}", human_size(*cap)),
        }
    }
}

fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// Opens a regular file of at most `cap` bytes for reading, without reading it. The open is
/// non-blocking, so a FIFO nobody writes to is refused at once instead of hanging the open.
pub fn open_capped(path: &Path, cap: u64) -> Result<(File, u64), ReadError> {
    let file = crate::platform::open_read(path, true)
        .map_err(ReadError::Io)?
        .ok_or(ReadError::NotAFile)?;
    regular(file, cap)
}

/// As [`open_capped`], but a symbolic link where the file should be is refused instead of
/// followed (`O_NOFOLLOW`): for a walk that saw a regular file at `path` and must read that
/// file, never what a link put in its place points at.
pub fn open_capped_nofollow(path: &Path, cap: u64) -> Result<(File, u64), ReadError> {
    let file = crate::platform::open_read(path, false)
        .map_err(ReadError::Io)?
        .ok_or(ReadError::NotAFile)?;
    regular(file, cap)
}

/// `file` when it is a regular file of at most `cap` bytes, with its length.
fn regular(file: File, cap: u64) -> Result<(File, u64), ReadError> {
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile);
    }
    if meta.len() > cap {
        return Err(ReadError::TooLarge { cap });
    }
    Ok((file, meta.len()))
}

/// Reads a regular file of at most `cap` bytes.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let (file, len) = open_capped(path, cap)?;
    read_to_cap(file, len, cap)
}

/// Reads `r` to its end, at most `cap` bytes: a file that grew past the cap since it was
/// opened is too large. `len`, its size when opened, sizes the buffer.
fn read_to_cap(r: impl Read, len: u64, cap: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::with_capacity(len.min(cap) as usize);
    r.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { cap });
    }
    Ok(bytes)
}

/// Scratch directories for unit tests.
#[cfg(test)]
pub(crate) mod scratch {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A fresh directory under the system temp dir, removed with everything in it on drop.
    pub struct Scratch(PathBuf);

    impl Scratch {
        /// `<temp>/<prefix><pid>-<n>`.
        pub fn new(prefix: &str) -> Scratch {
            static N: AtomicU64 = AtomicU64::new(0);
            let d = std::env::temp_dir().join(format!(
                "{prefix}{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&d).unwrap();
            Scratch(d)
        }
    }

    impl std::ops::Deref for Scratch {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl AsRef<Path> for Scratch {
        fn as_ref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out `data` at most `chunk` bytes a read.
    struct Chunks<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Chunks<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.chunk).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_file_is_read_to_its_end_within_the_cap_whatever_its_size_when_opened() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let read = |bytes: &[u8], chunk: usize, len: u64, cap: u64| {
            read_to_cap(Chunks { data: bytes, chunk }, len, cap)
        };
        assert_eq!(read(&data, usize::MAX, 1000, 4096).unwrap(), data);
        assert_eq!(read(&[], usize::MAX, 0, 4096).unwrap(), Vec::<u8>::new());
        // Short reads: read on to the end.
        assert_eq!(read(&data, 7, 1000, 4096).unwrap(), data);
        // Grown since it was opened: all of it, or too large past the cap.
        assert_eq!(read(&data, usize::MAX, 600, 4096).unwrap(), data);
        assert!(matches!(
            read(&data, usize::MAX, 600, 999),
            Err(ReadError::TooLarge { cap: 999 })
        ));
        assert_eq!(read(&data, 3, 600, 1000).unwrap(), data);
        // Shrunk since: what is there.
        assert_eq!(
            read(&data[..10], usize::MAX, 1000, 4096).unwrap(),
            &data[..10]
        );
    }

    /// The registry of temporaries is process-wide: these tests take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn tmp() -> scratch::Scratch {
        scratch::Scratch::new("dcd-fsio-")
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_committed_write_replaces_the_target_and_leaves_nothing_else() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let d = tmp();
        let t = d.join("out.json");
        std::fs::write(&t, "old").unwrap();
        write_file(&t, b"new", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&t).unwrap(), "new");
        assert_eq!(entries(&d), ["out.json"]);
        if let Some(mode) = crate::platform::file_mode(&std::fs::metadata(&t).unwrap()) {
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    // Windows unlinks a file the process still holds open only when it closes (at exit).
    #[cfg(unix)]
    #[test]
    fn an_abandoned_write_leaves_the_old_file_and_no_temporary() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let d = tmp();
        let t = d.join("report.xml");
        std::fs::write(&t, "old").unwrap();
        {
            let mut f = AtomicFile::create(&t, 0o644).unwrap();
            f.write_all(b"half").unwrap();
            assert_eq!(entries(&d).len(), 2, "the temporary is beside the target");
        }
        assert_eq!(std::fs::read_to_string(&t).unwrap(), "old");
        assert_eq!(entries(&d), ["report.xml"]);
        let mut f = AtomicFile::create(&t, 0o644).unwrap();
        f.write_all(b"x").unwrap();
        std::mem::forget(f); // as if the process were stopped mid-write
        remove_leftovers();
        assert_eq!(entries(&d), ["report.xml"]);
    }

    #[test]
    fn two_writers_of_one_path_never_share_a_temporary() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let d = tmp();
        let t = d.join("a.zip");
        let mut a = AtomicFile::create(&t, 0o644).unwrap();
        let mut b = AtomicFile::create(&t, 0o644).unwrap();
        a.write_all(b"aaaa").unwrap();
        b.write_all(b"bb").unwrap();
        b.commit().unwrap();
        a.commit().unwrap();
        assert_eq!(std::fs::read(&t).unwrap(), b"aaaa");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_in_place() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let d = tmp();
        let fifo = d.join("pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a path in our own temporary directory.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_file(&fifo, b"through the pipe", 0o644).unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(is_special(&fifo), "still a FIFO");
    }

    #[test]
    fn a_temporary_directory_goes_with_its_contents_on_drop_or_on_the_way_out() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let d = TempDir::new("fsio-test").unwrap();
        let p = d.path().to_path_buf();
        std::fs::create_dir_all(p.join("a/b")).unwrap();
        std::fs::write(p.join("a/b/c"), "x").unwrap();
        if let Some(mode) = crate::platform::file_mode(&std::fs::metadata(&p).unwrap()) {
            assert_eq!(mode & 0o777, 0o700);
        }
        drop(d);
        assert!(!p.exists());
        let d = TempDir::new("fsio-test").unwrap();
        let p = d.path().to_path_buf();
        std::mem::forget(d); // as if the process were stopped while it was in use
        assert!(p.exists());
        remove_leftovers();
        assert!(!p.exists());
    }

    #[cfg(unix)]
    #[test]
    fn reads_are_capped_and_only_of_regular_files() {
        let d = tmp();
        let f = d.join("big");
        std::fs::write(&f, vec![b'x'; 2048]).unwrap();
        assert_eq!(read_capped(&f, 4096).unwrap().len(), 2048);
        assert!(matches!(
            read_capped(&f, 1024),
            Err(ReadError::TooLarge { cap: 1024 })
        ));
        assert!(matches!(read_capped(&d, 1024), Err(ReadError::NotAFile)));
        // A FIFO without a writer is refused at once, not waited on.
        let fifo = d.join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo on a path in our own temporary directory.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert!(matches!(read_capped(&fifo, 1024), Err(ReadError::NotAFile)));
        // Without following links: a link is refused, even to a regular file; a FIFO too.
        let link = d.join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert_eq!(open_capped(&link, 4096).unwrap().1, 2048);
        assert!(matches!(
            open_capped_nofollow(&link, 4096),
            Err(ReadError::NotAFile)
        ));
        assert_eq!(open_capped_nofollow(&f, 4096).unwrap().1, 2048);
        assert!(matches!(
            open_capped_nofollow(&fifo, 4096),
            Err(ReadError::NotAFile)
        ));
        // A sparse file past the cap is refused from its size, without reading it.
        let sparse = d.join("sparse");
        File::create(&sparse).unwrap().set_len(1 << 40).unwrap();
        assert!(matches!(
            read_capped(&sparse, 1024),
            Err(ReadError::TooLarge { .. })
        ));
        assert_eq!(
            ReadError::TooLarge { cap: 4 << 20 }.to_string(),
            "larger than 4 MiB"
        );
    }
}
