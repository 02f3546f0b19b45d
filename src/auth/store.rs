//! Writing `config.json`, and the lock that keeps concurrent refreshes from using one
//! rotating refresh token twice.
//!
//! The file is written whole through the one file writer with mode 0600, in a directory
//! with mode 0700, with the same schema the TypeScript CLI writes (so a session made by
//! either works in the other). Keys this dcd does not know are kept as they were.
//!
//! The lock is `<config>.lock`, created exclusively. A process that finds it held polls
//! every 250 ms; a lock older than 10 s belongs to a process that died and is taken over;
//! after 10 s of waiting it is taken anyway (a stuck holder must not wedge every dcd).

use super::config::{Session, StoredConfig, config_path};
use crate::clock::Timings;
use serde_json::{Map, Value, json};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// How long a lock may be held before it counts as abandoned, and how long to wait for it.
const STALE_AFTER: Duration = Duration::from_secs(10);
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

/// Writes the whole config (directory 0700, file 0600).
pub fn save(c: &StoredConfig) -> io::Result<()> {
    let path = path()?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let text = serde_json::to_string_pretty(&to_json(c)).unwrap_or_default() + "\n";
    crate::fsio::write_file(&path, text.as_bytes(), 0o600)
}

/// Deletes the config file (no file is not an error).
pub fn clear() -> io::Result<()> {
    match std::fs::remove_file(path()?) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// A held `<config>.lock`; dropping it releases the lock.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn lock_path(config: &Path) -> PathBuf {
    let mut name = config.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    config.with_file_name(name)
}

fn older_than(path: &Path, age: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|d| d > age)
}

/// Takes the lock beside `config.json`: waits while another process holds it, takes over a
/// stale one, and takes it anyway after the wait limit.
pub fn lock(timings: &Timings) -> io::Result<Lock> {
    let config = path()?;
    if let Some(dir) = config.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let path = lock_path(&config);
    let poll = POLL.mul_f64(timings.scale).max(Duration::from_millis(5));
    let limit = STALE_AFTER.mul_f64(timings.scale);
    let start = Instant::now();
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(_) => return Ok(Lock { path }),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if older_than(&path, STALE_AFTER) || start.elapsed() >= limit {
                    crate::debug!("Taking over the session lock {}", path.display());
                    let _ = std::fs::remove_file(&path);
                    continue;
                }
                std::thread::sleep(poll);
            }
            Err(e) => return Err(e),
        }
    }
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
}
