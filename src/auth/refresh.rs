//! Keeping a login session alive: a session that expires within 60 s is refreshed before
//! the request that needs it — at the start of a command, before each poll, before the
//! downloads after a run.
//!
//! Refresh tokens rotate, and a token used twice revokes the whole session family, so every
//! refresh happens under the config lock: after taking it, the file is read again, and if
//! another process has already refreshed, its session is adopted without a network call.
//! After a refresh only the `session` member is merged back (a `switch-org` made meanwhile
//! is not reverted), and the org the command started with is kept for this command.
//!
//! A refusal by the auth server (invalid or already used refresh token) is definitive: the
//! stored session is removed (the org fields stay) and the user is told to `dcd login`. A
//! network failure or a 5xx is transient: the caller retries later.

use super::config::{Loaded, Session, StoredConfig};
use super::{AuthContext, Mode, store};
use crate::clock::Timings;
use serde_json::{Value, json};

/// A session is refreshed when it expires within this many seconds (scaled by
/// `DCD_TIME_SCALE` like every timer, so tests can live through several token lifetimes).
pub const SKEW_SECS: f64 = 60.0;

/// Why a refresh did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshError {
    /// The auth server refused: the session is dead; the message names `dcd login`.
    Definitive(String),
    /// The auth server could not be reached or failed: try again later.
    Transient(String),
}

impl std::fmt::Display for RefreshError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefreshError::Definitive(m) | RefreshError::Transient(m) => f.write_str(m),
        }
    }
}

/// Whether a bearer session expires within the (scaled) skew of `now_ms` (unix
/// milliseconds: a scaled skew below a second still means something).
pub fn expiring(auth: &AuthContext, now_ms: i64, timings: &Timings) -> bool {
    auth.mode == Mode::Bearer && auth.expires_at.is_some_and(|e| soon(e, now_ms, timings))
}

/// `expires_at` (unix seconds) lies within the skew of `now_ms`.
fn soon(expires_at: i64, now_ms: i64, timings: &Timings) -> bool {
    expires_at * 1000 <= now_ms + (SKEW_SECS * 1000.0 * timings.scale) as i64
}

/// Refreshes `auth` when it is expiring at `now_ms` (unix milliseconds). `Ok(true)` when
/// its token changed.
pub fn refresh_if_expiring(
    auth: &mut AuthContext,
    timings: &Timings,
    now_ms: i64,
) -> Result<bool, RefreshError> {
    if !expiring(auth, now_ms, timings) {
        return Ok(false);
    }
    let _lock = store::lock(timings)
        .map_err(|e| RefreshError::Transient(format!("cannot lock the session file: {e}")))?;
    let stored = stored_config();
    if let Some(s) = stored.as_ref().and_then(|c| c.session.as_ref())
        && Some(&s.access_token) != auth.access_token.as_ref()
        && s.expires_at.is_none_or(|e| !soon(e, now_ms, timings))
    {
        crate::debug!("Adopting the session another dcd refreshed");
        adopt(auth, s);
        return Ok(true);
    }
    let token = stored
        .as_ref()
        .and_then(|c| c.session.as_ref())
        .and_then(|s| s.refresh_token.clone())
        .or_else(|| auth.refresh_token.clone())
        .ok_or_else(|| definitive("the session has no refresh token"))?;
    let (url, anon) = super::supabase_project(auth)
        .ok_or_else(|| definitive("the session does not say which auth server issued it"))?;
    match token_grant(&url, &anon, &token, timings) {
        Ok(mut fresh) => {
            if fresh.user_email.is_none() {
                fresh.user_email = auth.user_email.clone();
            }
            save_session(Some(fresh.clone()));
            crate::debug!("Session refreshed");
            adopt(auth, &fresh);
            Ok(true)
        }
        Err(RefreshError::Definitive(why)) => {
            save_session(None);
            Err(definitive(&why))
        }
        Err(e) => Err(e),
    }
}

fn definitive(why: &str) -> RefreshError {
    RefreshError::Definitive(format!(
        "Your dcd session could not be refreshed ({why}). Run `dcd login` to sign in again, or use an API key (--api-key or DEVICE_CLOUD_API_KEY)."
    ))
}

fn stored_config() -> Option<StoredConfig> {
    match super::config::load() {
        Loaded::Config(c) => Some(*c),
        _ => None,
    }
}

/// Writes `session` into the file as it is now (re-read under the lock), touching nothing
/// else: `None` removes the session and keeps the org fields.
fn save_session(session: Option<Session>) {
    let mut c = stored_config().unwrap_or_default();
    c.session = session;
    if let Err(e) = store::save(&c) {
        crate::debug!("Could not save the refreshed session: {e}");
    }
}

/// Uses `s` for the rest of the command; the org stays the one the command started with.
fn adopt(auth: &mut AuthContext, s: &Session) {
    crate::debug::add_secret(&s.access_token);
    if let Some(r) = &s.refresh_token {
        crate::debug::add_secret(r);
    }
    auth.access_token = Some(s.access_token.clone());
    auth.refresh_token = s.refresh_token.clone();
    auth.expires_at = s.expires_at;
    for (k, v) in auth.headers.iter_mut() {
        if k == "authorization" {
            *v = format!("Bearer {}", s.access_token);
        }
    }
}

/// `POST {supabase}/auth/v1/token?grant_type=refresh_token` with the anon key: the new
/// session, or why not (4xx: refused; anything else: transient).
fn token_grant(
    supabase_url: &str,
    anon_key: &str,
    refresh_token: &str,
    timings: &Timings,
) -> Result<Session, RefreshError> {
    let url = format!(
        "{}/auth/v1/token?grant_type=refresh_token",
        supabase_url.trim_end_matches('/')
    );
    crate::debug!("POST {url}");
    let agent = crate::net::agent::transfer_agent(timings, &url);
    let body = json!({ "refresh_token": refresh_token }).to_string();
    let reply = agent
        .post(&url)
        .config()
        .timeout_global(Some(timings.http_request))
        .build()
        .header("apikey", anon_key)
        .header("content-type", "application/json")
        .send(body.as_bytes());
    let mut resp = reply.map_err(|e| RefreshError::Transient(format!("auth server: {e}")))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match status {
        200..=299 => parse_session(&v).ok_or_else(|| {
            RefreshError::Transient("the auth server's answer has no session".into())
        }),
        400..=499 if status != 408 && status != 429 => {
            let why = ["error_description", "msg", "message", "error"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str))
                .unwrap_or("refused");
            Err(RefreshError::Definitive(format!(
                "{}: {}",
                status,
                crate::render::sanitize::one_line(why, 200)
            )))
        }
        _ => Err(RefreshError::Transient(format!(
            "the auth server answered {status}"
        ))),
    }
}

/// The GoTrue session answer: `access_token`, `refresh_token`, `expires_at` (or
/// `expires_in`), `user.id`, `user.email`.
fn parse_session(v: &Value) -> Option<Session> {
    use crate::domain::results::{int_field, str_field};
    let access_token = str_field(v.get("access_token"))?;
    let expires_at = v.get("expires_at").and_then(int_field).or_else(|| {
        v.get("expires_in")
            .and_then(int_field)
            .map(|s| super::unix_now() + s)
    });
    Some(Session {
        access_token,
        refresh_token: str_field(v.get("refresh_token")),
        expires_at,
        user_email: str_field(v.pointer("/user/email")),
        user_id: str_field(v.pointer("/user/id")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_expiring_within_the_skew_and_api_keys_never_expire() {
        let mut a = AuthContext {
            mode: Mode::Bearer,
            expires_at: Some(1_000),
            ..AuthContext::api_key("k")
        };
        let t = Timings::scaled(1.0);
        assert!(expiring(&a, (1_000 - 60) * 1000, &t));
        assert!(!expiring(&a, (1_000 - 61) * 1000, &t));
        let fast = Timings::scaled(0.01);
        assert!(!expiring(&a, 999_000, &fast), "the skew scales: 0.6 s");
        assert!(expiring(&a, 999_500, &fast));
        a.mode = Mode::ApiKey;
        assert!(!expiring(&a, 10_000_000, &t));
    }

    #[test]
    fn the_gotrue_answer_becomes_a_session() {
        let s = parse_session(&json!({"access_token": "a", "refresh_token": "r",
            "expires_at": 42, "user": {"id": "u", "email": "e@x"}}))
        .unwrap();
        assert_eq!(
            (
                s.access_token.as_str(),
                s.expires_at,
                s.user_email.as_deref()
            ),
            ("a", Some(42), Some("e@x"))
        );
        assert!(parse_session(&json!({"refresh_token": "r"})).is_none());
    }
}
