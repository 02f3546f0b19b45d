//! One module per subcommand, the wait they share, and what every command gets: the output
//! handle, the timers, loading the config, resolving auth and the API client.
//!
//! Dispatch is an exhaustive `match` on [`Command`]: a new command does not compile until
//! it is dispatched.

pub mod artifacts;
pub mod cloud;
pub mod list;
pub mod status;
pub mod update;
pub mod wait;

use crate::api::{ApiClient, ClientOptions};
use crate::auth::config::{Loaded, StoredConfig};
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
    if opts.common.debug {
        crate::debug::enable();
    }
    let ctx = Ctx::new(&opts.common);
    let result = match &opts.command {
        Command::Cloud(a) => cloud::run(a, &ctx),
        Command::Status(a) => status::run(a, &ctx),
        Command::List(a) => list::run(a, &ctx),
        Command::Artifacts(a) => artifacts::run(a, &ctx),
        Command::Upload(_)
        | Command::Login(_)
        | Command::Logout
        | Command::Whoami(_)
        | Command::SwitchOrg(_) => Err(CliError::new(format!(
            "`dcd {}` is not available in this build of dcd yet. The TypeScript CLI (npm install -g @devicecloud.dev/dcd) has it.",
            opts.command.name()
        ))),
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

/// Auth and the API client for a command with `--api-key` / `--api-url`.
pub fn connect(conn: &Connection, ctx: &Ctx) -> Result<(AuthContext, ApiClient), CliError> {
    let stored = load_config(ctx);
    let auth = auth::resolve(&auth::Sources {
        flag_api_key: conn.api_key.as_deref(),
        env_api_key: std::env::var("DEVICE_CLOUD_API_KEY").ok(),
        stored: stored.as_ref(),
        now: auth::unix_now(),
    })?;
    let api_url = environments::resolve_api_url(
        conn.api_url.as_deref(),
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
