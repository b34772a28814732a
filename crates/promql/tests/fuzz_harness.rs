//! The fuzzing harness on a corpus and generated queries, in seconds, on the stable toolchain:
//! the real dashboards' 329 expressions, hostile shapes, and 3,000 mutations of them from a
//! fixed seed. `cargo fuzz run promql` (see `fuzz/README.md`) runs the same function unbounded.

mod dataset;

use apilens_promql::fuzz::parse_and_evaluate;

/// Shapes that broke PromQL engines: deep nesting, huge numbers and durations, odd offsets.
const SEEDS: &[&str] = &[
    "up",
    "-up",
    "up offset -5m",
    "up @ 0",
    "up @ end()",
    "rate(up[5m:1ms])",
    "max_over_time(up[1h:1ms])",
    "sum by (job) (up) / on() group_left count(up)",
    "histogram_quantile(0.99, sum by (le) (rate(apiserver_request_duration_seconds_bucket[5m])))",
    "label_replace(up, \"a\", \"$1\", \"job\", \"(.*)\")",
    "topk(1e308, up)",
    "quantile(NaN, up)",
    "up[9999999999999999y]",
    "up offset 9223372036854775807ms",
    "1e999999",
    "0x7fffffffffffffff",
    "absent_over_time(nonexistent[1m])",
    "count_values(\"x\", up)",
    "sort_desc(-up)",
    "stale",
    "scalar(up) ^ -scalar(up)",
    "predict_linear(up[5m], 1e300)",
    "time() % 0",
    "{__name__=~\".+\"}",
    "{job=~\"(\"}",
    "up{job=\"\\xff\"}",
    "(((((up)))))",
    "abs(abs(abs(up)))",
];

/// A small deterministic generator (xorshift), so every run tries the same inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces spliced into queries by the mutator.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "[5m]",
    "[1h:1ms]",
    "[5m:]",
    " offset 1m",
    " @ 100",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    " and ",
    " or ",
    " unless ",
    " == bool ",
    " > ",
    "sum(",
    "rate(",
    "abs(",
    "by (job)",
    " on(job) group_left ",
    "1e308",
    "NaN",
    "-Inf",
    "\"",
    "'",
    "`",
    ",",
    "\u{0}",
    "\u{ff}",
    "\n",
    "#",
    "=~",
    "!~",
    "up",
    "stale",
];

fn mutate(rng: &mut Rng, input: &str, other: &str) -> Vec<u8> {
    let mut bytes = input.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                bytes.splice(at..at, t.bytes());
            }
            1 if !bytes.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            2 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] = rng.next() as u8;
            }
            3 => {
                let cut = rng.below(other.len() + 1);
                let cut = (0..=cut)
                    .rev()
                    .find(|&c| other.is_char_boundary(c))
                    .unwrap_or(0);
                bytes.truncate(at);
                bytes.extend_from_slice(&other.as_bytes()[cut..]);
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let n = 1 + rng.below(40);
                let wrapped: Vec<u8> = t.repeat(n).bytes().chain(bytes.iter().copied()).collect();
                bytes = wrapped;
            }
        }
    }
    bytes
}

#[test]
fn the_corpus_and_generated_queries_never_panic() {
    let mut corpus: Vec<String> = SEEDS.iter().map(|s| (*s).to_owned()).collect();
    corpus.extend(dataset::dashboard_exprs());
    corpus.push(vec!["up"; 3000].join("+"));
    corpus.push(format!("{}up{}", "abs(".repeat(10_000), ")".repeat(10_000)));
    for q in &corpus {
        parse_and_evaluate(q.as_bytes());
    }
    let mut rng = Rng(0x5eed_2026_0015);
    for _ in 0..3_000 {
        let a = &corpus[rng.below(corpus.len())];
        let b = &corpus[rng.below(corpus.len())];
        parse_and_evaluate(&mutate(&mut rng, a, b));
    }
}
