//! Who the user is: an API key or a stored login session (docs/config.md, "Auth precedence").
//!
//! Resolved once per command into an [`AuthContext`] whose headers go on every API request.
//! Precedence: `--api-key` > `DEVICE_CLOUD_API_KEY` > the session in `config.json`. Every
//! secret is registered with the debug redactor as soon as it is read.

pub mod config;
pub mod refresh;
pub mod store;

use crate::domain::environments::{self, Environment};
use crate::exit::CliError;
use config::StoredConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ApiKey,
    Bearer,
}

/// The resolved credentials of one command.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthContext {
    pub mode: Mode,
    /// Spread into every API request (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Bearer only: the Supabase JWT (realtime uses it).
    pub access_token: Option<String>,
    /// Bearer only: what a refresh trades in for a new token.
    pub refresh_token: Option<String>,
    /// Bearer only: the environment the session belongs to.
    pub env: Option<Environment>,
    /// Bearer only: the Supabase project the token was minted by, as stored.
    pub supabase_url: Option<String>,
    pub org_id: Option<String>,
    pub user_email: Option<String>,
    /// Bearer only: the user the session belongs to, as stored.
    pub user_id: Option<String>,
    /// Bearer only: unix seconds.
    pub expires_at: Option<i64>,
}

pub const NOT_AUTHENTICATED: &str = "Not authenticated. Provide an API key via --api-key or the DEVICE_CLOUD_API_KEY environment variable, or run `dcd login`.";

/// Inputs of [`resolve`], gathered by the caller so resolution itself is pure.
#[derive(Debug, Default)]
pub struct Sources<'a> {
    pub flag_api_key: Option<&'a str>,
    pub env_api_key: Option<String>,
    pub stored: Option<&'a StoredConfig>,
    /// Unix seconds now.
    pub now: i64,
}

/// `--api-key` > `DEVICE_CLOUD_API_KEY` > stored session; blank keys count as absent, and a
/// session needs a `current_org_id` and must not have expired.
pub fn resolve(src: &Sources<'_>) -> Result<AuthContext, CliError> {
    let key = [
        (src.flag_api_key.map(str::to_string), "--api-key"),
        (src.env_api_key.clone(), "DEVICE_CLOUD_API_KEY"),
    ]
    .into_iter()
    .filter_map(|(k, from)| Some((k?.trim().to_string(), from)))
    .find(|(k, _)| !k.is_empty());
    if let Some((key, from)) = key {
        crate::debug::add_secret(&key);
        check_header_value(&key, &format!("The API key from {from}"))?;
        return Ok(AuthContext::api_key(&key));
    }
    let Some(cfg) = src.stored else {
        return Err(CliError::new(NOT_AUTHENTICATED));
    };
    let Some(session) = &cfg.session else {
        return Err(CliError::new(NOT_AUTHENTICATED));
    };
    crate::debug::add_secret(&session.access_token);
    if let Some(r) = &session.refresh_token {
        crate::debug::add_secret(r);
    }
    check_header_value(&session.access_token, "The stored session's access token")?;
    let Some(org) = cfg.current_org_id.clone() else {
        return Err(CliError::new(
            "No active organization set. Run `dcd switch-org <slug>` to pick one.",
        ));
    };
    check_org_id(&org, "The stored current_org_id")?;
    let env = cfg
        .env
        .as_deref()
        .and_then(environments::by_name)
        .or_else(|| cfg.api_url.as_deref().map(environments::infer_from_api_url));
    Ok(AuthContext {
        mode: Mode::Bearer,
        headers: vec![
            (
                "authorization".into(),
                format!("Bearer {}", session.access_token),
            ),
            ("x-dcd-org".into(), org.clone()),
        ],
        access_token: Some(session.access_token.clone()),
        refresh_token: session.refresh_token.clone(),
        env,
        supabase_url: cfg.supabase_url.clone(),
        org_id: Some(org),
        user_email: session.user_email.clone(),
        user_id: session.user_id.clone(),
        expires_at: session.expires_at,
    })
}

impl AuthContext {
    /// API-key credentials.
    pub fn api_key(key: &str) -> AuthContext {
        AuthContext {
            mode: Mode::ApiKey,
            headers: vec![("x-app-api-key".into(), key.to_string())],
            access_token: None,
            refresh_token: None,
            env: None,
            supabase_url: None,
            org_id: None,
            user_email: None,
            user_id: None,
            expires_at: None,
        }
    }
}

/// The Supabase project of a session — its base URL and anon key — for realtime and for
/// refreshing: `DCD_SUPABASE_URL` > the session's stored `supabase_url` > its environment's;
/// the anon key: `DCD_SUPABASE_ANON_KEY` > the environment's. `None` for API keys.
pub fn supabase_project(auth: &AuthContext) -> Option<(String, String)> {
    if auth.mode != Mode::Bearer {
        return None;
    }
    let env = auth.env?;
    let env_var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let url = env_var("DCD_SUPABASE_URL")
        .or_else(|| auth.supabase_url.clone())
        .unwrap_or_else(|| env.supabase_url.to_string());
    let anon_key =
        env_var("DCD_SUPABASE_ANON_KEY").unwrap_or_else(|| env.supabase_anon_key.to_string());
    Some((url, anon_key))
}

/// Unix milliseconds now.
pub fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A credential travels in an HTTP header, so it must be one line of printable text: a CR,
/// LF or other control character (a key pasted with its line break, a file read with `\r\n`)
/// is refused here, before any request, instead of failing every request as a network error.
fn check_header_value(value: &str, what: &str) -> Result<(), CliError> {
    match control_character(value) {
        None => Ok(()),
        Some(name) => Err(CliError::new(format!(
            "{what} contains {name}: a credential is one line of printable text. Check how it is \
             set (a copied line break, a file with Windows line endings)."
        ))),
    }
}

/// An organization id travels in the `x-dcd-org` header: the same rule as for credentials,
/// for the stored one and for one a server lists.
pub(crate) fn check_org_id(value: &str, what: &str) -> Result<(), CliError> {
    match control_character(value) {
        None => Ok(()),
        Some(name) => Err(CliError::new(format!(
            "{what} contains {name}: an organization id is one line of printable text (it is \
             sent in the x-dcd-org header). Run `dcd switch-org` to choose the organization again."
        ))),
    }
}

/// The name of the first control character of `value`, if any.
fn control_character(value: &str) -> Option<String> {
    let c = value.chars().find(|c| c.is_control())?;
    Some(match c {
        '\r' => "a carriage return (CR)".to_string(),
        '\n' => "a line feed (LF)".to_string(),
        '\t' => "a tab".to_string(),
        c => format!("the control character U+{:04X}", c as u32),
    })
}

impl From<store::LockError> for CliError {
    fn from(e: store::LockError) -> CliError {
        match e {
            store::LockError::Stopped(s) => s.into(),
            store::LockError::Failed(m) => {
                CliError::new(format!("Could not lock the session: {m}."))
            }
        }
    }
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::Session;

    fn stored(expires_at: i64, org: Option<&str>) -> StoredConfig {
        StoredConfig {
            env: Some("prod".into()),
            session: Some(Session {
                access_token: "jwt-token-123".into(),
                refresh_token: Some("refresh-456".into()),
                expires_at: Some(expires_at),
                user_email: Some("u@example.com".into()),
                user_id: None,
            }),
            current_org_id: org.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn flag_beats_env_beats_session_and_blank_keys_are_ignored() {
        let cfg = stored(2_000, Some("42"));
        let mut src = Sources {
            flag_api_key: Some(" flag-key "),
            env_api_key: Some("env-key".into()),
            stored: Some(&cfg),
            now: 1_000,
        };
        let a = resolve(&src).unwrap();
        assert_eq!(a.headers, vec![("x-app-api-key".into(), "flag-key".into())]);
        src.flag_api_key = Some("   ");
        assert_eq!(resolve(&src).unwrap().headers[0].1, "env-key");
        src.env_api_key = Some("".into());
        let a = resolve(&src).unwrap();
        assert_eq!(a.mode, Mode::Bearer);
        assert_eq!(
            a.headers,
            vec![
                ("authorization".into(), "Bearer jwt-token-123".into()),
                ("x-dcd-org".into(), "42".into())
            ]
        );
        assert_eq!(a.env.unwrap().name, "prod");
    }

    #[test]
    fn a_credential_with_a_control_character_is_refused_by_source() {
        let src = Sources {
            flag_api_key: Some("abc\ndef-key"),
            ..Default::default()
        };
        let e = resolve(&src).unwrap_err().message;
        assert!(
            e.starts_with("The API key from --api-key contains a line feed (LF): "),
            "{e}"
        );
        assert!(!e.contains("def-key"), "{e}");
        let src = Sources {
            env_api_key: Some(" key-with\r-cr ".into()),
            ..Default::default()
        };
        let e = resolve(&src).unwrap_err().message;
        assert!(
            e.starts_with("The API key from DEVICE_CLOUD_API_KEY contains a carriage return"),
            "{e}"
        );
        let src = Sources {
            env_api_key: Some("key\u{7f}x".into()),
            ..Default::default()
        };
        assert!(resolve(&src).unwrap_err().message.contains("U+007F"));
        // Surrounding whitespace, a trailing line break included, is trimmed as before.
        let src = Sources {
            env_api_key: Some("good-key\r\n".into()),
            ..Default::default()
        };
        assert_eq!(resolve(&src).unwrap().headers[0].1, "good-key");
        let mut cfg = stored(2_000, Some("1"));
        cfg.session.as_mut().unwrap().access_token = "jwt\nx".into();
        let src = Sources {
            stored: Some(&cfg),
            now: 1_000,
            ..Default::default()
        };
        assert!(
            resolve(&src)
                .unwrap_err()
                .message
                .starts_with("The stored session's access token contains a line feed")
        );
    }

    #[test]
    fn missing_credentials_or_org_are_clear_errors_and_expiry_is_left_to_the_refresh() {
        let none = Sources::default();
        assert!(
            resolve(&none)
                .unwrap_err()
                .message
                .contains("DEVICE_CLOUD_API_KEY")
        );
        let cfg = stored(2_000, None);
        let src = Sources {
            stored: Some(&cfg),
            now: 1_000,
            ..Default::default()
        };
        assert!(resolve(&src).unwrap_err().message.contains("switch-org"));
        let cfg = stored(2_000, Some("1"));
        let src = Sources {
            stored: Some(&cfg),
            now: 3_000,
            ..Default::default()
        };
        let a = resolve(&src).expect("an expired session still resolves: it is refreshed next");
        assert!(refresh::expiring(
            &a,
            3_000_000,
            &crate::clock::Timings::scaled(1.0)
        ));
        assert_eq!(a.expires_at, Some(2_000));
    }
}
