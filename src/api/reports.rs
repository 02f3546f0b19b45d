//! The reports and artifacts resource: the signed bundle manifests and the inline downloads
//! they fall back to. Every path of it is spelled here.

use super::transfer::Download;
use super::{ApiClient, ApiError, encode_query_component};
use serde_json::{Value, json};

/// Which inline report download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFile {
    /// `GET /results/{id}/report`
    Junit,
    /// `GET /allure/{id}/download`
    Allure,
    /// `GET /results/{id}/html-report` (a zip of report.html and its assets)
    Html,
}

/// Which manifest: the artifacts zip (all tests or only the failed ones) or the HTML report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleOf<'a> {
    /// `GET /results/{id}/artifacts-bundle?results=ALL|FAILED`
    Artifacts(&'a str),
    /// `GET /results/{id}/report-bundle`
    HtmlReport,
}

impl ApiClient {
    /// The signed manifest `{bundleUrl, manifest, sig}` of a bundle.
    pub fn bundle_manifest(
        &self,
        op: &str,
        upload_id: &str,
        of: BundleOf<'_>,
    ) -> Result<Value, ApiError> {
        let id = encode_query_component(upload_id);
        let path = match of {
            BundleOf::Artifacts(which) => {
                format!(
                    "/results/{id}/artifacts-bundle?results={}",
                    encode_query_component(which)
                )
            }
            BundleOf::HtmlReport => format!("/results/{id}/report-bundle"),
        };
        self.get_json(op, &path)
    }

    /// `POST /results/{id}/download {"results": ALL|FAILED}`: the artifacts zip, streamed.
    pub fn artifacts_inline(
        &self,
        op: &str,
        upload_id: &str,
        which: &str,
    ) -> Result<Download, ApiError> {
        let id = encode_query_component(upload_id);
        self.open_download(
            op,
            "POST",
            &format!("/results/{id}/download"),
            Some(&json!({ "results": which })),
        )
    }

    /// A report file, streamed.
    pub fn report_inline(
        &self,
        op: &str,
        upload_id: &str,
        file: ReportFile,
    ) -> Result<Download, ApiError> {
        let id = encode_query_component(upload_id);
        let path = match file {
            ReportFile::Junit => format!("/results/{id}/report"),
            ReportFile::Allure => format!("/allure/{id}/download"),
            ReportFile::Html => format!("/results/{id}/html-report"),
        };
        self.open_download(op, "GET", &path, None)
    }
}
