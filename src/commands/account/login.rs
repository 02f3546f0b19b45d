//! `dcd login`: sign in in the browser, with PKCE and a server rendezvous (no local server).
//!
//! dcd mints a random `state` and a PKCE verifier, opens (or prints) the console's
//! `/cli-login?state=…&code_challenge=…` page — only the S256 challenge leaves this machine —
//! and polls `POST /cli-login/claim {state, code_verifier}` every second until the console
//! has handed the session over: 404 means not yet, 429 slow down, a network error try again,
//! anything else ends the login; ten minutes end it too. Then it lists the user's
//! organizations, picks one (itself when there is one, by asking on a terminal when there are
//! several) and writes `config.json` once, under the session lock.
//!
//! Whether `config.json` can take the session is found before the browser step, so a session
//! the console handed over is never claimed only to be thrown away. Every blocking step —
//! the question about an existing session, each claim and its pause, the org list and the
//! org question — ends as soon as a stop is recorded.

use super::orgs::{self, Picked};
use crate::api::me::Claim;
use crate::api::{ApiClient, ClientOptions};
use crate::auth::config::{Session, StoredConfig};
use crate::auth::store;
use crate::cli::args::LoginArgs;
use crate::commands::{Ctx, load_config};
use crate::domain::environments::{self, Environment};
use crate::domain::results::{int_field, str_field};
use crate::encoding::{base64url, hex, random_bytes};
use crate::exit::{CliError, Exit, signal};
use crate::output::Event;
use crate::render::account;
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long the console has to hand the session over.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(600);
/// Between two claims; after a 429, three times this.
const CLAIM_EVERY: Duration = Duration::from_secs(1);

/// A login attempt's secrets: `state` and the verifier stay here; the URL carries only the
/// challenge.
pub struct Pkce {
    pub state: String,
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Result<Pkce, CliError> {
        let rand = |n| random_bytes(n).map_err(|e| CliError::new(format!("No random source: {e}")));
        let state = hex(&rand(32)?);
        let verifier = base64url(&rand(32)?);
        let challenge = base64url(&crate::encoding::sha256(verifier.as_bytes()));
        crate::debug::add_secret(&verifier);
        Ok(Pkce {
            state,
            verifier,
            challenge,
        })
    }
}

pub fn run(args: &LoginArgs, ctx: &Ctx) -> Result<Exit, CliError> {
    let api_url = environments::resolve_api_url(args.api_url.as_deref(), None);
    if !keep_going_over(ctx)? {
        return Ok(Exit::Success);
    }
    can_save(ctx)?;
    let env = environments::infer_from_api_url(&api_url);
    let pkce = Pkce::new()?;
    let url = format!(
        "{}/cli-login?state={}&code_challenge={}",
        frontend_url(args, &api_url, env),
        pkce.state,
        pkce.challenge
    );
    let s = ctx.out.style();
    ctx.out.emit(Event::Report(&crate::render::status::section(
        "Signing in to devicecloud.dev",
        s,
    )));
    if args.browser && open_browser(&url) {
        ctx.out.emit(Event::Info("Opening your browser..."));
        ctx.out
            .emit(Event::Note(&format!("If nothing opens, visit: {url}")));
    } else {
        ctx.out
            .emit(Event::Report(&[format!("Open this URL to sign in: {url}")]));
    }
    ctx.out
        .emit(Event::Info("Waiting for login to complete..."));
    let anonymous = client(ctx, &api_url, vec![]);
    let session = claim(ctx, &anonymous, &pkce)?;
    store_session(ctx, &api_url, env, session)
}

/// An existing session: on a terminal, ask whether to replace it (default No); without one,
/// keep it and say so. True when the login goes on.
fn keep_going_over(ctx: &Ctx) -> Result<bool, CliError> {
    let Some(existing) = load_config(ctx).filter(|c| c.session.is_some()) else {
        return Ok(true);
    };
    let who = existing
        .session
        .as_ref()
        .and_then(|s| s.user_email.clone())
        .unwrap_or_else(|| "an unknown user".into());
    let org = existing
        .current_org_name
        .clone()
        .or(existing.current_org_id.clone())
        .map(|o| format!(" (org {o})"))
        .unwrap_or_default();
    let replace = crate::term::prompt::can_prompt()
        && ctx.out.human()
        && ctx
            .out
            .confirm(&format!(
                "Already logged in as {who}{org}. Sign out and log in again?"
            ))
            .unwrap_or(false);
    // No answer because of a stop ends as that stop.
    signal::check()?;
    if !replace {
        ctx.out.emit(Event::Info(&format!(
            "Keeping existing session ({who}{org}). Run `dcd logout` first to sign in as someone else."
        )));
    }
    Ok(replace)
}

/// `config.json` can take a session now: its directory, the file (a regular one or none) and
/// the lock; else the login stops before anything is sent.
fn can_save(ctx: &Ctx) -> Result<(), CliError> {
    let cannot = |why: String| {
        CliError::new(format!(
            "Cannot log in: {why}. Nothing was sent; fix that and run `dcd login` again."
        ))
    };
    let path = store::path().map_err(|e| cannot(e.to_string()))?;
    store::check_writable().map_err(|e| {
        cannot(format!(
            "the session could not be saved to {} ({e})",
            path.display()
        ))
    })?;
    drop(store::lock(&ctx.timings)?);
    Ok(())
}

/// `--frontend-url`, else the local console for a localhost API, else the environment's.
fn frontend_url(args: &LoginArgs, api_url: &str, env: Environment) -> String {
    if let Some(f) = args
        .frontend_url
        .as_deref()
        .filter(|f| !f.trim().is_empty())
    {
        return f.trim_end_matches('/').to_string();
    }
    if api_url.contains("localhost") {
        return "http://localhost:5173".into();
    }
    env.console_url.to_string()
}

/// Starts the platform's opener on `url`, detached. False when it cannot be started.
fn open_browser(url: &str) -> bool {
    crate::platform::open_browser(url)
}

fn client(ctx: &Ctx, api_url: &str, auth_headers: Vec<(String, String)>) -> ApiClient {
    ApiClient::new(ClientOptions {
        base_url: api_url.to_string(),
        auth_headers,
        timings: ctx.timings,
    })
}

/// Polls the claim until the console has handed the session over. A stop ends a claim in
/// flight and the pause between two.
fn claim(ctx: &Ctx, client: &ApiClient, pkce: &Pkce) -> Result<Value, CliError> {
    let t = &ctx.timings;
    let every = CLAIM_EVERY.mul_f64(t.scale);
    let deadline = Instant::now() + LOGIN_TIMEOUT.mul_f64(t.scale);
    let mut last_error = None;
    loop {
        let (c, state, verifier) = (client.clone(), pkce.state.clone(), pkce.verifier.clone());
        let wait = match signal::run(move || c.claim_login(&state, &verifier))? {
            Ok(Claim::Session(v)) => return Ok(v),
            Ok(Claim::NotYet) => every,
            Ok(Claim::SlowDown) => every * 3,
            Ok(Claim::Failed(why)) => return Err(CliError::new(format!("Login failed: {why}"))),
            Err(e) => {
                crate::debug!("claim failed, trying again: {e}");
                last_error = Some(e.to_string());
                every
            }
        };
        if Instant::now() + wait > deadline {
            let last = last_error
                .map(|e| format!(" The last attempt failed: {e}"))
                .unwrap_or_default();
            return Err(CliError::new(format!(
                "Login timed out. Please run `dcd login` again.{last}"
            )));
        }
        signal::sleep(wait)?;
    }
}

/// The claimed session, the org, `config.json`, and what to tell the user.
fn store_session(
    ctx: &Ctx,
    api_url: &str,
    env: Environment,
    claimed: Value,
) -> Result<Exit, CliError> {
    let session = Session {
        access_token: str_field(claimed.get("access_token"))
            .ok_or("Login failed: the claimed session has no access_token")?,
        refresh_token: str_field(claimed.get("refresh_token")),
        expires_at: claimed.get("expires_at").and_then(int_field),
        user_email: str_field(claimed.get("user_email")),
        user_id: str_field(claimed.get("user_id")),
    };
    crate::debug::add_secret(&session.access_token);
    if let Some(r) = &session.refresh_token {
        crate::debug::add_secret(r);
    }
    let bearer = vec![(
        "authorization".to_string(),
        format!("Bearer {}", session.access_token),
    )];
    let list = orgs::list(
        &client(ctx, api_url, bearer),
        "Could not list your organizations: ",
    )?;
    let picked = orgs::pick(ctx, &list, "Choose the organization dcd should use")?;
    let email = session.user_email.clone().unwrap_or_default();
    let supabase = std::env::var("DCD_SUPABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| env.supabase_url.to_string());
    let mut cfg = StoredConfig {
        env: Some(env.name.to_string()),
        api_url: Some(api_url.to_string()),
        supabase_url: Some(supabase),
        session: Some(session),
        ..StoredConfig::default()
    };
    if let Picked::One(org) = &picked {
        crate::auth::check_org_id(&org.id, "The organization id the server sent")?;
        cfg.current_org_id = Some(org.id.clone());
        cfg.current_org_name = Some(org.name.clone());
    }
    {
        // Under the lock: a refresh in flight in another dcd writes its session back first,
        // and this one replaces it.
        let _lock = store::lock(&ctx.timings)?;
        super::save(ctx, &cfg)?;
    }
    match picked {
        Picked::One(org) => {
            let lines = account::logged_in(&email, Some(&org.name), list.len(), ctx.out.style());
            ctx.out.emit(Event::Report(&lines));
            Ok(Exit::Success)
        }
        Picked::Ask(names) => Err(CliError::new(format!(
            "Logged in as {email}, but you belong to several organizations ({names}) and there is no terminal to choose on. Choose one with `dcd switch-org <name>`."
        ))),
    }
}
