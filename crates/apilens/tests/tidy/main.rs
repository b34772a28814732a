//! Repository rules that hold for every source file, checked as a test.

mod modules;

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(name, "target" | "node_modules" | "vendor" | ".git") {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn workspace_files() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("fuzz/fuzz_targets"), &mut files);
    files.sort();
    files
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let offenders: Vec<_> = workspace_files()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "files without a leading //! line: {offenders:#?}"
    );
}

#[test]
fn no_debugging_leftovers_or_disabled_tests() {
    let banned = [
        concat!("db", "g!("),
        concat!("to", "do!("),
        concat!("unimpl", "emented!("),
        concat!("#[ig", "nore"),
        concat!("#[should", "_panic"),
    ];
    let mut offenders = Vec::new();
    for path in workspace_files() {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if banned.iter().any(|b| line.contains(b)) {
                offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

/// `cargo metadata` of the workspace (offline), with `extra` arguments.
fn cargo_metadata(extra: &[&str]) -> serde_json::Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(extra)
        .current_dir(&root)
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("metadata JSON")
}

/// The workspace crates each crate depends on (normal dependencies only), by short name
/// (`apilens-tsdb` → `tsdb`, the binary `apilens` → `apilens`), from `cargo metadata`.
fn crate_imports() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let meta = cargo_metadata(&["--no-deps"]);
    let short = |name: &str| name.strip_prefix("apilens-").unwrap_or(name).to_owned();
    let members: std::collections::BTreeSet<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] != "apilens-fuzz")
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null() && members.contains(d["name"].as_str().unwrap()))
                .map(|d| short(d["name"].as_str().unwrap()))
                .collect();
            (short(p["name"].as_str().unwrap()), deps)
        })
        .collect()
}

/// What ARCHITECTURE.md allows each crate to import: its section's `May import:` line, without
/// what is in parentheses or after `;` (`never tsdb or promql`). `None` for `all`.
fn allowed_imports(
    architecture: &str,
    krate: &str,
) -> Option<Option<std::collections::BTreeSet<String>>> {
    let header = format!("### `crates/{krate}`");
    let section = architecture
        .split("\n### ")
        .find(|s| format!("### {s}").starts_with(&header))?;
    let line = section
        .lines()
        .find_map(|l| l.strip_prefix("May import:"))?;
    let mut line = line.to_owned();
    while let (Some(open), Some(close)) = (line.find('('), line.find(')')) {
        if close < open {
            break;
        }
        line.replace_range(open..=close, "");
    }
    let line = line
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches('.');
    if line == "all" {
        return Some(None);
    }
    Some(Some(
        line.split(',')
            .map(|w| w.trim().to_owned())
            .filter(|w| !w.is_empty() && w != "nothing of ours" && w != "std only")
            .collect(),
    ))
}

/// Every crate has its section in ARCHITECTURE.md, and imports only what its `May import:` line
/// allows.
#[test]
fn crate_imports_follow_the_architecture_table() {
    let architecture = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ARCHITECTURE.md"),
    )
    .expect("read ARCHITECTURE.md");
    let mut problems = Vec::new();
    for (krate, imports) in crate_imports() {
        match allowed_imports(&architecture, &krate) {
            None => problems.push(format!(
                "crates/{krate} has no section with a `May import:` line in ARCHITECTURE.md"
            )),
            Some(None) => {}
            Some(Some(allowed)) => {
                for import in imports.difference(&allowed) {
                    problems.push(format!(
                        "crates/{krate} imports {import}, which ARCHITECTURE.md does not allow (May import: {})",
                        allowed.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The identifier that starts `text` (`serve` of `serve::router`).
fn leading_ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// Where a command file names another command: `crate::commands::<other>`, or `super::<other>`
/// from a command's own file (whose `super` is `commands`), or `super::super::` from a file in
/// a command's folder. What commands share lives in `crate::shared` or a library.
fn cross_command_imports(
    command: &str,
    in_folder: bool,
    text: &str,
    commands: &std::collections::BTreeSet<String>,
) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for (i, _) in code.match_indices("crate::commands::") {
            let other = leading_ident(&code[i + "crate::commands::".len()..]);
            if other != command {
                found.push(format!("line {}: {}", n + 1, line.trim()));
            }
        }
        if in_folder {
            if code.contains("super::super::") {
                found.push(format!("line {}: {}", n + 1, line.trim()));
            }
        } else {
            for (i, _) in code.match_indices("super::") {
                let other = leading_ident(&code[i + "super::".len()..]);
                if other != command && commands.contains(other) {
                    found.push(format!("line {}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    found
}

/// Commands never import each other: each `src/commands/<name>.rs` (or folder) imports the
/// libraries and `crate::shared` only, so a command can change without moving another.
#[test]
fn commands_never_import_each_other() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    let commands: std::collections::BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("read src/commands")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let stem = path.file_stem()?.to_str()?.to_owned();
            (stem != "mod").then_some(stem)
        })
        .collect();
    assert!(commands.contains("serve") && commands.contains("report"));
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut offenders = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&dir).expect("under src/commands");
        let mut parts = rel.iter().map(|p| p.to_str().unwrap_or(""));
        let first = parts.next().unwrap_or("");
        let in_folder = parts.next().is_some();
        let command = first.trim_end_matches(".rs");
        if command == "mod" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        for hit in cross_command_imports(command, in_folder, &text, &commands) {
            offenders.push(format!("{}: {hit}", rel.display()));
        }
    }
    assert!(
        offenders.is_empty(),
        "commands import other commands (move what they share to crate::shared or a library):\n{}",
        offenders.join("\n")
    );
}

/// The check itself finds each way of naming another command, and not a command's own parts.
#[test]
fn cross_command_imports_are_found() {
    let commands: std::collections::BTreeSet<String> =
        ["demo", "serve", "top"].map(str::to_owned).into();
    let hits =
        |command, in_folder, text| cross_command_imports(command, in_folder, text, &commands).len();
    assert_eq!(
        hits("demo", false, "use crate::commands::serve::router;"),
        1
    );
    assert_eq!(hits("demo", false, "use super::serve::{a, b};"), 1);
    assert_eq!(hits("top", true, "use super::super::demo::x;"), 1);
    assert_eq!(hits("top", true, "use super::follow::Follower;"), 0);
    assert_eq!(hits("top", true, "use crate::commands::top::x;"), 0);
    assert_eq!(hits("demo", false, "    use super::*;"), 0);
    assert_eq!(
        hits(
            "demo",
            false,
            "use crate::shared::web::WebArgs; // commands::serve"
        ),
        0
    );
}

/// Every package `root` compiles (normal dependencies, followed to the end), by name, from
/// `cargo metadata`'s resolved graph.
fn compiled_closure(root: &str) -> std::collections::BTreeSet<String> {
    let meta = cargo_metadata(&[]);
    let name_of: std::collections::HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: std::collections::HashMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let start = name_of
        .iter()
        .find(|(_, name)| **name == root)
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("no package {root}"));
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![start];
    while let Some(id) = todo.pop() {
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            let dep_id = dep["pkg"].as_str().unwrap();
            if normal && seen.insert(name_of[dep_id].to_owned()) {
                todo.push(dep_id);
            }
        }
    }
    seen
}

/// Remote write needs only the batch and the sink (in model), so it compiles neither kube-rs nor
/// the store nor the scraper.
#[test]
fn remotewrite_compiles_neither_kube_nor_the_store() {
    let compiled = compiled_closure("apilens-remotewrite");
    assert!(compiled.contains("apilens-model"), "{compiled:?}");
    for heavy in [
        "kube",
        "kube-client",
        "apilens-kube",
        "apilens-scrape",
        "apilens-tsdb",
    ] {
        assert!(
            !compiled.contains(heavy),
            "apilens-remotewrite compiles {heavy}"
        );
    }
}
