//! `dcd artifacts`: download the artifacts zip or a report of an upload (spec A.6).
//!
//! A thin front to [`crate::report`], which `dcd cloud` uses after its wait too. As in the
//! TS CLI, a failed download is a warning and the exit code stays 0; a usage mistake or
//! missing credentials exit 1.

use super::{Ctx, connect};
use crate::cli::Parsed;
use crate::exit::{CliError, Exit};
use crate::report::{self, DownloadRequest, TermSink};

pub fn run(p: &Parsed, ctx: &Ctx) -> Result<Exit, CliError> {
    // `--upload-id` is required (citty checks that before anything else).
    let upload_id = p
        .str("upload-id")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            CliError::new(
                "Missing required flag --upload-id: the upload to download from (`dcd list` \
                 shows recent uploads)",
            )
        })?;
    let (_auth, client) = connect(p, ctx)?;
    let req = DownloadRequest::from_flags(p);
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
    let mut sink = TermSink {
        caps: ctx.caps,
        json: false,
    };
    report::download_after_run(&client, upload_id, &req, &mut sink);
    Ok(Exit::Success)
}
