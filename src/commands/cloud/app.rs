//! The app step of `dcd cloud`: which binary the run uses. This build runs an uploaded
//! binary by id (`--app-binary-id`); uploading a file is refused, early, with what to do.

use crate::cli::args::{CloudArgs, Inputs};
use crate::exit::CliError;

/// Checked before the devices and the plan, where the TypeScript CLI checks the app file.
pub fn check(args: &CloudArgs, inputs: &Inputs) -> Result<(), CliError> {
    if args.app.app_binary_id.is_some() {
        return Ok(());
    }
    let what = inputs
        .app
        .as_deref()
        .filter(|_| args.app.app_url.is_none())
        .map(|a| format!(" ({a})"))
        .unwrap_or_default();
    Err(CliError::new(format!(
        "Uploading an app binary{what} is not available in this build of dcd yet. Upload it with `dcd upload` from the TypeScript CLI and pass --app-binary-id <id>."
    )))
}

/// The binary id the run uses.
pub fn binary_id(args: &CloudArgs) -> String {
    args.app.app_binary_id.clone().unwrap_or_default()
}
