//! Accounts: the login rendezvous (`POST /cli-login/claim`, verifying the PKCE verifier
//! against the challenge the console was handed), `GET /me/orgs`, and a GoTrue token
//! endpoint (`POST /auth/v1/token?grant_type=refresh_token`) with rotating refresh tokens
//! and reuse detection: a refresh token used twice answers 400 and revokes its whole
//! family, as the strictest real one does, refusing as GoTrue does (`error_code`
//! `refresh_token_already_used` / `refresh_token_not_found`, `msg`, and the
//! `x-sb-error-code` header). Access tokens it mints expire after the scenario's lifetime,
//! and the API then answers 401 for them. [`TokenAnswer`] makes its successful answers
//! hostile.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::http::{Request, Response};
use super::storage::base64_encode;
use super::{FakeCloud, Shared, json_body};

/// Who logs in, to which orgs, and how long minted access tokens live.
#[derive(Clone, Debug)]
pub struct Accounts {
    pub email: String,
    pub user_id: String,
    /// `{id, name, slug}` objects, as `GET /me/orgs` lists them.
    pub orgs: Vec<Value>,
    pub token_lifetime: Duration,
    /// How a successful refresh answers.
    pub token_answer: TokenAnswer,
}

/// The body of a successful refresh (the rotation happens in every case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenAnswer {
    /// GoTrue's session: tokens, `expires_in`, `expires_at`, `user`.
    Normal,
    /// Another user's session (`user.id` `user-2`, `other@example.com`).
    OtherUser,
    /// No `refresh_token`.
    NoRefreshToken,
    /// `expires_in: 1e30` and no `expires_at`.
    HugeLifetime,
}

impl Accounts {
    pub fn new(orgs: Vec<Value>) -> Accounts {
        Accounts {
            email: "dev@example.com".into(),
            user_id: "user-1".into(),
            orgs,
            token_lifetime: Duration::from_secs(3600),
            token_answer: TokenAnswer::Normal,
        }
    }

    pub fn token_answer(mut self, a: TokenAnswer) -> Accounts {
        self.token_answer = a;
        self
    }

    pub fn token_lifetime(mut self, d: Duration) -> Accounts {
        self.token_lifetime = d;
        self
    }
}

/// An org row of `GET /me/orgs`.
pub fn org(id: &str, name: &str, slug: &str) -> Value {
    json!({"id": id, "name": name, "slug": slug})
}

#[derive(Default)]
pub(super) struct AuthState {
    /// Access token → (expiry, family).
    access: HashMap<String, (Instant, u64)>,
    /// Refresh token → (family, used).
    refresh: HashMap<String, (u64, bool)>,
    revoked: HashSet<u64>,
    /// Login state → code challenge, once the console handed the session off.
    handoffs: HashMap<String, String>,
    next: u64,
    /// Token-endpoint calls, in order: (refresh token sent, answered status).
    pub(super) grants: Vec<(String, u16)>,
    /// Access tokens handed over by a login claim, in order.
    claimed: Vec<String>,
}

fn b64url(data: &[u8]) -> String {
    base64_encode(data)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

impl AuthState {
    /// A fresh session in a new family (or `family`): access and refresh token, expiry.
    fn mint(&mut self, lifetime: Duration, family: Option<u64>) -> (String, String, Instant) {
        self.next += 1;
        let n = self.next;
        let family = family.unwrap_or(n);
        let access = format!("access-{n}-{:08x}", n.wrapping_mul(2_654_435_761));
        let refresh = format!("refresh-{n}-{:08x}", n.wrapping_mul(40_503));
        let expiry = Instant::now() + lifetime;
        self.access.insert(access.clone(), (expiry, family));
        self.refresh.insert(refresh.clone(), (family, false));
        (access, refresh, expiry)
    }

    /// Whether the API accepts this bearer token now.
    pub(super) fn valid(&self, token: &str) -> Option<bool> {
        let (expiry, family) = self.access.get(token)?;
        Some(Instant::now() < *expiry && !self.revoked.contains(family))
    }
}

/// `at` as unix seconds, rounded to the nearest second (as a real auth server's
/// `expires_at` is a whole second).
fn unix_at(at: Instant) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    (now + at.saturating_duration_since(Instant::now()).as_secs_f64()).round() as i64
}

fn session_json(a: &Accounts, access: &str, refresh: &str, expiry: Instant) -> Value {
    json!({
        "access_token": access,
        "refresh_token": refresh,
        "expires_at": unix_at(expiry),
        "user_email": a.email,
        "user_id": a.user_id,
    })
}

/// `POST /cli-login/claim {state, code_verifier}`.
pub(super) fn claim(shared: &Shared, req: &Request) -> Response {
    let Some(accounts) = &shared.scenario.accounts else {
        return Response::nest(404, "Not Found");
    };
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (state, verifier) = (field("state"), field("code_verifier"));
    let mut st = shared.lock();
    let Some(challenge) = st.auth.handoffs.get(&state).cloned() else {
        return Response::nest(404, "Login not handed off yet");
    };
    if b64url(&Sha256::digest(verifier.as_bytes())) != challenge {
        return Response::nest(400, "code_verifier does not match the code_challenge");
    }
    st.auth.handoffs.remove(&state);
    let (access, refresh, expiry) = st.auth.mint(accounts.token_lifetime, None);
    st.auth.claimed.push(access.clone());
    Response::json(200, &session_json(accounts, &access, &refresh, expiry))
}

/// `GET /me/orgs` with a bearer token (no org header needed).
pub(super) fn my_orgs(shared: &Shared, req: &Request) -> Response {
    let Some(accounts) = &shared.scenario.accounts else {
        return Response::nest(404, "Not Found");
    };
    let token = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("");
    if shared.lock().auth.valid(token) != Some(true) {
        return Response::json(
            401,
            &json!({"statusCode": 401, "message": "Invalid or expired JWT"}),
        );
    }
    Response::json(200, &json!({ "orgs": accounts.orgs }))
}

/// `POST /auth/v1/token?grant_type=refresh_token {refresh_token}` with the anon key.
pub(super) fn token(shared: &Shared, req: &Request) -> Response {
    let Some(accounts) = &shared.scenario.accounts else {
        return Response::nest(404, "Not Found");
    };
    let grant = req
        .query
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.as_str());
    if grant != Some("refresh_token") || req.header("apikey").is_none() {
        return Response::json(400, &json!({"error": "invalid_request"}));
    }
    let sent = json_body(req)
        .ok()
        .and_then(|b| {
            b.get("refresh_token")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let mut st = shared.lock();
    let not_found = (
        "refresh_token_not_found",
        "Invalid Refresh Token: Refresh Token Not Found",
    );
    let answer = match st.auth.refresh.get(&sent).copied() {
        None => refused(not_found),
        Some((family, _)) if st.auth.revoked.contains(&family) => refused(not_found),
        Some((family, true)) => {
            st.auth.revoked.insert(family);
            refused((
                "refresh_token_already_used",
                "Invalid Refresh Token: Already Used",
            ))
        }
        Some((family, false)) => {
            st.auth.refresh.insert(sent.clone(), (family, true));
            let (access, refresh, expiry) = st.auth.mint(accounts.token_lifetime, Some(family));
            Response::json(200, &refreshed(accounts, &access, &refresh, expiry))
        }
    };
    st.auth.grants.push((sent, answer.status));
    answer
}

/// A successful refresh's body, as [`Accounts::token_answer`] says.
fn refreshed(a: &Accounts, access: &str, refresh: &str, expiry: Instant) -> Value {
    let mut v = json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": a.token_lifetime.as_secs(),
        "expires_at": unix_at(expiry),
        "refresh_token": refresh,
        "user": {"id": a.user_id, "email": a.email},
    });
    let o = v.as_object_mut().unwrap();
    match a.token_answer {
        TokenAnswer::Normal => {}
        TokenAnswer::OtherUser => {
            o.insert(
                "user".into(),
                json!({"id": "user-2", "email": "other@example.com"}),
            );
        }
        TokenAnswer::NoRefreshToken => {
            o.remove("refresh_token");
        }
        TokenAnswer::HugeLifetime => {
            o.remove("expires_at");
            o.insert("expires_in".into(), json!(1e30));
        }
    }
    v
}

/// GoTrue's refusal of a refresh token (its API before versioned errors): `code` is the
/// status, `error_code` the reason, also in `x-sb-error-code`.
fn refused((code, msg): (&str, &str)) -> Response {
    Response::json(400, &json!({"code": 400, "error_code": code, "msg": msg}))
        .header("x-sb-error-code", code.to_string())
}

impl FakeCloud {
    /// What the console does once the user signed in: hands the session off for `state`,
    /// to whoever proves the verifier of `challenge`.
    pub fn handoff(&self, state: &str, challenge: &str) {
        self.shared
            .lock()
            .auth
            .handoffs
            .insert(state.to_string(), challenge.to_string());
    }

    /// A session as a finished login would have stored it: (access, refresh, expires_at).
    pub fn mint_session(&self, lifetime: Duration) -> (String, String, i64) {
        let (a, r, e) = self.shared.lock().auth.mint(lifetime, None);
        (a, r, unix_at(e))
    }

    /// Every call of the token endpoint: (refresh token sent, status answered).
    pub fn token_grants(&self) -> Vec<(String, u16)> {
        self.shared.lock().auth.grants.clone()
    }

    /// The access tokens login claims handed over, in order.
    pub fn claimed_tokens(&self) -> Vec<String> {
        self.shared.lock().auth.claimed.clone()
    }
}
