//! `dcd artifacts`: download the artifacts zip or a report of an upload.
//!
//! A thin front to [`crate::report`], which `dcd cloud` uses after its wait too. As in the
//! TypeScript CLI, a failed download is a warning and the exit code stays 0; a usage mistake
//! or missing credentials exit 1.

use super::{Ctx, connect};
use crate::cli::args::ArtifactsArgs;
use crate::exit::{CliError, Exit};
use crate::report;

pub fn run(args: &ArtifactsArgs, ctx: &Ctx) -> Result<Exit, CliError> {
    let (_auth, client) = connect(&args.conn, ctx)?;
    let req = &args.downloads;
    match (req.artifacts.is_some(), req.report.is_some()) {
        (true, true) => {
            return Err(CliError::new(
                "--download-artifacts cannot also be provided when using --report (flags are \
                 mutually exclusive).",
            ));
        }
        (false, false) => {
            return Err(CliError::new(
                "Either --download-artifacts or --report must be specified.",
            ));
        }
        _ => {}
    }
    report::download_after_run(&client, &args.upload_id, req, &ctx.out)?;
    Ok(Exit::Success)
}
