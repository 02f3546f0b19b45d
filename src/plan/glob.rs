//! The glob matcher for a workspace config's `flows:` and `includedPaths:`.
//!
//! The TS CLI used Node's `fs.globSync` (minimatch semantics). Only a small, well-defined
//! subset is needed here, so it is written out rather than pulled in as a crate: `*` and `?`
//! within one path segment, `[abc]`/`[a-z]`/`[!a]` classes, `\` escapes, `{a,b}` alternatives,
//! and `**` as any number of directories (zero included). As in minimatch, wildcards do not
//! match names starting with `.` unless the pattern segment itself starts with `.`, and `**`
//! does not descend into dot-directories or symlinked directories (no cycles). Patterns are
//! relative to a base directory; `..` segments and absolute patterns are allowed and resolved
//! lexically, so the caller can refuse results that leave the workspace.

use foldhash::HashMap;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// At most this many patterns come out of one `{…}` expansion.
const MAX_BRACE_EXPANSIONS: usize = 1024;

/// One token of a wildcard segment.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Char(char),
    /// `*`
    Star,
    /// `?`
    One,
    /// `[...]`: negated?, ranges (single chars are `(c, c)`).
    Class(bool, Vec<(char, char)>),
}

/// One `/`-separated segment of a pattern.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    /// No wildcard: joined to the path without listing the directory.
    Literal(String),
    /// `**`
    Globstar,
    Wild(Vec<Tok>),
}

/// A compiled pattern (after brace expansion).
#[derive(Debug, Clone)]
struct Pattern {
    absolute: bool,
    segs: Vec<Seg>,
}

/// Expands `{a,b}` alternatives (nested allowed; a brace group without a top-level comma is
/// literal). Capped at [`MAX_BRACE_EXPANSIONS`] results.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    expand_into(pattern, &mut out);
    out
}

fn expand_into(pattern: &str, out: &mut Vec<String>) {
    if out.len() >= MAX_BRACE_EXPANSIONS {
        return;
    }
    let chars: Vec<(usize, char)> = pattern.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if c == '\\' {
            i += 2;
            continue;
        }
        if c == '{' {
            // Find the matching close brace and the top-level commas.
            let mut depth = 0;
            let mut commas = Vec::new();
            let mut j = i;
            let mut close = None;
            while j < chars.len() {
                let (pos, d) = chars[j];
                match d {
                    '\\' => j += 1,
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            close = Some(pos);
                            break;
                        }
                    }
                    ',' if depth == 1 => commas.push(pos),
                    _ => {}
                }
                j += 1;
            }
            if let Some(end) = close
                && !commas.is_empty()
            {
                let prefix = &pattern[..start];
                let suffix = &pattern[end + 1..];
                let mut bounds = vec![start];
                bounds.extend(&commas);
                bounds.push(end);
                for w in bounds.windows(2) {
                    let alt = &pattern[w[0] + 1..w[1]];
                    expand_into(&format!("{prefix}{alt}{suffix}"), out);
                    if out.len() >= MAX_BRACE_EXPANSIONS {
                        return;
                    }
                }
                return;
            }
        }
        i += 1;
    }
    out.push(pattern.to_string());
}

fn compile(pattern: &str) -> Pattern {
    let absolute = pattern.starts_with('/');
    let mut segs = Vec::new();
    for raw in pattern.split('/') {
        if raw.is_empty() || raw == "." {
            continue;
        }
        if raw == "**" {
            if segs.last() != Some(&Seg::Globstar) {
                segs.push(Seg::Globstar);
            }
            continue;
        }
        let toks = tokenize(raw);
        if toks.iter().all(|t| matches!(t, Tok::Char(_))) {
            let lit: String = toks
                .iter()
                .map(|t| match t {
                    Tok::Char(c) => *c,
                    _ => unreachable!("all tokens are chars"),
                })
                .collect();
            segs.push(Seg::Literal(lit));
        } else {
            segs.push(Seg::Wild(toks));
        }
    }
    Pattern { absolute, segs }
}

fn tokenize(seg: &str) -> Vec<Tok> {
    let chars: Vec<char> = seg.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                toks.push(Tok::Char(chars[i + 1]));
                i += 2;
            }
            '*' => {
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
                i += 1;
            }
            '?' => {
                toks.push(Tok::One);
                i += 1;
            }
            '[' => match parse_class(&chars, i) {
                Some((tok, next)) => {
                    toks.push(tok);
                    i = next;
                }
                None => {
                    toks.push(Tok::Char('['));
                    i += 1;
                }
            },
            c => {
                toks.push(Tok::Char(c));
                i += 1;
            }
        }
    }
    toks
}

/// `[` at `start`: returns the class token and the index after `]`, or None if unterminated.
fn parse_class(chars: &[char], start: usize) -> Option<(Tok, usize)> {
    let mut i = start + 1;
    let neg = matches!(chars.get(i), Some('!') | Some('^'));
    if neg {
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    while i < chars.len() {
        let mut c = chars[i];
        if c == ']' && !first {
            return Some((Tok::Class(neg, items), i + 1));
        }
        first = false;
        if c == '\\' && i + 1 < chars.len() {
            i += 1;
            c = chars[i];
        }
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&e| e != ']') {
            items.push((c, chars[i + 2]));
            i += 3;
        } else {
            items.push((c, c));
            i += 1;
        }
    }
    None
}

/// Does the wildcard segment match this file name?
fn seg_matches(toks: &[Tok], name: &str) -> bool {
    if name.starts_with('.') && toks.first() != Some(&Tok::Char('.')) {
        return false;
    }
    let name: Vec<char> = name.chars().collect();
    // Iterative wildcard match with single-star backtracking.
    let (mut t, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let ok = match toks.get(t) {
            Some(Tok::Char(c)) => *c == name[n],
            Some(Tok::One) => true,
            Some(Tok::Class(neg, items)) => {
                items.iter().any(|&(a, b)| a <= name[n] && name[n] <= b) != *neg
            }
            _ => false,
        };
        if ok {
            t += 1;
            n += 1;
        } else if toks.get(t) == Some(&Tok::Star) {
            star = Some((t, n));
            t += 1;
        } else if let Some((st, sn)) = star {
            t = st + 1;
            n = sn + 1;
            star = Some((st, sn + 1));
        } else {
            return false;
        }
    }
    while toks.get(t) == Some(&Tok::Star) {
        t += 1;
    }
    t == toks.len()
}

/// Lexical normalisation: drops `.`, resolves `..` against earlier segments (never above the
/// root), like Node's `path.normalize` on an absolute path.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The directory a pattern starts listing from: its literal leading segments joined to `base`
/// (or `/` for an absolute pattern), normalised. Used for the "outside the workspace" check.
pub fn literal_base(base: &Path, pattern: &str) -> PathBuf {
    let p = compile(pattern);
    let mut dir = if p.absolute {
        PathBuf::from("/")
    } else {
        base.to_path_buf()
    };
    for s in &p.segs {
        match s {
            Seg::Literal(l) => dir.push(l),
            _ => break,
        }
    }
    normalize(&dir)
}

/// Directory listings shared by one expansion: (name, is_dir following links, is_symlink).
type Listing = Vec<(String, bool, bool)>;

struct Walker {
    listings: HashMap<PathBuf, std::rc::Rc<Listing>>,
    out: BTreeSet<PathBuf>,
}

impl Walker {
    fn list(&mut self, dir: &Path) -> std::rc::Rc<Listing> {
        if let Some(l) = self.listings.get(dir) {
            return l.clone();
        }
        let mut items = Vec::new();
        if let Ok(rd) = fs::read_dir(dir) {
            for e in rd.flatten() {
                let Some(name) = e.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                let ft = e.file_type().ok();
                let symlink = ft.is_some_and(|t| t.is_symlink());
                let is_dir = if symlink {
                    e.path().is_dir()
                } else {
                    ft.is_some_and(|t| t.is_dir())
                };
                items.push((name, is_dir, symlink));
            }
        }
        items.sort();
        let rc = std::rc::Rc::new(items);
        self.listings.insert(dir.to_path_buf(), rc.clone());
        rc
    }

    fn walk(&mut self, dir: &Path, segs: &[Seg]) {
        let Some((first, rest)) = segs.split_first() else {
            if fs::symlink_metadata(dir).is_ok() {
                self.out.insert(normalize(dir));
            }
            return;
        };
        match first {
            Seg::Literal(lit) => {
                let p = dir.join(lit);
                if rest.is_empty() {
                    if fs::symlink_metadata(&p).is_ok() {
                        self.out.insert(normalize(&p));
                    }
                } else if p.is_dir() {
                    self.walk(&p, rest);
                }
            }
            Seg::Globstar => {
                if rest.is_empty() {
                    // `dir/**`: the directory and everything below it.
                    self.out.insert(normalize(dir));
                }
                self.walk(dir, rest);
                for (name, is_dir, symlink) in self.list(dir).iter() {
                    if name.starts_with('.') {
                        continue;
                    }
                    let child = dir.join(name);
                    if *is_dir && !*symlink {
                        self.walk(&child, segs);
                    } else if rest.is_empty() {
                        self.out.insert(normalize(&child));
                    }
                }
            }
            Seg::Wild(toks) => {
                for (name, is_dir, _) in self.list(dir).iter() {
                    if !seg_matches(toks, name) {
                        continue;
                    }
                    let child = dir.join(name);
                    if rest.is_empty() {
                        self.out.insert(normalize(&child));
                    } else if *is_dir {
                        self.walk(&child, rest);
                    }
                }
            }
        }
    }
}

/// Every existing path (files and directories) matching `pattern` relative to `base`,
/// absolute, normalised, sorted, without duplicates.
pub fn glob(base: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut w = Walker {
        listings: HashMap::default(),
        out: BTreeSet::new(),
    };
    for p in expand_braces(pattern) {
        let compiled = compile(&p);
        let start = if compiled.absolute {
            PathBuf::from("/")
        } else {
            base.to_path_buf()
        };
        w.walk(&start, &compiled.segs);
    }
    w.out.into_iter().collect()
}

/// Does `pattern` match the `/`-separated relative `path`? (The pure form of [`glob`], for
/// tests and callers that already have a path list.)
pub fn matches(pattern: &str, path: &str) -> bool {
    let names: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    expand_braces(pattern)
        .iter()
        .any(|p| match_segs(&compile(p).segs, &names))
}

fn match_segs(segs: &[Seg], names: &[&str]) -> bool {
    match segs.split_first() {
        None => names.is_empty(),
        Some((Seg::Globstar, rest)) => (0..=names.len()).any(|k| {
            names[..k].iter().all(|n| !n.starts_with('.')) && match_segs(rest, &names[k..])
        }),
        Some((Seg::Literal(l), rest)) => {
            names.first() == Some(&l.as_str()) && match_segs(rest, &names[1..])
        }
        Some((Seg::Wild(t), rest)) => {
            names.first().is_some_and(|n| seg_matches(t, n)) && match_segs(rest, &names[1..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question_stay_within_a_segment() {
        assert!(matches("*.yaml", "login.yaml"));
        assert!(!matches("*.yaml", "sub/login.yaml"));
        assert!(matches("sub/*.yaml", "sub/login.yaml"));
        assert!(matches("log?n.yaml", "login.yaml"));
        assert!(!matches("log?n.yaml", "logn.yaml"));
        assert!(matches("*", "a"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
    }

    #[test]
    fn globstar_spans_any_number_of_directories() {
        assert!(matches("**/*.yaml", "login.yaml"));
        assert!(matches("**/*.yaml", "a/b/c/login.yaml"));
        assert!(matches("flows/**/x.yml", "flows/x.yml"));
        assert!(matches("flows/**/x.yml", "flows/a/b/x.yml"));
        assert!(!matches("flows/**/x.yml", "other/x.yml"));
        assert!(matches("flows/**", "flows/a/b"));
        assert!(matches("**/**/*.yaml", "a/x.yaml"));
    }

    #[test]
    fn dot_names_need_an_explicit_dot() {
        assert!(!matches("*.yaml", ".hidden.yaml"));
        assert!(matches(".*.yaml", ".hidden.yaml"));
        assert!(!matches("**/*.yaml", ".git/x.yaml"));
        assert!(matches(".git/*.yaml", ".git/x.yaml"));
    }

    #[test]
    fn classes_escapes_and_braces() {
        assert!(matches("[abc].yaml", "b.yaml"));
        assert!(!matches("[abc].yaml", "d.yaml"));
        assert!(matches("[a-c]x", "bx"));
        assert!(matches("[!a-c]x", "dx"));
        assert!(!matches("[!a-c]x", "ax"));
        assert!(matches("\\*.yaml", "*.yaml"));
        assert!(!matches("\\*.yaml", "a.yaml"));
        assert!(matches("[.yaml", "[.yaml"));
        assert!(matches("{smoke,regression}/*.yaml", "regression/a.yaml"));
        assert!(matches("*.{yaml,yml}", "a.yml"));
        assert!(matches("{a,{b,c}}.yaml", "c.yaml"));
        assert!(matches("{x}.yaml", "{x}.yaml"));
        assert_eq!(expand_braces("a{1,2}b{3,4}").len(), 4);
        assert!(expand_braces(&"{a,b}".repeat(20)).len() <= MAX_BRACE_EXPANSIONS);
    }

    #[test]
    fn dot_segments_and_literal_bases() {
        assert!(matches("./sub/*.yaml", "sub/a.yaml"));
        let base = Path::new("/ws/flows");
        assert_eq!(literal_base(base, "../x/*.png"), PathBuf::from("/ws/x"));
        assert_eq!(
            literal_base(base, "shots/**"),
            PathBuf::from("/ws/flows/shots")
        );
        assert_eq!(literal_base(base, "/etc/*"), PathBuf::from("/etc"));
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/..")), PathBuf::from("/"));
    }

    #[test]
    fn glob_walks_the_filesystem() {
        let dir = std::env::temp_dir().join(format!("dcd-glob-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for f in [
            "a.yaml",
            "sub/b.yaml",
            "sub/deep/c.yml",
            ".hidden/d.yaml",
            "x.txt",
        ] {
            let p = dir.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "x").unwrap();
        }
        let rel = |v: Vec<PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| crate::plan::bundle::entry_name(&dir, p))
                .collect()
        };
        assert_eq!(
            rel(glob(&dir, "**/*.{yaml,yml}")),
            ["a.yaml", "sub/b.yaml", "sub/deep/c.yml"]
        );
        assert_eq!(rel(glob(&dir, "*.yaml")), ["a.yaml"]);
        assert_eq!(rel(glob(&dir, "sub/*")), ["sub/b.yaml", "sub/deep"]);
        assert_eq!(
            rel(glob(&dir, "sub/**")),
            ["sub", "sub/b.yaml", "sub/deep", "sub/deep/c.yml"]
        );
        assert_eq!(rel(glob(&dir, "sub/../a.yaml")), ["a.yaml"]);
        assert!(glob(&dir, "nothing/*.yaml").is_empty());
        let _ = fs::remove_dir_all(&dir);
    }
}
