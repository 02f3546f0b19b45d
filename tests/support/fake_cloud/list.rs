//! `GET /uploads/list` (docs/http-api.md, "Endpoints used by this build"): name wildcards, date bounds, newest first, pages.

use serde_json::{Value, json};

use super::Shared;
use super::http::{Request, Response};

/// One row of `GET /uploads/list`.
pub fn listed(id: &str, name: Option<&str>, created_at: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "created_at": created_at,
        "consoleUrl": format!("https://console.devicecloud.dev/results?upload={id}"),
    })
}

pub(super) fn list_uploads(shared: &Shared, req: &Request) -> Response {
    let param = |n: &str| {
        req.query
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let int = |n: &str, default: u64| -> Result<u64, Response> {
        match param(n) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| Response::nest(400, &format!("{n} must be a non-negative integer"))),
        }
    };
    let (limit, offset) = match (int("limit", 20), int("offset", 0)) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let bound = |n: &str, end_of_day: bool| -> Result<Option<i64>, Response> {
        match param(n) {
            None => Ok(None),
            Some(v) => parse_date(v, end_of_day)
                .map(Some)
                .ok_or_else(|| Response::nest(400, &format!("Invalid {n} date"))),
        }
    };
    let (from, to) = match (bound("from", false), bound("to", true)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let name = param("name");
    let mut rows: Vec<&Value> = shared
        .scenario
        .uploads
        .iter()
        .filter(|u| match name {
            None => true,
            Some(pat) => u
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| wildcard_match(pat, n)),
        })
        .filter(|u| {
            let at = u
                .get("created_at")
                .and_then(Value::as_str)
                .and_then(|c| parse_date(c, false));
            match at {
                Some(t) => from.is_none_or(|f| t >= f) && to.is_none_or(|e| t <= e),
                None => from.is_none() && to.is_none(),
            }
        })
        .collect();
    // Newest first.
    rows.sort_by_key(|u| {
        std::cmp::Reverse(
            u.get("created_at")
                .and_then(Value::as_str)
                .and_then(|c| parse_date(c, false))
                .unwrap_or(i64::MIN),
        )
    });
    let total = rows.len();
    let page: Vec<Value> = rows
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .cloned()
        .collect();
    Response::json(
        200,
        &json!({"uploads": page, "total": total, "limit": limit, "offset": offset}),
    )
}

/// Case-insensitive match where `*` is any run of characters (an SQL `ILIKE` with `%`).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Classic greedy match with backtracking to the last star.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM]` as unix seconds. A bare date is its first
/// second, or with `end_of_day` its last.
pub fn parse_date(s: &str, end_of_day: bool) -> Option<i64> {
    let s = s.trim();
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    if s.get(4..5) != Some("-") || s.get(7..8) != Some("-") {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    if s.len() == 10 {
        return Some(days * 86_400 + if end_of_day { 86_399 } else { 0 });
    }
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' ')) || s.get(13..14) != Some(":") {
        return None;
    }
    let (h, mi) = (num(11, 13)?, num(14, 16)?);
    let mut rest = &s[16..];
    let mut sec = 0;
    if let Some(r) = rest.strip_prefix(':') {
        sec = r.get(..2)?.parse::<i64>().ok()?;
        rest = &r[2..];
        if let Some(r) = rest.strip_prefix('.') {
            rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
        }
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = if rest.starts_with('+') {
                1
            } else if rest.starts_with('-') {
                -1
            } else {
                return None;
            };
            let r = rest[1..].replace(':', "");
            if r.len() != 4 {
                return None;
            }
            sign * (r[..2].parse::<i64>().ok()? * 3600 + r[2..].parse::<i64>().ok()? * 60)
        }
    };
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
