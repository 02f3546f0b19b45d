//! The realtime step of the wait: subscribe when it applies — a logged-in user with a token,
//! an org and an environment, realtime not switched off — and never for API keys.

use super::Request;
use crate::auth::{AuthContext, Mode};
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

/// The Supabase project for realtime: `DCD_SUPABASE_URL` > the session's stored
/// `supabase_url` > its environment's; the anon key: `DCD_SUPABASE_ANON_KEY` > the
/// environment's.
fn target(auth: &AuthContext) -> Option<Target> {
    if auth.mode != Mode::Bearer {
        return None;
    }
    let env = auth.env?;
    let env_var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let url = env_var("DCD_SUPABASE_URL")
        .or_else(|| auth.supabase_url.clone())
        .unwrap_or_else(|| env.supabase_url.to_string());
    let anon_key =
        env_var("DCD_SUPABASE_ANON_KEY").unwrap_or_else(|| env.supabase_anon_key.to_string());
    Some(Target {
        url,
        anon_key,
        access_token: auth.access_token.clone()?,
        org_id: auth.org_id.clone()?,
    })
}
