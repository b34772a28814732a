//! Words and numbers as the view prints them, and `--once`'s text and JSON.

use crate::frame::Frame;

/// `90` → `1m30s`, `3600` → `1h`.
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if s > 0 || out.is_empty() {
        out += &format!("{s}s");
    }
    out
}

/// A number in at most about six characters: `0.25`, `12.3`, `4.1k`, `2.0M`.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_owned();
    }
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a == 0.0 {
        "0".to_owned()
    } else {
        format!("{v:.2}")
    }
}

/// A request's latency from milliseconds: `850ms`, `3.1s`, `15.0s`, `2m5s`.
pub fn latency(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        "-".to_owned()
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else if ms < 100_000.0 {
        format!("{:.1}s", ms / 1000.0)
    } else {
        duration((ms / 1000.0).round() as u64)
    }
}

/// A percentage, or `-`.
pub fn pct(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or_else(|| "-".to_owned(), |v| format!("{v:.0}%"))
}

/// A number with its unit, or `-`.
pub fn opt(v: Option<f64>, unit: &str) -> String {
    v.filter(|v| v.is_finite())
        .map_or_else(|| "-".to_owned(), |v| format!("{}{unit}", num(v)))
}

/// `CRITICAL` → `CRIT`.
pub fn short_severity(s: &str) -> String {
    s.chars().take(4).collect()
}

/// A user name in `width` characters: a service account loses its prefix, a longer name its
/// middle.
pub fn short_user(user: &str, width: usize) -> String {
    let user = user
        .strip_prefix("system:serviceaccount:")
        .map_or_else(|| user.to_owned(), |rest| format!("sa:{rest}"));
    let n = user.chars().count();
    if n <= width || width < 5 {
        return user;
    }
    let keep = width - 1;
    let head: String = user.chars().take(keep / 2).collect();
    let tail: String = user.chars().skip(n - (keep - keep / 2)).collect();
    format!("{head}…{tail}")
}

/// The last `width` points as block characters scaled to their maximum.
pub fn sparkline(points: &[u64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let points = &points[points.len().saturating_sub(width)..];
    let max = points.iter().copied().max().unwrap_or(0);
    points
        .iter()
        .map(|&p| {
            if max == 0 {
                BARS[0]
            } else {
                BARS[((p as f64 / max as f64) * 7.0).round() as usize]
            }
        })
        .collect()
}

/// The frame as JSON, one object.
pub fn render_json(frame: &Frame) -> String {
    serde_json::to_string_pretty(frame).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_read_in_the_unit_that_fits() {
        assert_eq!(latency(1.5), "2ms");
        assert_eq!(latency(850.0), "850ms");
        assert_eq!(latency(15_000.0), "15.0s");
        assert_eq!(latency(125_000.0), "2m5s");
        assert_eq!(latency(f64::NAN), "-");
    }
}
