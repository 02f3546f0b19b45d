//! Typed options: the parsed flag table turned into one struct per command.
//!
//! This is the only code outside the table that spells a flag name. Everything the commands
//! need arrives here as a typed value — enums for choices, numbers that fit, `KEY=VALUE`
//! pairs already split, ids that are not blank — so a command can neither misspell a flag
//! nor meet a value that would panic later. Values are checked when the options are built,
//! which is before any network call; the few checks the TypeScript CLI makes *after*
//! resolving credentials (so that missing credentials are reported first) are methods the
//! command calls at that point ([`StatusArgs::query`], [`CloudArgs::inputs`]).

use super::parse::Parsed;
use crate::domain::choice::{
    DownloadRequest, Orientation, RenderEngine, ReportKind, RunnerType, Which,
};
use crate::exit::CliError;
use crate::term::ColorChoice;
use std::path::PathBuf;
use std::time::Duration;

/// The longest `--timeout`: a year, in minutes. Longer waits are a typo, and anything much
/// larger would not fit a timer.
pub const MAX_TIMEOUT_MINUTES: f64 = 525_600.0;

/// A parsed command line, typed.
#[derive(Debug)]
pub struct Options {
    pub common: Common,
    pub command: Command,
}

/// What every command has (or lacks: a command without `--json` is never in JSON mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Common {
    pub color: ColorChoice,
    /// `--json`: stdout carries exactly one JSON document.
    pub json: bool,
    /// `--debug`: `[DEBUG]` lines on stderr.
    pub debug: bool,
    /// `--quiet` (or implied by `--json-file`): a summary line instead of per-test rows.
    pub quiet: bool,
}

/// One command and its options. Dispatch is an exhaustive `match` on this.
#[derive(Debug)]
pub enum Command {
    Cloud(Box<CloudArgs>),
    Upload(UploadArgs),
    Status(StatusArgs),
    List(ListArgs),
    Artifacts(ArtifactsArgs),
    Login(LoginArgs),
    Logout,
    Whoami(WhoamiArgs),
    Upgrade(UpgradeArgs),
    SwitchOrg(SwitchOrgArgs),
}

impl Command {
    /// The word on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Cloud(_) => "cloud",
            Command::Upload(_) => "upload",
            Command::Status(_) => "status",
            Command::List(_) => "list",
            Command::Artifacts(_) => "artifacts",
            Command::Login(_) => "login",
            Command::Logout => "logout",
            Command::Whoami(_) => "whoami",
            Command::Upgrade(_) => "upgrade",
            Command::SwitchOrg(_) => "switch-org",
        }
    }
}

/// `--api-key`, `--api-url`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    pub api_key: Option<String>,
    pub api_url: Option<String>,
}

/// `--timeout`, `--[no-]realtime`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaitArgs {
    /// Unscaled; `DCD_TIME_SCALE` applies when the wait starts.
    pub timeout: Option<Duration>,
    pub realtime: bool,
}

/// The device group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Devices {
    pub android_api_level: Option<String>,
    pub android_device: Option<String>,
    pub ios_device: Option<String>,
    pub ios_version: Option<String>,
    /// `--ios-device-matrix` values, one cell each, unparsed (the cells are checked against
    /// the server's data after the credentials, as the TypeScript CLI does).
    pub ios_matrix: Vec<String>,
    pub android_matrix: Vec<String>,
    pub device_locale: Option<String>,
    pub google_play: bool,
    pub orientation: Option<Orientation>,
    pub show_crosshairs: bool,
    pub maestro_chrome_onboarding: bool,
    pub android_no_snapshot: bool,
    /// Tri-state: the flag beats the workspace config either way.
    pub disable_animations: Option<bool>,
    pub render_engine: Option<RenderEngine>,
}

/// Where the app binary comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppSource {
    pub app_binary_id: Option<String>,
    pub app_file: Option<String>,
    /// A signed URL: never printed.
    pub app_url: Option<String>,
    pub ignore_sha_check: bool,
    pub encrypt: Option<bool>,
}

/// The execution group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub cancel_previous: bool,
    pub config: Option<PathBuf>,
    pub exclude_flows: Vec<String>,
    pub exclude_tags: Vec<String>,
    pub include_tags: Vec<String>,
    pub flows: Option<String>,
    pub maestro_version: Option<String>,
    pub retry: Option<u64>,
    pub runner_type: RunnerType,
}

/// `--json-file` and `--json-file-name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonFile {
    /// `--json-file-name`; `<upload id>_dcd.json` when `None`.
    pub name: Option<PathBuf>,
}

/// `dcd cloud`.
#[derive(Debug, Clone)]
pub struct CloudArgs {
    pub conn: Connection,
    pub app: AppSource,
    pub devices: Devices,
    /// `-e KEY=VALUE`, in order (later duplicates win when the payload is built).
    pub env: Vec<(String, String)>,
    /// The GitHub-context entries (`gh_branch` …) first, then `-m KEY=VALUE`.
    pub metadata: Vec<(String, String)>,
    pub moropo_v1_api_key: Option<String>,
    pub name: Option<String>,
    pub execution: Execution,
    pub downloads: DownloadRequest,
    pub async_: bool,
    pub dry_run: bool,
    pub json_file: Option<JsonFile>,
    pub wait: WaitArgs,
    /// The "Options" row of the job block: every flag given, secrets left out, as
    /// `name` (switch on) or `name=value`.
    pub shown_options: Vec<String>,
    positionals: Vec<String>,
}

/// What `dcd cloud` runs: the app (unless `--app-binary-id`) and the flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    pub app: Option<String>,
    pub flows: String,
}

impl CloudArgs {
    /// App and flows from the positionals and flags: `--app-file` ?? `--app-url` ?? the first
    /// argument is the app, `--flows` ?? the next argument the flows; with `--app-binary-id`
    /// there is no app argument. An argument left over is an error (TS dcd ignored it), so a
    /// stray word — `--async yes` — never goes unnoticed.
    pub fn inputs(&self) -> Result<Inputs, CliError> {
        if self.app.app_binary_id.is_some() && self.positionals.len() > 1 {
            return Err("You cannot provide both an appBinaryId and a binary file".into());
        }
        let mut rest = self.positionals.iter().cloned();
        let app = match self.app.app_binary_id {
            Some(_) => None,
            None => (self.app.app_file.clone())
                .or(self.app.app_url.clone())
                .or_else(|| rest.next()),
        };
        let flows = self.execution.flows.clone().or_else(|| rest.next());
        if let Some(extra) = rest.next() {
            return Err(format!(
                "Unexpected argument {extra:?} for dcd cloud (the app and the flows are already given)"
            )
            .into());
        }
        let flows = flows.ok_or("You must provide a flow file")?;
        Ok(Inputs { app, flows })
    }

    /// `--json-file` was given: quiet, and a failed run exits 0 once the file is written.
    pub fn json_file_given(&self) -> bool {
        self.json_file.is_some()
    }
}

/// `dcd upload`.
#[derive(Debug, Clone)]
pub struct UploadArgs {
    pub conn: Connection,
    pub app_url: Option<String>,
    pub ignore_sha_check: bool,
    pub encrypt: Option<bool>,
    pub app_file: Option<String>,
}

/// `dcd status`.
#[derive(Debug, Clone)]
pub struct StatusArgs {
    pub conn: Connection,
    upload_id: Option<String>,
    name: Option<String>,
    pub watch: bool,
    pub wait: WaitArgs,
}

/// Which upload `dcd status` asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadRef {
    Id(String),
    Name(String),
}

impl StatusArgs {
    /// `--upload-id` or `--name`, exactly one, not blank. Checked after the credentials.
    pub fn query(&self) -> Result<UploadRef, CliError> {
        fn blank(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        match (&self.upload_id, &self.name) {
            (Some(_), Some(_)) => Err(CliError::new(
                "--upload-id and --name are mutually exclusive: pass one of them",
            )),
            _ => match (blank(&self.upload_id), blank(&self.name)) {
                (Some(id), None) => Ok(UploadRef::Id(id.to_string())),
                (None, Some(n)) => Ok(UploadRef::Name(n.to_string())),
                _ => Err(CliError::new(
                    "Either --name or --upload-id must be provided",
                )),
            },
        }
    }
}

/// `dcd list`.
#[derive(Debug, Clone)]
pub struct ListArgs {
    pub conn: Connection,
    /// Blank values count as not given.
    pub name: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: u64,
    pub offset: u64,
}

/// `dcd artifacts`.
#[derive(Debug, Clone)]
pub struct ArtifactsArgs {
    pub conn: Connection,
    pub upload_id: String,
    pub downloads: DownloadRequest,
}

/// `dcd login`.
#[derive(Debug, Clone)]
pub struct LoginArgs {
    pub api_url: Option<String>,
    pub frontend_url: Option<String>,
    pub browser: bool,
}

/// `dcd whoami`.
#[derive(Debug, Clone)]
pub struct WhoamiArgs {
    pub api_key: Option<String>,
}

/// `dcd upgrade`.
#[derive(Debug, Clone)]
pub struct UpgradeArgs {
    /// `--version`: install this version rather than the channel's latest.
    pub version: Option<String>,
    pub check: bool,
}

/// `dcd switch-org`.
#[derive(Debug, Clone)]
pub struct SwitchOrgArgs {
    pub api_url: Option<String>,
    pub org: Option<String>,
}

/// Turns a successful parse into typed options, validating what the table cannot.
pub fn options(p: &Parsed) -> Result<Options, CliError> {
    let has = |name: &str| p.command().flag(name).is_some();
    let switch = |name: &str| has(name) && p.flag(name);
    let json_file = has("json-file") && p.flag("json-file");
    let common = Common {
        color: p
            .str("color")
            .and_then(ColorChoice::from_name)
            .unwrap_or(ColorChoice::Auto),
        json: switch("json"),
        debug: switch("debug"),
        quiet: switch("quiet") || json_file,
    };
    let command = match p.command().name {
        "cloud" => Command::Cloud(Box::new(cloud(p)?)),
        "upload" => Command::Upload(UploadArgs {
            conn: connection(p),
            app_url: p.str("app-url").map(str::to_string),
            ignore_sha_check: p.flag("ignore-sha-check"),
            encrypt: p.tri("encrypt"),
            app_file: p.positionals().first().cloned(),
        }),
        "status" => Command::Status(StatusArgs {
            conn: connection(p),
            upload_id: p.str("upload-id").map(str::to_string),
            name: p.str("name").map(str::to_string),
            watch: p.flag("watch"),
            wait: wait(p)?,
        }),
        "list" => Command::List(list(p)),
        "artifacts" => Command::Artifacts(artifacts(p)?),
        "login" => Command::Login(LoginArgs {
            api_url: text(p, "api-url"),
            frontend_url: text(p, "frontend-url"),
            browser: p.flag("browser"),
        }),
        "logout" => Command::Logout,
        "whoami" => Command::Whoami(WhoamiArgs {
            api_key: text(p, "api-key"),
        }),
        "upgrade" => Command::Upgrade(UpgradeArgs {
            version: version_pin(p)?,
            check: p.flag("check"),
        }),
        "switch-org" => Command::SwitchOrg(SwitchOrgArgs {
            api_url: text(p, "api-url"),
            org: p.positionals().first().cloned(),
        }),
        other => unreachable!("dcd {other} is in the table but has no typed options"),
    };
    Ok(Options { common, command })
}

/// `--version` of `dcd upgrade`: a version as a release names it (`6.0.1`, `v6.0.0-beta.2`).
fn version_pin(p: &Parsed) -> Result<Option<String>, CliError> {
    let Some(v) = text(p, "version") else {
        return Ok(None);
    };
    let v = v.trim();
    if !crate::domain::update::plausible_version(v) {
        return Err(CliError::new(format!(
            "--version takes a release version such as 6.0.1, not \"{}\"",
            crate::sanitize::one_line(v, 40)
        )));
    }
    Ok(Some(v.strip_prefix(['v', 'V']).unwrap_or(v).to_string()))
}

fn text(p: &Parsed, name: &str) -> Option<String> {
    p.str(name).map(str::to_string)
}

/// A value that must not be blank when given (`--app-binary-id=` is a mistake, not an id).
fn id(p: &Parsed, name: &str) -> Result<Option<String>, CliError> {
    match p.str(name).map(str::trim) {
        Some("") => Err(CliError::new(format!(
            "--{name} needs a value (got an empty one)"
        ))),
        v => Ok(v.map(str::to_string)),
    }
}

fn connection(p: &Parsed) -> Connection {
    Connection {
        api_key: text(p, "api-key"),
        api_url: text(p, "api-url"),
    }
}

fn wait(p: &Parsed) -> Result<WaitArgs, CliError> {
    let timeout = match p.number("timeout") {
        Some(m) if m > MAX_TIMEOUT_MINUTES => {
            return Err(CliError::new(format!(
                "Invalid value for --timeout: {m} minutes is more than a year (at most {MAX_TIMEOUT_MINUTES})"
            )));
        }
        m => m.map(|m| Duration::from_secs_f64(m * 60.0)),
    };
    Ok(WaitArgs {
        timeout,
        realtime: p.flag("realtime"),
    })
}

/// `KEY=VALUE` pairs, split on the first `=`; the key must not be blank.
pub fn pairs(values: &[String], flag: &str) -> Result<Vec<(String, String)>, CliError> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((k, val)) if !k.trim().is_empty() => Ok((k.trim().to_string(), val.to_string())),
            _ => Err(CliError::new(format!(
                "Invalid {flag} value \"{v}\": expected KEY=VALUE"
            ))),
        })
        .collect()
}

fn downloads(p: &Parsed) -> DownloadRequest {
    let artifacts = p
        .str("download-artifacts")
        .and_then(Which::from_name)
        .map(|w| {
            let path = p.str("artifacts-path").unwrap_or("./artifacts.zip");
            (w, PathBuf::from(path))
        });
    let report = p.str("report").and_then(ReportKind::from_name).map(|k| {
        let flag = match k {
            ReportKind::Junit => "junit-path",
            ReportKind::Allure => "allure-path",
            ReportKind::Html | ReportKind::HtmlDetailed => "html-path",
        };
        (k, PathBuf::from(p.str(flag).unwrap_or(k.default_path())))
    });
    DownloadRequest { artifacts, report }
}

fn devices(p: &Parsed) -> Devices {
    Devices {
        android_api_level: text(p, "android-api-level"),
        android_device: text(p, "android-device"),
        ios_device: text(p, "ios-device"),
        ios_version: text(p, "ios-version"),
        ios_matrix: p.list("ios-device-matrix"),
        android_matrix: p.list("android-device-matrix"),
        device_locale: text(p, "device-locale"),
        google_play: p.flag("google-play"),
        orientation: p.str("orientation").and_then(Orientation::from_name),
        show_crosshairs: p.flag("show-crosshairs"),
        maestro_chrome_onboarding: p.flag("maestro-chrome-onboarding"),
        android_no_snapshot: p.flag("android-no-snapshot"),
        disable_animations: p.tri("disable-animations"),
        render_engine: p.str("render-engine").and_then(RenderEngine::from_name),
    }
}

/// Cross-flag rules of `dcd cloud` that need no network.
fn cloud_cross_checks(p: &Parsed) -> Result<(), CliError> {
    if p.given("json-file-name") && !p.flag("json-file") {
        return Err("--json-file-name requires --json-file".into());
    }
    if p.given("artifacts-path") && p.str("download-artifacts").is_none() {
        return Err("--artifacts-path requires --download-artifacts".into());
    }
    for f in ["junit-path", "allure-path", "html-path"] {
        if p.given(f) && p.str("report").is_none() {
            return Err(format!("--{f} requires --report").into());
        }
    }
    if p.given("app-file") && p.given("app-url") {
        return Err("--app-file and --app-url are mutually exclusive".into());
    }
    if !p.list("ios-device-matrix").is_empty() && !p.list("android-device-matrix").is_empty() {
        return Err(
            "--ios-device-matrix and --android-device-matrix cannot mix platforms in one run"
                .into(),
        );
    }
    Ok(())
}

fn cloud(p: &Parsed) -> Result<CloudArgs, CliError> {
    cloud_cross_checks(p)?;
    let mut metadata = Vec::new();
    for (flag, key) in [
        ("branch", "gh_branch"),
        ("commit-sha", "gh_sha"),
        ("repo-name", "gh_repo"),
        ("pr-number", "gh_pr_number"),
        ("pr-url", "gh_pr_url"),
    ] {
        if let Some(v) = p.str(flag) {
            metadata.push((key.to_string(), v.to_string()));
        }
    }
    metadata.extend(pairs(&p.list("metadata"), "--metadata")?);
    Ok(CloudArgs {
        conn: connection(p),
        app: AppSource {
            app_binary_id: id(p, "app-binary-id")?,
            app_file: text(p, "app-file"),
            app_url: text(p, "app-url"),
            ignore_sha_check: p.flag("ignore-sha-check"),
            encrypt: p.tri("encrypt"),
        },
        devices: devices(p),
        env: pairs(&p.list("env"), "--env")?,
        metadata,
        moropo_v1_api_key: text(p, "moropo-v1-api-key"),
        name: text(p, "name"),
        execution: Execution {
            cancel_previous: p.flag("cancel-previous"),
            config: p.str("config").map(PathBuf::from),
            exclude_flows: p.list("exclude-flows"),
            exclude_tags: p.list("exclude-tags"),
            include_tags: p.list("include-tags"),
            flows: text(p, "flows"),
            maestro_version: text(p, "maestro-version"),
            retry: p.int("retry"),
            runner_type: p
                .str("runner-type")
                .and_then(RunnerType::from_name)
                .unwrap_or(RunnerType::Default),
        },
        downloads: downloads(p),
        async_: p.flag("async"),
        dry_run: p.flag("dry-run"),
        json_file: p.flag("json-file").then(|| JsonFile {
            name: p.str("json-file-name").map(PathBuf::from),
        }),
        wait: wait(p)?,
        shown_options: shown_options(p),
        positionals: p.positionals().to_vec(),
    })
}

/// Every flag given, secrets left out: `name` for a switch that is on, `name=value` else;
/// switches turned off and empty values are not shown.
fn shown_options(p: &Parsed) -> Vec<String> {
    p.given_flags()
        .into_iter()
        .filter(|(name, v)| {
            let secret = p.command().flag(name).is_some_and(|d| d.secret);
            !secret && !v.is_empty() && v != "false"
        })
        .map(|(name, v)| {
            if v == "true" {
                name.to_string()
            } else {
                format!("{name}={v}")
            }
        })
        .collect()
}

fn list(p: &Parsed) -> ListArgs {
    let given = |flag| {
        p.str(flag)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string)
    };
    ListArgs {
        conn: connection(p),
        name: given("name"),
        from: given("from"),
        to: given("to"),
        limit: p.int("limit").unwrap_or(20),
        offset: p.int("offset").unwrap_or(0),
    }
}

fn artifacts(p: &Parsed) -> Result<ArtifactsArgs, CliError> {
    // `--upload-id` is required (citty checks that before anything else).
    let upload_id = p
        .str("upload-id")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            CliError::new(
                "Missing required flag --upload-id: the upload to download from (`dcd list` \
                 shows recent uploads)",
            )
        })?
        .to_string();
    Ok(ArtifactsArgs {
        conn: connection(p),
        upload_id,
        downloads: downloads(p),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Result<Options, CliError> {
        match crate::cli::parse(args.iter().map(Into::into)) {
            Ok(crate::cli::Invocation::Run(o)) => Ok(o),
            Ok(other) => panic!("not a run: {other:?}"),
            Err(e) => Err(CliError::new(e.message)),
        }
    }

    fn cloud_args(args: &[&str]) -> CloudArgs {
        let mut v = vec!["cloud"];
        v.extend(args);
        match opts(&v).expect("valid").command {
            Command::Cloud(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    fn err(args: &[&str]) -> String {
        opts(args).expect_err("invalid").message
    }

    #[test]
    fn flows_and_app_resolution() {
        let r = |args: &[&str]| cloud_args(args).inputs().map_err(|e| e.message);
        let ok = |app: Option<&str>, flows: &str| {
            Ok(Inputs {
                app: app.map(str::to_string),
                flows: flows.into(),
            })
        };
        assert_eq!(r(&["--app-binary-id", "b", "flows/"]), ok(None, "flows/"));
        assert_eq!(r(&["app.apk", "flows/"]), ok(Some("app.apk"), "flows/"));
        assert_eq!(
            r(&["--app-file", "a.apk", "flows/"]),
            ok(Some("a.apk"), "flows/")
        );
        assert_eq!(
            r(&["--app-binary-id", "b", "--flows", "f/"]),
            ok(None, "f/")
        );
        assert_eq!(r(&["app.apk"]), Err("You must provide a flow file".into()));
        // Bitrise always passes both positionals, empty when unset.
        assert_eq!(
            r(&["--app-binary-id", "b", "", "./.maestro"]),
            ok(None, "./.maestro")
        );
        assert_eq!(
            r(&["a.apk", ""]),
            Err("You must provide a flow file".into())
        );
        assert_eq!(
            r(&["--app-file", "a.apk", "--flows", "f/", "", ""]),
            ok(Some("a.apk"), "f/")
        );
        // A word the app and the flows leave over is refused, not ignored.
        let extra = |x: &str| {
            Err(format!(
                "Unexpected argument \"{x}\" for dcd cloud (the app and the flows are already given)"
            ))
        };
        assert_eq!(
            r(&["--app-binary-id", "b", "--flows", "f/", "--async", "yes"]),
            extra("yes")
        );
        assert_eq!(r(&["--app-file", "a.apk", "f/", "g/"]), extra("g/"));
        assert_eq!(
            r(&["--app-url", "https://x/a.tar.gz", "--flows", "f/", "x"]),
            extra("x")
        );
        assert_eq!(r(&["a.apk", "--flows", "f/", "x"]), extra("x"));
        assert_eq!(r(&["--app-file", "a.apk", "f/"]), ok(Some("a.apk"), "f/"));
        assert_eq!(
            r(&["--app-binary-id", "b", "a.apk", "f/"]),
            Err("You cannot provide both an appBinaryId and a binary file".into())
        );
    }

    #[test]
    fn values_that_would_panic_or_mislead_are_refused_up_front() {
        assert!(
            err(&["cloud", "--app-binary-id=", "f/"]).contains("--app-binary-id needs a value")
        );
        assert!(err(&["cloud", "--app-binary-id", "  ", "f/"]).contains("needs a value"));
        assert!(err(&["cloud", "-e", "NOEQUALS", "f/"]).contains("expected KEY=VALUE"));
        assert!(err(&["cloud", "-m", "=v", "f/"]).contains("Invalid --metadata value"));
        assert!(
            err(&[
                "status",
                "--timeout",
                "99999999999999999999",
                "--upload-id",
                "x"
            ])
            .contains("more than a year")
        );
        let c = cloud_args(&["--timeout", "525600", "f/"]);
        assert_eq!(c.wait.timeout, Some(Duration::from_secs(525_600 * 60)));
    }

    #[test]
    fn pairs_split_on_the_first_equals_and_keep_order() {
        let c = cloud_args(&[
            "-e", "A=1", "-e", "B=x=y", "-m", "k=v", "--branch", "main", "f/",
        ]);
        assert_eq!(
            c.env,
            vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert_eq!(
            c.metadata,
            vec![
                ("gh_branch".into(), "main".into()),
                ("k".into(), "v".into())
            ]
        );
    }

    #[test]
    fn choices_become_enums_and_secrets_stay_out_of_the_options_row() {
        let c = cloud_args(&[
            "--report",
            "html-detailed",
            "--runner-type",
            "m4",
            "--api-key",
            "SECRET",
            "--app-url",
            "https://signed",
            "--moropo-v1-api-key",
            "M",
            "--google-play",
            "--no-disable-animations",
            "--app-binary-id",
            "b",
            "f/",
        ]);
        assert_eq!(c.execution.runner_type, RunnerType::M4);
        assert_eq!(
            c.downloads.report,
            Some((ReportKind::HtmlDetailed, PathBuf::from("./report.zip")))
        );
        let shown = c.shown_options.join(" ");
        assert!(
            !shown.contains("SECRET") && !shown.contains("signed") && !shown.contains("moropo"),
            "{shown}"
        );
        assert!(shown.contains("google-play") && shown.contains("report=html-detailed"));
        assert!(
            !shown.contains("disable-animations"),
            "off switches are not shown"
        );
    }

    #[test]
    fn json_file_implies_quiet_and_status_checks_come_later() {
        let o = opts(&["cloud", "--json-file", "--app-binary-id", "b", "f/"]).unwrap();
        assert!(o.common.quiet && !o.common.json);
        let o = opts(&["status", "--upload-id", "a", "--name", "b"]).unwrap();
        let Command::Status(s) = o.command else {
            panic!()
        };
        assert!(
            s.query()
                .unwrap_err()
                .message
                .contains("mutually exclusive")
        );
    }
}
