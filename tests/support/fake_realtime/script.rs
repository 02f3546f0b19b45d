//! What the fake does: how joins are answered, which upgrades are rejected, heartbeat and
//! token behaviour. Change it at runtime with [`FakeRealtime::set`](super::FakeRealtime::set).

use std::time::Duration;

/// How `phx_join` is answered (after [`RtScript::join_errors_first`] is used up).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinBehaviour {
    /// `{"status":"ok","response":{"postgres_changes":[...entries with ids...]}}`.
    Ok,
    /// `{"status":"error","response":{"reason":<this>}}`.
    Error(String),
    /// No reply at all (the client times the join out).
    Withhold,
    /// An ok reply whose entries have a different `filter` (realtime-js reports a
    /// binding mismatch).
    Mismatch,
}

/// What the fake does. Change it at runtime with [`FakeRealtime::set`].
#[derive(Clone, Debug)]
pub struct RtScript {
    pub join: JoinBehaviour,
    /// Answer the next N joins with an error ([`JOIN_ERROR_REASON`]), then behave per
    /// `join`. Counts down as joins arrive; `set` re-arms it.
    pub join_errors_first: usize,
    /// Delay before any join reply (the real server waits ~5 s before error replies).
    pub join_reply_delay: Duration,
    /// After an ok join, send `system` "Subscribed to PostgreSQL" after this delay;
    /// `None` = never.
    pub system_delay: Option<Duration>,
    /// `false` = withhold heartbeat replies.
    pub heartbeat_replies: bool,
    /// Reject the next N upgrade attempts with HTTP 401 `{"error":"Token has expired"}`.
    /// Counts down; `set` re-arms it.
    pub reject_upgrades: usize,
    /// `Some(status)`: reject every upgrade with that status and a JSON error body.
    pub reject_all_upgrades: Option<u16>,
    /// Close with 1000 after this long without inbound data (the real server: 60 s).
    pub idle_timeout: Option<Duration>,
    /// After each ok join, emulate token expiry (system error + `phx_close`) after this.
    pub expire_token_after: Option<Duration>,
    /// `Some(k)`: reject (401) upgrades whose `apikey` differs.
    pub require_apikey: Option<String>,
}

impl Default for RtScript {
    fn default() -> Self {
        RtScript {
            join: JoinBehaviour::Ok,
            join_errors_first: 0,
            join_reply_delay: Duration::ZERO,
            system_delay: Some(Duration::from_millis(50)),
            heartbeat_replies: true,
            reject_upgrades: 0,
            reject_all_upgrades: None,
            idle_timeout: None,
            expire_token_after: None,
            require_apikey: None,
        }
    }
}
