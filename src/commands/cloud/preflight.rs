//! Step 1 of `dcd cloud`: the banner, the update check started in the background, the flags
//! this build refuses, credentials and the API client, and the `dcd login` tip for API-key
//! users on a terminal.

use crate::api::ApiClient;
use crate::auth::{AuthContext, Mode};
use crate::cli::args::CloudArgs;
use crate::commands::update::UpdateCheck;
use crate::commands::{Ctx, connect};
use crate::exit::CliError;
use crate::output::Event;

const TIP: &str =
    "Tip: run `dcd login` for live test updates and a smoother experience than passing --api-key.";

/// Who we are talking to, as whom.
pub struct Connected {
    pub auth: AuthContext,
    pub client: ApiClient,
    /// Answers in the background; the later steps print its notice.
    pub update: UpdateCheck,
}

pub fn run(args: &CloudArgs, ctx: &Ctx) -> Result<Connected, CliError> {
    let out = &ctx.out;
    out.emit(Event::Note(&format!("dcd v{}", env!("CARGO_PKG_VERSION"))));
    if args.json_file_given() {
        out.emit(Event::Note(
            "JSON output will be written to file (--json-file)",
        ));
    }
    let update = UpdateCheck::start(ctx);
    if args.moropo_v1_api_key.is_some() {
        return Err("--moropo-v1-api-key is not available in this build of dcd yet".into());
    }
    if args.app.encrypt == Some(true) {
        return Err(
            "--encrypt (client-side encryption) is not available in this build of dcd".into(),
        );
    }
    let (auth, client) = connect(&args.conn, ctx)?;
    if auth.mode == Mode::ApiKey && out.human() && !out.quiet() && out.caps().interactive {
        out.emit(Event::Note(TIP));
    }
    update.notify(ctx);
    Ok(Connected {
        auth,
        client,
        update,
    })
}
