//! Text from outside made safe for a terminal, a CI log or a file name: the one sanitiser,
//! a leaf every layer may use (docs/architecture.md, "One mechanism per concern").
//!
//! Test names, fail reasons and messages come from the server (and from whoever wrote the
//! flow). Before they reach a terminal they lose everything that could drive it: escape
//! sequences and other control characters are shown as `\x1b`-style text, bidi overrides,
//! zero-width and tag characters as `<U+202E>`, and a leading `::` (a GitHub Actions workflow
//! command) is broken up. Line breaks become spaces: the result is always one line.
//!
//! The output seam applies the same rule once more to everything it writes, so text that
//! reached a message, a prompt or an error without its own cleaning still cannot drive a
//! terminal: [`for_terminal`] for human streams (it keeps line breaks and the colour
//! sequences dcd's own renderers paint with), [`for_json`] for JSON documents (the same
//! characters as `\uXXXX` escapes: the same data, nothing a terminal acts on).
//!
//! CI wrappers find the run by the first `upload=<id>` in the output (docs/ci.md), so only
//! the links dcd prints through [`link`] carry that marker: anywhere else — a `--name` that
//! is a PR title, a flow name, a server message — it is shown as `upload =`.
//!
//! A file name made from server text goes through [`safe_name`], so it can only name a file
//! in the directory it is joined to.

use std::borrow::Cow;
use std::fmt::Write;

/// The marker of the console's result link, matched in any letter case.
const MARKER: &[u8] = b"upload=";

/// One line of printable text that cannot pass for the console link.
pub fn clean(s: &str) -> String {
    break_markers(printable(s))
}

/// A link dcd prints for the wrappers to read (the console's result page): cleaned like any
/// other text, but its `upload=` marker stays.
pub fn link(url: &str) -> String {
    printable(url)
}

/// The escapes of [`clean`], without the marker rule.
fn printable(s: &str) -> String {
    // Printable ASCII (most names and paths) has nothing to replace: only a leading `::`.
    if s.bytes().all(|b| (b' '..=b'~').contains(&b)) && !s.trim_start().starts_with("::") {
        return s.to_string();
    }
    clean_chars(s)
}

/// Where the next `upload=` (any case) starts.
fn find_marker(s: &str) -> Option<usize> {
    s.as_bytes()
        .windows(MARKER.len())
        .position(|w| w.eq_ignore_ascii_case(MARKER))
}

/// Every `upload=` written `upload =`.
fn break_markers(s: String) -> String {
    if find_marker(&s).is_none() {
        return s;
    }
    let name = MARKER.len() - 1;
    let mut out = String::with_capacity(s.len() + 4);
    let mut rest = s.as_str();
    while let Some(at) = find_marker(rest) {
        // `upload` is ASCII: both cuts are on character boundaries.
        out.push_str(&rest[..at + name]);
        out.push(' ');
        rest = &rest[at + name..];
    }
    out.push_str(rest);
    out
}

/// [`clean`], character by character.
fn clean_chars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_invisible(c) => {
                let _ = write!(out, "<U+{:04X}>", c as u32);
            }
            c => out.push(c),
        }
    }
    if out.trim_start().starts_with("::") {
        out.insert(0, ' ');
    }
    out
}

/// [`clean`], then on one short line: runs of spaces collapsed, trimmed, at most `max`
/// characters (an ellipsis marks the cut). For server messages inside error texts.
pub fn one_line(s: &str, max: usize) -> String {
    let cleaned = clean(s);
    let mut out = String::with_capacity(cleaned.len().min(max + 4));
    let mut n = 0;
    for c in cleaned.trim().chars() {
        if c == ' ' && out.ends_with(' ') {
            continue;
        }
        if n == max {
            out.push('…');
            break;
        }
        out.push(c);
        n += 1;
    }
    if out.starts_with("::") {
        out.insert(0, ' ');
    }
    out
}

/// Whether `c` is shown as text rather than written: a control character other than the
/// line break, or an invisible format mark.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_invisible(c)
}

/// The colour sequences dcd's renderers paint with (`render::Style`): `ESC [ <code> m`.
const OWN_SGR: [&str; 8] = [
    "\x1b[0m", "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[34m", "\x1b[90m",
];

/// Text for a human stream, whatever its origin: line breaks and tabs stay, and so do dcd's
/// own colour sequences; every other control character (an escape sequence's ESC, a carriage
/// return that would overwrite the line) and invisible mark is shown as text, as [`clean`]
/// shows it. Borrowed when there is nothing to replace (nearly always).
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b'
            && let Some(own) = OWN_SGR.iter().find(|q| rest.starts_with(**q))
        {
            out.push_str(own);
            rest = &rest[own.len()..];
            continue;
        }
        if c.is_control() && c != '\n' && c != '\t' {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else if is_invisible(c) {
            let _ = write!(out, "<U+{:04X}>", c as u32);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// A serialised JSON document with every character a terminal could act on — controls that
/// JSON leaves raw (DEL, the C1 range) and invisible format marks — written as `\uXXXX`
/// escapes. Outside strings JSON holds only its own punctuation and white space, so the
/// result is the same document.
pub fn for_json(doc: &str) -> Cow<'_, str> {
    let needs = |c: char| is_unsafe(c) && c != '\r';
    if !doc.chars().any(needs) {
        return Cow::Borrowed(doc);
    }
    let mut out = String::with_capacity(doc.len() + 16);
    for c in doc.chars() {
        if needs(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A file name made from text that came from a server: path separators, `..`, control
/// and invisible characters become `_`, so the name can only ever name a file in the
/// directory it is joined to. Never empty.
pub fn safe_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c == '/'
                || c == '\\'
                || c.is_control()
                || c == '\u{0}'
                || !c.is_ascii() && !c.is_alphanumeric()
            {
                '_'
            } else {
                c
            }
        })
        .collect();
    while out.contains("..") {
        out = out.replace("..", "_");
    }
    if out.is_empty() || out == "." {
        out = "_".into();
    }
    out
}

/// Bidi controls, zero-width characters, tag characters and other invisible format marks.
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFEFF
        | 0xFFA0 | 0xFFF9..=0xFFFB | 0xE0000..=0xE007F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_shortcut_cleans_as_the_long_way_does() {
        // Every string of up to three characters from a set around the edges of the shortcut.
        let set = [
            ' ', '~', 'a', ':', '\t', '\n', '\x7f', '\x1f', 'é', '\u{202e}',
        ];
        let mut all = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> = all
                .iter()
                .flat_map(|s| set.iter().map(move |c| format!("{s}{c}")))
                .collect();
            all.extend(longer);
        }
        all.extend(["::x", "  ::x", ": :", "./flows/login.yaml"].map(String::from));
        for s in &all {
            assert_eq!(printable(s), clean_chars(s), "{s:?}");
        }
        assert!(all.len() > 1000);
    }

    #[test]
    fn escapes_controls_and_invisible_characters() {
        assert_eq!(clean("a\x1b[31mred\x07"), "a\\x1b[31mred\\x07");
        assert_eq!(clean("evil\u{202e}txt.exe"), "evil<U+202E>txt.exe");
        assert_eq!(clean("zero\u{200b}width"), "zero<U+200B>width");
        assert_eq!(clean("line1\nline2\r\n"), "line1 line2  ");
        assert_eq!(clean("\u{9b}31m"), "\\x9b31m");
        assert_eq!(clean("plain ✓ ünïcode"), "plain ✓ ünïcode");
    }

    #[test]
    fn one_line_collapses_and_cuts() {
        assert_eq!(one_line("  a \n\n b\x1b ", 50), "a b\\x1b");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(
            one_line("\n::error::x", 50),
            " ::error::x",
            "never a leading ::"
        );
    }

    #[test]
    fn the_terminal_seam_keeps_lines_and_own_colours_and_shows_everything_else() {
        let own = "\x1b[31m✗ Error:\x1b[0m";
        let line = format!("{own} org \x1b]0;pwned\x07\x1b[2J\u{9b}31m \u{202e}x\r\nnext\tcol");
        assert_eq!(
            for_terminal(&line),
            "\x1b[31m✗ Error:\x1b[0m org \\x1b]0;pwned\\x07\\x1b[2J\\x9b31m <U+202E>x\\x0d\nnext\tcol"
        );
        assert!(matches!(for_terminal("plain ✓ line\n"), Cow::Borrowed(_)));
        // A sequence that merely starts like one of ours is not ours.
        assert_eq!(for_terminal("\x1b[31;1m"), "\\x1b[31;1m");
        assert_eq!(for_terminal("\x1b[3"), "\\x1b[3");
    }

    #[test]
    fn json_escapes_are_the_same_document() {
        let v = serde_json::json!({"name": "a\u{7f}b\u{9b}c\u{202e}d\u{e0041}e\x1b", "n": 1});
        let text = serde_json::to_string_pretty(&v).unwrap();
        let safe = for_json(&text);
        assert!(!safe.chars().any(|c| is_unsafe(c) && c != '\n'), "{safe}");
        assert!(
            safe.contains("\\u007f") && safe.contains("\\udb40\\udc41"),
            "{safe}"
        );
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, v);
        assert!(matches!(for_json("{\n  \"a\": \"ü\"\n}"), Cow::Borrowed(_)));
    }

    #[test]
    fn only_a_link_carries_the_console_marker() {
        assert_eq!(clean("Fix upload=yes"), "Fix upload =yes");
        assert_eq!(clean("UPLOAD=1 and Upload=2"), "UPLOAD =1 and Upload =2");
        assert_eq!(
            clean("see https://console.devicecloud.dev/results?upload=abc"),
            "see https://console.devicecloud.dev/results?upload =abc"
        );
        assert_eq!(clean("uploadupload=x"), "uploadupload =x");
        assert_eq!(clean("é upload=\x1b"), "é upload =\\x1b");
        assert_eq!(clean("upload = x, upload-id=y"), "upload = x, upload-id=y");
        assert_eq!(one_line("a  upload=b", 50), "a upload =b");
        let url = "https://dev.console.devicecloud.dev/results?upload=u1&result=2";
        assert_eq!(link(url), url);
        assert_eq!(
            link("https://c/results?upload=u\x1b"),
            "https://c/results?upload=u\\x1b"
        );
    }

    #[test]
    fn a_workflow_command_cannot_start_the_text() {
        assert_eq!(clean("::error::pwned"), " ::error::pwned");
        assert_eq!(clean("\n::set-env name=x::y"), "  ::set-env name=x::y");
        assert_eq!(clean("a ::b"), "a ::b");
    }

    #[test]
    fn names_from_server_data_stay_in_their_directory() {
        assert_eq!(safe_name("../../x/PWNED"), "____x_PWNED");
        assert_eq!(safe_name("a\u{1b}[2Jb"), "a_[2Jb");
        assert_eq!(safe_name("0f3c-42"), "0f3c-42");
        assert_eq!(safe_name(""), "_");
        assert_eq!(safe_name(".."), "_");
        assert_eq!(safe_name("a\u{202e}b"), "a_b");
    }
}
