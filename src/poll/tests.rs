//! The loop's timing decisions, on a fake clock that jumps straight to the next deadline,
//! poke or stop.

use super::*;
use crate::api::ApiError;
use crate::domain::results::Status;
use crossbeam_channel::{Sender, bounded};
use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::rc::Rc;

/// A clock that never sleeps. Pokes scheduled at a time are `try_send`-ed into the real
/// channel when time passes them, exactly as the realtime thread would; a stop scheduled at a
/// time records it and closes the stop channel then, as `exit::signal` would.
struct FakeClock {
    now: Cell<Duration>,
    pokes_at: RefCell<Vec<Duration>>,
    tx: Sender<()>,
    stop_at: Option<Duration>,
    stop_tx: RefCell<Option<Sender<Infallible>>>,
    stopped: Cell<Option<Stop>>,
}

impl FakeClock {
    fn advance_to(&self, t: Duration) {
        let mut due = self.pokes_at.borrow_mut();
        while due.first().is_some_and(|p| *p <= t) {
            let p = due.remove(0);
            self.now.set(self.now.get().max(p));
            let _ = self.tx.try_send(());
        }
        if self.stop_at.is_some_and(|s| s <= t) && self.stopped.get().is_none() {
            self.stopped.set(Some(Stop::Terminate));
            self.stop_tx.borrow_mut().take();
        }
        self.now.set(self.now.get().max(t));
    }

    /// The next scheduled poke or stop, if it comes by `until`.
    fn next_event(&self, until: Duration) -> Option<Duration> {
        let poke = self.pokes_at.borrow().first().copied();
        let stop = self.stop_at.filter(|_| self.stopped.get().is_none());
        [poke, stop]
            .into_iter()
            .flatten()
            .filter(|t| *t <= until)
            .min()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        self.now.get()
    }
    fn wait(&self, pokes: &Receiver<()>, stops: &Receiver<Infallible>, until: Duration) -> Wake {
        loop {
            if stops.try_recv().is_err_and(|e| e.is_disconnected()) {
                return Wake::Stop;
            }
            if pokes.try_recv().is_ok() {
                return Wake::Poke;
            }
            match self.next_event(until) {
                Some(t) => self.advance_to(t),
                None => {
                    self.advance_to(until);
                    return Wake::Deadline;
                }
            }
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn row(id: i64, status: Status) -> ResultRow {
    ResultRow::new(id, &format!("./t{id}.yaml"), status)
}

fn running() -> Result<Vec<ResultRow>, ApiError> {
    Ok(vec![row(1, Status::Running)])
}

fn passed() -> Result<Vec<ResultRow>, ApiError> {
    Ok(vec![row(1, Status::Passed)])
}

fn http(status: u16) -> Result<Vec<ResultRow>, ApiError> {
    Err(ApiError::Status {
        op: "Fetching results".into(),
        status,
        message: "x".into(),
        retry_after: None,
    })
}

/// Plays scripted answers; each fetch takes `latency` of fake time; records start times.
struct Script {
    clock: Rc<FakeClock>,
    answers: Vec<Result<Vec<ResultRow>, ApiError>>,
    latency: Duration,
    starts: Vec<Duration>,
}

impl Fetch for Script {
    type Error = ApiError;
    fn fetch(&mut self) -> Result<Vec<ResultRow>, ApiError> {
        self.starts.push(self.clock.now());
        let now = self.clock.now();
        self.clock.advance_to(now + self.latency);
        if self.answers.len() > 1 {
            self.answers.remove(0)
        } else {
            self.answers[0].clone()
        }
    }
}

#[derive(Default)]
struct Events {
    failed: Vec<(u32, Duration)>,
    fetched: usize,
}

impl Sink for Events {
    fn event(&mut self, ev: &Event<'_>, now: Duration) {
        match ev {
            Event::Polled { .. } => self.fetched += 1,
            Event::PollFailed {
                failures, retry_at, ..
            } => self.failed.push((*failures, *retry_at - now)),
            _ => {}
        }
    }
}

struct Run {
    result: Result<Vec<ResultRow>, WaitError<ApiError>>,
    starts: Vec<f64>,
    events: Events,
    /// The clock's time when the wait returned.
    ended: f64,
}

fn run(
    answers: Vec<Result<Vec<ResultRow>, ApiError>>,
    pokes_at: &[f64],
    latency: f64,
    timeout: Option<f64>,
) -> Run {
    run_with_stop(answers, pokes_at, latency, timeout, None)
}

/// [`run`], with a stop recorded at `stop_at`.
fn run_with_stop(
    answers: Vec<Result<Vec<ResultRow>, ApiError>>,
    pokes_at: &[f64],
    latency: f64,
    timeout: Option<f64>,
    stop_at: Option<f64>,
) -> Run {
    let (tx, rx) = bounded(1);
    let (stop_tx, stops) = bounded(0);
    let clock = Rc::new(FakeClock {
        now: Cell::new(Duration::ZERO),
        pokes_at: RefCell::new(pokes_at.iter().map(|s| secs(*s)).collect()),
        tx,
        stop_at: stop_at.map(secs),
        stop_tx: RefCell::new(Some(stop_tx)),
        stopped: Cell::new(None),
    });
    let mut script = Script {
        clock: clock.clone(),
        answers,
        latency: secs(latency),
        starts: vec![],
    };
    let pace = Pace {
        interval: secs(60.0),
        timings: Timings::scaled(1.0),
        timeout: timeout.map(secs),
    };
    let mut events = Events::default();
    let stopped = || clock.stopped.get();
    let input = Inputs {
        fetcher: &mut script,
        clock: clock.as_ref(),
        pokes: &rx,
        stops: &stops,
        stopped: &stopped,
    };
    let result = until_done(&pace, input, &mut events);
    Run {
        result,
        starts: script.starts.iter().map(|d| d.as_secs_f64()).collect(),
        events,
        ended: clock.now().as_secs_f64(),
    }
}

#[test]
fn without_pokes_it_polls_every_backstop_period() {
    let r = run(
        vec![running(), running(), running(), passed()],
        &[],
        0.0,
        None,
    );
    assert_eq!(r.starts, vec![0.0, 60.0, 120.0, 180.0]);
    assert_eq!(r.result.unwrap()[0].status, Status::Passed);
}

#[test]
fn the_backstop_counts_from_the_end_of_a_slow_fetch() {
    let r = run(vec![running(), passed()], &[], 5.0, None);
    assert_eq!(r.starts, vec![0.0, 65.0]);
}

#[test]
fn a_poke_while_waiting_fetches_at_once() {
    let r = run(vec![running(), running(), passed()], &[30.0], 0.0, None);
    assert_eq!(r.starts, vec![0.0, 30.0, 90.0]);
}

#[test]
fn a_poke_during_a_fetch_causes_exactly_one_more_fetch() {
    // Fetch 1 runs from 0 to 5 s; the poke lands at 2 s, inside it.
    let r = run(
        vec![running(), running(), running(), passed()],
        &[2.0],
        5.0,
        None,
    );
    assert_eq!(r.starts, vec![0.0, 5.0, 70.0, 135.0]);
}

#[test]
fn pokes_before_a_fetch_are_covered_by_it() {
    // Three pokes inside fetch 1 (one slot, coalesced) → one extra fetch, not three.
    let r = run(
        vec![running(), running(), passed()],
        &[1.0, 2.0, 3.0],
        5.0,
        None,
    );
    assert_eq!(r.starts, vec![0.0, 5.0, 70.0]);
}

#[test]
fn a_burst_of_pokes_within_the_floor_causes_at_most_one_fetch() {
    let burst: Vec<f64> = (1..=50).map(|i| i as f64 * 0.018).collect(); // 0.018 s .. 0.9 s
    let r = run(vec![running(), running(), passed()], &burst, 0.0, None);
    assert_eq!(r.starts, vec![0.0, 1.0, 61.0]);
}

#[test]
fn a_storm_of_pokes_is_held_to_one_fetch_per_floor() {
    // 1,000 pokes over 10 s: at most one fetch per second of floor.
    let storm: Vec<f64> = (0..1000).map(|i| i as f64 * 0.01).collect();
    let r = run(vec![running()], &storm, 0.0, Some(12.0));
    assert!(matches!(r.result, Err(WaitError::TimedOut { .. })));
    let in_storm = r.starts.iter().filter(|s| **s <= 10.0).count();
    assert!(in_storm <= 11, "{:?}", r.starts);
    for w in r.starts.windows(2) {
        assert!(w[1] - w[0] >= 1.0 - 1e-9, "{:?}", r.starts);
    }
}

#[test]
fn errors_back_off_ten_seconds_times_n_capped_and_ignore_pokes() {
    let answers = vec![
        http(502),
        http(500),
        http(503),
        http(429),
        running(),
        passed(),
    ];
    let r = run(answers, &[3.0, 4.0], 0.0, None);
    let backoffs: Vec<u64> = r.events.failed.iter().map(|(_, d)| d.as_secs()).collect();
    assert_eq!(backoffs, vec![10, 20, 30, 30]);
    // Pokes at 3 s and 4 s did not cut the backoff short: they were latched and covered by
    // the fetch at 10 s.
    assert_eq!(r.starts, vec![0.0, 10.0, 30.0, 60.0, 90.0, 150.0]);
}

#[test]
fn the_failure_counter_resets_after_a_success() {
    let answers = vec![http(502), http(502), running(), http(502), passed()];
    let r = run(answers, &[], 0.0, None);
    let counts: Vec<(u32, u64)> = r
        .events
        .failed
        .iter()
        .map(|(n, d)| (*n, d.as_secs()))
        .collect();
    assert_eq!(counts, vec![(1, 10), (2, 20), (1, 10)]);
    assert!(r.result.is_ok());
}

#[test]
fn thirty_consecutive_failures_give_up() {
    let r = run(vec![http(502)], &[], 0.0, None);
    match r.result {
        Err(WaitError::GaveUp { failures, last }) => {
            assert_eq!(failures, 30);
            assert_eq!(last.status(), Some(502));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.starts.len(), 30);
}

#[test]
fn empty_results_are_a_failed_poll_not_a_pass() {
    let empty = Ok(vec![]);
    let r = run(vec![empty, passed()], &[], 0.0, None);
    assert_eq!(r.events.failed.len(), 1);
    assert_eq!(r.starts, vec![0.0, 10.0]);
}

#[test]
fn not_found_is_retried_only_soon_after_the_start() {
    let r = run(vec![http(404), passed()], &[], 0.0, None);
    assert!(r.result.is_ok());
    // A 404 after the grace period is final.
    let r = run(
        vec![running(), running(), running(), http(404)],
        &[],
        0.0,
        None,
    );
    assert!(matches!(r.result, Err(WaitError::Fatal(ref e)) if e.status() == Some(404)));
}

#[test]
fn auth_errors_end_the_wait_at_once() {
    let r = run(vec![running(), http(401)], &[], 0.0, None);
    assert!(matches!(r.result, Err(WaitError::Fatal(ref e)) if e.status() == Some(401)));
    assert_eq!(r.starts.len(), 2);
}

#[test]
fn the_timeout_ends_the_wait_between_fetches() {
    let r = run(vec![running()], &[], 0.0, Some(150.0));
    match r.result {
        Err(WaitError::TimedOut { after }) => assert_eq!(after, secs(150.0)),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.starts, vec![0.0, 60.0, 120.0]);
}

#[test]
fn a_run_already_finished_returns_after_one_fetch() {
    let r = run(vec![Ok(vec![row(1, Status::Failed)])], &[5.0], 0.0, None);
    assert_eq!(r.starts, vec![0.0]);
    assert_eq!(r.events.fetched, 0);
    assert_eq!(r.result.unwrap()[0].status, Status::Failed);
}

#[test]
fn a_stop_ends_the_wait_at_once_whatever_it_was_waiting_for() {
    // (what, answers, pokes, fetch latency, stop at, wait ended at): one fetch at 0 each time.
    type Case = (
        &'static str,
        Vec<Result<Vec<ResultRow>, ApiError>>,
        Vec<f64>,
        f64,
        f64,
        f64,
    );
    let cases: Vec<Case> = vec![
        // The next backstop is at 60: the stop ends the sleep at 25, not 60.
        (
            "waiting",
            vec![running(), passed()],
            vec![],
            0.0,
            25.0,
            25.0,
        ),
        // The failed fetch backs off to 10 s; pokes are not waited for then, a stop is.
        (
            "backing off",
            vec![http(502), passed()],
            vec![2.0],
            0.0,
            4.0,
            4.0,
        ),
        // The fetch runs from 0 to 5 s; the stop is seen as soon as it returns.
        ("fetching", vec![running(), passed()], vec![], 5.0, 3.0, 5.0),
        // The poke brings the fetch to the floor (1 s); the stop comes first.
        ("poked", vec![running(), passed()], vec![0.5], 0.0, 0.7, 0.7),
    ];
    for (what, answers, pokes, latency, stop_at, ended) in cases {
        let r = run_with_stop(answers, &pokes, latency, None, Some(stop_at));
        assert!(
            matches!(r.result, Err(WaitError::Stopped(Stop::Terminate))),
            "{what}: {:?}",
            r.result
        );
        assert_eq!((r.starts, r.ended), (vec![0.0], ended), "{what}");
    }
}
