//! The realtime step of the wait: subscribe when it applies — a logged-in user with a token,
//! an org and an environment, realtime not switched off — and never for API keys.

use super::Request;
use crate::auth::AuthContext;
use crate::commands::Ctx;
use crate::realtime::{Realtime, Target};
use crossbeam_channel::Sender;

/// Starts the subscription, or `None` (the poll carries the run alone).
pub fn start(
    ctx: &Ctx,
    auth: &AuthContext,
    req: &Request<'_>,
    pokes: Sender<()>,
) -> Option<Realtime> {
    if !req.wait.realtime || crate::realtime::disabled_by_env() {
        return None;
    }
    let target = target(auth)?;
    let r = Realtime::start(target, req.upload_id, ctx.timings, pokes)?;
    crate::debug!(
        "Realtime enabled; backstop poll every {}s",
        ctx.timings.unscale(ctx.timings.backstop_bearer).as_secs()
    );
    Some(r)
}

/// What to subscribe with: the session's Supabase project, token and org.
fn target(auth: &AuthContext) -> Option<Target> {
    let (url, anon_key) = crate::auth::supabase_project(auth)?;
    Some(Target {
        url,
        anon_key,
        access_token: auth.access_token.clone()?,
        org_id: auth.org_id.clone()?,
    })
}
