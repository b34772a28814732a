//! How deeply a query may nest, checked on the text before parsing, and the stack a query
//! thread needs to parse, evaluate and drop any query that passes.
//!
//! The parser, the evaluator and the drop of the syntax tree all recurse once per level of the
//! tree, so a query such as ten thousand nested `abs(` would overflow any fixed stack.
//! Prometheus has no explicit limit (Go stacks grow up to 1 GB); apilens refuses such a query
//! with a parse error (`bad_data`, HTTP 400) instead. The check runs on the text, in one pass
//! and without allocating, so it holds before the parser has recursed at all.

use crate::error::{Error, Result};

/// The deepest syntax tree a query may have: the most nested brackets plus the number of
/// operators. Real queries stay below 50; a sum of a thousand terms is still accepted.
pub const MAX_QUERY_DEPTH: usize = 1024;

/// The stack of every thread that parses or evaluates a query: enough for a tree of
/// [`MAX_QUERY_DEPTH`] levels in an unoptimised build with room to spare (a test evaluates
/// queries of exactly that depth on a thread of this size). It is reserved, not touched: a
/// shallow query uses a few pages of it.
pub const QUERY_STACK_SIZE: usize = 256 << 20;

/// Runs `f` on a new thread with [`QUERY_STACK_SIZE`] of stack and returns what it returns;
/// what `apilens query` and tests use to evaluate outside a pool of query threads.
///
/// # Panics
///
/// When the thread cannot be started, or `f` panics (the panic is passed on).
pub fn with_query_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("apilens-query".into())
            .stack_size(QUERY_STACK_SIZE)
            .spawn_scoped(scope, f)
            .expect("cannot start a query thread");
        match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Fails with a parse error naming the line and column where `query` passes `max` levels.
///
/// The bound counts, at each point of the text, the brackets (`(`, `[`, `{`) open there plus
/// every operator (`+ - * / % ^`, comparisons, `and`, `or`, `unless`, `atan2`) and every
/// `[` seen so far. Each level of the syntax tree above a leaf is one of those, so the tree is
/// never deeper than the bound; strings and comments are skipped.
pub(crate) fn check_depth(query: &str, max: usize) -> Result<()> {
    let bytes = query.as_bytes();
    let mut open = 0usize;
    let mut operators = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        i += 1;
        match b {
            b'"' | b'\'' | b'`' => i = skip_string(bytes, i, b),
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'{' => open += 1,
            b'[' => {
                open += 1;
                operators += 1;
            }
            b')' | b']' | b'}' => open = open.saturating_sub(1),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'<' | b'>' | b'!' => operators += 1,
            b'=' if start > 0 && bytes[start - 1] == b'=' => operators += 1,
            b if b.is_ascii_alphabetic() || b == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &query[start..i];
                if ["and", "or", "unless", "atan2"]
                    .iter()
                    .any(|k| word.eq_ignore_ascii_case(k))
                {
                    operators += 1;
                }
            }
            _ => {}
        }
        if open + operators > max {
            let line = 1 + query[..start].matches('\n').count();
            let col = start - query[..start].rfind('\n').map_or(0, |n| n + 1) + 1;
            return Err(Error::Parse(format!(
                "{line}:{col}: expression nested too deeply: more than {max} levels of brackets and operators"
            )));
        }
    }
    Ok(())
}

/// The index after the string that opened with `quote` just before `i`.
fn skip_string(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote != b'`' => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(q: &str, max: usize) -> bool {
        check_depth(q, max).is_ok()
    }

    #[test]
    fn counts_brackets_and_operators_but_not_strings() {
        assert!(depth_ok("sum(rate(x[5m]))", 4));
        assert!(!depth_ok("sum(rate(x[5m]))", 3));
        assert!(depth_ok(r#"up{job="((((((((("}"#, 1));
        assert!(depth_ok("up # ((((((((", 0));
        assert!(depth_ok("a + b - c", 2));
        assert!(!depth_ok("a + b - c", 1));
        assert!(!depth_ok("a and b or c unless d", 2));
        assert!(depth_ok("a == b", 1));
    }

    #[test]
    fn the_error_names_where_the_limit_was_passed() {
        let err = check_depth("up +\n((((up))))", 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "parse error: 2:3: expression nested too deeply: more than 3 levels of brackets and operators"
        );
        assert_eq!(err.kind(), "bad_data");
    }
}
