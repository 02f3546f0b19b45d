//! The app binary a run tests: what the user gave, turned into one file to upload and the
//! metadata the server needs.
//!
//! | input | uploaded | platform |
//! |---|---|---|
//! | `x.apk` | the file | android |
//! | `X.app` (a directory) | a temporary zip, every entry under `X.app/` | ios |
//! | `x.zip` (exactly one top-level `*.app`, besides `__MACOSX/` and `.DS_Store`) | the file | ios |
//! | `x.tar.gz` or an `http(s)` URL to one (Expo) | the shallowest `*.app` in it, zipped | ios |
//!
//! The platform is android exactly when the input ends `.apk`. The content type follows the
//! file uploaded: `.apk` → `application/vnd.android.package-archive`, `.zip` →
//! `application/zip`, anything else `application/octet-stream`. Metadata (`appId`) comes
//! from the APK's compiled manifest or the bundle's `Info.plist`; without it the upload
//! cannot go on. Temporary files live in one private directory that goes when the
//! [`PreparedApp`] is dropped, or on the way out of a stopped command.
//!
//! [`check`] does everything up to the metadata (a download and an extraction included, as
//! the TypeScript CLI does before its dry-run step); a bundle is zipped only when it is about
//! to be uploaded ([`CheckedApp::upload_file`]); a dry run makes every check the zip would
//! make without writing it ([`CheckedApp::check_zip`]).

pub mod archive;
pub mod axml;
pub mod expo;
pub mod extract;
pub mod info_plist;
pub mod metadata;

use crate::clock::Timings;
use crate::exit::CliError;
use crate::exit::signal;
use crate::fsio::TempDir;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppPlatform {
    Android,
    Ios,
}

impl AppPlatform {
    pub fn as_str(self) -> &'static str {
        match self {
            AppPlatform::Android => "android",
            AppPlatform::Ios => "ios",
        }
    }
}

/// What the server is told about the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppMetadata {
    pub app_id: String,
    pub platform: AppPlatform,
}

impl AppMetadata {
    /// `{"appId": …, "platform": "android"|"ios"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"appId": self.app_id, "platform": self.platform.as_str()})
    }
}

/// An app ready to upload.
#[derive(Debug)]
pub struct PreparedApp {
    /// The file to upload: the `.apk`/`.zip` itself, or a temporary zip of a bundle.
    pub upload_path: PathBuf,
    /// What the user gave: the path, or the URL without its query (the signature).
    pub original: String,
    pub platform: AppPlatform,
    pub content_type: &'static str,
    pub metadata: AppMetadata,
    /// The entry names of the temporary zip, when one was made.
    #[cfg_attr(not(test), allow(dead_code))]
    pub zip_entries: Vec<String>,
    /// The temporary directory: held only to be removed when this is dropped.
    #[cfg_attr(not(test), allow(dead_code))]
    temp: Option<TempDir>,
}

impl PreparedApp {
    /// The temporary directory holding downloads and zips, if any.
    #[cfg(test)]
    pub fn temp_dir(&self) -> Option<&Path> {
        self.temp.as_ref().map(TempDir::path)
    }
}

/// An app input that passed every check, its metadata read; see [`check`].
#[derive(Debug)]
pub struct CheckedApp(Stage);

#[derive(Debug)]
enum Stage {
    /// The file to upload is known (an `.apk` or `.zip` as it is, or a bundle zipped).
    Ready(PreparedApp),
    /// A bundle directory to zip when it is uploaded.
    Bundle(Bundle),
}

/// A bundle directory not zipped yet.
#[derive(Debug)]
struct Bundle {
    dir: PathBuf,
    original: String,
    metadata: AppMetadata,
    /// The temporary directory the zip goes into, when one exists already (an Expo build's).
    temp: Option<TempDir>,
    /// Extracted files to remove once they are zipped (an Expo build's).
    extracted: Option<PathBuf>,
}

impl Bundle {
    /// Zips the bundle into its temporary directory (made now when there is none yet), then
    /// removes the extracted files it came from, if any: only the zip needs the disk now.
    fn zip(&mut self) -> Result<PreparedApp, CliError> {
        let temp = match self.temp.take() {
            Some(t) => t,
            None => temp_dir()?,
        };
        crate::debug!("zipping {} to upload it", self.original);
        let original = std::mem::take(&mut self.original);
        let prepared = zip_bundle(&self.dir, original, self.metadata.clone(), temp)?;
        if let Some(root) = self.extracted.take() {
            let _ = std::fs::remove_dir_all(root);
        }
        Ok(prepared)
    }
}

impl CheckedApp {
    /// What the user gave: the path, or the URL without its query.
    pub fn original(&self) -> &str {
        match &self.0 {
            Stage::Ready(p) => &p.original,
            Stage::Bundle(b) => &b.original,
        }
    }

    /// The file to upload, a bundle zipped on the first call.
    pub fn upload_file(&mut self) -> Result<&PreparedApp, CliError> {
        if let Stage::Bundle(b) = &mut self.0 {
            self.0 = Stage::Ready(b.zip()?);
        }
        match &self.0 {
            Stage::Ready(p) => Ok(p),
            Stage::Bundle(_) => Err(CliError::new("the app could not be zipped")),
        }
    }

    /// Every check zipping the bundle makes (names, kinds, link targets, each file opened),
    /// without writing the zip: what a dry run does instead of [`upload_file`](Self::upload_file).
    pub fn check_zip(&self) -> Result<(), CliError> {
        let Stage::Bundle(b) = &self.0 else {
            return Ok(());
        };
        let dir = b.dir.clone();
        signal::run(move || archive::check_dir(&dir))?
            .map(|_| ())
            .map_err(|e| zip_failed(&b.original, &e))
    }

    /// The file to upload, a bundle zipped.
    #[cfg(test)]
    pub fn into_prepared(self) -> Result<PreparedApp, CliError> {
        match self.0 {
            Stage::Ready(p) => Ok(p),
            Stage::Bundle(mut b) => b.zip(),
        }
    }

    /// Whether a zip of the bundle exists yet.
    #[cfg(test)]
    pub fn zipped(&self) -> bool {
        matches!(self.0, Stage::Ready(_))
    }

    /// The extracted files of an Expo build still waiting to be zipped.
    #[cfg(test)]
    pub fn extracted_dir(&self) -> Option<&Path> {
        match &self.0 {
            Stage::Bundle(b) => b.extracted.as_deref(),
            Stage::Ready(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Apk,
    AppDir,
    Zip,
    TarGz,
}

/// The kind an input names by its ending (a trailing `/` of a directory ignored).
fn kind_of(input: &str) -> Option<Kind> {
    let name = input.trim_end_matches('/');
    [
        (".apk", Kind::Apk),
        (".app", Kind::AppDir),
        (".zip", Kind::Zip),
        (".tar.gz", Kind::TarGz),
    ]
    .into_iter()
    .find(|(ext, _)| name.ends_with(ext))
    .map(|(_, k)| k)
}

fn is_url(input: &str) -> bool {
    let lower = input.get(..8).unwrap_or(input).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The content type of the file uploaded.
pub fn content_type(upload: &Path) -> &'static str {
    match upload.extension().and_then(|e| e.to_str()) {
        Some("apk") => "application/vnd.android.package-archive",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

const QUOTING_HINT: &str =
    "If the path contains spaces, put it in quotes: dcd cloud \"Builds/My App.app\" flows/";

fn missing(input: &str) -> CliError {
    CliError::new(format!("App file does not exist: {input}\n{QUOTING_HINT}"))
}

fn unsupported(input: &str) -> CliError {
    CliError::new(format!(
        "App file must be a .apk for Android, or a .app directory, a .zip of one or an Expo .tar.gz build for iOS: {input}"
    ))
}

fn zip_failed(original: &str, why: &str) -> CliError {
    CliError::new(format!("Failed to zip {original}: {why}"))
}

fn metadata_failed(original: &str, why: &str) -> CliError {
    CliError::new(format!(
        "Failed to extract metadata from {original}. Supported formats: .apk, .app, .zip\n{why}"
    ))
}

/// [`check`], then the file to upload made at once: the tests' one-step form.
#[cfg(test)]
pub fn prepare(input: &str, timings: &Timings) -> Result<PreparedApp, CliError> {
    check(input, timings)?.into_prepared()
}

/// Checks an app input and reads its metadata, without zipping a bundle (see the module
/// header): a missing path, a wrong kind, a zip without exactly one `.app`, a bundle without
/// an `appId` all fail here.
pub fn check(input: &str, timings: &Timings) -> Result<CheckedApp, CliError> {
    signal::check()?;
    if is_url(input) {
        return from_url(input, timings);
    }
    let path = Path::new(input);
    if !path.exists() {
        return Err(missing(input));
    }
    let kind = kind_of(input);
    if matches!(kind, Some(Kind::Apk | Kind::Zip | Kind::TarGz)) {
        regular_file(path, input)?;
    }
    match kind {
        Some(Kind::Apk) => in_place(path, input, metadata::from_apk),
        Some(Kind::Zip) => {
            archive::single_top_app(path).map_err(CliError::new)?;
            in_place(path, input, metadata::from_zip)
        }
        Some(Kind::AppDir) => {
            if !path.is_dir() {
                return Err(CliError::new(format!(
                    "App file must be a directory when its name ends in .app: {input} is not one.\n{QUOTING_HINT}"
                )));
            }
            bundle(path, input.to_string(), None, None)
        }
        Some(Kind::TarGz) => {
            let temp = temp_dir()?;
            from_tarball(path.to_path_buf(), input.to_string(), temp)
        }
        None => Err(unsupported(input)),
    }
}

/// An `.apk`, `.zip` or `.tar.gz` is a regular file (or a link to one): a FIFO, a device or
/// a directory is refused here, by the one opener that never blocks (`fsio::open_capped`),
/// before anything reads it. Every later read opens it the same way.
fn regular_file(path: &Path, input: &str) -> Result<(), CliError> {
    match crate::fsio::open_capped(path, u64::MAX) {
        Ok(_) => Ok(()),
        Err(crate::fsio::ReadError::NotAFile) => {
            Err(CliError::new(format!("App file is not a file: {input}")))
        }
        Err(e) => Err(CliError::new(format!(
            "Cannot read the app file {input}: {e}"
        ))),
    }
}

fn temp_dir() -> Result<TempDir, CliError> {
    TempDir::new("app")
        .map_err(|e| CliError::new(format!("Cannot create a temporary directory: {e}")))
}

/// An `.apk` or `.zip` uploaded as it is.
fn in_place(
    path: &Path,
    input: &str,
    read: fn(&Path) -> Result<AppMetadata, String>,
) -> Result<CheckedApp, CliError> {
    let metadata = read(path).map_err(|why| metadata_failed(input, &why))?;
    Ok(CheckedApp(Stage::Ready(PreparedApp {
        upload_path: path.to_path_buf(),
        original: input.to_string(),
        platform: platform_of(input),
        content_type: content_type(path),
        metadata,
        zip_entries: Vec::new(),
        temp: None,
    })))
}

fn platform_of(original: &str) -> AppPlatform {
    if original.ends_with(".apk") {
        AppPlatform::Android
    } else {
        AppPlatform::Ios
    }
}

/// A bundle directory checked: its metadata read, its zip left for the upload.
fn bundle(
    dir: &Path,
    original: String,
    temp: Option<TempDir>,
    extracted: Option<PathBuf>,
) -> Result<CheckedApp, CliError> {
    let metadata = metadata::from_app_dir(dir).map_err(|why| metadata_failed(&original, &why))?;
    Ok(CheckedApp(Stage::Bundle(Bundle {
        dir: dir.to_path_buf(),
        original,
        metadata,
        temp,
        extracted,
    })))
}

/// The bundle directory `dir` zipped into `temp` as `<name>.zip`.
fn zip_bundle(
    dir: &Path,
    original: String,
    metadata: AppMetadata,
    temp: TempDir,
) -> Result<PreparedApp, CliError> {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    let out = temp.path().join(format!("{name}.zip"));
    let (d, o) = (dir.to_path_buf(), out.clone());
    let entries =
        signal::run(move || archive::zip_dir(&d, &o))?.map_err(|e| zip_failed(&original, &e))?;
    Ok(PreparedApp {
        content_type: content_type(&out),
        upload_path: out,
        platform: platform_of(&original),
        original,
        metadata,
        zip_entries: entries,
        temp: Some(temp),
    })
}

/// An Expo `.tar.gz`: extracted into `temp`, its shallowest bundle checked (and zipped when
/// it is uploaded).
fn from_tarball(tarball: PathBuf, original: String, temp: TempDir) -> Result<CheckedApp, CliError> {
    let root = temp.path().join("extracted");
    std::fs::create_dir(&root)
        .map_err(|e| CliError::new(format!("Cannot create a temporary directory: {e}")))?;
    let r = root.clone();
    let t = tarball.clone();
    signal::run(move || extract::extract(&t, &r))?
        .map_err(|e| CliError::new(format!("Failed to extract the Expo build {original}: {e}")))?;
    // A downloaded tarball is not needed once extracted (a user's own file stays).
    if tarball.starts_with(temp.path()) {
        let _ = std::fs::remove_file(&tarball);
    }
    let app = expo::shallowest_app(&root).ok_or_else(|| {
        CliError::new(format!(
            "No .app found in the Expo build {original}. Use an iOS simulator build (a .tar.gz holding an .app)."
        ))
    })?;
    bundle(&app, original, Some(temp), Some(root))
}

/// An Expo build by URL: downloaded into a temporary directory, then as a `.tar.gz`.
fn from_url(url: &str, timings: &Timings) -> Result<CheckedApp, CliError> {
    let original = expo::shown_url(url);
    let temp = temp_dir()?;
    let tarball = temp
        .path()
        .join(format!("dcd-expo-{}.tar.gz", unique_hex()));
    expo::download(url, &tarball, timings)?;
    from_tarball(tarball, original, temp)
}

/// 32 hex digits unique enough for a file name inside a private directory.
fn unique_hex() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:016x}{:016x}",
        nanos as u64,
        u64::from(std::process::id()) << 20 ^ (nanos >> 64) as u64
    )
}

#[cfg(test)]
mod tests;
