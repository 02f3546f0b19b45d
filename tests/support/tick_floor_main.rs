//! `tick-floor`: the floor under `make bench`'s terminal-wait figure. It does only what any
//! 1 Hz redraw must do each tick — sleep until the tick, ask the terminal's size, write one
//! two-line update (the spinner line and the countdown line) — and prints its own CPU time per
//! tick, counted from inside the loop (start-up excluded), as JSON.
//!
//! Usage: `tick-floor <tick seconds> <ticks>`, with stdout on the pseudo-terminal.

use std::io::Write;
use std::time::Duration;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills a struct we own.
    let r = unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut r);
        r
    };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(r.ru_utime) + t(r.ru_stime)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tick: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(0.01);
    let ticks: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1200);
    let update = "\x1b[2A\r\x1b[2K\x1b[34m◐\x1b[0m \x1b[1mWaiting for results\x1b[0m\x1b[1B\r\
                  \x1b[2K  \x1b[2mnext refresh in 14s\x1b[0m\n";
    let start = cpu_seconds();
    for _ in 0..ticks {
        std::thread::sleep(Duration::from_secs_f64(tick));
        // SAFETY: TIOCGWINSZ fills a winsize struct we own.
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            libc::ioctl(1, libc::TIOCGWINSZ, &mut ws);
        }
        let _ = std::io::stdout().lock().write_all(update.as_bytes());
    }
    let per_tick = (cpu_seconds() - start) / f64::from(ticks.max(1));
    eprintln!(
        "{{\"ticks\": {ticks}, \"bytes\": {}, \"cpu_per_tick_s\": {per_tick}}}",
        update.len()
    );
}
