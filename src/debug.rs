//! `--debug`: `[DEBUG]` lines on stderr, with every secret redacted.
//!
//! Secrets (API key, access and refresh tokens, signed URLs) are registered as soon as they
//! are known; every debug line and every error passes through [`redact`] before it is
//! written, so a request header or a URL logged verbatim can never leak one. Redaction is by
//! value, which also catches a secret echoed back by a server, and by shape, so a caller
//! cannot forget to register one: the `user:password@` of any `scheme://` URL in the text,
//! and the value of a credential-like query parameter (`?token=`, `&apikey=`, `sig=`, …:
//! [`QUERY_SECRETS`]) become `***` (docs/http-api.md, "Credentials"). A URL is shown through
//! [`redact_url`], which drops its `user:password@` part; [`add_url_secrets`] registers that
//! part too, so the password is redacted even where it is echoed alone. Like every line of
//! the output seam, a debug line is cleaned by `sanitize::for_terminal` before it is written.

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

/// Replaces every registered secret in `text` with `***`, then the credentials any URL in
/// it carries: its `user:password@` and the values of its [`QUERY_SECRETS`] parameters.
pub fn redact(text: &str) -> String {
    let s = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for k in s.iter() {
        if out.contains(k.as_str()) {
            out = out.replace(k.as_str(), "***");
        }
    }
    drop(s);
    let out = if out.contains("://") {
        mask_userinfo(&out)
    } else {
        out
    };
    if out.contains('=') {
        mask_query_secrets(&out)
    } else {
        out
    }
}

/// Where a URL's authority (or a query value) ends in running text.
fn ends_field(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '`' | '\\')
}

/// Every `scheme://user:password@host` in `text` becomes `scheme://***@host`. The authority
/// runs from `://` to the first `/`, `?`, `#` or [`ends_field`] character; its last `@`
/// ends the credentials (a password may contain `@`).
fn mask_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let start = i + 3;
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let scheme_ok = out[..out.len() - 3]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        let end = rest
            .find(|c: char| matches!(c, '/' | '?' | '#') || ends_field(c))
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@').filter(|_| scheme_ok) {
            out.push_str("***");
            rest = &rest[at..];
        }
    }
    out.push_str(rest);
    out
}

/// Query parameters whose value is a credential, compared without case: API keys, tokens,
/// signatures (S3 pre-signed URLs included), passwords.
pub const QUERY_SECRETS: &[&str] = &[
    "access_token",
    "api_key",
    "api-key",
    "apikey",
    "auth",
    "client_secret",
    "id_token",
    "key",
    "password",
    "refresh_token",
    "secret",
    "sig",
    "signature",
    "token",
    "x-amz-credential",
    "x-amz-security-token",
    "x-amz-signature",
];

/// The value of every `?name=` or `&name=` in `text` whose name is in [`QUERY_SECRETS`]
/// becomes `***` (up to the next `&`, `#` or [`ends_field`] character).
fn mask_query_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['?', '&']) {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let Some(eq) = rest.find(|c: char| c == '=' || c == '&' || c == '?' || ends_field(c))
        else {
            break;
        };
        let name = &rest[..eq];
        if !rest[eq..].starts_with('=')
            || !QUERY_SECRETS.iter().any(|k| k.eq_ignore_ascii_case(name))
        {
            continue;
        }
        let value_end = rest[eq + 1..]
            .find(|c: char| matches!(c, '&' | '#') || ends_field(c))
            .map_or(rest.len(), |j| eq + 1 + j);
        out.push_str(&rest[..=eq]);
        if value_end > eq + 1 {
            out.push_str("***");
        }
        rest = &rest[value_end..];
    }
    out.push_str(rest);
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

/// Writes one `[DEBUG] ` line to stderr, redacted and cleaned like every other line dcd
/// writes (`sanitize::for_terminal`: server text logged verbatim cannot drive the terminal).
/// Use the [`debug!`](crate::debug!) macro.
pub fn write_line(msg: &str) {
    let redacted = redact(msg);
    let line = crate::sanitize::for_terminal(&redacted);
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

    #[test]
    fn any_url_in_the_text_loses_its_credentials_unregistered() {
        let cases = [
            (
                "POST http://u:pw-never-registered@127.0.0.1:9/auth/v1/token?grant_type=refresh_token",
                "POST http://***@127.0.0.1:9/auth/v1/token?grant_type=refresh_token",
            ),
            (
                "a https://tok@h/x b wss://us:p@ss@h:1?x=1 c",
                "a https://***@h/x b wss://***@h:1?x=1 c",
            ),
            ("(\"ftp://a:b@h\")", "(\"ftp://***@h\")"),
            (
                "mail me@host, see http://host/a@b?c=d@e",
                "mail me@host, see http://host/a@b?c=d@e",
            ),
            ("://a:b@h and x://", "://a:b@h and x://"),
            ("no url here", "no url here"),
        ];
        for (text, want) in cases {
            assert_eq!(redact(text), want, "{text}");
        }
    }

    #[test]
    fn credential_like_query_values_are_masked() {
        let cases = [
            (
                "GET https://h/m.json?token=abc&v=1&ApiKey=k1#frag",
                "GET https://h/m.json?token=***&v=1&ApiKey=***#frag",
            ),
            (
                "https://s3/x?X-Amz-Credential=AK%2F1&X-Amz-Signature=f00 done",
                "https://s3/x?X-Amz-Credential=***&X-Amz-Signature=*** done",
            ),
            ("?access_token=&sig=s", "?access_token=&sig=***"),
            (
                "grant_type=refresh_token&keyboard=1&monkey=2",
                "grant_type=refresh_token&keyboard=1&monkey=2",
            ),
            ("a & b = c ? token", "a & b = c ? token"),
            (
                "in \"https://h/?token=abc\" and 'h?key=def'",
                "in \"https://h/?token=***\" and 'h?key=***'",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(redact(text), want, "{text}");
        }
    }
}
