//! The app step of `dcd cloud`, which `dcd upload` reuses: which binary the run uses. With
//! `--app-binary-id` that id; otherwise the app is checked early (where the TypeScript CLI
//! checks it, before the devices), and made into the file to upload (a bundle zipped) only
//! after the dry-run step, then uploaded: hashed, deduplicated
//! by SHA-256 unless `--ignore-sha-check`, stored (Backblaze when offered, TUS always, both
//! streamed from disk) and finalised. Everything before the finalising POST may be cut off
//! by a signal at once; that POST is finished first, as it may have reached the server.

use crate::api::{ApiClient, ApiError};
use crate::app::{self as app_input, CheckedApp, PreparedApp};
use crate::cli::args::{CloudArgs, Inputs};
use crate::commands::Ctx;
use crate::exit::{CliError, Stop, signal};
use crate::output::Event;
use crate::output::event::Direction;
use crate::upload::source::Target;
use crate::upload::{UploadSlot, binary};
use std::path::Path;

/// The binary the run uses.
pub enum App {
    /// Uploaded before (`--app-binary-id`).
    Id(String),
    /// A file to upload once the run is going ahead.
    File(Box<CheckedApp>),
}

/// Checked before the devices and the plan, where the TypeScript CLI checks the app file.
pub fn check(args: &CloudArgs, inputs: &Inputs, ctx: &Ctx) -> Result<App, CliError> {
    if let Some(id) = &args.app.app_binary_id {
        return Ok(App::Id(id.clone()));
    }
    let input = inputs
        .app
        .clone()
        .ok_or("You must provide an app file path or a signed Expo URL via --app-url")?;
    check_input(ctx, input).map(|a| App::File(Box::new(a)))
}

/// Checks an app input and reads its metadata (a download may take a while: a stop ends it
/// at once); the file to upload is made later, by [`CheckedApp::upload_file`].
pub fn check_input(ctx: &Ctx, input: String) -> Result<CheckedApp, CliError> {
    let t = ctx.timings;
    signal::run(move || app_input::check(&input, &t))?
}

/// The "app" row of the job block: `binary id <id>`, or the file (never a signed URL).
pub fn label(app: &App) -> String {
    match app {
        App::Id(id) => format!("binary id {id}"),
        App::File(a) => a.original().to_string(),
    }
}

/// A dry run's stand-in for [`binary_id`]: every check making the file to upload makes (a
/// bundle's entries), with nothing written or sent.
pub fn dry_check(app: &App) -> Result<(), CliError> {
    match app {
        App::Id(_) => Ok(()),
        App::File(a) => a.check_zip(),
    }
}

/// The binary id for the payload: the given one, or the uploaded (or deduplicated) file's.
pub fn binary_id(
    ctx: &Ctx,
    client: &ApiClient,
    app: &mut App,
    ignore_sha_check: bool,
) -> Result<String, CliError> {
    match app {
        App::Id(id) => Ok(id.clone()),
        // Zipping a bundle runs on a worker a signal cuts off (`app::zip_bundle`).
        App::File(a) => {
            let prepared = a.upload_file()?;
            upload(ctx, client, prepared, ignore_sha_check)
        }
    }
}

/// Hash → dedup → slot → store → finalise; the binary id.
pub fn upload(
    ctx: &Ctx,
    client: &ApiClient,
    app: &PreparedApp,
    ignore_sha_check: bool,
) -> Result<String, CliError> {
    let path = app.upload_path.clone();
    let sha = match signal::run(move || binary::sha256_file(&path))? {
        Ok(sha) => Some(sha),
        Err(e) => {
            ctx.out.warn(&format!(
                "Could not hash the app ({e}); uploading it without the duplicate check"
            ));
            None
        }
    };
    if let Some(sha) = sha.clone().filter(|_| !ignore_sha_check)
        && let Some(id) = existing(ctx, client, sha)?
    {
        ctx.out.emit(Event::Note(&format!(
            "SHA hash matches existing binary with ID: {id}, skipping upload. Force upload with --ignore-sha-check"
        )));
        return Ok(id);
    }
    let slot = slot(client, app)?;
    let stored = store(ctx, client, app, &slot)?;
    let body = binary::finalise_body(&stored, sha.as_deref(), app.metadata.to_json());
    let c = client.clone();
    let (result, held) = crate::commands::post::run_to_end(
        ctx,
        "Finishing the upload: it may already have reached the server. dcd exits as soon as it answers.",
        move || c.finalise_upload(&body),
    );
    if let Err(e) = result {
        return Err(with_held(CliError::new(e.to_string()), held));
    }
    if let Some(stop) = held {
        let hint = format!("The binary was uploaded with ID: {}", slot.id);
        return Err(CliError::stopped(stop, Some(&hint)));
    }
    let s = ctx.out.style();
    ctx.out.emit(Event::Report(&[
        s.green(&format!("✓ Binary uploaded with ID: {}", slot.id))
    ]));
    Ok(slot.id)
}

/// The dedup check: a known binary's id. 401/403 end the command; any other failure is a
/// warning and the upload goes ahead.
fn existing(ctx: &Ctx, client: &ApiClient, sha: String) -> Result<Option<String>, CliError> {
    let c = client.clone();
    match signal::run(move || c.existing_binary(&sha))? {
        Ok(id) => Ok(id),
        Err(e) if matches!(e.status(), Some(401 | 403)) => Err(CliError::new(e.to_string())),
        Err(e) => {
            ctx.out.warn(&format!(
                "Could not check for an existing binary ({}); uploading it",
                short(&e)
            ));
            Ok(None)
        }
    }
}

fn short(e: &ApiError) -> String {
    crate::sanitize::one_line(&e.to_string(), 200)
}

/// `getBinaryUploadUrl`: where the file goes (android iff the original ends `.apk`).
fn slot(client: &ApiClient, app: &PreparedApp) -> Result<UploadSlot, CliError> {
    let size = binary::file_size(&app.upload_path)?;
    let platform = app.platform.as_str();
    let c = client.clone();
    let v = signal::run(move || c.binary_upload_url(platform, size))?
        .map_err(|e| CliError::new(e.to_string()))?;
    UploadSlot::from_value(&v).map_err(CliError::new)
}

/// Stores the file off the main thread, its progress shown as it goes.
fn store(
    ctx: &Ctx,
    client: &ApiClient,
    app: &PreparedApp,
    slot: &UploadSlot,
) -> Result<crate::upload::Stored, CliError> {
    let (c, s, t) = (client.clone(), slot.clone(), ctx.timings);
    let (path, content_type) = (app.upload_path.clone(), app.content_type);
    let name = display_name(&app.upload_path);
    signal::run_reporting(
        move |tx| {
            let report = move |target: Target, sent: u64, total: u64| {
                let _ = tx.send((target, sent, total));
            };
            binary::store_file(&c, &s, &path, content_type, &t, &report)
        },
        |(target, sent, total)| {
            let what = format!("{name} ({})", target.name());
            ctx.out.emit(Event::Transfer {
                direction: Direction::Up,
                what: &what,
                done: sent,
                total,
            });
        },
    )?
}

/// The file name shown while uploading (never the input, which may be a signed URL).
fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| crate::sanitize::one_line(&n.to_string_lossy(), 80))
        .unwrap_or_else(|| "app".to_string())
}

/// A failure while a stop was held still exits with the stop's code.
fn with_held(e: CliError, held: Option<Stop>) -> CliError {
    match held {
        Some(stop) => CliError {
            message: format!("{} (interrupted by {})", e.message, stop.name()),
            ..CliError::stopped(stop, None)
        },
        None => e,
    }
}
