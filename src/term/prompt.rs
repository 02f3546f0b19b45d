//! Questions on a terminal: a yes/no confirmation and a numbered choice. Only asked when both
//! stdin and stdout are a terminal; callers decide what happens otherwise (never a hang
//! waiting for input that cannot come). A stop (Ctrl-C, SIGTERM, SIGHUP) ends the question at
//! once: the answer is read on a helper thread through `exit::signal::run`, and the
//! terminal's mode is never changed, so nothing needs restoring; the caller then finds the
//! stop with `exit::signal::check`.

use std::io::{BufRead, IsTerminal};

/// Whether a question can be asked: stdin and stdout are both a terminal.
pub fn can_prompt() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// One line from stdin; `None` when stdin closes or a stop is recorded (the abandoned read
/// ends with the process).
fn read_answer() -> Option<String> {
    let read = crate::exit::signal::run(|| {
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim().to_string()),
        }
    });
    match read {
        Ok(answer) => answer,
        Err(_) => {
            // The message that follows starts on a line of its own, not after the question.
            super::live::out_raw("\n");
            None
        }
    }
}

/// `question [y/N] `: true only for y/yes; `None` when stdin closes (Ctrl-D).
pub fn confirm(question: &str) -> Option<bool> {
    super::live::out_raw(&format!("{question} [y/N] "));
    read_answer().map(|a| matches!(a.to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// A numbered list and `Choose 1-N: `, asked again (up to 5 times) until the answer is one
/// of the numbers; `None` when stdin closes or no valid answer comes.
pub fn choose(title: &str, items: &[String]) -> Option<usize> {
    super::live::out_raw(&format!("{title}\n"));
    for (i, item) in items.iter().enumerate() {
        super::live::out_raw(&format!("  {}) {item}\n", i + 1));
    }
    for _ in 0..5 {
        super::live::out_raw(&format!("Choose 1-{}: ", items.len()));
        let answer = read_answer()?;
        if let Ok(n) = answer.parse::<usize>()
            && (1..=items.len()).contains(&n)
        {
            return Some(n - 1);
        }
    }
    None
}
