//! A POST that may reach the server is run to its end, even through a signal: a stop that
//! arrives meanwhile is announced and handed back, never acted on mid-request. Sending it
//! once and waiting for its answer is what keeps it from being sent twice.

use super::Ctx;
use crate::exit::{Stop, signal};

/// Runs `post` on its own thread to its end. A stop recorded while it runs prints
/// `warning` and is returned beside the result, for the caller to exit with.
pub fn run_to_end<T: Send + 'static>(
    ctx: &Ctx,
    warning: &str,
    post: impl FnOnce() -> T + Send + 'static,
) -> (T, Option<Stop>) {
    signal::hold(post, || ctx.out.warn(warning)).expect("the posting thread answers")
}
