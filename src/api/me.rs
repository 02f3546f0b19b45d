//! The login resource: claiming the session the web console handed off, and the user's
//! organizations. Neither needs an org header; the claim needs no auth at all.

use super::{ApiClient, ApiError};
use crate::domain::results::str_field;
use serde_json::{Value, json};

/// One organization the user belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub slug: Option<String>,
}

/// What one claim attempt answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The session (`access_token`, `refresh_token`, `expires_at`, `user_email`, `user_id`).
    Session(Value),
    /// 404: not handed off yet.
    NotYet,
    /// 429: poll more slowly.
    SlowDown,
    /// Any other status, or a 2xx that is not JSON: the login failed (`<status> <reason> —
    /// <body>`, or what answered instead of the API).
    Failed(String),
}

impl ApiClient {
    /// `POST /cli-login/claim {state, code_verifier}` (the client should carry no auth).
    pub fn claim_login(&self, state: &str, code_verifier: &str) -> Result<Claim, ApiError> {
        const OP: &str = "Claiming the login";
        let body = json!({ "state": state, "code_verifier": code_verifier }).to_string();
        let reply = self.request(
            "POST",
            OP,
            "/cli-login/claim",
            &[],
            Some(("application/json", body.as_bytes())),
        )?;
        Ok(match reply.status {
            // Not the API's answer (a captive portal's or a proxy's page): asking again would
            // not change it, so the login ends, naming it.
            200..=299 => match Self::parse_json(OP, &reply) {
                Ok(v) => Claim::Session(v),
                Err(e) => Claim::Failed(format!(
                    "{e} (a captive portal or a proxy may be answering instead of the API)"
                )),
            },
            404 => Claim::NotYet,
            429 => Claim::SlowDown,
            status => {
                let reason = ureq::http::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                let text = crate::sanitize::one_line(&String::from_utf8_lossy(&reply.body), 300);
                Claim::Failed(format!("{status} {reason} — {text}"))
            }
        })
    }

    /// `GET /me/orgs`: the organizations of the user whose bearer token the client sends.
    pub fn my_orgs(&self) -> Result<Vec<Org>, ApiError> {
        const OP: &str = "Fetching your organizations";
        let v = self.get_json(OP, "/me/orgs")?;
        let list =
            v.get("orgs")
                .and_then(Value::as_array)
                .ok_or_else(|| ApiError::BadResponse {
                    op: OP.into(),
                    detail: "no orgs list".into(),
                })?;
        Ok(list
            .iter()
            .filter_map(|o| {
                Some(Org {
                    id: str_field(o.get("id"))?,
                    name: str_field(o.get("name")).unwrap_or_default(),
                    slug: str_field(o.get("slug")),
                })
            })
            .collect())
    }
}
