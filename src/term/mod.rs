//! The terminal: what it can do (TTY, CI, colour, size) and writing to it.
//!
//! Colour and animation are separate switches. Colour follows `--color`, NO_COLOR,
//! CLICOLOR_FORCE (or FORCE_COLOR, which CI systems set), CLICOLOR and TERM=dumb; animation needs stdout to be a TTY and no CI
//! marker (docs/environment.md). All terminal writes go through one lock, so the Ctrl-C
//! handler can erase the live frame and print its hint without interleaving with a redraw.

pub mod live;
pub mod prompt;

pub use live::{Live, err_line, out_line, out_lines, stdout_failure, warn};

use crate::render::Style;
use std::io::IsTerminal;

crate::domain::choice::choice! {
    /// `--color auto|always|never`.
    pub enum ColorChoice { Auto = "auto", Always = "always", Never = "never" }
}

/// The 15 CI marker variables the TS CLI checks (docs/environment.md, "CI detection").
pub const CI_VARS: [&str; 15] = [
    "CI",
    "CONTINUOUS_INTEGRATION",
    "BUILD_NUMBER",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "CIRCLECI",
    "TRAVIS",
    "BUILDKITE",
    "DRONE",
    "TEAMCITY_VERSION",
    "TF_BUILD",
    "JENKINS_URL",
    "BITBUCKET_BUILD_NUMBER",
    "APPVEYOR",
    "CODEBUILD_BUILD_ID",
];

/// The TS CLI's `isCI()`: a marker set to anything but `""`, `"false"` or `"0"` (exact
/// compare), else "stdout is not a TTY".
pub fn is_ci(env: &dyn Fn(&str) -> Option<String>, stdout_tty: bool) -> bool {
    CI_VARS
        .iter()
        .any(|k| env(k).is_some_and(|v| !matches!(v.as_str(), "" | "false" | "0")))
        || !stdout_tty
}

/// Whether to paint a stream that is (`is_tty`) a terminal. `FORCE_COLOR` counts like
/// `CLICOLOR_FORCE`; `0` (and `false` for `FORCE_COLOR`) forces nothing.
pub fn use_color(choice: ColorChoice, env: &dyn Fn(&str) -> Option<String>, is_tty: bool) -> bool {
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    let forced = set("CLICOLOR_FORCE").is_some_and(|v| v != "0")
        || set("FORCE_COLOR").is_some_and(|v| !matches!(v.trim(), "0" | "false"));
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if set("NO_COLOR").is_some() {
                false
            } else if forced {
                true
            } else if env("TERM").is_some_and(|t| t == "dumb" || t == "unknown")
                || env("CLICOLOR").is_some_and(|v| v == "0")
            {
                false
            } else {
                is_tty
            }
        }
    }
}

/// What the output streams are and can do, decided once per command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Caps {
    pub stdout_tty: bool,
    pub ci: bool,
    /// Animate (spinner, redraw, ticker): stdout is a TTY and not CI.
    pub interactive: bool,
    pub out: Style,
    pub err: Style,
    pub width: usize,
    pub height: usize,
    /// `GITHUB_ACTIONS=true`: groups, annotations, step summary.
    pub github_actions: bool,
}

/// Columns and rows of the terminal on `fd` (1 stdout, 2 stderr), if it is one.
pub fn size(fd: i32) -> Option<(usize, usize)> {
    use crate::platform::{Stream, terminal_size};
    terminal_size(if fd == 2 {
        Stream::Stderr
    } else {
        Stream::Stdout
    })
}

impl Caps {
    pub fn detect(choice: ColorChoice) -> Caps {
        use crate::platform::{Stream, enable_vt};
        let env = |k: &str| std::env::var(k).ok();
        let stdout_tty = std::io::stdout().is_terminal();
        let stderr_tty = std::io::stderr().is_terminal();
        // A terminal that cannot read VT sequences (an old Windows console) gets neither
        // colour nor redraws: the log form, as in CI.
        let out_vt = !stdout_tty || enable_vt(Stream::Stdout);
        let err_vt = !stderr_tty || enable_vt(Stream::Stderr);
        let ci = is_ci(&env, stdout_tty);
        let cols_env = env("COLUMNS").and_then(|c| c.trim().parse::<usize>().ok());
        let (width, height) = size(1)
            .or_else(|| size(2))
            .unwrap_or((cols_env.unwrap_or(80), 24));
        Caps {
            stdout_tty,
            ci,
            interactive: stdout_tty && out_vt && !ci,
            out: Style {
                color: out_vt && use_color(choice, &env, stdout_tty),
            },
            err: Style {
                color: err_vt && use_color(choice, &env, stderr_tty),
            },
            width: width.max(20),
            height: height.max(5),
            github_actions: env("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn is_ci_matches_the_spec_unit_cases() {
        assert!(is_ci(&env(&[("CI", "true")]), true));
        assert!(is_ci(&env(&[("GITHUB_ACTIONS", "true")]), true));
        assert!(!is_ci(&env(&[("CI", "false")]), true));
        assert!(!is_ci(&env(&[("CI", "0")]), true));
        assert!(!is_ci(&env(&[]), true));
        assert!(is_ci(&env(&[]), false));
        assert!(is_ci(&env(&[("CI", "FALSE")]), true), "comparison is exact");
        assert!(is_ci(&env(&[("CODEBUILD_BUILD_ID", "x")]), true));
    }

    #[test]
    fn colour_rules() {
        use ColorChoice::*;
        assert!(use_color(Auto, &env(&[]), true));
        assert!(!use_color(Auto, &env(&[]), false));
        assert!(!use_color(Auto, &env(&[("NO_COLOR", "1")]), true));
        assert!(
            use_color(Auto, &env(&[("NO_COLOR", "")]), true),
            "empty NO_COLOR is unset"
        );
        assert!(use_color(Auto, &env(&[("CLICOLOR_FORCE", "1")]), false));
        assert!(!use_color(Auto, &env(&[("CLICOLOR_FORCE", "0")]), false));
        assert!(!use_color(
            Auto,
            &env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]),
            true
        ));
        assert!(!use_color(Auto, &env(&[("TERM", "dumb")]), true));
        assert!(!use_color(Auto, &env(&[("CLICOLOR", "0")]), true));
        assert!(use_color(Always, &env(&[("NO_COLOR", "1")]), false));
        assert!(use_color(Auto, &env(&[("FORCE_COLOR", "1")]), false));
        assert!(use_color(Auto, &env(&[("FORCE_COLOR", "3")]), false));
        assert!(!use_color(Auto, &env(&[("FORCE_COLOR", "0")]), false));
        assert!(!use_color(Auto, &env(&[("FORCE_COLOR", "false")]), false));
        assert!(!use_color(Auto, &env(&[("FORCE_COLOR", "")]), false));
        assert!(!use_color(
            Auto,
            &env(&[("NO_COLOR", "1"), ("FORCE_COLOR", "1")]),
            true
        ));
        assert!(!use_color(Never, &env(&[("FORCE_COLOR", "1")]), true));
        assert!(!use_color(Never, &env(&[]), true));
    }
}
