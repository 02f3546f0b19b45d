//! The live frame survives a resize: the real `dcd status --watch` on a pseudo-terminal that
//! is narrowed (and widened) mid-run, its output played through a small terminal emulator —
//! one that rewraps its screen on a resize like most terminals do, and one that cuts lines
//! like xterm — and the screen must then show the frame exactly once, with every row.

use crate::support::fake_cloud::*;
use crate::support::*;
use serde_json::Value;
use std::time::Duration;

const KEY: &str = "resize-test-key-0123456789";
const LIMIT: Duration = Duration::from_secs(30);
const ROWS: u16 = 30;

/// Long names, each unique in its first characters, so a cut line still names its flow.
const FLOWS: [&str; 5] = [
    "./f1_checkout_with_a_rather_long_and_descriptive_name.yaml",
    "./f2_search_for_products_by_category_and_by_keyword.yaml",
    "./f3_login_with_two_factor_authentication_enabled.yaml",
    "./f4_profile_picture_upload_from_the_photo_library.yaml",
    "./f5_logout_and_back_in_again_with_remembered_account.yaml",
];

// ---------------------------------------------------------------------------------------
// A small terminal emulator: printable characters (wide ones take two cells), CR, LF,
// autowrap with a pending wrap at the last column, scrolling, CSI A/B/J/K; every other
// escape is ignored. A resize either rewraps the screen's logical lines or cuts rows.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Cell {
    Empty,
    Char(char),
    /// The right half of a wide character.
    Cont,
}

#[derive(Clone)]
struct Row {
    cells: Vec<Cell>,
    /// The text goes on on the next row (autowrap), so a rewrap joins them.
    wrapped: bool,
}

struct Screen {
    cols: usize,
    rows: Vec<Row>,
    r: usize,
    c: usize,
    pending_wrap: bool,
}

fn width_of(c: char) -> usize {
    dcd::render::visible_width(&c.to_string())
}

impl Screen {
    fn new(cols: usize, rows: usize) -> Screen {
        Screen {
            cols,
            rows: (0..rows).map(|_| Screen::blank(cols)).collect(),
            r: 0,
            c: 0,
            pending_wrap: false,
        }
    }

    fn blank(cols: usize) -> Row {
        Row {
            cells: vec![Cell::Empty; cols],
            wrapped: false,
        }
    }

    fn line_feed(&mut self) {
        if self.r + 1 == self.rows.len() {
            self.rows.remove(0);
            self.rows.push(Screen::blank(self.cols));
        } else {
            self.r += 1;
        }
    }

    fn put(&mut self, ch: char) {
        let w = width_of(ch);
        if w == 0 {
            return;
        }
        if self.pending_wrap || self.c + w > self.cols {
            self.rows[self.r].wrapped = true;
            self.line_feed();
            self.c = 0;
            self.pending_wrap = false;
        }
        self.rows[self.r].cells[self.c] = Cell::Char(ch);
        if w == 2 {
            self.rows[self.r].cells[self.c + 1] = Cell::Cont;
        }
        if self.c + w == self.cols {
            self.c = self.cols - 1;
            self.pending_wrap = true;
        } else {
            self.c += w;
        }
    }

    fn csi(&mut self, params: &str, op: char) {
        let n = params.parse::<usize>().unwrap_or(0);
        self.pending_wrap = false;
        match op {
            'A' => self.r = self.r.saturating_sub(n.max(1)),
            'B' => self.r = (self.r + n.max(1)).min(self.rows.len() - 1),
            'J' if n == 0 => {
                for c in self.c..self.cols {
                    self.rows[self.r].cells[c] = Cell::Empty;
                }
                self.rows[self.r].wrapped = false;
                for r in self.r + 1..self.rows.len() {
                    self.rows[r] = Screen::blank(self.cols);
                }
            }
            'K' => {
                let from = if n == 2 { 0 } else { self.c };
                for c in from..self.cols {
                    self.rows[self.r].cells[c] = Cell::Empty;
                }
                self.rows[self.r].wrapped = false;
            }
            _ => {}
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let mut it = text.chars().peekable();
        while let Some(ch) = it.next() {
            match ch {
                '\x1b' => {
                    if it.peek() == Some(&'[') {
                        it.next();
                        let mut params = String::new();
                        for c in it.by_ref() {
                            if c.is_ascii_alphabetic() {
                                if !params.starts_with('?') {
                                    self.csi(&params, c);
                                }
                                break;
                            }
                            params.push(c);
                        }
                    } else {
                        it.next();
                    }
                }
                '\r' => {
                    self.c = 0;
                    self.pending_wrap = false;
                }
                '\n' => {
                    self.pending_wrap = false;
                    self.line_feed();
                }
                c if (c as u32) < 0x20 => {}
                c => self.put(c),
            }
        }
    }

    /// A new width: rows cut (or padded), or the logical lines rewrapped, the cursor kept on
    /// its character; content that no longer fits scrolls off the top.
    fn resize(&mut self, cols: usize, rewrap: bool) {
        if !rewrap {
            for row in &mut self.rows {
                row.cells.resize(cols, Cell::Empty);
                if let Some(Cell::Cont) = row.cells.first() {
                    row.cells[0] = Cell::Empty;
                }
                row.wrapped = false;
            }
            self.cols = cols;
            self.c = self.c.min(cols - 1);
            self.pending_wrap = false;
            return;
        }
        // Logical lines, with the cursor as (line, cell offset).
        let mut lines: Vec<Vec<Cell>> = vec![Vec::new()];
        let mut cursor = (0, 0);
        for (i, row) in self.rows.iter().enumerate() {
            let n = lines.len() - 1;
            let line = &mut lines[n];
            if i == self.r {
                cursor = (n, line.len() + self.c);
            }
            line.extend(&row.cells);
            if !row.wrapped {
                lines.push(Vec::new());
            }
        }
        let mut rows = Vec::new();
        let mut new_cursor = (0, 0);
        for (i, mut line) in lines.into_iter().enumerate() {
            let keep = if i == cursor.0 { cursor.1 } else { 0 };
            while line.len() > keep && line.last() == Some(&Cell::Empty) {
                line.pop();
            }
            let start = rows.len();
            let mut row = Screen::blank(cols);
            let mut at = 0;
            for cell in line.iter() {
                let w = match cell {
                    Cell::Cont => continue,
                    Cell::Char(c) if width_of(*c) == 2 => 2,
                    _ => 1,
                };
                if at + w > cols {
                    row.wrapped = true;
                    rows.push(std::mem::replace(&mut row, Screen::blank(cols)));
                    at = 0;
                }
                row.cells[at] = *cell;
                if w == 2 {
                    row.cells[at + 1] = Cell::Cont;
                }
                at += w;
            }
            rows.push(row);
            if i == cursor.0 {
                new_cursor = (start + cursor.1 / cols, cursor.1 % cols);
            }
        }
        // Blank rows below the cursor go first; then the screen keeps its height by
        // scrolling what is too much off the top.
        let used = rows
            .iter()
            .rposition(|r| r.cells.iter().any(|c| *c != Cell::Empty))
            .map_or(0, |i| i + 1)
            .max(new_cursor.0 + 1);
        rows.truncate(used);
        let height = self.rows.len();
        let extra = rows.len().saturating_sub(height).min(new_cursor.0);
        rows.drain(..extra);
        rows.resize(height.max(rows.len()), Screen::blank(cols));
        rows.truncate(height);
        self.rows = rows;
        self.cols = cols;
        self.r = (new_cursor.0 - extra).min(height - 1);
        self.c = new_cursor.1;
        self.pending_wrap = false;
    }

    fn text(&self) -> String {
        self.rows
            .iter()
            .map(|row| {
                let s: String = row
                    .cells
                    .iter()
                    .filter_map(|c| match c {
                        Cell::Empty => Some(' '),
                        Cell::Char(c) => Some(*c),
                        Cell::Cont => None,
                    })
                    .collect();
                s.trim_end().to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[test]
fn the_emulator_wraps_rewraps_and_cuts() {
    let mut s = Screen::new(10, 4);
    s.feed(b"abcdefghijkl\r\nxy\r\n");
    assert_eq!(s.text(), "abcdefghij\nkl\nxy\n");
    assert_eq!((s.r, s.c), (3, 0));
    s.resize(5, true);
    assert_eq!(s.text(), "fghij\nkl\nxy\n", "abcde scrolled off the top");
    assert_eq!((s.r, s.c), (3, 0));
    let mut s = Screen::new(10, 4);
    s.feed("ab✓⏳\r\n".as_bytes());
    s.resize(3, false);
    assert_eq!(s.text(), "ab✓\n\n\n");
    s.feed(b"\x1b[1A\r\x1b[Jzz");
    assert_eq!(s.text(), "zz\n\n\n");
}

// ---------------------------------------------------------------------------------------

fn rows_with(status: &str) -> Vec<Value> {
    FLOWS
        .iter()
        .enumerate()
        .map(|(i, f)| row(i as i64 + 1, f, status))
        .collect()
}

/// How often `needle` shows on the screen.
fn count(screen: &str, needle: &str) -> usize {
    screen.matches(needle).count()
}

fn assert_one_whole_frame(screen: &str, what: &str) {
    assert_eq!(
        count(screen, "Waiting for results"),
        1,
        "{what}: one header\n{screen}"
    );
    for f in FLOWS {
        let id = &f[..5];
        assert_eq!(count(screen, id), 1, "{what}: one row for {id}\n{screen}");
    }
    // The footer counts down, or says a fetch is under way.
    assert_eq!(
        count(screen, "next refresh in") + count(screen, "refreshing"),
        1,
        "{what}: one footer\n{screen}"
    );
}

/// Runs a watch on a pty of 120 columns; once the frame is up, resizes to each width of
/// `widths` in turn (letting a few redraws happen after each) and checks the screen of both
/// emulators after every step; then lets the run finish.
fn resize_mid_run(widths: &[u16]) {
    let cloud = FakeCloud::start(
        Scenario::new(vec![rows_with("RUNNING"), rows_with("PASSED")])
            .manual()
            .api_key(KEY),
    );
    let (mut c, _dir) = dcd();
    c.args(["status", "--watch", "--upload-id", cloud.upload_id()])
        .args(["--api-url", &cloud.url(), "--api-key", KEY])
        .env("DCD_TIME_SCALE", "0.05");
    let pty = LivePty::spawn(c, 120, ROWS);
    assert!(
        pty.wait_for("f5_logout", LIMIT),
        "{}",
        String::from_utf8_lossy(&pty.output())
    );
    // A few redraws at the first size.
    std::thread::sleep(Duration::from_millis(200));
    let mut cuts = vec![(120usize, 0usize)];
    for &w in widths {
        let at = pty.resize(w, ROWS);
        cuts.push((w as usize, at));
        // The frame is redrawn every 50 ms; give it several.
        std::thread::sleep(Duration::from_millis(400));
        let bytes = pty.output();
        for rewrap in [true, false] {
            let mut screen = Screen::new(120, ROWS as usize);
            for (i, (width, from)) in cuts.iter().enumerate() {
                if i > 0 {
                    screen.resize(*width, rewrap);
                }
                let to = cuts.get(i + 1).map_or(bytes.len(), |(_, at)| *at);
                screen.feed(&bytes[*from..to]);
            }
            let kind = if rewrap { "rewrapping" } else { "cutting" };
            assert_one_whole_frame(&screen.text(), &format!("{kind} terminal at {w} columns"));
        }
    }
    cloud.set_snapshot(1);
    let (code, bytes) = pty.finish(LIMIT);
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Run completed: all 5 tests passed"), "{text}");
}

#[test]
fn narrowing_the_terminal_mid_run_redraws_the_whole_frame() {
    resize_mid_run(&[60]);
}

#[test]
fn narrowing_twice_then_widening_keeps_one_frame() {
    resize_mid_run(&[80, 45, 100]);
}
