//! The vocabulary of the flag table: what a flag, a flag group and a command *are*.
//!
//! Parsing ([`super::parse()`]), validation and `--help` ([`super::help`]) are all driven by
//! the same [`CommandDef`] values (declared in [`super::defs`]), so the help can never drift
//! from what the parser accepts. Everything here is `const`-constructible: the tables are
//! plain statics with no lazy initialisation and no allocation.

/// What kind of value a flag takes, and how that value is validated at parse time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A boolean switch: `--x` sets true, `--no-x` sets false; the word `true` or `false`
    /// right after it (`--x false`, `--x=false`) is its value; any other `--x=value` is
    /// rejected.
    Switch,
    /// Free text; never validated here (the command may validate it against server data).
    Text,
    /// A non-negative integer: must match `^\d+$` after trimming.
    Int,
    /// A positive number of minutes, decimals allowed (`0.5`).
    Minutes,
    /// One of a fixed set of values, matched exactly (case-sensitive).
    Choice(&'static [&'static str]),
}

/// How often a flag may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Multi {
    /// Once; when given again the last occurrence wins.
    Once,
    /// Every occurrence is kept, in order (`-e A=1 -e B=2`).
    Repeat,
    /// Every occurrence is kept and each is split on commas (trimmed, empties dropped).
    RepeatSplit,
}

/// One flag of one command.
///
/// Invariants (checked by the meta-tests in `defs.rs`): `name` and every alias are ASCII
/// kebab-case or camelCase without dashes in front; names and aliases are unique within a
/// command, also after the automatic camelCase derivation; a switch has no metavar, no choices
/// and no `known` list; every value flag has a metavar; an enum default is one of its choices.
#[derive(Debug, Clone, Copy)]
pub struct FlagDef {
    /// Canonical long name, without the leading `--` (`"upload-id"`). Getters use this.
    pub name: &'static str,
    /// Extra long names shown in help (`"uploadId"`). The camelCase form of `name` is
    /// accepted even when not listed here (citty did the same), but only listed aliases show.
    pub aliases: &'static [&'static str],
    /// Single-letter form (`-e`), if any.
    pub short: Option<char>,
    /// Value kind and validation.
    pub kind: Kind,
    /// Placeholder shown in help (`"ID"` renders as `<ID>`); empty for switches.
    pub metavar: &'static str,
    /// Value used when the flag is not given. For switches only `Some("true")` is meaningful.
    pub default: Option<&'static str>,
    /// One-line help text (wrapped by the renderer). For a default-true switch it describes
    /// the `--no-` form, which is what help shows.
    pub help: &'static str,
    /// Values the server is known to accept, listed in help but not enforced here
    /// (`--ios-device`: validation is against the API's compatibility data, so a new device
    /// needs no CLI release).
    pub known: &'static [&'static str],
    /// Parsed but left out of help (`--encrypt`).
    pub hidden: bool,
    /// Repetition rule.
    pub multi: Multi,
    /// Help shows `--[no-]x`: the negation is meaningful (tri-state switches). Every switch
    /// accepts `--no-x` regardless (citty compatibility); this only controls the help text.
    pub negatable: bool,
    /// The value is a credential or a signed URL: never print it (the "Submitting new job"
    /// Options block leaves these out, `Debug` of [`super::Parsed`] redacts them).
    pub secret: bool,
}

impl FlagDef {
    const fn base(
        name: &'static str,
        kind: Kind,
        metavar: &'static str,
        help: &'static str,
    ) -> Self {
        FlagDef {
            name,
            aliases: &[],
            short: None,
            kind,
            metavar,
            default: None,
            help,
            known: &[],
            hidden: false,
            multi: Multi::Once,
            negatable: false,
            secret: false,
        }
    }

    /// A boolean switch, false unless given.
    pub const fn switch(name: &'static str, help: &'static str) -> Self {
        Self::base(name, Kind::Switch, "", help)
    }

    /// A free-text value flag.
    pub const fn text(name: &'static str, metavar: &'static str, help: &'static str) -> Self {
        Self::base(name, Kind::Text, metavar, help)
    }

    /// A non-negative integer flag.
    pub const fn int(name: &'static str, metavar: &'static str, help: &'static str) -> Self {
        Self::base(name, Kind::Int, metavar, help)
    }

    /// A positive number of minutes.
    pub const fn minutes(name: &'static str, help: &'static str) -> Self {
        Self::base(name, Kind::Minutes, "MINUTES", help)
    }

    /// An enum flag.
    pub const fn choice(
        name: &'static str,
        metavar: &'static str,
        choices: &'static [&'static str],
        help: &'static str,
    ) -> Self {
        Self::base(name, Kind::Choice(choices), metavar, help)
    }

    /// Adds long aliases shown in help.
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// Adds a single-letter form.
    pub const fn short(mut self, c: char) -> Self {
        self.short = Some(c);
        self
    }

    /// Sets the default value.
    pub const fn default(mut self, v: &'static str) -> Self {
        self.default = Some(v);
        self
    }

    /// A switch that is on unless `--no-<name>` is given; help shows `--no-<name>`.
    pub const fn default_true(mut self) -> Self {
        self.default = Some("true");
        self
    }

    /// Lists the known values in help without enforcing them.
    pub const fn known(mut self, known: &'static [&'static str]) -> Self {
        self.known = known;
        self
    }

    /// Leaves the flag out of help.
    pub const fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// Keeps every occurrence.
    pub const fn repeat(mut self) -> Self {
        self.multi = Multi::Repeat;
        self
    }

    /// Keeps every occurrence and splits each on commas.
    pub const fn repeat_split(mut self) -> Self {
        self.multi = Multi::RepeatSplit;
        self
    }

    /// Help shows `--[no-]<name>`.
    pub const fn negatable(mut self) -> Self {
        self.negatable = true;
        self
    }

    /// Marks the value as secret.
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// True for boolean switches.
    pub fn is_switch(&self) -> bool {
        self.kind == Kind::Switch
    }

    /// True for a switch that defaults to on (`--realtime`, `--browser`).
    pub fn is_default_true(&self) -> bool {
        self.is_switch() && self.default == Some("true")
    }

    /// True when every occurrence is kept.
    pub fn is_repeatable(&self) -> bool {
        self.multi != Multi::Once
    }

    /// The enum choices, empty for other kinds.
    pub fn choices(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Choice(c) => c,
            _ => &[],
        }
    }
}

/// A titled set of flags. Groups are shared between commands (the TS CLI's api, binary,
/// device, environment, execution, github and output groups), and help prints one heading
/// per group in the command's order.
#[derive(Debug, Clone, Copy)]
pub struct Group {
    /// Heading shown in help, without the trailing colon.
    pub heading: &'static str,
    /// The flags, in help order.
    pub flags: &'static [FlagDef],
}

/// A positional argument. All positionals are optional; a command accepts at most as many
/// as it declares.
#[derive(Debug, Clone, Copy)]
pub struct Positional {
    /// Name shown in usage as `[name]`.
    pub name: &'static str,
    /// One-line help text.
    pub help: &'static str,
}

/// A flag that used to exist and now fails loudly with a pointer to its replacement (citty
/// silently ignored unknown flags, so a renamed flag would otherwise do nothing).
#[derive(Debug, Clone, Copy)]
pub struct Removed {
    /// Long names (without `--`) that trigger the error.
    pub names: &'static [&'static str],
    /// The full error message; `{flag}` is replaced by the flag as typed.
    pub message: &'static str,
}

/// One `dcd` subcommand.
#[derive(Debug)]
pub struct CommandDef {
    /// The word on the command line (`"switch-org"`).
    pub name: &'static str,
    /// One line for the root help's command list.
    pub summary: &'static str,
    /// The paragraph at the top of the command's help.
    pub description: &'static str,
    /// Positional arguments, in order.
    pub positionals: &'static [Positional],
    /// Flag groups, in help order.
    pub groups: &'static [Group],
    /// Whether the command is implemented in this build; the dispatcher reports the others.
    pub available: bool,
    /// The EXAMPLES section printed after the flags: lines of text, already indented.
    pub examples: &'static str,
    /// The EXIT CODES section printed last, heading included.
    pub footer: &'static str,
    /// Retired flags that must fail with a helpful message.
    pub removed: &'static [Removed],
}

impl CommandDef {
    /// Every flag of the command in table (help) order, hidden ones included.
    pub fn flags(&self) -> impl Iterator<Item = &'static FlagDef> + '_ {
        self.groups.iter().flat_map(|g| g.flags.iter())
    }

    /// The flag with this canonical name.
    pub fn flag(&self, name: &str) -> Option<&'static FlagDef> {
        self.flags().find(|f| f.name == name)
    }
}
