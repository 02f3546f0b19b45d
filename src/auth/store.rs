//! Writing `config.json`, and the lock every writer of the session takes (docs/config.md,
//! "Writing" and "The lock").
//!
//! The file is written whole through the one file writer with mode 0600, with the same schema
//! the TypeScript CLI writes (so a session made by either works in the other); keys this dcd
//! does not know are kept as they were. Only a regular file (or none) is ever replaced: a
//! FIFO, a device or a directory in its place is refused, never written into or waited on. A
//! directory dcd creates for the file gets mode 0700; an existing one is left as it is.
//!
//! The lock is `<config>.lock`, created exclusively and holding its owner's pid and a nonce.
//! Its holder keeps an advisory lock (`flock`) on it and touches its mtime every 2 s while it
//! holds it, so a lock is stale only when no process holds it and nobody has touched it for
//! 10 s — never because a waiter waited long. A stale lock is taken over in place, under the
//! advisory lock (so two waiters cannot both take it over), and only its owner removes it.
//! Waiting sleeps through `exit::signal` (a stop ends it) and gives up with a message naming
//! the file; a lock path that is not a regular file, or that cannot be created, is an error
//! at once.

use super::config::{Session, StoredConfig, config_path};
use crate::clock::Timings;
use crate::exit::{Stop, signal};
use serde_json::{Map, Value, json};
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// A lock nobody holds and nobody has touched for this long was left by a process that is
/// gone (the TypeScript CLI's rule too; not scaled: it is about other processes).
const STALE_AFTER: Duration = Duration::from_secs(10);
/// How often a holder touches its lock.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// Between two looks at a held lock (scaled).
const POLL: Duration = Duration::from_millis(250);

/// The JSON of a stored config, in the schema's key order; unknown keys follow.
pub fn to_json(c: &StoredConfig) -> Value {
    let mut o = Map::new();
    o.insert("version".into(), json!(1));
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    };
    put("env", &c.env);
    put("api_url", &c.api_url);
    put("supabase_url", &c.supabase_url);
    if let Some(s) = &c.session {
        o.insert("session".into(), session_json(s));
    }
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    };
    put("current_org_id", &c.current_org_id);
    put("current_org_name", &c.current_org_name);
    for (k, v) in &c.extra {
        o.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(o)
}

fn session_json(s: &Session) -> Value {
    let mut o = Map::new();
    o.insert("access_token".into(), json!(s.access_token));
    if let Some(r) = &s.refresh_token {
        o.insert("refresh_token".into(), json!(r));
    }
    if let Some(e) = s.expires_at {
        o.insert("expires_at".into(), json!(e));
    }
    if let Some(e) = &s.user_email {
        o.insert("user_email".into(), json!(e));
    }
    if let Some(u) = &s.user_id {
        o.insert("user_id".into(), json!(u));
    }
    Value::Object(o)
}

/// Where `config.json` is, or why there is nowhere to put it.
pub fn path() -> io::Result<PathBuf> {
    config_path().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "no place for config.json: set DCD_CONFIG_DIR or HOME",
        )
    })
}

/// The directory of `config.json`: an existing one is used as it is (its mode, setgid bit
/// and owner untouched); a missing one is created, with every directory created on the way
/// private to the user (0700).
fn ensure_dir(config: &Path) -> io::Result<()> {
    let dir = config.parent().unwrap_or(Path::new("."));
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is not a directory", dir.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            crate::platform::private_dir(std::fs::DirBuilder::new().recursive(true)).create(dir)
        }
        Err(e) => Err(e),
    }
}

/// What a path that is not a regular file is, for messages.
fn kind(m: &Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        crate::platform::non_regular_kind(m).unwrap_or("not a regular file")
    }
}

/// `config.json` is replaced only when it is a regular file or absent: a FIFO would block
/// the write, and renaming over a device or a directory would replace it.
fn check_target(config: &Path) -> io::Result<()> {
    match std::fs::metadata(config) {
        Ok(m) if !m.is_file() => Err(io::Error::other(format!(
            "{} is {}, not a regular file",
            config.display(),
            kind(&m)
        ))),
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether `config.json` can be written now, found without writing it: its directory exists
/// (or is created), the file is a regular one or absent, and a file can be created beside
/// it (a read-only directory or file system, no free inode). Returns its path.
pub fn check_writable() -> io::Result<PathBuf> {
    let config = path()?;
    ensure_dir(&config)?;
    check_target(&config)?;
    drop(crate::fsio::AtomicFile::create(&config, 0o600)?);
    Ok(config)
}

/// Writes the whole config (a new directory 0700, the file 0600). `Ok(Some(warning))` when
/// the file written can be read by other users (a file system that ignores modes).
pub fn save(c: &StoredConfig) -> io::Result<Option<String>> {
    let config = path()?;
    ensure_dir(&config)?;
    check_target(&config)?;
    let text = serde_json::to_string_pretty(&to_json(c)).unwrap_or_default() + "\n";
    crate::fsio::write_file(&config, text.as_bytes(), 0o600)?;
    Ok(exposure(&config))
}

/// A warning when `config` can be read by users other than its owner.
fn exposure(config: &Path) -> Option<String> {
    let mode = crate::platform::file_mode(&std::fs::metadata(config).ok()?)? & 0o777;
    (mode & 0o044 != 0).then(|| {
        format!(
            "{} can be read by other users (mode {mode:04o}), and it holds your session's tokens. Make it private: chmod 600 {}",
            config.display(),
            config.display()
        )
    })
}

/// Deletes the config file (no file is not an error).
pub fn clear() -> io::Result<()> {
    match std::fs::remove_file(path()?) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Why the lock could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockError {
    /// A stop was recorded while waiting.
    Stopped(Stop),
    /// The lock cannot be had: the message names the file and what to do.
    Failed(String),
}

/// A held `<config>.lock`; dropping it releases the lock (and removes the file if it is
/// still this holder's).
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    file: File,
    heartbeat: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Some((stop, beat)) = self.heartbeat.take() {
            drop(stop);
            let _ = beat.join();
        }
        // Only the file this holder locked goes; one another process has put there since
        // stays. The advisory lock goes with the descriptor, after the file is unlinked.
        if std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| same_file(&m, &self.file, &self.path))
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn same_file(m: &Metadata, file: &File, path: &Path) -> bool {
    use crate::platform::file_id;
    file.metadata()
        .is_ok_and(|f| file_id(&f, path) == file_id(m, path))
}

fn lock_path(config: &Path) -> PathBuf {
    let mut name = config.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    config.with_file_name(name)
}

/// How long to wait for another holder: twice the longest refresh request, so a holder
/// whose request is in flight always finishes first.
fn wait_limit(timings: &Timings) -> Duration {
    timings.http_request * 2
}

/// Takes the lock beside `config.json`: waits (stop-aware) while another process holds it,
/// takes over one whose holder is gone, and gives up after [`wait_limit`].
pub fn lock(timings: &Timings) -> Result<Lock, LockError> {
    let failed = |e: io::Error| LockError::Failed(e.to_string());
    let config = path().map_err(failed)?;
    ensure_dir(&config).map_err(failed)?;
    let path = lock_path(&config);
    let poll = POLL.mul_f64(timings.scale).max(Duration::from_millis(5));
    let limit = wait_limit(timings);
    let start = Instant::now();
    loop {
        signal::check().map_err(LockError::Stopped)?;
        match attempt(&path)? {
            Attempt::Held(lock) => return Ok(lock),
            Attempt::Again => {}
            Attempt::Busy if start.elapsed() >= limit => return Err(busy(&path, timings)),
            Attempt::Busy => signal::sleep(poll).map_err(LockError::Stopped)?,
        }
    }
}

enum Attempt {
    Held(Lock),
    /// The lock changed under us: look again at once.
    Again,
    /// Another process holds it.
    Busy,
}

/// One try: create the lock, or look at the one there and take it over if it is stale.
fn attempt(path: &Path) -> Result<Attempt, LockError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    let created = crate::platform::set_create_mode(&mut options, 0o600).open(path);
    match created {
        Ok(file) => {
            // A waiter that found the file an instant ago may be looking at it (it lets go at
            // once: the file is fresh). Without advisory locks (some network file systems),
            // the heartbeat alone keeps the lock from looking stale.
            for _ in 0..3 {
                if file.try_lock().is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            return hold(path, file).map(Attempt::Held);
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(LockError::Failed(format!(
                "cannot create the session lock {}: {e}",
                path.display()
            )));
        }
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Attempt::Again),
        Err(e) => return Err(LockError::Failed(format!("{}: {e}", path.display()))),
    };
    if !meta.is_file() {
        return Err(LockError::Failed(format!(
            "the session lock {} is {}, not a lock file: if no dcd is running, remove it",
            path.display(),
            kind(&meta)
        )));
    }
    let Ok(file) = OpenOptions::new().read(true).write(true).open(path) else {
        return Ok(Attempt::Busy);
    };
    // Holding the advisory lock, this process alone judges the file; a live holder keeps it.
    if file.try_lock().is_err() {
        return Ok(Attempt::Busy);
    }
    match std::fs::symlink_metadata(path) {
        Ok(now) if same_file(&now, &file, path) => {}
        _ => return Ok(Attempt::Again),
    }
    let age = file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    if age.is_none_or(|a| a <= STALE_AFTER) {
        return Ok(Attempt::Busy);
    }
    crate::debug!("Taking over the stale session lock {}", path.display());
    hold(path, file).map(Attempt::Held)
}

/// Makes `file` (created or taken over, at `path`) this process's lock: writes the owner
/// token, touches it, and starts the heartbeat. A lock that cannot be written (a full disk)
/// is released at once.
fn hold(path: &Path, file: File) -> Result<Lock, LockError> {
    let mut lock = Lock {
        path: path.to_path_buf(),
        file,
        heartbeat: None,
    };
    let nonce = crate::encoding::random_bytes(8)
        .map(|b| crate::encoding::hex(&b))
        .unwrap_or_default();
    let owner = format!("{} {nonce}\n", std::process::id());
    let written = lock
        .file
        .set_len(0)
        .and_then(|_| lock.file.write_all(owner.as_bytes()))
        .and_then(|_| lock.file.set_modified(SystemTime::now()));
    if let Err(e) = written {
        return Err(LockError::Failed(format!(
            "cannot write the session lock {}: {e}",
            path.display()
        )));
    }
    lock.heartbeat = heartbeat(&lock.file);
    Ok(lock)
}

/// A thread that touches the lock through its descriptor (so never another process's file)
/// every [`HEARTBEAT`] until the returned sender is dropped.
fn heartbeat(file: &File) -> Option<(Sender<()>, JoinHandle<()>)> {
    let file = file.try_clone().ok()?;
    let (tx, rx) = channel::<()>();
    let beat = std::thread::spawn(move || {
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(HEARTBEAT) {
            let _ = file.set_modified(SystemTime::now());
        }
    });
    Some((tx, beat))
}

/// The message when another holder keeps the lock past the wait: which process, and what
/// to do if it is gone.
fn busy(path: &Path, timings: &Timings) -> LockError {
    let holder = crate::fsio::read_capped(path, 256)
        .ok()
        .and_then(|b| {
            String::from_utf8_lossy(&b)
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u32>().ok())
        })
        .map(|pid| format!(" (process {pid})"))
        .unwrap_or_default();
    LockError::Failed(format!(
        "another dcd{holder} holds the session lock {} and did not release it in the {:.0} s this dcd waited; if no dcd is running, delete {}",
        path.display(),
        timings.unscale(wait_limit(timings)).as_secs_f64(),
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_follows_the_schema_and_keeps_unknown_keys() {
        let mut c = StoredConfig {
            env: Some("prod".into()),
            api_url: Some("https://api.devicecloud.dev".into()),
            supabase_url: Some("https://cloud.devicecloud.dev".into()),
            session: Some(Session {
                access_token: "jwt".into(),
                refresh_token: Some("r".into()),
                expires_at: Some(1_790_000_000),
                user_email: Some("u@example.com".into()),
                user_id: Some("id".into()),
            }),
            current_org_id: Some("42".into()),
            current_org_name: Some("Acme".into()),
            ..StoredConfig::default()
        };
        c.extra.insert("telemetry".into(), json!(false));
        let v = to_json(&c);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "version",
                "env",
                "api_url",
                "supabase_url",
                "session",
                "current_org_id",
                "current_org_name",
                "telemetry"
            ]
        );
        assert_eq!(v["session"]["expires_at"], 1_790_000_000);
        let back = super::super::config::parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(back, c, "it reads back as written");
    }

    /// A fresh directory under the system's temporary directory, removed by the caller.
    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dcd-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn aged(path: &Path, secs: u64) {
        let f = File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    #[test]
    fn a_held_lock_is_busy_and_only_its_owner_removes_it() {
        let d = scratch("held");
        let path = d.join("config.json.lock");
        let Ok(Attempt::Held(lock)) = attempt(&path) else {
            panic!("a free lock is taken")
        };
        let owner = std::fs::read_to_string(&path).unwrap();
        assert!(
            owner.starts_with(&format!("{} ", std::process::id())),
            "{owner}"
        );
        // Held (and touched), however old it looks: busy.
        aged(&path, 3600);
        assert!(matches!(attempt(&path), Ok(Attempt::Busy)));
        // Another process put its own lock there meanwhile: dropping ours leaves it.
        std::fs::rename(&path, d.join("gone")).unwrap();
        std::fs::write(&path, "4242 theirs\n").unwrap();
        drop(lock);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4242 theirs\n");
        std::fs::remove_file(&path).unwrap();
        let Ok(Attempt::Held(lock)) = attempt(&path) else {
            panic!("taken again")
        };
        drop(lock);
        assert!(!path.exists(), "the owner removes its own");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_stale_lock_is_taken_over_by_one_waiter_only() {
        let d = scratch("stale");
        let path = d.join("config.json.lock");
        // Left by a process that is gone: nobody holds it, nobody touched it for a minute.
        std::fs::write(&path, "1 dead\n").unwrap();
        aged(&path, 60);
        let barrier = std::sync::Barrier::new(8);
        let taken: Vec<Option<Lock>> = std::thread::scope(|s| {
            let waiters: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        match attempt(&path) {
                            Ok(Attempt::Held(l)) => Some(l),
                            _ => None,
                        }
                    })
                })
                .collect();
            waiters.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(
            taken.iter().flatten().count(),
            1,
            "exactly one takes it over"
        );
        let owner = std::fs::read_to_string(&path).unwrap();
        assert!(
            owner.starts_with(&format!("{} ", std::process::id())),
            "{owner}"
        );
        // Recently touched and unheld (a holder without advisory locks): not stale.
        drop(taken);
        std::fs::write(&path, "1 alive\n").unwrap();
        assert!(matches!(attempt(&path), Ok(Attempt::Busy)));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_lock_path_that_is_not_a_file_is_an_error_at_once() {
        let d = scratch("dir");
        let path = d.join("config.json.lock");
        std::fs::create_dir(&path).unwrap();
        let Err(LockError::Failed(m)) = attempt(&path) else {
            panic!("a directory is no lock")
        };
        assert!(
            m.ends_with("is a directory, not a lock file: if no dcd is running, remove it"),
            "{m}"
        );
        let missing = d.join("no-such-dir/config.json.lock");
        let Err(LockError::Failed(m)) = attempt(&missing) else {
            panic!("cannot be created")
        };
        assert!(m.starts_with("cannot create the session lock"), "{m}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_told() {
        use std::os::unix::fs::PermissionsExt;
        let d = scratch("mode");
        let f = d.join("config.json");
        std::fs::write(&f, "{}").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(exposure(&f), None);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let w = exposure(&f).unwrap();
        assert!(w.contains("can be read by other users (mode 0644)"), "{w}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
