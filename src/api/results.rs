//! The results resource: the poll of a run's rows, with ETag revalidation.

use super::{ApiClient, ApiError, EtagCache, encode_query_component};

impl ApiClient {
    /// `GET /results/{id}?view=summary`, revalidated against the cached ETag: a 304 reuses
    /// the cached rows (docs/wait.md, "ETag revalidation").
    pub fn results_summary(
        &self,
        upload_id: &str,
        cache: &mut EtagCache,
    ) -> Result<Vec<crate::domain::results::ResultRow>, ApiError> {
        const OP: &str = "Fetching results";
        let path = format!(
            "/results/{}?view=summary",
            encode_query_component(upload_id)
        );
        let reply = match cache.etag() {
            Some(etag) => self.get(
                OP,
                &path,
                &[("if-none-match", etag), ("cache-control", "max-age=0")],
            )?,
            None => self.get(OP, &path, &[])?,
        };
        if reply.status == 304 {
            if let Some((_, rows)) = &cache.cached {
                crate::debug!(
                    "Poll not modified (304), reusing {} cached results",
                    rows.len()
                );
                return Ok(rows.clone());
            }
            cache.clear();
            return Err(Self::status_error(OP, &reply));
        }
        if !(200..300).contains(&reply.status) {
            return Err(Self::status_error(OP, &reply));
        }
        // Only a non-empty result set with an ETag is cached; anything else clears the cache.
        cache.clear();
        let body = Self::parse_json(OP, &reply)?;
        let rows = crate::domain::results::parse_results(&body).map_err(|detail| {
            ApiError::BadResponse {
                op: OP.to_string(),
                detail,
            }
        })?;
        if rows.is_empty() {
            return Err(ApiError::Empty { op: OP.to_string() });
        }
        if let Some(etag) = reply.header("etag") {
            cache.cached = Some((etag.to_string(), rows.clone()));
        }
        Ok(rows)
    }
}
