//! The one minimum-progress rule of every streamed transfer (docs/http-api.md, "Transfers
//! must make progress"): a body that moves fewer than [`MIN_BYTES`] in a window of
//! [`Timings::transfer_window`] (60 s, scaled by `DCD_TIME_SCALE`) has stalled, and its next
//! read fails.
//!
//! The per-read timeout of the HTTP agent alone cannot end a transfer that drips a byte
//! just before each timeout: every read succeeds, and a gigabyte would take years. This
//! wrapper counts what each window brought instead. It is checked when a read returns, so
//! a stall ends within a window plus one per-read timeout. A stop (Ctrl-C) also ends it at
//! the next read: the transfer runs on a worker through `exit::signal::run`, which returns at
//! once, and the abandoned worker then stops reading.

use crate::clock::Timings;
use std::io::{self, Read};
use std::time::{Duration, Instant};

/// The fewest bytes a transfer must move in every window: 64 KiB a minute, about 1 KiB/s.
pub const MIN_BYTES: u64 = 64 << 10;

/// A reader that fails once a window passes with fewer than [`MIN_BYTES`] read.
#[derive(Debug)]
pub struct MinProgress<R> {
    inner: R,
    window: Duration,
    /// The window in unscaled seconds, for the message.
    shown_secs: u64,
    started: Instant,
    moved: u64,
}

impl<R: Read> MinProgress<R> {
    /// `inner`, held to the rule from now on.
    pub fn new(inner: R, timings: &Timings) -> MinProgress<R> {
        MinProgress {
            inner,
            window: timings.transfer_window,
            shown_secs: timings.unscale(timings.transfer_window).as_secs(),
            started: Instant::now(),
            moved: 0,
        }
    }

    fn stalled(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the transfer stalled: less than {} KiB in {} s",
                MIN_BYTES >> 10,
                self.shown_secs
            ),
        )
    }
}

impl<R: Read> Read for MinProgress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if crate::exit::signal::pending().is_some() {
            // Not `Interrupted`: readers retry that kind.
            return Err(io::Error::other("stopped"));
        }
        let r = self.inner.read(buf);
        if let Ok(n) = r {
            self.moved += n as u64;
        }
        let now = Instant::now();
        if now.duration_since(self.started) >= self.window {
            // The end of the body is never a stall; an error says more than "stalled".
            if self.moved < MIN_BYTES && matches!(r, Ok(n) if n > 0) {
                return Err(self.stalled());
            }
            self.started = now;
            self.moved = 0;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out `chunk` bytes per read, sleeping `pause` before each, `total` in all.
    struct Drip {
        chunk: usize,
        pause: Duration,
        left: usize,
    }

    impl Read for Drip {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Ok(0);
            }
            std::thread::sleep(self.pause);
            let n = self.chunk.min(buf.len()).min(self.left);
            buf[..n].fill(b'x');
            self.left -= n;
            Ok(n)
        }
    }

    /// A window of `ms` at the time scale 0.01.
    fn t(ms: u64) -> Timings {
        let mut t = Timings::scaled(0.01);
        t.transfer_window = Duration::from_millis(ms);
        t
    }

    /// Everything `r` gives, read 64 KiB at a time.
    fn drain(mut r: impl Read) -> io::Result<usize> {
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0;
        loop {
            match r.read(&mut buf)? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    #[test]
    fn a_drip_below_the_minimum_stalls_after_a_window() {
        let drip = Drip {
            chunk: 1,
            pause: Duration::from_millis(5),
            left: usize::MAX,
        };
        let start = Instant::now();
        let e = drain(MinProgress::new(drip, &t(50))).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            e.to_string(),
            "the transfer stalled: less than 64 KiB in 5 s"
        );
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_steady_body_and_a_short_one_both_arrive_whole() {
        // Fast enough: 64 KiB every 2 ms, over several 200 ms windows.
        let fast = Drip {
            chunk: 64 << 10,
            pause: Duration::from_millis(2),
            left: 16 << 20,
        };
        assert_eq!(drain(MinProgress::new(fast, &t(200))).unwrap(), 16 << 20);
        // A short body whose end is read after the window: the end is never a stall.
        let short = Drip {
            chunk: 10,
            pause: Duration::ZERO,
            left: 10,
        };
        let mut r = MinProgress::new(short, &t(50));
        let mut buf = [0u8; 64];
        assert_eq!(r.read(&mut buf).unwrap(), 10);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(r.read(&mut buf).unwrap(), 0);
    }
}
