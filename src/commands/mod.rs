//! One module per subcommand, the wait they share, and what every command gets: the output
//! handle, the timers, loading the config, resolving auth and the API client.
//!
//! Dispatch is an exhaustive `match` on [`Command`]: a new command does not compile until
//! it is dispatched.

pub mod account;
pub mod artifacts;
pub mod cloud;
pub mod list;
pub mod post;
pub mod status;
pub mod update;
pub mod upgrade;
pub mod upload;
pub mod wait;

use crate::api::{ApiClient, ClientOptions};
use crate::auth::config::{Loaded, StoredConfig};
use crate::auth::refresh::{self, RefreshError};
use crate::auth::{self, AuthContext};
use crate::cli::args::Connection;
use crate::cli::{Command, Common, Options};
use crate::clock::Timings;
use crate::domain::environments;
use crate::exit::{CliError, Exit};
use crate::output::{Mode, Output};
use crate::term::Caps;

/// What every command gets: the one output handle and the timers.
pub struct Ctx {
    pub out: Output,
    pub timings: Timings,
}

impl Ctx {
    /// Decides the output mode once and reads `DCD_TIME_SCALE` once (a bad value is ignored
    /// with a warning).
    pub fn new(common: &Common) -> Ctx {
        let caps = Caps::detect(common.color);
        let (timings, warning) = Timings::from_scale(std::env::var("DCD_TIME_SCALE").ok());
        let mode = Mode::pick(&caps, common.json);
        let ctx = Ctx {
            out: Output::new(mode, common.quiet, caps, timings),
            timings,
        };
        if let Some(w) = warning {
            ctx.out.warn(&w);
        }
        ctx
    }

    /// `--json`: stdout carries exactly one JSON document.
    pub fn json(&self) -> bool {
        self.out.mode() == Mode::Json
    }
}

/// Runs the command and reports its error, if any. Returns how the process exits.
pub fn run(opts: &Options) -> Exit {
    // Signals are recorded from here on (help and --version need no handler, and start
    // faster without its thread).
    crate::exit::signal::install();
    if opts.common.debug {
        crate::debug::enable();
    }
    // URLs from the environment may carry credentials: registered before anything can echo
    // them, even alone (docs/http-api.md, "Every API request").
    for var in ["DCD_SUPABASE_URL", "DCD_MANIFEST_URL"] {
        if let Ok(url) = std::env::var(var) {
            crate::debug::add_url_secrets(&url);
        }
    }
    let ctx = Ctx::new(&opts.common);
    let result = match &opts.command {
        Command::Cloud(a) => cloud::run(a, &ctx),
        Command::Status(a) => status::run(a, &ctx),
        Command::List(a) => list::run(a, &ctx),
        Command::Artifacts(a) => artifacts::run(a, &ctx),
        Command::Login(a) => account::login::run(a, &ctx),
        Command::Logout => account::logout(&ctx),
        Command::Whoami(a) => account::whoami(a, &ctx),
        Command::SwitchOrg(a) => account::switch_org(a, &ctx),
        Command::Upload(a) => upload::run(a, &ctx),
        Command::Upgrade(a) => upgrade::run(a, &ctx),
    };
    match result {
        Ok(exit) => exit,
        Err(e) => {
            ctx.out.error(&e);
            e.exit
        }
    }
}

/// The stored config, after printing a warning if it exists but is unusable.
pub fn load_config(ctx: &Ctx) -> Option<StoredConfig> {
    match crate::auth::config::load() {
        Loaded::Missing => None,
        Loaded::Config(c) => Some(*c),
        Loaded::Ignored(why) => {
            ctx.out.warn(&why);
            None
        }
    }
}

/// A session that expires within a minute is refreshed before the first request. When the
/// auth server cannot be reached, a token that is still valid is used as it is (the poll
/// refreshes later); when something on this machine is in the way (the lock, a file that
/// could not take the new session), the user is told; an expired token ends the command.
fn fresh_at_start(auth: &mut AuthContext, ctx: &Ctx) -> Result<(), CliError> {
    let now = auth::unix_now();
    let mut warn = |w: String| ctx.out.warn(&w);
    match refresh::refresh_if_expiring(auth, &ctx.timings, auth::unix_now_ms(), &mut warn) {
        Ok(_) => Ok(()),
        Err(RefreshError::Definitive(m)) => Err(CliError::new(m)),
        Err(RefreshError::Stopped(stop)) => Err(stop.into()),
        Err(RefreshError::Transient(m) | RefreshError::Local(m))
            if auth.expires_at.is_some_and(|e| e <= now) =>
        {
            Err(CliError::new(format!(
                "Your dcd session{} expired at {} and could not be refreshed: {m}. Try again, run `dcd login`, or use an API key (--api-key or DEVICE_CLOUD_API_KEY).",
                auth.user_email
                    .as_deref()
                    .map(|e| format!(" for {e}"))
                    .unwrap_or_default(),
                crate::render::time::unix_utc(auth.expires_at.unwrap_or(0))
            )))
        }
        Err(RefreshError::Local(m)) => {
            ctx.out.warn(&format!(
                "Could not refresh the session: {m}. Going on with the current token while it lasts."
            ));
            Ok(())
        }
        Err(RefreshError::Transient(m)) => {
            crate::debug!("Session refresh failed, using the current token meanwhile: {m}");
            Ok(())
        }
    }
}

/// Auth and the API client for a command with `--api-key` / `--api-url`; warns about proxy
/// variables that cannot be used.
pub fn connect(conn: &Connection, ctx: &Ctx) -> Result<(AuthContext, ApiClient), CliError> {
    let stored = load_config(ctx);
    let mut auth = auth::resolve(&auth::Sources {
        flag_api_key: conn.api_key.as_deref(),
        env_api_key: std::env::var("DEVICE_CLOUD_API_KEY").ok(),
        stored: stored.as_ref(),
        now: auth::unix_now(),
    })?;
    fresh_at_start(&mut auth, ctx)?;
    let api_url = environments::resolve_api_url(
        conn.api_url.as_deref(),
        stored.as_ref().and_then(|c| c.api_url.as_deref()),
    );
    if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
        return Err(CliError::new(format!(
            "Invalid API URL \"{}\": it must start with https:// (or http:// for a local server)",
            crate::debug::redact_url(&api_url)
        )));
    }
    crate::debug::add_url_secrets(&api_url);
    for w in crate::net::tls::env_warnings() {
        ctx.out.warn(&w);
    }
    crate::debug!(
        "API {}; auth mode {:?}{}",
        crate::debug::redact_url(&api_url),
        auth.mode,
        auth.org_id
            .as_deref()
            .map(|o| format!(", org {o}"))
            .unwrap_or_default()
    );
    for w in crate::net::proxy::env().warnings() {
        ctx.out.warn(w);
    }
    let client = ApiClient::new(ClientOptions {
        base_url: api_url,
        auth_headers: auth.headers.clone(),
        timings: ctx.timings,
    });
    Ok((auth, client))
}
