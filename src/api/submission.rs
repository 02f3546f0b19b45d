//! The submission resource: storage slots for the flow zip, finishing a large Backblaze
//! file, the device-matrix estimate, and starting the run (JSON, or the legacy multipart
//! form). None of these POSTs is retried: each may already have reached the server.

use super::{ApiClient, ApiError};
use crate::domain::results::Created;
use serde_json::{Map, Value, json};

impl ApiClient {
    /// `POST /uploads/getFlowUploadUrl`: where to store a flow zip of `size` bytes.
    pub fn flow_upload_url(&self, size: u64) -> Result<Value, ApiError> {
        self.post_json(
            "Requesting a flow upload URL",
            "/uploads/getFlowUploadUrl",
            &json!({"fileSize": size, "useTus": true}),
        )
    }

    /// `POST /uploads/finishLargeFile` with the SHA-1 of every part, in order.
    pub fn finish_large_file(
        &self,
        file_id: &str,
        part_sha1s: &[String],
    ) -> Result<Value, ApiError> {
        self.post_json(
            "Finishing the Backblaze upload",
            "/uploads/finishLargeFile",
            &json!({"fileId": file_id, "partSha1Array": part_sha1s}),
        )
    }

    /// `POST /uploads/estimateMatrix`: `None` when the API does not have it (404/405), so
    /// the caller can refuse a matrix it cannot honour.
    pub fn estimate_matrix(&self, fields: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
        match self.post_json(
            "Estimating the device matrix",
            "/uploads/estimateMatrix",
            fields,
        ) {
            Ok(v) => Ok(Some(v)),
            Err(e) if matches!(e.status(), Some(404 | 405)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /uploads/submitFlowTest`: the payload plus where the zip was stored.
    pub fn submit_flow_test(&self, body: &Map<String, Value>) -> Result<Created, ApiError> {
        self.post_json("Submitting the flows", "/uploads/submitFlowTest", body)
    }

    /// `POST /uploads/flow`: the legacy multipart submission (the zip is in the body).
    pub fn submit_multipart(&self, content_type: &str, body: &[u8]) -> Result<Created, ApiError> {
        self.post_bytes("Submitting the flows", "/uploads/flow", content_type, body)
    }
}
