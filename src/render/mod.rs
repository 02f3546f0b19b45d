//! What the user sees, as pure functions: state in, text out.
//!
//! Nothing here touches a terminal, a clock or the network, so every frame and line can be
//! snapshot-tested. [`crate::term`] decides where the text goes and redraws it.

pub mod account;
pub mod cloud;
pub mod diagnosis;
pub mod json;
pub mod progress;
pub mod status;
pub mod table;
pub mod time;
pub mod upload;

use crate::domain::results::Status;

/// Colour on or off; everything that paints goes through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub const PLAIN: Style = Style { color: false };

    fn paint(self, code: &str, s: &str) -> String {
        if self.color && !s.is_empty() {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn red(self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn green(self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn blue(self, s: &str) -> String {
        self.paint("34", s)
    }
    pub fn grey(self, s: &str) -> String {
        self.paint("90", s)
    }

    /// Paints `s` in the colour of `status`: passed green, failed and error red, running
    /// blue, pending yellow, anything else grey (the TS CLI's palette).
    pub fn status(self, status: &Status, s: &str) -> String {
        match status {
            Status::Passed => self.green(s),
            Status::Failed | Status::Error => self.red(s),
            Status::Running => self.blue(s),
            Status::Pending => self.yellow(s),
            _ => self.grey(s),
        }
    }
}

/// The glyph of a status, as the TS CLI draws it.
pub fn glyph(status: &Status) -> &'static str {
    match status {
        Status::Passed => "✓",
        Status::Failed | Status::Error => "✗",
        Status::Running => "▶",
        Status::Pending => "⏸",
        Status::Queued => "⏳",
        Status::Cancelled => "⊘",
        Status::Other(_) => "?",
    }
}

/// The lower-case status word, sanitised (unknown statuses come from the server).
pub fn word(status: &Status) -> String {
    crate::sanitize::clean(&status.as_str().to_ascii_lowercase())
}

/// `<glyph> <word>` in the status colour.
pub fn label(status: &Status, style: Style) -> String {
    style.status(status, &format!("{} {}", glyph(status), word(status)))
}

/// Columns a string occupies on a terminal, ignoring ANSI colour sequences.
pub fn visible_width(s: &str) -> usize {
    let mut w = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ params final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        w += char_width(c);
    }
    w
}

/// Pads `s` with spaces to `width` visible columns.
pub fn pad(s: &str, width: usize) -> String {
    let w = visible_width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// Cuts `s` to at most `width` visible columns, ending in `…` when cut. Colour sequences
/// are kept and closed.
pub fn truncate(s: &str, width: usize) -> String {
    if visible_width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    let mut chars = s.chars();
    let mut colored = false;
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            out.push(c);
            for c in chars.by_ref() {
                out.push(c);
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            colored = true;
            continue;
        }
        let cw = char_width(c);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    if colored {
        out.push_str("\x1b[0m");
    }
    out
}

fn char_width(c: char) -> usize {
    let u = c as u32;
    if c.is_control() || (0x300..=0x36F).contains(&u) || (0x200B..=0x200F).contains(&u) {
        return 0;
    }
    let wide = matches!(u,
        0x1100..=0x115F | 0x231A..=0x231B | 0x23E9..=0x23EC | 0x23F0 | 0x23F3
        | 0x2E80..=0x303E | 0x3041..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_ignores_colour_and_counts_wide_glyphs() {
        let s = Style { color: true };
        assert_eq!(visible_width(&s.red("abc")), 3);
        assert_eq!(visible_width("⏳ queued"), 9);
        assert_eq!(visible_width("✓ passed"), 8);
        assert_eq!(pad("ab", 4), "ab  ");
    }

    #[test]
    fn truncate_keeps_width_and_closes_colour() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        let t = truncate(&Style { color: true }.red("abcdef"), 4);
        assert_eq!(visible_width(&t), 4);
        assert!(t.ends_with("\x1b[0m"));
    }

    #[test]
    fn plain_style_never_emits_escapes() {
        let s = Style::PLAIN;
        for f in [
            Style::bold,
            Style::dim,
            Style::red,
            Style::green,
            Style::grey,
        ] {
            assert_eq!(f(s, "x"), "x");
        }
        assert_eq!(label(&Status::Other("WEIRD\x1b".into()), s), "? weird\\x1b");
    }

    #[test]
    fn every_colour_passes_the_terminal_seam_as_colour() {
        let s = Style { color: true };
        for f in [
            Style::bold,
            Style::dim,
            Style::red,
            Style::green,
            Style::yellow,
            Style::blue,
            Style::grey,
        ] {
            let painted = f(s, "x");
            assert_eq!(crate::sanitize::for_terminal(&painted), painted);
        }
    }
}
