//! argv → [`Invocation`]: the parser loop, value validation and the [`Parsed`] accessors.
//!
//! TS dcd parsed with citty and then re-scanned raw argv for repeatable flags; the rules that
//! scripts depend on are reproduced here on top of `lexopt`: `--flag value` and
//! `--flag=value`, a value flag always takes the next token (even `-x`), `--no-<switch>`,
//! repeatable flags collected in order, last-wins otherwise, camelCase spellings. Unlike
//! citty, unknown flags are errors (with a suggestion), so a typo cannot silently change a run.
//! For the CI wrappers (docs/ci.md): a switch followed by the word `true` or `false` takes it
//! as its value, and an empty positional argument is an absent one.
//!
//! Parsing only records and validates syntax (integers, enums, minutes); it reads no
//! environment and does no I/O. Resolving defaults that depend on the environment (API URL,
//! `DCD_NO_REALTIME`, colour) is the commands' job.

use std::ffi::OsString;
use std::fmt;

use super::defs::{COMMANDS, NOT_PORTED};
use super::flags::{CommandDef, FlagDef, Kind, Multi, Removed};
use super::{help, suggest};

/// What the parser itself produces, before the typed options.
#[derive(Debug)]
pub enum Raw {
    Help(String),
    Version,
    Run(Parsed),
}

/// A command-line mistake: print `message` (plus a pointer to the help) and exit 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// The complete message, without a trailing newline or an `Error:` prefix.
    pub message: String,
    /// The command being parsed, `None` when the command itself was the problem.
    pub command: Option<&'static str>,
    /// `--json` was on the command line (as the switch, not as another flag's value): the
    /// error is reported as the JSON error document.
    pub json: bool,
    /// Point at `--help` after the message (flag syntax mistakes; not for value checks).
    pub help_hint: bool,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UsageError {}

/// The successfully parsed command line of one command.
///
/// Getters take canonical long names (`"upload-id"`, `"realtime"`). Asking for a flag the
/// command does not define, or with the wrong getter for its kind, is a programming bug and
/// panics with a message naming the flag. `Debug` redacts the values of secret flags.
#[derive(Clone)]
pub struct Parsed {
    pub(super) command: &'static CommandDef,
    positionals: Vec<String>,
    /// Occurrences per flag, indexed like `command.flags()`. Switches store "true"/"false".
    values: Vec<Vec<String>>,
}

impl Parsed {
    /// The command's definition.
    pub(super) fn command(&self) -> &'static CommandDef {
        self.command
    }

    /// Positional arguments, at most as many as the command declares.
    pub(super) fn positionals(&self) -> &[String] {
        &self.positionals
    }

    fn slot(&self, name: &str) -> (&'static FlagDef, &[String]) {
        match self.command.flags().position(|f| f.name == name) {
            Some(i) => (
                self.command.flags().nth(i).expect("index from position"),
                &self.values[i],
            ),
            None => panic!("dcd {} has no flag --{name}", self.command.name),
        }
    }

    fn switch_slot(&self, name: &str) -> (&'static FlagDef, &[String]) {
        let (def, values) = self.slot(name);
        assert!(
            def.is_switch(),
            "--{name} is not a switch; use str/list/int/number"
        );
        (def, values)
    }

    fn value_slot(&self, name: &str) -> (&'static FlagDef, &[String]) {
        let (def, values) = self.slot(name);
        assert!(!def.is_switch(), "--{name} is a switch; use flag/tri");
        (def, values)
    }

    /// A switch: the last value given, else its default (false unless the table says true).
    pub(super) fn flag(&self, name: &str) -> bool {
        let (def, _) = self.switch_slot(name);
        self.tri(name).unwrap_or(def.is_default_true())
    }

    /// A switch as given: `Some(true)` for `--x`, `Some(false)` for `--no-x`, `None` when absent.
    pub(super) fn tri(&self, name: &str) -> Option<bool> {
        let (_, values) = self.switch_slot(name);
        values.last().map(|v| v == "true")
    }

    /// A value flag: the last value given, else its default.
    pub(super) fn str(&self, name: &str) -> Option<&str> {
        let (def, values) = self.value_slot(name);
        values.last().map(String::as_str).or(def.default)
    }

    /// A value flag: every value given, in order; comma-split (trimmed, empties dropped) when
    /// the table says so. Empty when not given.
    pub(super) fn list(&self, name: &str) -> Vec<String> {
        let (def, values) = self.value_slot(name);
        match def.multi {
            Multi::RepeatSplit => values
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect(),
            Multi::Repeat | Multi::Once => values.to_vec(),
        }
    }

    /// An integer flag (validated at parse time): the last value, else the default.
    pub(super) fn int(&self, name: &str) -> Option<u64> {
        let (def, _) = self.value_slot(name);
        assert!(def.kind == Kind::Int, "--{name} is not an integer flag");
        self.str(name)
            .map(|v| v.trim().parse().expect("validated at parse time"))
    }

    /// A minutes flag (`--timeout`, validated at parse time): the last value, else `None`.
    pub(super) fn number(&self, name: &str) -> Option<f64> {
        let (def, _) = self.value_slot(name);
        assert!(def.kind == Kind::Minutes, "--{name} is not a number flag");
        self.str(name)
            .map(|v| v.trim().parse().expect("validated at parse time"))
    }

    /// Whether the flag appeared on the command line (in any spelling, negated or not).
    pub(super) fn given(&self, name: &str) -> bool {
        !self.slot(name).1.is_empty()
    }

    /// Every flag given explicitly, in table order: canonical name → value as given
    /// (`"true"`/`"false"` for switches, repeatables comma-joined after splitting). For the
    /// "Submitting new job" Options block; the caller leaves out secrets.
    pub(super) fn given_flags(&self) -> Vec<(&'static str, String)> {
        self.command
            .flags()
            .zip(&self.values)
            .filter(|(_, v)| !v.is_empty())
            .map(|(def, v)| {
                let shown = if def.is_repeatable() {
                    self.list(def.name).join(",")
                } else {
                    v.last().cloned().unwrap_or_default()
                };
                (def.name, shown)
            })
            .collect()
    }
}

impl fmt::Debug for Parsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags: Vec<(&str, Vec<&str>)> = self
            .command
            .flags()
            .zip(&self.values)
            .filter(|(_, v)| !v.is_empty())
            .map(|(def, v)| {
                let shown = v
                    .iter()
                    .map(|v| if def.secret { "<redacted>" } else { v.as_str() });
                (def.name, shown.collect())
            })
            .collect();
        f.debug_struct("Parsed")
            .field("command", &self.command.name)
            .field("positionals", &self.positionals)
            .field("flags", &flags)
            .finish()
    }
}

/// The canonical flags' automatic camelCase spelling (`app-binary-id` → `appBinaryId`).
pub(super) fn camel_case(kebab: &str) -> String {
    let mut out = String::with_capacity(kebab.len());
    let mut upper = false;
    for c in kebab.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn spelled(def: &FlagDef, long: &str) -> bool {
    def.name == long
        || def.aliases.contains(&long)
        || (long.len() > 1 && camel_case(def.name) == long)
}

/// What a long option name refers to.
enum Long {
    /// Flag index; `true` when spelled `--no-<switch>`.
    Flag(usize, bool),
    Removed(&'static Removed),
    /// `--no-<value flag>`.
    NegatedValue(&'static FlagDef),
    Unknown,
}

fn lookup_long(cmd: &'static CommandDef, long: &str) -> Long {
    if let Some(i) = cmd.flags().position(|f| spelled(f, long)) {
        return Long::Flag(i, false);
    }
    if let Some(r) = cmd.removed.iter().find(|r| r.names.contains(&long)) {
        return Long::Removed(r);
    }
    if let Some(rest) = long.strip_prefix("no-")
        && let Some(i) = cmd.flags().position(|f| spelled(f, rest))
    {
        let def = cmd.flags().nth(i).expect("index from position");
        return if def.is_switch() {
            Long::Flag(i, true)
        } else {
            Long::NegatedValue(def)
        };
    }
    Long::Unknown
}

fn err(cmd: &'static CommandDef, message: String) -> UsageError {
    UsageError {
        message,
        command: Some(cmd.name),
        json: false,
        help_hint: true,
    }
}

fn unknown_flag(cmd: &'static CommandDef, typed: &str) -> UsageError {
    let mut message = format!("Unknown flag {typed} for dcd {}.", cmd.name);
    let hint = typed.strip_prefix("--").and_then(|long| {
        let visible = || cmd.flags().filter(|f| !f.hidden);
        let names = visible().flat_map(|f| {
            std::iter::once((f.name, f.name)).chain(f.aliases.iter().map(|a| (*a, f.name)))
        });
        suggest::closest(long, names)
            .map(|n| format!("--{n}"))
            .or_else(|| {
                // `--no-realtim`: suggest the negation itself.
                let rest = long.strip_prefix("no-")?;
                let switches = visible()
                    .filter(|f| f.is_switch())
                    .map(|f| (f.name, f.name));
                suggest::closest(rest, switches).map(|n| format!("--no-{n}"))
            })
    });
    match hint {
        Some(flag) => message.push_str(&format!(" Did you mean {flag}?")),
        None => message.push_str(&format!(
            " Run dcd {} --help to see the available flags.",
            cmd.name
        )),
    }
    err(cmd, message)
}

/// Checks a value against the flag's kind. Messages name the canonical flag, whatever
/// spelling was typed.
fn validate(def: &FlagDef, raw: &str) -> Result<(), String> {
    let name = def.name;
    match def.kind {
        Kind::Switch | Kind::Text => Ok(()),
        Kind::Int => {
            let t = raw.trim();
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) && t.parse::<u64>().is_ok() {
                Ok(())
            } else {
                Err(format!("Invalid integer value for --{name}: \"{raw}\""))
            }
        }
        Kind::Minutes => {
            let t = raw.trim();
            let (int, frac) = t.split_once('.').unwrap_or((t, ""));
            let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
            let shaped = !(int.is_empty() && frac.is_empty()) && digits(int) && digits(frac);
            match t.parse::<f64>() {
                Ok(v) if shaped && v > 0.0 && v.is_finite() => Ok(()),
                _ => Err(format!(
                    "Invalid value for --{name}: \"{raw}\". Expected a positive number of minutes"
                )),
            }
        }
        Kind::Choice(choices) => {
            if choices.contains(&raw) {
                Ok(())
            } else {
                Err(format!(
                    "Invalid value for --{name}: \"{raw}\". Expected one of: {}",
                    choices.join(", ")
                ))
            }
        }
    }
}

fn utf8(cmd: &'static CommandDef, v: OsString, what: &str) -> Result<String, UsageError> {
    v.into_string().map_err(|v| {
        err(
            cmd,
            format!("{what} is not valid UTF-8: {:?}", v.to_string_lossy()),
        )
    })
}

/// Parses the command line (without `argv[0]`).
///
/// Order of precedence: no arguments → root help; `-h`/`--help` anywhere → help of the
/// command named first (root help when there is none), even if other arguments are invalid;
/// exactly `--version` (`-v`, `-V`) → version; otherwise the command's flags.
pub(super) fn parse_raw(args: impl IntoIterator<Item = OsString>) -> Result<Raw, UsageError> {
    let args: Vec<OsString> = args.into_iter().collect();
    let Some(first) = args.first() else {
        return Ok(Raw::Help(help::root_help()));
    };
    let first_str = first.to_str().unwrap_or("");
    let named = COMMANDS.iter().find(|c| c.name == first_str);

    if args.iter().any(|a| a == "--help" || a == "-h") {
        return Ok(Raw::Help(match named {
            Some(c) => help::command_help(c),
            None => help::root_help(),
        }));
    }
    if args.len() == 1 && matches!(first_str, "--version" | "-v" | "-V") {
        return Ok(Raw::Version);
    }
    if first_str == "help" {
        // `dcd help [command]`: a common reflex, harmless to support.
        return match args.get(1).and_then(|a| a.to_str()) {
            None => Ok(Raw::Help(help::root_help())),
            Some(name) => match COMMANDS.iter().find(|c| c.name == name) {
                Some(c) => Ok(Raw::Help(help::command_help(c))),
                None => Err(unknown_command(name)),
            },
        };
    }
    match named {
        Some(cmd) => parse_command(cmd, args.into_iter().skip(1)),
        None if first_str.starts_with('-') && first_str.len() > 1 => Err(UsageError {
            message: format!(
                "Unknown flag {} for dcd. Flags go after the command: dcd <command> [flags]. \
                 Run dcd --help to see the commands.",
                first.to_string_lossy()
            ),
            command: None,
            json: false,
            help_hint: true,
        }),
        None => Err(unknown_command(&first.to_string_lossy())),
    }
}

fn unknown_command(name: &str) -> UsageError {
    let message = if NOT_PORTED.contains(&name) {
        format!(
            "dcd {name} is not available in this version of dcd. Run dcd --help to see the commands."
        )
    } else {
        let hint = suggest::closest(name, COMMANDS.iter().map(|c| (c.name, c.name)));
        match hint {
            Some(c) => format!("Unknown command {name:?} for dcd. Did you mean dcd {c}?"),
            None => {
                format!("Unknown command {name:?} for dcd. Run dcd --help to see the commands.")
            }
        }
    };
    UsageError {
        message,
        command: None,
        json: false,
        help_hint: true,
    }
}

/// Parses one command's flags and positionals. Returns help when `-h` turns up inside a
/// cluster of short flags (`-qh`), which the literal scan in [`parse`] cannot see.
fn parse_command(
    cmd: &'static CommandDef,
    args: impl IntoIterator<Item = OsString>,
) -> Result<Raw, UsageError> {
    let args: Vec<OsString> = args.into_iter().collect();
    parse_tokens(cmd, args.clone()).map_err(|mut e| {
        e.json = json_switch_in(cmd, &args);
        e
    })
}

/// Whether the line turns `--json` on — the switch itself, not the value of the flag before
/// it; the last of `--json`, `--no-json`, `--json=false`, `--json false` wins — so that a
/// mistake elsewhere on the line is still reported as the JSON error document.
fn json_switch_in(cmd: &'static CommandDef, args: &[OsString]) -> bool {
    let Some(json_index) = cmd.flags().position(|f| f.name == "json") else {
        return false;
    };
    let takes_value = |tok: &str| {
        if let Some(long) = tok.strip_prefix("--") {
            !long.contains('=')
                && matches!(lookup_long(cmd, long), Long::Flag(i, false)
                    if !cmd.flags().nth(i).is_some_and(FlagDef::is_switch))
        } else if let Some(short) = tok.strip_prefix('-') {
            short.chars().count() == 1
                && cmd
                    .flags()
                    .any(|f| f.short == short.chars().next() && !f.is_switch())
        } else {
            false
        }
    };
    let mut json = false;
    let mut tokens = args.iter().map(|a| a.to_str().unwrap_or(""));
    while let Some(tok) = tokens.next() {
        if tok == "--" {
            break;
        }
        if takes_value(tok) {
            tokens.next();
            continue;
        }
        let Some(long) = tok.strip_prefix("--") else {
            continue;
        };
        let (name, attached) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (long, None),
        };
        if let Long::Flag(i, negated) = lookup_long(cmd, name)
            && i == json_index
        {
            let word = match attached {
                Some(v) => Some(v),
                None => tokens
                    .clone()
                    .next()
                    .filter(|t| matches!(*t, "true" | "false")),
            };
            if attached.is_none() && word.is_some() {
                tokens.next();
            }
            json = word.is_none_or(|w| w == "true") != negated;
        }
    }
    json
}

fn parse_tokens(cmd: &'static CommandDef, args: Vec<OsString>) -> Result<Raw, UsageError> {
    use lexopt::Arg;

    let mut values: Vec<Vec<String>> = vec![Vec::new(); cmd.flags().count()];
    let mut positionals: Vec<String> = Vec::new();
    let mut p = lexopt::Parser::from_args(args);

    loop {
        let arg = match p.next() {
            Ok(Some(arg)) => arg,
            Ok(None) => break,
            Err(lexopt::Error::UnexpectedValue { option, value }) => {
                // Only reachable for a switch in a short cluster: `-q=1`.
                return Err(err(
                    cmd,
                    format!(
                        "Flag {option} is a switch and takes no value (got {:?}).",
                        value.to_string_lossy()
                    ),
                ));
            }
            Err(e) => return Err(err(cmd, e.to_string())),
        };
        let (index, negated, typed) = match arg {
            // An empty argument is an absent one: wrappers pass `"$app" "$flows"` unset.
            Arg::Value(v) if v.is_empty() => continue,
            Arg::Value(v) => {
                positionals.push(utf8(cmd, v, "Argument")?);
                continue;
            }
            Arg::Short(c) => match cmd.flags().position(|f| f.short == Some(c)) {
                Some(i) => (i, false, format!("-{c}")),
                None => return Err(unknown_flag(cmd, &format!("-{c}"))),
            },
            Arg::Long(long) => {
                let typed = format!("--{long}");
                match lookup_long(cmd, long) {
                    Long::Flag(i, negated) => (i, negated, typed),
                    Long::Removed(r) => return Err(err(cmd, r.message.replace("{flag}", &typed))),
                    Long::NegatedValue(def) => {
                        return Err(err(
                            cmd,
                            format!(
                                "Flag --{} takes a value and cannot be negated with {typed}.",
                                def.name
                            ),
                        ));
                    }
                    Long::Unknown => return Err(unknown_flag(cmd, &typed)),
                }
            }
        };
        let def = cmd.flags().nth(index).expect("index from position");
        if def.name == "help" {
            return Ok(Raw::Help(help::command_help(cmd)));
        }

        if def.is_switch() {
            let on = switch_value(cmd, def, &typed, &mut p)?.unwrap_or(true) != negated;
            values[index].push(on.to_string());
            continue;
        }

        let raw = match p.value() {
            Ok(v) => utf8(cmd, v, &format!("The value of {typed}"))?,
            Err(lexopt::Error::MissingValue { .. }) => {
                return Err(err(cmd, format!("Missing value for {typed}")));
            }
            Err(e) => return Err(err(cmd, e.to_string())),
        };
        validate(def, &raw).map_err(|m| err(cmd, m))?;
        values[index].push(raw);
    }

    check_positionals(cmd, &positionals)?;
    Ok(Raw::Run(Parsed {
        command: cmd,
        positionals,
        values,
    }))
}

/// At most as many positional arguments as the command declares.
fn check_positionals(cmd: &'static CommandDef, positionals: &[String]) -> Result<(), UsageError> {
    let max = cmd.positionals.len();
    if positionals.len() > max {
        let extra: Vec<String> = positionals[max..]
            .iter()
            .map(|p| format!("{p:?}"))
            .collect();
        let noun = if extra.len() == 1 {
            "argument"
        } else {
            "arguments"
        };
        let takes = if max == 0 {
            "it takes no positional arguments".to_string()
        } else {
            let names: Vec<String> = cmd
                .positionals
                .iter()
                .map(|p| format!("[{}]", p.name))
                .collect();
            format!("it takes at most {max}: {}", names.join(" "))
        };
        return Err(err(
            cmd,
            format!(
                "Unexpected {noun} {} for dcd {} ({takes}).",
                extra.join(", "),
                cmd.name
            ),
        ));
    }

    Ok(())
}

/// The words a switch takes as its value: `--async true`, `--async=false` (CI wrappers
/// render every boolean input so). Exactly these two, lower case; anything else after a
/// switch is the next argument as usual, so a stray word is still reported.
fn bool_word(v: &std::ffi::OsStr) -> Option<bool> {
    match v.to_str()? {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A switch's explicit value, if any: `--x=true|false`, or `true`/`false` as the very next
/// argument (also after `--no-x` and a lone `-q`, which it then negates or sets). Any other
/// `--x=value` is an error. (A short switch's "value" is the rest of its cluster, `-qe`,
/// which lexopt hands back as further options.)
fn switch_value(
    cmd: &'static CommandDef,
    def: &FlagDef,
    typed: &str,
    p: &mut lexopt::Parser,
) -> Result<Option<bool>, UsageError> {
    if typed.starts_with("--")
        && let Some(v) = p.optional_value()
    {
        return match bool_word(&v) {
            Some(b) => Ok(Some(b)),
            None => Err(err(
                cmd,
                format!(
                    "Flag {typed} is a switch and takes no value other than true or false \
                     (got {:?}). Use --{name}, --no-{name} or {typed}=false.",
                    v.to_string_lossy(),
                    name = def.name
                ),
            )),
        };
    }
    Ok(p.try_raw_args()
        .and_then(|mut raw| raw.next_if(|a| bool_word(a).is_some()))
        .and_then(|v| bool_word(&v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_parse(args: &[&str]) -> Result<Raw, UsageError> {
        parse_raw(args.iter().map(OsString::from))
    }

    fn run(args: &[&str]) -> Parsed {
        match try_parse(args) {
            Ok(Raw::Run(p)) => p,
            other => panic!("expected Run for {args:?}, got {other:?}"),
        }
    }

    fn fail(args: &[&str]) -> String {
        match try_parse(args) {
            Err(e) => e.message,
            Ok(other) => panic!("expected an error for {args:?}, got {other:?}"),
        }
    }

    #[test]
    fn both_value_forms() {
        let p = run(&["status", "--upload-id", "abc"]);
        assert_eq!(p.str("upload-id"), Some("abc"));
        let p = run(&["status", "--upload-id=abc"]);
        assert_eq!(p.str("upload-id"), Some("abc"));
        let p = run(&["status", "--upload-id="]);
        assert_eq!(p.str("upload-id"), Some(""));
        assert!(p.given("upload-id"));
        assert_eq!(p.command().name, "status");
    }

    #[test]
    fn camel_case_aliases_explicit_and_derived() {
        let p = run(&["status", "--uploadId", "u", "--apiKey=k", "--apiURL", "x"]);
        assert_eq!(p.str("upload-id"), Some("u"));
        assert_eq!(p.str("api-key"), Some("k"));
        assert_eq!(p.str("api-url"), Some("x"));
        assert_eq!(run(&["status", "--apiUrl", "y"]).str("api-url"), Some("y"));
        // Derived like citty did, though not listed in help.
        let p = run(&[
            "cloud",
            "--appBinaryId",
            "b",
            "--maestroVersion",
            "1.39",
            "--format",
            "junit",
        ]);
        assert_eq!(p.str("app-binary-id"), Some("b"));
        assert_eq!(p.str("maestro-version"), Some("1.39"));
        assert_eq!(p.str("report"), Some("junit"));
        let p = run(&["cloud", "--no-disableAnimations"]);
        assert_eq!(p.tri("disable-animations"), Some(false));
    }

    #[test]
    fn switches_negation_and_tri_state() {
        let p = run(&["cloud"]);
        assert!(!p.flag("json"));
        assert_eq!(p.tri("disable-animations"), None);
        assert_eq!(p.tri("encrypt"), None);
        assert!(!p.given("json"));

        let p = run(&["cloud", "--disable-animations", "--no-encrypt", "--json"]);
        assert_eq!(p.tri("disable-animations"), Some(true));
        assert_eq!(p.tri("encrypt"), Some(false));
        assert!(p.flag("json"));

        let p = run(&["cloud", "--no-disable-animations", "--encrypt"]);
        assert_eq!(p.tri("disable-animations"), Some(false));
        assert_eq!(p.tri("encrypt"), Some(true));

        // Default-true switches.
        let p = run(&["status"]);
        assert!(p.flag("realtime"));
        assert_eq!(p.tri("realtime"), None);
        let p = run(&["status", "--no-realtime"]);
        assert!(!p.flag("realtime"));
        assert!(p.given("realtime"));
        assert!(!run(&["login", "--no-browser"]).flag("browser"));
        // Every switch accepts --no- (citty compatibility); last wins.
        assert!(!run(&["status", "--json", "--no-json"]).flag("json"));
        assert!(run(&["status", "--no-json", "--json"]).flag("json"));
        // A flag whose own name starts with "android-no-" is not a negation.
        assert!(run(&["cloud", "--android-no-snapshot"]).flag("android-no-snapshot"));
    }

    #[test]
    fn switch_with_a_value_other_than_true_or_false_is_rejected() {
        assert_eq!(
            fail(&["status", "--json=1"]),
            "Flag --json is a switch and takes no value other than true or false (got \"1\"). \
             Use --json, --no-json or --json=false."
        );
        assert_eq!(
            fail(&["status", "--no-realtime=yes"]),
            "Flag --no-realtime is a switch and takes no value other than true or false (got \
             \"yes\"). Use --realtime, --no-realtime or --no-realtime=false."
        );
        assert_eq!(
            fail(&["status", "--json=TRUE"]),
            "Flag --json is a switch and takes no value other than true or false (got \"TRUE\"). \
             Use --json, --no-json or --json=false."
        );
        assert_eq!(
            fail(&["status", "-q=1"]),
            "Flag -q is a switch and takes no value (got \"1\")."
        );
    }

    /// Every boolean flag of every command, in every form a wrapper or a person writes it:
    /// `--x true`, `--x false`, `--x=true`, `--x=false`, the same after `--no-x`, and the
    /// camelCase spelling. Walks the table, so a new switch is covered without a new test.
    #[test]
    fn every_switch_takes_true_or_false_as_its_value() {
        for cmd in COMMANDS {
            for def in cmd.flags().filter(|f| f.is_switch() && f.name != "help") {
                let name = def.name;
                let camel = format!("--{}", camel_case(name));
                let long = format!("--{name}");
                let no = format!("--no-{name}");
                let (long_t, long_f) = (format!("{long}=true"), format!("{long}=false"));
                let (no_t, no_f) = (format!("{no}=true"), format!("{no}=false"));
                let cases: [(Vec<&str>, bool); 12] = [
                    (vec![long.as_str(), "true"], true),
                    (vec![long.as_str(), "false"], false),
                    (vec![&long_t], true),
                    (vec![&long_f], false),
                    (vec![no.as_str(), "true"], false),
                    (vec![no.as_str(), "false"], true),
                    (vec![&no_t], false),
                    (vec![&no_f], true),
                    (vec![camel.as_str(), "false"], false),
                    (vec![long.as_str()], true),
                    (vec![no.as_str()], false),
                    (vec![long.as_str(), "true", no.as_str(), "true"], false),
                ];
                for (args, want) in cases {
                    let mut line = vec![cmd.name];
                    line.extend(args.iter().copied());
                    let p = run(&line);
                    assert_eq!(p.tri(name), Some(want), "{line:?}");
                    assert!(
                        p.positionals().is_empty(),
                        "{line:?}: {:?}",
                        p.positionals()
                    );
                }
                // Only the two words, lower case: anything else is the next argument.
                for word in ["yes", "1", "True", "FALSE"] {
                    let p = try_parse(&[cmd.name, &long, word]);
                    match (cmd.positionals.len(), p) {
                        (0, Err(e)) => assert!(
                            e.message
                                .starts_with(&format!("Unexpected argument \"{word}\"")),
                            "{}: {}",
                            cmd.name,
                            e.message
                        ),
                        (_, Ok(Raw::Run(p))) => {
                            assert_eq!(p.tri(name), Some(true));
                            assert_eq!(p.positionals(), [word]);
                        }
                        (_, other) => panic!("{} {long} {word}: {other:?}", cmd.name),
                    }
                }
            }
        }
    }

    #[test]
    fn a_short_switch_takes_true_or_false_too_but_not_inside_a_cluster() {
        let p = run(&["status", "-q", "false"]);
        assert_eq!(p.tri("quiet"), Some(false));
        let p = run(&["cloud", "-q", "true", "app.apk", "flows/"]);
        assert_eq!(p.tri("quiet"), Some(true));
        assert_eq!(p.positionals(), ["app.apk", "flows/"]);
        // `-qe true`: the `e` of the cluster takes `true` as its value, as before.
        let p = run(&["cloud", "-qe", "true"]);
        assert_eq!(p.list("env"), ["true"]);
    }

    #[test]
    fn the_github_action_command_line_parses() {
        // Eight boolean inputs rendered `--x true|false`, between the other flags.
        let p = run(&[
            "cloud",
            "--apiKey",
            "k",
            "--app-binary-id",
            "b",
            "--async",
            "false",
            "--json-file",
            "true",
            "--debug",
            "true",
            "--disable-animations",
            "true",
            "--google-play",
            "false",
            "--android-no-snapshot",
            "true",
            "--show-crosshairs",
            "false",
            "--maestro-chrome-onboarding",
            "true",
            "--runner-type",
            "default",
            "--flows",
            ".maestro",
        ]);
        assert!(p.positionals().is_empty(), "{:?}", p.positionals());
        for (flag, on) in [
            ("async", false),
            ("json-file", true),
            ("debug", true),
            ("disable-animations", true),
            ("google-play", false),
            ("android-no-snapshot", true),
            ("show-crosshairs", false),
            ("maestro-chrome-onboarding", true),
        ] {
            assert_eq!(p.tri(flag), Some(on), "{flag}");
        }
        assert_eq!(p.str("flows"), Some(".maestro"));
        // A stray word is still an error where no positional is expected.
        assert_eq!(
            fail(&["status", "--json", "true", "yes"]),
            "Unexpected argument \"yes\" for dcd status (it takes no positional arguments)."
        );
    }

    #[test]
    fn an_empty_positional_is_absent() {
        let p = run(&["cloud", "--app-binary-id", "b", "", "./.maestro"]);
        assert_eq!(p.positionals(), ["./.maestro"]);
        let p = run(&["cloud", "", ""]);
        assert!(p.positionals().is_empty());
        let p = run(&["cloud", "--", "", "f/"]);
        assert_eq!(p.positionals(), ["f/"]);
        assert!(run(&["status", ""]).positionals().is_empty());
        // A blank one is not empty: it stays, and is refused where it does not fit.
        assert!(fail(&["status", " "]).starts_with("Unexpected argument \" \""));
    }

    #[test]
    fn a_usage_error_is_a_json_document_when_json_is_on_at_the_end() {
        let json = |args: &[&str]| try_parse(args).unwrap_err().json;
        assert!(json(&["status", "--json", "--bogus"]));
        assert!(json(&["status", "--json", "true", "--bogus"]));
        assert!(json(&["status", "--json=true", "--bogus"]));
        assert!(json(&["status", "--no-json", "false", "--bogus"]));
        assert!(!json(&["status", "--json", "false", "--bogus"]));
        assert!(!json(&["status", "--json=false", "--bogus"]));
        assert!(!json(&["status", "--json", "--no-json", "--bogus"]));
        assert!(!json(&["status", "--name", "--json", "--bogus"]));
        assert!(!json(&["status", "--bogus", "--", "--json"]));
        assert!(!json(&["login", "--json"]));
    }

    #[test]
    fn repeatable_and_comma_split() {
        let p = run(&[
            "cloud",
            "-e",
            "A=1,2",
            "--env",
            "B=x",
            "--env=C=y",
            "-eD=z",
            "-e=E=w",
            "-m",
            "k=v,w",
            "--metadata=n=1",
            "--include-tags",
            "smoke, fast,,",
            "--include-tags=nightly",
            "--exclude-tags",
            "slow",
            "--exclude-flows",
            "a/b,c",
            "--ios-device-matrix",
            "iphone-16:18",
            "--ios-device-matrix=iphone-15:17",
        ]);
        assert_eq!(p.list("env"), ["A=1,2", "B=x", "C=y", "D=z", "E=w"]);
        assert_eq!(p.list("metadata"), ["k=v,w", "n=1"]);
        assert_eq!(p.list("include-tags"), ["smoke", "fast", "nightly"]);
        assert_eq!(p.list("exclude-tags"), ["slow"]);
        assert_eq!(p.list("exclude-flows"), ["a/b", "c"]);
        assert_eq!(
            p.list("ios-device-matrix"),
            ["iphone-16:18", "iphone-15:17"]
        );
        assert!(p.list("android-device-matrix").is_empty());
        assert!(!p.given("android-device-matrix"));
    }

    #[test]
    fn last_wins_for_single_flags() {
        let p = run(&[
            "status",
            "--upload-id",
            "a",
            "--upload-id",
            "b",
            "--uploadId=c",
        ]);
        assert_eq!(p.str("upload-id"), Some("c"));
        let p = run(&["cloud", "--retry", "1", "--retry", "2"]);
        assert_eq!(p.int("retry"), Some(2));
    }

    #[test]
    fn value_starting_with_dash_is_taken() {
        let p = run(&["status", "--name", "-weird", "--api-key", "--json"]);
        assert_eq!(p.str("name"), Some("-weird"));
        assert_eq!(p.str("api-key"), Some("--json"));
        assert!(!p.flag("json"));
        let p = run(&["cloud", "-e", "-X=1", "--metadata", "--"]);
        assert_eq!(p.list("env"), ["-X=1"]);
        assert_eq!(p.list("metadata"), ["--"]);
    }

    #[test]
    fn missing_value_at_end() {
        assert_eq!(
            fail(&["status", "--upload-id"]),
            "Missing value for --upload-id"
        );
        assert_eq!(
            fail(&["status", "--uploadId"]),
            "Missing value for --uploadId"
        );
        assert_eq!(fail(&["cloud", "-e"]), "Missing value for -e");
    }

    #[test]
    fn integers() {
        let p = run(&["list", "--limit", " 5 ", "--offset=10"]);
        assert_eq!(p.int("limit"), Some(5));
        assert_eq!(p.int("offset"), Some(10));
        let p = run(&["list"]);
        assert_eq!(p.int("limit"), Some(20));
        assert_eq!(p.int("offset"), Some(0));
        assert_eq!(p.str("limit"), Some("20"));
        assert!(!p.given("limit"));
        assert_eq!(run(&["cloud"]).int("retry"), None);
        assert_eq!(
            fail(&["cloud", "--retry", "two"]),
            "Invalid integer value for --retry: \"two\""
        );
        assert_eq!(
            fail(&["cloud", "--retry", "-1"]),
            "Invalid integer value for --retry: \"-1\""
        );
        assert_eq!(
            fail(&["list", "--limit=1.5"]),
            "Invalid integer value for --limit: \"1.5\""
        );
        assert_eq!(
            fail(&["list", "--offset", ""]),
            "Invalid integer value for --offset: \"\""
        );
        assert_eq!(
            fail(&["list", "--limit", "99999999999999999999999"]),
            "Invalid integer value for --limit: \"99999999999999999999999\""
        );
    }

    #[test]
    fn enums() {
        let p = run(&["cloud", "--orientation", "90", "--report", "html-detailed"]);
        assert_eq!(p.str("orientation"), Some("90"));
        assert_eq!(p.str("report"), Some("html-detailed"));
        assert_eq!(p.str("runner-type"), Some("default"));
        assert_eq!(p.str("color"), Some("auto"));
        assert_eq!(
            fail(&["cloud", "--runner-type", "m3"]),
            "Invalid value for --runner-type: \"m3\". Expected one of: default, m4, m1, gpu1, cpu1"
        );
        assert_eq!(
            fail(&["cloud", "--orientation=180"]),
            "Invalid value for --orientation: \"180\". Expected one of: 0, 90"
        );
        assert_eq!(
            fail(&["artifacts", "--download-artifacts", "all"]),
            "Invalid value for --download-artifacts: \"all\". Expected one of: ALL, FAILED"
        );
        assert_eq!(
            fail(&["cloud", "--format", "pdf"]),
            "Invalid value for --report: \"pdf\". Expected one of: allure, html, html-detailed, junit"
        );
        assert_eq!(
            fail(&["cloud", "--render-engine", "metal"]),
            "Invalid value for --render-engine: \"metal\". Expected one of: lavapipe, swiftshader"
        );
        assert_eq!(
            fail(&["whoami", "--color", "yes"]),
            "Invalid value for --color: \"yes\". Expected one of: auto, always, never"
        );
        // Free strings with known values are not validated here.
        assert_eq!(
            run(&["cloud", "--ios-device", "iphone-99"]).str("ios-device"),
            Some("iphone-99")
        );
    }

    #[test]
    fn timeout_minutes() {
        assert_eq!(
            run(&["status", "--timeout", "0.5"]).number("timeout"),
            Some(0.5)
        );
        assert_eq!(
            run(&["cloud", "--timeout=30"]).number("timeout"),
            Some(30.0)
        );
        assert_eq!(
            run(&["status", "--timeout", ".25"]).number("timeout"),
            Some(0.25)
        );
        assert_eq!(run(&["status"]).number("timeout"), None);
        for bad in [
            "0", "-1", "abc", "", "1e3", "inf", "NaN", "0.0", "1.2.3", ".",
        ] {
            assert_eq!(
                fail(&["status", "--timeout", bad]),
                format!(
                    "Invalid value for --timeout: \"{bad}\". Expected a positive number of minutes"
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn help_anywhere_even_with_bad_flags() {
        let status_help = help::command_help(COMMANDS.iter().find(|c| c.name == "status").unwrap());
        for args in [
            &["status", "--help"][..],
            &["status", "-h"],
            &["status", "--bogus", "--help"],
            &["status", "--limit", "x", "-h"],
            &["status", "--upload-id", "--help"],
        ] {
            match try_parse(args) {
                Ok(Raw::Help(text)) => assert_eq!(text, status_help, "{args:?}"),
                other => panic!("{args:?}: {other:?}"),
            }
        }
        for args in [
            &[][..],
            &["--help"],
            &["-h"],
            &["nope", "--help"],
            &["help"],
        ] {
            match try_parse(args) {
                Ok(Raw::Help(text)) => assert_eq!(text, help::root_help(), "{args:?}"),
                other => panic!("{args:?}: {other:?}"),
            }
        }
        assert!(matches!(try_parse(&["help", "status"]), Ok(Raw::Help(t)) if t == status_help));
    }

    #[test]
    fn version() {
        for v in ["--version", "-v", "-V"] {
            assert!(matches!(try_parse(&[v]), Ok(Raw::Version)), "{v}");
        }
        assert!(
            fail(&["status", "--version"]).starts_with("Unknown flag --version for dcd status.")
        );
        assert!(fail(&["--version", "x"]).starts_with("Unknown flag --version for dcd."));
    }

    #[test]
    fn unknown_flags_get_suggestions() {
        assert_eq!(
            fail(&["status", "--uplod-id", "x"]),
            "Unknown flag --uplod-id for dcd status. Did you mean --upload-id?"
        );
        assert_eq!(
            fail(&["status", "--upload", "x"]),
            "Unknown flag --upload for dcd status. Did you mean --upload-id?"
        );
        assert_eq!(
            fail(&["cloud", "--exclude-tag", "x"]),
            "Unknown flag --exclude-tag for dcd cloud. Did you mean --exclude-tags?"
        );
        assert_eq!(
            fail(&["status", "--no-realtim"]),
            "Unknown flag --no-realtim for dcd status. Did you mean --no-realtime?"
        );
        assert_eq!(
            fail(&["status", "--zzzzzzzz"]),
            "Unknown flag --zzzzzzzz for dcd status. Run dcd status --help to see the available flags."
        );
        assert_eq!(
            fail(&["status", "-x"]),
            "Unknown flag -x for dcd status. Run dcd status --help to see the available flags."
        );
        // Hidden flags are accepted but never suggested.
        assert!(!fail(&["cloud", "--encryp"]).contains("--encrypt"));
        assert_eq!(
            fail(&["status", "--no-upload-id"]),
            "Flag --upload-id takes a value and cannot be negated with --no-upload-id."
        );
        let e = try_parse(&["status", "--bogus"]).unwrap_err();
        assert_eq!(e.command, Some("status"));
    }

    #[test]
    fn unknown_commands() {
        let e = try_parse(&["clod"]).unwrap_err();
        assert_eq!(
            e.message,
            "Unknown command \"clod\" for dcd. Did you mean dcd cloud?"
        );
        assert_eq!(e.command, None);
        assert_eq!(
            fail(&["stauts"]),
            "Unknown command \"stauts\" for dcd. Did you mean dcd status?"
        );
        assert_eq!(
            fail(&["switchorg"]),
            "Unknown command \"switchorg\" for dcd. Did you mean dcd switch-org?"
        );
        assert_eq!(
            fail(&["frobnicate"]),
            "Unknown command \"frobnicate\" for dcd. Run dcd --help to see the commands."
        );
        assert_eq!(
            fail(&["live"]),
            "dcd live is not available in this version of dcd. Run dcd --help to see the commands."
        );
        assert!(
            fail(&["--json", "status"]).starts_with("Unknown flag --json for dcd. Flags go after")
        );
    }

    #[test]
    fn removed_flags() {
        let m = fail(&["cloud", "--ios-config", "x.json"]);
        assert!(
            m.starts_with("--ios-config was removed in dcd 5.2.0."),
            "{m}"
        );
        assert!(
            m.contains("--ios-device") && m.contains("--ios-version"),
            "{m}"
        );
        let m = fail(&["cloud", "--androidConfig=x"]);
        assert!(
            m.starts_with("--androidConfig was removed in dcd 5.2.0."),
            "{m}"
        );
        assert!(
            m.contains("--android-device") && m.contains("--android-api-level"),
            "{m}"
        );
        for f in ["--mitmHost", "--mitmPath", "--mitm-host"] {
            let m = fail(&["cloud", f, "x"]);
            assert!(m.starts_with(&format!("{f} was removed")), "{m}");
        }
    }

    #[test]
    fn positionals() {
        let p = run(&["cloud", "app.apk", "--json", "flows/"]);
        assert_eq!(p.positionals(), ["app.apk", "flows/"]);
        let p = run(&["cloud", "--", "--weird-app.apk"]);
        assert_eq!(p.positionals(), ["--weird-app.apk"]);
        assert_eq!(run(&["switch-org", "Acme"]).positionals(), ["Acme"]);
        assert_eq!(
            fail(&["cloud", "a", "b", "c", "d"]),
            "Unexpected arguments \"c\", \"d\" for dcd cloud (it takes at most 2: [app] [flows])."
        );
        assert_eq!(
            fail(&["upload", "a.apk", "b.apk"]),
            "Unexpected argument \"b.apk\" for dcd upload (it takes at most 1: [app])."
        );
        assert_eq!(
            fail(&["status", "abc"]),
            "Unexpected argument \"abc\" for dcd status (it takes no positional arguments)."
        );
    }

    #[test]
    fn short_flags() {
        let p = run(&["status", "-q"]);
        assert!(p.flag("quiet"));
        let p = run(&["cloud", "-qeA=1", "-m", "x=y"]);
        assert!(p.flag("quiet"));
        assert_eq!(p.list("env"), ["A=1"]);
        assert_eq!(p.list("metadata"), ["x=y"]);
    }

    #[test]
    fn help_inside_a_short_cluster() {
        assert!(
            matches!(try_parse(&["status", "-qh"]), Ok(Raw::Help(t)) if t.contains("dcd status"))
        );
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let p = run(&[
            "cloud",
            "--api-key",
            "sk_live_123",
            "--app-url=https://x/y?sig=abc",
            "--json",
        ]);
        let text = format!("{p:?}");
        assert!(
            !text.contains("sk_live_123") && !text.contains("sig=abc"),
            "{text}"
        );
        assert!(text.contains("api-key") && text.contains("<redacted>") && text.contains("json"));
    }

    #[test]
    fn given_flags_in_table_order() {
        let p = run(&[
            "cloud",
            "--json",
            "--include-tags",
            "a,b",
            "--include-tags",
            "c",
            "--api-key",
            "secret",
            "--no-disable-animations",
            "-e",
            "K=V",
            "--retry",
            "1",
        ]);
        assert_eq!(
            p.given_flags(),
            [
                ("api-key", "secret".to_string()),
                ("disable-animations", "false".to_string()),
                ("env", "K=V".to_string()),
                ("include-tags", "a,b,c".to_string()),
                ("retry", "1".to_string()),
                ("json", "true".to_string()),
            ]
        );
        assert!(run(&["status"]).given_flags().is_empty());
    }

    #[test]
    #[should_panic(expected = "dcd status has no flag --retry")]
    fn unknown_getter_name_panics() {
        run(&["status"]).str("retry");
    }

    #[test]
    #[should_panic(expected = "--json is a switch")]
    fn wrong_getter_kind_panics() {
        run(&["status"]).str("json");
    }

    #[test]
    fn camel_case_derivation() {
        assert_eq!(camel_case("app-binary-id"), "appBinaryId");
        assert_eq!(camel_case("json"), "json");
        assert_eq!(camel_case("moropo-v1-api-key"), "moropoV1ApiKey");
    }
}
