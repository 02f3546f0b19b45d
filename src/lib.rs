//! dcd: the devicecloud.dev command-line client.
//!
//! `main_entry` parses argv with the flag table in [`cli`], resolves auth ([`auth`]), and runs
//! one of [`commands`]. Waiting for a run is [`watch`]; what the user sees is [`render`]
//! (pure) and [`term`] (the terminal); the HTTP API is [`api`].

pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod debug;
pub mod domain;
pub mod encoding;
pub mod exit;
pub mod net;
pub mod plan;
pub mod realtime;
pub mod render;
pub mod report;
pub mod term;
pub mod upload;
pub mod watch;

/// The whole program: argv in, exit code out. Errors a user or a server can cause end here
/// as one clear message and exit 1, never as a panic.
pub fn main_entry() -> std::process::ExitCode {
    net::tls::install_provider();
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let json_requested = args.iter().any(|a| a == "--json");
    let result = match cli::parse(args) {
        Ok(cli::Invocation::Help(text)) => {
            term::out_line(text.trim_end());
            Ok(exit::Exit::Success)
        }
        Ok(cli::Invocation::Version) => {
            term::out_line(env!("CARGO_PKG_VERSION"));
            Ok(exit::Exit::Success)
        }
        Ok(cli::Invocation::Run(parsed)) => {
            if commands::has(&parsed, "debug") && parsed.flag("debug") {
                debug::enable();
            }
            commands::run(&parsed)
        }
        Err(usage) => {
            let mut msg = usage.message.clone();
            if !msg.contains("--help") {
                let cmd = usage.command.map(|c| format!(" {c}")).unwrap_or_default();
                msg.push_str(&format!("\nRun `dcd{cmd} --help` for usage."));
            }
            Err(exit::CliError::new(msg))
        }
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            report_error(&e, json_requested);
            e.exit.into()
        }
    }
}

/// `✗ Error: <message>` on stderr, or under `--json` the error document on stdout (spec A.0).
fn report_error(e: &exit::CliError, json: bool) {
    let message = debug::redact(&e.message);
    if json {
        let doc = render::json::error_doc(&message, e.json.as_ref());
        term::out_line(&render::json::pretty(&doc));
    } else {
        let style = render::Style {
            color: term::use_color(
                term::ColorChoice::Auto,
                &|k| std::env::var(k).ok(),
                term::isatty(2),
            ),
        };
        term::err_line(&format!("{} {message}", style.red("✗ Error:")));
    }
}
