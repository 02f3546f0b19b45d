//! The HTTP upgrade: decided (and recorded) inside tungstenite's handshake, accepted or
//! rejected with the real server's statuses and JSON bodies.

use crossbeam_channel::Receiver;
use serde_json::json;
use tungstenite::handshake::server::{ErrorResponse, Request};

use super::super::url::parse_query;
use super::records::{Upgrade, Vsn};
use super::{ConnEntry, Envelope, Shared};

pub(super) enum Decision {
    Accept(usize, Vsn, Receiver<Envelope>),
    Reject,
}

/// Decide on an upgrade request; records it. Runs inside tungstenite's handshake.
pub(super) fn decide(shared: &Shared, req: &Request) -> (Decision, Result<(), (u16, String)>) {
    let path = req.uri().path().to_string();
    let query = parse_query(req.uri().query().unwrap_or(""));
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let apikey = headers
        .iter()
        .find(|(k, _)| k == "x-api-key")
        .map(|(_, v)| v.clone())
        .or_else(|| param("apikey"));
    let vsn = match param("vsn").as_deref() {
        None | Some("1.0.0") => Some(Vsn::V1),
        Some("2.0.0") => Some(Vsn::V2),
        Some(_) => None,
    };

    let mut st = shared.lock();
    let verdict: Result<(), (u16, String)> = if let Some(status) = st.script.reject_all_upgrades {
        Err((status, rejection_text(status).to_string()))
    } else if st.script.reject_upgrades > 0 {
        st.script.reject_upgrades -= 1;
        Err((401, "Token has expired".to_string()))
    } else if !path.ends_with("/websocket") {
        Err((404, "Not found".to_string()))
    } else if apikey.as_deref().is_none_or(str::is_empty) {
        Err((401, "API key is missing".to_string()))
    } else if st
        .script
        .require_apikey
        .as_ref()
        .is_some_and(|k| Some(k) != apikey.as_ref())
    {
        Err((401, "The token provided is not a valid JWT".to_string()))
    } else if vsn.is_none() {
        Err((400, "Unsupported serializer version".to_string()))
    } else {
        Ok(())
    };
    let at = shared.now();
    match verdict {
        Ok(()) => {
            let id = st.conns.len();
            let (tx, rx) = crossbeam_channel::unbounded();
            st.conns.push(ConnEntry { id, open: true, tx });
            st.upgrades.push(Upgrade {
                path,
                query,
                headers,
                accepted: true,
                status: 101,
                at,
                conn: Some(id),
            });
            (Decision::Accept(id, vsn.unwrap_or(Vsn::V1), rx), Ok(()))
        }
        Err((status, text)) => {
            st.upgrades.push(Upgrade {
                path,
                query,
                headers,
                accepted: false,
                status,
                at,
                conn: None,
            });
            (Decision::Reject, Err((status, text)))
        }
    }
}

fn rejection_text(status: u16) -> &'static str {
    match status {
        401 => "Token has expired",
        403 => "Realtime was disabled for this tenant",
        404 => "Tenant not found",
        429 => "Too many connected users",
        500 => "Error connecting to Realtime",
        _ => "Error",
    }
}

pub(super) fn error_response(status: u16, text: &str) -> ErrorResponse {
    let body = json!({ "error": text }).to_string();
    let status = tungstenite::http::StatusCode::from_u16(status)
        .unwrap_or(tungstenite::http::StatusCode::BAD_REQUEST);
    let mut resp = ErrorResponse::new(Some(body.clone()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        tungstenite::http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Ok(v) = tungstenite::http::HeaderValue::from_str(&body.len().to_string()) {
        h.insert("content-length", v);
    }
    h.insert(
        "connection",
        tungstenite::http::HeaderValue::from_static("close"),
    );
    resp
}
