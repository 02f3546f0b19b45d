//! `--help` text, generated from the flag table so it cannot drift from the parser.
//!
//! Plain text, no colour, wrapped and aligned for 100 columns. Hidden flags are left out.
//! A command's help is: description, usage, positionals, one section per flag group, then
//! its examples and its exit codes. The root help lists the commands, the environment
//! variables dcd reads and the exit codes. Every variable the help names is one dcd reads
//! (a test below checks the source).

use super::defs::COMMANDS;
use super::flags::{CommandDef, FlagDef, Kind, Multi};

/// Total width of help output.
const WIDTH: usize = 100;
/// Left columns wider than this put their text on the next line instead.
const MAX_LEFT: usize = 34;
/// Gap between the left column and the text.
const GAP: usize = 3;
/// Indent of every row.
const INDENT: usize = 2;

const ROOT_DESCRIPTION: &str = "devicecloud.dev CLI — a drop-in replacement for `maestro cloud`";

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "DEVICE_CLOUD_API_KEY",
        "API key when --api-key is not given; beats the `dcd login` session",
    ),
    (
        "DCD_CONFIG_DIR",
        "Directory of config.json, the `dcd login` session (default: $XDG_CONFIG_HOME/dcd, \
         else ~/.dcd)",
    ),
    ("XDG_CONFIG_HOME", "Base of the default config directory"),
    (
        "DCD_TIME_SCALE",
        "Multiplies every internal timer, for tests (0.01 turns 60 s into 0.6 s; default 1)",
    ),
    (
        "DCD_NO_REALTIME",
        "Set to 1 to poll only, like --no-realtime",
    ),
    (
        "DCD_SUPABASE_URL",
        "Supabase base URL for realtime, session refresh and uploads (override)",
    ),
    ("DCD_SUPABASE_ANON_KEY", "Supabase anon key (override)"),
    (
        "DCD_NO_UPDATE_CHECK",
        "Set to skip the update check of `dcd cloud` (it only runs on an interactive terminal, \
         never in CI or with --json)",
    ),
    (
        "DCD_DOWNLOAD_BASE",
        "Download host of the releases, for `dcd upgrade` and the update check (default: \
         https://get.devicecloud.dev)",
    ),
    (
        "DCD_MANIFEST_URL",
        "Release manifest the update check and `dcd upgrade` read (default: \
         <DCD_DOWNLOAD_BASE>/latest.json)",
    ),
    (
        "DCD_CI_PROVIDER",
        "Set by CI wrappers: the CI system (github, eas, …), sent to the API and matched by \
         server notices",
    ),
    (
        "DCD_CI_WRAPPER_VERSION",
        "Set by CI wrappers: the wrapper's version, sent to the API and matched by server notices",
    ),
    ("NO_COLOR", "Disable colour under --color auto"),
    ("CLICOLOR", "Set to 0 to disable colour under --color auto"),
    (
        "CLICOLOR_FORCE, FORCE_COLOR",
        "Set to non-zero to force colour under --color auto, even when not a terminal",
    ),
    (
        "HTTPS_PROXY, HTTP_PROXY",
        "Proxy for https:// and for http:// connections, the realtime WebSocket included: \
         http://, socks5:// or socks5h://",
    ),
    (
        "ALL_PROXY",
        "Proxy when the URL's own variable above is not set",
    ),
    ("NO_PROXY", "Hosts reached without the proxy"),
    (
        "SSL_CERT_FILE, SSL_CERT_DIR",
        "Extra trusted CA certificates, added to the system store and Mozilla's roots",
    ),
];

const ROOT_EXIT_CODES: &str = "\
EXIT CODES:
  0    tests passed, the run was superseded, or it was submitted with --async
  1    CLI or infrastructure error
  2    tests failed
  130  interrupted by SIGINT (Ctrl-C); a submitted run keeps going in the cloud
  143  stopped by SIGTERM, as 130
  129  stopped by SIGHUP, as 130
  141  stdout was closed by its reader; nothing more is printed";

/// Greedy word wrap. Words longer than `width` stay whole on their own line.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let needed = if line.is_empty() { 0 } else { 1 } + word.chars().count();
        if !line.is_empty() && line.chars().count() + needed > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Two aligned columns: `left` padded to the widest left cell (at most [`MAX_LEFT`]), the
/// right text wrapped to the remaining width. A left cell wider than the cap gets its text on
/// the following lines. Returns one block (ending in a newline) per item.
fn row_blocks(items: &[(String, String)]) -> Vec<String> {
    let left_width = items
        .iter()
        .map(|(l, _)| l.chars().count())
        .filter(|&w| w <= MAX_LEFT)
        .max()
        .unwrap_or(0);
    let column = INDENT + left_width + GAP;
    items
        .iter()
        .map(|(left, right)| {
            let mut out = " ".repeat(INDENT);
            out.push_str(left);
            let left_len = left.chars().count();
            let mut text = wrap(right, WIDTH - column).into_iter();
            if left_len <= left_width
                && let Some(first) = text.next()
            {
                out.push_str(&" ".repeat(left_width - left_len + GAP));
                out.push_str(&first);
            }
            out.push('\n');
            for line in text {
                out.push_str(&" ".repeat(column));
                out.push_str(&line);
                out.push('\n');
            }
            out
        })
        .collect()
}

/// [`row_blocks`], joined.
fn rows(items: &[(String, String)]) -> String {
    row_blocks(items).concat()
}

/// `-e, --env <KEY=VALUE>`, `    --[no-]disable-animations`, `    --no-realtime`.
fn flag_left(f: &FlagDef) -> String {
    let mut s = match f.short {
        Some(c) => format!("-{c}, "),
        None => "    ".to_string(),
    };
    let prefix = if f.negatable {
        "[no-]"
    } else if f.is_default_true() {
        "no-"
    } else {
        ""
    };
    let names: Vec<String> = std::iter::once(f.name)
        .chain(f.aliases.iter().copied())
        .map(|n| format!("--{prefix}{n}"))
        .collect();
    s.push_str(&names.join(", "));
    if !f.is_switch() {
        s.push_str(&format!(" <{}>", f.metavar));
    }
    s
}

/// The help text plus its generated annotations.
fn flag_right(f: &FlagDef) -> String {
    let mut s = f.help.to_string();
    match f.multi {
        Multi::Once => {}
        Multi::Repeat => s.push_str(" [repeatable]"),
        Multi::RepeatSplit => s.push_str(" [repeatable, comma-separated]"),
    }
    if let (Some(d), false) = (f.default, f.is_switch()) {
        s.push_str(&format!(" [default: {d}]"));
    }
    if let Kind::Choice(choices) = f.kind {
        s.push_str(&format!(" [possible values: {}]", choices.join(", ")));
    }
    if !f.known.is_empty() {
        s.push_str(&format!(" [known values: {}]", f.known.join(", ")));
    }
    s
}

fn paragraph(out: &mut String, text: &str) {
    for line in wrap(text, WIDTH) {
        out.push_str(&line);
        out.push('\n');
    }
}

/// The help of one command.
pub fn command_help(cmd: &CommandDef) -> String {
    let mut out = String::new();
    paragraph(&mut out, cmd.description);
    if !cmd.available {
        out.push_str("(Not available yet in this version of dcd.)\n");
    }

    let mut usage = format!("\nUSAGE: dcd {} [flags]", cmd.name);
    for p in cmd.positionals {
        usage.push_str(&format!(" [{}]", p.name));
    }
    out.push_str(&usage);
    out.push('\n');

    if !cmd.positionals.is_empty() {
        out.push_str("\nARGUMENTS:\n");
        let items: Vec<(String, String)> = cmd
            .positionals
            .iter()
            .map(|p| (format!("[{}]", p.name), p.help.to_string()))
            .collect();
        out.push_str(&rows(&items));
    }

    // One alignment for the whole command, so the columns line up across groups.
    let visible: Vec<(&str, &FlagDef)> = cmd
        .groups
        .iter()
        .flat_map(|g| {
            g.flags
                .iter()
                .filter(|f| !f.hidden)
                .map(move |f| (g.heading, f))
        })
        .collect();
    let items: Vec<(String, String)> = visible
        .iter()
        .map(|(_, f)| (flag_left(f), flag_right(f)))
        .collect();
    let mut current = "";
    for ((heading, _), block) in visible.iter().zip(row_blocks(&items)) {
        if *heading != current {
            current = heading;
            out.push_str(&format!("\n{}:\n", heading.to_uppercase()));
        }
        out.push_str(&block);
    }

    if !cmd.examples.is_empty() {
        out.push_str("\nEXAMPLES:\n");
        out.push_str(cmd.examples);
        out.push('\n');
    }
    if !cmd.footer.is_empty() {
        out.push('\n');
        out.push_str(cmd.footer);
        out.push('\n');
    }
    out
}

/// The help of `dcd` itself.
pub fn root_help() -> String {
    let mut out = String::new();
    paragraph(&mut out, ROOT_DESCRIPTION);
    out.push_str("\nUSAGE: dcd <command> [flags]\n\nCOMMANDS:\n");
    let commands: Vec<(String, String)> = COMMANDS
        .iter()
        .map(|c| {
            let mut summary = c.summary.to_string();
            if !c.available {
                summary.push_str(" (not available yet)");
            }
            (c.name.to_string(), summary)
        })
        .collect();
    out.push_str(&rows(&commands));
    out.push_str(
        "\nRun dcd <command> --help for the flags of a command, dcd --version for the version.\n",
    );
    out.push_str("\nENVIRONMENT:\n");
    let env: Vec<(String, String)> = ENVIRONMENT
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.push_str(&rows(&env));
    out.push('\n');
    out.push_str(ROOT_EXIT_CODES);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help_of(name: &str) -> String {
        command_help(COMMANDS.iter().find(|c| c.name == name).unwrap())
    }

    /// Variables the help names that a dependency reads, with the call in `src/` that hands
    /// them over; the test checks that the call is there.
    const READ_BY_DEPENDENCIES: &[(&str, &str)] = &[
        // Read in a loop over these lists (`net::proxy`), each name spelled in the list.
        ("ALL_PROXY", "PROXY_VARS"),
        ("HTTPS_PROXY", "PROXY_VARS"),
        ("HTTP_PROXY", "PROXY_VARS"),
        ("NO_PROXY", "NO_PROXY_VARS"),
    ];

    /// Upper-case words with an underscore (`DCD_NO_REALTIME`), and every name of the
    /// ENVIRONMENT table.
    fn variables_in_help() -> std::collections::BTreeSet<String> {
        let mut text = root_help();
        for c in COMMANDS {
            text.push_str(&command_help(c));
        }
        let mut names: std::collections::BTreeSet<String> = ENVIRONMENT
            .iter()
            .flat_map(|(k, _)| k.split(", "))
            .map(str::to_string)
            .collect();
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.contains('_')
                && word.len() > 2
                && word.starts_with(|c: char| c.is_ascii_uppercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                names.insert(word.to_string());
            }
        }
        names
    }

    /// Every `.rs` file under `src/` without its `#[cfg(test)]` module, the help and the
    /// flag table.
    fn program_sources() -> Vec<(String, String)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs")
                    && !p.ends_with("cli/help.rs")
                    && !p.ends_with("cli/defs.rs")
                {
                    let text = std::fs::read_to_string(&p).unwrap();
                    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
                    out.push((p.display().to_string(), code.to_string()));
                }
            }
        }
        let mut out = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut out,
        );
        out
    }

    /// Whether `code` passes the literal `"name"` to `std::env::var`/`var_os`, or to a helper
    /// of the same file whose definition reads the environment.
    fn reads(code: &str, name: &str) -> bool {
        let literal = format!("\"{name}\"");
        code.match_indices(&literal).any(|(at, _)| {
            let before = code[..at].trim_end();
            let Some(call) = before.strip_suffix('(') else {
                return false;
            };
            let helper: String = call
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if helper == "var" || helper == "var_os" {
                return call.ends_with("env::var") || call.ends_with("env::var_os");
            }
            [format!("let {helper} ="), format!("fn {helper}(")]
                .iter()
                .any(|def| {
                    code.match_indices(def.as_str()).any(|(d, _)| {
                        let body: String = code[d..].chars().take(200).collect();
                        body.contains("env::var") || body.contains("env(")
                    })
                })
        })
    }

    #[test]
    fn every_variable_the_help_names_is_read() {
        let sources = program_sources();
        let names = variables_in_help();
        assert!(names.contains("DCD_NO_UPDATE_CHECK") && names.contains("FORCE_COLOR"));
        let mut unread = Vec::new();
        for name in &names {
            let ok = match READ_BY_DEPENDENCIES.iter().find(|(v, _)| v == name) {
                Some((_, call)) => sources
                    .iter()
                    .any(|(_, code)| code.contains(call) && code.contains(&format!("\"{name}\""))),
                None => sources.iter().any(|(_, code)| reads(code, name)),
            };
            if !ok {
                unread.push(name.clone());
            }
        }
        assert!(
            unread.is_empty(),
            "named in --help but never read: {unread:?}"
        );
    }

    #[test]
    fn the_reader_check_tells_a_read_from_a_mention() {
        assert!(reads("std::env::var(\"A_B\")", "A_B"));
        assert!(reads("std::env::var_os(\n    \"A_B\",\n)", "A_B"));
        assert!(reads(
            "let get = |k| std::env::var(k).ok();\nget(\"A_B\")",
            "A_B"
        ));
        assert!(!reads("warn(\"A_B\")", "A_B"));
        assert!(!reads("let x = \"A_B\";", "A_B"));
        assert!(!reads("my::var(\"A_B\")", "A_B"));
    }

    #[test]
    fn every_command_has_examples_that_parse_and_exit_codes() {
        for c in COMMANDS {
            let help = command_help(c);
            assert!(help.contains("\nEXAMPLES:\n"), "{}", c.name);
            assert!(help.contains("\nEXIT CODES:\n  0 "), "{}", c.name);
            let examples: Vec<&str> = c
                .examples
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("dcd "))
                .collect();
            assert!(!examples.is_empty(), "{}", c.name);
            for line in examples {
                let argv: Vec<std::ffi::OsString> = line
                    .replace("<upload id>", "u-1")
                    .replace("<id>", "b-1")
                    .split_whitespace()
                    .skip(1)
                    .map(|w| w.trim_matches(['\'', '"']).into())
                    .collect();
                let parsed = crate::cli::parse(argv);
                assert!(
                    matches!(parsed, Ok(crate::cli::Invocation::Run(_))),
                    "{line}: {parsed:?}"
                );
            }
        }
    }

    #[test]
    fn wrap_keeps_long_words() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefgh x", 4), ["abcdefgh", "x"]);
        assert!(wrap("   ", 10).is_empty());
    }

    #[test]
    fn status_help() {
        insta::assert_snapshot!(help_of("status"), @"
        Show the status and test results of an upload, by id or by name. With --watch, wait for it to finish
        like `dcd cloud` does: same output, verdict and exit codes.

        USAGE: dcd status [flags]

        AUTH AND API:
              --api-key, --apiKey <KEY>      API key; falls back to $DEVICE_CLOUD_API_KEY, then the `dcd
                                             login` session
              --api-url, --apiURL, --apiUrl <URL>
                                             API base URL; falls back to the URL stored by `dcd login`, then
                                             https://api.devicecloud.dev

        UPLOAD:
              --upload-id, --uploadId <ID>   Upload id (printed by `dcd cloud` and `dcd list`)
              --name <NAME>                  Upload name, instead of --upload-id

        WAITING:
              --watch                        Wait for the upload to finish, like `dcd cloud` does
              --timeout <MINUTES>            Stop waiting after this many minutes (decimals allowed) and
                                             exit 1 with the re-attach hint; the run keeps going in the
                                             cloud
              --no-realtime                  Poll only; don't use realtime updates (also DCD_NO_REALTIME=1)

        OUTPUT:
              --json                         Print one JSON document on stdout; chatter goes to stderr
          -q, --quiet                        One-line summary instead of per-test rows; no countdown
              --debug                        Print [DEBUG] diagnostics (secrets are redacted)

        GENERAL:
              --color <WHEN>                 When to use colour; auto honours NO_COLOR, CLICOLOR,
                                             CLICOLOR_FORCE and FORCE_COLOR [default: auto] [possible
                                             values: auto, always, never]
          -h, --help                         Print help

        EXAMPLES:
          Show where a run stands now:
            dcd status --upload-id <upload id>
          Wait for it to finish, with the verdict and exit codes of `dcd cloud`:
            dcd status --upload-id <upload id> --watch
          The latest upload of a given name, as JSON:
            dcd status --name nightly --json

        EXIT CODES:
          0    the status was shown (whatever it is); with --watch: all tests passed or superseded
          1    CLI, network or API error; with --watch also polling gave up or --timeout expired
          2    with --watch: tests failed
          130  interrupted by SIGINT (Ctrl-C) while waiting; the run keeps going
          143  stopped by SIGTERM, as 130
          129  stopped by SIGHUP, as 130
          141  stdout was closed by its reader; nothing more is printed
        ");
    }

    #[test]
    fn root() {
        insta::assert_snapshot!(root_help(), @"
        devicecloud.dev CLI — a drop-in replacement for `maestro cloud`

        USAGE: dcd <command> [flags]

        COMMANDS:
          cloud        Run Maestro flows on devicecloud.dev and wait for the results
          upload       Upload an app binary to reuse it with `dcd cloud --app-binary-id`
          status       Show the status of an upload, or wait for it with --watch
          list         List recent uploads
          artifacts    Download the artifacts or a report of a finished upload
          login        Sign in with your devicecloud.dev account in the browser
          logout       Sign out and delete the stored session
          whoami       Show who is signed in and which org commands use
          switch-org   Choose the org that signed-in commands use
          upgrade      Replace this dcd with the latest release

        Run dcd <command> --help for the flags of a command, dcd --version for the version.

        ENVIRONMENT:
          DEVICE_CLOUD_API_KEY          API key when --api-key is not given; beats the `dcd login` session
          DCD_CONFIG_DIR                Directory of config.json, the `dcd login` session (default:
                                        $XDG_CONFIG_HOME/dcd, else ~/.dcd)
          XDG_CONFIG_HOME               Base of the default config directory
          DCD_TIME_SCALE                Multiplies every internal timer, for tests (0.01 turns 60 s into 0.6
                                        s; default 1)
          DCD_NO_REALTIME               Set to 1 to poll only, like --no-realtime
          DCD_SUPABASE_URL              Supabase base URL for realtime, session refresh and uploads
                                        (override)
          DCD_SUPABASE_ANON_KEY         Supabase anon key (override)
          DCD_NO_UPDATE_CHECK           Set to skip the update check of `dcd cloud` (it only runs on an
                                        interactive terminal, never in CI or with --json)
          DCD_DOWNLOAD_BASE             Download host of the releases, for `dcd upgrade` and the update
                                        check (default: https://get.devicecloud.dev)
          DCD_MANIFEST_URL              Release manifest the update check and `dcd upgrade` read (default:
                                        <DCD_DOWNLOAD_BASE>/latest.json)
          DCD_CI_PROVIDER               Set by CI wrappers: the CI system (github, eas, …), sent to the API
                                        and matched by server notices
          DCD_CI_WRAPPER_VERSION        Set by CI wrappers: the wrapper's version, sent to the API and
                                        matched by server notices
          NO_COLOR                      Disable colour under --color auto
          CLICOLOR                      Set to 0 to disable colour under --color auto
          CLICOLOR_FORCE, FORCE_COLOR   Set to non-zero to force colour under --color auto, even when not a
                                        terminal
          HTTPS_PROXY, HTTP_PROXY       Proxy for https:// and for http:// connections, the realtime
                                        WebSocket included: http://, socks5:// or socks5h://
          ALL_PROXY                     Proxy when the URL's own variable above is not set
          NO_PROXY                      Hosts reached without the proxy
          SSL_CERT_FILE, SSL_CERT_DIR   Extra trusted CA certificates, added to the system store and
                                        Mozilla's roots

        EXIT CODES:
          0    tests passed, the run was superseded, or it was submitted with --async
          1    CLI or infrastructure error
          2    tests failed
          130  interrupted by SIGINT (Ctrl-C); a submitted run keeps going in the cloud
          143  stopped by SIGTERM, as 130
          129  stopped by SIGHUP, as 130
          141  stdout was closed by its reader; nothing more is printed
        ");
    }

    #[test]
    fn cloud_help_shows_groups_and_hides_encrypt() {
        let text = help_of("cloud");
        for heading in [
            "AUTH AND API:",
            "APP BINARY:",
            "DEVICE:",
            "ENVIRONMENT AND METADATA:",
            "EXECUTION:",
            "GITHUB CONTEXT:",
            "REPORTS AND ARTIFACTS:",
            "OUTPUT:",
            "WAITING:",
            "GENERAL:",
            "EXIT CODES:",
        ] {
            assert!(text.contains(heading), "{heading}\n{text}");
        }
        assert!(!text.contains("encrypt"));
        assert!(text.contains("--[no-]disable-animations"));
        assert!(text.contains("--no-realtime"));
        assert!(text.contains("-e, --env <KEY=VALUE>"));
        assert!(text.contains("--report, --format <FORMAT>"));
        assert!(text.contains("iphone-16-pro-max"));
        assert!(text.contains("USAGE: dcd cloud [flags] [app] [flows]"));
    }
}
