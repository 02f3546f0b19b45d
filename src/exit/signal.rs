//! Why the command must stop early: SIGINT, SIGTERM, SIGHUP, or a closed stdout.
//!
//! A thread waits for the signals and only *records* the first reason ([`record`]); it
//! never prints and never exits. The main flow acts on it: steps check [`check`] between
//! pieces of work, blocking work runs through [`run`] (which returns as soon as a stop is
//! recorded, leaving the abandoned work to die with the process), and the wait loop
//! registers a [`waker`] so a stop ends its sleep at once. Every stop then leaves through
//! the one exit path as [`super::Exit::Stopped`].

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Sender, SyncSender, sync_channel};

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
/// What to call when a stop is recorded, by registration id.
type Wake = Box<dyn Fn() + Send>;
static WAKERS: Mutex<Vec<(u64, Wake)>> = Mutex::new(Vec::new());
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
    for (_, wake) in wakers.iter() {
        wake();
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

/// A registration that is called when a stop is recorded; dropped, it is removed.
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
pub fn waker(tx: SyncSender<()>) -> Waker {
    on_stop(Box::new(move || {
        let _ = tx.try_send(());
    }))
}

/// Registers `wake` to be called when a stop is recorded — at once if one already was.
fn on_stop(wake: Wake) -> Waker {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut wakers = WAKERS.lock().unwrap_or_else(|e| e.into_inner());
    if pending().is_some() {
        wake();
    }
    wakers.push((id, wake));
    Waker { id }
}

/// A value of any type, crossing to the waiting thread: one channel and one thread body
/// serve every [`run`] and [`run_reporting`], whatever their types (each distinct type
/// would otherwise bring its own copy of the channel and thread code into the binary).
type Erased = Box<dyn Any + Send>;

/// What the waiting thread receives, in order.
enum Msg {
    Report(Erased),
    Done(Erased),
    Stopped,
    /// The work's thread ended without a result.
    Gone,
}

/// Hands reports of type `R` from the work to the waiting thread ([`run_reporting`]).
pub struct Reporter<R> {
    tx: Sender<Msg>,
    _type: PhantomData<fn(R)>,
}

impl<R: Send + 'static> Reporter<R> {
    /// Sends one report; `Err` when the waiting side has gone (a stop ended the wait).
    pub fn send(&self, report: R) -> Result<(), ()> {
        self.tx.send(Msg::Report(Box::new(report))).map_err(|_| ())
    }
}

/// Runs `work` on its own thread and returns its result, or `Err` as soon as a stop is
/// recorded — the work is then abandoned and ends with the process. For work that may be
/// cut off at any point without harm (no request that may have reached the server).
pub fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Stop> {
    run_reporting::<T, ()>(move |_| work(), |()| {})
}

/// Like [`run`], for work that reports as it goes: `work` gets a [`Reporter`], and every
/// report is handed to `on` on the calling thread while the work runs (all of them before the
/// result is returned). A stop returns `Err` at once, as with [`run`].
pub fn run_reporting<T: Send + 'static, R: Send + 'static>(
    work: impl FnOnce(Reporter<R>) -> T + Send + 'static,
    mut on: impl FnMut(R),
) -> Result<T, Stop> {
    check()?;
    let mut on_erased = |r: Erased| {
        if let Ok(r) = r.downcast::<R>() {
            on(*r);
        }
    };
    let done = run_erased(erase(work), &mut on_erased, None)?;
    unerase(done)
}

/// Runs `work` — a request that may reach the server — on its own thread to its end, even
/// through a stop: the first stop recorded meanwhile calls `on_stop` (to announce that the
/// request is being finished) and is returned beside the result, for the caller to exit with.
pub fn hold<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    mut on_stop: impl FnMut(),
) -> Result<(T, Option<Stop>), Stop> {
    let done = run_erased(
        erase::<T, ()>(move |_| work()),
        &mut |_| {},
        Some(&mut on_stop),
    )?;
    Ok((unerase(done)?, pending()))
}

/// `work` with its types erased, for [`run_erased`].
fn erase<T: Send + 'static, R: Send + 'static>(
    work: impl FnOnce(Reporter<R>) -> T + Send + 'static,
) -> Box<dyn FnOnce(Sender<Msg>) -> Erased + Send> {
    Box::new(move |tx| {
        Box::new(work(Reporter {
            tx,
            _type: PhantomData,
        }))
    })
}

/// The work's result, back as its own type (it cannot be another).
fn unerase<T: 'static>(done: Erased) -> Result<T, Stop> {
    done.downcast::<T>()
        .map(|v| *v)
        .map_err(|_| pending().unwrap_or(Stop::Interrupt))
}

/// The one body of every [`run`], [`run_reporting`] and [`hold`]: the work runs on a thread
/// that sends its reports and then its result down one channel, which a stop's waker feeds
/// too. A stop ends the wait at once, unless `held`: then its callback runs once and the
/// wait goes on to the result.
fn run_erased(
    work: Box<dyn FnOnce(Sender<Msg>) -> Erased + Send>,
    on: &mut dyn FnMut(Erased),
    mut held: Option<&mut dyn FnMut()>,
) -> Result<Erased, Stop> {
    let (tx, msgs) = std::sync::mpsc::channel::<Msg>();
    let stop_tx = tx.clone();
    let _waker = on_stop(Box::new(move || {
        let _ = stop_tx.send(Msg::Stopped);
    }));
    on_worker(Box::new(move || {
        // Sent after the result, or instead of it if the work panics (unwinding, in tests).
        struct Gone(Sender<Msg>);
        impl Drop for Gone {
            fn drop(&mut self) {
                let _ = self.0.send(Msg::Gone);
            }
        }
        let _gone = Gone(tx.clone());
        let _ = tx.send(Msg::Done(work(tx.clone())));
    }));
    let mut announced = false;
    loop {
        match msgs.recv() {
            Ok(Msg::Report(r)) => on(r),
            Ok(Msg::Done(v)) => return Ok(v),
            Ok(Msg::Stopped) => match held.as_mut() {
                Some(f) if !announced => {
                    announced = true;
                    f();
                }
                Some(_) => {}
                None => return Err(pending().unwrap_or(Stop::Interrupt)),
            },
            Ok(Msg::Gone) | Err(_) => return Err(pending().unwrap_or(Stop::Interrupt)),
        }
    }
}

/// A piece of work for a worker thread.
type Job = Box<dyn FnOnce() + Send>;
/// Worker threads waiting for a job, newest last.
static IDLE: Mutex<Vec<SyncSender<Job>>> = Mutex::new(Vec::new());
/// Most idle workers kept; more finish when their job does.
const MAX_IDLE: usize = 2;

/// Runs `job` on an idle worker thread, or on a new one when none is idle (the first step,
/// or one whose worker is still busy with abandoned work). A wait polls every few seconds
/// for hours: reusing the thread saves each poll a thread's creation and its stack's
/// mapping and unmapping.
fn on_worker(job: Job) {
    let mut job = job;
    loop {
        let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let Some(worker) = idle else { break };
        match worker.send(job) {
            Ok(()) => return,
            // That worker is gone; the job comes back for the next.
            Err(std::sync::mpsc::SendError(back)) => job = back,
        }
    }
    let (tx, jobs) = sync_channel::<Job>(1);
    std::thread::spawn(move || {
        let mut next = Some(job);
        while let Some(job) = next.take() {
            job();
            {
                let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() >= MAX_IDLE {
                    return;
                }
                idle.push(tx.clone());
            }
            next = jobs.recv().ok();
        }
    });
}

/// Sleeps for `d`, or until a stop is recorded (then `Err` at once).
pub fn sleep(d: std::time::Duration) -> Result<(), Stop> {
    check()?;
    let (tx, rx) = sync_channel::<()>(1);
    let _waker = waker(tx);
    let _ = rx.recv_timeout(d);
    check()
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
        let (tx, rx) = sync_channel(1);
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
