//! Why the command must stop early: SIGINT, SIGTERM, SIGHUP, or a closed stdout.
//!
//! A thread waits for the signals and only *records* the first reason ([`record`]); it
//! never prints and never exits. The main flow acts on it: steps check [`check`] between
//! pieces of work, blocking work runs through [`run`] (which returns as soon as a stop is
//! recorded, leaving the abandoned work to die with the process), and the wait loop
//! registers a [`waker`] so a stop ends its sleep at once. Every stop then leaves through
//! the one exit path as [`super::Exit::Stopped`].

use crossbeam_channel::{Receiver, Sender, bounded};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

/// A reason to stop, with its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT (Ctrl-C): 130.
    Interrupt,
    /// SIGTERM (CI runners cancelling a job): 143.
    Terminate,
    /// SIGHUP (the terminal went away): 129.
    Hangup,
    /// stdout was closed by its reader (EPIPE): 141, quietly.
    BrokenPipe,
}

impl Stop {
    pub fn code(self) -> u8 {
        match self {
            Stop::Interrupt => 130,
            Stop::Terminate => 143,
            Stop::Hangup => 129,
            Stop::BrokenPipe => 141,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "SIGINT",
            Stop::Terminate => "SIGTERM",
            Stop::Hangup => "SIGHUP",
            Stop::BrokenPipe => "EPIPE",
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Stop::Interrupt => 1,
            Stop::Terminate => 2,
            Stop::Hangup => 3,
            Stop::BrokenPipe => 4,
        }
    }

    fn from_u8(v: u8) -> Option<Stop> {
        match v {
            1 => Some(Stop::Interrupt),
            2 => Some(Stop::Terminate),
            3 => Some(Stop::Hangup),
            4 => Some(Stop::BrokenPipe),
            _ => None,
        }
    }
}

static STOP: AtomicU8 = AtomicU8::new(0);
static WAKERS: Mutex<Vec<(u64, Sender<()>)>> = Mutex::new(Vec::new());
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Starts the thread that records SIGINT, SIGTERM and SIGHUP. Called once, first thing.
pub fn install() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return; // Without the handler a signal still ends the process, just less politely.
    };
    std::thread::spawn(move || {
        for sig in signals.forever() {
            record(match sig {
                SIGTERM => Stop::Terminate,
                SIGHUP => Stop::Hangup,
                _ => Stop::Interrupt,
            });
        }
    });
}

/// Records a reason to stop (the first one wins) and wakes every registered waiter.
pub fn record(stop: Stop) {
    let _ = STOP.compare_exchange(0, stop.to_u8(), Ordering::SeqCst, Ordering::SeqCst);
    let wakers = WAKERS.lock().unwrap_or_else(|e| e.into_inner());
    for (_, w) in wakers.iter() {
        let _ = w.try_send(());
    }
}

/// The recorded reason to stop, if any.
pub fn pending() -> Option<Stop> {
    Stop::from_u8(STOP.load(Ordering::SeqCst))
}

/// `Err` once a stop has been recorded: call between steps.
pub fn check() -> Result<(), Stop> {
    pending().map_or(Ok(()), Err)
}

/// A registration that sends `()` on its sender when a stop is recorded; dropped, it is
/// removed.
pub struct Waker {
    id: u64,
}

impl Drop for Waker {
    fn drop(&mut self) {
        let mut wakers = WAKERS.lock().unwrap_or_else(|e| e.into_inner());
        wakers.retain(|(id, _)| *id != self.id);
    }
}

/// Registers `tx` to receive `()` (with `try_send`) when a stop is recorded. If one already
/// was, `tx` receives it at once.
pub fn waker(tx: Sender<()>) -> Waker {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    WAKERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((id, tx.clone()));
    if pending().is_some() {
        let _ = tx.try_send(());
    }
    Waker { id }
}

/// Runs `work` on its own thread and returns its result, or `Err` as soon as a stop is
/// recorded — the work is then abandoned and ends with the process. For work that may be
/// cut off at any point without harm (no request that may have reached the server).
pub fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Stop> {
    check()?;
    let (done_tx, done) = bounded::<T>(1);
    let (stop_tx, stopped) = bounded::<()>(1);
    let _waker = waker(stop_tx);
    std::thread::spawn(move || {
        let _ = done_tx.send(work());
    });
    wait_either(&done, &stopped)
}

/// Like [`run`], for work that reports as it goes: `work` gets a sender, and every report
/// is handed to `on` on the calling thread while the work runs (all of them before the
/// result is returned). A stop returns `Err` at once, as with [`run`].
pub fn run_reporting<T: Send + 'static, R: Send + 'static>(
    work: impl FnOnce(Sender<R>) -> T + Send + 'static,
    mut on: impl FnMut(R),
) -> Result<T, Stop> {
    check()?;
    let (done_tx, done) = bounded::<T>(1);
    let (stop_tx, stopped) = bounded::<()>(1);
    let (report_tx, reports) = crossbeam_channel::unbounded::<R>();
    let _waker = waker(stop_tx);
    std::thread::spawn(move || {
        let _ = done_tx.send(work(report_tx));
    });
    loop {
        crossbeam_channel::select! {
            recv(reports) -> r => match r {
                Ok(r) => on(r),
                // The work is over (its sender is gone): only its result is left.
                Err(_) => return wait_either(&done, &stopped),
            },
            recv(done) -> v => {
                reports.try_iter().for_each(&mut on);
                return v.map_err(|_| pending().unwrap_or(Stop::Interrupt));
            }
            recv(stopped) -> _ => return Err(pending().unwrap_or(Stop::Interrupt)),
        }
    }
}

/// Sleeps for `d`, or until a stop is recorded (then `Err` at once).
pub fn sleep(d: std::time::Duration) -> Result<(), Stop> {
    check()?;
    let (tx, rx) = bounded::<()>(1);
    let _waker = waker(tx);
    let _ = rx.recv_timeout(d);
    check()
}

fn wait_either<T>(done: &Receiver<T>, stopped: &Receiver<()>) -> Result<T, Stop> {
    crossbeam_channel::select! {
        recv(done) -> v => match v {
            Ok(v) => Ok(v),
            // The work panicked; with panic=abort this cannot happen in release builds.
            Err(_) => Err(pending().unwrap_or(Stop::Interrupt)),
        },
        recv(stopped) -> _ => Err(pending().unwrap_or(Stop::Interrupt)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    // The stop state is process-wide; one test covers its whole life so that tests running
    // in parallel threads cannot see each other's stops.
    #[test]
    fn work_runs_until_a_stop_then_everything_returns_at_once() {
        assert_eq!(run(|| 7), Ok(7));
        let mut seen = Vec::new();
        let r = run_reporting(
            |tx| {
                (1..=3).for_each(|i| tx.send(i).unwrap());
                9
            },
            |i| seen.push(i),
        );
        assert_eq!((r, seen), (Ok(9), vec![1, 2, 3]));
        let (tx, rx) = bounded(1);
        let w = waker(tx);
        let t = Instant::now();
        let stopper = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            record(Stop::Hangup);
        });
        let r = run(|| std::thread::sleep(Duration::from_secs(30)));
        assert_eq!(r, Err(Stop::Hangup));
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(rx.try_recv().is_ok(), "the waker was woken");
        drop(w);
        stopper.join().unwrap();
        record(Stop::Interrupt);
        assert_eq!(pending(), Some(Stop::Hangup), "the first stop wins");
        assert_eq!(check(), Err(Stop::Hangup));
        assert_eq!(run(|| 1), Err(Stop::Hangup));
    }
}
