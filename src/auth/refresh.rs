//! Keeping a login session alive: a session that expires within 60 s is refreshed before
//! the request that needs it — at the start of a command, before each poll, before the
//! downloads after a run (docs/config.md, "Session refresh").
//!
//! Refresh tokens rotate, and a token used twice revokes the whole session family, so every
//! refresh happens under the config lock, and so does every other write of the session
//! (login, logout, switch-org). With the lock, the file is read again: if another process has
//! already refreshed this user's session, it is adopted without a network call; if the
//! session there is another user's (a login meanwhile), this command refreshes its own and
//! leaves the file alone. The answer is written back only if the file still holds the session
//! that was refreshed, and then only its `session` member (a `switch-org` made meanwhile is
//! not reverted); the org the command started with is kept for this command.
//!
//! Before the token is spent: a stop ends the refresh, and a file that could not take the
//! answer (a read-only directory, a FIFO in its place) leaves the session untouched with a
//! message saying so. After: an answer that cannot be saved is a warning naming the file.
//!
//! Only the auth server's refusals of the token itself (GoTrue's codes for an unknown, used
//! or revoked refresh token, or `invalid_grant`) are definitive: the stored session is
//! removed (the org fields stay) and the user is told to `dcd login`. Anything else — a
//! network failure, a 5xx, a 4xx that is not such a refusal (a wrong URL, a proxy page, a
//! wrong anon key), an answer that is not a usable session — is transient: a token that is
//! still valid goes on being used, and the refresh is tried again later.

use super::config::{Loaded, Session, StoredConfig};
use super::store::{self, LockError};
use super::{AuthContext, Mode};
use crate::clock::Timings;
use crate::exit::{Stop, signal};
use serde_json::{Value, json};

/// A session is refreshed when it expires within this many seconds (scaled by
/// `DCD_TIME_SCALE` like every timer, so tests can live through several token lifetimes).
pub const SKEW_SECS: f64 = 60.0;

/// GoTrue's `error_code`s for a refresh token it will never accept: unknown, already used,
/// its session gone or expired.
const REFUSALS: [&str; 4] = [
    "refresh_token_not_found",
    "refresh_token_already_used",
    "session_not_found",
    "session_expired",
];

/// Why a refresh did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshError {
    /// The auth server refused: the session is dead; the message names `dcd login`.
    Definitive(String),
    /// The auth server could not be reached, failed, or answered something unusable: try
    /// again later.
    Transient(String),
    /// This machine cannot refresh safely now (the lock, the file): no token was used; the
    /// message says what is in the way.
    Local(String),
    /// A stop was recorded: no refresh was started, or the one in flight was abandoned.
    Stopped(Stop),
}

impl std::fmt::Display for RefreshError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefreshError::Definitive(m) | RefreshError::Transient(m) | RefreshError::Local(m) => {
                f.write_str(m)
            }
            RefreshError::Stopped(s) => write!(f, "stopped by {}", s.name()),
        }
    }
}

/// Whether a bearer session expires within the (scaled) skew of `now_ms` (unix
/// milliseconds: a scaled skew below a second still means something).
pub fn expiring(auth: &AuthContext, now_ms: i64, timings: &Timings) -> bool {
    auth.mode == Mode::Bearer && auth.expires_at.is_some_and(|e| soon(e, now_ms, timings))
}

/// `expires_at` (unix seconds) in unix milliseconds, saturating (a server may say 1e30).
pub fn expires_ms(expires_at: i64) -> i64 {
    expires_at.saturating_mul(1000)
}

/// `expires_at` (unix seconds) lies within the skew of `now_ms`.
fn soon(expires_at: i64, now_ms: i64, timings: &Timings) -> bool {
    expires_ms(expires_at) <= now_ms.saturating_add((SKEW_SECS * 1000.0 * timings.scale) as i64)
}

/// What the file holds, read again under the lock, decides what to do.
enum Plan {
    /// Another dcd refreshed this user's session meanwhile: use it, with no request.
    Adopt(Session),
    /// Trade `from`'s refresh token in; write the answer back only when `ours` (the file
    /// holds `from`).
    Refresh { from: Session, ours: bool },
}

/// Refreshes `auth` when it is expiring at `now_ms` (unix milliseconds). `Ok(true)` when
/// its token changed. `warn` gets what the user must know although the refresh worked (the
/// new session could not be saved).
pub fn refresh_if_expiring(
    auth: &mut AuthContext,
    timings: &Timings,
    now_ms: i64,
    warn: &mut dyn FnMut(String),
) -> Result<bool, RefreshError> {
    if !expiring(auth, now_ms, timings) {
        return Ok(false);
    }
    let _lock = store::lock(timings).map_err(|e| match e {
        LockError::Stopped(s) => RefreshError::Stopped(s),
        LockError::Failed(m) => RefreshError::Local(m),
    })?;
    let (from, ours) = match plan(auth, now_ms, timings)? {
        Plan::Adopt(s) => {
            crate::debug!("Adopting the session another dcd refreshed");
            adopt(auth, &s);
            return Ok(true);
        }
        Plan::Refresh { from, ours } => (from, ours),
    };
    // Neither of these two changes the file.
    let token = from
        .refresh_token
        .clone()
        .ok_or_else(|| definitive("the session has no refresh token"))?;
    let (url, anon) = super::supabase_project(auth)
        .ok_or_else(|| definitive("the session does not say which auth server issued it"))?;
    if ours {
        writable_before_spending()?;
    }
    match request(url, anon, token, &from, timings) {
        Ok(mut fresh) => {
            if fresh.user_email.is_none() {
                fresh.user_email = from.user_email.clone().or(auth.user_email.clone());
            }
            if ours {
                write_back(&from, Some(fresh.clone()), warn);
            }
            crate::debug!("Session refreshed");
            adopt(auth, &fresh);
            Ok(true)
        }
        Err(RefreshError::Definitive(why)) => {
            if ours {
                write_back(&from, None, warn);
            }
            Err(definitive(&why))
        }
        Err(e) => Err(e),
    }
}

/// The session to refresh, from the file as it is now (under the lock).
fn plan(auth: &AuthContext, now_ms: i64, timings: &Timings) -> Result<Plan, RefreshError> {
    let Some(disk) = stored_config().and_then(|c| c.session) else {
        // `dcd logout` (or a refusal another dcd got) removed it: nothing is written back.
        return Err(definitive("the session is no longer in config.json"));
    };
    if !same_user(&disk, auth.user_id.as_deref(), auth.user_email.as_deref()) {
        crate::debug!(
            "config.json holds another user's session now: refreshing this command's own"
        );
        let own = Session {
            access_token: auth.access_token.clone().unwrap_or_default(),
            refresh_token: auth.refresh_token.clone(),
            expires_at: auth.expires_at,
            user_email: auth.user_email.clone(),
            user_id: auth.user_id.clone(),
        };
        return Ok(Plan::Refresh {
            from: own,
            ours: false,
        });
    }
    if Some(&disk.access_token) != auth.access_token.as_ref()
        && disk.expires_at.is_none_or(|e| !soon(e, now_ms, timings))
    {
        return Ok(Plan::Adopt(disk));
    }
    Ok(Plan::Refresh {
        from: disk,
        ours: true,
    })
}

/// Whether `s` belongs to the user known by `id` or `email`: by id when both have one, else
/// by email (ignoring case); unknown counts as the same.
fn same_user(s: &Session, id: Option<&str>, email: Option<&str>) -> bool {
    match (s.user_id.as_deref(), id) {
        (Some(a), Some(b)) => a == b,
        _ => match (s.user_email.as_deref(), email) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => true,
        },
    }
}

/// A refreshed session that could not be saved costs the user their session, so a file
/// known not to take one is said before the refresh token is spent.
fn writable_before_spending() -> Result<(), RefreshError> {
    store::check_writable().map(drop).map_err(|e| {
        let path = store::path().map(|p| p.display().to_string()).unwrap_or_default();
        RefreshError::Local(format!(
            "{path} cannot be written ({e}), so a refreshed session could not be saved; its refresh token was not used, and stays good for when the file can be written"
        ))
    })
}

/// Trades `from`'s refresh `token` in at the auth server `url`, unless a stop came first. A
/// stop while the request is in flight abandons it (the auth server accepts the previous
/// token once more when a client lost the answer, so the next refresh recovers).
fn request(
    url: String,
    anon: String,
    token: String,
    from: &Session,
    timings: &Timings,
) -> Result<Session, RefreshError> {
    signal::check().map_err(RefreshError::Stopped)?;
    let t = *timings;
    let fresh = signal::run(move || token_grant(&url, &anon, &token, &t))
        .map_err(RefreshError::Stopped)??;
    if !same_user(&fresh, from.user_id.as_deref(), from.user_email.as_deref()) {
        return Err(RefreshError::Transient(
            "the auth server answered with another user's session".into(),
        ));
    }
    Ok(fresh)
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

/// Puts `session` into the file as it is now, touching nothing else — but only while the
/// file still holds `from` (a login or logout made meanwhile is not undone). `None` removes
/// the session and keeps the org fields.
fn write_back(from: &Session, session: Option<Session>, warn: &mut dyn FnMut(String)) {
    let Some(mut c) = stored_config() else {
        return;
    };
    let still = c.session.as_ref().is_some_and(|s| {
        s.access_token == from.access_token && s.refresh_token == from.refresh_token
    });
    if !still {
        crate::debug!("config.json changed meanwhile: the refreshed session is not written");
        return;
    }
    let refreshed = session.is_some();
    c.session = session;
    match store::save(&c) {
        Ok(exposed) => exposed.into_iter().for_each(&mut *warn),
        Err(e) if refreshed => {
            let path = store::path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            warn(format!(
                "The refreshed session could not be saved to {path}: {e}. This command goes on with it, but the next dcd command will read the previous session, whose refresh token has now been used: if the auth server refuses it, run `dcd login`."
            ));
        }
        Err(e) => crate::debug!("Could not remove the refused session: {e}"),
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
/// session, or why not ([`judge`]).
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
    let code_header = resp
        .headers()
        .get("x-sb-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    judge(status, code_header.as_deref(), &v, super::unix_now())
}

/// What an answer of the token endpoint means: a 2xx is the new session (if it is a usable
/// one); a 4xx carrying one of GoTrue's refusal codes (`error_code`, `code` or the
/// `x-sb-error-code` header) or the OAuth `invalid_grant` is definitive; anything else is
/// transient.
fn judge(
    status: u16,
    code_header: Option<&str>,
    v: &Value,
    now: i64,
) -> Result<Session, RefreshError> {
    let reason = || {
        ["msg", "message", "error_description", "error"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .map(|r| crate::sanitize::one_line(r, 200))
    };
    if (200..=299).contains(&status) {
        return parse_session(v, now).map_err(|why| {
            RefreshError::Transient(format!(
                "the auth server's answer is not a usable session: {why}"
            ))
        });
    }
    let code = ["error_code", "code"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .or(code_header);
    let refused = code.is_some_and(|c| REFUSALS.contains(&c))
        || v.get("error").and_then(Value::as_str) == Some("invalid_grant");
    if (400..=499).contains(&status) && refused {
        return Err(RefreshError::Definitive(format!(
            "{status}: {}",
            reason().unwrap_or_else(|| "refused".into())
        )));
    }
    Err(RefreshError::Transient(match reason() {
        Some(r) => format!("the auth server answered {status}: {r}"),
        None => format!("the auth server answered {status}"),
    }))
}

/// The GoTrue session answer: `access_token` and `refresh_token` (both required: a session
/// without the next refresh token would die at its next refresh), `expires_at` (or now +
/// `expires_in`, saturating), `user.id`, `user.email`.
fn parse_session(v: &Value, now: i64) -> Result<Session, String> {
    use crate::domain::results::{int_field, str_field};
    let token = |k: &str| {
        let t = str_field(v.get(k)).ok_or_else(|| format!("it has no {k}"))?;
        match t.chars().any(char::is_control) {
            true => Err(format!("its {k} is not one line of text")),
            false => Ok(t),
        }
    };
    let access_token = token("access_token")?;
    let refresh_token = token("refresh_token")?;
    let expires_at = v.get("expires_at").and_then(int_field).or_else(|| {
        v.get("expires_in")
            .and_then(int_field)
            .map(|s| now.saturating_add(s))
    });
    Ok(Session {
        access_token,
        refresh_token: Some(refresh_token),
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
    fn the_gotrue_answer_becomes_a_session_only_with_both_tokens() {
        let s = parse_session(
            &json!({"access_token": "a", "refresh_token": "r",
            "expires_at": 42, "user": {"id": "u", "email": "e@x"}}),
            1_000,
        )
        .unwrap();
        assert_eq!(
            (
                s.access_token.as_str(),
                s.expires_at,
                s.user_email.as_deref()
            ),
            ("a", Some(42), Some("e@x"))
        );
        assert!(parse_session(&json!({"refresh_token": "r"}), 0).is_err());
        let e = parse_session(&json!({"access_token": "a", "expires_in": 60}), 0).unwrap_err();
        assert_eq!(e, "it has no refresh_token");
        let e = parse_session(&json!({"access_token": "a\r\nx", "refresh_token": "r"}), 0);
        assert_eq!(e.unwrap_err(), "its access_token is not one line of text");
    }

    #[test]
    fn a_huge_lifetime_saturates_instead_of_wrapping() {
        let s = parse_session(
            &json!({"access_token": "a", "refresh_token": "r", "expires_in": 1e30}),
            1_700_000_000,
        )
        .unwrap();
        assert_eq!(s.expires_at, Some(i64::MAX));
        let mut a = AuthContext {
            mode: Mode::Bearer,
            expires_at: s.expires_at,
            ..AuthContext::api_key("k")
        };
        // No overflow on the way (a panic in a debug build, a wrap to "expired" in release).
        assert!(!expiring(&a, 1_700_000_000_000, &Timings::scaled(1000.0)));
        assert!(expiring(&a, i64::MAX, &Timings::scaled(1.0)));
        a.expires_at = Some(i64::MIN);
        assert!(expiring(&a, 0, &Timings::scaled(1.0)));
    }

    #[test]
    fn only_gotrue_refusals_of_the_token_are_definitive() {
        let definitive = |status, header: Option<&str>, v: Value| {
            matches!(
                judge(status, header, &v, 0),
                Err(RefreshError::Definitive(_))
            )
        };
        for code in REFUSALS {
            assert!(definitive(
                400,
                None,
                json!({"code": 400, "error_code": code, "msg": "m"})
            ));
            assert!(
                definitive(400, None, json!({"code": code, "message": "m"})),
                "{code}"
            );
            assert!(definitive(400, Some(code), json!(null)), "{code}");
        }
        assert!(definitive(
            400,
            None,
            json!({"error": "invalid_grant", "error_description": "Invalid Refresh Token: Already Used"})
        ));
        // A wrong URL, a proxy page, a wrong anon key, a wrong method, other GoTrue errors.
        assert!(!definitive(404, None, json!({"error": "not found"})));
        assert!(!definitive(403, None, Value::Null));
        assert!(!definitive(
            401,
            None,
            json!({"message": "Invalid API key"})
        ));
        assert!(!definitive(405, None, Value::Null));
        assert!(!definitive(
            400,
            None,
            json!({"code": 400, "error_code": "validation_failed", "msg": "m"})
        ));
        assert!(!definitive(
            500,
            None,
            json!({"error_code": "refresh_token_not_found"})
        ));
        let Err(RefreshError::Transient(m)) =
            judge(401, None, &json!({"message": "Invalid API key"}), 0)
        else {
            panic!("transient")
        };
        assert_eq!(m, "the auth server answered 401: Invalid API key");
        let Err(RefreshError::Definitive(m)) = judge(
            400,
            None,
            &json!({"error_code": "refresh_token_already_used", "msg": "Invalid Refresh Token: Already Used"}),
            0,
        ) else {
            panic!("definitive")
        };
        assert_eq!(m, "400: Invalid Refresh Token: Already Used");
    }

    #[test]
    fn another_users_session_is_told_apart_by_id_then_email() {
        let s = |id: Option<&str>, email: Option<&str>| Session {
            access_token: "a".into(),
            refresh_token: None,
            expires_at: None,
            user_email: email.map(str::to_string),
            user_id: id.map(str::to_string),
        };
        assert!(same_user(&s(Some("u1"), None), Some("u1"), Some("x@y")));
        assert!(!same_user(
            &s(Some("u1"), Some("x@y")),
            Some("u2"),
            Some("x@y")
        ));
        assert!(same_user(&s(None, Some("X@y")), Some("u2"), Some("x@Y")));
        assert!(!same_user(&s(None, Some("a@y")), None, Some("b@y")));
        assert!(same_user(&s(None, None), Some("u2"), Some("b@y")));
    }
}
