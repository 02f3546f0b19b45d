//! Method and path to handler: the whole API surface of the fake in one table.

use super::artifacts::{
    Download, artifacts_inline, artifacts_manifest, bundle_post, html_manifest, report,
};
use super::compat::compat;
use super::http::{Action, Request, Response};
use super::list::list_uploads;
use super::results::{results, upload_status};
use super::storage::{TUS_PATH, b2_part, b2_s3, b2_simple, tus_create, tus_upload};
use super::submit::{estimate_matrix, submit_json, submit_multipart};
use super::uploads::{check_existing, finalise, finish_large_file, upload_url};
use super::{Shared, percent_decode};

pub(super) enum Route {
    Results(String),
    Status,
    Compat,
    CheckExisting,
    UploadUrl(&'static str),
    Finalise,
    FinishLargeFile,
    SubmitJson,
    SubmitMultipart,
    Estimate,
    List,
    ArtifactsBundle(String),
    ArtifactsInline(String),
    Junit(String),
    HtmlBundle(String),
    HtmlInline(String),
    Allure(String),
    // Not the API: no API auth, rules of their own.
    BundlePost(String),
    TusCreate,
    TusUpload(String),
    B2Simple,
    B2S3(String),
    B2Part(String),
    // Accounts: auth rules of their own.
    Claim,
    MyOrgs,
    Token,
    /// `GET /files/<name>`: a file of the scenario's, no auth.
    File(String),
    Other,
}

impl Route {
    /// Served by the API (checked against the scenario's key or bearer token).
    pub(super) fn is_api(&self) -> bool {
        !matches!(
            self,
            Route::BundlePost(_)
                | Route::TusCreate
                | Route::TusUpload(_)
                | Route::B2Simple
                | Route::B2S3(_)
                | Route::B2Part(_)
                | Route::Claim
                | Route::MyOrgs
                | Route::Token
                | Route::File(_)
        )
    }
}

pub(super) fn route(req: &Request) -> Route {
    let path = req.path.trim_end_matches('/');
    let m = req.method.as_str();
    // `/results/{id}/<what>` and `/allure/{id}/download`.
    let sub = |prefix: &str, what: &str| -> Option<String> {
        let rest = path.strip_prefix(prefix)?;
        let (id, tail) = rest.split_once('/')?;
        (tail == what && !id.is_empty()).then(|| percent_decode(id, false))
    };
    match (m, path) {
        ("GET", "/uploads/status") => return Route::Status,
        ("GET", "/results/compatibility/data") => return Route::Compat,
        ("GET", "/uploads/list") => return Route::List,
        ("POST", "/uploads/checkForExistingUpload") => return Route::CheckExisting,
        ("POST", "/uploads/getBinaryUploadUrl") => return Route::UploadUrl("binary"),
        ("POST", "/uploads/getFlowUploadUrl") => return Route::UploadUrl("flow"),
        ("POST", "/uploads/finaliseUpload") => return Route::Finalise,
        ("POST", "/uploads/finishLargeFile") => return Route::FinishLargeFile,
        ("POST", "/uploads/submitFlowTest") => return Route::SubmitJson,
        ("POST", "/uploads/flow") => return Route::SubmitMultipart,
        ("POST", "/uploads/estimateMatrix") => return Route::Estimate,
        ("POST", TUS_PATH) => return Route::TusCreate,
        ("POST", "/b2/upload/simple") => return Route::B2Simple,
        ("POST", "/cli-login/claim") => return Route::Claim,
        ("GET", "/me/orgs") => return Route::MyOrgs,
        ("POST", "/auth/v1/token") => return Route::Token,
        _ => {}
    }
    if let Some(id) = path
        .strip_prefix(TUS_PATH)
        .and_then(|r| r.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/') && matches!(m, "HEAD" | "PATCH"))
    {
        return Route::TusUpload(id.to_string());
    }
    if m == "PUT"
        && let Some(name) = path.strip_prefix("/b2/s3/").filter(|n| !n.is_empty())
    {
        return Route::B2S3(percent_decode(name, false));
    }
    if m == "POST" {
        if let Some(file_id) = path
            .strip_prefix("/b2/upload/part/")
            .filter(|f| !f.is_empty() && !f.contains('/'))
        {
            return Route::B2Part(percent_decode(file_id, false));
        }
        if let Some(token) = path
            .strip_prefix("/bundle/")
            .filter(|t| !t.is_empty() && !t.contains('/'))
        {
            return Route::BundlePost(token.to_string());
        }
        if let Some(id) = sub("/results/", "download") {
            return Route::ArtifactsInline(id);
        }
    }
    if m == "GET" {
        if let Some(name) = path.strip_prefix("/files/").filter(|n| !n.is_empty()) {
            return Route::File(percent_decode(name, false));
        }
        type Make = fn(String) -> Route;
        let subroutes: [(&str, &str, Make); 5] = [
            ("/results/", "artifacts-bundle", Route::ArtifactsBundle),
            ("/results/", "report", Route::Junit),
            ("/results/", "report-bundle", Route::HtmlBundle),
            ("/results/", "html-report", Route::HtmlInline),
            ("/allure/", "download", Route::Allure),
        ];
        for (prefix, what, make) in subroutes {
            if let Some(id) = sub(prefix, what) {
                return make(id);
            }
        }
        if let Some(id) = path.strip_prefix("/results/")
            && !id.is_empty()
            && !id.contains('/')
        {
            return Route::Results(percent_decode(id, false));
        }
    }
    Route::Other
}

pub(super) fn dispatch(shared: &Shared, req: &Request, route: Route) -> Action {
    let answer = Action::Answer;
    match route {
        Route::Results(id) => answer(results(shared, req, &id)),
        Route::Status => answer(upload_status(shared, req)),
        Route::Compat => answer(compat(shared)),
        Route::CheckExisting => answer(check_existing(shared, req)),
        Route::UploadUrl(kind) => answer(upload_url(shared, req, kind)),
        Route::Finalise => answer(finalise(shared, req)),
        Route::FinishLargeFile => answer(finish_large_file(shared, req)),
        Route::SubmitJson => answer(submit_json(shared, req)),
        Route::SubmitMultipart => answer(submit_multipart(shared, req)),
        Route::Estimate => answer(estimate_matrix(shared, req)),
        Route::List => answer(list_uploads(shared, req)),
        Route::ArtifactsBundle(id) => answer(artifacts_manifest(shared, req, &id)),
        Route::ArtifactsInline(id) => artifacts_inline(shared, req, &id),
        Route::Junit(id) => report(shared, req, &id, Download::Junit),
        Route::HtmlBundle(id) => answer(html_manifest(shared, &id)),
        Route::HtmlInline(id) => report(shared, req, &id, Download::HtmlInline),
        Route::Allure(id) => report(shared, req, &id, Download::Allure),
        Route::BundlePost(token) => bundle_post(shared, req, &token),
        Route::TusCreate => answer(tus_create(shared, req)),
        Route::TusUpload(id) => answer(tus_upload(shared, req, &id)),
        Route::B2Simple => answer(b2_simple(shared, req)),
        Route::B2S3(name) => answer(b2_s3(shared, req, &name)),
        Route::B2Part(file_id) => answer(b2_part(shared, req, &file_id)),
        Route::Claim => answer(super::account::claim(shared, req)),
        Route::MyOrgs => answer(super::account::my_orgs(shared, req)),
        Route::Token => answer(super::account::token(shared, req)),
        Route::File(name) => answer(served_file(shared, &name)),
        Route::Other => answer(Response::nest(
            404,
            &format!("Cannot {} {}", req.method, req.path),
        )),
    }
}

/// A file of the scenario's, as it is; 404 for another name.
fn served_file(shared: &Shared, name: &str) -> Response {
    match shared.scenario.files.iter().find(|(n, _)| n == name) {
        Some((_, bytes)) => Response {
            status: 200,
            content_type: "application/octet-stream",
            headers: Vec::new(),
            body: bytes.clone(),
        },
        None => Response::nest(404, &format!("No file {name}")),
    }
}
