//! `dcd upgrade`: this binary replaced by a release from the download host (docs/install.md).
//!
//! Steps: which version (the `--version` pin, else the latest of the channel this build is on:
//! beta for a pre-release) → `--check` stops here → whether this binary may replace its own
//! file (not one a package manager installed; a directory it can write) → the release's
//! `SHA256SUMS` line for this platform's asset → the asset streamed into a temporary file
//! beside the binary, hashed on the way → the hash compared → the file renamed over the
//! binary. Until that rename nothing of the binary changes: a failure or a stop removes the
//! temporary file (the one file writer's own cleanup) and says the binary was left as it was.

use super::Ctx;
use crate::api::release::Releases;
use crate::cli::args::UpgradeArgs;
use crate::domain::update::{self, Installed};
use crate::exit::{CliError, Exit, signal};
use crate::fsio::AtomicFile;
use crate::output::Event;
use crate::output::event::Direction;
use serde_json::json;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The largest release binary taken (they are about 3 MB).
const MAX_BINARY: u64 = 64 << 20;

/// How every failure ends: what went wrong, and that the binary is as it was.
fn unchanged(why: impl std::fmt::Display) -> CliError {
    CliError::new(format!("{why}. dcd was not changed."))
}

pub fn run(args: &UpgradeArgs, ctx: &Ctx) -> Result<Exit, CliError> {
    let current = env!("CARGO_PKG_VERSION");
    let base = update::download_base(std::env::var("DCD_DOWNLOAD_BASE").ok().as_deref());
    let wanted = match &args.version {
        Some(v) => v.clone(),
        None => latest(ctx, &base, current)?,
    };
    let differs = match &args.version {
        Some(v) => v != current,
        None => update::newer(current, &wanted).is_some(),
    };
    if args.check {
        return report_check(ctx, current, &wanted, differs);
    }
    if !differs {
        return already(ctx, current);
    }
    let asset = update::asset(std::env::consts::OS, std::env::consts::ARCH)
        .ok_or_else(|| unchanged("No release binary is built for this platform"))?;
    let exe = this_binary()?;
    if let Installed::Managed(how) = update::installed(&exe.to_string_lossy()) {
        return Err(CliError::new(format!(
            "This dcd ({}) was installed by a package manager: {how}.",
            exe.display()
        )));
    }
    ctx.out
        .emit(Event::Info(&format!("Upgrading dcd {current} → {wanted}")));
    ctx.out
        .emit(Event::Note(&update::download_url(&base, &wanted, &asset)));
    let releases = Releases::new(&base, ctx.timings);
    let w = wanted.clone();
    let sums = run_stoppable(move || releases.checksums(&w))?.map_err(unchanged)?;
    let expected = update::checksum_for(&sums, &asset)
        .ok_or_else(|| unchanged(format!("SHA256SUMS of {wanted} has no line for {asset}")))?;
    let file = AtomicFile::create(&exe, 0o755).map_err(|e| not_writable(&exe, &e))?;
    let got = fetch(ctx, &base, &wanted, &asset, file, &expected, &exe)?;
    signal::check()?;
    got.commit_over_program()
        .map_err(|e| not_writable(&exe, &e))?;
    done(ctx, current, &wanted, &exe);
    Ok(Exit::Success)
}

/// The latest version of this build's channel.
fn latest(ctx: &Ctx, base: &str, current: &str) -> Result<String, CliError> {
    let url = update::manifest_url(
        std::env::var("DCD_MANIFEST_URL").ok().as_deref(),
        base,
        current,
    );
    let t = ctx.timings;
    let u = url.clone();
    match run_stoppable(move || crate::api::manifest::release(&u, &t))? {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(CliError::new(format!(
            "The {} channel has no release yet ({}). Pin one with --version <version>.",
            if current.contains('-') {
                "beta"
            } else {
                "stable"
            },
            crate::debug::redact_url(&url)
        ))),
        Err(why) => Err(unchanged(format!(
            "Could not read the latest release: {why}"
        ))),
    }
}

/// Runs `work` on a thread of its own so that a stop returns at once.
fn run_stoppable<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CliError> {
    signal::run(work).map_err(|stop| CliError::from(stop).with_hint("dcd was not changed."))
}

/// The running executable, links resolved: the file an upgrade replaces.
fn this_binary() -> Result<PathBuf, CliError> {
    std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| unchanged(format!("Cannot tell where this dcd is ({e})")))
}

fn not_writable(exe: &Path, e: &std::io::Error) -> CliError {
    let dir = exe.parent().unwrap_or(exe);
    unchanged(format!(
        "Cannot replace {} ({e}): dcd needs to write in {}. Run the upgrade as a user who can, \
         or install again where you can write: curl -fsSL {}/install.sh | sh",
        exe.display(),
        dir.display(),
        update::download_base(std::env::var("DCD_DOWNLOAD_BASE").ok().as_deref())
    ))
}

/// Streams the asset into `file` with progress, hashing it; the file, once its hash is the
/// expected one.
fn fetch(
    ctx: &Ctx,
    base: &str,
    version: &str,
    asset: &str,
    file: AtomicFile,
    expected: &str,
    exe: &Path,
) -> Result<AtomicFile, CliError> {
    let releases = Releases::new(base, ctx.timings);
    let (v, a) = (version.to_string(), asset.to_string());
    let what = format!("{asset} {version}");
    let got = signal::run_reporting(
        move |tx| {
            let report = move |done: u64, total: u64| {
                let _ = tx.send((done, total));
            };
            stream(&releases, &v, &a, file, &report)
        },
        |(done, total)| {
            ctx.out.emit(Event::Transfer {
                direction: Direction::Down,
                what: &what,
                done,
                total,
            })
        },
    )
    .map_err(|stop| {
        crate::fsio::remove_leftovers();
        CliError::from(stop).with_hint("dcd was not changed.")
    })?;
    let (file, actual) = got.map_err(unchanged)?;
    if actual != expected {
        drop(file);
        return Err(unchanged(format!(
            "The download of {asset} does not match SHA256SUMS (expected {expected}, got {actual}); {} is as it was",
            exe.display()
        )));
    }
    Ok(file)
}

/// Reads the asset into `file`, at most [`MAX_BINARY`] bytes, reporting `(done, total)`.
/// Returns the file and the hex SHA-256 of what it holds.
fn stream(
    releases: &Releases,
    version: &str,
    asset: &str,
    mut file: AtomicFile,
    report: &dyn Fn(u64, u64),
) -> Result<(AtomicFile, String), String> {
    let d = releases.open(version, asset)?;
    let total = d.content_length().unwrap_or(0);
    if total > MAX_BINARY {
        return Err(format!("{asset} is larger than {} MiB", MAX_BINARY >> 20));
    }
    let mut body = d.into_reader().take(MAX_BINARY + 1);
    let mut hash = crate::encoding::Digest::sha256();
    let mut buf = vec![0u8; 64 << 10];
    let mut done = 0u64;
    report(0, total);
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("the download of {asset} broke off: {e}")),
        };
        hash.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| format!("cannot write the new binary: {e}"))?;
        done += n as u64;
        report(done, total.max(done));
    }
    if done > MAX_BINARY {
        return Err(format!("{asset} is larger than {} MiB", MAX_BINARY >> 20));
    }
    if total != 0 && done != total {
        return Err(format!(
            "the download of {asset} ended after {done} of {total} bytes"
        ));
    }
    Ok((file, hash.hex()))
}

fn report_check(ctx: &Ctx, current: &str, wanted: &str, differs: bool) -> Result<Exit, CliError> {
    if ctx.json() {
        ctx.out.json(&json!({
            "current": current,
            "latest": wanted,
            "updateAvailable": differs,
        }));
    } else if differs {
        ctx.out.emit(Event::Info(&format!(
            "Update available: {current} → {wanted}. Run `dcd upgrade` to install it."
        )));
    } else {
        ctx.out.emit(Event::Info(&format!(
            "Already on the latest version ({current})."
        )));
    }
    Ok(Exit::Success)
}

fn already(ctx: &Ctx, current: &str) -> Result<Exit, CliError> {
    if ctx.json() {
        ctx.out
            .json(&json!({"version": current, "upgraded": false}));
    } else {
        ctx.out.emit(Event::Info(&format!(
            "Already on the latest version ({current})."
        )));
    }
    Ok(Exit::Success)
}

fn done(ctx: &Ctx, from: &str, to: &str, exe: &Path) {
    if ctx.json() {
        ctx.out.json(&json!({
            "previousVersion": from,
            "version": to,
            "path": exe.to_string_lossy(),
            "upgraded": true,
        }));
    } else {
        let s = ctx.out.style();
        ctx.out.emit(Event::Report(&[
            s.green(&format!("✓ Upgraded to {to} ({})", exe.display()))
        ]));
    }
}
