//! When a run is done, and what its verdict is (docs/wait.md, "Completion and verdict").
//!
//! "Done" is decided on the full snapshot (every row, earlier tries included, is terminal),
//! never on seeing a particular event. The verdict is taken over the newest try of each retry
//! chain, so a flow that failed and then passed on retry counts as passed.

use super::results::{ResultRow, Status};
use crate::exit::Exit;
use std::collections::{HashMap, HashSet};

/// The verdict of a completed run: SUPERSEDED if any newest try was superseded, else PASSED
/// if every newest try passed, else FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed,
    /// Cancelled by a newer run of the same CI context (`--cancel-previous`): not an error.
    Superseded,
}

impl Verdict {
    /// The JSON `status` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "PASSED",
            Verdict::Failed => "FAILED",
            Verdict::Superseded => "SUPERSEDED",
        }
    }

    /// The exit code of a waited-for run. A failed run exits 0 only when `--json-file` was
    /// *written*: the wrapper reads the verdict from the file. With no file (not asked for,
    /// or the write failed) the 2 stands (docs/exit-codes.md, "The verdict and --json-file").
    pub fn exit(self, json_file_written: bool) -> Exit {
        match self {
            Verdict::Passed | Verdict::Superseded => Exit::Success,
            Verdict::Failed if json_file_written => Exit::Success,
            Verdict::Failed => Exit::TestsFailed,
        }
    }
}

const SUPERSEDED_PREFIX: &str = "superseded_by:";

/// True when no row (retries included) is PENDING, QUEUED or RUNNING. Empty is not done.
pub fn all_complete(rows: &[ResultRow]) -> bool {
    !rows.is_empty() && rows.iter().all(|r| r.status.is_terminal())
}

/// The newest try of each retry chain, in the original order (the TS CLI's
/// `filterLatestResults`).
///
/// Each row's `retry_of` chain is walked to its root; a missing parent makes the `retry_of`
/// value itself the root; the members of a cycle share one root, the smallest id in it, and
/// rows leading into a cycle belong to that chain too. Among rows sharing a root the one with
/// the highest `id` is kept. Linear in the number of rows, however deep the chains are (a
/// hostile server can send a chain of any depth).
pub fn latest_tries(rows: &[ResultRow]) -> Vec<ResultRow> {
    let (root, _) = chain_roots(rows);
    let mut best: HashMap<i64, i64> = HashMap::new();
    for r in rows {
        let e = best.entry(root[&r.id]).or_insert(r.id);
        *e = (*e).max(r.id);
    }
    let keep: HashSet<i64> = best.into_values().collect();
    let mut seen = HashSet::new();
    rows.iter()
        .filter(|r| keep.contains(&r.id) && seen.insert(r.id))
        .cloned()
        .collect()
}

/// The chain root of every row id, and how many links were followed to find them all (each
/// link at most once: the walk stops at an id whose root is already known).
fn chain_roots(rows: &[ResultRow]) -> (HashMap<i64, i64>, usize) {
    // A repeated id: the last row with it speaks for it.
    let parent: HashMap<i64, Option<i64>> = rows.iter().map(|r| (r.id, r.retry_of)).collect();
    let mut root: HashMap<i64, i64> = HashMap::with_capacity(parent.len());
    // Ids on the chain being walked, with their position in `path`.
    let mut on_path: HashMap<i64, usize> = HashMap::new();
    let mut steps = 0usize;
    for r in rows {
        let mut path: Vec<i64> = Vec::new();
        let mut cur = r.id;
        let found = loop {
            if let Some(&known) = root.get(&cur) {
                break known;
            }
            if let Some(&pos) = on_path.get(&cur) {
                // A cycle: its members are path[pos..].
                break path[pos..].iter().copied().min().unwrap_or(cur);
            }
            on_path.insert(cur, path.len());
            path.push(cur);
            match parent.get(&cur).copied().flatten() {
                None => break cur,
                Some(p) if !parent.contains_key(&p) => break p,
                Some(p) => {
                    steps += 1;
                    cur = p;
                }
            }
        };
        for id in path {
            on_path.remove(&id);
            root.insert(id, found);
        }
    }
    (root, steps)
}

/// The verdict over the newest tries: superseded beats everything, then all passed, else failed.
pub fn verdict(latest: &[ResultRow]) -> Verdict {
    if superseding_upload_id(latest).is_some() || latest.iter().any(is_superseded) {
        Verdict::Superseded
    } else if !latest.is_empty() && latest.iter().all(|r| r.status == Status::Passed) {
        Verdict::Passed
    } else {
        Verdict::Failed
    }
}

fn is_superseded(r: &ResultRow) -> bool {
    r.cancellation_reason
        .as_deref()
        .is_some_and(|c| c.starts_with(SUPERSEDED_PREFIX))
}

/// The newer upload that superseded this run, if a row names one.
pub fn superseding_upload_id(rows: &[ResultRow]) -> Option<String> {
    rows.iter()
        .find(|r| is_superseded(r))
        .and_then(|r| r.cancellation_reason.as_deref())
        .map(|c| c[SUPERSEDED_PREFIX.len()..].trim().to_string())
        .filter(|s| !s.is_empty())
}

/// This run's console URL pointed at the newer upload, without any `result=` parameter
/// (`…?upload=A&result=1` → `…?upload=B`).
pub fn superseded_url(console_url: &str, newer: &str) -> String {
    let (base, query) = console_url.split_once('?').unwrap_or((console_url, ""));
    let params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("result="))
        .map(|p| {
            if p.starts_with("upload=") {
                format!("upload={newer}")
            } else {
                p.to_string()
            }
        })
        .collect();
    if params.is_empty() {
        format!("{base}?upload={newer}")
    } else {
        format!("{base}?{}", params.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, status: Status, retry_of: Option<i64>) -> ResultRow {
        ResultRow {
            retry_of,
            ..ResultRow::new(id, &format!("./t{id}.yaml"), status)
        }
    }

    fn ids(rows: &[ResultRow]) -> Vec<i64> {
        rows.iter().map(|r| r.id).collect()
    }

    #[test]
    fn completion_needs_every_row_terminal_and_at_least_one_row() {
        use Status::*;
        assert!(!all_complete(&[]));
        assert!(!all_complete(&[
            row(1, Passed, None),
            row(2, Queued, Some(1))
        ]));
        assert!(all_complete(&[
            row(1, Failed, None),
            row(2, Other("X".into()), None)
        ]));
    }

    #[test]
    fn retry_chains_collapse_to_the_highest_id() {
        use Status::*;
        let rows = vec![
            row(1, Failed, None),
            row(2, Passed, None),
            row(3, Failed, Some(1)),
            row(5, Passed, Some(3)), // retry of a retry
        ];
        assert_eq!(ids(&latest_tries(&rows)), vec![2, 5]);
        assert_eq!(verdict(&latest_tries(&rows)), Verdict::Passed);
    }

    #[test]
    fn missing_parents_and_cycles_are_survived() {
        use Status::*;
        // 10 and 11 both retry a parent (7) we never saw: it is their shared root.
        let rows = vec![row(10, Failed, Some(7)), row(11, Passed, Some(7))];
        assert_eq!(ids(&latest_tries(&rows)), vec![11]);
        // 1 → 2 → 1: a cycle, still one chain, no hang.
        let rows = vec![row(1, Failed, Some(2)), row(2, Passed, Some(1))];
        assert_eq!(latest_tries(&rows).len(), 1);
        let rows = vec![row(4, Passed, Some(4))];
        assert_eq!(ids(&latest_tries(&rows)), vec![4]);
    }

    #[test]
    fn rows_leading_into_a_cycle_join_its_chain() {
        use Status::*;
        // 9 → 3 → 4 → 3: one chain, rooted at 3; 9 is its newest try.
        let rows = vec![
            row(9, Passed, Some(3)),
            row(3, Failed, Some(4)),
            row(4, Failed, Some(3)),
        ];
        assert_eq!(ids(&latest_tries(&rows)), vec![9]);
    }

    #[test]
    fn a_deep_retry_chain_collapses_in_linear_steps() {
        use Status::*;
        const DEPTH: i64 = 20_000;
        // Newest first, so a naive walk would start at the deep end every time.
        let rows: Vec<ResultRow> = (1..=DEPTH)
            .rev()
            .map(|id| {
                row(
                    id,
                    if id == DEPTH { Passed } else { Failed },
                    (id > 1).then(|| id - 1),
                )
            })
            .collect();
        let (roots, steps) = chain_roots(&rows);
        assert!(roots.values().all(|&r| r == 1));
        assert!(
            steps < rows.len(),
            "{steps} links followed for {} rows",
            rows.len()
        );
        assert_eq!(ids(&latest_tries(&rows)), vec![DEPTH]);
        assert_eq!(verdict(&latest_tries(&rows)), Verdict::Passed);
        // Oldest first, and as one long cycle.
        let mut rows: Vec<ResultRow> = rows.into_iter().rev().collect();
        rows[0].retry_of = Some(DEPTH);
        let (roots, steps) = chain_roots(&rows);
        assert!(roots.values().all(|&r| r == 1));
        assert!(steps <= rows.len());
        assert_eq!(latest_tries(&rows).len(), 1);
    }

    #[test]
    fn verdict_rules() {
        use Status::*;
        assert_eq!(verdict(&[row(1, Passed, None)]), Verdict::Passed);
        assert_eq!(
            verdict(&[row(1, Passed, None), row(2, Cancelled, None)]),
            Verdict::Failed
        );
        assert_eq!(verdict(&[row(1, Error, None)]), Verdict::Failed);
        assert_eq!(
            verdict(&[row(1, Other("NEW".into()), None)]),
            Verdict::Failed
        );
        let mut s = row(2, Cancelled, None);
        s.cancellation_reason = Some("superseded_by:newer".into());
        let rows = [row(1, Failed, None), s];
        assert_eq!(verdict(&rows), Verdict::Superseded);
        assert_eq!(superseding_upload_id(&rows).as_deref(), Some("newer"));
        let mut empty = row(3, Cancelled, None);
        empty.cancellation_reason = Some("superseded_by:".into());
        assert_eq!(superseding_upload_id(std::slice::from_ref(&empty)), None);
        assert_eq!(verdict(&[empty]), Verdict::Superseded);
    }

    #[test]
    fn superseded_url_swaps_the_upload_and_drops_result() {
        assert_eq!(
            superseded_url("https://c/results?upload=A&result=1", "B"),
            "https://c/results?upload=B"
        );
        assert_eq!(
            superseded_url("https://c/results?result=1&upload=A", "B"),
            "https://c/results?upload=B"
        );
        assert_eq!(
            superseded_url("https://c/results", "B"),
            "https://c/results?upload=B"
        );
    }

    #[test]
    fn verdicts_map_to_exit_codes_with_and_without_a_written_json_file() {
        let table = [
            (Verdict::Passed, false, 0),
            (Verdict::Passed, true, 0),
            (Verdict::Superseded, false, 0),
            (Verdict::Superseded, true, 0),
            (Verdict::Failed, false, 2),
            (Verdict::Failed, true, 0),
        ];
        for (v, written, code) in table {
            assert_eq!(v.exit(written).code(), code, "{v:?} written={written}");
        }
    }
}
