//! Every example of every `--help` parses as the command line it shows (a unit test of
//! `src/cli.rs`, kept here as it is no part of the binary).

use super::Cli;
use clap::{CommandFactory as _, Parser as _};

/// Every example of a command's `--help`, continuation lines joined.
fn examples(cmd: &clap::Command) -> Vec<String> {
    let text = cmd
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default();
    let Some(body) = text.split_once("Examples:\n").map(|(_, b)| b) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let mut joined = String::new();
    for line in body.lines() {
        let line = line.trim();
        match line.strip_suffix('\\') {
            Some(head) => joined.push_str(head),
            None => {
                joined.push_str(line);
                out.push(std::mem::take(&mut joined));
            }
        }
    }
    out.retain(|l| !l.is_empty());
    out
}

/// The arguments a shell would pass for `example`: process substitution stands for a file,
/// and what follows a redirection or a second command is the shell's.
fn argv(example: &str) -> Vec<String> {
    let mut line = example.to_owned();
    while let Some(start) = line.find("<(") {
        let end = line[start..]
            .find(')')
            .map_or(line.len(), |e| start + e + 1);
        line.replace_range(start..end, "scrape.txt");
    }
    for cut in [" > ", " && ", " | "] {
        if let Some(at) = line.find(cut) {
            line.truncate(at);
        }
    }
    shlex::split(&line).unwrap_or_else(|| panic!("unbalanced quotes in {example:?}"))
}

fn walk(cmd: &clap::Command, path: &str, checked: &mut usize) {
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let path = format!("{path} {}", sub.get_name());
        let examples = examples(sub);
        assert!(
            (2..=3).contains(&examples.len()),
            "`{path} --help` ends with {} examples, not two or three",
            examples.len()
        );
        for example in &examples {
            let args = argv(example);
            assert_eq!(
                args.first().map(String::as_str),
                Some("apilens"),
                "{example}"
            );
            if let Err(e) = Cli::try_parse_from(&args) {
                panic!("the example `{example}` of `{path} --help` does not parse: {e}");
            }
            *checked += 1;
        }
        walk(sub, &path, checked);
    }
}

#[test]
fn every_help_ends_with_examples_that_parse() {
    let mut checked = 0;
    walk(&Cli::command(), "apilens", &mut checked);
    assert!(checked > 40, "only {checked} examples");
}
