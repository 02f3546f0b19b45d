//! Downloads (docs/http-api.md, "Endpoints used by this build"): artifacts and HTML reports through signed bundle URLs (which
//! must never see credentials) or inline, JUnit and Allure reports; bodies generated in
//! chunks, optionally cut or stalled part-way.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::io::{self, Write};

use serde_json::{Value, json};

use super::http::{Action, Request, Response};
use super::scenario::Scenario;
use super::{Shared, json_body};

/// What a download endpoint serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Download {
    /// `POST <bundleUrl>` of the artifacts bundle, for `ALL` or `FAILED`.
    ArtifactsBundle(String),
    /// `POST /results/{id}/download` for `ALL` or `FAILED`.
    ArtifactsInline(String),
    /// `POST <bundleUrl>` of the HTML report bundle.
    HtmlBundle,
    /// `GET /results/{id}/html-report`.
    HtmlInline,
    /// `GET /results/{id}/report`.
    Junit,
    /// `GET /allure/{id}/download`.
    Allure,
}

pub(super) enum Body {
    Bytes(Vec<u8>),
    Generated(Payload),
}

pub(super) fn download_body(s: &Scenario, d: &Download) -> Body {
    let id = &s.upload_id;
    match d {
        Download::ArtifactsBundle(w) => Body::Generated(Payload::new(
            &format!("artifacts bundle results={w}"),
            id,
            s.artifacts_bytes,
        )),
        Download::ArtifactsInline(w) => Body::Generated(Payload::new(
            &format!("artifacts inline results={w}"),
            id,
            s.artifacts_bytes,
        )),
        Download::HtmlBundle => Body::Generated(Payload::new(
            "html report bundle",
            id,
            s.html_report_bytes,
        )),
        Download::HtmlInline => Body::Generated(Payload::new(
            "html report inline",
            id,
            s.html_report_bytes,
        )),
        Download::Junit => Body::Bytes(
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                 <testsuites name=\"{id}\" tests=\"2\" failures=\"0\">\n\
                 <testsuite name=\"devicecloud\" tests=\"2\" failures=\"0\" time=\"24.0\">\n\
                 <testcase name=\"login\" classname=\"flows\" time=\"12.0\"/>\n\
                 <testcase name=\"search\" classname=\"flows\" time=\"12.0\"/>\n\
                 </testsuite>\n</testsuites>\n"
            )
            .into_bytes(),
        ),
        Download::Allure => Body::Bytes(
            format!("<!DOCTYPE html><html><head><title>Allure {id}</title></head><body>allure</body></html>\n")
                .into_bytes(),
        ),
    }
}

/// A deterministic download body generated in chunks: a short text header (so a test can
/// tell which endpoint produced a file), then a repeating byte pattern seeded by the label.
#[derive(Clone, Debug)]
pub struct Payload {
    header: Vec<u8>,
    seed: u8,
    len: u64,
}

const PATTERN_CYCLE: usize = 251;
const STREAM_CHUNK: usize = 64 * 1024;

impl Payload {
    pub fn new(label: &str, upload_id: &str, len: u64) -> Payload {
        let mut h = DefaultHasher::new();
        h.write(label.as_bytes());
        Payload {
            header: format!("PK\u{3}\u{4} dcd fake {label} upload={upload_id}\n").into_bytes(),
            seed: h.finish() as u8,
            len,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Writes the first `limit` bytes (at most the whole payload), in 64 KiB chunks.
    pub fn write_to(&self, w: &mut impl Write, limit: u64) -> io::Result<()> {
        let end = limit.min(self.len);
        let head = (self.header.len() as u64).min(end);
        w.write_all(&self.header[..head as usize])?;
        let mut pos = head;
        if pos >= end {
            return Ok(());
        }
        let cycle: Vec<u8> = (0..PATTERN_CYCLE + STREAM_CHUNK)
            .map(|k| ((k % PATTERN_CYCLE) as u8).wrapping_add(self.seed))
            .collect();
        while pos < end {
            let n = usize::try_from(end - pos)
                .unwrap_or(STREAM_CHUNK)
                .min(STREAM_CHUNK);
            let start = (pos % PATTERN_CYCLE as u64) as usize;
            w.write_all(&cycle[start..start + n])?;
            pos += n as u64;
        }
        Ok(())
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        let _ = self.write_to(&mut v, u64::MAX);
        v
    }
}

fn stream(shared: &Shared, req: &Request, d: &Download, content_type: &'static str) -> Action {
    let fault = shared
        .scenario
        .stream_faults
        .iter()
        .find(|(p, _)| req.path.starts_with(p.as_str()))
        .map(|(_, f)| *f);
    match download_body(&shared.scenario, d) {
        Body::Generated(payload) => Action::Stream {
            status: 200,
            content_type,
            payload,
            fault,
        },
        Body::Bytes(body) => Action::Answer(Response {
            status: 200,
            content_type,
            headers: Vec::new(),
            body,
        }),
    }
}

/// The bundle signature: a keyed hash of the manifest in canonical (sorted-key) form.
fn sign(manifest: &Value) -> String {
    fn canonical(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let inner: Vec<String> = keys
                    .iter()
                    .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&m[*k])))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
            Value::Array(a) => format!(
                "[{}]",
                a.iter().map(canonical).collect::<Vec<_>>().join(",")
            ),
            other => other.to_string(),
        }
    }
    let mut h = DefaultHasher::new();
    h.write(b"fake-bundle-secret:");
    h.write(canonical(manifest).as_bytes());
    format!("sig-{:016x}", h.finish())
}

fn manifest_answer(shared: &Shared, token: &str, manifest: Value) -> Response {
    let sig = sign(&manifest);
    Response::json(
        200,
        &json!({
            "bundleUrl": format!("{}/bundle/{token}", shared.base),
            "manifest": manifest,
            "sig": sig,
        }),
    )
}

pub(super) fn artifacts_manifest(shared: &Shared, req: &Request, id: &str) -> Response {
    let s = &shared.scenario;
    if !s.bundles_deployed {
        return Response::nest(501, "Not Implemented");
    }
    if id != s.upload_id || s.artifacts_missing {
        return Response::nest(404, &format!("No artifacts found for upload {id}"));
    }
    let which = req
        .query
        .iter()
        .find(|(k, _)| k == "results")
        .map(|(_, v)| v.as_str());
    let Some(which @ ("ALL" | "FAILED")) = which else {
        return Response::nest(400, "results must be ALL or FAILED");
    };
    manifest_answer(
        shared,
        &format!("artifacts-{which}"),
        json!({"uploadId": id, "kind": "artifacts", "results": which, "files": 3, "exp": 4_102_444_800_u64}),
    )
}

pub(super) fn html_manifest(shared: &Shared, id: &str) -> Response {
    let s = &shared.scenario;
    if !s.bundles_deployed {
        return Response::nest(501, "Not Implemented");
    }
    if id != s.upload_id || s.reports_missing {
        return Response::nest(404, &format!("No HTML report for upload {id}"));
    }
    manifest_answer(
        shared,
        "html",
        json!({"uploadId": id, "kind": "html-report", "exp": 4_102_444_800_u64}),
    )
}

pub(super) fn bundle_post(shared: &Shared, req: &Request, token: &str) -> Action {
    // Bundle URLs live on a CDN worker: credentials must never be sent there.
    if [
        "authorization",
        "x-app-api-key",
        "x-dcd-org",
        "apikey",
        "cookie",
    ]
    .iter()
    .any(|h| req.header(h).is_some())
    {
        return Action::Answer(Response::json(
            401,
            &json!({"message": "Bundle requests must not carry credentials"}),
        ));
    }
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return Action::Answer(r),
    };
    let (Some(manifest), Some(sig)) = (
        body.get("manifest"),
        body.get("sig").and_then(Value::as_str),
    ) else {
        return Action::Answer(Response::nest(400, "manifest and sig are required"));
    };
    if sign(manifest) != sig {
        return Action::Answer(Response::nest(403, "Bad signature"));
    }
    let d = match token {
        "artifacts-ALL" => Download::ArtifactsBundle("ALL".into()),
        "artifacts-FAILED" => Download::ArtifactsBundle("FAILED".into()),
        "html" => Download::HtmlBundle,
        _ => return Action::Answer(Response::nest(404, "Unknown bundle")),
    };
    stream(shared, req, &d, "application/zip")
}

pub(super) fn artifacts_inline(shared: &Shared, req: &Request, id: &str) -> Action {
    let s = &shared.scenario;
    if id != s.upload_id || s.artifacts_missing {
        return Action::Answer(Response::nest(
            404,
            &format!("No artifacts found for upload {id}"),
        ));
    }
    let which = json_body(req)
        .ok()
        .and_then(|b| b.get("results").and_then(Value::as_str).map(str::to_string));
    match which.as_deref() {
        Some(w @ ("ALL" | "FAILED")) => stream(
            shared,
            req,
            &Download::ArtifactsInline(w.to_string()),
            "application/zip",
        ),
        _ => Action::Answer(Response::nest(400, "results must be ALL or FAILED")),
    }
}

pub(super) fn report(shared: &Shared, req: &Request, id: &str, d: Download) -> Action {
    let s = &shared.scenario;
    if id != s.upload_id || s.reports_missing {
        return Action::Answer(Response::nest(404, &format!("No report for upload {id}")));
    }
    let content_type = match d {
        Download::Junit => "application/xml",
        Download::Allure => "text/html; charset=utf-8",
        _ => "application/zip",
    };
    stream(shared, req, &d, content_type)
}
