//! "Did you mean …?" for unknown flags and commands.
//!
//! citty silently ignored unknown flags, so a typo in a CI script (`--exclude-tag smoke`)
//! used to run everything. We reject unknown flags, and the rejection is only friendly if it
//! points at what was meant. Candidates are ranked by edit distance (case-insensitive),
//! then by prefix/substring containment, so both typos (`--uplod-id`) and truncations
//! (`--upload`) find their flag.

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The largest edit distance still worth suggesting for an input of this length.
fn max_distance(len: usize) -> usize {
    match len {
        0..=3 => 1,
        4..=8 => 2,
        _ => 3,
    }
}

/// The best candidate for `input`, or `None` when nothing is close.
///
/// `candidates` yields `(spelling, answer)` pairs: `spelling` is matched against the input
/// (a name or an alias), `answer` is what gets suggested (usually the canonical name). Ties
/// keep the earliest candidate, so table order decides.
pub fn closest<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<&'a str> {
    let input = input.to_ascii_lowercase();
    if input.is_empty() {
        return None;
    }
    let limit = max_distance(input.chars().count());
    let mut best: Option<((usize, usize), &'a str)> = None;
    for (spelling, answer) in candidates {
        let spelling = spelling.to_ascii_lowercase();
        let d = edit_distance(&input, &spelling);
        let len_gap = spelling.len().abs_diff(input.len());
        let score = if d <= limit {
            (d, len_gap)
        } else if input.len() >= 3
            && (spelling.starts_with(&input)
                || spelling.contains(&input)
                || (spelling.len() >= 3 && input.contains(&spelling)))
        {
            (limit + 1, len_gap)
        } else {
            continue;
        };
        if best.is_none_or(|(b, _)| score < b) {
            best = Some((score, answer));
        }
    }
    best.map(|(_, answer)| answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    fn pick(input: &str, names: &[&'static str]) -> Option<&'static str> {
        closest(input, names.iter().map(|n| (*n, *n)))
    }

    #[test]
    fn typos_truncations_and_case() {
        let names = [
            "upload-id",
            "api-key",
            "api-url",
            "include-tags",
            "exclude-tags",
        ];
        assert_eq!(pick("uplod-id", &names), Some("upload-id"));
        assert_eq!(pick("upload", &names), Some("upload-id"));
        assert_eq!(pick("API-KEY", &names), Some("api-key"));
        assert_eq!(pick("exclude-tag", &names), Some("exclude-tags"));
        assert_eq!(pick("tags", &names), Some("include-tags"));
        assert_eq!(pick("zzzzzz", &names), None);
        assert_eq!(pick("", &names), None);
    }

    #[test]
    fn closer_edit_beats_containment() {
        assert_eq!(
            pick("stats", &["status", "artifacts-stats"]),
            Some("status")
        );
    }
}
