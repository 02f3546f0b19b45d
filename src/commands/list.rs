//! `dcd list`: recent uploads, newest first.
//!
//! One `GET /uploads/list` with the filters the user gave; `--json` prints the API body as
//! is, otherwise [`render`] lays it out as the TS CLI does. The renderer lives here rather
//! than in `src/render/` because nothing else uses it; it is pure and snapshot-tested below.

use super::{Ctx, connect};
use crate::api::uploads::ListQuery;
use crate::cli::args::ListArgs;
use crate::exit::{CliError, Exit, signal};
use crate::output::Event;
use crate::render::{Style, status::section, time};
use crate::sanitize::{clean, link};
use serde_json::Value;

pub fn run(args: &ListArgs, ctx: &Ctx) -> Result<Exit, CliError> {
    // Auth first, as the TS CLI does: missing credentials are reported before bad dates.
    let (_auth, client) = connect(&args.conn, ctx)?;
    let (name, from, to) = (
        args.name.as_deref(),
        args.from.as_deref(),
        args.to.as_deref(),
    );
    for (flag, value, example) in [("from", from, "2024-01-01"), ("to", to, "2024-01-31")] {
        if value.is_some_and(|v| !is_iso_date(v)) {
            return Err(CliError::new(format!(
                "Invalid --{flag} date format. Please use ISO 8601 format (e.g., {example})."
            )));
        }
    }
    if let Some(n) = name.filter(|n| looks_shell_expanded(n)) {
        ctx.out.warn(&shell_expansion_warning(n));
    }
    let fail = |detail: String| CliError::new(format!("Failed to list uploads: {detail}"));
    let query = ListQuery {
        name: args.name.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        limit: args.limit,
        offset: args.offset,
    };
    let c = client.clone();
    let body = signal::run(move || c.list_uploads(&query))?.map_err(|e| fail(e.to_string()))?;
    if ctx.json() {
        ctx.out.json(&body);
        return Ok(Exit::Success);
    }
    let page = Page::from_value(&body, args.limit, args.offset)
        .map_err(|d| fail(format!("unexpected API response: {d}")))?;
    let lines = render(&page, ctx.out.style());
    ctx.out.emit(Event::Report(&lines));
    Ok(Exit::Success)
}

/// What `Date.parse` accepts of ISO 8601: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, optionally
/// followed by `THH:mm`, `:ss`, `.sss` and `Z` or `±HH:mm`.
pub fn is_iso_date(s: &str) -> bool {
    let s = s.trim();
    let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
    let in_range =
        |t: &str, lo: u32, hi: u32| t.parse::<u32>().is_ok_and(|v| (lo..=hi).contains(&v));
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let d: Vec<&str> = date.split('-').collect();
    let date_ok = match d.as_slice() {
        [y] => digits(y, 4),
        [y, m] => digits(y, 4) && digits(m, 2) && in_range(m, 1, 12),
        [y, m, day] => {
            digits(y, 4)
                && digits(m, 2)
                && in_range(m, 1, 12)
                && digits(day, 2)
                && in_range(day, 1, 31)
        }
        _ => false,
    };
    let Some(time) = time else {
        return date_ok;
    };
    if !date_ok || d.len() != 3 {
        return false;
    }
    let (clock, zone) = match time.find(['Z', 'z', '+', '-']) {
        Some(i) => time.split_at(i),
        None => (time, ""),
    };
    let zone_ok = match zone {
        "" | "Z" | "z" => true,
        z => {
            let hm = &z[1..];
            let hm = hm.replace(':', "");
            digits(&hm, 4) && in_range(&hm[..2], 0, 23) && in_range(&hm[2..], 0, 59)
        }
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let t: Vec<&str> = hms.split(':').collect();
    let clock_ok = match t.as_slice() {
        [h, m] => digits(h, 2) && in_range(h, 0, 24) && digits(m, 2) && in_range(m, 0, 59),
        [h, m, sec] => {
            digits(h, 2)
                && in_range(h, 0, 24)
                && digits(m, 2)
                && in_range(m, 0, 59)
                && digits(sec, 2)
                && in_range(sec, 0, 59)
        }
        _ => false,
    };
    clock_ok && zone_ok && !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit())
}

/// The TS heuristic for a `--name` the shell expanded before dcd saw it: a path separator,
/// a common file extension at the end, or a space without any wildcard.
pub fn looks_shell_expanded(name: &str) -> bool {
    const EXTS: [&str; 9] = ["yaml", "yml", "json", "txt", "md", "ts", "js", "py", "sh"];
    let ext = name
        .rsplit_once('.')
        .is_some_and(|(_, e)| EXTS.iter().any(|x| x.eq_ignore_ascii_case(e)));
    name.contains(['/', '\\']) || ext || (name.contains(' ') && !name.contains(['*', '?']))
}

fn shell_expansion_warning(name: &str) -> String {
    format!(
        "The --name parameter appears to have been expanded by your shell: \"{}\"\n\
         Wildcards like * should be quoted to prevent shell expansion.\n\
         Examples:\n  \
         ✓ Correct:   dcd list --name \"nightly-*\"\n  \
         ✓ Correct:   dcd list --name 'nightly-*'\n  \
         ✗ Incorrect: dcd list --name nightly-*",
        clean(name)
    )
}

/// One upload of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub id: String,
    pub name: Option<String>,
    pub created_at: Option<String>,
    pub console_url: Option<String>,
}

/// One page of `GET /uploads/list`.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub uploads: Vec<Listed>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

impl Page {
    /// Reads the body leniently; only a missing `uploads` array is an error. Missing paging
    /// numbers fall back to what was asked.
    pub fn from_value(v: &Value, limit: u64, offset: u64) -> Result<Page, String> {
        let rows = v
            .get("uploads")
            .and_then(Value::as_array)
            .ok_or("no uploads array")?;
        let text = |r: &Value, k: &str| {
            r.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let uploads: Vec<Listed> = rows
            .iter()
            .map(|r| Listed {
                id: text(r, "id").unwrap_or_default(),
                name: text(r, "name"),
                created_at: text(r, "created_at"),
                console_url: text(r, "consoleUrl"),
            })
            .collect();
        let num = |k: &str, default: u64| v.get(k).and_then(Value::as_u64).unwrap_or(default);
        Ok(Page {
            total: num("total", uploads.len() as u64),
            limit: num("limit", limit),
            offset: num("offset", offset),
            uploads,
        })
    }
}

/// `Mon D, YYYY, hh:mm AM` in UTC (the TS CLI's `toLocaleDateString('en-US', …)`); text that
/// is not a timestamp is shown as it came.
pub fn en_us_date(iso: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let Some(secs) = time::parse_iso(iso) else {
        return clean(iso);
    };
    // `YYYY-MM-DD HH:MM:SS UTC`, taken apart.
    let s = time::unix_utc(secs);
    let field = |a: usize, b: usize| s.get(a..b).and_then(|t| t.parse::<usize>().ok());
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi)) = (
        field(0, 4),
        field(5, 7),
        field(8, 10),
        field(11, 13),
        field(14, 16),
    ) else {
        return clean(iso);
    };
    let month = MONTHS.get(mo.wrapping_sub(1)).copied().unwrap_or("?");
    let (h12, ampm) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    format!("{month} {d}, {y}, {h12:02}:{mi:02} {ampm}")
}

/// The human output of `dcd list`, laid out as the TS CLI prints it.
pub fn render(page: &Page, style: Style) -> Vec<String> {
    if page.uploads.is_empty() {
        return vec![
            String::new(),
            "ℹ No uploads found matching your criteria.".to_string(),
            String::new(),
        ];
    }
    let dim = |s: &str| style.dim(s);
    let shown = page.uploads.len() as u64;
    let mut out = section("Recent Uploads", style);
    out.push(format!(
        "   {} {shown} {} {} {}",
        dim("Showing"),
        dim("of"),
        page.total,
        dim("uploads")
    ));
    if page.offset > 0 {
        out.push(format!(
            "   {} {}{}",
            dim("(offset:"),
            page.offset,
            dim(")")
        ));
    }
    out.push(String::new());
    for u in &page.uploads {
        let name = match &u.name {
            Some(n) => style.bold(&clean(n)),
            None => style.bold(&dim("(unnamed)")),
        };
        out.push(format!("   {name}"));
        out.push(format!("      {} {}", dim("ID:"), clean(&u.id)));
        let created = u.created_at.as_deref().map(en_us_date).unwrap_or_default();
        out.push(format!("      {} {created}", dim("Created:")));
        let console = u.console_url.as_deref().map(link).unwrap_or_default();
        out.push(format!("      {} {console}", dim("Console:")));
        out.push(String::new());
    }
    let seen = page.offset + shown;
    if page.total > seen {
        let next = (page.total - seen).min(page.limit.max(1));
        out.push(format!(
            "   {} --offset {seen} {} {next} {}",
            dim("Use"),
            dim("to see the next"),
            dim("uploads")
        ));
        out.push(String::new());
    }
    out.push(format!(
        "   ℹ {} dcd status --upload-id <id> {}",
        dim("Use"),
        dim("for detailed test results")
    ));
    out.push(String::new());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(total: u64, offset: u64) -> Page {
        let v = json!({
            "uploads": [
                {"id": "aaaa-1111", "name": "nightly-42", "created_at": "2026-11-24T08:05:00.000Z",
                 "consoleUrl": "https://console.devicecloud.dev/results?upload=aaaa-1111"},
                {"id": "bbbb-2222", "name": null, "created_at": "2026-01-05T23:59:59Z",
                 "consoleUrl": "https://console.devicecloud.dev/results?upload=bbbb-2222"},
            ],
            "total": total, "limit": 2, "offset": offset,
        });
        Page::from_value(&v, 20, 0).unwrap()
    }

    #[test]
    fn a_page_with_more_to_come() {
        let out = render(&page(7, 2), Style::PLAIN).join("\n");
        insta::assert_snapshot!(out, @r"

        ⏺ Recent Uploads
           Showing 2 of 7 uploads
           (offset: 2)

           nightly-42
              ID: aaaa-1111
              Created: Nov 24, 2026, 08:05 AM
              Console: https://console.devicecloud.dev/results?upload=aaaa-1111

           (unnamed)
              ID: bbbb-2222
              Created: Jan 5, 2026, 11:59 PM
              Console: https://console.devicecloud.dev/results?upload=bbbb-2222

           Use --offset 4 to see the next 2 uploads

           ℹ Use dcd status --upload-id <id> for detailed test results
        ");
    }

    #[test]
    fn the_last_page_has_no_hint_and_empty_says_so() {
        let out = render(&page(2, 0), Style::PLAIN).join("\n");
        assert!(
            !out.contains("--offset") && !out.contains("(offset:"),
            "{out}"
        );
        assert!(out.contains("Showing 2 of 2 uploads"));
        let empty = Page::from_value(&json!({"uploads": []}), 20, 0).unwrap();
        assert_eq!(
            render(&empty, Style::PLAIN),
            ["", "ℹ No uploads found matching your criteria.", ""]
        );
        assert!(Page::from_value(&json!({"items": []}), 20, 0).is_err());
    }

    #[test]
    fn server_text_is_sanitised_and_colour_is_optional() {
        let v = json!({"uploads": [{"id": "x\u{1b}[2J", "name": "::error::boom\u{202e}"}]});
        let out = render(&Page::from_value(&v, 20, 0).unwrap(), Style::PLAIN).join("\n");
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{202e}'),
            "{out}"
        );
        assert!(out.contains("   ::error::boom") || out.contains("    ::error::boom"));
        assert!(!out.lines().any(|l| l.starts_with("::")));
        let colored = render(&page(3, 0), Style { color: true }).join("\n");
        assert!(colored.contains("\u{1b}[2mShowing\u{1b}[0m"));
    }

    #[test]
    fn dates_read_like_en_us() {
        assert_eq!(en_us_date("2026-01-01T00:00:00Z"), "Jan 1, 2026, 12:00 AM");
        assert_eq!(
            en_us_date("2026-07-04T12:30:00+00:00"),
            "Jul 4, 2026, 12:30 PM"
        );
        assert_eq!(
            en_us_date("2026-07-04T14:30:00+02:00"),
            "Jul 4, 2026, 12:30 PM"
        );
        assert_eq!(en_us_date("soon"), "soon");
    }

    #[test]
    fn iso_dates_as_date_parse_takes_them() {
        for ok in [
            "2024",
            "2024-01",
            "2024-01-31",
            "2024-01-31T10:00",
            "2024-01-31T10:00:59",
            "2024-01-31T10:00:59.123Z",
            "2024-01-31T10:00+02:00",
            "2024-01-31 10:00:00Z",
        ] {
            assert!(is_iso_date(ok), "{ok}");
        }
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-1-1",
            "24-01-01",
            "2024-01-32",
            "2024-01T10:00",
            "2024-01-31T25:00",
            "2024-01-31T10",
            "2024-01-31T10:00+2",
        ] {
            assert!(!is_iso_date(bad), "{bad}");
        }
    }

    #[test]
    fn shell_expansion_heuristic() {
        for expanded in ["flows/a.yaml", "notes.md", "a b", "C:\\x", "run.SH"] {
            assert!(looks_shell_expanded(expanded), "{expanded}");
        }
        for fine in ["nightly-*", "nightly 1*", "release", "a b?", "v1.2"] {
            assert!(!looks_shell_expanded(fine), "{fine}");
        }
        let w = shell_expansion_warning("a\u{1b}b.yaml");
        assert!(w.starts_with(
            "The --name parameter appears to have been expanded by your shell: \"a\\x1bb.yaml\"\n"
        ));
        assert!(w.ends_with("  ✗ Incorrect: dcd list --name nightly-*"));
    }
}
