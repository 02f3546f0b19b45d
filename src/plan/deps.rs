//! The dependency walk (docs/planning.md, "Dependencies") and the per-path cache of parsed
//! flow files.
//!
//! Everything a flow needs on the device must be in the flow zip: sub-flows (`runFlow`),
//! scripts (`runScript`), media (`addMedia`) and screenshot baselines (`assertScreenshot`),
//! found in the steps, in nested `commands` lists and in the header's `onFlowStart` /
//! `onFlowComplete`. Referenced YAML files are walked in turn, relative to their own
//! directory. A missing file is collected, not fatal at once, so the user sees every broken
//! reference in one run. The walk is one breadth-first pass over all flows with a global
//! visited set, so shared sub-flows are parsed once and cycles terminate.

use super::confine::{Origin, Workspace};
use super::glob::normalize;
use super::yaml::{FlowFile, js_truthy, parse_flow_text};
use foldhash::{HashMap, HashSet};
use serde_json::Value;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Commands whose value names a file that must exist.
const FILE_COMMANDS: [&str; 3] = ["addMedia", "runFlow", "runScript"];
/// Extensions `assertScreenshot` accepts as given; anything else gets `.png` appended.
const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "gif", "bmp"];

/// The header text of the missing-files error.
pub const MISSING_FILES_HEADER: &str =
    "The following flow files are not present in the filesystem: \n";

/// `.yaml`/`.yml` and no path segment ending `.app` (TS `isFlowFile`).
pub fn is_flow_file(path: &Path) -> bool {
    let s = path.to_string_lossy();
    if path
        .components()
        .any(|c| c.as_os_str().to_string_lossy().ends_with(".app"))
    {
        return false;
    }
    s.ends_with(".yaml") || s.ends_with(".yml")
}

/// What planning keeps of a parsed flow file: its header, whether it is shaped like a
/// workspace config, and what its steps reference (or why they cannot be walked). Not the
/// steps themselves: for thousands of flows they were most of planning's memory.
#[derive(Debug)]
pub struct Parsed {
    pub header: Option<super::Header>,
    /// See [`super::is_config_shaped`].
    pub config_shaped: bool,
    /// [`scan_file`]'s answer.
    pub scan: Result<Scan, String>,
    /// The file's bytes, when the cache keeps them ([`Cache::keeping_sources`]).
    pub source: Option<Box<[u8]>>,
}

impl Parsed {
    fn of(path: &Path, file: FlowFile) -> Parsed {
        // Kept for the whole plan, thousands of them: no spare capacity.
        let scan = scan_file(path, &file).map(|mut s| {
            s.files.shrink_to_fit();
            s
        });
        let config_shaped = super::config_shaped(&file);
        Parsed {
            header: file.header.as_ref().map(super::Header::of),
            config_shaped,
            scan,
            source: None,
        }
    }
}

/// Parsed flow files by absolute path; each file is read and parsed at most once. A failure
/// is cached too, as the full user-facing message (`Error parsing YAML file <path>: <err>`).
#[derive(Default)]
pub struct Cache {
    map: HashMap<PathBuf, Arc<Result<Parsed, String>>>,
    keep_sources: bool,
}

impl Cache {
    /// A cache that keeps each file's bytes (when they are UTF-8, as the parser read them) for
    /// [`take_sources`](Self::take_sources).
    pub fn keeping_sources(keep: bool) -> Cache {
        Cache {
            keep_sources: keep,
            ..Cache::default()
        }
    }

    /// The kept bytes of every file read, by path, moved out of the cache.
    pub fn take_sources(&mut self) -> HashMap<PathBuf, Box<[u8]>> {
        let mut out = HashMap::default();
        for (path, entry) in &mut self.map {
            if let Some(Ok(parsed)) = Arc::get_mut(entry)
                && let Some(bytes) = parsed.source.take()
            {
                out.insert(path.clone(), bytes);
            }
        }
        out
    }

    /// The parsed file (read on first use).
    pub fn get(&mut self, path: &Path) -> Arc<Result<Parsed, String>> {
        if let Some(hit) = self.map.get(path) {
            return hit.clone();
        }
        let parsed = Arc::new(read_and_parse(path, self.keep_sources));
        self.map.insert(path.to_path_buf(), parsed.clone());
        parsed
    }

    /// The header of the parsed file at `path`, moved out of the cache (copied if the parse
    /// is shared): for the plan's metadata, which keeps it from then on. A later [`get`]
    /// sees no header.
    ///
    /// [`get`]: Self::get
    pub fn take_header(&mut self, path: &Path) -> Result<Option<super::Header>, String> {
        self.get(path);
        let Some(entry) = self.map.get_mut(path) else {
            return Ok(None);
        };
        match Arc::get_mut(entry) {
            Some(Ok(parsed)) => Ok(parsed.header.take()),
            Some(Err(e)) => Err(e.clone()),
            None => match entry.as_ref() {
                Ok(parsed) => Ok(parsed.header.clone()),
                Err(e) => Err(e.clone()),
            },
        }
    }

    /// Reads and parses `paths` not yet cached, on several threads (the planner's hot spot for
    /// big workspaces).
    pub fn prefill(&mut self, paths: &[PathBuf]) {
        let todo: Vec<&PathBuf> = paths
            .iter()
            .filter(|p| !self.map.contains_key(*p))
            .collect();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8);
        if todo.len() < 64 || threads < 2 {
            for p in todo {
                self.get(p);
            }
            return;
        }
        let chunk = todo.len().div_ceil(threads);
        let keep = self.keep_sources;
        let results: Vec<Vec<(PathBuf, Result<Parsed, String>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = todo
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        // Existence answers are shared by this thread's files (5,000 flows
                        // that name one sub-flow look it up once).
                        let _scope = WalkScope::start();
                        part.iter()
                            .map(|p| ((*p).clone(), read_and_parse(p, keep)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (p, r) in results.into_iter().flatten() {
            self.map.insert(p, Arc::new(r));
        }
    }
}

/// The most dcd reads of one flow or workspace config file.
pub const MAX_YAML_BYTES: u64 = 4 << 20;

/// The text of a flow or workspace config file: a regular file of at most
/// [`MAX_YAML_BYTES`]. Errors are the complete one-line message naming the file.
pub fn read_yaml_text(path: &Path) -> Result<String, String> {
    read_yaml(path).map(|(text, _)| text)
}

/// [`read_yaml_text`], and whether the text is the file's bytes unchanged (valid UTF-8).
fn read_yaml(path: &Path) -> Result<(String, bool), String> {
    use crate::fsio::{ReadError, read_capped};
    let shown = path.display();
    match read_capped(path, MAX_YAML_BYTES) {
        Ok(bytes) => Ok(match String::from_utf8(bytes) {
            Ok(text) => (text, true),
            Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), false),
        }),
        Err(ReadError::Io(e)) => Err(format!("Error parsing YAML file {shown}: {e}")),
        Err(e @ ReadError::NotAFile) => Err(format!("Error reading YAML file {shown}: {e}")),
        Err(e @ ReadError::TooLarge { .. }) => Err(format!(
            "Error reading YAML file {shown}: {e}, the most dcd reads from a flow or config file"
        )),
    }
}

fn read_and_parse(path: &Path, keep_source: bool) -> Result<Parsed, String> {
    let (text, exact) = read_yaml(path)?;
    let mut parsed = parse_flow_text(&text)
        .map(|f| Parsed::of(path, f))
        .map_err(|e| format!("Error parsing YAML file {}: {e}", path.display()))?;
    if keep_source && exact {
        parsed.source = Some(text.into_bytes().into_boxed_slice());
    }
    Ok(parsed)
}

/// One existing path a command references.
#[derive(Debug, PartialEq)]
pub struct Ref {
    /// Absolute, normalised.
    pub path: PathBuf,
    /// The command that names it (`runFlow`, `addMedia`, `assertScreenshot`, …).
    pub command: &'static str,
}

/// What one file references.
#[derive(Debug, Default, PartialEq)]
pub struct Scan {
    /// Existing referenced paths, in order of appearance (not yet checked against the
    /// workspace: a directory or a file outside it is refused by the walk).
    pub files: Vec<Ref>,
    /// One `Flow file "…" has a command "…" that references a non-existent file …` line per
    /// missing reference.
    pub missing: Vec<String>,
}

/// The references of one parsed file at `path`. A steps section that is not a list (or a
/// nested `commands` that cannot be iterated) is the "Expected an array of steps" error.
pub fn scan_file(path: &Path, doc: &FlowFile) -> Result<Scan, String> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let mut scan = Scan::default();
    let mut sections: Vec<(&str, &Value)> = vec![("Test Steps", &doc.steps)];
    if let Some(h) = &doc.header {
        for (key, label) in [
            ("onFlowStart", "On Flow Start"),
            ("onFlowComplete", "On Flow Complete"),
        ] {
            if let Some(v) = h.get(key).filter(|v| js_truthy(v)) {
                sections.push((label, v));
            }
        }
    }
    for (label, steps) in sections {
        if check_steps(steps, path, dir, &mut scan).is_err() {
            return Err(format!(
                "Error processing dependencies for file {} in the {label} section. Expected an \
                 array of steps but received: {}",
                path.display(),
                serde_json::to_string(steps).unwrap_or_default()
            ));
        }
    }
    Ok(scan)
}

/// Err(()) when something that must be a list of steps is not.
fn check_steps(steps: &Value, flow: &Path, dir: &Path, scan: &mut Scan) -> Result<(), ()> {
    let Value::Array(list) = steps else {
        return Err(());
    };
    for command in list {
        match command {
            Value::Object(m) => {
                for (name, value) in m {
                    if let Some(cmd) = FILE_COMMANDS.iter().find(|c| **c == name.as_str()) {
                        check_refs(cmd, value, flow, dir, scan)?;
                    } else if name == "assertScreenshot" {
                        screenshot(value, dir, scan);
                    }
                    nested_commands(value, flow, dir, scan)?;
                }
            }
            Value::Array(items) => {
                for item in items {
                    nested_commands(item, flow, dir, scan)?;
                }
            }
            // `Object.entries(null)` throws in the TS walk.
            Value::Null => return Err(()),
            _ => {}
        }
    }
    Ok(())
}

/// A map value with a `commands` list (`runFlow` inline, `repeat`, `retry`, …) is walked too.
fn nested_commands(value: &Value, flow: &Path, dir: &Path, scan: &mut Scan) -> Result<(), ()> {
    let Some(commands) = value.as_object().and_then(|m| m.get("commands")) else {
        return Ok(());
    };
    match commands {
        Value::Array(_) => check_steps(commands, flow, dir, scan),
        // Iterating a string gives strings, which are skipped; falsy values are skipped.
        Value::String(_) => Ok(()),
        v if !js_truthy(v) => Ok(()),
        _ => Err(()),
    }
}

fn check_refs(
    cmd: &'static str,
    value: &Value,
    flow: &Path,
    dir: &Path,
    scan: &mut Scan,
) -> Result<(), ()> {
    let mut one = |rel: &str| {
        if rel.is_empty() {
            return;
        }
        let abs = normalize(&dir.join(rel));
        if exists(&abs) {
            scan.files.push(Ref {
                path: abs,
                command: cmd,
            });
        } else {
            scan.missing.push(format!(
                "Flow file \"{}\" has a command \"{cmd}\" that references a non-existent file {}",
                flow.display(),
                serde_json::to_string(value).unwrap_or_default()
            ));
        }
    };
    match value {
        Value::String(s) => one(s),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => one(s),
                    // `path.resolve(dir, <non-string>)` throws in the TS walk.
                    _ => return Err(()),
                }
            }
        }
        Value::Object(m) => match m.get("file") {
            Some(Value::String(s)) => one(s),
            Some(v) if js_truthy(v) => return Err(()),
            _ => {}
        },
        _ => {}
    }
    Ok(())
}

/// `assertScreenshot: path` or `{path: …}`: an existing baseline is bundled (and, like every
/// reference, must be a regular file inside the workspace); a missing one is fine (the first
/// run has none); `${…}` paths cannot be resolved statically and are skipped; no image
/// extension → `.png` appended (Maestro's normalisation).
fn screenshot(value: &Value, dir: &Path, scan: &mut Scan) {
    let rel = match value {
        Value::String(s) => s,
        Value::Object(m) => match m.get("path") {
            Some(Value::String(s)) => s,
            _ => return,
        },
        _ => return,
    };
    if rel.is_empty() || rel.contains("${") {
        return;
    }
    let mut abs = normalize(&dir.join(rel));
    let has_image_ext = abs
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
    if !has_image_ext {
        let mut s = abs.into_os_string();
        s.push(".png");
        abs = PathBuf::from(s);
    }
    if exists(&abs) {
        scan.files.push(Ref {
            path: abs,
            command: "assertScreenshot",
        });
    }
}

thread_local! {
    /// While a [`walk`] or a parse pass ([`Cache::prefill`]) runs on this thread: whether
    /// each referenced path exists, so a sub-flow that thousands of flows reference is
    /// looked up once per pass.
    static EXISTS: std::cell::RefCell<Option<HashMap<PathBuf, bool>>> =
        const { std::cell::RefCell::new(None) };
}

/// Whether `path` exists (remembered for the rest of the walk, when one runs).
fn exists(path: &Path) -> bool {
    EXISTS.with(|known| match known.borrow_mut().as_mut() {
        Some(known) => *known
            .entry(path.to_path_buf())
            .or_insert_with(|| path.exists()),
        None => path.exists(),
    })
}

/// Forgets the walk's lookups when the walk ends, however it ends.
struct WalkScope;

impl WalkScope {
    fn start() -> WalkScope {
        EXISTS.with(|known| *known.borrow_mut() = Some(HashMap::default()));
        WalkScope
    }
}

impl Drop for WalkScope {
    fn drop(&mut self) {
        EXISTS.with(|known| *known.borrow_mut() = None);
    }
}

/// Walks every seed flow and what it references, transitively. Returns every scanned flow
/// and every referenced file (seeds included, as the TS `referencedFiles`), sorted, or the
/// first hard error (parse error, bad steps section) — unless missing files were already
/// found, which are then reported together under [`MISSING_FILES_HEADER`]. Every reference
/// goes through [`Workspace::check`] before it is read or kept: a refused one is recorded
/// there and left out (the planner then fails with the workspace's list).
pub fn walk(
    seeds: &[PathBuf],
    cache: &mut Cache,
    ws: &mut Workspace,
) -> Result<Vec<PathBuf>, String> {
    let _scope = WalkScope::start();
    let mut queue: VecDeque<PathBuf> = VecDeque::new();
    // Every flow queued (each once) and every other file referenced.
    let mut found: HashSet<PathBuf> = HashSet::default();
    let mut missing: Vec<String> = Vec::new();
    let mut seen_missing: HashSet<String> = HashSet::default();
    for s in seeds {
        if found.insert(s.clone()) {
            queue.push_back(s.clone());
        }
    }
    let missing_error =
        |missing: &[String]| format!("{MISSING_FILES_HEADER}{}", missing.join("\n"));
    while let Some(file) = queue.pop_front() {
        let parsed = cache.get(&file);
        let scan = match parsed.as_ref().as_ref().map(|p| p.scan.as_ref()) {
            Ok(Ok(s)) => s,
            Ok(Err(e)) | Err(e) if missing.is_empty() => return Err(e.clone()),
            Ok(Err(_)) | Err(_) => return Err(missing_error(&missing)),
        };
        for m in &scan.missing {
            if seen_missing.insert(m.clone()) {
                missing.push(m.clone());
            }
        }
        for r in &scan.files {
            let origin = Origin::Command {
                flow: &file,
                command: r.command,
            };
            if !ws.check(&r.path, origin) {
                continue;
            }
            let f = &r.path;
            if !found.contains(f) {
                found.insert(f.clone());
                if is_flow_file(f) {
                    queue.push_back(f.clone());
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(missing_error(&missing));
    }
    let mut out: Vec<PathBuf> = found.into_iter().collect();
    super::sort_paths(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    struct Ws(PathBuf);
    impl Ws {
        fn new(name: &str, files: &[(&str, &str)]) -> Ws {
            let dir = std::env::temp_dir().join(format!("dcd-deps-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            for (p, text) in files {
                let path = dir.join(p);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, text).unwrap();
            }
            Ws(dir)
        }
        fn p(&self, rel: &str) -> PathBuf {
            self.0.join(rel)
        }
        fn ws(&self) -> Workspace {
            Workspace::new(&self.0).unwrap()
        }
        fn rel(&self, v: &[PathBuf]) -> Vec<String> {
            v.iter()
                .map(|p| crate::plan::bundle::entry_name(&self.0, p))
                .collect()
        }
    }
    impl Drop for Ws {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn is_flow_file_needs_a_yaml_extension_and_no_app_segment() {
        assert!(is_flow_file(Path::new("/w/a.yaml")));
        assert!(is_flow_file(Path::new("/w/a.yml")));
        assert!(!is_flow_file(Path::new("/w/a.YAML")));
        assert!(!is_flow_file(Path::new("/w/My.app/a.yaml")));
        assert!(!is_flow_file(Path::new("/w/a.js")));
    }

    #[test]
    fn references_in_steps_nested_commands_and_hooks_are_found() {
        let ws = Ws::new(
            "refs",
            &[
                (
                    "main.yaml",
                    "appId: x\nonFlowStart:\n  - runScript: setup.js\nonFlowComplete:\n  - runFlow: {file: sub/teardown.yaml}\n---\n\
                     - launchApp\n- runFlow: sub/login.yaml\n- addMedia: [a.png, b.png]\n\
                     - repeat:\n    times: 2\n    commands:\n      - retry:\n          commands:\n            - runScript: {file: deep.js}\n\
                     - runFlow:\n    when: {visible: x}\n    commands:\n      - addMedia: c.png\n\
                     - assertScreenshot: shots/home\n- assertScreenshot: {path: shots/missing.png}\n\
                     - assertScreenshot: shots/${DEVICE}/x.png\n",
                ),
                ("setup.js", ""),
                ("sub/teardown.yaml", "- runScript: ../setup.js\n"),
                ("sub/login.yaml", "appId: x\n---\n- runFlow: helper.yaml\n"),
                ("sub/helper.yaml", "- addMedia: ../a.png\n"),
                ("a.png", ""),
                ("b.png", ""),
                ("c.png", ""),
                ("deep.js", ""),
                ("shots/home.png", ""),
            ],
        );
        let mut cache = Cache::default();
        let all = walk(&[ws.p("main.yaml")], &mut cache, &mut ws.ws()).unwrap();
        assert_eq!(
            ws.rel(&all),
            [
                "a.png",
                "b.png",
                "c.png",
                "deep.js",
                "main.yaml",
                "setup.js",
                "shots/home.png",
                "sub/helper.yaml",
                "sub/login.yaml",
                "sub/teardown.yaml"
            ]
        );
    }

    #[test]
    fn cycles_between_flows_terminate() {
        let ws = Ws::new(
            "cycle",
            &[
                ("a.yaml", "- runFlow: b.yaml\n- runFlow: a.yaml\n"),
                ("b.yaml", "- runFlow: a.yaml\n- runFlow: {file: c.yaml}\n"),
                ("c.yaml", "- runFlow: b.yaml\n"),
            ],
        );
        let mut cache = Cache::default();
        let all = walk(&[ws.p("a.yaml"), ws.p("b.yaml")], &mut cache, &mut ws.ws()).unwrap();
        assert_eq!(ws.rel(&all), ["a.yaml", "b.yaml", "c.yaml"]);
    }

    #[test]
    fn missing_files_are_collected_and_reported_together() {
        let ws = Ws::new(
            "missing",
            &[
                (
                    "a.yaml",
                    "- runFlow: nope.yaml\n- runScript: {file: gone.js, env: {X: 1}}\n",
                ),
                ("b.yaml", "- addMedia: [there.png, absent.png]\n"),
                ("there.png", ""),
            ],
        );
        let mut cache = Cache::default();
        let err = walk(&[ws.p("a.yaml"), ws.p("b.yaml")], &mut cache, &mut ws.ws()).unwrap_err();
        let a = ws.p("a.yaml").display().to_string();
        let b = ws.p("b.yaml").display().to_string();
        assert_eq!(
            err,
            format!(
                "The following flow files are not present in the filesystem: \n\
                 Flow file \"{a}\" has a command \"runFlow\" that references a non-existent file \"nope.yaml\"\n\
                 Flow file \"{a}\" has a command \"runScript\" that references a non-existent file {{\"file\":\"gone.js\",\"env\":{{\"X\":1}}}}\n\
                 Flow file \"{b}\" has a command \"addMedia\" that references a non-existent file [\"there.png\",\"absent.png\"]"
            )
        );
    }

    #[test]
    fn steps_that_are_not_lists_name_the_section() {
        let flow = Path::new("/w/f.yaml");
        let doc = parse_flow_text("appId: x\nonFlowStart: {runScript: a.js}\n---\n- launchApp\n")
            .unwrap();
        assert_eq!(
            scan_file(flow, &doc).unwrap_err(),
            "Error processing dependencies for file /w/f.yaml in the On Flow Start section. \
             Expected an array of steps but received: {\"runScript\":\"a.js\"}"
        );
        let doc = parse_flow_text("appId: x\nname: y\n").unwrap();
        assert!(
            scan_file(flow, &doc)
                .unwrap_err()
                .contains("in the Test Steps section")
        );
        let doc = parse_flow_text("appId: x\n---\n- launchApp\n").unwrap();
        let doc2 = FlowFile {
            header: doc.header.clone(),
            steps: serde_json::json!([{"repeat": {"commands": {"tapOn": "x"}}}]),
        };
        assert!(scan_file(flow, &doc2).is_err());
        let doc3 = FlowFile {
            header: None,
            steps: serde_json::json!(["launchApp", 5, [{"commands": []}], {"runFlow": {"commands": "x"}}]),
        };
        assert_eq!(scan_file(flow, &doc3).unwrap(), Scan::default());
        let doc4 =
            parse_flow_text("appId: x\nonFlowComplete:\n  - runFlow: [1]\n---\n- a\n").unwrap();
        assert!(
            scan_file(flow, &doc4)
                .unwrap_err()
                .contains("On Flow Complete")
        );
    }

    #[test]
    fn yaml_inside_an_app_bundle_is_a_leaf() {
        let ws = Ws::new(
            "appleaf",
            &[
                ("a.yaml", "- runFlow: X.app/inner.yaml\n"),
                ("X.app/inner.yaml", "- runFlow: missing.yaml\n"),
            ],
        );
        let mut cache = Cache::default();
        let all = walk(&[ws.p("a.yaml")], &mut cache, &mut ws.ws()).unwrap();
        assert_eq!(ws.rel(&all), ["X.app/inner.yaml", "a.yaml"]);
    }

    #[test]
    fn parse_errors_carry_the_path() {
        let ws = Ws::new(
            "parse",
            &[("a.yaml", "- runFlow: b.yaml\n"), ("b.yaml", "[unclosed\n")],
        );
        let mut cache = Cache::default();
        let err = walk(&[ws.p("a.yaml")], &mut cache, &mut ws.ws()).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "Error parsing YAML file {}: ",
                ws.p("b.yaml").display()
            )),
            "{err}"
        );
    }

    // `/etc/passwd` is absolute only on Unix (Windows paths start with a drive).
    #[cfg(unix)]
    #[test]
    fn references_outside_the_workspace_or_not_files_are_refused_and_not_read() {
        let ws = Ws::new(
            "refuse",
            &[
                (
                    "ws/flows/a.yaml",
                    "- addMedia: /etc/passwd\n- runScript: ../../x.js\n- runFlow: sub\n\
                     - runFlow: ../../outside.yaml\n- runScript: ok.js\n\
                     - assertScreenshot: shots.png\n",
                ),
                ("ws/flows/ok.js", ""),
                ("ws/flows/sub/keep", ""),
                ("ws/flows/shots.png/keep", ""),
                ("outside.yaml", "- runScript: never-read.js\n"),
                ("x.js", ""),
            ],
        );
        let mut cache = Cache::default();
        let mut w = Workspace::new(&ws.p("ws")).unwrap();
        let all = walk(&[ws.p("ws/flows/a.yaml")], &mut cache, &mut w).unwrap();
        assert_eq!(ws.rel(&all), ["ws/flows/a.yaml", "ws/flows/ok.js"]);
        let err = w.error().unwrap();
        let a = ws.p("ws/flows/a.yaml").display().to_string();
        let line = |cmd: &str, what: &str, rel: &str| {
            format!(
                "Flow file \"{a}\" has a command \"{cmd}\" that references {what}: {}",
                ws.p(rel).display()
            )
        };
        let lines: Vec<&str> = err.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                format!(
                    "Flow file \"{a}\" has a command \"addMedia\" that references a file outside \
                     the workspace: /etc/passwd"
                ),
                line("runScript", "a file outside the workspace", "x.js"),
                line("runFlow", "a directory, not a file", "ws/flows/sub"),
                line("runFlow", "a file outside the workspace", "outside.yaml"),
                line(
                    "assertScreenshot",
                    "a directory, not a file",
                    "ws/flows/shots.png"
                ),
            ]
        );
        // The refused sub-flow was never read.
        assert_eq!(cache.map.len(), 1);
    }
}
