//! The one byte-size syntax of every flag: a whole number with an optional unit.

/// A text that is not a byte size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size {text:?}: expected e.g. 512MiB, 2GiB or a number of bytes")]
pub struct ByteSizeError {
    /// The text as given.
    pub text: String,
}

/// Parses a byte count above zero: a whole number with an optional unit (`B`, `KB`/`kB`, `MB`,
/// `GB` in powers of 1000; `KiB`, `MiB`, `GiB` in powers of 1024).
///
/// ```
/// use apilens_model::parse_byte_size;
/// assert_eq!(parse_byte_size("512MiB")?, 512 << 20);
/// # Ok::<(), apilens_model::ByteSizeError>(())
/// ```
///
/// # Errors
///
/// [`ByteSizeError`] naming the text when it is not a whole number with a known unit, is zero,
/// or passes `u64::MAX`.
pub fn parse_byte_size(text: &str) -> Result<u64, ByteSizeError> {
    let bad = || ByteSizeError {
        text: text.to_owned(),
    };
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    n.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&b| b > 0)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_byte_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_byte_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_byte_size("4096"), Ok(4096));
        for bad in [
            "",
            "0",
            "MiB",
            "1.5GiB",
            "12TB",
            "-1",
            "99999999999999999999GiB",
        ] {
            assert_eq!(
                parse_byte_size(bad),
                Err(ByteSizeError {
                    text: bad.to_owned()
                }),
                "{bad}"
            );
        }
    }
}
