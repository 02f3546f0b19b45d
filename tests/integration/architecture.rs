//! The module dependency order, enforced: each top-level module of `src/` may use only the
//! modules listed after it in [`LAYERS`], and no two files outside one ancestor line import
//! each other, directly or through others. Test code (`mod tests` blocks, `tests.rs`) is
//! exempt. See `docs/architecture.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Upstream first. The entry reads argv and hands typed options to a command; the command
/// steps use the options, the session and everything below; nothing below the commands
/// knows about flags, sessions or commands, and the exit codes know nothing at all.
const LAYERS: &[&[&str]] = &[
    &["lib", "main"],
    &["commands"],
    &["cli"],
    &["auth"],
    &["upload", "report"],
    &["app"],
    &["api", "realtime"],
    &["plan", "poll"],
    &["output"],
    &["term"],
    &["render"],
    &["net"],
    &["domain"],
    &["clock", "debug", "encoding", "fsio"],
    &["exit"],
];

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") && p.file_name().unwrap() != "tests.rs" {
            out.push(p);
        }
    }
}

/// `src/commands/wait/poll.rs` → `["commands", "wait", "poll"]`; `mod.rs` names its folder.
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its `#[cfg(test)]` modules.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = String::new();
    let mut skip_depth: Option<i32> = None;
    let mut depth = 0i32;
    let mut cfg_test = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("//") {
            continue;
        }
        if skip_depth.is_none() && cfg_test && t.starts_with("mod ") && t.ends_with('{') {
            skip_depth = Some(depth);
        }
        cfg_test = t.starts_with("#[cfg(test)]");
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        match skip_depth {
            Some(d) if depth <= d => skip_depth = None,
            Some(_) => {}
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Every `crate::a::b…` and `super::…` path the code names, as absolute module paths.
fn references(file: &Path, known: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let me = module_path(file);
    let is_mod_rs = file.file_name().unwrap() == "mod.rs" || me.is_empty();
    let code = code(file);
    let mut refs = BTreeSet::new();
    let bytes = code.as_bytes();
    for start in [b"crate::".as_slice(), b"super::".as_slice()] {
        let mut i = 0;
        while let Some(pos) = find(&bytes[i..], start) {
            let at = i + pos;
            i = at + start.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || b"_$:".contains(&bytes[at - 1]))
            {
                continue;
            }
            let mut path: Vec<String> = if start == b"crate::" {
                Vec::new()
            } else {
                // `super` of a mod.rs is its parent's parent module.
                let mut base = me.clone();
                if !is_mod_rs || !base.is_empty() {
                    base.pop();
                }
                let mut j = i;
                while code[j..].starts_with("super::") {
                    base.pop();
                    j += "super::".len();
                }
                i = j;
                base
            };
            let rest = &code[i..];
            for seg in rest.split("::") {
                let name: String = seg
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
                    break;
                }
                let mut next = path.clone();
                next.push(name.clone());
                if !known.contains(&next) {
                    break;
                }
                path = next;
                if name.len() != seg.len() {
                    break;
                }
            }
            if !path.is_empty() {
                refs.insert(path);
            }
        }
    }
    refs
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn layer_of(top: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&top))
        .unwrap_or_else(|| panic!("src/{top} is in no layer of tests/architecture.rs"))
}

struct Tree {
    files: Vec<PathBuf>,
    known: BTreeSet<Vec<String>>,
}

fn tree() -> Tree {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let known = files.iter().map(|f| module_path(f)).collect();
    Tree { files, known }
}

#[test]
fn no_module_uses_one_upstream_of_it() {
    let t = tree();
    let mut wrong = Vec::new();
    for f in &t.files {
        let me = module_path(f);
        let top = me.first().cloned().unwrap_or_else(|| "lib".into());
        for r in references(f, &t.known) {
            let other = &r[0];
            if *other != top && layer_of(other) <= layer_of(&top) {
                wrong.push(format!(
                    "{} uses crate::{}",
                    f.strip_prefix(src()).unwrap().display(),
                    r.join("::")
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "upstream imports:\n{}", wrong.join("\n"));
}

#[test]
fn no_two_files_import_each_other() {
    let t = tree();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for f in &t.files {
        let me = module_path(f);
        for r in references(f, &t.known) {
            let related = r.starts_with(&me) || me.starts_with(&r);
            if !related {
                edges.entry(me.clone()).or_default().insert(r);
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        n: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let from = stack.iter().position(|s| s == n).unwrap();
                let mut cycle = stack[from..].to_vec();
                cycle.push(n.clone());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if let Some(cycle) = visit(n, &edges, &mut state, &mut Vec::new()) {
            let shown: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            panic!("import cycle: {}", shown.join(" → "));
        }
    }
}

#[test]
fn the_checker_sees_what_it_should() {
    let t = tree();
    let status = src().join("commands/status.rs");
    let refs = references(&status, &t.known);
    assert!(refs.contains(&vec!["commands".to_string(), "wait".to_string()]));
    assert!(refs.contains(&vec!["cli".to_string(), "args".to_string()]));
    assert!(
        !code(&src().join("exit/mod.rs")).contains("codes_are_the_documented_contract"),
        "test modules are left out"
    );
}
