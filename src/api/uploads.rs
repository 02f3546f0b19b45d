//! The uploads resource: listing uploads and asking for one's status.

use super::StatusQuery;
use super::{ApiClient, ApiError, encode_query_component};
use serde_json::Value;

/// The filters of `GET /uploads/list`; only the given ones are sent.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub name: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: u64,
    pub offset: u64,
}

impl ApiClient {
    /// `GET /uploads/status?uploadId=…` or `?name=…` (the most recent upload of that name).
    pub fn upload_status(
        &self,
        q: StatusQuery<'_>,
    ) -> Result<crate::domain::results::UploadStatus, ApiError> {
        const OP: &str = "Fetching upload status";
        let query = match q {
            StatusQuery::UploadId(id) => format!("uploadId={}", encode_query_component(id)),
            StatusQuery::Name(name) => format!("name={}", encode_query_component(name)),
        };
        let body = self.get_json(OP, &format!("/uploads/status?{query}"))?;
        crate::domain::results::UploadStatus::from_value(&body).map_err(|detail| {
            ApiError::BadResponse {
                op: OP.to_string(),
                detail,
            }
        })
    }

    /// `GET /uploads/list?name&from&to&limit&offset`: the body as the API sent it.
    pub fn list_uploads(&self, q: &ListQuery) -> Result<Value, ApiError> {
        let mut query = Vec::new();
        for (k, v) in [("name", &q.name), ("from", &q.from), ("to", &q.to)] {
            if let Some(v) = v {
                query.push(format!("{k}={}", encode_query_component(v)));
            }
        }
        query.push(format!("limit={}", q.limit));
        query.push(format!("offset={}", q.offset));
        self.get_json(
            "Listing uploads",
            &format!("/uploads/list?{}", query.join("&")),
        )
    }
}
