//! `GET /results/compatibility/data`: the devices, OS versions, Maestro versions and notices
//! the server offers, sent with who is asking (CLI version, CI provider).

use super::{ApiClient, ApiError};
use crate::domain::compat::CompatData;

/// Who is asking: sent as `x-dcd-cli-version`, `x-dcd-ci-provider`, `x-dcd-ci-wrapper-version`.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub cli_version: String,
    pub ci_provider: Option<String>,
    pub ci_wrapper_version: Option<String>,
}

impl ApiClient {
    /// `GET /results/compatibility/data` with the identity headers (CLI version; CI provider
    /// and wrapper version when known).
    pub fn compatibility_data(&self, id: &Identity) -> Result<CompatData, ApiError> {
        let op = "Fetching device compatibility data";
        let mut extra: Vec<(&str, &str)> = vec![
            ("content-type", "application/json"),
            ("x-dcd-cli-version", &id.cli_version),
        ];
        if let Some(p) = &id.ci_provider {
            extra.push(("x-dcd-ci-provider", p));
        }
        if let Some(w) = &id.ci_wrapper_version {
            extra.push(("x-dcd-ci-wrapper-version", w));
        }
        let reply = self.request("GET", op, "/results/compatibility/data", &extra, None)?;
        if !(200..300).contains(&reply.status) {
            return Err(Self::status_error(op, &reply));
        }
        let v = Self::parse_json(op, &reply)?;
        CompatData::from_envelope(&v).map_err(|detail| ApiError::BadResponse {
            op: op.into(),
            detail,
        })
    }
}
