//! The update check of `dcd cloud`, in the background: started right after the banner, it
//! never delays the command. The command asks [`UpdateCheck::notify`] between its steps; the
//! notice is printed once, at the first step after the manifest answered, and not at all
//! when it has not answered by the time the command waits or ends.

use super::Ctx;
use crate::domain::update;
use crate::output::Mode;
use std::cell::RefCell;
use std::sync::mpsc::{Receiver, TryRecvError};

/// A running (or finished, or never started) update check.
pub struct UpdateCheck {
    answer: RefCell<Option<Receiver<Option<String>>>>,
}

impl UpdateCheck {
    /// Starts the check on a thread of its own when the rules allow it: an interactive
    /// terminal and no `DCD_NO_UPDATE_CHECK`.
    pub fn start(ctx: &Ctx) -> UpdateCheck {
        let opt_out = std::env::var("DCD_NO_UPDATE_CHECK").ok();
        let interactive = ctx.out.mode() == Mode::Interactive;
        if !update::enabled(interactive, opt_out.as_deref()) {
            return UpdateCheck::none();
        }
        let url = update::manifest_url(
            std::env::var("DCD_MANIFEST_URL").ok().as_deref(),
            &update::download_base(std::env::var("DCD_DOWNLOAD_BASE").ok().as_deref()),
            env!("CARGO_PKG_VERSION"),
        );
        let timings = ctx.timings;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("update-check".into())
            .spawn(move || {
                let latest = crate::api::manifest::latest_version(&url, &timings);
                let _ = tx.send(latest.and_then(|l| update::newer(env!("CARGO_PKG_VERSION"), &l)));
            });
        match spawned {
            Ok(_) => UpdateCheck {
                answer: RefCell::new(Some(rx)),
            },
            Err(_) => UpdateCheck::none(),
        }
    }

    /// A check that never answers.
    pub fn none() -> UpdateCheck {
        UpdateCheck {
            answer: RefCell::new(None),
        }
    }

    /// Prints the notice if the manifest has answered with a newer version. Never waits.
    /// After an answer (or a thread that died) it does nothing more.
    pub fn notify(&self, ctx: &Ctx) {
        let mut answer = self.answer.borrow_mut();
        let Some(rx) = answer.as_ref() else { return };
        let newer = match rx.try_recv() {
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => None,
            Ok(newer) => newer,
        };
        *answer = None;
        if let Some(latest) = newer {
            ctx.out
                .warn(&update::notice(env!("CARGO_PKG_VERSION"), &latest));
        }
    }

    /// The command reached its wait or its end: a check that has not answered is dropped.
    pub fn give_up(&self, ctx: &Ctx) {
        self.notify(ctx);
        self.answer.borrow_mut().take();
    }
}
