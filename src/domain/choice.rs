//! Closed sets of values a flag may take (`--report junit`, `--color never`), declared once,
//! and the downloads after a run those flags ask for ([`DownloadRequest`]).
//!
//! [`choice!`] defines the enum together with its spellings: the flag table lists `T::NAMES`
//! as the accepted values (so help and validation show exactly these), and the typed options
//! turn the validated text back into `T` with `T::from_name`. Adding a value is one line; the
//! table and the enum cannot drift apart. The macro is path-scoped: a module that declares a
//! choice names it `crate::domain::choice::choice!`, so the import is visible like any other.

use std::path::PathBuf;

/// Defines a `Copy` enum whose variants are spelled by string literals, with `NAMES`
/// (in declaration order, which is also help order), `name()` and `from_name()`.
macro_rules! choice {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            /// Every spelling, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($s),+];

            /// The spelling on the command line and on the wire.
            pub fn name(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }

            /// The value spelled `s` exactly (case-sensitive), if any.
            pub fn from_name(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$var),)+ _ => None }
            }
        }
    };
}

pub(crate) use choice;

choice! {
    /// `--runner-type`: the runner hardware.
    pub enum RunnerType { Default = "default", M4 = "m4", M1 = "m1", Gpu1 = "gpu1", Cpu1 = "cpu1" }
}

choice! {
    /// `--orientation`: Android screen orientation in degrees.
    pub enum Orientation { Portrait = "0", Landscape = "90" }
}

choice! {
    /// `--render-engine`: the Android emulator's software renderer.
    pub enum RenderEngine { Lavapipe = "lavapipe", Swiftshader = "swiftshader" }
}

choice! {
    /// `--download-artifacts ALL|FAILED`.
    pub enum Which { All = "ALL", Failed = "FAILED" }
}

choice! {
    /// `--report allure|html|html-detailed|junit`. `HtmlDetailed` is the same download as
    /// `Html`: the server picks the detail level from the `report` value stored at submission.
    pub enum ReportKind {
        Allure = "allure",
        Html = "html",
        HtmlDetailed = "html-detailed",
        Junit = "junit",
    }
}

impl ReportKind {
    /// The TYPE of the success line and warnings: `JUNIT`, `ALLURE`, `HTML`.
    pub fn label(self) -> &'static str {
        match self {
            ReportKind::Junit => "JUNIT",
            ReportKind::Allure => "ALLURE",
            ReportKind::Html | ReportKind::HtmlDetailed => "HTML",
        }
    }

    /// The file when its `--*-path` flag is not given (the TS CLI's defaults).
    pub fn default_path(self) -> &'static str {
        match self {
            ReportKind::Junit => "./report.xml",
            ReportKind::Allure => "./report.html",
            ReportKind::Html | ReportKind::HtmlDetailed => "./report.zip",
        }
    }
}

/// What to download after a run (`--download-artifacts`, `--report`), and where (paths as
/// the user gave them). The typed options build it; `report` downloads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownloadRequest {
    pub artifacts: Option<(Which, PathBuf)>,
    pub report: Option<(ReportKind, PathBuf)>,
}

impl DownloadRequest {
    pub fn is_empty(&self) -> bool {
        self.artifacts.is_none() && self.report.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in RunnerType::NAMES {
            assert_eq!(RunnerType::from_name(n).map(RunnerType::name), Some(*n));
        }
        assert_eq!(Orientation::from_name("90"), Some(Orientation::Landscape));
        assert_eq!(RenderEngine::from_name("Lavapipe"), None, "case-sensitive");
    }
}
