//! The one duration syntax of apilens: every flag, every `--since`, every API `step` and every Go
//! duration in an audit log is read by [`parse_duration`], and [`format_duration`] writes one
//! back as Prometheus prints it.

use std::time::Duration;

/// Nanoseconds per unit, longest spelling first where one is a prefix of another.
const UNITS: [(&str, u128); 11] = [
    ("y", 365 * 86_400 * NANOS_PER_SEC),
    ("w", 7 * 86_400 * NANOS_PER_SEC),
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ns", 1),
];

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Digits of a fraction kept; later ones are below a nanosecond of any unit up to a year.
const MAX_FRACTION_DIGITS: u32 = 20;

/// A text that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {text:?}: expected numbers with units (y, w, d, h, m, s, ms, us, ns), e.g. 15s, 1h30m or 1.5h"
)]
pub struct DurationError {
    /// The text as given.
    pub text: String,
}

/// Parses a duration: Prometheus's syntax (`15s`, `1h30m`, `7d`, `2w`, `1y`, `0`), with
/// fractions (`1.5h`, `0.5s`) and Go's sub-millisecond units (`415ns`, `12µs`, `1.150272ms`).
///
/// A duration is `0` or one or more terms, each a decimal number and a unit (`y` is 365 days,
/// `w` 7 days); surrounding spaces are ignored. The value is exact to the nanosecond.
///
/// ```
/// use apilens_model::parse_duration;
/// use std::time::Duration;
///
/// assert_eq!(parse_duration("1h30m")?, Duration::from_secs(5400));
/// assert_eq!(parse_duration("1.5h")?, Duration::from_secs(5400));
/// assert_eq!(parse_duration("250ms")?, Duration::from_millis(250));
/// assert!(parse_duration("15").is_err());
/// # Ok::<(), apilens_model::DurationError>(())
/// ```
///
/// # Errors
///
/// [`DurationError`] naming the text when it is empty, a number lacks a unit, a unit is
/// unknown, or the total passes `i64::MAX` milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let bad = || DurationError {
        text: text.to_owned(),
    };
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    if trimmed.is_empty() {
        return Err(bad());
    }
    let mut rest = trimmed;
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let per_unit = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, n)| *n)
            .ok_or_else(bad)?;
        let term = scaled(number, per_unit).ok_or_else(bad)?;
        nanos = nanos.checked_add(term).ok_or_else(bad)?;
        rest = after;
    }
    if nanos / 1_000_000 > i64::MAX as u128 {
        return Err(bad());
    }
    let secs = u64::try_from(nanos / NANOS_PER_SEC).map_err(|_| bad())?;
    Ok(Duration::new(secs, (nanos % NANOS_PER_SEC) as u32))
}

/// `number` (digits with at most one `.`, at least one digit) times `per_unit`, exactly, in
/// nanoseconds (a fraction finer than a nanosecond is dropped).
fn scaled(number: &str, per_unit: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut total = whole.checked_mul(per_unit)?;
    let digits = &fraction[..fraction.len().min(MAX_FRACTION_DIGITS as usize)];
    if !digits.is_empty() {
        let numerator: u128 = digits.parse().ok()?;
        let scale = 10u128.pow(digits.len() as u32);
        total = total.checked_add(numerator * per_unit / scale)?;
    }
    Some(total)
}

/// `d` in the syntax [`parse_duration`] reads, as Prometheus prints a duration: the largest
/// units first, down to milliseconds (`1800s` → `30m`, `5400s` → `1h30m`, `7d` → `1w`, zero →
/// `0s`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, nanos) in UNITS.iter().take(7) {
        let size = nanos / 1_000_000;
        if ms >= size {
            out += &format!("{}{unit}", ms / size);
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formatted_duration_reads_back_the_same() {
        for (secs, text) in [(0, "0s"), (1800, "30m"), (5400, "1h30m"), (604_800, "1w")] {
            let d = Duration::from_secs(secs);
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text).unwrap(), d);
        }
        let d = Duration::from_millis(3_661_250);
        assert_eq!(format_duration(d), "1h1m1s250ms");
        assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
    }

    fn ms(text: &str) -> Option<u128> {
        parse_duration(text).ok().map(|d| d.as_millis())
    }

    #[test]
    fn prometheus_durations() {
        for (text, want) in [
            ("0", 0),
            ("0s", 0),
            ("15s", 15_000),
            ("1m30s", 90_000),
            ("90s", 90_000),
            ("1h30m", 5_400_000),
            ("10s53ms", 10_053),
            ("7d", 604_800_000),
            ("2w", 1_209_600_000),
            ("1y", 31_536_000_000),
            ("1y2w3d4h5m6s7ms", 33_019_506_007),
            (" 5m ", 300_000),
        ] {
            assert_eq!(ms(text), Some(want), "{text}");
        }
    }

    #[test]
    fn fractions_and_go_units_are_exact() {
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m2.5s"), Ok(Duration::from_millis(62_500)));
        assert_eq!(
            parse_duration("1.150272ms"),
            Ok(Duration::from_nanos(1_150_272))
        );
        assert_eq!(parse_duration("415ns"), Ok(Duration::from_nanos(415)));
        for micro in ["12us", "12µs", "12μs"] {
            assert_eq!(
                parse_duration(micro),
                Ok(Duration::from_micros(12)),
                "{micro}"
            );
        }
    }

    #[test]
    fn anything_else_is_named_in_the_error() {
        for bad in [
            "",
            " ",
            "15",
            "s",
            "5 m",
            "5parsecs",
            "1..5s",
            ".s",
            "-5s",
            "5m-",
            "1e3s",
            "99999999999999999999999y",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!(
            parse_duration("292471209y").is_err(),
            "past i64::MAX milliseconds"
        );
    }
}
