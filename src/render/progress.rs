//! The live view of a run while it is waited for (docs/wait.md, "Output modes").
//!
//! Two shapes of the same state. On an interactive terminal, [`tty_frame`] is the whole
//! frame, redrawn in place every second. In CI or a pipe, [`CiLog`] turns successive
//! snapshots into an append-only log: one line per row whose status changed, never a redraw,
//! and [`still_waiting_line`] for silent stretches.

use super::{Style, glyph, label, pad, time, truncate, visible_width};
use crate::domain::results::{ResultRow, Status};
use crate::sanitize::clean;
use std::collections::HashMap;
use std::time::Duration;

/// Spinner frames (as `@clack/prompts` draws them).
pub const SPINNER: [&str; 4] = ["◒", "◐", "◓", "◑"];

/// Counts over all rows, earlier tries included. `completed` = passed + failed + cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub total: usize,
    pub completed: usize,
    pub passed: usize,
    pub failed: usize,
    pub running: usize,
    pub pending: usize,
    pub queued: usize,
}

pub fn counts(rows: &[ResultRow]) -> Counts {
    let mut c = Counts {
        total: rows.len(),
        ..Counts::default()
    };
    for r in rows {
        match r.status {
            Status::Passed => c.passed += 1,
            Status::Failed => c.failed += 1,
            Status::Running => c.running += 1,
            Status::Pending => c.pending += 1,
            Status::Queued => c.queued += 1,
            _ => {}
        }
        if matches!(
            r.status,
            Status::Passed | Status::Failed | Status::Cancelled
        ) {
            c.completed += 1;
        }
    }
    c
}

/// The `--quiet` summary: done/total, then passed, failed, running, pending and queued, as
/// `2/4 │ ✓ 1 │ ✗ 1 │ ▶ 1 │ ⏸ 1 │ ⏳ 0`.
pub fn summary_line(rows: &[ResultRow], style: Style) -> String {
    let c = counts(rows);
    let sep = style.dim(" │ ");
    [
        style.bold(&format!("{}/{}", c.completed, c.total)),
        style.green(&format!("✓ {}", c.passed)),
        style.red(&format!("✗ {}", c.failed)),
        style.blue(&format!("▶ {}", c.running)),
        style.yellow(&format!("⏸ {}", c.pending)),
        style.grey(&format!("⏳ {}", c.queued)),
    ]
    .join(&sep)
}

/// The label column width: the widest `<glyph> <word>` among `rows`.
fn label_width(rows: &[ResultRow]) -> usize {
    rows.iter()
        .map(|r| visible_width(&label(&r.status, Style::PLAIN)))
        .max()
        .unwrap_or(0)
        .max(9)
}

/// `<glyph> <status>   <file> (retry)` for one row.
pub fn row_line(row: &ResultRow, width: usize, style: Style) -> String {
    let mut s = format!(
        "{}  {}",
        pad(&label(&row.status, style), width),
        clean(&row.test_file_name)
    );
    if row.retry_of.is_some() {
        s.push_str(&style.dim(" (retry)"));
    }
    s
}

/// What the footer of the interactive frame says about the next fetch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// A fetch is in flight.
    Refreshing,
    /// The next fetch is due in this long.
    In(Duration),
    /// The last fetch failed; the next try is in this long.
    RetryIn(Duration, u32),
}

/// Everything the interactive frame shows.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    /// `None` before the first successful fetch.
    pub rows: Option<&'a [ResultRow]>,
    pub quiet: bool,
    /// `Some(connected)` when realtime is in use.
    pub realtime: Option<bool>,
    pub next: Next,
    pub spinner: usize,
}

/// The interactive frame: spinner title, one row per result (or the summary line when
/// quiet), and a footer. Lines are cut to `width` columns and the row list to `height`
/// lines, so the frame never wraps (a wrapped line would break the in-place redraw).
pub fn tty_frame(f: &Frame<'_>, style: Style, width: usize, height: usize) -> Vec<String> {
    let body = tty_body(f.rows, f.quiet, style, width, height);
    frame_around(&body, f, style, width)
}

/// The frame around `body`, the rows' lines of [`tty_body`]: the title above, the footer
/// below. The rows change only with a new snapshot or terminal size; the title's spinner and
/// the footer's countdown at every tick.
pub fn frame_around(body: &[String], f: &Frame<'_>, style: Style, width: usize) -> Vec<String> {
    let mut lines = Vec::with_capacity(body.len() + 2);
    lines.push(tty_title(f.spinner, style, width));
    lines.extend_from_slice(body);
    lines.extend(tty_footer(f, style, width));
    lines
}

/// Cuts a frame line to the width the frame may use.
fn fit(line: &str, width: usize) -> String {
    truncate(line, width.saturating_sub(1).max(10))
}

/// The frame's first line: the spinner and "Waiting for results".
fn tty_title(spinner: usize, style: Style, width: usize) -> String {
    fit(
        &format!(
            "{} {}",
            style.blue(SPINNER[spinner % SPINNER.len()]),
            style.bold("Waiting for results")
        ),
        width,
    )
}

/// The frame's middle: one line per result (cut to `height`), the summary line when quiet,
/// or "Initializing" before the first fetch.
pub fn tty_body(
    rows: Option<&[ResultRow]>,
    quiet: bool,
    style: Style,
    width: usize,
    height: usize,
) -> Vec<String> {
    let branch = style.dim("  ⎿ ");
    let mut lines = Vec::new();
    match rows {
        None => lines.push(format!("{branch}{}", style.dim("Initializing"))),
        Some(rows) if quiet => lines.push(format!("{branch}{}", summary_line(rows, style))),
        Some(rows) => {
            let w = label_width(rows);
            // Title + footer take two lines; keep one spare so the cursor never scrolls.
            let room = height.saturating_sub(3).max(2);
            let shown = if rows.len() > room {
                room - 1
            } else {
                rows.len()
            };
            for (i, r) in rows.iter().take(shown).enumerate() {
                let lead = if i == 0 {
                    branch.clone()
                } else {
                    "    ".into()
                };
                lines.push(format!("{lead}{}", row_line(r, w, style)));
            }
            if shown < rows.len() {
                let c = counts(&rows[shown..]);
                lines.push(format!(
                    "    {}",
                    style.dim(&format!(
                        "… {} more ({} done, {} running, {} waiting)",
                        rows.len() - shown,
                        c.completed,
                        c.running,
                        c.pending + c.queued
                    ))
                ));
            }
        }
    }
    lines.iter().map(|l| fit(l, width)).collect()
}

/// The frame's last line, if any: realtime state and the countdown to the next fetch.
fn tty_footer(f: &Frame<'_>, style: Style, width: usize) -> Option<String> {
    let mut footer = Vec::new();
    match f.realtime {
        Some(true) => footer.push(style.green("● realtime connected")),
        Some(false) => footer.push(style.yellow("○ realtime connecting…")),
        None => {}
    }
    match f.next {
        Next::Refreshing if !f.quiet => footer.push(style.dim("refreshing…")),
        Next::In(d) if !f.quiet => footer.push(style.dim(&format!(
            "next refresh in {}s",
            d.as_secs_f64().ceil() as u64
        ))),
        Next::RetryIn(d, n) => footer.push(style.yellow(&format!(
            "unable to fetch results ({n} failed), retrying in {}s",
            d.as_secs_f64().ceil() as u64
        ))),
        _ => {}
    }
    (!footer.is_empty()).then(|| fit(&format!("  {}", footer.join(&style.dim("  ·  "))), width))
}

/// The append-only log for CI and pipes: remembers what it printed, prints only changes.
#[derive(Debug, Default)]
pub struct CiLog {
    seen: HashMap<i64, Status>,
    last_summary: Option<String>,
}

impl CiLog {
    /// Lines to print for a new snapshot: one per row that is new or changed status (or the
    /// summary line when quiet and it changed). Unchanged snapshots print nothing.
    pub fn update(&mut self, rows: &[ResultRow], quiet: bool, style: Style) -> Vec<String> {
        if quiet {
            let line = summary_line(rows, style);
            if self.last_summary.as_deref() == Some(line.as_str()) {
                return vec![];
            }
            self.last_summary = Some(line.clone());
            return vec![line];
        }
        let c = counts(rows);
        let progress = format!("[{}/{}]", c.completed, c.total);
        let progress = format!(
            "{}{}",
            " ".repeat(format!("[{0}/{0}]", c.total).len() - progress.len()),
            progress
        );
        // A fixed label column, so lines from different snapshots align in the log.
        let w = 9;
        let mut out = Vec::new();
        for r in rows {
            if self.seen.get(&r.id) == Some(&r.status) {
                continue;
            }
            self.seen.insert(r.id, r.status.clone());
            let mut line = format!("{} {}", style.dim(&progress), row_line(r, w, style));
            if r.status.is_terminal()
                && let Some(d) = r.duration_seconds.filter(|d| *d > 0.0)
            {
                line.push_str(&style.dim(&format!(" · {}", time::duration(d))));
            }
            if matches!(r.status, Status::Failed | Status::Error) {
                let reason = r.fail_reason.as_deref().unwrap_or("No reason provided");
                line.push_str(&style.red(&format!(" — {}", clean(reason))));
            }
            out.push(line);
        }
        out
    }
}

/// `still waiting: 12/40 done, 5m elapsed`, printed when a CI log has been silent for a
/// while, so watchdogs that kill silent jobs leave the step alone.
pub fn still_waiting_line(rows: Option<&[ResultRow]>, elapsed: Duration, style: Style) -> String {
    let done = rows.map_or_else(
        || "no results yet".to_string(),
        |r| {
            let c = counts(r);
            format!("{}/{} done", c.completed, c.total)
        },
    );
    style.dim(&format!(
        "{} still waiting: {done}, {} elapsed",
        glyph(&Status::Queued),
        time::elapsed(elapsed.as_secs())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn row(id: i64, file: &str, status: Status) -> ResultRow {
        ResultRow::new(id, file, status)
    }

    fn sample() -> Vec<ResultRow> {
        let mut failed = row(2, "./flows/search.yaml", Status::Failed);
        failed.fail_reason = Some("Element not found:\n'Pay'\x1b[2J".into());
        failed.duration_seconds = Some(75.0);
        let mut retry = row(5, "./flows/search.yaml", Status::Queued);
        retry.retry_of = Some(2);
        vec![
            row(1, "./flows/login.yaml", Status::Passed),
            failed,
            row(3, "./flows/checkout.yaml", Status::Running),
            row(4, "./flows/profile.yaml", Status::Pending),
            retry,
        ]
    }

    #[test]
    fn summary_counts_cancelled_as_completed() {
        let mut rows = sample();
        rows.push(row(6, "./x.yaml", Status::Cancelled));
        insta::assert_snapshot!(summary_line(&rows, Style::PLAIN), @"3/6 │ ✓ 1 │ ✗ 1 │ ▶ 1 │ ⏸ 1 │ ⏳ 1");
    }

    #[test]
    fn tty_frame_snapshot() {
        let rows = sample();
        let f = Frame {
            rows: Some(&rows),
            quiet: false,
            realtime: Some(true),
            next: Next::In(Duration::from_millis(41_200)),
            spinner: 1,
        };
        insta::assert_snapshot!(tty_frame(&f, Style::PLAIN, 80, 40).join("\n"), @r"
        ◐ Waiting for results
          ⎿ ✓ passed   ./flows/login.yaml
            ✗ failed   ./flows/search.yaml
            ▶ running  ./flows/checkout.yaml
            ⏸ pending  ./flows/profile.yaml
            ⏳ queued  ./flows/search.yaml (retry)
          ● realtime connected  ·  next refresh in 42s
        ");
    }

    #[test]
    fn tty_frame_before_results_quiet_and_retrying() {
        let f = Frame {
            rows: None,
            quiet: false,
            realtime: Some(false),
            next: Next::Refreshing,
            spinner: 0,
        };
        insta::assert_snapshot!(tty_frame(&f, Style::PLAIN, 80, 40).join("\n"), @r"
        ◒ Waiting for results
          ⎿ Initializing
          ○ realtime connecting…  ·  refreshing…
        ");
        let rows = sample();
        let f = Frame {
            rows: Some(&rows),
            quiet: true,
            realtime: None,
            next: Next::RetryIn(Duration::from_secs(20), 2),
            spinner: 2,
        };
        insta::assert_snapshot!(tty_frame(&f, Style::PLAIN, 80, 40).join("\n"), @r"
        ◓ Waiting for results
          ⎿ 2/5 │ ✓ 1 │ ✗ 1 │ ▶ 1 │ ⏸ 1 │ ⏳ 1
          unable to fetch results (2 failed), retrying in 20s
        ");
    }

    #[test]
    fn tty_frame_fits_narrow_and_short_terminals() {
        let rows = sample();
        let f = Frame {
            rows: Some(&rows),
            quiet: false,
            realtime: None,
            next: Next::In(Duration::from_secs(3)),
            spinner: 0,
        };
        let lines = tty_frame(&f, Style { color: true }, 24, 6);
        assert!(lines.len() <= 5, "{lines:?}");
        assert!(lines.iter().all(|l| visible_width(l) <= 23), "{lines:?}");
        insta::assert_snapshot!(tty_frame(&f, Style::PLAIN, 40, 6).join("\n"), @r"
        ◒ Waiting for results
          ⎿ ✓ passed   ./flows/login.yaml
            ✗ failed   ./flows/search.yaml
            … 3 more (0 done, 1 running, 2 wai…
          next refresh in 3s
        ");
    }

    #[test]
    fn ci_log_prints_only_changes_with_no_escapes() {
        let mut log = CiLog::default();
        let mut rows: Vec<ResultRow> = sample()[..2].to_vec();
        rows[1].status = Status::Running;
        let first = log.update(&rows, false, Style::PLAIN);
        assert!(log.update(&rows, false, Style::PLAIN).is_empty());
        let second = log.update(&sample(), false, Style::PLAIN);
        let all = [first, second].concat().join("\n");
        assert!(!all.contains('\x1b') && !all.contains('\r'));
        insta::assert_snapshot!(all, @r"
        [1/2] ✓ passed   ./flows/login.yaml
        [1/2] ▶ running  ./flows/search.yaml
        [2/5] ✗ failed   ./flows/search.yaml · 1m 15s — Element not found: 'Pay'\x1b[2J
        [2/5] ▶ running  ./flows/checkout.yaml
        [2/5] ⏸ pending  ./flows/profile.yaml
        [2/5] ⏳ queued  ./flows/search.yaml (retry)
        ");
    }

    #[test]
    fn ci_log_quiet_prints_the_summary_when_it_changes() {
        let mut log = CiLog::default();
        let rows = sample();
        assert_eq!(log.update(&rows, true, Style::PLAIN).len(), 1);
        assert!(log.update(&rows, true, Style::PLAIN).is_empty());
    }

    #[test]
    fn still_waiting_line_reads_well() {
        let rows = sample();
        insta::assert_snapshot!(still_waiting_line(Some(&rows), Duration::from_secs(301), Style::PLAIN), @"⏳ still waiting: 2/5 done, 5m elapsed");
        insta::assert_snapshot!(still_waiting_line(None, Duration::from_secs(45), Style::PLAIN), @"⏳ still waiting: no results yet, 45s elapsed");
    }
}
