//! `config.json`, the session `dcd login` stores (docs/config.md).
//!
//! Same directory rules and schema as the TypeScript CLI, so a session made by either CLI
//! works in the other: `DCD_CONFIG_DIR`, else `$XDG_CONFIG_HOME/dcd`, else `~/.dcd`. A file
//! that cannot be read or parsed, or has another `version`, is ignored with a warning and the
//! user counts as logged out; it never fails a command that has an API key.

use crate::domain::results::{int_field, str_field};
use crate::fsio::ReadError;
use serde_json::Value;
use std::path::PathBuf;

/// The stored Supabase session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    pub user_email: Option<String>,
    pub user_id: Option<String>,
}

/// The parsed `config.json` (version 1).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoredConfig {
    pub env: Option<String>,
    pub api_url: Option<String>,
    pub supabase_url: Option<String>,
    pub session: Option<Session>,
    pub current_org_id: Option<String>,
    pub current_org_name: Option<String>,
    /// Top-level keys this dcd does not know, kept so that writing the file back loses
    /// nothing another version of dcd put there.
    pub extra: serde_json::Map<String, Value>,
}

/// What loading found.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    /// No file (or no home directory to look in).
    Missing,
    Config(Box<StoredConfig>),
    /// The file exists but is unusable; the message is the warning to print.
    Ignored(String),
}

/// The directory `config.json` lives in.
pub fn config_dir() -> Option<PathBuf> {
    let non_blank =
        |k: &str| std::env::var_os(k).filter(|v| !v.to_string_lossy().trim().is_empty());
    if let Some(d) = non_blank("DCD_CONFIG_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(x) = non_blank("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(x).join("dcd"));
    }
    crate::platform::home_dir().map(|h| h.join(".dcd"))
}

pub fn config_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.json"))
}

/// Largest `config.json` read: a session is a few kilobytes.
const MAX_CONFIG: u64 = 1 << 20;

/// Reads and validates the stored config. Only a regular file of at most 1 MiB is read, so a
/// FIFO, a device or a huge file in its place is ignored with a warning, never waited on.
pub fn load() -> Loaded {
    match config_path() {
        Some(path) => load_from(&path),
        None => Loaded::Missing,
    }
}

fn load_from(path: &std::path::Path) -> Loaded {
    let ignored = |why: String| {
        Loaded::Ignored(format!(
            "Ignoring {}: {why}. Continuing as logged out; run `dcd login` to sign in again.",
            path.display()
        ))
    };
    let text = match crate::fsio::read_capped(path, MAX_CONFIG) {
        Ok(t) => t,
        Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Loaded::Missing;
        }
        Err(ReadError::Io(e)) => {
            return Loaded::Ignored(format!(
                "Could not read {}: {e}. Continuing as logged out.",
                path.display()
            ));
        }
        Err(e) => return ignored(format!("it is {e}")),
    };
    parse(&text).map_or_else(ignored, |c| Loaded::Config(Box::new(c)))
}

/// The keys of the schema.
const KNOWN: [&str; 7] = [
    "version",
    "env",
    "api_url",
    "supabase_url",
    "session",
    "current_org_id",
    "current_org_name",
];

/// Parses the bytes of `config.json`. The error is a short reason for the warning.
pub fn parse(bytes: &[u8]) -> Result<StoredConfig, String> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("it is not valid JSON ({e})"))?;
    let o = v.as_object().ok_or("it is not a JSON object")?;
    match o.get("version").and_then(int_field) {
        Some(1) => {}
        Some(n) => {
            return Err(format!(
                "its version is {n}, and this dcd understands version 1 (was it written by a newer dcd?)"
            ));
        }
        None => return Err("it has no version".into()),
    }
    let session = o.get("session").and_then(Value::as_object).and_then(|s| {
        Some(Session {
            access_token: str_field(s.get("access_token"))?,
            refresh_token: str_field(s.get("refresh_token")),
            expires_at: s.get("expires_at").and_then(int_field),
            user_email: str_field(s.get("user_email")),
            user_id: str_field(s.get("user_id")),
        })
    });
    Ok(StoredConfig {
        env: str_field(o.get("env")),
        api_url: str_field(o.get("api_url")),
        supabase_url: str_field(o.get("supabase_url")),
        session,
        current_org_id: str_field(o.get("current_org_id")),
        current_org_name: str_field(o.get("current_org_name")),
        extra: o
            .iter()
            .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_schema() {
        let c = parse(
            br#"{"version":1,"env":"prod","api_url":"https://api.devicecloud.dev",
            "supabase_url":"https://cloud.devicecloud.dev","session":{"access_token":"jwt",
            "refresh_token":"r","expires_at":1790000000,"user_email":"u@example.com",
            "user_id":"id"},"current_org_id":42,"current_org_name":"Acme","extra":true}"#,
        )
        .unwrap();
        assert_eq!(c.current_org_id.as_deref(), Some("42"));
        let s = c.session.unwrap();
        assert_eq!(s.access_token, "jwt");
        assert_eq!(s.expires_at, Some(1_790_000_000));
    }

    #[test]
    fn rejects_other_versions_and_garbage_with_a_reason() {
        assert!(
            parse(br#"{"version":2}"#)
                .unwrap_err()
                .contains("version is 2")
        );
        assert!(parse(b"{nope").unwrap_err().contains("not valid JSON"));
        assert!(parse(b"[]").unwrap_err().contains("not a JSON object"));
        assert!(
            parse(br#"{"env":"prod"}"#)
                .unwrap_err()
                .contains("no version")
        );
    }

    #[test]
    fn only_a_small_regular_file_is_read() {
        let dir = std::env::temp_dir().join(format!("dcd-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.json");
        let load = || load_from(&file);
        assert_eq!(load(), Loaded::Missing);
        std::fs::File::create(&file)
            .unwrap()
            .set_len(MAX_CONFIG + 1)
            .unwrap();
        let Loaded::Ignored(why) = load() else {
            panic!("an oversized config.json is ignored")
        };
        assert!(
            why.contains("it is larger than 1 MiB. Continuing as logged out"),
            "{why}"
        );
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        let Loaded::Ignored(why) = load() else {
            panic!("a directory is ignored")
        };
        assert!(why.contains("it is not a regular file"), "{why}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_session_without_a_token_is_no_session() {
        let c = parse(br#"{"version":1,"session":{"user_email":"a@b"}}"#).unwrap();
        assert_eq!(c.session, None);
    }
}
