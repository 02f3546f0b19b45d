//! Durations and timestamps as users read them, with no date-time crate.

/// `Xm Ys` or `Ns`: `m = floor(s/60)`, `m > 0` → `"<m>m <s%60>s"`, else `"<s>s"`.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    let m = s / 60;
    if m > 0 {
        format!("{m}m {}s", s % 60)
    } else {
        format!("{s}s")
    }
}

/// A coarse elapsed time for "still waiting" lines: `45s`, `5m`, `1h 05m`.
pub fn elapsed(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        _ => format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn unix_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// An ISO-8601 timestamp from the API (`2026-11-24T08:42:20.123Z`, or with an offset) as
/// `YYYY-MM-DD HH:MM:SS UTC`. Anything unparseable is returned as it came.
pub fn iso_utc(iso: &str) -> String {
    parse_iso(iso).map_or_else(|| iso.to_string(), unix_utc)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` into unix seconds.
pub fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if s.len() < 19 || !matches!(s.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let r = rest[1..].replace(':', "");
            if r.len() != 4 || !r.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            sign * (r[..2].parse::<i64>().ok()? * 3600 + r[2..].parse::<i64>().ok()? * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

// Howard Hinnant's civil-calendar algorithms.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_minutes_and_seconds_elapsed_as_hours_and_minutes() {
        assert_eq!(duration(0.0), "0s");
        assert_eq!(duration(59.4), "59s");
        assert_eq!(duration(60.0), "1m 0s");
        assert_eq!(duration(125.0), "2m 5s");
        assert_eq!(elapsed(300), "5m");
        assert_eq!(elapsed(3900), "1h 05m");
    }

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(unix_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(unix_utc(1_790_000_000), "2026-09-21 14:13:20 UTC");
        assert_eq!(parse_iso("2026-09-21T14:13:20.123Z"), Some(1_790_000_000));
        assert_eq!(parse_iso("2026-09-21T16:13:20+02:00"), Some(1_790_000_000));
        assert_eq!(iso_utc("yesterday"), "yesterday");
        assert_eq!(parse_iso("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_iso("2026-01-01T00:00:00+0"), None);
    }
}
