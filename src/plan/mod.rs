//! Flow discovery and the execution plan for `dcd cloud`, and the flow zip; the rules are
//! written up in docs/planning.md.
//!
//! Given the flow path the user passed (a single flow file or a workspace directory), the
//! planner decides which flows run in parallel and which in sequence, which files they pull
//! in, and what goes into the payload fields `testFileNames`, `flowMetadata`,
//! `testFileOverrides`, `sequentialFlows` and `workspaceConfig`. It follows the TS CLI's
//! `plan()` step by step; the error and warning texts are the TS ones, because users and CI
//! wrappers grep for them.
//!
//! This file is the orchestration: [`plan`] and its steps, in order. Submodules: [`yaml`]
//! (YAML → JSON, header/steps split), `header` (what the plan keeps of a flow's header, and
//! which files are workspace configs), [`config`] (workspace config validation), [`glob`]
//! (`flows:` / `includedPaths:` patterns), [`deps`] (dependency walk and parse cache),
//! `order` (`executionOrder`: the sequence and the parallel flows), [`confine`] (the
//! workspace boundary every zipped file passes), [`bundle`] (common root, portable keys, the
//! zip).

pub mod bundle;
pub mod config;
pub mod confine;
pub mod deps;
pub mod glob;
mod header;
mod order;
pub mod yaml;
mod zip_writer;

pub use bundle::{Bundle, bundle, common_root, entry_name, portable_key};
pub use header::{Header, config_shaped, flow_name, flow_tags, is_config_shaped, overrides};
pub use order::Sequence;

use confine::{Origin, Workspace};
use deps::{Cache, is_flow_file};
use foldhash::{HashMap, HashSet};
use glob::normalize;
use order::{flow_names, parallel_flows, sequence};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use yaml::scalar_string;

/// What the planner needs from the command line.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// The flow file or directory, as given by the user (relative to `cwd` or absolute).
    pub flows: PathBuf,
    /// The directory relative paths (`flows`, `--config`, `--exclude-flows`) resolve against.
    pub cwd: PathBuf,
    /// `--config`: a workspace config elsewhere than `<dir>/config.yaml`.
    pub config: Option<PathBuf>,
    /// `--include-tags` (already comma-split).
    pub include_tags: Vec<String>,
    /// `--exclude-tags` (already comma-split).
    pub exclude_tags: Vec<String>,
    /// `--exclude-flows` path prefixes (already comma-split).
    pub exclude_flows: Vec<String>,
    /// Make the `--debug` lines there is one of per flow (the name mapping): for thousands
    /// of flows they are thousands of strings, worth making only when they are printed.
    pub per_flow_debug: bool,
    /// Keep the bytes of every flow file read, for the zip (which then does not read them
    /// again); a dry run, which zips nothing, does not.
    pub keep_sources: bool,
}

/// The execution plan. Every path is absolute and normalised.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Flows that run in parallel, sorted.
    pub flows_to_run: Vec<PathBuf>,
    /// Present when the workspace config has an `executionOrder`.
    pub sequence: Option<Sequence>,
    /// Every flow walked and every file it references (flows included, as the TS
    /// `referencedFiles`), sorted.
    pub referenced_files: Vec<PathBuf>,
    /// Files matched by the config's `includedPaths` (zipped, not flow references), sorted.
    pub included_files: Vec<PathBuf>,
    /// Headers of every candidate flow that has one (filtered-out flows included).
    pub flow_metadata: BTreeMap<PathBuf, Header>,
    /// The validated workspace config, when one was loaded (`workspaceConfig`).
    pub workspace_config: Option<Value>,
    /// Number of candidate flow files (after config files were dropped); 1 for a single file.
    pub total_flow_files: usize,
    /// The zip base: the file's directory for a single file, else the flow directory.
    pub base_dir: PathBuf,
    /// `--include-tags` + config `includeTags` (payload `config.allIncludeTags`); empty for a
    /// single file, where tags do not apply.
    pub all_include_tags: Vec<String>,
    /// `--exclude-tags` + config `excludeTags` (payload `config.allExcludeTags`).
    pub all_exclude_tags: Vec<String>,
    /// Warnings for stderr (complete messages, possibly several lines each).
    pub warnings: Vec<String>,
    /// `--debug` lines, without the `[DEBUG] ` prefix.
    pub debug: Vec<String>,
    /// The common root of every bundled path, worked out once, on first use ([`Plan::root`]).
    pub(crate) root: std::sync::OnceLock<PathBuf>,
    /// With [`PlanOptions::keep_sources`]: the bytes of the flow files planning read, by path
    /// (valid UTF-8 ones only: the parser saw those bytes unchanged).
    pub(crate) sources: HashMap<PathBuf, Box<[u8]>>,
}

/// A planning failure; `Display` is the exact user-facing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError(pub String);

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlanError {}

impl From<String> for PlanError {
    fn from(s: String) -> Self {
        PlanError(s)
    }
}

/// The single-file error when the file is a workspace config.
pub const CONFIG_AS_FLOW_ERROR: &str = "If using config.yaml, pass the workspace folder path, not the config file or a custom path via --config";

/// Sorts paths by plain string comparison (the TS CLI sorted path strings; `PathBuf`'s own
/// order is per component, which puts `a/x` before `a-b/x`).
pub fn sort_paths(paths: &mut [PathBuf]) {
    paths.sort_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
}

fn is_config_name(path: &Path) -> bool {
    matches!(
        path.file_name().and_then(|n| n.to_str()),
        Some("config.yaml" | "config.yml")
    )
}

/// The planning under way: the options, the parse cache, the workspace boundary, and the
/// warnings and debug lines so far. Every step of [`plan`] takes it.
struct Planner<'a> {
    opts: &'a PlanOptions,
    cache: Cache,
    warnings: Vec<String>,
    debug: Vec<String>,
    /// `--exclude-flows` values resolved against cwd.
    excludes: Vec<String>,
    /// `opts.cwd`, absolute.
    cwd: PathBuf,
    /// The workspace root every zipped path is checked against, and the refusals so far.
    ws: Workspace,
}

impl Planner<'_> {
    fn excluded(&self, file: &Path) -> bool {
        if self.excludes.is_empty() {
            return false;
        }
        let f = file.to_string_lossy();
        self.excludes.iter().any(|e| f.starts_with(e.as_str()))
    }

    /// Loads and validates a workspace config file.
    fn load_config(&mut self, path: &Path) -> Result<Value, PlanError> {
        let shown = path.display().to_string();
        let text = deps::read_yaml_text(path)?;
        let raw = yaml::load_single(&text)
            .map_err(|e| PlanError(format!("Error parsing YAML file {shown}: {e}")))?;
        let cfg = config::validate(raw, &shown, &mut self.warnings)?;
        self.debug.push(format!("Using workspace config: {shown}"));
        Ok(cfg)
    }

    /// `--config` resolved against cwd; must exist.
    fn explicit_config(&mut self) -> Result<Option<(PathBuf, Value)>, PlanError> {
        let Some(c) = &self.opts.config else {
            return Ok(None);
        };
        let path = normalize(&self.cwd.join(c));
        if !path.exists() {
            return Err(PlanError(format!(
                "Config file does not exist: {}",
                path.display()
            )));
        }
        let cfg = self.load_config(&path)?;
        Ok(Some((path, cfg)))
    }

    /// `includedPaths` globs relative to `ws`: directories are skipped, anything else must
    /// pass the workspace check; a pattern escaping `ws` as written is an error, matching
    /// nothing a warning.
    fn included(&mut self, cfg: Option<&Value>, ws: &Path) -> Result<Vec<PathBuf>, PlanError> {
        let Some(Value::Array(patterns)) = cfg.and_then(|c| c.get("includedPaths")) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for p in patterns.iter().filter_map(Value::as_str) {
            let outside = || {
                PlanError(format!(
                    "includedPaths pattern \"{p}\" resolves outside the workspace ({})",
                    ws.display()
                ))
            };
            if !glob::literal_base(ws, p).starts_with(ws) {
                return Err(outside());
            }
            let mut n = 0;
            for m in glob::glob(ws, p) {
                if !m.starts_with(ws) {
                    return Err(outside());
                }
                if m.is_dir() {
                    continue;
                }
                n += 1;
                let origin = Origin::Pattern {
                    key: "includedPaths",
                    pattern: p,
                };
                if self.ws.check(&m, origin) {
                    out.push(m);
                }
            }
            if n == 0 {
                self.warnings.push(format!(
                    "Warning: includedPaths pattern \"{p}\" matched no files"
                ));
            }
        }
        sort_paths(&mut out);
        out.dedup();
        Ok(out)
    }

    /// The dependency walk; when it fails, paths refused so far are listed after its error.
    fn walk(&mut self, seeds: &[PathBuf]) -> Result<Vec<PathBuf>, PlanError> {
        deps::walk(seeds, &mut self.cache, &mut self.ws).map_err(|e| match self.ws.error() {
            Some(refused) => PlanError(format!("{e}\n\n{refused}")),
            None => PlanError(e),
        })
    }

    fn header_of(&mut self, path: &Path) -> Result<Option<Header>, PlanError> {
        match self.cache.get(path).as_ref() {
            Ok(f) => Ok(f.header.clone()),
            Err(e) => Err(PlanError(e.clone())),
        }
    }
}

/// Plans a run: a single flow file, or a workspace directory (candidates, exclusions, config,
/// `flows:` globs, config-shaped files, tags, dependencies, sequence, `includedPaths`).
pub fn plan(opts: &PlanOptions) -> Result<Plan, PlanError> {
    // A relative cwd (tests, embedding) is taken from the process's working directory.
    let cwd = if opts.cwd.is_absolute() {
        opts.cwd.clone()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(&opts.cwd)
    };
    let input = normalize(&cwd.join(&opts.flows));
    let not_found = || PlanError(format!("Flow path does not exist: {}", input.display()));
    let meta = std::fs::metadata(&input).map_err(|_| not_found())?;
    let is_dir = meta.is_dir();
    let name = input.to_string_lossy();
    if !(is_dir || name.ends_with(".yaml") || name.ends_with(".yml")) {
        // The TS CLI appends `/` to such a path and then cannot find it.
        return Err(not_found());
    }
    // The workspace root: the flow directory, or the single flow file's directory.
    let root = if is_dir {
        input.clone()
    } else {
        input.parent().unwrap_or(Path::new("/")).to_path_buf()
    };
    let mut planner = Planner {
        opts,
        cache: Cache::keeping_sources(opts.keep_sources),
        warnings: Vec::new(),
        debug: Vec::new(),
        excludes: opts
            .exclude_flows
            .iter()
            .filter(|e| !e.is_empty())
            .map(|e| normalize(&cwd.join(e)).to_string_lossy().into_owned())
            .collect(),
        cwd,
        ws: Workspace::new(&root)?,
    };
    let mut plan = if is_dir {
        plan_dir(&mut planner, &input)?
    } else {
        plan_file(&mut planner, &input)?
    };
    planner.ws.result()?;

    // Without included files the bundled paths are the flows and what they reference (the
    // sequence is among the references), so the root can only differ with them.
    if !plan.included_files.is_empty() {
        let without_included = common_root(plan.flows_to_run.iter().chain(&plan.referenced_files));
        let root = plan.root();
        if root != without_included {
            planner.debug.push(format!(
                "includedPaths reach outside the flows tree: common root raised from {} to {}",
                without_included.display(),
                root.display()
            ));
        }
    }
    plan.warnings = planner.warnings;
    plan.debug = planner.debug;
    // Only what the zip holds: not the flows the tags left out.
    let bundled: HashSet<&Path> = plan.referenced_files.iter().map(PathBuf::as_path).collect();
    let mut sources = planner.cache.take_sources();
    sources.retain(|p, _| bundled.contains(p.as_path()));
    plan.sources = sources;
    Ok(plan)
}

fn plan_file(planner: &mut Planner, file: &Path) -> Result<Plan, PlanError> {
    // Checked before it is read.
    planner.ws.check(file, Origin::Flow);
    planner.ws.result()?;
    let parsed = planner.cache.get(file);
    if is_config_name(file) || parsed.as_ref().as_ref().is_ok_and(|p| p.config_shaped) {
        return Err(PlanError(CONFIG_AS_FLOW_ERROR.to_string()));
    }
    let mut plan = Plan {
        base_dir: file.parent().unwrap_or(Path::new("/")).to_path_buf(),
        total_flow_files: 1,
        flows_to_run: vec![file.to_path_buf()],
        ..Plan::default()
    };
    if let Some(h) = planner.header_of(file)? {
        plan.flow_metadata.insert(file.to_path_buf(), h);
    }
    plan.workspace_config = planner.explicit_config()?.map(|(_, c)| c);
    plan.referenced_files = planner.walk(&[file.to_path_buf()])?;
    let base = plan.base_dir.clone();
    plan.included_files = planner.included(plan.workspace_config.as_ref(), &base)?;
    Ok(plan)
}

/// Plans a workspace directory, step by step (docs/planning.md, "A workspace directory"; the
/// step numbers here are one higher, step 1 being [`plan`]'s input path check).
fn plan_dir(planner: &mut Planner, dir: &Path) -> Result<Plan, PlanError> {
    // 2–3. Candidates, minus --exclude-flows.
    let candidates = dir_candidates(planner, dir)?;
    // 4. Workspace config.
    let (active_config, cfg) = workspace_config(planner, dir, &candidates)?;
    // 5. `flows:` globs, or the candidates minus config files.
    let flow_globs = flow_globs(cfg.as_ref());
    let mut flows = select_flows(
        planner,
        dir,
        candidates,
        flow_globs.as_deref(),
        active_config.as_deref(),
    );
    // 6. Config-shaped files are not flows.
    drop_config_shaped(planner, &mut flows);
    // 7. Nothing left (flows refused by the workspace check say so first).
    planner.ws.result()?;
    if flows.is_empty() {
        return Err(no_flows_error(dir, flow_globs.as_deref()));
    }
    // 8. Headers, metadata, overrides, tag filter.
    let all_include = all_tags(&planner.opts.include_tags, cfg.as_ref(), "includeTags");
    let all_exclude = all_tags(&planner.opts.exclude_tags, cfg.as_ref(), "excludeTags");
    let mut plan = Plan {
        base_dir: dir.to_path_buf(),
        total_flow_files: flows.len(),
        ..Plan::default()
    };
    let kept = filter_by_tags(planner, &mut plan, &flows, &all_include, &all_exclude)?;
    // 9. Dependencies.
    let seeds: Vec<PathBuf> = kept.iter().map(|(p, _)| p.clone()).collect();
    plan.referenced_files = planner.walk(&seeds)?;
    // 10. Names and the sequence (the names only when a sequence or a debug line uses them).
    let has_order = cfg
        .as_ref()
        .is_some_and(|c| c.get("executionOrder").is_some());
    let (names, by_name) = if has_order || planner.opts.per_flow_debug {
        flow_names(planner, &kept)
    } else {
        Default::default()
    };
    plan.sequence = sequence(planner, cfg.as_ref(), &names, &by_name);
    // 11. Parallel flows.
    plan.flows_to_run = parallel_flows(&seeds, plan.sequence.as_ref());
    // 12. includedPaths.
    plan.included_files = planner.included(cfg.as_ref(), dir)?;
    plan.workspace_config = cfg;
    plan.all_include_tags = all_include;
    plan.all_exclude_tags = all_exclude;
    Ok(plan)
}

/// Steps 2–3: the flow files directly in `dir`, sorted (an error when there are none), minus
/// `--exclude-flows`.
fn dir_candidates(planner: &mut Planner, dir: &Path) -> Result<Vec<PathBuf>, PlanError> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| PlanError(format!("Failed to read {}: {e}", dir.display())))?
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            // The listing's file type answers for all but links (followed, as `is_file` does).
            let (file, listed) = match e.file_type() {
                Ok(t) if t.is_symlink() => (p.is_file(), false),
                Ok(t) => (t.is_file(), t.is_file()),
                Err(_) => (p.is_file(), false),
            };
            let flow = file && is_flow_file(&p);
            if flow && listed {
                planner.ws.listed_file(&p);
            }
            flow.then_some(p)
        })
        .collect();
    sort_paths(&mut candidates);
    if candidates.is_empty() {
        return Err(PlanError(format!(
            "Flow directory does not contain any Flow files: {}",
            dir.display()
        )));
    }
    candidates.retain(|f| !planner.excluded(f));
    Ok(candidates)
}

/// Step 4: the workspace config, `--config` first, else a `config.yaml`/`config.yml` among the
/// candidates. Returns the `--config` path (the active config file, excluded from the flows)
/// and the validated config.
fn workspace_config(
    planner: &mut Planner,
    dir: &Path,
    candidates: &[PathBuf],
) -> Result<(Option<PathBuf>, Option<Value>), PlanError> {
    if let Some((p, c)) = planner.explicit_config()? {
        return Ok((Some(p), Some(c)));
    }
    let found = ["config.yaml", "config.yml"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| candidates.contains(p));
    match found {
        Some(p) => Ok((None, Some(planner.load_config(&p)?))),
        None => Ok((None, None)),
    }
}

/// The config's `flows:` patterns (its string members), when it has a `flows` list.
fn flow_globs(cfg: Option<&Value>) -> Option<Vec<String>> {
    cfg.and_then(|c| c.get("flows"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
}

/// True for a config file that is never a flow: any `config.yaml`/`config.yml`, and the
/// `--config` file.
fn is_excluded_config(p: &Path, active_config: Option<&Path>) -> bool {
    is_config_name(p) || active_config.is_some_and(|a| a == p)
}

/// Step 5: the flows the `flows:` globs match (files, not config files, not excluded; sorted,
/// deduplicated), or without globs the candidates minus config files. Each flow must pass
/// the workspace check (a refused one is recorded there and left out), and so must each
/// pattern as written: one starting outside the workspace is refused whole.
fn select_flows(
    planner: &mut Planner,
    dir: &Path,
    candidates: Vec<PathBuf>,
    flow_globs: Option<&[String]>,
    active_config: Option<&Path>,
) -> Vec<PathBuf> {
    let Some(globs) = flow_globs else {
        return candidates
            .into_iter()
            .filter(|p| !is_excluded_config(p, active_config))
            .filter(|p| planner.ws.check(p, Origin::Flow))
            .collect();
    };
    let mut matched: Vec<PathBuf> = Vec::new();
    for g in globs {
        if !glob::literal_base(dir, g).starts_with(dir) {
            planner.ws.refuse(format!(
                "flows pattern \"{g}\" resolves outside the workspace ({})",
                dir.display()
            ));
            continue;
        }
        let origin = Origin::Pattern {
            key: "flows",
            pattern: g,
        };
        for p in glob::glob(dir, g) {
            let wanted = p.is_file() && !is_excluded_config(&p, active_config) && is_flow_file(&p);
            if wanted && !planner.excluded(&p) && planner.ws.check(&p, origin) {
                matched.push(p);
            }
        }
    }
    sort_paths(&mut matched);
    matched.dedup();
    matched
}

/// Step 6: drops config-shaped files from `flows` (parsing them all into the cache first),
/// with a debug line naming them.
fn drop_config_shaped(planner: &mut Planner, flows: &mut Vec<PathBuf>) {
    planner.cache.prefill(flows);
    let shaped: Vec<PathBuf> = flows
        .iter()
        .filter(|f| {
            planner
                .cache
                .get(f)
                .as_ref()
                .as_ref()
                .is_ok_and(|p| p.config_shaped)
        })
        .cloned()
        .collect();
    if shaped.is_empty() {
        return;
    }
    planner.debug.push(format!(
        "Skipping {} workspace config file(s): {}",
        shaped.len(),
        shaped
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let shaped: HashSet<PathBuf> = shaped.into_iter().collect();
    flows.retain(|f| !shaped.contains(f));
}

/// Step 7's error: no flow is left, either because the `flows:` globs matched none or because
/// the workspace has none.
fn no_flows_error(dir: &Path, flow_globs: Option<&[String]>) -> PlanError {
    PlanError(match flow_globs {
        Some(g) => format!(
            "Flow inclusion pattern(s) did not match any Flow files:\n{}",
            g.join("\n")
        ),
        None => format!("Workspace does not contain any Flows: {}", dir.display()),
    })
}

/// The command-line tags followed by the config's `key` list (its scalar members).
fn all_tags(cli: &[String], cfg: Option<&Value>, key: &str) -> Vec<String> {
    let mut all = cli.to_vec();
    all.extend(
        cfg.and_then(|c| c.get(key))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(scalar_string).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    all
}

/// A flow the tag filter kept, with its name (its header's `name`, else its file stem).
type Kept = (PathBuf, String);

/// Step 8: reads every flow's header into the plan's metadata and overrides, and keeps the
/// flows the include/exclude tags let through (an error when none is left).
fn filter_by_tags(
    planner: &mut Planner,
    plan: &mut Plan,
    flows: &[PathBuf],
    all_include: &[String],
    all_exclude: &[String],
) -> Result<Vec<Kept>, PlanError> {
    let mut kept: Vec<Kept> = Vec::new();
    // Collected, then built at once: a map built from a sorted list costs one pass, not a
    // search per insert (thousands of component-wise path comparisons).
    let mut metadata = Vec::with_capacity(flows.len());
    for f in flows {
        // The plan's metadata keeps the header from here on (nothing reads it from the
        // cache after this step).
        let header = planner.cache.take_header(f).map_err(PlanError)?;
        let tags = header.as_ref().map_or(&[][..], |h| &h.tags[..]);
        let included = all_include.is_empty() || tags.iter().any(|t| all_include.contains(t));
        let excluded = !all_exclude.is_empty() && tags.iter().any(|t| all_exclude.contains(t));
        if included && !excluded {
            kept.push((f.clone(), flow_name(f, header.as_ref())));
        }
        if let Some(h) = header {
            metadata.push((f.clone(), h));
        }
    }
    plan.flow_metadata = metadata.into_iter().collect();
    if kept.is_empty() {
        return Err(PlanError(format!(
            "Include / Exclude tags did not match any Flows:\n\nInclude Tags:\n{}\n\nExclude \
             Tags:\n{}",
            all_include.join("\n"),
            all_exclude.join("\n")
        )));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests;
