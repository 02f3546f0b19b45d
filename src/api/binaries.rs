//! The app binary resource: dedup by SHA-256, a storage slot for a binary, and finalising
//! the stored binary. Each is a POST sent once: none is retried here.

use super::{ApiClient, ApiError};
use serde_json::{Value, json};

impl ApiClient {
    /// `POST /uploads/checkForExistingUpload {sha}`: the id of a binary with these bytes,
    /// when the API knows one (`exists` true and a non-empty `appBinaryId`).
    pub fn existing_binary(&self, sha: &str) -> Result<Option<String>, ApiError> {
        let v: Value = self.post_json(
            "Checking for an existing binary",
            "/uploads/checkForExistingUpload",
            &json!({"sha": sha}),
        )?;
        let exists = v.get("exists").and_then(Value::as_bool) == Some(true);
        Ok(v.get("appBinaryId")
            .and_then(|id| crate::domain::results::str_field(Some(id)))
            .filter(|id| exists && !id.trim().is_empty()))
    }

    /// `POST /uploads/getBinaryUploadUrl {platform, fileSize}`: where to store the binary.
    pub fn binary_upload_url(&self, platform: &str, size: u64) -> Result<Value, ApiError> {
        self.post_json(
            "Requesting a binary upload URL",
            "/uploads/getBinaryUploadUrl",
            &json!({"platform": platform, "fileSize": size}),
        )
    }

    /// `POST /uploads/finaliseUpload`: the stored binary becomes usable under its id.
    pub fn finalise_upload(&self, body: &Value) -> Result<Value, ApiError> {
        self.post_json("Finalising the upload", "/uploads/finaliseUpload", body)
    }
}
