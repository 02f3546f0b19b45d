//! The planner and the flow zip on the workspaces in fixtures/ (one planning rule each, see
//! fixtures/README.md): flows to run as portable keys, sequences, zip entries, overrides,
//! warnings and the exact error texts users and wrappers grep for. Also: the zip is
//! deterministic, and the YAML reader, header split and whole planner never panic on junk.

use crate::support::lib::plan::{self, Plan, PlanOptions, bundle, yaml};
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};

use crate::support::rng::Rng;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Options planning `flows` inside fixture `name` (cwd = the fixture).
fn opts(name: &str, flows: &str) -> PlanOptions {
    PlanOptions {
        flows: flows.into(),
        cwd: fixture(name),
        ..PlanOptions::default()
    }
}

fn plan_ok(o: &PlanOptions) -> Plan {
    match plan::plan(o) {
        Ok(p) => p,
        Err(e) => panic!("plan failed: {e}"),
    }
}

fn plan_err(o: &PlanOptions) -> String {
    match plan::plan(o) {
        Ok(p) => panic!("expected an error, got {:?}", p.flows_to_run),
        Err(e) => e.to_string(),
    }
}

/// Plan + bundle; returns (plan, root, flows to run as keys, zip entries).
fn run(o: &PlanOptions) -> (Plan, PathBuf, Vec<String>, Vec<String>) {
    let p = plan_ok(o);
    let b = bundle(&p).expect("bundle");
    assert_eq!(b.root, p.root());
    let keys = p.test_file_names(&b.root);
    (p, b.root, keys, b.entries)
}

#[test]
fn basic_folder_of_flows() {
    let (p, root, keys, entries) = run(&opts("basic", "."));
    assert_eq!(root, fixture("basic"));
    assert_eq!(keys, ["./checkout.yml", "./login.yaml"]);
    assert_eq!(entries, ["checkout.yml", "login.yaml"]);
    assert_eq!(p.total_flow_files, 2);
    assert_eq!(p.sequence, None);
    assert_eq!(p.workspace_config, None);
    assert!(p.warnings.is_empty());
    assert_eq!(p.base_dir, fixture("basic"));
    let info = p.flow_info(&root);
    assert_eq!(info["./login.yaml"], ("Login".to_string(), vec![]));
    assert_eq!(info["./checkout.yml"], ("checkout".to_string(), vec![]));
    assert_eq!(
        p.flow_metadata_json(&root),
        json!({"./login.yaml": {"appId": "com.example.app", "name": "Login"}})
    );
    // The flow path may also be given absolute, or relative with a trailing slash.
    let mut o = opts("basic", "");
    o.flows = fixture("basic");
    assert_eq!(run(&o).2, keys);
    assert_eq!(run(&opts("fixtures", "../basic/")).2, keys);
}

#[test]
fn tags_from_config_and_flags() {
    let (p, _, keys, entries) = run(&opts("tags", "."));
    assert_eq!(keys, ["./smoke-login.yaml"]);
    assert_eq!(entries, ["smoke-login.yaml"]);
    assert_eq!(p.all_include_tags, ["smoke"]);
    assert_eq!(p.all_exclude_tags, ["flaky"]);
    assert_eq!(p.total_flow_files, 4);
    // Metadata is recorded for filtered-out flows too.
    assert_eq!(p.flow_metadata.len(), 4);

    let mut o = opts("tags", ".");
    o.include_tags = vec!["regression".into()];
    assert_eq!(run(&o).2, ["./regression.yaml", "./smoke-login.yaml"]);

    let mut o = opts("tags", ".");
    o.exclude_tags = vec!["smoke".into()];
    assert_eq!(
        plan_err(&o),
        "Include / Exclude tags did not match any Flows:\n\nInclude Tags:\nsmoke\n\nExclude \
         Tags:\nsmoke\nflaky"
    );
}

#[test]
fn execution_order_with_a_missing_name() {
    let (p, root, keys, entries) = run(&opts("execution-order", "."));
    assert_eq!(keys, ["./browse.yaml", "./search.yaml"]);
    assert_eq!(
        p.sequential_flows(&root),
        ["./login.yaml", "./checkout.yaml"]
    );
    assert!(!p.sequence.as_ref().unwrap().continue_on_failure);
    assert_eq!(
        entries,
        ["browse.yaml", "checkout.yaml", "login.yaml", "search.yaml"]
    );
    assert_eq!(
        p.warnings,
        [
            "Warning: Could not find flows specified in executionOrder.flowsOrder: missing-flow\n\
          This may be intentional if flows were excluded by tags.\nAvailable flow names:\n\
          browse\ncheckout\nLogin\nsearch"
        ]
    );
    assert_eq!(
        p.workspace_config,
        Some(json!({"executionOrder": {"continueOnFailure": false,
                                        "flowsOrder": ["Login", "checkout.yaml", "missing-flow"]}}))
    );
}

#[test]
fn config_discovery_by_name_and_by_flag() {
    let (p, _, keys, _) = run(&opts("config-discovery", "workspace"));
    assert_eq!(keys, ["./stable.yaml"]);
    let cfg = fixture("config-discovery/workspace/config.yaml");
    assert!(
        p.debug
            .contains(&format!("Using workspace config: {}", cfg.display()))
    );

    let mut o = opts("config-discovery", "workspace");
    o.config = Some("ci/nightly-config.yaml".into());
    let (p, _, keys, entries) = run(&o);
    assert_eq!(keys, ["./feature.yaml"]);
    assert_eq!(entries, ["feature.yaml"]);
    assert_eq!(
        p.workspace_config,
        Some(json!({"includeTags": ["nightly"]}))
    );

    let mut o = opts("config-discovery", "workspace");
    o.config = Some("ci/absent.yaml".into());
    assert_eq!(
        plan_err(&o),
        format!(
            "Config file does not exist: {}",
            fixture("config-discovery/ci/absent.yaml").display()
        )
    );
}

#[test]
fn flows_globs_including_globstar() {
    let (p, root, keys, entries) = run(&opts("flows-glob", "."));
    assert_eq!(root, fixture("flows-glob"));
    assert_eq!(
        keys,
        [
            "./features/cart/deep/f2.yaml",
            "./features/cart/f1.yaml",
            "./features/f0.yaml",
            "./smoke/s1.yaml"
        ]
    );
    assert_eq!(
        entries,
        [
            "features/cart/deep/f2.yaml",
            "features/cart/f1.yaml",
            "features/f0.yaml",
            "smoke/s1.yaml"
        ]
    );
    assert_eq!(p.total_flow_files, 4);
}

#[test]
fn config_shaped_files_are_skipped() {
    let (p, _, keys, _) = run(&opts("config-shaped", "."));
    assert_eq!(keys, ["./login.yaml", "./smoke-config.yaml"]);
    let d = fixture("config-shaped");
    assert!(
        p.debug.contains(&format!(
            "Skipping 3 workspace config file(s): {}, {}, {}",
            d.join("ci-config.yaml").display(),
            d.join("nightly.yml").display(),
            d.join("release-config.yaml").display()
        )),
        "{:?}",
        p.debug
    );
    // Passing one of them (or config.yaml) as the flow is refused.
    for f in ["config.yaml", "ci-config.yaml", "nightly.yml"] {
        assert_eq!(
            plan_err(&opts("config-shaped", f)),
            "If using config.yaml, pass the workspace folder path, not the config file or a \
             custom path via --config"
        );
    }
    // smoke-config.yaml is a flow and may be run on its own.
    assert_eq!(
        run(&opts("config-shaped", "smoke-config.yaml")).2,
        ["./smoke-config.yaml"]
    );
}

const DEPENDENCY_ENTRIES: [&str; 13] = [
    "main.yaml",
    "media/a.png",
    "media/avatar.png",
    "media/b.png",
    "other.yaml",
    "screenshots/home.png",
    "scripts/nested.js",
    "scripts/setup.js",
    "subflows/cycle-a.yaml",
    "subflows/cycle-b.yaml",
    "subflows/helpers/util.js",
    "subflows/login.yaml",
    "subflows/teardown.yaml",
];

#[test]
fn dependencies_are_walked_and_bundled() {
    let (p, root, keys, entries) = run(&opts("dependencies", "."));
    assert_eq!(root, fixture("dependencies"));
    assert_eq!(keys, ["./main.yaml", "./other.yaml"]);
    assert_eq!(entries, DEPENDENCY_ENTRIES);
    assert_eq!(p.referenced_files.len(), DEPENDENCY_ENTRIES.len());

    // The same flow on its own: the same closure (cycle-b pulls in other.yaml).
    let (p, root, keys, entries) = run(&opts("dependencies", "main.yaml"));
    assert_eq!(keys, ["./main.yaml"]);
    assert_eq!(entries, DEPENDENCY_ENTRIES);
    assert_eq!(p.base_dir, fixture("dependencies"));
    assert_eq!(p.flow_info(&root)["./main.yaml"].0, "Main");
}

#[test]
fn missing_dependencies_are_reported_together() {
    let d = fixture("missing-deps");
    let flow = d.join("flow.yaml").display().to_string();
    let second = d.join("second.yaml").display().to_string();
    assert_eq!(
        plan_err(&opts("missing-deps", ".")),
        format!(
            "The following flow files are not present in the filesystem: \n\
             Flow file \"{flow}\" has a command \"runFlow\" that references a non-existent file \"subflows/absent.yaml\"\n\
             Flow file \"{flow}\" has a command \"runScript\" that references a non-existent file {{\"file\":\"scripts/absent.js\"}}\n\
             Flow file \"{flow}\" has a command \"addMedia\" that references a non-existent file [\"media/present.png\",\"media/absent.png\"]\n\
             Flow file \"{second}\" has a command \"runScript\" that references a non-existent file \"absent-hook.js\""
        )
    );
}

#[test]
fn included_paths_are_bundled() {
    let (p, _, keys, entries) = run(&opts("included-paths", "."));
    assert_eq!(keys, ["./visual.yaml"]);
    assert_eq!(
        entries,
        [
            "baselines/android/home.png",
            "baselines/ios/home.png",
            "docs/readme.md",
            "visual.yaml"
        ]
    );
    assert_eq!(p.referenced_files, [fixture("included-paths/visual.yaml")]);
    assert_eq!(
        p.warnings,
        ["Warning: includedPaths pattern \"nothing-here/*.png\" matched no files"]
    );

    assert_eq!(
        plan_err(&opts("included-paths-escape", ".")),
        format!(
            "includedPaths pattern \"../included-paths/baselines/**\" resolves outside the \
             workspace ({})",
            fixture("included-paths-escape").display()
        )
    );
}

#[test]
fn devicecloud_overrides() {
    let (p, root, keys, _) = run(&opts("overrides", "."));
    assert_eq!(
        keys,
        ["./ios-only.yaml", "./no-header.yaml", "./plain.yaml"]
    );
    assert_eq!(
        p.overrides_json(&root),
        json!({
            "./ios-only.yaml": {"DEVICE_LOCALE": "de_DE", "IOS_DEVICE": "iphone-16", "IOS_VERSION": "18"},
            "./plain.yaml": {}
        })
    );
    // The header keeps the raw env (numbers stay numbers in flowMetadata).
    assert_eq!(
        p.flow_metadata_json(&root)["./ios-only.yaml"]["env"]["DEVICECLOUD_OVERRIDE_IOS_VERSION"],
        json!(18)
    );
}

#[test]
fn crlf_and_multi_document_flows() {
    let (p, root, keys, entries) = run(&opts("crlf-multidoc", "."));
    assert_eq!(keys, ["./crlf.yaml", "./multidoc.yaml", "./sub.yaml"]);
    assert_eq!(entries, ["crlf.yaml", "multidoc.yaml", "sub.yaml"]);
    let info = p.flow_info(&root);
    assert_eq!(
        info["./crlf.yaml"],
        ("Windows Flow".into(), vec!["crlf".into()])
    );
    assert_eq!(info["./multidoc.yaml"].0, "Multi");

    let text = fs::read_to_string(fixture("crlf-multidoc/crlf.yaml")).unwrap();
    assert!(
        text.contains("\r\n"),
        "the fixture must keep its CRLF line endings"
    );
    let f = yaml::parse_flow_text(&text).unwrap();
    assert_eq!(f.steps, json!(["launchApp", {"tapOn": "OK"}]));
    let text = fs::read_to_string(fixture("crlf-multidoc/multidoc.yaml")).unwrap();
    let f = yaml::parse_flow_text(&text).unwrap();
    assert_eq!(
        f.steps,
        json!(["launchApp", {"tapOn": "More steps after a second separator"}, {"runFlow": "sub.yaml"}])
    );
}

#[test]
fn yaml_inside_an_app_bundle_is_ignored() {
    let (_, _, keys, entries) = run(&opts("app-bundle", "."));
    assert_eq!(keys, ["./flow.yaml"]);
    assert_eq!(entries, ["flow.yaml"]);
}

#[test]
fn malformed_execution_order_is_a_hard_error() {
    assert_eq!(
        plan_err(&opts("bad-execution-order", ".")),
        format!(
            "Invalid `executionOrder` in {}\n\n`executionOrder` must be a map containing a \
             `flowsOrder` list, but it is a bare list of flow names.\n\nFound:\n    \
             executionOrder:\n      - login\n      - checkout\n\nExpected:\n    \
             executionOrder:\n      continueOnFailure: true\n      flowsOrder:\n        - \
             first-flow\n        - second-flow\n\nWithout `flowsOrder` the flows are not \
             sequenced — they all run in parallel.",
            fixture("bad-execution-order/config.yaml").display()
        )
    );
}

#[test]
fn unknown_config_keys_warn_once_and_are_kept() {
    let (p, _, keys, _) = run(&opts("unknown-keys", "."));
    assert_eq!(keys, ["./flow.yaml"]);
    assert_eq!(
        p.warnings,
        [format!(
            "Warning: unrecognised key(s) in {} — these are ignored:\n  Flows — did you mean \
             flows?\n  tags — did you mean includeTags / excludeTags?\n  assets — did you mean \
             includedPaths?\n  retries\n\nSupported keys: excludeTags, executionOrder, flows, \
             includedPaths, includeTags, local, notifications, platform",
            fixture("unknown-keys/config.yaml").display()
        )]
    );
    assert_eq!(p.workspace_config.as_ref().unwrap()["retries"], json!(2));
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn the_zip_is_deterministic_and_readable() {
    let p = plan_ok(&opts("dependencies", "."));
    let a = bundle(&p).unwrap();
    let b = bundle(&p).unwrap();
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(a.zip, b.zip);
    assert_eq!(a.sha256.len(), 64);

    // The same workspace elsewhere on disk gives the same bytes.
    let tmp = std::env::temp_dir().join(format!("dcd-plan-copy-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    copy_dir(&fixture("dependencies"), &tmp);
    let moved = PlanOptions {
        flows: tmp.clone(),
        cwd: PathBuf::from("/"),
        ..PlanOptions::default()
    };
    let c = bundle(&plan_ok(&moved)).unwrap();
    let _ = fs::remove_dir_all(&tmp);
    assert_eq!(c.sha256, a.sha256);

    // Every entry reads back with the file's bytes.
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(a.zip.clone())).unwrap();
    assert_eq!(zip.len(), DEPENDENCY_ENTRIES.len());
    for (i, name) in DEPENDENCY_ENTRIES.iter().enumerate() {
        let mut f = zip.by_index(i).unwrap();
        assert_eq!(f.name().unwrap(), *name);
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut buf).unwrap();
        assert_eq!(buf, fs::read(fixture("dependencies").join(name)).unwrap());
    }
}

#[test]
fn payload_fields_use_portable_keys() {
    let p = plan_ok(&opts("execution-order", "."));
    let root = p.root();
    let v: Value = json!({
        "testFileNames": p.test_file_names(&root),
        "sequentialFlows": p.sequential_flows(&root),
        "flowMetadataKeys": p.flow_metadata_json(&root).as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
    });
    assert_eq!(
        v,
        json!({
            "testFileNames": ["./browse.yaml", "./search.yaml"],
            "sequentialFlows": ["./login.yaml", "./checkout.yaml"],
            "flowMetadataKeys": ["./browse.yaml", "./checkout.yaml", "./login.yaml"],
        })
    );
}

// ---------------------------------------------------------------------------------------
// Property tests: junk never panics.

/// Fragments of Maestro flows, workspace configs and YAML syntax. No `..` or leading `/` in
/// glob-like fragments, so a generated `flows:` list cannot walk the whole disk.
const FRAGMENTS: &[&str] = &[
    "- ",
    "  ",
    "    ",
    "\n",
    "\r\n",
    "---",
    "--- ",
    "...",
    ": ",
    "key",
    "appId: x",
    "name: ",
    "tags: ",
    "env:",
    "DEVICECLOUD_OVERRIDE_IOS_DEVICE: ",
    "runFlow: ",
    "runScript: ",
    "addMedia: ",
    "assertScreenshot: ",
    "file: ",
    "path: ",
    "commands:",
    "onFlowStart:",
    "onFlowComplete:",
    "repeat:",
    "flows:",
    "includedPaths:",
    "includeTags: ",
    "excludeTags: ",
    "executionOrder:",
    "flowsOrder:",
    "continueOnFailure: ",
    "notifications:",
    "platform:",
    "a.yaml",
    "b.yml",
    "sub/c.yaml",
    "x.js",
    "img",
    "shot.png",
    "*.yaml",
    "**",
    "**/*.yaml",
    "sub/*",
    "{a,b}.yaml",
    "[ab].yaml",
    "${X}",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "!tag ",
    "!!int ",
    "!!str ",
    "\"",
    "'",
    "#",
    "|",
    ">",
    "? ",
    "~",
    "null",
    "true",
    "1",
    "-1.5",
    "0x1F",
    ".inf",
    "é",
    "\u{202e}",
    "\t",
    "\u{feff}",
    "\\",
    "%YAML 1.2",
    "@",
    "`",
];

fn junk(r: &mut Rng) -> String {
    let n = r.below(40);
    let mut s = String::new();
    for _ in 0..n {
        if r.below(12) == 0 {
            s.push(char::from_u32(r.below(0x3000) as u32).unwrap_or('x'));
        } else {
            s.push_str(r.pick(FRAGMENTS));
        }
    }
    s
}

/// A flow-like document: mostly valid structure with junk mixed in.
fn flowish(r: &mut Rng) -> String {
    let mut s = String::new();
    if r.below(2) == 0 {
        s.push_str("appId: x\n");
        if r.below(2) == 0 {
            s.push_str(&format!(
                "tags: [{}]\n",
                r.pick(&["smoke", "a", "1", "", "{x: 1}"])
            ));
        }
        if r.below(3) == 0 {
            s.push_str(&format!(
                "onFlowStart:\n  - runFlow: {}\n",
                r.pick(&[
                    "a.yaml",
                    "sub/c.yaml",
                    "x.js",
                    "{file: a.yaml}",
                    "[a.yaml]",
                    "5"
                ])
            ));
        }
        s.push_str(r.pick(&["---\n", "--- \n", "---\r\n", ""]));
    }
    for _ in 0..r.below(6) {
        let cmd = r.pick(&[
            "runFlow",
            "runScript",
            "addMedia",
            "assertScreenshot",
            "repeat",
            "tapOn",
        ]);
        let val = r.pick(&[
            "a.yaml",
            "b.yml",
            "sub/c.yaml",
            "x.js",
            "missing.yaml",
            "shot",
            "{file: a.yaml}",
            "{path: shot}",
            "[a.yaml, x.js]",
            "{commands: [{runFlow: b.yml}]}",
            "{commands: 5}",
            "null",
            "${X}.png",
            "[1]",
            "{file: 3}",
        ]);
        s.push_str(&format!("- {cmd}: {val}\n"));
    }
    if r.below(3) == 0 {
        s.push_str(&junk(r));
    }
    s
}

fn config_like(r: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..r.below(5) {
        s.push_str(r.pick(&[
            "flows: ['*.yaml']\n",
            "flows: ['**/*.yaml', 'sub/*']\n",
            "flows: []\n",
            "flows: x\n",
            "includeTags: smoke\n",
            "excludeTags: [1, true]\n",
            "executionOrder:\n  flowsOrder: [a, b.yml, ghost]\n",
            "executionOrder: [a]\n",
            "executionOrder:\n  continueOnFailure: 3\n",
            "includedPaths: ['**', 'nothing/*']\n",
            "includedPaths: ['../x']\n",
            "platform: {ios: {disableAnimations: true}}\n",
            "Assets: 1\n",
        ]));
    }
    if r.below(4) == 0 {
        s.push_str(&junk(r));
    }
    s
}

#[test]
fn yaml_reading_and_header_split_never_panic() {
    let mut r = Rng::new(1);
    // Inputs that parsed, per reader, and flows with a header: a generator whose inputs all
    // failed early would exercise only the refusals.
    let (mut docs_read, mut singles_read, mut flows_read, mut headers) = (0, 0, 0, 0);
    for case in 0..6000 {
        let text = match case % 3 {
            0 => junk(&mut r),
            1 => flowish(&mut r),
            _ => config_like(&mut r),
        };
        if let Ok(docs) = yaml::load_docs(&text) {
            docs_read += 1;
            for d in &docs {
                // Converted values always serialise.
                serde_json::to_string(d).unwrap();
            }
        }
        if yaml::load_single(&text).is_ok() {
            singles_read += 1;
        }
        if let Ok(f) = yaml::parse_flow_text(&text) {
            flows_read += 1;
            headers += usize::from(f.header.is_some());
            assert!(
                f.header.as_ref().is_none_or(|h| !h.is_empty()),
                "case {case}: {text:?}"
            );
        }
    }
    eprintln!(
        "read: {docs_read} docs, {singles_read} single, {flows_read} flows, {headers} headers"
    );
    for (what, n, least) in [
        ("load_docs", docs_read, 1000),
        ("load_single", singles_read, 1000),
        ("parse_flow_text", flows_read, 1000),
        ("parse_flow_text with a header", headers, 200),
    ] {
        assert!(n >= least, "{what}: only {n} of 6000 inputs parsed");
    }
}

#[test]
fn the_planner_never_panics_on_junk_workspaces() {
    let dir = std::env::temp_dir().join(format!("dcd-plan-junk-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("sub")).unwrap();
    const NAMES: &[&str] = &[
        "a.yaml",
        "b.yml",
        "config.yaml",
        "config.yml",
        "sub/c.yaml",
        "other-config.yaml",
        "x.js",
        "shot.png",
        "sub/config.yaml",
    ];
    let mut r = Rng::new(2);
    let mut planned = 0;
    for case in 0..5000u64 {
        // Now and then a clean baseline (valid flows referencing each other), so that the
        // success path is explored as well as the errors.
        if r.below(5) == 0 {
            for name in NAMES {
                let _ = fs::remove_file(dir.join(name));
            }
            for (name, text) in [
                (
                    "a.yaml",
                    "appId: x\ntags: [smoke]\n---\n- runFlow: b.yml\n- assertScreenshot: shot\n",
                ),
                ("b.yml", "- runScript: x.js\n"),
                (
                    "sub/c.yaml",
                    "appId: x\nname: c\n---\n- runFlow: {file: ../a.yaml}\n",
                ),
                ("x.js", "output.x = 1;\n"),
                ("shot.png", "png"),
            ] {
                fs::write(dir.join(name), text).unwrap();
            }
        }
        // Rewrite a few files per case; the rest carry over from earlier cases.
        for _ in 0..1 + r.below(3) {
            let name = r.pick(NAMES);
            let path = dir.join(name);
            if r.below(8) == 0 {
                let _ = fs::remove_file(&path);
                continue;
            }
            let text = if name.starts_with("config") || name.contains("other-config") {
                config_like(&mut r)
            } else if r.below(8) == 0 {
                junk(&mut r)
            } else {
                flowish(&mut r)
            };
            fs::write(&path, text).unwrap();
        }
        let mut o = PlanOptions {
            flows: PathBuf::from(r.pick(&[".", "a.yaml", "sub", "b.yml", "nope"])),
            cwd: dir.clone(),
            ..PlanOptions::default()
        };
        if r.below(4) == 0 {
            o.include_tags = vec![r.pick(&["smoke", "1", ""]).to_string()];
        }
        if r.below(4) == 0 {
            o.exclude_tags = vec![r.pick(&["a", "smoke"]).to_string()];
        }
        if r.below(5) == 0 {
            o.exclude_flows = vec![r.pick(&["a", "sub", "./b.yml", ""]).to_string()];
        }
        if r.below(6) == 0 {
            o.config = Some(
                r.pick(&["other-config.yaml", "config.yml", "absent.yaml"])
                    .into(),
            );
        }
        if let Ok(p) = plan::plan(&o) {
            planned += 1;
            let root = p.root();
            for f in p.flows_to_run.iter().chain(&p.referenced_files) {
                assert!(f.is_absolute(), "case {case}: {f:?}");
            }
            let _ = p.test_file_names(&root);
            let _ = p.flow_info(&root);
            let _ = p.overrides_json(&root);
            if planned % 8 == 0 {
                // Zipping is slow in a debug build; a sample is enough.
                let b = bundle(&p).unwrap_or_else(|e| panic!("case {case}: {e}"));
                assert!(b.entries.iter().all(|e| !e.starts_with('/')));
            }
        }
    }
    let _ = fs::remove_dir_all(&dir);
    // The generator must produce plannable workspaces too, not only errors.
    eprintln!("planned {planned}");
    assert!(planned > 100, "only {planned} of 5000 cases planned");
}

// ---------------------------------------------------------------------------------------
// Bench (not in the default run):
// `cargo test --release --test integration -- --ignored --nocapture plan::bench`

#[test]
#[ignore]
fn bench_plan_and_zip_5000_flows() {
    let dir = std::env::temp_dir().join(format!("dcd-plan-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("subflows")).unwrap();
    fs::create_dir_all(dir.join("scripts")).unwrap();
    for i in 0..50 {
        fs::write(
            dir.join(format!("subflows/login-{i}.yaml")),
            format!(
                "appId: com.example\n---\n- runScript: ../scripts/s{i}.js\n- tapOn: \"Login {i}\"\n"
            ),
        )
        .unwrap();
        fs::write(
            dir.join(format!("scripts/s{i}.js")),
            format!("output.x = {i};\n"),
        )
        .unwrap();
    }
    fs::write(
        dir.join("config.yaml"),
        "excludeTags: [skip]\nexecutionOrder:\n  flowsOrder: [flow-0, flow-1, flow-2]\n",
    )
    .unwrap();
    for i in 0..5000 {
        fs::write(
            dir.join(format!("flow-{i}.yaml")),
            format!(
                "appId: com.example\nname: flow-{i}\ntags: [smoke, t{}]\nenv:\n  USER: u{i}\n  \
                 DEVICECLOUD_OVERRIDE_DEVICE_LOCALE: de_DE\n---\n- launchApp\n\
                 - runFlow: subflows/login-{}.yaml\n- tapOn: \"Item {i}\"\n\
                 - repeat:\n    times: 2\n    commands:\n      - scroll\n      - assertVisible: \"Row {i}\"\n\
                 - inputText: \"hello world {i}\"\n",
                i % 7,
                i % 50
            ),
        )
        .unwrap();
    }
    let o = PlanOptions {
        flows: dir.clone(),
        cwd: dir.clone(),
        ..PlanOptions::default()
    };
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let p = plan_ok(&o);
        let t_plan = t.elapsed();
        let b = bundle(&p).unwrap();
        let total = t.elapsed();
        assert_eq!(p.flows_to_run.len(), 4997);
        assert_eq!(b.entries.len(), 5000 + 100);
        eprintln!(
            "5,000 flows: plan {:.0} ms, plan+zip {:.0} ms, zip {} KiB",
            t_plan.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3,
            b.zip.len() / 1024
        );
        best = best.min(total.as_secs_f64());
    }
    let _ = fs::remove_dir_all(&dir);
    assert!(best <= 1.0, "plan+zip took {best:.2} s");
}
