//! The execution order: `executionOrder.flowsOrder` turned into the flows that run one after
//! the other, and the flows left to run in parallel (docs/planning.md, "`executionOrder`").

use super::{Kept, Planner, sort_paths};
use foldhash::{HashMap, HashSet};
use serde_json::Value;
use std::path::PathBuf;

/// Flows that run one after the other (`executionOrder`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// `executionOrder.continueOnFailure` (default true).
    pub continue_on_failure: bool,
    /// Absolute paths in execution order (may be empty when no name matched).
    pub flows: Vec<PathBuf>,
}

/// Step 10's names: each kept flow's name (debug-logged), the distinct names in order, and
/// the flow each name maps to (the last one with it).
pub(super) fn flow_names(
    planner: &mut Planner,
    kept: &[Kept],
) -> (Vec<String>, HashMap<String, PathBuf>) {
    let mut names: Vec<String> = Vec::new();
    let mut by_name: HashMap<String, PathBuf> = HashMap::default();
    for (p, name) in kept {
        let name = name.clone();
        if planner.opts.per_flow_debug {
            planner
                .debug
                .push(format!("Flow name mapping: \"{name}\" -> {}", p.display()));
        }
        if by_name.insert(name.clone(), p.clone()).is_none() {
            names.push(name);
        }
    }
    (names, by_name)
}

/// Step 11: the kept flows not in the sequence, sorted.
pub(super) fn parallel_flows(seeds: &[PathBuf], sequence: Option<&Sequence>) -> Vec<PathBuf> {
    let in_sequence: HashSet<&PathBuf> = sequence.iter().flat_map(|s| &s.flows).collect();
    let mut flows: Vec<PathBuf> = seeds
        .iter()
        .filter(|p| !in_sequence.contains(p))
        .cloned()
        .collect();
    sort_paths(&mut flows);
    flows
}

/// `executionOrder.flowsOrder` → the sequence: each entry, minus a trailing `.yaml`/`.yml`, is
/// looked up by flow name among the flows the tags kept; duplicates are dropped, and names that
/// match no flow produce the TS warnings (they may have been filtered out on purpose).
pub(super) fn sequence(
    planner: &mut Planner,
    cfg: Option<&Value>,
    names: &[String],
    by_name: &HashMap<String, PathBuf>,
) -> Option<Sequence> {
    let eo = cfg?.get("executionOrder")?.as_object()?;
    let order: Vec<&str> = eo
        .get("flowsOrder")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let continue_on_failure = eo
        .get("continueOnFailure")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut flows: Vec<PathBuf> = Vec::new();
    for entry in &order {
        let name = strip_yaml_ext(entry);
        if name != *entry {
            planner.debug.push(format!(
                "Stripping trailing extension: \"{entry}\" -> \"{name}\""
            ));
        }
        match by_name.get(name) {
            Some(p) => {
                if !flows.contains(p) {
                    flows.push(p.clone());
                }
            }
            None => planner.warnings.push(format!(
                "Warning: Could not find flows specified in executionOrder.flowsOrder: {name}\n\
                 This may be intentional if flows were excluded by tags.\nAvailable flow names:\n{}",
                names.join("\n")
            )),
        }
    }
    planner.debug.push(format!(
        "Sequential flows resolved: {} flow(s)",
        flows.len()
    ));
    if !order.is_empty() && flows.is_empty() {
        planner.warnings.push(format!(
            "Warning: executionOrder specified {} flow(s) but none were found.\nThis may be \
             intentional if flows were excluded by tags.\n\nExpected flows: {}\nAvailable flow \
             names: {}\n\nHint: Flow names come from either the 'name' field in the flow config \
             or the filename without extension.",
            order.len(),
            order.join(", "),
            names.join(", ")
        ));
    }
    Some(Sequence {
        continue_on_failure,
        flows,
    })
}

/// Drops a trailing `.yaml`/`.yml`, any case (`/\.ya?ml$/i`).
fn strip_yaml_ext(name: &str) -> &str {
    let lower = name.to_ascii_lowercase();
    for ext in [".yaml", ".yml"] {
        if lower.ends_with(ext) && name.is_char_boundary(name.len() - ext.len()) {
            return &name[..name.len() - ext.len()];
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_order_names_lose_a_yaml_extension_in_any_case() {
        assert_eq!(strip_yaml_ext("login.yaml"), "login");
        assert_eq!(strip_yaml_ext("login.YML"), "login");
        assert_eq!(strip_yaml_ext("login"), "login");
        assert_eq!(strip_yaml_ext("a.yaml.yaml"), "a.yaml");
        assert_eq!(strip_yaml_ext("é"), "é");
    }
}
