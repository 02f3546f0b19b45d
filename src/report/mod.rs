//! Downloads after a run: the artifacts zip and the test reports (endpoints and messages in
//! docs/http-api.md).
//!
//! Shared by `dcd artifacts` and `dcd cloud` (after the wait, also after a FAILED verdict):
//! [`download_after_run`] downloads what was asked, prints the success lines the TS CLI
//! prints, and turns every failure into warnings — a download never changes the exit code.
//!
//! Artifacts and HTML reports come from a bundle first (`GET …-bundle` gives a signed
//! manifest, `POST <bundleUrl>` without auth headers streams the zip from a CDN worker) and
//! fall back to the inline API endpoint when the bundle route fails in any way (manifest
//! request or answer, bundle URL, bundle POST, a break mid-stream); the fallback writes its
//! own file from scratch. Bodies are streamed to disk ([`file::save`]), never held in memory.

pub mod file;

use crate::api::reports::{BundleOf, ReportFile};
use crate::api::transfer::Download;
use crate::api::{ApiClient, ApiError};
use crate::domain::choice::{DownloadRequest, ReportKind, Which};
use crate::exit::{Stop, signal};
use crate::output::{Event, Output};
use crate::sanitize::clean;
use file::SaveError;
use serde_json::{Value, json};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why a download failed.
#[derive(Debug)]
pub enum DownloadError {
    /// The API refused or could not be reached (worded like every API error).
    Api(ApiError),
    /// A report endpoint's own failure message (`Upload ID '<id>' not found or …` for its
    /// 404, `Failed to download …: <status> <body>` otherwise): `not_found` for the 404.
    Report { message: String, not_found: bool },
    /// The body broke off mid-stream.
    Interrupted { bytes: u64, cause: io::Error },
    /// The file could not be written.
    File { path: PathBuf, cause: io::Error },
}

impl fmt::Display for DownloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownloadError::Api(e) => write!(f, "{e}"),
            DownloadError::Report { message, .. } => f.write_str(message),
            DownloadError::Interrupted { bytes, cause } => write!(
                f,
                "the download broke off after {bytes} bytes: {}",
                crate::debug::redact(&cause.to_string())
            ),
            DownloadError::File { path, cause } => {
                write!(
                    f,
                    "cannot write {}: {cause}",
                    clean(&path.to_string_lossy())
                )
            }
        }
    }
}

impl From<SaveError> for DownloadError {
    fn from(e: SaveError) -> Self {
        match e {
            SaveError::Read { bytes, cause } => DownloadError::Interrupted { bytes, cause },
            SaveError::Write { path, cause } => DownloadError::File { path, cause },
        }
    }
}

impl DownloadError {
    /// The hint of the TS CLI for this failure, if any: nothing found (404), permissions,
    /// or a missing directory.
    fn hint(&self, not_found: &str) -> Option<String> {
        match self {
            DownloadError::Api(e) if e.status() == Some(404) => Some(not_found.to_string()),
            DownloadError::Report {
                not_found: true, ..
            } => Some(not_found.to_string()),
            DownloadError::File { cause, .. } => match cause.kind() {
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => Some(
                    "Permission denied. Check write permissions for the current directory.".into(),
                ),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Some(
                    "Directory does not exist. Make sure you have write access to the current \
                     directory."
                        .into(),
                ),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Downloads what `req` asks for — artifacts first, then the report — printing the success
/// lines and, for each failure, `Failed to download …` plus a hint as warnings. Returns the
/// warnings it printed: failures never change the exit code. A stop (Ctrl-C) abandons the
/// download in flight and removes its partial file.
pub fn download_after_run(
    client: &ApiClient,
    upload_id: &str,
    req: &DownloadRequest,
    out: &Output,
) -> Result<Vec<String>, Stop> {
    let mut warnings = Vec::new();
    let mut warn = |what: &str, hint_404: &str, e: &DownloadError| {
        let mut lines = vec![format!("Failed to download {what}: {e}")];
        lines.extend(e.hint(hint_404));
        for l in lines {
            out.warn(&l);
            warnings.push(l);
        }
    };
    if let Some((which, path)) = &req.artifacts {
        crate::debug!("Downloading artifacts: {}", which.name());
        let dest = file::expand_home(path);
        let (c, id, w, d) = (client.clone(), upload_id.to_string(), *which, dest.clone());
        match interruptible(move || download_artifacts(&c, &id, w, &d))? {
            Ok(n) => {
                crate::debug!("Artifacts: {n} bytes");
                let line = format!(
                    "Test artifacts have been downloaded to {}",
                    clean(&path.to_string_lossy())
                );
                out.emit(Event::Downloaded {
                    line: &line,
                    spaced: true,
                });
            }
            Err(e) => {
                crate::debug!("Error downloading artifacts: {e:?}");
                let hint =
                    "No artifacts found for this upload. Make sure your tests generated results.";
                warn("artifacts", hint, &e);
            }
        }
    }
    if let Some((kind, path)) = &req.report {
        let label = kind.label();
        crate::debug!("Downloading {label} report");
        let cwd = std::env::current_dir().unwrap_or_default();
        let dest = file::absolute(&file::expand_home(path), &cwd);
        let (c, id, k, d) = (client.clone(), upload_id.to_string(), *kind, dest.clone());
        match interruptible(move || download_report(&c, &id, k, &d))? {
            Ok(n) => {
                crate::debug!("{label} report: {n} bytes");
                let line = format!(
                    "{label} test report has been downloaded to {}",
                    clean(&dest.to_string_lossy())
                );
                out.emit(Event::Downloaded {
                    line: &line,
                    spaced: false,
                });
            }
            Err(e) => {
                crate::debug!("Error downloading {label} report: {e:?}");
                let hint = format!(
                    "No {label} reports found for this upload. Make sure your tests generated results."
                );
                warn(&format!("{label} report"), &hint, &e);
            }
        }
    }
    Ok(warnings)
}

/// Runs a download so that a stop returns at once. The abandoned download's temporary file
/// is removed on the way out (the one file writer keeps track of it), so nothing
/// half-written is left behind.
fn interruptible<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Stop> {
    signal::run(work).inspect_err(|_| crate::fsio::remove_leftovers())
}

/// The artifacts zip of an upload into `path` (`~` expanded): bundle first, inline fallback.
/// Returns the bytes written.
pub fn download_artifacts(
    client: &ApiClient,
    upload_id: &str,
    which: Which,
    path: &Path,
) -> Result<u64, DownloadError> {
    const OP: &str = "Failed to download artifacts";
    let dest = file::expand_home(path);
    match via_bundle(
        client,
        OP,
        upload_id,
        BundleOf::Artifacts(which.name()),
        &dest,
    ) {
        Ok(n) => return Ok(n),
        Err(Bundle::Fatal(e)) => return Err(e),
        Err(Bundle::Fallback(why)) => {
            crate::debug!("Artifacts bundle unavailable ({why}); using the inline download")
        }
    }
    let d = client
        .artifacts_inline(OP, upload_id, which.name())
        .map_err(DownloadError::Api)?;
    if !d.is_success() {
        return Err(DownloadError::Api(d.into_error()));
    }
    save(d, &dest)
}

/// A report of an upload into `dest` (already expanded and absolute). HTML reports come
/// from a bundle first.
pub fn download_report(
    client: &ApiClient,
    upload_id: &str,
    kind: ReportKind,
    dest: &Path,
) -> Result<u64, DownloadError> {
    let (file, missing, prefix) = match kind {
        ReportKind::Junit => (ReportFile::Junit, "no results", "Failed to download report"),
        ReportKind::Allure => (
            ReportFile::Allure,
            "no Allure report",
            "Failed to download Allure report",
        ),
        ReportKind::Html | ReportKind::HtmlDetailed => (
            ReportFile::Html,
            "no HTML report",
            "Failed to download HTML report",
        ),
    };
    if file == ReportFile::Html {
        match via_bundle(client, prefix, upload_id, BundleOf::HtmlReport, dest) {
            Ok(n) => return Ok(n),
            Err(Bundle::Fatal(e)) => return Err(e),
            Err(Bundle::Fallback(why)) => {
                crate::debug!("HTML report bundle unavailable ({why}); using the inline download")
            }
        }
    }
    let d = client
        .report_inline(prefix, upload_id, file)
        .map_err(DownloadError::Api)?;
    if d.status == 404 {
        return Err(DownloadError::Report {
            message: format!(
                "Upload ID '{}' not found or {missing} available for this upload",
                clean(upload_id)
            ),
            not_found: true,
        });
    }
    if !d.is_success() {
        return Err(DownloadError::Report {
            message: format!("{prefix}: {}", d.into_status_text()),
            not_found: false,
        });
    }
    save(d, dest)
}

fn save(d: Download, dest: &Path) -> Result<u64, DownloadError> {
    Ok(file::save(d.into_reader(), dest)?)
}

/// How the bundle route failed: fall back to the inline endpoint, or give up (the failure
/// is local, e.g. the file cannot be written, and the fallback would fail the same way).
enum Bundle {
    Fallback(String),
    Fatal(DownloadError),
}

/// The bundle's manifest `{bundleUrl, manifest, sig}`, then `POST <bundleUrl>` with
/// `{manifest, sig}` and no auth headers, streamed into `dest`.
fn via_bundle(
    client: &ApiClient,
    op: &str,
    upload_id: &str,
    of: BundleOf<'_>,
    dest: &Path,
) -> Result<u64, Bundle> {
    let answer = client
        .bundle_manifest(op, upload_id, of)
        .map_err(|e| Bundle::Fallback(format!("manifest: {e}")))?;
    let present = |k: &str| answer.get(k).filter(|v| !v.is_null());
    let (Some(url), Some(manifest), Some(sig)) = (
        present("bundleUrl").and_then(Value::as_str),
        present("manifest"),
        present("sig"),
    ) else {
        return Err(Bundle::Fallback(
            "the manifest answer lacks bundleUrl, manifest or sig".into(),
        ));
    };
    // The signature (and any signed query) is a credential for this bundle.
    if let Some(s) = sig.as_str() {
        crate::debug::add_secret(s);
    }
    if let Some((_, query)) = url.split_once('?') {
        crate::debug::add_secret(query);
    }
    let url = if url.starts_with('/') {
        format!("{}{url}", client.base_url())
    } else {
        url.to_string()
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Bundle::Fallback("the bundle URL is not http(s)".into()));
    }
    let body = json!({"manifest": manifest, "sig": sig});
    let d = client
        .open_external(op, "POST", &url, Some(&body))
        .map_err(|e| Bundle::Fallback(format!("bundle: {e}")))?;
    if !d.is_success() {
        return Err(Bundle::Fallback(format!(
            "the bundle answered {}",
            d.into_status_text()
        )));
    }
    match file::save(d.into_reader(), dest) {
        Ok(n) => Ok(n),
        Err(e @ SaveError::Read { .. }) => Err(Bundle::Fallback(e.to_string())),
        Err(e @ SaveError::Write { .. }) => Err(Bundle::Fatal(e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_selections_follow_the_flag_values() {
        for (s, k, label, path) in [
            ("junit", ReportKind::Junit, "JUNIT", "./report.xml"),
            ("allure", ReportKind::Allure, "ALLURE", "./report.html"),
            ("html", ReportKind::Html, "HTML", "./report.zip"),
            (
                "html-detailed",
                ReportKind::HtmlDetailed,
                "HTML",
                "./report.zip",
            ),
        ] {
            assert_eq!(ReportKind::from_name(s), Some(k));
            assert_eq!((k.label(), k.default_path()), (label, path));
        }
        assert_eq!(ReportKind::from_name("pdf"), None);
        assert_eq!(Which::from_name("FAILED").map(Which::name), Some("FAILED"));
        assert_eq!(Which::from_name("all"), None);
    }

    #[test]
    fn hints_follow_the_failure() {
        let nf = "none found";
        let api = |status| DownloadError::Api(ApiError::from_status("op", status, b"{}", None));
        assert_eq!(api(404).hint(nf).as_deref(), Some(nf));
        assert_eq!(api(500).hint(nf), None);
        let report = DownloadError::Report {
            message: "m".into(),
            not_found: true,
        };
        assert_eq!(report.hint(nf).as_deref(), Some(nf));
        let file = |kind| DownloadError::File {
            path: "/x/y".into(),
            cause: io::Error::from(kind),
        };
        assert!(
            file(io::ErrorKind::PermissionDenied)
                .hint(nf)
                .unwrap()
                .starts_with("Permission denied.")
        );
        assert!(
            file(io::ErrorKind::NotFound)
                .hint(nf)
                .unwrap()
                .starts_with("Directory does not exist.")
        );
        assert_eq!(file(io::ErrorKind::Other).hint(nf), None);
        let cut = DownloadError::Interrupted {
            bytes: 10,
            cause: io::Error::from(io::ErrorKind::ConnectionReset),
        };
        assert_eq!(cut.hint(nf), None);
        assert!(
            cut.to_string()
                .starts_with("the download broke off after 10 bytes")
        );
    }
}
