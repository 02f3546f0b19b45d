//! Ctrl-C while waiting: take the live frame down, say how to re-attach, exit 130.
//!
//! A thread waits for SIGINT (and SIGTERM, which CI runners send on cancel) and then exits
//! through [`super::live::exit_with`], which holds the output lock to the end so no redraw
//! can land after the message. The cloud run is not cancelled.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Installs the handler. `stderr_msg` is printed on stderr; `stdout_doc` (the `--json` error
/// document), if any, on stdout.
pub fn exit_on_interrupt(stderr_msg: String, stdout_doc: Option<String>) {
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
        return; // Without a handler Ctrl-C still ends the process, just less politely.
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            if let Some(doc) = &stdout_doc {
                use std::io::Write;
                let _ = writeln!(std::io::stdout(), "{doc}");
            }
            let code = if sig == SIGTERM { 143 } else { 130 };
            super::live::exit_with(&stderr_msg, code);
        }
    });
}
