//! Writing to the terminal, and the live frame redrawn in place.
//!
//! Every write takes one global lock. The live frame remembers how many lines it drew, so it
//! can move the cursor back up, clear, and draw the next frame; lines printed while a frame
//! is up (warnings) go above it.
//!
//! A failed write to stdout is remembered ([`stdout_failure`]) and nothing more is written
//! there: a full disk or a closed file makes the command fail with exit 1 at the end. A
//! closed pipe (the reader went away, `dcd … | head`) records a stop instead, so the
//! command ends promptly and quietly.

use std::io::Write;
use std::sync::Mutex;

struct State {
    /// Lines of the live frame currently on screen (0 = none).
    drawn: usize,
    frame: Vec<String>,
    cursor_hidden: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    drawn: 0,
    frame: Vec::new(),
    cursor_hidden: false,
});

fn lock() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

// The frame always ends with a newline, so the cursor rests at the start of the line below
// it: erasing is "up N lines, clear to the end of the screen", and a whole redraw is one
// write (stdout is line-buffered; a buffer that ends in a newline goes out in one syscall).
fn erase(buf: &mut String, st: &State) {
    if st.drawn > 0 {
        buf.push_str(&format!("\x1b[{}A\r\x1b[J", st.drawn));
    }
}

fn draw(buf: &mut String, st: &mut State) {
    for l in &st.frame {
        buf.push_str(l);
        buf.push('\n');
    }
    st.drawn = st.frame.len();
}

/// The first failed write to stdout, as its error text.
static STDOUT_FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Why writing to stdout failed, if it did (a closed pipe is not reported here).
pub fn stdout_failure() -> Option<String> {
    STDOUT_FAILED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

fn write_all(fd: i32, s: &str) {
    if fd != 1 {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(s.as_bytes()).and_then(|_| e.flush());
        return;
    }
    let mut failed = STDOUT_FAILED.lock().unwrap_or_else(|e| e.into_inner());
    if failed.is_some() || crate::exit::signal::pending() == Some(crate::exit::Stop::BrokenPipe) {
        return;
    }
    let mut o = std::io::stdout().lock();
    match o.write_all(s.as_bytes()).and_then(|_| o.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            crate::exit::signal::record(crate::exit::Stop::BrokenPipe);
        }
        Err(e) => *failed = Some(e.to_string()),
    }
}

/// Writes `s` to stdout as it is (a prompt that waits on the same line).
pub fn out_raw(s: &str) {
    let _st = lock();
    write_all(1, s);
}

/// Prints lines to stdout (above the live frame, if one is up).
pub fn out_line(s: &str) {
    print_above(1, s);
}

/// Prints lines to stderr (above the live frame, if one is up).
pub fn err_line(s: &str) {
    print_above(2, s);
}

/// `⚠ <msg>` on stderr, yellow when stderr is coloured.
pub fn warn(msg: &str, style: crate::render::Style) {
    err_line(&style.yellow(&format!("⚠ {msg}")));
}

fn print_above(fd: i32, s: &str) {
    let mut st = lock();
    if st.drawn == 0 {
        write_all(fd, &format!("{s}\n"));
        return;
    }
    let mut buf = String::new();
    erase(&mut buf, &st);
    write_all(1, &buf);
    write_all(fd, &format!("{s}\n"));
    let mut buf = String::new();
    draw(&mut buf, &mut st);
    write_all(1, &buf);
}

/// The in-place frame of an interactive wait. Dropping it erases the frame and restores the
/// cursor.
pub struct Live {
    _private: (),
}

impl Live {
    pub fn start() -> Live {
        let mut st = lock();
        st.cursor_hidden = true;
        write_all(1, "\x1b[?25l");
        Live { _private: () }
    }

    /// Replaces the frame on screen with `lines`. When the new frame has as many lines as
    /// the old one, only the lines that changed are rewritten (usually the spinner and the
    /// countdown): a tick costs a few dozen bytes instead of the whole frame.
    pub fn draw(&mut self, lines: Vec<String>) {
        let mut st = lock();
        let mut buf = String::new();
        if st.drawn > 0 && st.drawn == lines.len() && st.frame.len() == lines.len() {
            let n = st.drawn;
            let mut row = n; // the cursor rests on the line below the frame
            for (i, (old, new)) in st.frame.iter().zip(&lines).enumerate() {
                if old == new {
                    continue;
                }
                if row > i {
                    buf.push_str(&format!("\x1b[{}A", row - i));
                } else if row < i {
                    buf.push_str(&format!("\x1b[{}B", i - row));
                }
                buf.push_str("\r\x1b[2K");
                buf.push_str(new);
                row = i;
            }
            if row < n {
                buf.push_str(&format!("\x1b[{}B\r", n - row));
            }
            st.frame = lines;
        } else {
            erase(&mut buf, &st);
            st.frame = lines;
            draw(&mut buf, &mut st);
        }
        if !buf.is_empty() {
            write_all(1, &buf);
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let mut st = lock();
        restore(&mut st);
    }
}

fn restore(st: &mut State) {
    let mut buf = String::new();
    erase(&mut buf, st);
    st.drawn = 0;
    st.frame.clear();
    if st.cursor_hidden {
        buf.push_str("\x1b[?25h");
        st.cursor_hidden = false;
    }
    write_all(1, &buf);
}
