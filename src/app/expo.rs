//! Expo builds: an iOS simulator build as a `.tar.gz`, given as a file or as a (signed) URL.
//! The URL is downloaded, the archive extracted into a private temporary directory, and the
//! shallowest `*.app` in it is the app.
//!
//! Download: up to [`ATTEMPTS`] tries, [`Timings::expo_retry`] apart, for failures that may
//! pass (no answer, a broken-off body, 5xx); a 4xx answer is final, and 401/403 says that
//! signed Expo URLs expire. Redirects are followed (no credentials are sent, so no header
//! can leak), each hop through the proxy decision for its own host. The body is streamed
//! to disk, capped at [`MAX_DOWNLOAD`] and held to the minimum-progress rule of
//! [`crate::net::stall`] (a host that drips fails that attempt). A URL's query is never
//! shown (it is the signature).
//!
//! The archive is extracted by [`super::extract`], the one extraction of untrusted archives.

use crate::clock::Timings;
use crate::exit::CliError;
use crate::exit::signal;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub const ATTEMPTS: u32 = 3;
/// The largest download accepted.
pub const MAX_DOWNLOAD: u64 = 4 << 30;
/// Redirect hops followed.
const MAX_REDIRECTS: u32 = 5;
/// Deepest directory level searched for the bundle.
const MAX_SEARCH_DEPTH: usize = 32;

/// `url` as it may be shown: without its query, fragment and credentials.
pub fn shown_url(url: &str) -> String {
    let bare = url.split(['?', '#']).next().unwrap_or(url);
    crate::debug::redact_url(bare)
}

/// Registers the query of `url` (a signature) as a secret, whole and value by value, so no
/// debug line can show it.
fn register_query(url: &str) {
    let Some((_, query)) = url.split_once('?') else {
        return;
    };
    let query = query.split('#').next().unwrap_or(query);
    crate::debug::add_secret(query);
    for pair in query.split('&') {
        crate::debug::add_secret(pair.split_once('=').map_or(pair, |(_, v)| v));
    }
}

/// Why one download attempt failed, and whether another may succeed.
struct Failed {
    message: String,
    transient: bool,
}

/// Downloads `url` into the new file `dest`, with the retries of the module doc.
pub fn download(url: &str, dest: &Path, timings: &Timings) -> Result<u64, CliError> {
    register_query(url);
    crate::debug::add_url_secrets(url);
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            signal::sleep(timings.expo_retry)?;
        }
        let (u, d, t) = (url.to_string(), dest.to_path_buf(), *timings);
        match signal::run(move || fetch(&u, &d, &t))? {
            Ok(n) => return Ok(n),
            Err(f) if f.transient && attempt < ATTEMPTS => {
                crate::debug!("Expo download attempt {attempt} failed: {}", f.message);
                last = f.message;
            }
            Err(f) => return Err(CliError::new(f.message)),
        }
    }
    Err(CliError::new(last))
}

/// One attempt: follows redirects, then streams a 2xx body into `dest`.
fn fetch(url: &str, dest: &Path, timings: &Timings) -> Result<u64, Failed> {
    let shown = shown_url(url);
    let fail = |message: String, transient| Failed {
        message: format!("Failed to download the Expo build from {shown}: {message}"),
        transient,
    };
    let mut current = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let agent = crate::net::agent::transfer_agent(timings, &current);
        let mut resp = match agent.get(&current).header("accept", "*/*").call() {
            Ok(r) => r,
            Err(e) => return Err(fail(transport(&e), true)),
        };
        let status = resp.status().as_u16();
        crate::debug!("GET {} → {status}", shown_url(&current));
        if (300..400).contains(&status) {
            let Some(next) = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(|loc| resolve(&current, loc))
            else {
                return Err(fail(format!("HTTP {status} without a Location"), false));
            };
            register_query(&next);
            current = next;
            continue;
        }
        return match status {
            200..=299 => save(resp.body_mut(), dest, timings).map_err(|e| fail(e, true)),
            401 | 403 => Err(fail(
                format!(
                    "HTTP {status}. Signed Expo URLs expire about an hour after they are made; get a new URL for the build and try again."
                ),
                false,
            )),
            400..=499 => Err(fail(format!("HTTP {status}"), false)),
            _ => Err(fail(format!("HTTP {status}"), true)),
        };
    }
    Err(fail(format!("more than {MAX_REDIRECTS} redirects"), false))
}

/// A few words for a failure without a response.
fn transport(e: &ureq::Error) -> String {
    use crate::net::failure::{Failure, classify, network_cause};
    match classify(e) {
        Failure::Timeout { .. } => "timed out".into(),
        Failure::Network { kind, detail } => network_cause(kind, &detail),
        Failure::BodyTooLarge(n) => format!("larger than {n} bytes"),
    }
}

/// `loc` (absolute, host-relative or path-relative) against `base`.
fn resolve(base: &str, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return loc.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(base.len(), |i| scheme_end + i);
    if let Some(rest) = loc.strip_prefix("//") {
        return format!("{}{rest}", &base[..scheme_end]);
    }
    if loc.starts_with('/') {
        return format!("{}{loc}", &base[..path_start]);
    }
    let path = base[path_start..].split(['?', '#']).next().unwrap_or("");
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    format!("{}{dir}{loc}", &base[..path_start])
}

fn save(body: &mut ureq::Body, dest: &Path, timings: &Timings) -> Result<u64, String> {
    let capped = body.with_config().limit(MAX_DOWNLOAD).reader();
    let mut reader = crate::net::stall::MinProgress::new(capped, timings);
    let mut out =
        File::create(dest).map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    let n = io::copy(&mut reader, &mut out).map_err(|e| {
        if e.to_string().contains("limit") {
            format!("larger than {} GiB", MAX_DOWNLOAD >> 30)
        } else {
            format!("the download broke off: {e}")
        }
    })?;
    out.flush().map_err(|e| e.to_string())?;
    Ok(n)
}

/// The shallowest `*.app` directory under `root` (names in order at each level), not
/// looking inside `__MACOSX` or inside an `.app`, never following links.
pub fn shallowest_app(root: &Path) -> Option<PathBuf> {
    let mut level = vec![root.to_path_buf()];
    for _ in 0..MAX_SEARCH_DEPTH {
        let mut next = Vec::new();
        for dir in &level {
            let mut children: Vec<_> = std::fs::read_dir(dir)
                .ok()?
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name())
                .filter(|n| n != "__MACOSX")
                .collect();
            children.sort();
            if let Some(app) = children
                .iter()
                .find(|n| n.as_encoded_bytes().ends_with(b".app"))
            {
                return Some(dir.join(app));
            }
            next.extend(children.into_iter().map(|n| dir.join(n)));
        }
        if next.is_empty() {
            return None;
        }
        level = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_locations_resolve_against_the_url() {
        let base = "https://expo.dev/artifacts/eas/abc.tar.gz?x=1";
        assert_eq!(
            resolve(base, "https://cdn.example/y"),
            "https://cdn.example/y"
        );
        assert_eq!(resolve(base, "//cdn.example/y"), "https://cdn.example/y");
        assert_eq!(
            resolve(base, "/signed/y?s=2"),
            "https://expo.dev/signed/y?s=2"
        );
        assert_eq!(
            resolve(base, "other.tar.gz"),
            "https://expo.dev/artifacts/eas/other.tar.gz"
        );
        assert_eq!(resolve("http://h", "y"), "http://h/y");
    }
}
