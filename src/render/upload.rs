//! A transfer's progress as text — an app upload, a release download — the terminal line
//! redrawn in place (bytes, rate, time left), the few plain lines of a CI log (start, every
//! 25 %, done), and the result block of `dcd upload`.

use super::Style;
use super::time::duration;
use std::time::Duration;

/// `532 B`, `12.3 KiB`, `4.0 MiB`, `1.00 GiB`.
pub fn bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f < K {
        format!("{n} B")
    } else if f < K * K {
        format!("{:.1} KiB", f / K)
    } else if f < K * K * K {
        format!("{:.1} MiB", f / K / K)
    } else {
        format!("{:.2} GiB", f / K / K / K)
    }
}

fn percent(sent: u64, total: u64) -> u64 {
    if total == 0 {
        100
    } else {
        (u128::from(sent.min(total)) * 100 / u128::from(total)) as u64
    }
}

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    fn verb(self) -> &'static str {
        match self {
            Direction::Up => "Uploading",
            Direction::Down => "Downloading",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Direction::Up => "Uploaded",
            Direction::Down => "Downloaded",
        }
    }

    fn arrow(self) -> char {
        match self {
            Direction::Up => '⇡',
            Direction::Down => '⇣',
        }
    }
}

/// The terminal line: `⇡ Uploading <what>  12.0 MiB / 48.0 MiB  25%  6.0 MiB/s  6s left`
/// (`⇣ Downloading …` the other way). The rate and time left appear once there is a rate to
/// speak of.
pub fn progress_line(
    dir: Direction,
    what: &str,
    sent: u64,
    total: u64,
    elapsed: Duration,
    s: Style,
) -> String {
    let mut line = format!(
        "{} {} {what}  {} / {}  {}%",
        dir.arrow(),
        dir.verb(),
        bytes(sent),
        bytes(total),
        percent(sent, total)
    );
    let secs = elapsed.as_secs_f64();
    if sent > 0 && secs >= 0.2 {
        let rate = sent as f64 / secs;
        line.push_str(&format!("  {}/s", bytes(rate as u64)));
        if sent < total {
            let left = (total - sent) as f64 / rate;
            line.push_str(&s.dim(&format!("  {} left", duration(left.ceil()))));
        }
    }
    line
}

/// Which CI-log lines a transfer has earned: 0 % at the start, then 25, 50, 75 and 100 %,
/// each once.
#[derive(Debug, Clone, Default)]
pub struct Milestones {
    /// The next percentage to print (`None`: nothing yet, `Some(125)`: all done).
    next: Option<u64>,
}

impl Milestones {
    /// The percentage to print for this report, if it crossed one (the highest crossed).
    pub fn crossed(&mut self, sent: u64, total: u64) -> Option<u64> {
        let p = percent(sent, total);
        let next = self.next.unwrap_or(0);
        if next > 100 || p < next {
            return None;
        }
        let hit = p / 25 * 25;
        self.next = Some(hit + 25);
        Some(hit)
    }
}

/// A CI-log line: `Uploading <what>: 50% of 48.0 MiB`, and `… done (48.0 MiB)` at 100 %.
pub fn log_line(dir: Direction, what: &str, pct: u64, total: u64) -> String {
    let verb = dir.verb();
    if pct >= 100 {
        format!("{verb} {what}: done ({})", bytes(total))
    } else {
        format!("{verb} {what}: {pct}% of {}", bytes(total))
    }
}

/// The terminal's last word on a transfer, left on screen when the live line goes.
pub fn done_line(dir: Direction, what: &str, total: u64, elapsed: Duration, s: Style) -> String {
    s.dim(&format!(
        "{} {what}: {} in {}",
        dir.done(),
        bytes(total),
        duration(elapsed.as_secs_f64())
    ))
}

/// The human result of `dcd upload`.
pub fn upload_complete(id: &str, s: Style) -> Vec<String> {
    vec![
        String::new(),
        s.green("✓ Upload complete"),
        format!("└ binary id {id}"),
        String::new(),
        s.dim("Use this id to run tests against this binary without uploading it again:"),
        format!("  dcd cloud --app-binary-id {id} path/to/flow.yaml"),
    ]
}

/// The "Uploading app binary" section of `dcd upload`.
pub fn uploading_section(file: &str, s: Style) -> Vec<String> {
    vec![s.bold("Uploading app binary"), format!("└ file {file}")]
}

#[cfg(test)]
mod tests {
    use super::*;
    const PLAIN: Style = Style::PLAIN;
    const MIB: u64 = 1 << 20;

    #[test]
    fn the_terminal_line_shows_bytes_rate_and_time_left() {
        let lines = [
            progress_line(Direction::Up, "app.apk", 0, 48 * MIB, Duration::ZERO, PLAIN),
            progress_line(
                Direction::Up,
                "app.apk",
                12 * MIB,
                48 * MIB,
                Duration::from_secs(2),
                PLAIN,
            ),
            progress_line(
                Direction::Up,
                "app.apk",
                48 * MIB,
                48 * MIB,
                Duration::from_secs(8),
                PLAIN,
            ),
            progress_line(
                Direction::Up,
                "big.zip",
                300 * MIB,
                3 << 30,
                Duration::from_secs(30),
                PLAIN,
            ),
        ];
        insta::assert_snapshot!(lines.join("\n"), @r"
        ⇡ Uploading app.apk  0 B / 48.0 MiB  0%
        ⇡ Uploading app.apk  12.0 MiB / 48.0 MiB  25%  6.0 MiB/s  6s left
        ⇡ Uploading app.apk  48.0 MiB / 48.0 MiB  100%  6.0 MiB/s
        ⇡ Uploading big.zip  300.0 MiB / 3.00 GiB  9%  10.0 MiB/s  4m 38s left
        ");
    }

    #[test]
    fn the_ci_log_gets_start_quarters_and_done_once_each() {
        let mut m = Milestones::default();
        let total = 100 * MIB;
        let printed: Vec<u64> = [0, 1, 10, 26, 27, 60, 74, 99, 100, 100]
            .iter()
            .filter_map(|p| m.crossed(p * MIB, total))
            .collect();
        assert_eq!(printed, [0, 25, 50, 75, 100]);
        let mut m = Milestones::default();
        assert_eq!(m.crossed(0, 0), Some(100), "an empty file is done at once");
        assert_eq!(m.crossed(0, 0), None);
        insta::assert_snapshot!(
            [log_line(Direction::Up, "app.apk", 0, total), log_line(Direction::Up, "app.apk", 50, total), log_line(Direction::Up, "app.apk", 100, total)].join("\n"),
            @r"
        Uploading app.apk: 0% of 100.0 MiB
        Uploading app.apk: 50% of 100.0 MiB
        Uploading app.apk: done (100.0 MiB)
        "
        );
        insta::assert_snapshot!(upload_complete("bin-7", PLAIN).join("\n"), @r"

        ✓ Upload complete
        └ binary id bin-7

        Use this id to run tests against this binary without uploading it again:
          dcd cloud --app-binary-id bin-7 path/to/flow.yaml
        ");
    }
}
