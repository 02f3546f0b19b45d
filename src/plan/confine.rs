//! The workspace boundary (docs/planning.md, "Workspace boundary").
//!
//! Rule: every file that goes into the flow zip is a regular file inside the workspace root,
//! both as written (after lexical `.`/`..` resolution) and after following symlinks. The
//! workspace root is the flow directory given, or the directory of the single flow file
//! given. Every path the planner adds to the zip — a flow, a file a flow references, an
//! `includedPaths` or `flows:` match — goes through [`Workspace::check`], which records one
//! line per refused path naming the path and what referenced it; planning then fails with
//! all of them ([`Workspace::result`]) before anything is uploaded. The zip builder checks
//! every path again as it reads it.

use super::PlanError;
use foldhash::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The first line of the error listing refused paths; the workspace root follows.
pub const REFUSED_HEADER: &str = "The following files cannot go into the flow zip: every file \
                                  must be a regular file inside the workspace";

/// Why a path may not go into the zip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Outside the workspace root: as written (`real` is `None`), or once symlinks are
    /// followed (`real` is where it leads).
    Outside {
        real: Option<PathBuf>,
    },
    Directory,
    /// A FIFO, a device, a socket.
    NotRegular,
    /// Its metadata cannot be read (a dangling link, no permission).
    Unreadable(String),
}

impl Refusal {
    /// "a file outside the workspace: /etc/passwd", and so on: what the path is.
    pub fn describe(&self, path: &Path) -> String {
        let p = path.display();
        match self {
            Refusal::Outside { real: None } => format!("a file outside the workspace: {p}"),
            Refusal::Outside { real: Some(r) } => format!(
                "a file outside the workspace: {p} (a link to {})",
                r.display()
            ),
            Refusal::Directory => format!("a directory, not a file: {p}"),
            Refusal::NotRegular => format!("a path that is not a regular file: {p}"),
            Refusal::Unreadable(e) => format!("a file that cannot be read: {p} ({e})"),
        }
    }
}

/// What brought a path into the zip, for the refusal line.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// A command of a flow file (`runFlow`, `runScript`, `addMedia`, `assertScreenshot`, in
    /// the steps or in `onFlowStart`/`onFlowComplete`).
    Command { flow: &'a Path, command: &'a str },
    /// A pattern of a workspace config key (`flows`, `includedPaths`).
    Pattern { key: &'a str, pattern: &'a str },
    /// A flow of the workspace directory, or the single flow file given.
    Flow,
    /// The zip builder's own check of a plan it was handed.
    Zip,
}

/// The one line of a refused path.
pub fn refusal_line(origin: Origin, path: &Path, refusal: &Refusal) -> String {
    let what = refusal.describe(path);
    match origin {
        Origin::Command { flow, command } => format!(
            "Flow file \"{}\" has a command \"{command}\" that references {what}",
            flow.display()
        ),
        Origin::Pattern { key, pattern } => format!("{key} pattern \"{pattern}\" matches {what}"),
        Origin::Flow => format!("The flow is {what}"),
        Origin::Zip => format!("The flow zip would hold {what}"),
    }
}

/// The workspace root and the paths refused so far.
#[derive(Debug)]
pub struct Workspace {
    /// Absolute and lexically normalised, as the planner's paths are.
    root: PathBuf,
    /// `root` with symlinks followed.
    real: PathBuf,
    /// Directories with symlinks followed, so a file costs one `lstat` when its directory was
    /// seen before.
    dirs: HashMap<PathBuf, Option<PathBuf>>,
    /// Every path's answer, so a sub-flow that 5,000 flows reference is looked at once (a
    /// planning pass takes microseconds between the checks; the zip builder's own
    /// [`Workspace`] looks again as it reads).
    /// `Ok(None)`: admitted, and its real path is the path itself (no link on the way).
    answers: HashMap<PathBuf, Result<Option<PathBuf>, Refusal>>,
    refused: Vec<String>,
    seen: HashSet<String>,
}

impl Workspace {
    /// The workspace rooted at `root` (absolute, normalised; it must exist).
    pub fn new(root: &Path) -> Result<Workspace, PlanError> {
        let real = fs::canonicalize(root)
            .map_err(|e| PlanError(format!("Failed to read {}: {e}", root.display())))?;
        Ok(Workspace {
            root: root.to_path_buf(),
            real,
            dirs: HashMap::default(),
            answers: HashMap::default(),
            refused: Vec::new(),
            seen: HashSet::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether `path` may go into the zip; `Ok` carries the path with symlinks followed.
    pub fn admit(&mut self, path: &Path) -> Result<PathBuf, Refusal> {
        let remembered = |a: &Result<Option<PathBuf>, Refusal>| match a {
            Ok(real) => Ok(real.clone().unwrap_or_else(|| path.to_path_buf())),
            Err(r) => Err(r.clone()),
        };
        if let Some(answer) = self.answers.get(path) {
            return remembered(answer);
        }
        let answer = self.look(path).map(|real| (real != path).then_some(real));
        let out = remembered(&answer);
        self.answers.insert(path.to_path_buf(), answer);
        out
    }

    /// Records that a directory listing showed `path` as a regular file, not a link: its
    /// answer is then worked out from its directory alone (whose real path is looked up once),
    /// so a directory of thousands of flows costs no `lstat` per flow. What [`admit`] would
    /// refuse (outside the root, a directory whose real path leaves the workspace) is left for
    /// it to look at.
    ///
    /// [`admit`]: Self::admit
    pub fn listed_file(&mut self, path: &Path) {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return;
        };
        if !path.starts_with(&self.root) {
            return;
        }
        let Some(real) = self.real_dir(dir).map(|d| d.join(name)) else {
            return;
        };
        if real.starts_with(&self.real)
            && let std::collections::hash_map::Entry::Vacant(slot) =
                self.answers.entry(path.to_path_buf())
        {
            slot.insert(Ok((real != path).then_some(real)));
        }
    }

    /// `dir` with symlinks followed (`None` when that fails), looked up once.
    fn real_dir(&mut self, dir: &Path) -> Option<PathBuf> {
        if let Some(r) = self.dirs.get(dir) {
            return r.clone();
        }
        let r = fs::canonicalize(dir).ok();
        self.dirs.insert(dir.to_path_buf(), r.clone());
        r
    }

    /// [`admit`](Self::admit)'s look at the file system.
    fn look(&mut self, path: &Path) -> Result<PathBuf, Refusal> {
        if !path.starts_with(&self.root) {
            return Err(Refusal::Outside { real: None });
        }
        let (real, meta) = self
            .real_path(path)
            .map_err(|e| Refusal::Unreadable(e.to_string()))?;
        if !real.starts_with(&self.real) {
            return Err(Refusal::Outside { real: Some(real) });
        }
        let meta = match meta {
            Some(m) => m,
            None => fs::metadata(&real).map_err(|e| Refusal::Unreadable(e.to_string()))?,
        };
        if meta.is_dir() {
            Err(Refusal::Directory)
        } else if !meta.is_file() {
            Err(Refusal::NotRegular)
        } else {
            Ok(real)
        }
    }

    /// [`admit`](Self::admit), recording a refusal as a line naming `origin`: true when the
    /// path may go into the zip.
    pub fn check(&mut self, path: &Path, origin: Origin) -> bool {
        match self.admit(path) {
            Ok(_) => true,
            Err(r) => {
                self.refuse(refusal_line(origin, path, &r));
                false
            }
        }
    }

    /// Records a refusal line (duplicates once).
    pub fn refuse(&mut self, line: String) {
        if self.seen.insert(line.clone()) {
            self.refused.push(line);
        }
    }

    /// The error listing every refused path, if any was refused.
    pub fn error(&self) -> Option<String> {
        (!self.refused.is_empty()).then(|| {
            format!(
                "{REFUSED_HEADER} ({}):\n{}",
                self.root.display(),
                self.refused.join("\n")
            )
        })
    }

    /// Fails when a path was refused.
    pub fn result(&self) -> Result<(), PlanError> {
        self.error().map_or(Ok(()), |e| Err(PlanError(e)))
    }

    /// `path` with symlinks followed: a file that is not itself a link resolves through its
    /// directory (cached); a link is resolved whole. With it, the metadata of what it leads
    /// to when that is already known (the path is no link: its own `lstat` says).
    fn real_path(&mut self, path: &Path) -> std::io::Result<(PathBuf, Option<fs::Metadata>)> {
        let meta = fs::symlink_metadata(path)?;
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Ok((fs::canonicalize(path)?, None));
        };
        if meta.file_type().is_symlink() {
            return Ok((fs::canonicalize(path)?, None));
        }
        match self.real_dir(dir) {
            Some(d) => Ok((d.join(name), Some(meta))),
            None => Ok((fs::canonicalize(path)?, None)),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Tmp(PathBuf);
    impl Tmp {
        fn new(name: &str) -> Tmp {
            let d = std::env::temp_dir().join(format!("dcd-confine-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&d);
            fs::create_dir_all(d.join("ws/sub")).unwrap();
            fs::create_dir_all(d.join("outside")).unwrap();
            fs::write(d.join("ws/a.js"), "a").unwrap();
            fs::write(d.join("outside/secret"), "s").unwrap();
            Tmp(d)
        }
        fn ws(&self) -> Workspace {
            Workspace::new(&self.0.join("ws")).unwrap()
        }
    }
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_listed_file_gets_the_answer_a_look_would_give() {
        let t = Tmp::new("listed");
        // The workspace reached through a link: real paths differ from the paths as written.
        symlink(t.0.join("ws"), t.0.join("ws-link")).unwrap();
        fs::create_dir_all(t.0.join("ws/flows")).unwrap();
        fs::write(t.0.join("ws/flows/f.yaml"), "- a\n").unwrap();
        symlink(t.0.join("outside"), t.0.join("ws/away")).unwrap();
        for root in ["ws", "ws-link"] {
            let r = t.0.join(root);
            let paths = [
                r.join("a.js"),
                r.join("flows/f.yaml"),
                r.join("away/secret"),
                t.0.join("outside/secret"),
                r.join("gone.yaml"),
            ];
            let mut listed = Workspace::new(&r).unwrap();
            let mut looked = Workspace::new(&r).unwrap();
            for p in &paths {
                // What a listing would show as a regular file (not a link).
                if fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file()) {
                    listed.listed_file(p);
                }
                assert_eq!(listed.admit(p), looked.admit(p), "{}", p.display());
            }
        }
    }

    #[test]
    fn a_regular_file_inside_is_admitted() {
        let t = Tmp::new("inside");
        let mut ws = t.ws();
        assert!(ws.admit(&t.0.join("ws/a.js")).is_ok());
        // A link that stays inside is fine too.
        symlink(t.0.join("ws/a.js"), t.0.join("ws/sub/link.js")).unwrap();
        assert!(ws.admit(&t.0.join("ws/sub/link.js")).is_ok());
        assert!(ws.result().is_ok());
    }

    #[test]
    fn lexical_escapes_and_absolute_paths_are_outside() {
        let t = Tmp::new("lexical");
        let mut ws = t.ws();
        assert_eq!(
            ws.admit(&t.0.join("outside/secret")),
            Err(Refusal::Outside { real: None })
        );
        assert_eq!(
            ws.admit(Path::new("/etc/passwd")),
            Err(Refusal::Outside { real: None })
        );
        // A sibling whose name merely starts like the root is not inside.
        fs::create_dir_all(t.0.join("ws-other")).unwrap();
        fs::write(t.0.join("ws-other/x"), "x").unwrap();
        assert!(ws.admit(&t.0.join("ws-other/x")).is_err());
    }

    #[test]
    fn links_leading_outside_are_outside_with_their_target() {
        let t = Tmp::new("links");
        symlink(t.0.join("outside/secret"), t.0.join("ws/evil.js")).unwrap();
        symlink(t.0.join("outside"), t.0.join("ws/linkdir")).unwrap();
        let mut ws = t.ws();
        let real = fs::canonicalize(t.0.join("outside/secret")).unwrap();
        assert_eq!(
            ws.admit(&t.0.join("ws/evil.js")),
            Err(Refusal::Outside {
                real: Some(real.clone())
            })
        );
        // Through a linked directory: the file itself is no link.
        assert_eq!(
            ws.admit(&t.0.join("ws/linkdir/secret")),
            Err(Refusal::Outside { real: Some(real) })
        );
    }

    #[test]
    fn directories_and_special_files_are_refused_with_their_own_words() {
        let t = Tmp::new("kinds");
        let mut ws = t.ws();
        assert_eq!(ws.admit(&t.0.join("ws/sub")), Err(Refusal::Directory));
        assert_eq!(ws.admit(&t.0.join("ws")), Err(Refusal::Directory));
        let fifo = t.0.join("ws/pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            assert_eq!(ws.admit(&fifo), Err(Refusal::NotRegular));
        }
        symlink(t.0.join("ws/nowhere"), t.0.join("ws/dangling")).unwrap();
        assert!(matches!(
            ws.admit(&t.0.join("ws/dangling")),
            Err(Refusal::Unreadable(_))
        ));
    }

    #[test]
    fn refusals_are_listed_one_line_each_naming_the_origin() {
        let t = Tmp::new("lines");
        let mut ws = t.ws();
        let flow = t.0.join("ws/f.yaml");
        let origin = Origin::Command {
            flow: &flow,
            command: "addMedia",
        };
        assert!(!ws.check(Path::new("/etc/passwd"), origin));
        assert!(!ws.check(Path::new("/etc/passwd"), origin));
        assert!(!ws.check(
            &t.0.join("ws/sub"),
            Origin::Pattern {
                key: "includedPaths",
                pattern: "*"
            }
        ));
        assert!(ws.check(&t.0.join("ws/a.js"), origin));
        let root = t.0.join("ws");
        assert_eq!(
            ws.result().unwrap_err().0,
            format!(
                "{REFUSED_HEADER} ({}):\n\
                 Flow file \"{}\" has a command \"addMedia\" that references a file outside the \
                 workspace: /etc/passwd\n\
                 includedPaths pattern \"*\" matches a directory, not a file: {}",
                root.display(),
                flow.display(),
                root.join("sub").display()
            )
        );
    }
}
