//! The flow zip and the portable path keys (docs/planning.md, "Common root, portable keys and
//! the zip").
//!
//! The server unpacks the zip and runs the flows by the keys it was sent (`testFileNames`,
//! `sequentialFlows`, …), so zip entry names and keys must agree: both are the absolute path
//! relative to one common root, `/`-separated. The root is the longest *whole-segment*
//! directory prefix of every bundled path (`flows` and `flows-extra` do not merge, and a
//! file's own name is never consumed). The zip is built in memory, entries sorted, with a
//! fixed timestamp and mode, so the same workspace always gives the same bytes and SHA-256 —
//! which is what the server's dedup keys on.

use super::confine::{Origin, Workspace};
use super::{Plan, PlanError};
use foldhash::HashSet;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The flow zip of a plan.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The zip bytes.
    pub zip: Vec<u8>,
    /// Lower-case hex SHA-256 of `zip` (the payload `sha` when not encrypted).
    pub sha256: String,
    /// Zip entry names, in archive order (sorted).
    pub entries: Vec<String>,
    /// The common root the entry names and portable keys are relative to.
    pub root: PathBuf,
}

/// Longest whole-segment directory prefix shared by `paths`; the last segment of each path
/// (the file) is never part of it. Empty when `paths` is empty or nothing is shared.
pub fn common_root<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> PathBuf {
    let mut paths = paths.into_iter();
    let Some(first_path) = paths.next() else {
        return PathBuf::new();
    };
    // The first path's directory, cut back to what every other path shares (one pass, in any
    // order, repeats allowed; no per-path component lists: a plan has thousands of paths).
    let first: Vec<Component> = first_path.as_ref().components().collect();
    let mut n = first.len().saturating_sub(1);
    for p in paths {
        if n == 0 {
            break;
        }
        let mut c = p.as_ref().components();
        // A path's own last segment (its file) is never part of the root.
        c.next_back();
        n = first[..n]
            .iter()
            .zip(c)
            .take_while(|(a, b)| **a == *b)
            .count();
    }
    first[..n].iter().collect()
}

/// `root`-relative, `/`-separated, without a leading `/`: the zip entry name of `path`. A path
/// not under `root` keeps all its normal segments.
pub fn entry_name(root: &Path, path: &Path) -> String {
    match plain_rest(root, path) {
        Some(name) => name.to_string(),
        None => entry_name_by_components(root, path),
    }
}

/// [`entry_name`] the long way, component by component.
fn entry_name_by_components(root: &Path, path: &Path) -> String {
    let rel = if root.as_os_str().is_empty() {
        path
    } else {
        path.strip_prefix(root).unwrap_or(path)
    };
    let mut name = String::with_capacity(rel.as_os_str().len());
    for c in rel.components() {
        let part = match c {
            Component::Normal(s) => s.to_string_lossy(),
            Component::ParentDir => "..".into(),
            _ => continue,
        };
        if !name.is_empty() {
            name.push('/');
        }
        name.push_str(&part);
    }
    name
}

/// [`entry_name`] without taking `path` apart, for the usual case: `path` is `root`, a `/`,
/// and a UTF-8 rest that its components would give back unchanged (no empty or `.` segment).
/// `None` sends the caller the long way.
fn plain_rest<'a>(root: &Path, path: &'a Path) -> Option<&'a str> {
    let (root, path) = (
        root.as_os_str().as_encoded_bytes(),
        path.as_os_str().as_encoded_bytes(),
    );
    let rest = path.strip_prefix(root)?.strip_prefix(b"/")?;
    let rest = std::str::from_utf8(rest).ok()?;
    // Windows also separates with `\`: a rest holding one goes the long way, which joins
    // every component with `/` (the same key on every platform).
    let clean = !root.is_empty()
        && !rest.is_empty()
        && !rest.contains(|c| c != '/' && std::path::is_separator(c))
        && rest.split('/').all(|seg| !seg.is_empty() && seg != ".");
    clean.then_some(rest)
}

/// The portable key of `path`: `./` + its entry name, e.g. `./sub/checkout.yaml`.
pub fn portable_key(root: &Path, path: &Path) -> String {
    if let Some(name) = plain_rest(root, path) {
        let mut key = String::with_capacity(name.len() + 2);
        key.push_str("./");
        key.push_str(name);
        return key;
    }
    format!("./{}", entry_name(root, path))
}

impl Plan {
    /// The flows that run: the parallel ones, then the sequence in order.
    fn running(&self) -> impl Iterator<Item = &PathBuf> {
        self.flows_to_run
            .iter()
            .chain(self.sequence.iter().flat_map(|s| s.flows.iter()))
    }

    /// Every path the zip holds, as the plan lists them (unsorted, with repeats).
    fn bundled(&self) -> impl Iterator<Item = &PathBuf> {
        self.running()
            .chain(&self.referenced_files)
            .chain(&self.included_files)
    }

    /// Every path the zip holds: flows to run, sequential flows, referenced and included files,
    /// deduplicated and sorted.
    pub fn bundled_paths(&self) -> Vec<PathBuf> {
        let mut all: Vec<PathBuf> = self.bundled().cloned().collect();
        super::sort_paths(&mut all);
        all.dedup();
        all
    }

    /// The common root of [`bundled_paths`](Self::bundled_paths): what zip entry names and
    /// portable keys are relative to. It depends on neither order nor repeats, so it is taken
    /// over the plan's lists as they are.
    pub fn root(&self) -> PathBuf {
        self.root
            .get_or_init(|| common_root(self.bundled()))
            .clone()
    }

    /// `testFileNames`: the parallel flows as portable keys.
    pub fn test_file_names(&self, root: &Path) -> Vec<String> {
        self.flows_to_run
            .iter()
            .map(|p| portable_key(root, p))
            .collect()
    }

    /// `sequentialFlows`: the sequence as portable keys, in execution order.
    pub fn sequential_flows(&self, root: &Path) -> Vec<String> {
        self.sequence
            .iter()
            .flat_map(|s| s.flows.iter())
            .map(|p| portable_key(root, p))
            .collect()
    }

    /// `flowMetadata`: portable key → the flow's header map.
    pub fn flow_metadata_json(&self, root: &Path) -> Value {
        Value::Object(
            self.flow_metadata
                .iter()
                .map(|(p, h)| (portable_key(root, p), h.value()))
                .collect::<Map<_, _>>(),
        )
    }

    /// [`flow_metadata_json`](Self::flow_metadata_json) as JSON text, put together from the
    /// headers' own text (the submission sends it as text; no value tree is rebuilt).
    pub fn flow_metadata_text(&self, root: &Path) -> String {
        let size: usize = self.flow_metadata.values().map(|h| h.json.len() + 64).sum();
        let mut out = String::with_capacity(size + 2);
        out.push('{');
        for (i, (p, h)) in self.flow_metadata.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::String(portable_key(root, p)).to_string());
            out.push(':');
            out.push_str(&h.json);
        }
        out.push('}');
        out
    }

    /// `testFileOverrides`: portable key → `{NAME: value}` (prefix stripped), one entry per
    /// flow with a header, empty when it has no overrides (as the TS CLI sends it).
    pub fn overrides_json(&self, root: &Path) -> Value {
        Value::Object(
            self.flow_metadata
                .iter()
                .map(|(p, h)| {
                    let inner: Map<String, Value> = h
                        .overrides
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect();
                    (portable_key(root, p), Value::Object(inner))
                })
                .collect::<Map<_, _>>(),
        )
    }

    /// The names the zip's entries will have, as a dry run lists them: the flows that run
    /// (parallel, then sequential in order), then every other bundled file (sub-flows,
    /// scripts, media, included files), sorted.
    pub fn zip_entries(&self, root: &Path) -> Vec<String> {
        let mut seen: HashSet<String> = HashSet::default();
        let mut names: Vec<String> = Vec::new();
        for p in self.running() {
            let name = entry_name(root, p);
            if seen.insert(name.clone()) {
                names.push(name);
            }
        }
        let mut rest: Vec<String> = self
            .bundled_paths()
            .iter()
            .map(|p| entry_name(root, p))
            .filter(|n| !seen.contains(n))
            .collect();
        rest.sort();
        rest.dedup();
        names.extend(rest);
        names
    }

    /// Portable key → (flow name, tags) for every flow with a header and every flow that
    /// runs: the name is the header's `name`, else the file stem; tags are strings. Results
    /// from the API are matched to names through this map (`test_file_name` is a key).
    pub fn flow_info(&self, root: &Path) -> BTreeMap<String, (String, Vec<String>)> {
        let mut out = BTreeMap::new();
        let info = |p: &Path, header: Option<&super::Header>| {
            let tags = header.map(|h| h.tags.clone()).unwrap_or_default();
            (super::flow_name(p, header), tags)
        };
        for (p, header) in &self.flow_metadata {
            out.entry(portable_key(root, p))
                .or_insert_with(|| info(p, Some(header)));
        }
        for p in self.running() {
            // A running flow with a header is in already (same key); only the others are
            // looked up.
            if let std::collections::btree_map::Entry::Vacant(slot) =
                out.entry(portable_key(root, p))
            {
                slot.insert(info(p, self.flow_metadata.get(p)));
            }
        }
        out
    }
}

/// The most dcd reads of one file going into the zip (the zip is built in memory).
pub const MAX_BUNDLED_FILE: u64 = 1 << 30;
/// A batch of files deflated together: at most this many bytes or files.
const BATCH_BYTES: u64 = 64 << 20;
const BATCH_FILES: usize = 2048;
/// Below this many bytes a batch is deflated on the calling thread.
const PARALLEL_FROM: u64 = 256 << 10;

/// Zips every bundled file of `plan` with entry names relative to the common root.
/// Deterministic: sorted entries, a fixed 1980-01-01 timestamp and mode 0644, deflate. Every
/// path passes the workspace check again (the planner already refused what does not), so
/// nothing from outside `plan.base_dir` and nothing but regular files is ever zipped. The
/// flow files whose bytes planning kept ([`super::PlanOptions::keep_sources`]) are zipped from
/// those bytes, which it read after its own check; the other files are read here.
pub fn bundle(plan: &Plan) -> Result<Bundle, PlanError> {
    let root = plan.root();
    let mut ws = Workspace::new(&plan.base_dir)?;
    // Each entry's real path, and the bytes planning kept of it, if it did.
    let mut entries: BTreeMap<String, (PathBuf, Option<&[u8]>)> = BTreeMap::new();
    for p in plan.bundled_paths() {
        match ws.admit(&p) {
            Ok(real) => {
                let kept = plan.sources.get(&p).map(|b| &b[..]);
                entries.entry(entry_name(&root, &p)).or_insert((real, kept));
            }
            Err(r) => ws.refuse(super::confine::refusal_line(Origin::Zip, &p, &r)),
        }
    }
    ws.result()?;
    let zerr = |e: String| PlanError(format!("Failed to build the flow zip: {e}"));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let mut zip = super::zip_writer::ZipWriter::new();
    let mut names = Vec::with_capacity(entries.len());
    let entries: Vec<_> = entries.into_iter().collect();
    // In batches: read (one file at a time; not the flows planning kept), deflate on several
    // threads, write in order; at most a batch of files is held besides the zip.
    let mut batch: Vec<std::borrow::Cow<[u8]>> = Vec::new();
    let mut held = 0u64;
    let mut from = 0;
    for (i, (_, (path, kept))) in entries.iter().enumerate() {
        let bytes = match kept {
            Some(b) => std::borrow::Cow::Borrowed(*b),
            None => crate::fsio::read_capped(path, MAX_BUNDLED_FILE)
                .map_err(|e| PlanError(format!("Failed to read {}: {e}", path.display())))?
                .into(),
        };
        held += bytes.len() as u64;
        batch.push(bytes);
        if held >= BATCH_BYTES || batch.len() >= BATCH_FILES || i + 1 == entries.len() {
            // A small batch (a typical workspace) is not worth starting threads for.
            let threads = if held < PARALLEL_FROM { 1 } else { threads };
            let deflated = super::zip_writer::deflate_all(&batch, threads).map_err(zerr)?;
            for ((name, _), d) in entries[from..=i].iter().zip(&deflated) {
                zip.add(name, d).map_err(zerr)?;
                names.push(name.clone());
            }
            (batch, held, from) = (Vec::new(), 0, i + 1);
        }
    }
    let bytes = zip.finish().map_err(zerr)?;
    let sha256 = crate::encoding::hex(&crate::encoding::sha256(&bytes));
    Ok(Bundle {
        zip: bytes,
        sha256,
        entries: names,
        root,
    })
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn the_short_way_to_an_entry_name_gives_what_the_components_give() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let roots = ["", "/", "/w", "/w/", "/w/a", "/w//a", "/w/./a", "/w/a b"];
        let rests = [
            "",
            "x",
            "x/",
            "/x",
            "x//y",
            "./x",
            "x/./y",
            "x/.",
            ".",
            "..",
            "../x",
            "x/../y",
            "a b/ü.yaml",
            "ab/x",
            "-/x",
            "x\\y",
            "é/.hidden/y.yaml",
        ];
        let mut checked = 0;
        for root in roots {
            for rest in rests {
                for sep in ["/", "", "//"] {
                    let path = format!("{root}{sep}{rest}");
                    let (r, p) = (Path::new(root), Path::new(&path));
                    assert_eq!(
                        super::entry_name(r, p),
                        super::entry_name_by_components(r, p),
                        "root {root:?} path {path:?}"
                    );
                    checked += 1;
                }
            }
        }
        // Not UTF-8: the long way, lossily.
        let p = Path::new(OsStr::from_bytes(b"/w/a/\xff.yaml"));
        assert_eq!(super::entry_name(Path::new("/w/a"), p), "\u{fffd}.yaml");
        assert!(checked > 300);
        assert_eq!(
            super::portable_key(Path::new("/w"), Path::new("/w/s/a.yaml")),
            "./s/a.yaml"
        );
        assert_eq!(
            super::portable_key(Path::new("/w"), Path::new("/w/./a")),
            "./a"
        );
    }

    use super::*;

    fn root(paths: &[&str]) -> String {
        // Compared as `/`-separated text on every platform.
        common_root(paths.iter().map(PathBuf::from))
            .to_string_lossy()
            .replace('\\', "/")
    }

    #[test]
    fn common_root_is_whole_segment() {
        assert_eq!(
            root(&["/a/b/flows/login.yaml", "/a/b/flows/checkout.yaml"]),
            "/a/b/flows"
        );
        assert_eq!(
            root(&["/a/b/flows/login.yaml", "/a/b/flows-extra/x.yaml"]),
            "/a/b"
        );
        assert_eq!(root(&["/a/only.yaml"]), "/a");
        assert_eq!(
            root(&["/a/b/flows/login.yaml", "/a/b/helpers/util.js"]),
            "/a/b"
        );
        assert_eq!(root(&[]), "");
        assert_eq!(root(&["/x/a.yaml", "/y/b.yaml"]), "/");
        // A path that is a prefix of another's directory: the file segment is not consumed.
        assert_eq!(root(&["/a/b", "/a/b/c.yaml"]), "/a");
    }

    /// The root against the plain rule (each path's directory components, the longest prefix
    /// all share) over every ordered pair and triple of some awkward paths, repeats included:
    /// the plan takes its root over unsorted lists with repeats.
    #[test]
    fn common_root_follows_the_plain_rule() {
        fn plain(paths: &[&str]) -> PathBuf {
            let dirs: Vec<Vec<Component>> = paths
                .iter()
                .map(|p| {
                    let mut c: Vec<Component> = Path::new(p).components().collect();
                    c.pop();
                    c
                })
                .collect();
            let Some(first) = dirs.first() else {
                return PathBuf::new();
            };
            let n = (0..first.len())
                .take_while(|&i| dirs.iter().all(|d| d.get(i) == Some(&first[i])))
                .count();
            first[..n].iter().collect()
        }
        let odd = [
            "/",
            "/a",
            "/a/",
            "/a/b",
            "/a//b/c",
            "/a/./b/c",
            "a",
            "a/b",
            "./a/b",
            "a/.",
            "/a/b/..",
            "/a/bc/d",
            "/a/b/c/d.yaml",
        ];
        for x in odd {
            for y in odd {
                assert_eq!(common_root([x, y]), plain(&[x, y]), "{x:?} {y:?}");
                for z in odd {
                    assert_eq!(
                        common_root([x, y, z]),
                        plain(&[x, y, z]),
                        "{x:?} {y:?} {z:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn portable_keys_and_entry_names() {
        let r = Path::new("/a/b");
        assert_eq!(
            portable_key(r, Path::new("/a/b/login.yaml")),
            "./login.yaml"
        );
        assert_eq!(
            portable_key(r, Path::new("/a/b/sub/x.yaml")),
            "./sub/x.yaml"
        );
        assert_eq!(entry_name(r, Path::new("/a/b/sub/x.yaml")), "sub/x.yaml");
        // Not under the root (a filtered-out flow's metadata): the whole path, as TS does.
        assert_eq!(portable_key(r, Path::new("/c/x.yaml")), "./c/x.yaml");
        assert_eq!(
            portable_key(Path::new("/"), Path::new("/c/x.yaml")),
            "./c/x.yaml"
        );
        assert_eq!(
            portable_key(Path::new(""), Path::new("/c/x.yaml")),
            "./c/x.yaml"
        );
        // Whole segments only: `/a/b` is not a prefix of `/a/bc/x`.
        assert_eq!(portable_key(r, Path::new("/a/bc/x.yaml")), "./a/bc/x.yaml");
    }
}
