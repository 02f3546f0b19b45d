//! Why the command must stop early: SIGINT, SIGTERM, SIGHUP, or a closed stdout.
//!
//! A thread waits for the signals and only *records* the first reason ([`record`]); it
//! never prints and never exits. Recording a stop closes the stop channel ([`stops`]):
//! nothing is ever sent on it, and a closed channel is ready for every receiver at once and
//! for good, so every blocking wait that selects on it returns — [`run`], [`sleep`] and the
//! wait's sleep alike, however many there are and whenever they start. Steps check [`check`]
//! between pieces of work. Every stop then leaves through the one exit path as
//! [`super::Exit::Stopped`].

use crossbeam_channel::{Receiver, Sender, select};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

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

/// The stop channel: its one sender (dropped when a stop is recorded) and its receiver.
struct StopChannel {
    tx: Mutex<Option<Sender<Infallible>>>,
    rx: Receiver<Infallible>,
}

fn stop_channel() -> &'static StopChannel {
    static CHANNEL: OnceLock<StopChannel> = OnceLock::new();
    CHANNEL.get_or_init(|| {
        let (tx, rx) = crossbeam_channel::bounded(0);
        StopChannel {
            tx: Mutex::new(Some(tx)),
            rx,
        }
    })
}

/// The stop channel, for a blocking wait to `select!` on beside what it waits for: no
/// message ever arrives on it, and from the moment a stop is recorded every receive on it
/// returns at once (with the error of a closed channel). Which stop it was: [`pending`].
pub fn stops() -> &'static Receiver<Infallible> {
    &stop_channel().rx
}

/// Records every stop the operating system asks for: SIGINT, SIGTERM and SIGHUP, or on
/// Windows Ctrl-C, Ctrl-Break and a closed console (the same codes and hint: docs/exit-codes.md).
/// Called once, first thing. Without the handler a signal still ends the process, just less
/// politely.
pub fn install() {
    use crate::platform::StopRequest;
    crate::platform::watch_stops(|s| {
        record(match s {
            StopRequest::Interrupt => Stop::Interrupt,
            StopRequest::Terminate => Stop::Terminate,
            StopRequest::Hangup => Stop::Hangup,
        })
    });
}

/// Records a reason to stop (the first one wins) and closes the stop channel, which wakes
/// every blocking wait.
pub fn record(stop: Stop) {
    let _ = STOP.compare_exchange(0, stop.to_u8(), Ordering::SeqCst, Ordering::SeqCst);
    let mut tx = stop_channel().tx.lock().unwrap_or_else(|e| e.into_inner());
    drop(tx.take());
}

/// The recorded reason to stop, if any.
pub fn pending() -> Option<Stop> {
    Stop::from_u8(STOP.load(Ordering::SeqCst))
}

/// `Err` once a stop has been recorded: call between steps.
pub fn check() -> Result<(), Stop> {
    pending().map_or(Ok(()), Err)
}

/// The recorded stop, for a wait the stop channel ended.
fn stopped() -> Stop {
    pending().unwrap_or(Stop::Interrupt)
}

/// Hands reports of type `R` from the work to the waiting thread ([`run_reporting`]).
pub struct Reporter<R>(Sender<R>);

impl<R> Reporter<R> {
    /// Sends one report; `Err` when the waiting side has gone (a stop ended the wait).
    pub fn send(&self, report: R) -> Result<(), ()> {
        self.0.send(report).map_err(|_| ())
    }
}

/// Runs `work` on its own thread and returns its result, or `Err` as soon as a stop is
/// recorded — the work is then abandoned and ends with the process. For work that may be
/// cut off at any point without harm (no request that may have reached the server).
pub fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Stop> {
    check()?;
    let (result, ended) = spawn(work);
    until_ended(&ended)?;
    taken(&result)
}

/// Like [`run`], for work that reports as it goes: `work` gets a [`Reporter`], and every
/// report is handed to `on` on the calling thread while the work runs (all of them before the
/// result is returned). A stop returns `Err` at once, as with [`run`].
pub fn run_reporting<T: Send + 'static, R: Send + 'static>(
    work: impl FnOnce(Reporter<R>) -> T + Send + 'static,
    mut on: impl FnMut(R),
) -> Result<T, Stop> {
    check()?;
    let (tx, reports) = crossbeam_channel::unbounded();
    let (result, ended) = spawn(move || work(Reporter(tx)));
    let no_more = crossbeam_channel::never();
    let mut open = true;
    loop {
        select! {
            recv(if open { &reports } else { &no_more }) -> report => match report {
                Ok(r) => on(r),
                // The work dropped its reporter: only its end is left to wait for.
                Err(_) => open = false,
            },
            recv(ended) -> _ => {
                // The work sent every report before it ended.
                reports.try_iter().for_each(&mut on);
                return taken(&result);
            }
            recv(stops()) -> _ => return Err(stopped()),
        }
    }
}

/// Runs `work` — a request that may reach the server — on its own thread to its end, even
/// through a stop: a stop recorded meanwhile calls `on_stop` (to announce that the request is
/// being finished) and is returned beside the result, for the caller to exit with.
pub fn hold<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    on_stop: impl FnOnce(),
) -> Result<(T, Option<Stop>), Stop> {
    let (result, ended) = spawn(work);
    if until_ended(&ended).is_err() {
        on_stop();
        // Finished all the same: the channel only closes when the work has ended.
        let _ = ended.recv();
    }
    Ok((taken(&result)?, pending()))
}

/// Where a work's thread leaves its result.
type Slot<T> = Arc<Mutex<Option<T>>>;

/// Starts `work` on a thread of its own. It leaves its result in the slot returned, and the
/// channel returned closes when it has ended (returned or panicked).
fn spawn<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> (Slot<T>, Receiver<Infallible>) {
    let result = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&result);
    let ended = start(Box::new(move || {
        let value = work();
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
    }));
    (result, ended)
}

/// Runs `job` on a new thread; the channel returned closes when the job has ended. (The job
/// is boxed so that the thread's start-up is built once, not once per result type: ~28 KB.)
fn start(job: Box<dyn FnOnce() + Send>) -> Receiver<Infallible> {
    let (end, ended) = crossbeam_channel::bounded::<Infallible>(0);
    std::thread::spawn(move || {
        let _end = end;
        job();
    });
    ended
}

/// Waits until `ended` closes (the work has ended), or until a stop is recorded: `Err` then.
fn until_ended(ended: &Receiver<Infallible>) -> Result<(), Stop> {
    recv(ended).map(|_| ())
}

/// The next message on `rx` (`None` once it is closed and empty), or `Err` as soon as a stop
/// is recorded: for a step that waits on a thread of its own, as [`run`] does.
pub fn recv<T>(rx: &Receiver<T>) -> Result<Option<T>, Stop> {
    select! {
        recv(rx) -> message => Ok(message.ok()),
        recv(stops()) -> _ => Err(stopped()),
    }
}

/// The result of a work that has ended. One that panicked (only in tests: the shipped build
/// aborts on a panic) left none, and reads as a stop, as a work that never answered would.
fn taken<T>(result: &Slot<T>) -> Result<T, Stop> {
    let value = result.lock().unwrap_or_else(|e| e.into_inner()).take();
    value.ok_or_else(stopped)
}

/// Sleeps for `d`, or until a stop is recorded (then `Err` at once).
pub fn sleep(d: Duration) -> Result<(), Stop> {
    check()?;
    select! {
        recv(stops()) -> _ => {}
        default(d) => {}
    }
    check()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    // The stop state is process-wide; one test covers its whole life so that tests running
    // in parallel threads cannot see each other's stops.
    #[test]
    fn work_runs_until_a_stop_then_every_wait_returns_at_once() {
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
        let mut announced = 0;
        assert_eq!(hold(|| 5, || announced += 1), Ok((5, None)));
        assert_eq!(announced, 0);
        assert_eq!(stops().try_recv().ok(), None, "open, and nothing on it");
        let (tx, rx) = crossbeam_channel::bounded(1);
        tx.send(4).unwrap();
        assert_eq!(recv(&rx), Ok(Some(4)));
        drop(tx);
        assert_eq!(recv(&rx), Ok(None), "closed and empty");

        // A stop ends a running work, a sleep and a wait on the channel, each at once.
        let t = Instant::now();
        let stopper = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            record(Stop::Hangup);
        });
        let sleeper = std::thread::spawn(|| sleep(Duration::from_secs(30)));
        let listener = std::thread::spawn(|| stops().recv().is_err());
        let (_quiet, nothing) = crossbeam_channel::bounded::<u8>(1);
        let receiver = std::thread::spawn(move || recv(&nothing));
        let r = run(|| std::thread::sleep(Duration::from_secs(30)));
        assert_eq!(r, Err(Stop::Hangup));
        assert_eq!(sleeper.join().unwrap(), Err(Stop::Hangup));
        assert!(listener.join().unwrap(), "the channel closed");
        assert_eq!(receiver.join().unwrap(), Err(Stop::Hangup));
        assert!(t.elapsed() < Duration::from_secs(20));
        stopper.join().unwrap();

        // From then on: the first stop wins, every new wait returns at once.
        record(Stop::Interrupt);
        assert_eq!(pending(), Some(Stop::Hangup), "the first stop wins");
        assert_eq!(check(), Err(Stop::Hangup));
        assert!(stops().recv().is_err(), "closed for later waits too");
        assert_eq!(run(|| 1), Err(Stop::Hangup));
        assert_eq!(sleep(Duration::from_secs(30)), Err(Stop::Hangup));
        // A held request is announced, finished all the same (here it only ends once the
        // announcement was made), and the stop handed back.
        let (announce, announced) = crossbeam_channel::bounded(1);
        let held = hold(
            move || announced.recv_timeout(Duration::from_secs(30)).is_ok(),
            move || announce.send(()).unwrap(),
        );
        assert_eq!(held, Ok((true, Some(Stop::Hangup))));
    }
}
