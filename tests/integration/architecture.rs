//! The module dependency order, enforced (docs/architecture.md, "The flow, and the import
//! order"):
//!
//! - each top-level module of `src/` names only modules listed after it in [`LAYERS`] (an
//!   item of the crate root, such as a `#[macro_export]` macro, belongs to `lib`, the top);
//! - inside every folder, the sibling files and folders do not import each other in a circle,
//!   directly or through others (a module and its own parent or children are one line and
//!   may name each other);
//! - [`LAYERS`] names every top-level module once, and nothing else.
//!
//! A reference is every path the code names through `crate::`, `$crate::`, `super::` (any
//! number of them) or `self::`, in expressions and in `use` trees with their `{…}` groups,
//! macro invocations included; the crate root also names its modules bare. Comments, string
//! and character literals are not code; test code (`#[cfg(test)]` items, `tests.rs` files and
//! modules declared under `#[cfg(test)]`) is exempt.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Upstream first; a module may use only the modules of the layers after its own. The entry
/// (`main`, `lib`) reads argv, asks `cli` for the typed options and hands them to a command;
/// a command is a short list of steps over the session (`auth`) and everything below it —
/// the transfers, the app, the server (`api`, `realtime`), the plan and the wait's poll loop
/// (`poll`) — and says what happened through `output`, whose sinks write to the terminal
/// (`term`) the text of the pure renderers (`render`). The leaves at the bottom know no other
/// module but those below them; the exit codes know nothing at all.
const LAYERS: &[&[&str]] = &[
    &["main"],
    &["lib"],
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
    &["debug"],
    &["clock", "encoding", "fsio", "sanitize"],
    &["exit"],
    &["platform"],
];

/// A module path: `["commands", "wait"]`; the crate root is `[]`.
type Module = Vec<String>;

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

// ---------------------------------------------------------------------------------------------
// Reading the code: tokens without comments and literals.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An identifier or keyword (`$crate` included; `r#name` as `name`).
    Ident(String),
    /// `::`
    Path,
    /// Any other punctuation, one character at a time.
    Punct(char),
}

/// The tokens of `text`: comments (nested block comments too), string, byte and character
/// literals, lifetimes and numbers are dropped.
fn tokens(text: &str) -> Vec<Tok> {
    let c: Vec<char> = text.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let ident_char = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if i >= c.len() {
                    break;
                } else if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some(end) = raw_string_end(&c, i) {
            i = end;
        } else if ch == '"' || ((ch == 'b' || ch == 'c') && at(i + 1) == '"') {
            i += if ch == '"' { 1 } else { 2 };
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if ch == '\'' || (ch == 'b' && at(i + 1) == '\'') {
            i += if ch == '\'' { 1 } else { 2 };
            if at(i) == '\\' {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 1) == '\'' {
                i += 2; // a character
            } else {
                while i < c.len() && ident_char(c[i]) {
                    i += 1; // a lifetime or a label
                }
            }
        } else if ch.is_ascii_digit() {
            while i < c.len() && (ident_char(c[i]) || c[i] == '.' && at(i + 1).is_ascii_digit()) {
                i += 1;
            }
        } else if ident_char(ch) || (ch == '$' && ident_char(at(i + 1))) {
            let start = i;
            i += 1;
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
            let mut word: String = c[start..i].iter().collect();
            if word == "r" && at(i) == '#' && ident_char(at(i + 1)) {
                let s = i + 1;
                i = s;
                while i < c.len() && ident_char(c[i]) {
                    i += 1;
                }
                word = c[s..i].iter().collect();
            }
            out.push(Tok::Ident(word));
        } else if ch == ':' && at(i + 1) == ':' {
            out.push(Tok::Path);
            i += 2;
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    out
}

/// Where a raw string literal (`r"…"`, `r#"…"#`, `br#"…"#`, `cr"…"`) that starts at `i` ends.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if matches!(c.get(j), Some('b' | 'c')) {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = c[j..].iter().take_while(|&&h| h == '#').count();
    j += hashes;
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"'
            && c[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&h| h == '#')
                .count()
                == hashes
        {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(c.len())
}

// ---------------------------------------------------------------------------------------------
// What a file names.

/// What the checker knows of the crate: its modules (one per file) and the test-only ones.
struct Crate {
    modules: BTreeSet<Module>,
}

impl Crate {
    fn is_module(&self, m: &[String]) -> bool {
        m.is_empty() || self.modules.contains(m)
    }
}

/// The paths a file names, resolved to modules, and the child modules it declares under
/// `#[cfg(test)]`.
#[derive(Default, Debug)]
struct Names {
    refs: BTreeSet<Module>,
    test_children: BTreeSet<String>,
}

/// Reads the code of the module `me` (the crate root is `[]`). A path is followed through
/// the modules the crate has; what it names beyond them (a type, a function, a macro) belongs
/// to the last module reached, so an item of the crate root — a `#[macro_export]` macro
/// named `crate::m!` included — belongs to the root, unless a top-level module bears its
/// name (`crate::debug!`, defined in `debug.rs`).
fn names(me: &[String], text: &str, krate: &Crate) -> Names {
    let t = tokens(text);
    let mut n = Names::default();
    let mut scope: Vec<(String, usize)> = Vec::new(); // inline `mod x {` and their depth
    let mut depth = 0usize;
    let mut test_item = false;
    let mut i = 0;
    while i < t.len() {
        let here: Module = me
            .iter()
            .cloned()
            .chain(scope.iter().map(|s| s.0.clone()))
            .collect();
        match &t[i] {
            Tok::Punct('#') => {
                let (end, is_test) = attribute(&t, i);
                test_item |= is_test;
                i = end;
                continue;
            }
            _ if test_item => {
                if let Some(name) = declared_module(&t, i) {
                    n.test_children.insert(name);
                }
                i = skip_item(&t, i);
                test_item = false;
                continue;
            }
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if scope.last().is_some_and(|s| s.1 == depth) {
                    scope.pop();
                }
            }
            Tok::Ident(w) if w == "mod" => {
                if let (Some(Tok::Ident(name)), Some(Tok::Punct('{'))) =
                    (t.get(i + 1), t.get(i + 2))
                {
                    scope.push((name.clone(), depth));
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(w) if w == "use" => {
                let mut paths = Vec::new();
                i = use_tree(&t, i + 1, Vec::new(), &mut paths);
                for p in paths {
                    if let Some(m) = resolve(&here, &p, false, krate) {
                        n.refs.insert(m);
                    }
                }
                continue;
            }
            Tok::Ident(w) if starts_path(w, &here) && t.get(i + 1) == Some(&Tok::Path) => {
                let preceded = i > 0 && t[i - 1] == Tok::Path;
                let (p, is_macro, end) = expr_path(&t, i);
                if !preceded && let Some(m) = resolve(&here, &p, is_macro, krate) {
                    n.refs.insert(m);
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    n
}

/// Whether a path that starts with `w` may leave the module: `crate`, `$crate`, `super`,
/// `self`; in the crate root (and in `main.rs`, through `dcd`) also a module's bare name.
fn starts_path(w: &str, here: &[String]) -> bool {
    matches!(w, "crate" | "$crate" | "super" | "self" | "dcd") || here.is_empty()
}

/// The attribute at `i` (`#[…]` or `#![…]`): where it ends, and whether it is `cfg(test)`.
fn attribute(t: &[Tok], i: usize) -> (usize, bool) {
    let mut j = i + 1;
    if t.get(j) == Some(&Tok::Punct('!')) {
        j += 1;
    }
    if t.get(j) != Some(&Tok::Punct('[')) {
        return (i + 1, false);
    }
    let start = j + 1;
    let mut level = 0;
    while j < t.len() {
        match t[j] {
            Tok::Punct('[') => level += 1,
            Tok::Punct(']') => {
                level -= 1;
                if level == 0 {
                    break;
                }
            }
            _ => {}
        }
        j += 1;
    }
    let inner = &t[start..j.min(t.len())];
    let cfg_test = [
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
    ];
    (j + 1, inner == cfg_test)
}

/// `mod name;` at `i` (after its visibility): the child module it declares.
fn declared_module(t: &[Tok], i: usize) -> Option<String> {
    let mut j = i;
    while j < t.len() && t[j] != Tok::Ident("mod".into()) {
        if matches!(t[j], Tok::Punct(';' | '{')) {
            return None;
        }
        j += 1;
    }
    match (t.get(j + 1), t.get(j + 2)) {
        (Some(Tok::Ident(name)), Some(Tok::Punct(';'))) => Some(name.clone()),
        _ => None,
    }
}

/// Past the item (or field, or statement) that starts at `i`: its `;` or `,`, or its first
/// `{…}` block; never past the bracket that encloses it.
fn skip_item(t: &[Tok], mut i: usize) -> usize {
    let mut level = 0i32;
    while i < t.len() {
        match t[i] {
            Tok::Punct('{' | '(' | '[') => level += 1,
            Tok::Punct('}' | ')' | ']') => {
                level -= 1;
                if level < 0 {
                    return i;
                }
                if level == 0 && t[i] == Tok::Punct('}') {
                    return i + 1;
                }
            }
            Tok::Punct(';' | ',') if level == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

/// The paths of the `use` tree at `i` (`a::b::{c, d::{e, self}, *}`), each with `prefix`
/// before it. Returns where the tree ends.
fn use_tree(t: &[Tok], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix;
    if t.get(i) == Some(&Tok::Path) {
        i += 1; // `::a`: an extern crate
        path.push("::".into());
    }
    loop {
        match t.get(i) {
            Some(Tok::Ident(w)) => {
                path.push(w.clone());
                i += 1;
            }
            Some(Tok::Punct('*')) => i += 1,
            Some(Tok::Punct('{')) => {
                i += 1;
                while !matches!(t.get(i), None | Some(Tok::Punct('}'))) {
                    i = use_tree(t, i, path.clone(), out);
                    if t.get(i) == Some(&Tok::Punct(',')) {
                        i += 1;
                    }
                }
                i += 1;
                if t.get(i) == Some(&Tok::Punct(';')) {
                    i += 1;
                }
                return i;
            }
            _ => break,
        }
        if t.get(i) == Some(&Tok::Path) {
            i += 1;
        } else {
            break;
        }
    }
    if t.get(i) == Some(&Tok::Ident("as".into())) {
        i += 2; // `as name`
    }
    if path.last().is_some_and(|l| l == "self") {
        path.pop();
    }
    out.push(path);
    if t.get(i) == Some(&Tok::Punct(';')) {
        i += 1;
    }
    i
}

/// The path expression at `i` (`crate::a::f`, `super::super::T::new`, `crate::m!`): its
/// segments up to a turbofish or the end, whether it is a macro, and where it ends.
fn expr_path(t: &[Tok], mut i: usize) -> (Vec<String>, bool, usize) {
    let mut path = Vec::new();
    while let Some(Tok::Ident(w)) = t.get(i) {
        path.push(w.clone());
        i += 1;
        if t.get(i) == Some(&Tok::Path) && matches!(t.get(i + 1), Some(Tok::Ident(_))) {
            i += 1;
        } else {
            break;
        }
    }
    let is_macro = t.get(i) == Some(&Tok::Punct('!'));
    (path, is_macro, i)
}

/// The module a path from the module `here` reaches; `None` for a path that leaves the crate
/// or stays inside `here`'s own file.
fn resolve(here: &[String], path: &[String], is_macro: bool, krate: &Crate) -> Option<Module> {
    let (first, rest) = path.split_first()?;
    let (mut at, mut rest): (Module, &[String]) = match first.as_str() {
        "crate" | "$crate" | "dcd" => (Vec::new(), rest),
        "self" => (here.to_vec(), rest),
        "super" => {
            let mut m = here.to_vec();
            m.pop()?;
            let mut r = rest;
            while r.first().is_some_and(|s| s == "super") {
                m.pop()?;
                r = &r[1..];
            }
            (m, r)
        }
        _ if here.is_empty() && krate.is_module(std::slice::from_ref(first)) => (Vec::new(), path),
        _ => return None,
    };
    while let Some((seg, more)) = rest.split_first() {
        let mut next = at.clone();
        next.push(seg.clone());
        // `crate::m!` is the crate root's macro, unless `m` is a module's name.
        let is_last_macro = is_macro && more.is_empty() && !at.is_empty();
        if !krate.is_module(&next) || is_last_macro {
            break;
        }
        at = next;
        rest = more;
    }
    Some(at)
}

// ---------------------------------------------------------------------------------------------
// The crate as files.

/// `src/commands/wait/poll.rs` → `["commands", "wait", "poll"]`; `mod.rs` names its folder;
/// `lib.rs` is the crate root `[]`.
fn module_path(file: &Path) -> Module {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") || parts == ["lib"] {
        parts.pop();
    }
    parts
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

/// A file of `src/` as the rules see it: its path (from `src/`), its module, and the modules
/// it names.
struct File {
    path: String,
    module: Module,
    refs: BTreeSet<Module>,
}

/// Every non-test file of `src/`.
fn tree() -> Vec<File> {
    let mut paths = Vec::new();
    rust_files(&src(), &mut paths);
    paths.sort();
    let krate = Crate {
        modules: paths.iter().map(|p| module_path(p)).collect(),
    };
    let read: Vec<(PathBuf, Module, Names)> = paths
        .into_iter()
        .map(|p| {
            let me = module_path(&p);
            let text = std::fs::read_to_string(&p).unwrap();
            let n = names(&me, &text, &krate);
            (p, me, n)
        })
        .collect();
    let test_only: BTreeSet<Module> = read
        .iter()
        .flat_map(|(_, me, n)| {
            n.test_children.iter().map(move |c| {
                let mut m = me.clone();
                m.push(c.clone());
                m
            })
        })
        .collect();
    read.into_iter()
        .filter(|(_, me, _)| !test_only.iter().any(|t| me.starts_with(t)))
        .map(|(p, module, n)| File {
            path: p.strip_prefix(src()).unwrap().display().to_string(),
            module,
            refs: n.refs,
        })
        .collect()
}

fn top(m: &[String]) -> &str {
    m.first().map_or("lib", String::as_str)
}

fn layer_of(top: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&top))
        .unwrap_or_else(|| {
            panic!("src/{top} is in no layer of LAYERS (tests/integration/architecture.rs)")
        })
}

fn crate_path(m: &[String]) -> String {
    std::iter::once("crate")
        .chain(m.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("::")
}

// ---------------------------------------------------------------------------------------------
// The rules.

/// Every reference from a module to one of its own layer or above.
fn upward_imports(files: &[File]) -> Vec<String> {
    let mut wrong = Vec::new();
    for f in files {
        let mine = top(&f.module);
        for r in &f.refs {
            let other = top(r);
            if other != mine && layer_of(other) <= layer_of(mine) {
                wrong.push(format!("src/{} uses {}", f.path, crate_path(r)));
            }
        }
    }
    wrong
}

/// The first folder whose children import each other in a circle, with the imports that
/// close it.
fn folder_cycle(files: &[File]) -> Option<String> {
    // folder → (child → child it names, with the first file that does).
    type Edges = BTreeMap<Module, BTreeMap<String, BTreeMap<String, String>>>;
    let mut edges: Edges = BTreeMap::new();
    for f in files {
        let me = &f.module;
        for r in &f.refs {
            if r.starts_with(me) || me.starts_with(r) {
                continue; // one ancestor line
            }
            let k = me.iter().zip(r).take_while(|(a, b)| a == b).count();
            let why = format!("src/{} uses {}", f.path, crate_path(r));
            edges
                .entry(me[..k].to_vec())
                .or_default()
                .entry(me[k].clone())
                .or_default()
                .entry(r[k].clone())
                .or_insert(why);
        }
    }
    edges.iter().find_map(|(folder, graph)| {
        let cycle = find_cycle(graph)?;
        let steps: Vec<&str> = cycle
            .windows(2)
            .map(|w| graph[&w[0]][&w[1]].as_str())
            .collect();
        Some(format!(
            "an import cycle in {}: {}\n{}",
            crate_path(folder),
            cycle.join(" → "),
            steps.join("\n")
        ))
    })
}

#[test]
fn no_module_uses_one_upstream_of_it() {
    let wrong = upward_imports(&tree());
    assert!(
        wrong.is_empty(),
        "imports that run back up (the order is LAYERS in tests/integration/architecture.rs):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_folder_holds_an_import_cycle() {
    if let Some(cycle) = folder_cycle(&tree()) {
        panic!("{cycle}");
    }
}

/// A cycle of the graph, as its nodes with the first repeated at the end.
fn find_cycle(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeMap<String, String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(from) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[from..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flat_map(|g| g.keys()) {
            if let Some(c) = visit(m, graph, done, stack) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut done, &mut Vec::new()))
}

#[test]
fn the_layers_name_every_top_level_module_once() {
    let listed: Vec<&str> = LAYERS.iter().flat_map(|l| l.iter().copied()).collect();
    let unique: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "a module listed twice in LAYERS"
    );
    let present: BTreeSet<String> = tree().iter().map(|f| top(&f.module).to_string()).collect();
    let listed: BTreeSet<String> = unique.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        listed, present,
        "LAYERS must name exactly the top-level modules of src/"
    );
}

// ---------------------------------------------------------------------------------------------
// The checker itself.

fn krate(modules: &[&str]) -> Crate {
    Crate {
        modules: modules
            .iter()
            .map(|m| m.split("::").map(String::from).collect())
            .collect(),
    }
}

fn refs_of(me: &str, text: &str, k: &Crate) -> Vec<String> {
    let me: Module = me
        .split("::")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    names(&me, text, k)
        .refs
        .iter()
        .map(|m| crate_path(m))
        .collect()
}

#[test]
fn the_checker_reads_groups_macros_and_every_super() {
    let k = krate(&[
        "a",
        "a::x",
        "b",
        "b::y",
        "b::y::z",
        "debug",
        "domain",
        "domain::choice",
    ]);
    // `use` trees: groups, nested groups, `self`, renames.
    assert_eq!(
        refs_of(
            "a",
            "use crate::{b::{y::{self, z::Z}, Other as O}, debug};",
            &k
        ),
        ["crate::b", "crate::b::y", "crate::b::y::z", "crate::debug"]
    );
    // Macros: a crate-root macro is the root's, a path-scoped one its module's, and a
    // macro named after the module that defines it that module's.
    assert_eq!(
        refs_of(
            "a::x",
            "crate::choice! { } crate::domain::choice::choice! {}",
            &k
        ),
        ["crate", "crate::domain::choice"]
    );
    assert_eq!(refs_of("b", "crate::debug!(\"x\");", &k), ["crate::debug"]);
    // Inside a macro's body, `$crate::` is the crate.
    assert_eq!(refs_of("debug", "$crate::b::y::f()", &k), ["crate::b::y"]);
    // `super`, any number of them, from a folder's mod.rs and from a file.
    assert_eq!(
        refs_of("b::y::z", "super::super::f(); super::g();", &k),
        ["crate::b", "crate::b::y"]
    );
    assert_eq!(
        refs_of("b::y", "use super::super::a::x::T;", &k),
        ["crate::a::x"]
    );
    // Expressions with turbofish and types; an item beyond the modules is its module's.
    assert_eq!(
        refs_of("a", "let v = crate::b::y::parse::<u8>(s);", &k),
        ["crate::b::y"]
    );
    // The crate root names its modules bare.
    assert_eq!(
        refs_of("", "use b::y; fn f() { a::x::g() }", &k),
        ["crate::a::x", "crate::b::y"]
    );
}

#[test]
fn the_checker_skips_comments_literals_and_tests() {
    let k = krate(&["a", "b", "c", "d", "e"]);
    let text = r##"
        // crate::a::f
        /* crate::a /* nested crate::a */ crate::a */
        /// [`x`](crate::a)
        const S: &str = "crate::a::f \" crate::a";
        const R: &str = r#"crate::a "quoted" crate::a"#;
        const C: char = '{';
        const Q: char = '\'';
        fn f<'a>(x: &'a str) -> &'a str { x }
        #[cfg(test)]
        mod tests { use crate::b; fn g() { crate::b::h() } }
        #[cfg(test)]
        use crate::c;
        #[cfg(test)]
        mod testing;
        struct S { #[cfg(test)] x: crate::c::X, y: crate::d::Y }
        fn e() { crate::e::run() }
    "##;
    assert_eq!(refs_of("x", text, &k), ["crate::d", "crate::e"]);
    let n = names(&["x".to_string()], text, &k);
    assert_eq!(n.test_children, BTreeSet::from(["testing".to_string()]));
}

#[test]
fn the_rules_catch_what_they_forbid() {
    let file = |path: &str, refs: &[&str]| File {
        path: path.to_string(),
        module: module_path(&src().join(path)),
        refs: refs
            .iter()
            .map(|r| {
                r.split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .collect(),
    };
    // A crate-root macro used below lib, and a layer naming one above it.
    let up = upward_imports(&[
        file("term/mod.rs", &[""]),
        file("api/error.rs", &["commands::wait"]),
        file("render/mod.rs", &["domain::results", "sanitize"]),
    ]);
    assert_eq!(
        up,
        [
            "src/term/mod.rs uses crate",
            "src/api/error.rs uses crate::commands::wait"
        ]
    );
    // Two sibling folders that import each other through their files.
    let cycle = folder_cycle(&[
        file("commands/cloud/results.rs", &["commands::wait", "commands"]),
        file("commands/wait/poll.rs", &["commands::cloud::payload"]),
        file("commands/mod.rs", &["commands::cloud"]),
    ])
    .expect("a cycle");
    assert!(
        cycle.starts_with("an import cycle in crate::commands: cloud → wait → cloud"),
        "{cycle}"
    );
    // A child and its parent name each other: one line, no cycle.
    assert_eq!(
        folder_cycle(&[
            file("plan/mod.rs", &["plan::order"]),
            file("plan/order.rs", &["plan"]),
        ]),
        None
    );
}

#[test]
fn the_checker_sees_the_real_tree() {
    let t = tree();
    let of = |rel: &str| &t.iter().find(|f| f.path == rel).unwrap().refs;
    let status = of("commands/status.rs");
    assert!(status.contains(&vec!["commands".to_string(), "wait".to_string()]));
    assert!(status.contains(&vec!["cli".to_string(), "args".to_string()]));
    assert!(
        !t.iter().any(|f| f.path == "net/testserver.rs"),
        "a module declared under #[cfg(test)] is test code"
    );
}
