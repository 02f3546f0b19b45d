//! One file per subcommand, and what they share: loading the config, resolving auth and the
//! API URL, building the API client, and reporting errors the same way everywhere.

pub mod artifacts;
pub mod cloud;
pub mod list;
pub mod status;
pub mod wait;

use crate::api::{ApiClient, ClientOptions};
use crate::auth::config::{Loaded, StoredConfig};
use crate::auth::{self, AuthContext};
use crate::domain::environments;
use crate::cli::Parsed;
use crate::clock::Timings;
use crate::exit::{CliError, Exit};
use crate::term::{Caps, ColorChoice};

/// What every command gets: the terminal, the timers, and the output mode.
pub struct Ctx {
    pub caps: Caps,
    pub timings: Timings,
    /// `--json`: stdout carries exactly one JSON document.
    pub json: bool,
}

impl Ctx {
    pub fn new(p: &Parsed) -> Ctx {
        let color = if p.command().flag("color").is_some() {
            ColorChoice::parse(p.str("color"))
        } else {
            ColorChoice::Auto
        };
        Ctx {
            caps: Caps::detect(color),
            timings: Timings::from_env(),
            json: has(p, "json") && p.flag("json"),
        }
    }

    pub fn warn(&self, msg: &str) {
        crate::term::warn(msg, self.caps.err);
    }
}

/// Whether the command defines the flag `name` (getters panic on unknown names).
pub fn has(p: &Parsed, name: &str) -> bool {
    p.command().flag(name).is_some()
}

/// Runs the parsed command.
pub fn run(p: &Parsed) -> Result<Exit, CliError> {
    let ctx = Ctx::new(p);
    let cmd = p.command();
    if !cmd.available {
        return Err(CliError::new(format!(
            "`dcd {}` is not available in this build of dcd yet. The TypeScript CLI (npm install -g @devicecloud.dev/dcd) has it.",
            cmd.name
        )));
    }
    match cmd.name {
        "cloud" => cloud::run(p, &ctx),
        "status" => status::run(p, &ctx),
        "list" => list::run(p, &ctx),
        "artifacts" => artifacts::run(p, &ctx),
        other => Err(CliError::new(format!("`dcd {other}` is not available yet"))),
    }
}

/// The stored config, after printing a warning if it exists but is unusable.
pub fn load_config(ctx: &Ctx) -> Option<StoredConfig> {
    match crate::auth::config::load() {
        Loaded::Missing => None,
        Loaded::Config(c) => Some(*c),
        Loaded::Ignored(why) => {
            ctx.warn(&why);
            None
        }
    }
}

/// Auth and the API client for a command with `--api-key` / `--api-url`.
pub fn connect(p: &Parsed, ctx: &Ctx) -> Result<(AuthContext, ApiClient), CliError> {
    let stored = load_config(ctx);
    let auth = auth::resolve(&auth::Sources {
        flag_api_key: p.str("api-key"),
        env_api_key: std::env::var("DEVICE_CLOUD_API_KEY").ok(),
        stored: stored.as_ref(),
        now: auth::unix_now(),
    })?;
    let api_url = environments::resolve_api_url(
        p.str("api-url"),
        stored.as_ref().and_then(|c| c.api_url.as_deref()),
    );
    if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
        return Err(CliError::new(format!(
            "Invalid API URL \"{api_url}\": it must start with https:// (or http:// for a local server)"
        )));
    }
    crate::debug!(
        "API {api_url}; auth mode {:?}{}",
        auth.mode,
        auth.org_id
            .as_deref()
            .map(|o| format!(", org {o}"))
            .unwrap_or_default()
    );
    let client = ApiClient::new(ClientOptions {
        base_url: api_url,
        auth_headers: auth.headers.clone(),
        timings: ctx.timings,
    });
    Ok((auth, client))
}
