//! The text of the events both human sinks (terminal and log) print the same way. Only the
//! wait differs between them.

use super::event::{Event, Finished};
use crate::render::{Style, cloud, table};
use crate::term::{Caps, err_line, out_line, out_lines, warn};

/// Prints `ev` if it is one of the shared events; returns false for the wait's events,
/// which the sink handles itself.
pub fn print(ev: &Event<'_>, caps: &Caps) -> bool {
    let s = caps.out;
    match ev {
        Event::Report(lines) => out_lines(lines),
        Event::Info(msg) => out_line(&format!("ℹ {msg}")),
        Event::Note(msg) => out_line(&s.dim(msg)),
        Event::Warning(msg) => warn(msg, caps.err),
        Event::Notices(list) => out_lines(&cloud::notices(list, s)),
        Event::Planned(job) => out_lines(&cloud::job_block(job, s)),
        Event::DryRun(listing) => {
            warn("Dry run mode — no tests were actually triggered", caps.err);
            out_lines(&cloud::dry_run(listing, s));
        }
        Event::Matrix(est) => out_lines(&cloud::matrix_estimate(est, s)),
        Event::Submitted(sub) => out_lines(&cloud::submitted(sub, s)),
        Event::Downloaded { line, spaced } => {
            if *spaced {
                out_line("");
            }
            out_line(line);
        }
        Event::WaitStarted { .. }
        | Event::Fetching
        | Event::Polled { .. }
        | Event::PollFailed { .. }
        | Event::Finished(_)
        | Event::WaitAborted
        | Event::Transfer { .. } => return false,
    }
    true
}

/// The end of a wait: the final table (inside a `::group::` on GitHub Actions, followed by
/// one `::error` annotation per failed flow), then the verdict lines.
pub fn finished(f: &Finished<'_>, caps: &Caps) {
    let s: Style = caps.out;
    out_line("");
    if caps.github_actions {
        out_line("::group::devicecloud.dev results");
    }
    for l in table::final_table(f.rows, s) {
        out_line(&l);
    }
    if caps.github_actions {
        out_line("::endgroup::");
        for l in table::gha_annotations(f.latest) {
            out_line(&l);
        }
    }
    out_line("");
    for l in table::verdict_lines(f.verdict, f.latest, f.console_url, f.superseded_by, s) {
        out_line(&l);
    }
    out_line("");
}

/// A failed poll in log form (stderr): when the next try is and how many failed so far.
pub fn poll_failed(caps: &Caps, error: &str, failures: u32, retry_in_secs: f64) {
    err_line(&caps.err.yellow(&format!(
        "⚠ unable to fetch results, trying again in {}s ({failures}/{}): {error}",
        retry_in_secs.ceil(),
        crate::clock::MAX_SEQUENTIAL_FAILURES
    )));
}
