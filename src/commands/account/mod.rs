//! The account commands: `login`, `logout`, `whoami`, `switch-org`. They read and write the
//! session in `config.json` (see `docs/config.md`), every write under the session lock (so
//! a refresh in another dcd cannot undo it); only `login` and `switch-org` talk to the API.

pub mod login;
mod orgs;

use crate::api::{ApiClient, ClientOptions};
use crate::auth::config::{Loaded, StoredConfig, config_path};
use crate::auth::{self, refresh, store};
use crate::cli::args::{SwitchOrgArgs, WhoamiArgs};
use crate::commands::{Ctx, load_config};
use crate::domain::environments;
use crate::exit::{CliError, Exit};
use crate::output::Event;
use crate::render::account;

/// `dcd logout`: deletes the stored session (API keys are not affected).
pub fn logout(ctx: &Ctx) -> Result<Exit, CliError> {
    let Some(path) = config_path().map(|p| p.display().to_string()) else {
        ctx.out.emit(Event::Info(
            "No active session found (no config directory: neither DCD_CONFIG_DIR nor HOME is set).",
        ));
        return Ok(Exit::Success);
    };
    // Under the lock: a refresh in flight in another dcd finishes first, and then finds no
    // session to write back.
    let _lock = store::lock(&ctx.timings)?;
    let email = match crate::auth::config::load() {
        Loaded::Config(c) => c.session.map(|s| s.user_email.unwrap_or_default()),
        Loaded::Missing | Loaded::Ignored(_) => None,
    };
    store::clear().map_err(|e| CliError::new(format!("Could not delete {path}: {e}")))?;
    match email {
        Some(email) => {
            let lines = account::done(&format!("Logged out ({email})"), ctx.out.style());
            ctx.out.emit(Event::Report(&lines));
        }
        None => ctx
            .out
            .emit(Event::Info(&format!("No active session found ({path})."))),
    }
    Ok(Exit::Success)
}

/// The API key that would override the session: `--api-key`, else `DEVICE_CLOUD_API_KEY`
/// (blank values ignored), and which of the two.
fn api_key_override(flag: Option<&str>) -> Option<&'static str> {
    if flag.is_some_and(|k| !k.trim().is_empty()) {
        Some("flag")
    } else if std::env::var("DEVICE_CLOUD_API_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        Some("env")
    } else {
        None
    }
}

/// `dcd whoami`: the stored session, from the file alone (no network).
pub fn whoami(args: &WhoamiArgs, ctx: &Ctx) -> Result<Exit, CliError> {
    let key = api_key_override(args.api_key.as_deref());
    let Some((cfg, session)) = load_config(ctx).and_then(|c| c.session.clone().map(|s| (c, s)))
    else {
        let msg = match key {
            Some(_) => {
                "Not logged in. DEVICE_CLOUD_API_KEY is set, so dcd commands authenticate with that API key."
            }
            None => "Not logged in. Run dcd login or set DEVICE_CLOUD_API_KEY.",
        };
        ctx.out.emit(Event::Info(msg));
        return Ok(Exit::Success);
    };
    let w = account::Whoami {
        user: session.user_email.unwrap_or_default(),
        org: cfg
            .current_org_name
            .or(cfg.current_org_id)
            .unwrap_or_else(|| "(none: run `dcd switch-org`)".into()),
        env: cfg.env.unwrap_or_else(|| "prod".into()),
    };
    ctx.out
        .emit(Event::Report(&account::whoami(&w, ctx.out.style())));
    match key {
        Some("env") => ctx.out.warn(
            "DEVICE_CLOUD_API_KEY is set, so other dcd commands authenticate with that API key and its org, not this session.",
        ),
        Some(_) => ctx.out.warn(
            "Commands given --api-key authenticate with that API key and its org, not this session.",
        ),
        None => {}
    }
    Ok(Exit::Success)
}

/// `dcd switch-org [org]`: the session's org, by name, slug or id, or picked from a list.
/// Uses the session even when an API key is exported.
pub fn switch_org(args: &SwitchOrgArgs, ctx: &Ctx) -> Result<Exit, CliError> {
    let not_logged_in = || CliError::new("Not logged in. Run `dcd login` first.");
    let cfg = load_config(ctx).ok_or_else(not_logged_in)?;
    let session = cfg.session.clone().ok_or_else(not_logged_in)?;
    let api_url = environments::resolve_api_url(args.api_url.as_deref(), cfg.api_url.as_deref());
    let mut auth = session_auth(&cfg, &session);
    let mut warn = |w: String| ctx.out.warn(&w);
    match refresh::refresh_if_expiring(&mut auth, &ctx.timings, auth::unix_now_ms(), &mut warn) {
        Ok(_) => {}
        Err(refresh::RefreshError::Stopped(stop)) => return Err(stop.into()),
        Err(e) => return Err(CliError::new(e.to_string())),
    }
    let client = ApiClient::new(ClientOptions {
        base_url: api_url,
        auth_headers: auth.headers.clone(),
        timings: ctx.timings,
    });
    let list = orgs::list(&client, "")?;
    let org = match &args.org {
        Some(wanted) => orgs::find(&list, wanted)?.clone(),
        None => match orgs::pick(ctx, &list, "Choose the organization dcd should use")? {
            orgs::Picked::One(o) => o,
            orgs::Picked::Ask(names) => {
                return Err(CliError::new(format!(
                    "You belong to several organizations ({names}): name one, `dcd switch-org <name>`."
                )));
            }
        },
    };
    save_org(ctx, &org)?;
    let lines = account::done(&format!("Switched to {}", org.name), ctx.out.style());
    ctx.out.emit(Event::Report(&lines));
    Ok(Exit::Success)
}

/// Bearer credentials for the stored session, whatever its org.
fn session_auth(cfg: &StoredConfig, session: &crate::auth::config::Session) -> auth::AuthContext {
    let mut a = auth::AuthContext::api_key("");
    a.mode = auth::Mode::Bearer;
    a.headers = vec![(
        "authorization".into(),
        format!("Bearer {}", session.access_token),
    )];
    a.access_token = Some(session.access_token.clone());
    a.refresh_token = session.refresh_token.clone();
    a.expires_at = session.expires_at;
    a.user_email = session.user_email.clone();
    a.user_id = session.user_id.clone();
    a.supabase_url = cfg.supabase_url.clone();
    a.env = cfg
        .env
        .as_deref()
        .and_then(environments::by_name)
        .or_else(|| cfg.api_url.as_deref().map(environments::infer_from_api_url));
    crate::debug::add_secret(&session.access_token);
    a
}

/// Writes the org into `config.json` under the lock, on top of the file as it is now (a
/// refresh made meanwhile is kept).
fn save_org(ctx: &Ctx, org: &crate::api::me::Org) -> Result<(), CliError> {
    auth::check_org_id(&org.id, "The organization id the server sent")?;
    let _lock = store::lock(&ctx.timings)?;
    let mut cfg = match crate::auth::config::load() {
        Loaded::Config(c) => *c,
        _ => return Err(CliError::new("Not logged in. Run `dcd login` first.")),
    };
    cfg.current_org_id = Some(org.id.clone());
    cfg.current_org_name = Some(org.name.clone());
    save(ctx, &cfg)
}

/// Writes the whole config (the caller holds the lock); a file other users can read is a
/// warning.
fn save(ctx: &Ctx, cfg: &StoredConfig) -> Result<(), CliError> {
    let exposed = store::save(cfg).map_err(|e| {
        let path = store::path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        CliError::new(format!("Could not save the session to {path}: {e}"))
    })?;
    if let Some(w) = exposed {
        ctx.out.warn(&w);
    }
    Ok(())
}
