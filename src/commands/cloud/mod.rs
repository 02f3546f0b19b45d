//! `dcd cloud`: plan the flows, submit the run, wait, download the results — as a list of
//! steps, one file each, in the order the TypeScript CLI runs them so errors surface at the
//! same point: preflight (flags, credentials) → compatibility data and devices → the plan
//! (and `--dry-run`) → the app → the submission → `--async`, or the wait and the downloads.
//! Between the steps the update check, running in the background, may print its notice; by
//! the wait (or the end) it has answered or is dropped.

pub mod app;
mod devices;
pub mod payload;
mod planning;
mod preflight;
mod results;
mod submit;

use super::Ctx;
use crate::cli::args::CloudArgs;
use crate::exit::{CliError, Exit, signal};

pub fn run(args: &CloudArgs, ctx: &Ctx) -> Result<Exit, CliError> {
    let conn = preflight::run(args, ctx)?;
    let mut checked = devices::check(args, ctx, &conn)?;
    conn.update.notify(ctx);
    let planned = planning::plan(args, ctx, &checked)?;
    if args.dry_run {
        conn.update.give_up(ctx);
        app::dry_check(&checked.app)?;
        return planning::dry_run(ctx, &planned);
    }
    conn.update.notify(ctx);
    signal::check()?;
    let binary_id = app::binary_id(
        ctx,
        &conn.client,
        &mut checked.app,
        args.app.ignore_sha_check,
    )?;
    signal::check()?;
    let run = submit::submit(args, ctx, &conn, &checked, &planned, &binary_id)?;
    conn.update.give_up(ctx);
    if args.async_ {
        return results::pending(args, ctx, &run, &checked, &planned);
    }
    results::wait_and_download(args, ctx, &conn, &run, &checked, &planned)
}
