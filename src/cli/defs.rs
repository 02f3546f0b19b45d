//! The flag tables: every command, every flag, in help order.
//!
//! This is the one place that says which flags exist: the TypeScript CLI's, plus what this
//! port adds (`status --watch`, `--timeout`, `--no-realtime`, `--color`); see
//! `docs/commands.md`. Flags used by several
//! commands are declared once as `const`s and shared, either one by one or as whole groups
//! (the help's API, binary, device, environment, execution, GitHub and output groups).

use super::flags::{CommandDef, FlagDef, Group, Positional, Removed};
use crate::domain::choice::{Orientation, RenderEngine, ReportKind, RunnerType, Which};
use crate::term::ColorChoice;

// ---------------------------------------------------------------------------------------------
// Known server values. Help only; validation is against the API's compatibility data, so
// a new device needs no release.

const IOS_DEVICES: &[&str] = &[
    "ipad-pro-6th-gen",
    "iphone-14",
    "iphone-14-pro",
    "iphone-15",
    "iphone-15-pro",
    "iphone-16",
    "iphone-16-plus",
    "iphone-16-pro",
    "iphone-16-pro-max",
];
const IOS_VERSIONS: &[&str] = &["17", "18", "26", "27"];
const ANDROID_DEVICES: &[&str] = &[
    "generic-tablet",
    "pixel-6",
    "pixel-6-pro",
    "pixel-7",
    "pixel-7-pro",
    "pixel-8",
    "pixel-10",
    "pixel-10-pro",
    "pixel-10-pro-xl",
    "pixel-10-pro-fold",
    "pixel-11",
];
const ANDROID_API_LEVELS: &[&str] = &["29", "30", "31", "32", "33", "34", "35", "36", "37"];

const REPORT_FORMATS: &[&str] = ReportKind::NAMES;
const ARTIFACT_SELECTIONS: &[&str] = Which::NAMES;
const COLOR_CHOICES: &[&str] = ColorChoice::NAMES;

// ---------------------------------------------------------------------------------------------
// Single flags shared by several commands.

const API_KEY: FlagDef = FlagDef::text(
    "api-key",
    "KEY",
    "API key; falls back to $DEVICE_CLOUD_API_KEY, then the `dcd login` session",
)
.aliases(&["apiKey"])
.secret();
const API_URL: FlagDef = FlagDef::text(
    "api-url",
    "URL",
    "API base URL; falls back to the URL stored by `dcd login`, then https://api.devicecloud.dev",
)
.aliases(&["apiURL", "apiUrl"]);
const UPLOAD_ID: FlagDef = FlagDef::text(
    "upload-id",
    "ID",
    "Upload id (printed by `dcd cloud` and `dcd list`)",
)
.aliases(&["uploadId"]);
const APP_URL: FlagDef = FlagDef::text(
    "app-url",
    "URL",
    "Signed Expo iOS build URL (.tar.gz); such URLs expire after about an hour",
)
.secret();
const IGNORE_SHA_CHECK: FlagDef = FlagDef::switch(
    "ignore-sha-check",
    "Upload the binary even if an identical one was uploaded before",
);
const ENCRYPT: FlagDef = FlagDef::switch(
    "encrypt",
    "Client-side envelope encryption of uploads (beta); default from DCD_ENCRYPT or the org",
)
.negatable()
.hidden();
const DEBUG: FlagDef = FlagDef::switch("debug", "Print [DEBUG] diagnostics (secrets are redacted)");
const JSON: FlagDef = FlagDef::switch(
    "json",
    "Print one JSON document on stdout; chatter goes to stderr",
);
const QUIET: FlagDef = FlagDef::switch(
    "quiet",
    "One-line summary instead of per-test rows; no countdown",
)
.short('q');
const TIMEOUT: FlagDef = FlagDef::minutes(
    "timeout",
    "Stop waiting after this many minutes (decimals allowed) and exit 1 with the re-attach hint; \
     the run keeps going in the cloud",
);
const REALTIME: FlagDef = FlagDef::switch(
    "realtime",
    "Poll only; don't use realtime updates (also DCD_NO_REALTIME=1)",
)
.default_true();
const COLOR: FlagDef = FlagDef::choice(
    "color",
    "WHEN",
    COLOR_CHOICES,
    "When to use colour; auto honours NO_COLOR, CLICOLOR, CLICOLOR_FORCE and FORCE_COLOR",
)
.default("auto");
const HELP: FlagDef = FlagDef::switch("help", "Print help").short('h');

// ---------------------------------------------------------------------------------------------
// Groups.

const API_GROUP: Group = Group {
    heading: "Auth and API",
    flags: &[API_KEY, API_URL],
};

const GENERAL_GROUP: Group = Group {
    heading: "General",
    flags: &[COLOR, HELP],
};

const BINARY_GROUP: Group = Group {
    heading: "App binary",
    flags: &[
        FlagDef::text(
            "app-binary-id",
            "ID",
            "Reuse a binary uploaded before (`dcd upload`); nothing is uploaded",
        ),
        FlagDef::text(
            "app-file",
            "PATH",
            "App binary (alternative to the [app] argument)",
        ),
        APP_URL,
        IGNORE_SHA_CHECK,
        ENCRYPT,
    ],
};

const DEVICE_GROUP: Group = Group {
    heading: "Device",
    flags: &[
        FlagDef::text("android-api-level", "LEVEL", "Android API level").known(ANDROID_API_LEVELS),
        FlagDef::text("android-device", "DEVICE", "Android device").known(ANDROID_DEVICES),
        FlagDef::text("ios-device", "DEVICE", "iOS device").known(IOS_DEVICES),
        FlagDef::text("ios-version", "VERSION", "iOS major version").known(IOS_VERSIONS),
        FlagDef::text(
            "ios-device-matrix",
            "DEVICE:VERSION",
            "Run the flows on each of several iOS devices, one cell per use (iphone-16:18)",
        )
        .repeat(),
        FlagDef::text(
            "android-device-matrix",
            "DEVICE:LEVEL[:play]",
            "Run the flows on each of several Android devices, one cell per use (pixel-7:34:play)",
        )
        .repeat(),
        FlagDef::text("device-locale", "LOCALE", "Device locale, e.g. de_DE"),
        FlagDef::switch("google-play", "Android: use a Google Play image"),
        FlagDef::choice(
            "orientation",
            "DEGREES",
            Orientation::NAMES,
            "Android: screen orientation",
        ),
        FlagDef::switch("show-crosshairs", "Android: show touch crosshairs"),
        FlagDef::switch(
            "maestro-chrome-onboarding",
            "Android: let Maestro complete Chrome's first-run screens",
        ),
        FlagDef::switch("android-no-snapshot", "Android: cold boot the emulator"),
        FlagDef::switch(
            "disable-animations",
            "Disable device animations; the flag beats the workspace config either way",
        )
        .negatable(),
        FlagDef::choice(
            "render-engine",
            "ENGINE",
            RenderEngine::NAMES,
            "Android: emulator software renderer",
        ),
    ],
};

const ENVIRONMENT_GROUP: Group = Group {
    heading: "Environment and metadata",
    flags: &[
        FlagDef::text(
            "env",
            "KEY=VALUE",
            "Variable injected into the flows (split on the first =)",
        )
        .short('e')
        .repeat(),
        FlagDef::text("metadata", "KEY=VALUE", "Metadata attached to the upload")
            .short('m')
            .repeat(),
        FlagDef::text(
            "moropo-v1-api-key",
            "KEY",
            "Download the flows from Moropo with this API key",
        )
        .secret(),
        FlagDef::text("name", "NAME", "Name of the upload"),
    ],
};

const EXECUTION_GROUP: Group = Group {
    heading: "Execution",
    flags: &[
        FlagDef::switch(
            "cancel-previous",
            "Cancel the not-yet-started tests of the previous run of the same branch or PR \
             (needs --repo-name and --branch or --pr-number)",
        ),
        FlagDef::text(
            "config",
            "PATH",
            "Workspace config file (relative to the current directory)",
        ),
        FlagDef::text("exclude-flows", "PATHS", "Flow paths to leave out").repeat_split(),
        FlagDef::text("exclude-tags", "TAGS", "Skip flows with any of these tags").repeat_split(),
        FlagDef::text(
            "flows",
            "PATH",
            "Flow file or folder (alternative to the [flows] argument)",
        ),
        FlagDef::text(
            "include-tags",
            "TAGS",
            "Run only flows with any of these tags",
        )
        .repeat_split(),
        FlagDef::text(
            "maestro-version",
            "VERSION",
            "Maestro version to run, or `latest`; default: the server's default",
        )
        .aliases(&["maestroVersion"]),
        FlagDef::int("retry", "N", "Retry failed flows up to N times (at most 2)"),
        FlagDef::choice("runner-type", "TYPE", RunnerType::NAMES, "Runner hardware")
            .default("default"),
    ],
};

const GITHUB_GROUP: Group = Group {
    heading: "GitHub context",
    flags: &[
        FlagDef::text(
            "branch",
            "BRANCH",
            "Branch name (sent as gh_branch metadata)",
        ),
        FlagDef::text("commit-sha", "SHA", "Commit SHA (sent as gh_sha metadata)"),
        FlagDef::text(
            "repo-name",
            "OWNER/REPO",
            "Repository (sent as gh_repo metadata)",
        ),
        FlagDef::text(
            "pr-number",
            "N",
            "Pull request number (sent as gh_pr_number metadata)",
        ),
        FlagDef::text(
            "pr-url",
            "URL",
            "Pull request URL (sent as gh_pr_url metadata)",
        ),
    ],
};

const DOWNLOAD_GROUP: Group = Group {
    heading: "Reports and artifacts",
    flags: &[
        FlagDef::choice(
            "download-artifacts",
            "WHICH",
            ARTIFACT_SELECTIONS,
            "Download logs, screenshots and videos of all or only the failed tests",
        ),
        FlagDef::text("artifacts-path", "PATH", "Where to save the artifacts zip")
            .default("./artifacts.zip"),
        FlagDef::choice("report", "FORMAT", REPORT_FORMATS, "Download a test report")
            .aliases(&["format"]),
        FlagDef::text("allure-path", "PATH", "Where to save the Allure report")
            .default("./report.html"),
        FlagDef::text("html-path", "PATH", "Where to save the HTML report (a zip)")
            .default("./report.zip"),
        FlagDef::text("junit-path", "PATH", "Where to save the JUnit report")
            .default("./report.xml"),
    ],
};

const CLOUD_OUTPUT_GROUP: Group = Group {
    heading: "Output",
    flags: &[
        FlagDef::switch(
            "async",
            "Return right after submission instead of waiting for results",
        ),
        DEBUG,
        FlagDef::switch(
            "dry-run",
            "Show which flows would run; upload and start nothing",
        ),
        JSON,
        FlagDef::switch(
            "json-file",
            "Write the JSON result to a file (implies --quiet; a failed run then exits 0)",
        ),
        FlagDef::text(
            "json-file-name",
            "PATH",
            "File for --json-file; default <upload id>_dcd.json",
        ),
        QUIET,
    ],
};

const WAIT_GROUP: Group = Group {
    heading: "Waiting",
    flags: &[TIMEOUT, REALTIME],
};

// ---------------------------------------------------------------------------------------------
// Help footers: the EXAMPLES section (without its heading) and the EXIT CODES section.

const CLOUD_EXAMPLES: &str =
    "  Run the flows in flows/ on an app uploaded before, and wait for the verdict:
    dcd cloud --app-binary-id <id> flows/
  Upload the app and run the flows in flows/ on it:
    dcd cloud app.apk flows/
  Submit and return at once, then wait for the run from anywhere:
    dcd cloud --app-binary-id <id> flows/ --async
    dcd status --upload-id <upload id> --watch
  In CI: keep the result as JSON in <upload id>_dcd.json (a failed run then exits 0):
    dcd cloud --app-binary-id <id> flows/ --json-file";

const CLOUD_EXIT_CODES: &str = "\
EXIT CODES:
  0    all tests passed, the run was superseded, --async submitted, or --dry-run
  1    CLI or infrastructure error, polling gave up, or --timeout expired
  2    tests failed (0 with --json-file)
  130  interrupted by SIGINT (Ctrl-C); once the run exists it keeps going and the
       re-attach command is printed
  143  stopped by SIGTERM (a CI runner cancelling the job), as 130
  129  stopped by SIGHUP (the terminal went away), as 130
  141  stdout was closed by its reader (`dcd … | head`); nothing more is printed";

const UPLOAD_EXAMPLES: &str = "  Upload an Android app once and reuse its id for many runs:
    dcd upload app.apk
    dcd cloud --app-binary-id <id> flows/
  In a script, keep only the id:
    dcd upload app.apk --json";

const UPLOAD_EXIT_CODES: &str = "\
EXIT CODES:
  0    the app was uploaded (or was already there) and its id printed
  1    CLI, network or API error, or the app could not be stored anywhere
  130  interrupted by SIGINT (Ctrl-C) during the upload
  143  stopped by SIGTERM, as 130
  129  stopped by SIGHUP, as 130
  141  stdout was closed by its reader; nothing more is printed";

const STATUS_EXAMPLES: &str = "  Show where a run stands now:
    dcd status --upload-id <upload id>
  Wait for it to finish, with the verdict and exit codes of `dcd cloud`:
    dcd status --upload-id <upload id> --watch
  The latest upload of a given name, as JSON:
    dcd status --name nightly --json";

const STATUS_EXIT_CODES: &str = "\
EXIT CODES:
  0    the status was shown (whatever it is); with --watch: all tests passed or superseded
  1    CLI, network or API error; with --watch also polling gave up or --timeout expired
  2    with --watch: tests failed
  130  interrupted by SIGINT (Ctrl-C) while waiting; the run keeps going
  143  stopped by SIGTERM, as 130
  129  stopped by SIGHUP, as 130
  141  stdout was closed by its reader; nothing more is printed";

const LIST_EXAMPLES: &str = "  The 20 most recent uploads:
    dcd list
  Uploads named nightly-… in January 2024, as JSON:
    dcd list --name 'nightly-*' --from 2024-01-01 --to 2024-01-31T23:59:59Z --json";

const LIST_EXIT_CODES: &str = "\
EXIT CODES:
  0    the uploads were listed (none is not an error)
  1    CLI, network or API error, or a --from/--to date that is not ISO 8601
  130  interrupted by SIGINT (Ctrl-C)
  143  stopped by SIGTERM, as 130
  129  stopped by SIGHUP, as 130
  141  stdout was closed by its reader; nothing more is printed";

const ARTIFACTS_EXAMPLES: &str = "  Download the logs, screenshots and videos of a run:
    dcd artifacts --upload-id <upload id> --download-artifacts ALL
  Download its JUnit report to a file of your choice:
    dcd artifacts --upload-id <upload id> --report junit --junit-path report.xml";

const ARTIFACTS_EXIT_CODES: &str = "\
EXIT CODES:
  0    the download was written
  1    CLI, network or API error, or nothing to download; no partial file is left
  130  interrupted by SIGINT (Ctrl-C); no partial file is left
  143  stopped by SIGTERM, as 130
  129  stopped by SIGHUP, as 130
  141  stdout was closed by its reader; nothing more is printed";

const LOGIN_EXAMPLES: &str = "  Sign in in the browser:
    dcd login
  On a machine without a browser, print the sign-in URL to open elsewhere:
    dcd login --no-browser";

const LOGIN_EXIT_CODES: &str = "\
EXIT CODES:
  0    signed in, or an existing session was kept
  1    sign-in failed, timed out or was refused; or several orgs and no terminal to choose
       on (the session is kept: pick one with `dcd switch-org <name>`)
  130  interrupted by SIGINT (Ctrl-C) while waiting for the browser
  143  stopped by SIGTERM, as 130
  129  stopped by SIGHUP, as 130
  141  stdout was closed by its reader; nothing more is printed";

const LOGOUT_EXAMPLES: &str = "  Delete the session stored by `dcd login`:
    dcd logout";

const LOGOUT_EXIT_CODES: &str = "\
EXIT CODES:
  0    signed out (also when no one was signed in)
  1    the stored session could not be removed
  141  stdout was closed by its reader; nothing more is printed";

const WHOAMI_EXAMPLES: &str = "  Who is signed in, and in which org:
    dcd whoami
  Whether a given API key would bypass that session:
    dcd whoami --api-key \"$DEVICE_CLOUD_API_KEY\"";

const WHOAMI_EXIT_CODES: &str = "\
EXIT CODES:
  0    the identity was shown (also \"not signed in\")
  1    CLI error
  141  stdout was closed by its reader; nothing more is printed";

const UPGRADE_EXAMPLES: &str =
    "  Replace this dcd with the latest release (the beta channel for a pre-release):
    dcd upgrade
  Only say whether a newer release exists:
    dcd upgrade --check
  Install one version, newer or older:
    dcd upgrade --version 6.0.0";

const UPGRADE_EXIT_CODES: &str = "\
EXIT CODES:
  0    upgraded, already on the latest version, or (--check) reported
  1    no release, a download or checksum failed, or this dcd cannot replace its own file
       (installed by a package manager, or a directory it cannot write); dcd is unchanged
  130  interrupted by SIGINT (Ctrl-C); dcd is unchanged
  143  stopped by SIGTERM, as 130
  129  stopped by SIGHUP, as 130
  141  stdout was closed by its reader; nothing more is printed";

const SWITCH_ORG_EXAMPLES: &str = "  Pick the org from a list:
    dcd switch-org
  Switch by name, slug or id (for scripts):
    dcd switch-org Acme";

const SWITCH_ORG_EXIT_CODES: &str = "\
EXIT CODES:
  0    switched
  1    no such org, not signed in, or an API error
  130  interrupted by SIGINT (Ctrl-C) while picking
  143  stopped by SIGTERM, as 130
  129  stopped by SIGHUP, as 130
  141  stdout was closed by its reader; nothing more is printed";

// ---------------------------------------------------------------------------------------------
// Commands.

/// Every command, in root-help order.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "cloud",
        summary: "Run Maestro flows on devicecloud.dev and wait for the results",
        description: "Upload an app binary and Maestro flows, run them on devicecloud.dev and wait \
                      for the verdict. A drop-in replacement for `maestro cloud`.",
        positionals: &[
            Positional {
                name: "app",
                help: "App binary: .apk, .app folder, .zip of an .app, Expo .tar.gz or its URL",
            },
            Positional {
                name: "flows",
                help: "Flow file or folder of flows",
            },
        ],
        groups: &[
            API_GROUP,
            BINARY_GROUP,
            DEVICE_GROUP,
            ENVIRONMENT_GROUP,
            EXECUTION_GROUP,
            GITHUB_GROUP,
            DOWNLOAD_GROUP,
            CLOUD_OUTPUT_GROUP,
            WAIT_GROUP,
            GENERAL_GROUP,
        ],
        available: true,
        examples: CLOUD_EXAMPLES,
        footer: CLOUD_EXIT_CODES,
        removed: &[
            Removed {
                names: &["ios-config", "iosConfig"],
                message: "{flag} was removed in dcd 5.2.0. Use --ios-device and --ios-version for \
                          one device, or --ios-device-matrix <device>:<version> (once per device) \
                          for several.",
            },
            Removed {
                names: &["android-config", "androidConfig"],
                message: "{flag} was removed in dcd 5.2.0. Use --android-device and \
                          --android-api-level for one device, or --android-device-matrix \
                          <device>:<apiLevel>[:play] (once per device) for several.",
            },
            Removed {
                names: &["mitmHost", "mitm-host", "mitmPath", "mitm-path"],
                message: "{flag} was removed in dcd 5.2.0 and is no longer supported; remove it \
                          from the command.",
            },
        ],
    },
    CommandDef {
        name: "upload",
        summary: "Upload an app binary to reuse it with `dcd cloud --app-binary-id`",
        description: "Upload an app binary and print its id, to reuse with \
                      `dcd cloud --app-binary-id <id>`.",
        positionals: &[Positional {
            name: "app",
            help: "App binary: .apk, .app folder, .zip of an .app, Expo .tar.gz or its URL",
        }],
        groups: &[
            API_GROUP,
            Group {
                heading: "App binary",
                flags: &[APP_URL, IGNORE_SHA_CHECK, ENCRYPT],
            },
            Group {
                heading: "Output",
                flags: &[DEBUG, JSON],
            },
            GENERAL_GROUP,
        ],
        available: true,
        examples: UPLOAD_EXAMPLES,
        footer: UPLOAD_EXIT_CODES,
        removed: &[],
    },
    CommandDef {
        name: "status",
        summary: "Show the status of an upload, or wait for it with --watch",
        description: "Show the status and test results of an upload, by id or by name. With \
                      --watch, wait for it to finish like `dcd cloud` does: same output, verdict \
                      and exit codes.",
        positionals: &[],
        groups: &[
            API_GROUP,
            Group {
                heading: "Upload",
                flags: &[
                    UPLOAD_ID,
                    FlagDef::text("name", "NAME", "Upload name, instead of --upload-id"),
                ],
            },
            Group {
                heading: "Waiting",
                flags: &[
                    FlagDef::switch(
                        "watch",
                        "Wait for the upload to finish, like `dcd cloud` does",
                    ),
                    TIMEOUT,
                    REALTIME,
                ],
            },
            Group {
                heading: "Output",
                flags: &[JSON, QUIET, DEBUG],
            },
            GENERAL_GROUP,
        ],
        available: true,
        examples: STATUS_EXAMPLES,
        footer: STATUS_EXIT_CODES,
        removed: &[],
    },
    CommandDef {
        name: "list",
        summary: "List recent uploads",
        description: "List recent uploads, newest first.",
        positionals: &[],
        groups: &[
            API_GROUP,
            Group {
                heading: "Filter",
                flags: &[
                    FlagDef::text(
                        "name",
                        "NAME",
                        "Upload name; * matches anything (quote it so the shell leaves it alone)",
                    ),
                    FlagDef::text(
                        "from",
                        "DATE",
                        "Only uploads created at or after this date, ISO 8601: 2024-01-31 \
                         or 2024-01-31T12:00:00Z",
                    ),
                    FlagDef::text(
                        "to",
                        "DATE",
                        "Only uploads created at or before this date, ISO 8601: 2024-01-31 \
                         or 2024-01-31T12:00:00Z",
                    ),
                    FlagDef::int("limit", "N", "How many uploads to show").default("20"),
                    FlagDef::int("offset", "N", "How many uploads to skip").default("0"),
                ],
            },
            Group {
                heading: "Output",
                flags: &[JSON],
            },
            GENERAL_GROUP,
        ],
        available: true,
        examples: LIST_EXAMPLES,
        footer: LIST_EXIT_CODES,
        removed: &[],
    },
    CommandDef {
        name: "artifacts",
        summary: "Download the artifacts or a report of a finished upload",
        description: "Download the artifacts (logs, screenshots, videos) or a test report of an \
                      upload. Give --upload-id and one of --download-artifacts or --report.",
        positionals: &[],
        groups: &[
            API_GROUP,
            Group {
                heading: "Upload",
                flags: &[UPLOAD_ID],
            },
            DOWNLOAD_GROUP,
            Group {
                heading: "Output",
                flags: &[DEBUG],
            },
            GENERAL_GROUP,
        ],
        available: true,
        examples: ARTIFACTS_EXAMPLES,
        footer: ARTIFACTS_EXIT_CODES,
        removed: &[],
    },
    CommandDef {
        name: "login",
        summary: "Sign in with your devicecloud.dev account in the browser",
        description: "Sign in to devicecloud.dev in the browser and store the session, so commands \
                      work without an API key.",
        positionals: &[],
        groups: &[
            Group {
                heading: "Login",
                flags: &[
                    FlagDef::text(
                        "api-url",
                        "URL",
                        "API to sign in against (default: https://api.devicecloud.dev)",
                    )
                    .aliases(&["apiURL", "apiUrl"]),
                    FlagDef::text(
                        "frontend-url",
                        "URL",
                        "Web app URL to sign in at (override)",
                    ),
                    FlagDef::switch(
                        "browser",
                        "Print the sign-in URL instead of opening a browser",
                    )
                    .default_true(),
                ],
            },
            GENERAL_GROUP,
        ],
        available: true,
        examples: LOGIN_EXAMPLES,
        footer: LOGIN_EXIT_CODES,
        removed: &[],
    },
    CommandDef {
        name: "logout",
        summary: "Sign out and delete the stored session",
        description: "Sign out of this machine and delete the stored session. API keys are not \
                      affected.",
        positionals: &[],
        groups: &[GENERAL_GROUP],
        available: true,
        examples: LOGOUT_EXAMPLES,
        footer: LOGOUT_EXIT_CODES,
        removed: &[],
    },
    CommandDef {
        name: "whoami",
        summary: "Show who is signed in and which org commands use",
        description: "Show the signed-in user, org and environment, and whether an API key \
                      overrides them. Reads the stored session only; no network.",
        positionals: &[],
        groups: &[
            Group {
                heading: "Auth",
                flags: &[FlagDef::text(
                    "api-key",
                    "KEY",
                    "Also say whether commands given this API key bypass the session",
                )
                .aliases(&["apiKey"])
                .secret()],
            },
            GENERAL_GROUP,
        ],
        available: true,
        examples: WHOAMI_EXAMPLES,
        footer: WHOAMI_EXIT_CODES,
        removed: &[],
    },
    CommandDef {
        name: "switch-org",
        summary: "Choose the org that signed-in commands use",
        description: "Choose the organization that commands using the `dcd login` session act on.",
        positionals: &[Positional {
            name: "org",
            help: "Org name, slug or id; without it, pick from a list",
        }],
        groups: &[
            Group {
                heading: "API",
                flags: &[API_URL],
            },
            GENERAL_GROUP,
        ],
        available: true,
        examples: SWITCH_ORG_EXAMPLES,
        footer: SWITCH_ORG_EXIT_CODES,
        removed: &[],
    },
    CommandDef {
        name: "upgrade",
        summary: "Replace this dcd with the latest release",
        description: "Download the release for this platform from the download host \
                      (DCD_DOWNLOAD_BASE), check it against the release's SHA256SUMS and put \
                      it in place of this binary. A pre-release follows the beta channel. On \
                      any failure the binary is left as it was.",
        positionals: &[],
        groups: &[
            Group {
                heading: "Upgrade",
                flags: &[
                    FlagDef::text(
                        "version",
                        "VERSION",
                        "Install this version instead of the latest (a pin; older works too)",
                    ),
                    FlagDef::switch(
                        "check",
                        "Only say whether a newer release exists; change nothing",
                    ),
                ],
            },
            Group {
                heading: "Output",
                flags: &[DEBUG, JSON],
            },
            GENERAL_GROUP,
        ],
        available: true,
        examples: UPGRADE_EXAMPLES,
        footer: UPGRADE_EXIT_CODES,
        removed: &[],
    },
];

/// Commands of TS dcd that this port does not offer; named so the error is not a misleading
/// "did you mean".
pub const NOT_PORTED: &[&str] = &["live"];

#[cfg(test)]
mod tests {
    //! Meta-tests: walk the whole table and check the invariants the parser and the help
    //! renderer rely on.

    use super::super::flags::Kind;
    use super::super::parse::camel_case;
    use super::*;
    use std::collections::HashSet;

    fn is_kebab(s: &str) -> bool {
        !s.is_empty()
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--")
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }

    #[test]
    fn command_names_are_unique_kebab() {
        let mut seen = HashSet::new();
        for c in COMMANDS {
            assert!(is_kebab(c.name), "{}", c.name);
            assert!(seen.insert(c.name), "duplicate command {}", c.name);
            assert!(
                !c.summary.is_empty() && !c.description.is_empty(),
                "{}",
                c.name
            );
        }
        for n in NOT_PORTED {
            assert!(!seen.contains(n));
        }
    }

    #[test]
    fn names_and_aliases_are_unique_within_each_command() {
        for c in COMMANDS {
            let mut names = HashSet::new();
            let mut shorts = HashSet::new();
            for f in c.flags() {
                assert!(
                    is_kebab(f.name),
                    "{}: flag {:?} not kebab-case",
                    c.name,
                    f.name
                );
                let mut own: HashSet<String> = HashSet::new();
                own.insert(f.name.to_string());
                own.insert(camel_case(f.name));
                for a in f.aliases {
                    assert!(
                        a.is_ascii() && !a.starts_with('-') && !a.is_empty(),
                        "{}: alias {a:?}",
                        c.name
                    );
                    own.insert(a.to_string());
                }
                for n in own {
                    assert!(names.insert(n.clone()), "{}: {n} defined twice", c.name);
                }
                if let Some(s) = f.short {
                    assert!(s.is_ascii_alphabetic(), "{}: -{s}", c.name);
                    assert!(shorts.insert(s), "{}: -{s} defined twice", c.name);
                }
            }
            // A switch's negation must not shadow another flag.
            for f in c.flags().filter(|f| f.is_switch()) {
                let neg = format!("no-{}", f.name);
                assert!(!names.contains(&neg), "{}: --{neg} is ambiguous", c.name);
            }
            for r in c.removed {
                for n in r.names {
                    assert!(
                        !names.contains(*n),
                        "{}: removed --{n} still defined",
                        c.name
                    );
                }
                assert!(r.message.contains("{flag}"));
            }
        }
    }

    #[test]
    fn kinds_metavars_defaults_and_choices_agree() {
        for c in COMMANDS {
            for f in c.flags() {
                let id = format!("{} --{}", c.name, f.name);
                assert!(!f.help.is_empty(), "{id}: no help");
                match f.kind {
                    Kind::Switch => {
                        assert!(f.metavar.is_empty(), "{id}: switch with metavar");
                        assert!(f.choices().is_empty() && f.known.is_empty(), "{id}");
                        assert!(!f.is_repeatable(), "{id}: repeatable switch");
                        assert!(matches!(f.default, None | Some("true")), "{id}");
                        assert!(!(f.negatable && f.is_default_true()), "{id}");
                    }
                    _ => {
                        assert!(!f.negatable, "{id}: negatable value flag");
                        let m = f.metavar;
                        assert!(!m.is_empty(), "{id}: value flag without metavar");
                        assert!(!m.contains(' ') && !m.contains('<'), "{id}: metavar {m:?}");
                    }
                }
                if let Kind::Choice(choices) = f.kind {
                    assert!(!choices.is_empty(), "{id}");
                    assert!(f.known.is_empty(), "{id}: choices and known values");
                    if let Some(d) = f.default {
                        assert!(choices.contains(&d), "{id}: default {d} not a choice");
                    }
                }
                if f.kind == Kind::Int
                    && let Some(d) = f.default
                {
                    assert!(d.bytes().all(|b| b.is_ascii_digit()), "{id}: default {d}");
                }
                if f.is_repeatable() {
                    assert!(f.default.is_none(), "{id}: repeatable with default");
                }
            }
        }
    }

    #[test]
    fn credentials_and_signed_urls_are_secret() {
        for c in COMMANDS {
            for f in c.flags() {
                let should = matches!(f.name, "api-key" | "moropo-v1-api-key" | "app-url");
                assert_eq!(f.secret, should, "{} --{}", c.name, f.name);
            }
        }
    }

    #[test]
    fn every_command_has_color_and_help() {
        for c in COMMANDS {
            assert!(c.flag("color").is_some(), "{}", c.name);
            assert_eq!(
                c.flag("help").and_then(|f| f.short),
                Some('h'),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn the_available_commands() {
        let available: Vec<_> = COMMANDS
            .iter()
            .filter(|c| c.available)
            .map(|c| c.name)
            .collect();
        assert_eq!(
            available,
            [
                "cloud",
                "upload",
                "status",
                "list",
                "artifacts",
                "login",
                "logout",
                "whoami",
                "switch-org",
                "upgrade"
            ]
        );
    }

    #[test]
    fn every_help_renders() {
        for c in COMMANDS {
            let text = super::super::help::command_help(c);
            assert!(text.contains(&format!("dcd {}", c.name)), "{}", c.name);
            for line in text.lines() {
                assert!(
                    line.chars().count() <= 100,
                    "{}: line too long: {line}",
                    c.name
                );
                assert_eq!(
                    line.trim_end(),
                    line,
                    "{}: trailing space: {line:?}",
                    c.name
                );
            }
            for f in c.flags() {
                let shown = if f.negatable {
                    format!("--[no-]{}", f.name)
                } else if f.is_default_true() {
                    format!("--no-{}", f.name)
                } else {
                    format!("--{}", f.name)
                };
                assert_eq!(
                    text.contains(&shown),
                    !f.hidden,
                    "{}: --{} shown/hidden",
                    c.name,
                    f.name
                );
            }
        }
        let root = super::super::help::root_help();
        for line in root.lines() {
            assert!(line.chars().count() <= 100, "root: line too long: {line}");
        }
    }
}
