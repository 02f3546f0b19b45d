//! Unit tests of the planning rules on small temporary workspaces (the fixture-based tests of
//! whole workspaces are in tests/integration/plan.rs).

use super::*;
use serde_json::json;
use std::fs;

/// A temporary workspace removed on drop.
struct Ws(PathBuf);

impl Ws {
    fn new(name: &str, files: &[(&str, &str)]) -> Ws {
        let dir = std::env::temp_dir().join(format!("dcd-plan-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for (p, text) in files {
            let path = dir.join(p);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        Ws(dir)
    }
    fn opts(&self) -> PlanOptions {
        PlanOptions {
            flows: PathBuf::from("."),
            cwd: self.0.clone(),
            ..PlanOptions::default()
        }
    }
    fn keys(&self, v: &[PathBuf]) -> Vec<String> {
        v.iter().map(|p| portable_key(&self.0, p)).collect()
    }
}

impl Drop for Ws {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const FLOW: &str = "appId: x\n---\n- launchApp\n";

fn tagged(tags: &str) -> String {
    format!("appId: x\ntags: {tags}\n---\n- launchApp\n")
}

#[test]
fn names_come_from_the_header_or_the_stem() {
    let p = Path::new("/w/login-flow.yaml");
    let named = |v: Value| flow_name(p, Some(&Header::of(v.as_object().unwrap())));
    assert_eq!(named(json!({"name": "Login"})), "Login");
    assert_eq!(flow_name(p, None), "login-flow");
    assert_eq!(named(json!({"name": ""})), "login-flow");
    assert_eq!(named(json!({"name": 42})), "42");
    assert_eq!(named(json!({"appId": "x"})), "login-flow");
}

#[test]
fn tags_are_strings_from_a_list_or_a_scalar() {
    assert_eq!(
        flow_tags(json!({"tags": ["a", 2, true]}).as_object()),
        ["a", "2", "true"]
    );
    assert_eq!(flow_tags(json!({"tags": "smoke"}).as_object()), ["smoke"]);
    assert!(flow_tags(json!({"tags": ""}).as_object()).is_empty());
    assert!(flow_tags(json!({}).as_object()).is_empty());
    assert!(flow_tags(None).is_empty());
}

#[test]
fn overrides_strip_the_prefix_and_stringify() {
    let h = json!({"env": {"DEVICECLOUD_OVERRIDE_IOS_DEVICE": "iphone-16", "DEVICECLOUD_OVERRIDE_ANDROID_API_LEVEL": 34,
                           "OTHER": "x", "DEVICECLOUD_OVERRIDE_NULL": null, "DEVICECLOUD_OVERRIDE_FLAG": true}});
    let o = overrides(h.as_object().unwrap());
    assert_eq!(
        o.into_iter().collect::<Vec<_>>(),
        vec![
            ("ANDROID_API_LEVEL".to_string(), "34".to_string()),
            ("FLAG".to_string(), "true".to_string()),
            ("IOS_DEVICE".to_string(), "iphone-16".to_string()),
        ]
    );
    assert!(
        overrides(
            json!({"env": ["DEVICECLOUD_OVERRIDE_X"]})
                .as_object()
                .unwrap()
        )
        .is_empty()
    );
}

#[test]
fn config_shape_detection() {
    let shaped = |t: &str| is_config_shaped(&yaml::parse_flow_text(t));
    assert!(shaped("flows:\n  - '*.yaml'\n"));
    assert!(shaped("includedPaths: [a]\n"));
    assert!(shaped("executionOrder:\n  flowsOrder: [a]\nappId: x\n"));
    // A flow with front matter, a bare steps list, a map without config keys: not configs.
    assert!(!shaped("flows: [a]\n---\n- launchApp\n"));
    assert!(!shaped("- launchApp\n"));
    assert!(!shaped("appId: x\nname: y\n"));
    // Unparseable: kept so the parse error is reported.
    assert!(!shaped("flows: [unclosed\n"));
}

#[test]
fn include_and_exclude_tags_combine_flags_and_config() {
    let ws = Ws::new(
        "tags",
        &[
            ("config.yaml", "includeTags: smoke\nexcludeTags: [2]\n"),
            ("a.yaml", &tagged("[smoke]")),
            ("b.yaml", &tagged("[smoke, 2]")),
            ("c.yaml", &tagged("regression")),
            ("d.yaml", "- launchApp\n"),
        ],
    );
    let p = plan(&ws.opts()).unwrap();
    assert_eq!(ws.keys(&p.flows_to_run), ["./a.yaml"]);
    assert_eq!(p.all_include_tags, ["smoke"]);
    assert_eq!(p.all_exclude_tags, ["2"]);
    // Metadata for every candidate with a header, filtered-out ones included.
    assert_eq!(p.flow_metadata.len(), 3);
    assert_eq!(p.total_flow_files, 4);

    let mut o = ws.opts();
    o.include_tags = vec!["regression".into()];
    let p = plan(&o).unwrap();
    assert_eq!(ws.keys(&p.flows_to_run), ["./a.yaml", "./c.yaml"]);

    let mut o = ws.opts();
    o.exclude_tags = vec!["smoke".into()];
    assert_eq!(
        plan(&o).unwrap_err().to_string(),
        "Include / Exclude tags did not match any Flows:\n\nInclude Tags:\nsmoke\n\nExclude \
         Tags:\nsmoke\n2"
    );
}

#[test]
fn execution_order_builds_the_sequence_and_warns_on_missing_names() {
    let ws = Ws::new(
        "order",
        &[
            (
                "config.yaml",
                "executionOrder:\n  continueOnFailure: false\n  flowsOrder:\n    - Second\n    - first.yaml\n    - ghost\n    - Second\n",
            ),
            ("first.yaml", FLOW),
            ("second.yaml", "appId: x\nname: Second\n---\n- launchApp\n"),
            ("third.yaml", FLOW),
        ],
    );
    let p = plan(&ws.opts()).unwrap();
    let seq = p.sequence.clone().unwrap();
    assert!(!seq.continue_on_failure);
    assert_eq!(ws.keys(&seq.flows), ["./second.yaml", "./first.yaml"]);
    assert_eq!(ws.keys(&p.flows_to_run), ["./third.yaml"]);
    assert_eq!(
        p.warnings,
        [
            "Warning: Could not find flows specified in executionOrder.flowsOrder: ghost\nThis may \
          be intentional if flows were excluded by tags.\nAvailable flow names:\nfirst\nSecond\nthird"
        ]
    );
}

#[test]
fn an_execution_order_that_matches_nothing_warns_twice_and_runs_everything_in_parallel() {
    let ws = Ws::new(
        "order-none",
        &[
            ("config.yaml", "executionOrder:\n  flowsOrder: [nope]\n"),
            ("a.yaml", FLOW),
        ],
    );
    let p = plan(&ws.opts()).unwrap();
    assert_eq!(
        p.sequence,
        Some(Sequence {
            continue_on_failure: true,
            flows: vec![]
        })
    );
    assert_eq!(ws.keys(&p.flows_to_run), ["./a.yaml"]);
    assert_eq!(p.warnings.len(), 2);
    assert!(
        p.warnings[1]
            .starts_with("Warning: executionOrder specified 1 flow(s) but none were found.")
    );
    assert!(p.warnings[1].contains("Expected flows: nope\nAvailable flow names: a\n"));
}

#[test]
fn exclude_flows_is_a_path_prefix_resolved_against_cwd() {
    let ws = Ws::new(
        "exclude",
        &[
            ("login.yaml", FLOW),
            ("logout.yaml", FLOW),
            ("checkout.yaml", FLOW),
        ],
    );
    let mut o = ws.opts();
    o.exclude_flows = vec!["./log".into(), String::new()];
    let p = plan(&o).unwrap();
    assert_eq!(ws.keys(&p.flows_to_run), ["./checkout.yaml"]);
}

#[test]
fn exclude_flows_also_applies_to_flows_globs() {
    let ws = Ws::new(
        "exclude-glob",
        &[
            ("config.yaml", "flows: ['**/*.yaml']\n"),
            ("a.yaml", FLOW),
            ("sub/b.yaml", FLOW),
            ("sub/config.yaml", "flows: [x]\n"),
        ],
    );
    let mut o = ws.opts();
    o.exclude_flows = vec!["sub/b.yaml".into()];
    let p = plan(&o).unwrap();
    assert_eq!(ws.keys(&p.flows_to_run), ["./a.yaml"]);
}

#[test]
fn a_single_file_ignores_tags_and_keeps_its_metadata() {
    let ws = Ws::new(
        "single",
        &[(
            "one.yaml",
            "appId: x\ntags: [nightly]\nenv:\n  DEVICECLOUD_OVERRIDE_DEVICE_LOCALE: de_DE\n---\n- launchApp\n",
        )],
    );
    let mut o = ws.opts();
    o.flows = "one.yaml".into();
    o.include_tags = vec!["smoke".into()];
    let p = plan(&o).unwrap();
    assert_eq!(ws.keys(&p.flows_to_run), ["./one.yaml"]);
    assert_eq!(p.total_flow_files, 1);
    assert_eq!(p.base_dir, ws.0);
    let root = p.root();
    assert_eq!(
        p.overrides_json(&root),
        json!({"./one.yaml": {"DEVICE_LOCALE": "de_DE"}})
    );
    assert_eq!(
        p.flow_metadata_json(&root)["./one.yaml"]["tags"],
        json!(["nightly"])
    );
}

#[test]
fn a_config_passed_as_the_flow_is_refused() {
    let ws = Ws::new(
        "single-config",
        &[
            ("config.yaml", "flows: [a]\n"),
            ("ci-config.yaml", "includeTags: [x]\n"),
        ],
    );
    for f in ["config.yaml", "ci-config.yaml"] {
        let mut o = ws.opts();
        o.flows = f.into();
        assert_eq!(plan(&o).unwrap_err().0, CONFIG_AS_FLOW_ERROR);
    }
}

#[test]
fn missing_paths_and_empty_directories() {
    let ws = Ws::new("empty", &[("notes.txt", "x"), ("sub/a.yaml", FLOW)]);
    let mut o = ws.opts();
    o.flows = "nope".into();
    assert_eq!(
        plan(&o).unwrap_err().0,
        format!("Flow path does not exist: {}", ws.0.join("nope").display())
    );
    o.flows = "notes.txt".into();
    assert!(
        plan(&o)
            .unwrap_err()
            .0
            .starts_with("Flow path does not exist: ")
    );
    assert_eq!(
        plan(&ws.opts()).unwrap_err().0,
        format!(
            "Flow directory does not contain any Flow files: {}",
            ws.0.display()
        )
    );
    let mut o = ws.opts();
    o.config = Some("missing.yaml".into());
    o.flows = "sub".into();
    assert_eq!(
        plan(&o).unwrap_err().0,
        format!(
            "Config file does not exist: {}",
            ws.0.join("missing.yaml").display()
        )
    );
}

#[test]
fn only_config_files_is_an_empty_workspace() {
    let ws = Ws::new(
        "only-config",
        &[
            ("config.yaml", "includeTags: [a]\n"),
            ("other.yaml", "flows: [x.yaml]\n"),
        ],
    );
    assert_eq!(
        plan(&ws.opts()).unwrap_err().0,
        format!("Workspace does not contain any Flows: {}", ws.0.display())
    );
}

#[test]
fn flows_globs_that_match_nothing_list_the_patterns() {
    let ws = Ws::new(
        "glob-none",
        &[
            ("config.yaml", "flows:\n  - e2e/*.yaml\n  - smoke/**\n"),
            ("a.yaml", FLOW),
        ],
    );
    assert_eq!(
        plan(&ws.opts()).unwrap_err().0,
        "Flow inclusion pattern(s) did not match any Flow files:\ne2e/*.yaml\nsmoke/**"
    );
}

#[test]
fn included_paths_escaping_the_workspace_are_refused() {
    let ws = Ws::new(
        "escape",
        &[
            ("ws/config.yaml", "includedPaths:\n  - ../outside.png\n"),
            ("ws/a.yaml", FLOW),
            ("outside.png", "x"),
        ],
    );
    let mut o = ws.opts();
    o.flows = "ws".into();
    let e = plan(&o).unwrap_err().0;
    assert!(e.contains("resolves outside the workspace"), "{e}");
    assert!(
        e.starts_with("includedPaths pattern \"../outside.png\""),
        "{e}"
    );
}

#[test]
fn the_zip_root_rises_for_included_paths_and_a_debug_line_says_so() {
    let ws = Ws::new(
        "raise",
        &[
            (
                "config.yaml",
                "flows: ['flows/*.yaml']\nincludedPaths: ['shots/**']\n",
            ),
            ("flows/a.yaml", FLOW),
            ("shots/home.png", "png"),
        ],
    );
    let p = plan(&ws.opts()).unwrap();
    assert_eq!(p.root(), ws.0);
    assert!(
        p.debug
            .iter()
            .any(|d| d.starts_with("includedPaths reach outside the flows tree"))
    );
    assert_eq!(p.test_file_names(&p.root()), ["./flows/a.yaml"]);
}

#[cfg(unix)]
#[test]
fn a_symlinked_flow_leading_outside_is_refused_before_it_is_read() {
    let ws = Ws::new(
        "linkflow",
        &[("ws/a.yaml", FLOW), ("elsewhere/x.yaml", "[not yaml")],
    );
    std::os::unix::fs::symlink(ws.0.join("elsewhere/x.yaml"), ws.0.join("ws/b.yaml")).unwrap();
    let dir = PlanOptions {
        flows: PathBuf::from("ws"),
        ..ws.opts()
    };
    let e = plan(&dir).unwrap_err().0;
    let real = fs::canonicalize(ws.0.join("elsewhere/x.yaml")).unwrap();
    assert!(
        e.ends_with(&format!(
            "\nThe flow is a file outside the workspace: {} (a link to {})",
            ws.0.join("ws/b.yaml").display(),
            real.display()
        )),
        "{e}"
    );
    // Given as a single file, its workspace is its directory: refused too, not parsed.
    let file = PlanOptions {
        flows: PathBuf::from("ws/b.yaml"),
        ..ws.opts()
    };
    let e = plan(&file).unwrap_err().0;
    assert!(
        e.contains("The flow is a file outside the workspace"),
        "{e}"
    );
    // A single file's references are confined to its directory.
    fs::write(
        ws.0.join("ws/c.yaml"),
        "- runFlow: ../ws/a.yaml\n- runScript: ../x.js\n",
    )
    .unwrap();
    fs::write(ws.0.join("x.js"), "").unwrap();
    let e = plan(&PlanOptions {
        flows: PathBuf::from("ws/c.yaml"),
        ..ws.opts()
    })
    .unwrap_err()
    .0;
    assert_eq!(e.lines().count(), 2, "{e}");
    assert!(e.contains(&format!(
        "outside the workspace: {}",
        ws.0.join("x.js").display()
    )));
}

#[test]
fn the_zip_builder_checks_every_path_again() {
    let ws = Ws::new("rezip", &[("ws/a.yaml", FLOW), ("secret", "s")]);
    let mut p = plan(&PlanOptions {
        flows: PathBuf::from("ws"),
        ..ws.opts()
    })
    .unwrap();
    // A plan handed over with a path the planner would have refused.
    p.included_files.push(ws.0.join("secret"));
    let e = bundle(&p).unwrap_err().0;
    assert!(
        e.ends_with(&format!(
            "\nThe flow zip would hold a file outside the workspace: {}",
            ws.0.join("secret").display()
        )),
        "{e}"
    );
}

#[test]
fn zip_entries_list_the_flows_first_then_their_dependencies() {
    let ws = Ws::new(
        "order",
        &[
            (
                "config.yaml",
                "executionOrder:\n  flowsOrder: [z-seq, b-seq]\nincludedPaths: ['0-assets/*']\n",
            ),
            ("m.yaml", "- runFlow: a-sub/login.yaml\n"),
            ("z-seq.yaml", FLOW),
            ("b-seq.yaml", FLOW),
            ("a-sub/login.yaml", FLOW),
            ("0-assets/font.ttf", ""),
        ],
    );
    let p = plan(&ws.opts()).unwrap();
    assert_eq!(
        p.zip_entries(&p.root()),
        [
            "m.yaml",
            "z-seq.yaml",
            "b-seq.yaml",
            "0-assets/font.ttf",
            "a-sub/login.yaml"
        ]
    );
    // The zip itself stays sorted (its bytes and sha are stable).
    let b = bundle(&p).unwrap();
    let mut sorted = b.entries.clone();
    sorted.sort();
    assert_eq!(b.entries, sorted);
}

/// The flow zip's exact bytes for a workspace with every kind of entry: the server dedups on
/// its SHA-256, so a change to how dcd writes zips must be deliberate. A second zip
/// implementation (the `zip` crate's reader) reads every entry back.
#[test]
fn the_flow_zip_keeps_its_exact_bytes() {
    // ~200 KB of text that deflates into several blocks, deterministic.
    let mut x = 12345u32;
    let big: String = (0..200_000)
        .map(|i| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            if i % 61 == 60 {
                '\n'
            } else {
                (b'a' + (x >> 27) as u8 % 20) as char
            }
        })
        .collect();
    let ws = Ws::new(
        "zip-bytes",
        &[
            (
                "é-login.yaml",
                "appId: x\n---\n- runFlow: sub/helper.yaml\n- runScript: scripts/big.js\n",
            ),
            (
                "checkout.yaml",
                "appId: x\n---\n- runScript: scripts/empty.js\n- launchApp\n",
            ),
            ("sub/helper.yaml", "appId: x\n---\n- tapOn: ok\n"),
            ("scripts/big.js", &big),
            ("scripts/empty.js", ""),
        ],
    );
    let p = plan(&ws.opts()).unwrap();
    let b = bundle(&p).unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(&b.zip)).unwrap();
    let mut read_back = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut f, &mut text).unwrap();
        read_back.push((f.name().unwrap().to_string(), text));
    }
    let on_disk: Vec<(String, String)> = b
        .entries
        .iter()
        .map(|n| (n.clone(), fs::read_to_string(ws.0.join(n)).unwrap()))
        .collect();
    assert_eq!(read_back, on_disk);
    assert_eq!(
        b.entries,
        [
            "checkout.yaml",
            "scripts/big.js",
            "scripts/empty.js",
            "sub/helper.yaml",
            "é-login.yaml"
        ]
    );
    assert_eq!(
        (b.zip.len(), b.sha256.as_str()),
        (
            123_229,
            "ed5a952444ef06411b04fe8fa46832f854f48ab903c011bdcfc20f258502ebee"
        )
    );
}

// Its flow names hold quotes, which Windows file names cannot.
#[cfg(unix)]
#[test]
fn a_kept_header_gives_the_same_name_tags_overrides_and_metadata_as_the_map() {
    let ws = Ws::new(
        "kept-header",
        &[
            (
                "b \"q\".yaml",
                "appId: x\nname: 7\ntags: t\nenv:\n  DEVICECLOUD_OVERRIDE_A: 1\n  B: 2\n---\n- a\n",
            ),
            (
                "a.yaml",
                "z: 1\nappId: \"é\\u0001\"\nname: ''\ntags: [1, true, null]\n---\n- a\n",
            ),
            ("c.yaml", FLOW),
            ("nohead.yaml", "- launchApp\n"),
        ],
    );
    let p = plan(&ws.opts()).unwrap();
    let root = p.root();
    assert_eq!(p.flow_metadata.len(), 3);
    // The text the submission sends is the value tree's text, keys in file order.
    let tree = p.flow_metadata_json(&root);
    assert_eq!(p.flow_metadata_text(&root), tree.to_string());
    assert_eq!(
        tree["./a.yaml"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["z", "appId", "name", "tags"]
    );
    for kept in p.flow_metadata.values() {
        let map = kept.value();
        let map = map.as_object().unwrap();
        assert_eq!(*kept, Header::of(map));
        assert_eq!(kept.tags, flow_tags(Some(map)));
        assert_eq!(kept.overrides, overrides(map));
    }
    let info = p.flow_info(&root);
    assert_eq!(info["./b \"q\".yaml"], ("7".into(), vec!["t".into()]));
    assert_eq!(info["./a.yaml"].0, "a");
    assert_eq!(info["./nohead.yaml"], ("nohead".into(), vec![]));
}

#[test]
fn the_per_flow_debug_lines_are_made_only_when_asked_for() {
    let ws = Ws::new(
        "per-flow-debug",
        &[
            ("a.yaml", "appId: x\nname: Alpha\n---\n- launchApp\n"),
            ("b.yaml", FLOW),
        ],
    );
    let mapping = |p: &Plan| {
        p.debug
            .iter()
            .filter(|d| d.starts_with("Flow name mapping: "))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(mapping(&plan(&ws.opts()).unwrap()).is_empty());
    let p = plan(&PlanOptions {
        per_flow_debug: true,
        ..ws.opts()
    })
    .unwrap();
    assert_eq!(
        mapping(&p),
        [
            format!(
                "Flow name mapping: \"Alpha\" -> {}",
                ws.0.join("a.yaml").display()
            ),
            format!(
                "Flow name mapping: \"b\" -> {}",
                ws.0.join("b.yaml").display()
            ),
        ]
    );
}

#[test]
fn the_zip_of_kept_bytes_is_the_zip_of_the_files() {
    let ws = Ws::new(
        "kept-sources",
        &[
            ("a.yaml", "appId: x\r\n---\r\n- runFlow: sub/s.yaml\r\n"),
            ("b.yaml", "appId: x\n---  \n- runScript: s.js\n"),
            ("sub/s.yaml", "- tapOn: ok\n"),
            ("s.js", "1"),
            ("skipped.yaml", "appId: x\ntags: [slow]\n---\n- launchApp\n"),
        ],
    );
    // A flow that is not UTF-8 is parsed lossily, so its own bytes must be zipped.
    fs::write(
        ws.0.join("c.yaml"),
        b"appId: x\n---\n- tapOn: \"\xff\xfe\"\n",
    )
    .unwrap();
    // The flow the tags leave out is parsed but not zipped: its bytes are not kept.
    let opts = PlanOptions {
        exclude_tags: vec!["slow".into()],
        ..ws.opts()
    };
    let reread = plan(&opts).unwrap();
    assert!(reread.sources.is_empty());
    let kept = plan(&PlanOptions {
        keep_sources: true,
        ..opts
    })
    .unwrap();
    let mut kept_paths: Vec<String> = kept
        .sources
        .keys()
        .map(|p| portable_key(&ws.0, p))
        .collect();
    kept_paths.sort();
    assert_eq!(kept_paths, ["./a.yaml", "./b.yaml", "./sub/s.yaml"]);
    let (a, b) = (bundle(&reread).unwrap(), bundle(&kept).unwrap());
    assert_eq!(
        (&a.zip, &a.sha256, &a.entries),
        (&b.zip, &b.sha256, &b.entries)
    );
    // The kept bytes are what the zip holds: a flow changed after planning is zipped as it
    // was planned, where the zip that reads the files sees the change.
    let planned = fs::read(ws.0.join("sub/s.yaml")).unwrap();
    fs::write(ws.0.join("sub/s.yaml"), "- tapOn: changed\n").unwrap();
    let entry = |b: &Bundle| {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(&b.zip)).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut z.by_name("sub/s.yaml").unwrap(), &mut bytes).unwrap();
        bytes
    };
    assert_eq!(entry(&bundle(&kept).unwrap()), planned);
    assert_eq!(entry(&bundle(&reread).unwrap()), b"- tapOn: changed\n");
}
