//! What the fake saw and sent: upgrade attempts, text frames both ways, joined channels.

use std::time::Duration;

use serde_json::Value;

/// Framing negotiated by the `vsn` query parameter (absent = 1.0.0, like Phoenix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vsn {
    /// `{"topic","event","payload","ref"[,"join_ref"]}` objects; the server never sends
    /// `join_ref`.
    V1,
    /// `[join_ref, ref, topic, event, payload]` arrays.
    V2,
}

/// One upgrade attempt (accepted or not).
#[derive(Clone, Debug)]
pub struct Upgrade {
    /// Path without the query (empty when the request was not a WebSocket upgrade at all).
    pub path: String,
    /// Percent-decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub accepted: bool,
    /// 101 when accepted, else the HTTP status we answered.
    pub status: u16,
    /// Since the fake started.
    pub at: Duration,
    /// The connection number when accepted.
    pub conn: Option<usize>,
}

impl Upgrade {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One text frame, received or sent. A received frame that could not be parsed has an
/// empty `topic` and `event` and a null `payload` (see `raw`).
#[derive(Clone, Debug, PartialEq)]
pub struct RtFrame {
    pub conn: usize,
    pub at: Duration,
    pub join_ref: Option<String>,
    pub ref_: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Value,
    pub raw: String,
}

impl RtFrame {
    pub fn is_malformed(&self) -> bool {
        self.event.is_empty()
    }
}

/// A channel the fake has joined (ok reply sent) and not closed yet.
#[derive(Clone, Debug, PartialEq)]
pub struct RtChannel {
    pub conn: usize,
    /// `realtime:<name>`.
    pub topic: String,
    pub join_ref: String,
    /// The `id` of every binding, in order.
    pub ids: Vec<u64>,
    /// Latest token: from the join payload, then from `access_token` pushes.
    pub token: Option<String>,
}
