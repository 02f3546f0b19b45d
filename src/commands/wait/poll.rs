//! The polling step of the wait, around the loop in `crate::poll`: the backstop period for
//! the auth mode, `--timeout`, the fetch (interruptible, with the ETag cache), and the loop's
//! failures in words.

use super::Request;
use crate::api::{ApiClient, ApiError, EtagCache, NetKind};
use crate::auth::refresh::{self, RefreshError};
use crate::auth::{AuthContext, Mode};
use crate::clock::Timings;
use crate::commands::Ctx;
use crate::domain::results::ResultRow;
use crate::exit::{CliError, signal};
use crate::net::diagnose;
use crate::output::Event;
use crate::poll::{self, Fetch, Inputs, Pace, PollError, WaitError};
use crate::realtime::Realtime;
use crate::render::{self, diagnosis};
use crossbeam_channel::{Receiver, Sender};
use std::time::Duration;

/// Polls until every row is terminal; returns that snapshot (every row, retries included).
pub fn run(
    ctx: &Ctx,
    auth: &AuthContext,
    client: &ApiClient,
    req: &Request<'_>,
    pokes: &Receiver<()>,
    subscription: Option<&Realtime>,
) -> Result<(Vec<ResultRow>, AuthContext), CliError> {
    let t = ctx.timings;
    let interval = match auth.mode {
        Mode::Bearer => t.backstop_bearer,
        Mode::ApiKey => t.backstop_api_key,
    };
    let pace = Pace {
        interval,
        timings: t,
        timeout: req.wait.timeout.map(|d| d.mul_f64(t.scale)),
    };
    crate::debug!(
        "Watching upload {}: poll every {:.1}s{}",
        req.upload_id,
        interval.as_secs_f64(),
        pace.timeout
            .map(|d| format!(", timeout {:.1}s", d.as_secs_f64()))
            .unwrap_or_default()
    );
    ctx.out.emit(Event::WaitStarted {
        realtime: subscription.map(Realtime::connected),
    });
    let (asks, answers) = fetch_thread(client.clone(), req.upload_id.to_string());
    let mut fetcher = ResultsFetcher {
        client: client.clone(),
        asks,
        answers,
        auth: auth.clone(),
        timings: t,
        subscription,
        warnings: Vec::new(),
    };
    let input = Inputs {
        fetcher: &mut fetcher,
        clock: ctx.out.clock(),
        pokes,
        stops: signal::stops(),
        stopped: &signal::pending,
    };
    let waited = {
        let mut sink = ctx.out.sink();
        poll::until_done(&pace, input, sink.as_mut())
    };
    // What the refreshes had to say, once the wait's frame is gone (a warning cannot be
    // printed while the wait drives the sink).
    for w in &fetcher.warnings {
        ctx.out.warn(w);
    }
    let auth = fetcher.auth;
    waited.map(|rows| (rows, auth)).map_err(|e| {
        ctx.out.emit(Event::WaitAborted);
        wait_error(e, client, ctx, &super::reattach_hint(req.upload_id))
    })
}

/// Why the wait ended early, with how to re-attach.
fn wait_error(e: WaitError<ApiError>, client: &ApiClient, ctx: &Ctx, hint: &str) -> CliError {
    match e {
        WaitError::TimedOut { after } => CliError::new(format!(
            "Timed out after {} waiting for results (--timeout). {hint}",
            render::time::elapsed(ctx.timings.unscale(after).as_secs())
        )),
        WaitError::Fatal(e) => CliError::new(format!("{e}\n{hint}")),
        WaitError::Stopped(stop) => CliError::stopped(stop, Some(hint)),
        WaitError::GaveUp { last, failures } => {
            let d = diagnose::diagnose(client.base_url(), &ctx.timings);
            let mut msg = format!("Unable to fetch results after {failures} attempts: {last}");
            diagnosis::append(&mut msg, &d);
            msg.push('\n');
            msg.push_str(hint);
            CliError::new(msg)
        }
    }
}

/// The poll's fetch: `GET /results/{id}?view=summary` on the wait's fetch thread
/// ([`fetch_thread`]); a login session is refreshed first when it expires within a minute,
/// and the new token goes to the client (which the fetch thread's copy shares) and the
/// realtime channel.
struct ResultsFetcher<'a> {
    client: ApiClient,
    /// One ask, one fetch, one answer.
    asks: Sender<()>,
    answers: Receiver<Result<Vec<ResultRow>, ApiError>>,
    auth: AuthContext,
    timings: Timings,
    subscription: Option<&'a Realtime>,
    /// Warnings of the refreshes (each once), printed when the wait ends.
    warnings: Vec<String>,
}

impl ResultsFetcher<'_> {
    /// A refusal ends the wait (only `dcd login` helps); an unreachable auth server is a
    /// failed poll, retried with the backoff while the current token lasts.
    fn keep_fresh(&mut self) -> Result<(), ApiError> {
        const OP: &str = "Refreshing the session";
        let mut said = Vec::new();
        let refreshed = refresh::refresh_if_expiring(
            &mut self.auth,
            &self.timings,
            crate::auth::unix_now_ms(),
            &mut |w| said.push(w),
        );
        let valid = self
            .auth
            .expires_at
            .is_some_and(|e| refresh::expires_ms(e) > crate::auth::unix_now_ms());
        let result = match refreshed {
            Ok(false) => Ok(()),
            Ok(true) => {
                self.client.set_auth_headers(self.auth.headers.clone());
                if let (Some(rt), Some(token)) = (self.subscription, &self.auth.access_token) {
                    rt.update_access_token(token);
                }
                Ok(())
            }
            Err(RefreshError::Definitive(message)) => Err(ApiError::SessionDead {
                op: OP.into(),
                message,
            }),
            // Something on this machine is in the way: say so once, and poll with the
            // current token while it works.
            Err(RefreshError::Local(m)) if valid => {
                said.push(format!(
                    "Could not refresh the session: {m}. Polling went on with the current token."
                ));
                Ok(())
            }
            // The auth server is unreachable: while the current token still works, poll
            // with it (the next poll tries the refresh again); an expired one fails the poll.
            Err(RefreshError::Transient(detail)) if valid => {
                crate::debug!("Session refresh failed, polling with the current token: {detail}");
                Ok(())
            }
            // The loop sees the stop right after this and ends the wait.
            Err(e) => Err(ApiError::Network {
                op: OP.into(),
                host: "the auth server".into(),
                kind: NetKind::Other,
                detail: e.to_string(),
            }),
        };
        for w in said {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        result
    }
}

impl Fetch for ResultsFetcher<'_> {
    type Error = ApiError;

    fn fetch(&mut self) -> Result<Vec<ResultRow>, ApiError> {
        self.keep_fresh()?;
        let answer = match self.asks.send(()) {
            Ok(()) => signal::recv(&self.answers),
            Err(_) => Ok(None),
        };
        let detail = match answer {
            Ok(Some(rows)) => return rows,
            // Only a fetch that panicked (in tests: the shipped build aborts) ends the thread.
            Ok(None) => "the fetch ended without an answer".to_string(),
            // The loop sees the stop right after this and ends the wait.
            Err(stop) => format!("stopped by {}", stop.name()),
        };
        Err(ApiError::Network {
            op: "Fetching results".into(),
            host: String::new(),
            kind: NetKind::Other,
            detail,
        })
    }
}

/// Starts the wait's fetch thread: for each ask, one `GET /results` with the wait's ETag
/// cache, its answer sent back; it ends when the wait drops its end of the channels. One
/// thread for the whole wait, not one per poll (a wait polls for hours, and a thread's start
/// and end cost more CPU than the poll itself); the wait receives the answers through
/// `exit::signal::recv`, so a stop never waits for a slow answer.
fn fetch_thread(
    client: ApiClient,
    upload_id: String,
) -> (Sender<()>, Receiver<Result<Vec<ResultRow>, ApiError>>) {
    let (asks, asked) = crossbeam_channel::bounded::<()>(1);
    let (answer, answers) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let mut cache = EtagCache::default();
        for () in asked {
            if answer
                .send(client.results_summary(&upload_id, &mut cache))
                .is_err()
            {
                return;
            }
        }
    });
    (asks, answers)
}

/// What the loop asks of a failed fetch, answered by the API error.
impl PollError for ApiError {
    fn is_transient(&self) -> bool {
        ApiError::is_transient(self)
    }
    fn status(&self) -> Option<u16> {
        ApiError::status(self)
    }
    fn retry_after(&self) -> Option<Duration> {
        ApiError::retry_after(self)
    }
}
