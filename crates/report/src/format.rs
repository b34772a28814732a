//! Numbers in a panel's unit, and series names from legend templates.

use apilens_model::Labels;
use apilens_panels::Unit;

/// `value` in `unit`, short and readable: `412 ms`, `1.3 GiB`, `12.5/s`, `87%`, `1,234`.
pub fn format_value(value: f64, unit: Unit) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    match unit {
        Unit::Seconds => seconds(value),
        Unit::Bytes => bytes(value),
        Unit::Percent => format!("{}%", significant(value)),
        Unit::PerSecond if value.abs() >= 1000.0 => format!("{}/s", count(value)),
        Unit::PerSecond => format!("{}/s", significant(value)),
        Unit::Ratio => format!("{}x", significant(value)),
        Unit::Count | Unit::Seats => count(value),
    }
}

fn seconds(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0 s".to_owned()
    } else if a < 1e-3 {
        format!("{} µs", significant(v * 1e6))
    } else if a < 1.0 {
        format!("{} ms", significant(v * 1e3))
    } else if a < 3600.0 {
        format!("{} s", significant(v))
    } else if a < 86_400.0 {
        let minutes = (a / 60.0).round() as u64;
        format!("{}h {}m", minutes / 60, minutes % 60)
    } else {
        let hours = (a / 3600.0).round() as u64;
        format!("{}d {}h", hours / 24, hours % 24)
    }
}

fn bytes(v: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = v;
    let mut i = 0;
    while v.abs() >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{} {}", significant(v), UNITS[i])
}

fn count(v: f64) -> String {
    if v.fract() != 0.0 && v.abs() < 100.0 {
        return significant(v);
    }
    let rounded = v.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0 { format!("-{out}") } else { out }
}

/// Three significant digits, no trailing zeros: 0.0123, 1.5, 412, 12300.
fn significant(v: f64) -> String {
    if v == 0.0 {
        return "0".to_owned();
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).clamp(0, 6) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// The legend template (`{{instance}} {{verb}}`) filled from `labels`; the whole label set
/// when the template names nothing the series has.
pub fn legend(template: &str, labels: &Labels) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        out.push_str(labels.get(after[..close].trim()).unwrap_or(""));
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    let squeezed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if squeezed.is_empty() {
        labels.to_string()
    } else {
        squeezed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in_units() {
        assert_eq!(format_value(0.4123, Unit::Seconds), "412 ms");
        assert_eq!(format_value(0.000_05, Unit::Seconds), "50 µs");
        assert_eq!(format_value(12.0, Unit::Seconds), "12 s");
        assert_eq!(
            format_value(1.5 * 1024.0 * 1024.0 * 1024.0, Unit::Bytes),
            "1.5 GiB"
        );
        assert_eq!(format_value(12.345, Unit::PerSecond), "12.3/s");
        assert_eq!(format_value(739_393.2, Unit::PerSecond), "739,393/s");
        assert_eq!(format_value(7_500.0, Unit::Seconds), "2h 5m");
        assert_eq!(format_value(262_800.0, Unit::Seconds), "3d 1h");
        assert_eq!(format_value(87.0, Unit::Percent), "87%");
        assert_eq!(format_value(1234.0, Unit::Count), "1,234");
        assert_eq!(format_value(1_234_567.0, Unit::Seats), "1,234,567");
        assert_eq!(format_value(2.5, Unit::Count), "2.5");
        assert_eq!(format_value(1.25, Unit::Ratio), "1.25x");
        assert_eq!(format_value(f64::NAN, Unit::Ratio), "NaN");
        assert_eq!(format_value(0.0, Unit::PerSecond), "0/s");
    }

    #[test]
    fn legends_fill_labels_and_squeeze_blanks() {
        let labels = Labels::from_pairs([("instance", "a:6443"), ("verb", "LIST")]);
        assert_eq!(legend("{{instance}} {{verb}}", &labels), "a:6443 LIST");
        assert_eq!(
            legend("{{instance}} {{code}} {{verb}}", &labels),
            "a:6443 LIST"
        );
        assert_eq!(
            legend("{{code}}", &labels),
            r#"{instance="a:6443", verb="LIST"}"#
        );
        assert_eq!(legend("p99 {{ verb }}", &labels), "p99 LIST");
    }
}
