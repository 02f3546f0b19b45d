//! Writing to the terminal, and the live frame redrawn in place.
//!
//! Every write takes one global lock. The live frame remembers the lines it drew and the
//! terminal width it drew them for, so it can move the cursor back up, clear, and draw the
//! next frame; lines printed while a frame is up (warnings) go above it.
//!
//! The terminal can be resized under the frame. Every line is cut to the width it was drawn
//! for, so at that width each takes one row; after a resize a terminal that rewraps its
//! screen (most do) shows a line of `n` columns on `⌈n / width⌉` rows, and so does a line
//! drawn too wide by autowrap. Erasing therefore always counts the rows of the frame at the
//! width the terminal has now, and a width change redraws the whole frame. (A terminal that
//! cuts lines instead of rewrapping them loses a few lines above the frame then, never the
//! frame.)
//!
//! Every line and prompt passes the output seam's last cleaning on its way out
//! ([`crate::sanitize::for_terminal`]): whatever a caller put in it, only dcd's own
//! colours and line breaks reach the terminal as such.
//!
//! A failed write to stdout is remembered ([`stdout_failure`]) and nothing more is written
//! there: a full disk or a closed file makes the command fail with exit 1 at the end. A
//! closed pipe (the reader went away, `dcd … | head`) records a stop instead, so the
//! command ends promptly and quietly.

use crate::sanitize::for_terminal;
use std::io::Write;
use std::sync::Mutex;

struct State {
    /// Lines of the live frame currently on screen (0 = none).
    drawn: usize,
    frame: Vec<String>,
    /// The terminal width the frame on screen was drawn for.
    width: usize,
    cursor_hidden: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    drawn: 0,
    frame: Vec::new(),
    width: 0,
    cursor_hidden: false,
});

fn lock() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The terminal rows `lines` take on a terminal `width` columns wide: one per line, more
/// for a line wider than the terminal (it wraps).
pub fn rows_at(lines: &[String], width: usize) -> usize {
    let width = width.max(1);
    lines
        .iter()
        .map(|l| crate::render::visible_width(l).div_ceil(width).max(1))
        .sum()
}

/// The width of the terminal on stdout now, else the one the frame was drawn for.
fn width_now(st: &State) -> usize {
    super::size(1).map_or(st.width, |(w, _)| w)
}

// The frame always ends with a newline, so the cursor rests at the start of the line below
// it: erasing is "up N rows, clear to the end of the screen", and a whole redraw is one
// write (stdout is line-buffered; a buffer that ends in a newline goes out in one syscall).
fn erase(buf: &mut String, st: &State, width: usize) {
    if st.drawn > 0 {
        let rows = rows_at(&st.frame, width);
        buf.push_str(&format!("\x1b[{rows}A\r\x1b[J"));
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
    write_all(1, &for_terminal(s));
}

/// Prints lines to stdout (above the live frame, if one is up).
pub fn out_line(s: &str) {
    print_above(1, s);
}

/// Prints a block of lines to stdout in one write (above the live frame, if one is up): a
/// listing of thousands of lines costs one system call, not one per line.
pub fn out_lines(lines: &[String]) {
    if !lines.is_empty() {
        print_above(1, &lines.join("\n"));
    }
}

/// Prints lines to stderr (above the live frame, if one is up).
pub fn err_line(s: &str) {
    print_above(2, s);
}

/// `⚠ <msg>` on stderr, yellow when stderr is coloured, redacted as errors are (a warning
/// may quote a URL or a server answer).
pub fn warn(msg: &str, style: crate::render::Style) {
    err_line(&style.yellow(&format!("⚠ {}", crate::debug::redact(msg))));
}

fn print_above(fd: i32, s: &str) {
    let s = &*for_terminal(s);
    let mut st = lock();
    if st.drawn == 0 {
        write_all(fd, &format!("{s}\n"));
        return;
    }
    let mut buf = String::new();
    let width = width_now(&st);
    erase(&mut buf, &st, width);
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

    /// Replaces the frame on screen with `lines`, cut for a terminal `width` columns wide.
    /// When the width is the one of the frame on screen and the new frame has as many lines
    /// as the old one, only the lines that changed are rewritten (usually the spinner and the
    /// countdown): a tick costs a few dozen bytes instead of the whole frame. Otherwise the
    /// old frame is erased (by its rows at `width`) and the new one drawn whole.
    pub fn draw(&mut self, lines: &[String], width: usize) {
        use std::fmt::Write;
        let mut st = lock();
        let mut buf = String::new();
        let same_width = width == st.width;
        if same_width && st.drawn > 0 && st.drawn == lines.len() && st.frame.len() == lines.len() {
            let n = st.drawn;
            let mut row = n; // the cursor rests on the line below the frame
            for (i, (old, new)) in st.frame.iter_mut().zip(lines).enumerate() {
                let new = for_terminal(new);
                if *old == new {
                    continue;
                }
                new.as_ref().clone_into(old);
                if row > i {
                    let _ = write!(buf, "\x1b[{}A", row - i);
                } else if row < i {
                    let _ = write!(buf, "\x1b[{}B", i - row);
                }
                buf.push_str("\r\x1b[2K");
                buf.push_str(&new);
                row = i;
            }
            if row < n {
                let _ = write!(buf, "\x1b[{}B\r", n - row);
            }
        } else {
            erase(&mut buf, &st, width);
            st.frame = lines.iter().map(|l| for_terminal(l).into_owned()).collect();
            st.width = width;
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
    let width = width_now(st);
    erase(&mut buf, st, width);
    st.drawn = 0;
    st.frame.clear();
    if st.cursor_hidden {
        buf.push_str("\x1b[?25h");
        st.cursor_hidden = false;
    }
    write_all(1, &buf);
}

#[cfg(test)]
mod tests {
    use super::rows_at;

    #[test]
    fn rows_count_the_wrapped_lines_at_the_width_the_terminal_has_now() {
        let lines: Vec<String> = ["a".repeat(70), String::new(), "\x1b[32m✓\x1b[0m ok".into()]
            .into_iter()
            .collect();
        assert_eq!(rows_at(&lines, 100), 3, "one row each");
        assert_eq!(
            rows_at(&lines, 70),
            3,
            "a line of exactly the width fills one row"
        );
        assert_eq!(rows_at(&lines, 69), 4);
        assert_eq!(
            rows_at(&lines, 30),
            5,
            "⌈70 / 30⌉ = 3, escapes take no room"
        );
        assert_eq!(
            rows_at(&["⏳⏳".to_string()], 3),
            2,
            "wide characters take two columns"
        );
        assert_eq!(rows_at(&lines, 0), 75, "never divides by zero");
    }
}
