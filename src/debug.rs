//! `--debug`: `[DEBUG]` lines on stderr, with every secret redacted.
//!
//! Secrets (API key, access and refresh tokens, signed URLs) are registered as soon as they
//! are known; every debug line passes through [`redact`] before it is written, so a request
//! header or a URL logged verbatim can never leak one. Redaction is by value, which also
//! catches a secret echoed back by a server. A URL is shown through [`redact_url`], which
//! drops its `user:password@` part; [`add_url_secrets`] registers that part too, so it is
//! redacted wherever the URL is echoed whole.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Turns debug output on (from `--debug`).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Registers a value that must never be printed. Short values (< 6 chars) are ignored, so a
/// test key like "x" cannot blank out every "x" in the output.
pub fn add_secret(secret: &str) {
    let secret = secret.trim();
    if secret.len() < 6 {
        return;
    }
    let mut s = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    if !s.iter().any(|k| k == secret) {
        s.push(secret.to_string());
        // Longest first, so a secret that contains another is replaced whole.
        s.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// Replaces every registered secret in `text` with `***`.
pub fn redact(text: &str) -> String {
    let s = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for k in s.iter() {
        if out.contains(k.as_str()) {
            out = out.replace(k.as_str(), "***");
        }
    }
    out
}

/// The `user:password@` part of a URL's authority, if any.
fn userinfo(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let at = url[start..end].rfind('@')?;
    Some((start, start + at + 1))
}

/// `url` without the credentials of its authority: `http://user:pw@host/x` → `http://host/x`.
/// Every place that shows a URL goes through this.
pub fn redact_url(url: &str) -> String {
    match userinfo(url) {
        Some((start, end)) => format!("{}{}", &url[..start], &url[end..]),
        None => url.to_string(),
    }
}

/// Registers the credentials inside `url` (`user:password`, and the password alone) as
/// secrets, so the URL echoed whole anywhere is redacted too.
pub fn add_url_secrets(url: &str) {
    let Some((start, end)) = userinfo(url) else {
        return;
    };
    let info = &url[start..end - 1];
    add_secret(info);
    if let Some((_, password)) = info.split_once(':') {
        add_secret(password);
    }
}

/// Writes one `[DEBUG] ` line to stderr (redacted). Use the [`debug!`](crate::debug!) macro.
pub fn write_line(msg: &str) {
    let line = redact(msg);
    let mut err = std::io::stderr().lock();
    for l in line.lines() {
        let _ = writeln!(err, "[DEBUG] {l}");
    }
}

/// `debug!("fmt", args…)`: a `[DEBUG]` line on stderr when `--debug` is on. The arguments are
/// not evaluated otherwise.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::debug::enabled() {
            $crate::debug::write_line(&format!($($arg)*));
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_longest_first_and_short_ones_ignored() {
        add_secret("abcdef123456");
        add_secret("abcdef123456-longer");
        add_secret("x");
        assert_eq!(
            redact("k=abcdef123456-longer and abcdef123456, x"),
            "k=*** and ***, x"
        );
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_url("http://user:pa@ss@host:8080/a@b?c=d@e"),
            "http://host:8080/a@b?c=d@e"
        );
        assert_eq!(redact_url("https://api.test/x"), "https://api.test/x");
        assert_eq!(redact_url("https://tok@api.test"), "https://api.test");
        assert_eq!(redact_url("not a url @ all"), "not a url @ all");
        add_url_secrets("http://someone:hunter2-secret@api.test/");
        assert_eq!(
            redact("GET http://someone:hunter2-secret@api.test/ and hunter2-secret"),
            "GET http://***@api.test/ and ***"
        );
    }
}
