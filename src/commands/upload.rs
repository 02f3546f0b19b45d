//! `dcd upload`: the app step of `dcd cloud` on its own. The app is checked, made into the
//! file to upload (a bundle zipped), hashed, deduplicated unless `--ignore-sha-check`, stored
//! and finalised; the binary id is printed for `dcd cloud --app-binary-id`, or with `--json`
//! exactly `{"appBinaryId": "<id>"}`.

use super::Ctx;
use super::cloud::app;
use crate::cli::args::UploadArgs;
use crate::exit::{CliError, Exit};
use crate::output::Event;
use crate::render::upload::{upload_complete, uploading_section};
use serde_json::json;

pub fn run(args: &UploadArgs, ctx: &Ctx) -> Result<Exit, CliError> {
    if args.encrypt == Some(true) {
        return Err(
            "--encrypt (client-side encryption) is not available in this build of dcd".into(),
        );
    }
    let (_auth, client) = super::connect(&args.conn, ctx)?;
    let input = args
        .app_url
        .clone()
        .or_else(|| args.app_file.clone())
        .ok_or("You must provide an app file path or a signed Expo URL via --app-url")?;
    let mut checked = app::check_input(ctx, input)?;
    let s = ctx.out.style();
    ctx.out
        .emit(Event::Report(&uploading_section(checked.original(), s)));
    let id = app::upload(ctx, &client, checked.upload_file()?, args.ignore_sha_check)?;
    if ctx.json() {
        ctx.out.json(&json!({"appBinaryId": id}));
    } else {
        ctx.out.emit(Event::Report(&upload_complete(&id, s)));
    }
    Ok(Exit::Success)
}
