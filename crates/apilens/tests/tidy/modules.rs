//! The modules of each crate import one another without cycles.
//!
//! A module's imports are the `crate::…` and `super::…` paths in its code (in `use` trees and in
//! expressions; comments and string literals are skipped, test modules included). Each path is
//! resolved to the deepest module of the crate it names, and an import counts between the two
//! sibling modules where the importer's and the target's paths part: `view::top` importing
//! `report::Row` is an import of `view` on `report`. So a parent and its own children (a
//! `mod.rs` and its files) never form a cycle, and a cycle anywhere below one parent does.
//! Items re-exported at the crate root (`crate::Error`) count as imports of the root, which is
//! everyone's parent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles that remain, each with its reason: the crate and every module of the cycle.
const ALLOWED: &[(&str, &[&str], &str)] = &[
    (
        "doctor",
        &[
            "analysis", "diagnose", "finding", "fix", "metrics", "patterns", "rank", "render",
        ],
        "the diagnosis, its findings, fixes and renderers share the analysis types both ways: \
         renderers read the diagnosis, and fixes render their own commands",
    ),
    (
        "report",
        &["build", "context", "explain", "readings"],
        "building a report evaluates panels in a context that itself evaluates queries through \
         build's `Evaluated`, and special readings read the context",
    ),
    (
        "top",
        &["app", "ui"],
        "the app state asks the ui how many rows a screen shows to move its cursor, and the ui \
         draws the app state",
    ),
    (
        "tsdb",
        &["appender", "compact", "db"],
        "`Db` owns the shared `Inner` state that the appender and the compactor work on, and \
         creates both",
    ),
];

/// Blanks out comments, string, byte-string, raw-string and char literals, keeping lifetimes.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if (rest.starts_with(b"r\"") || rest.starts_with(b"r#") || rest.starts_with(b"br"))
            && (i == 0 || !ident(b[i - 1]))
            && raw_string_end(b, i).is_some()
        {
            i = raw_string_end(b, i).unwrap_or(b.len());
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && char_literal_len(&b[i..]).is_some() {
            i += char_literal_len(&b[i..]).unwrap_or(1);
            out.push_str("' '");
        } else {
            let start = i;
            i += 1;
            while i < b.len() && !b[i].is_ascii() {
                i += 1;
            }
            out.push_str(&text[start..i]);
        }
    }
    out
}

/// Where the raw (byte) string literal starting at `i` ends, if one starts there.
fn raw_string_end(b: &[u8], mut i: usize) -> Option<usize> {
    if b[i] == b'b' {
        i += 1;
    }
    if b.get(i) != Some(&b'r') {
        return None;
    }
    i += 1;
    let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
    i += hashes;
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let close: Vec<u8> = std::iter::once(b'"')
        .chain(std::iter::repeat_n(b'#', hashes))
        .collect();
    let end = b[i + 1..].windows(close.len()).position(|w| w == close)?;
    Some(i + 1 + end + close.len())
}

/// The length of the char literal at the start of `b` (`'a'`, `'\n'`, `'\u{1f600}'`, `'é'`),
/// `None` for a lifetime or a label.
fn char_literal_len(b: &[u8]) -> Option<usize> {
    if b.get(1) == Some(&b'\\') {
        let close = b[2..].iter().position(|&c| c == b'\'')?;
        return Some(close + 3);
    }
    let width = match b.get(1)? {
        c if *c < 0x80 => 1,
        c if *c >= 0xf0 => 4,
        c if *c >= 0xe0 => 3,
        _ => 2,
    };
    (b.get(1 + width) == Some(&b'\'')).then_some(width + 2)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The paths of the `use` tree (or plain path) starting at `i`: `a::b::{c, d::e}` gives
/// `[a, b, c]` and `[a, b, d, e]`.
fn use_tree(b: &[u8], i: usize, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut segs = prefix.to_vec();
    let mut i = i;
    loop {
        i = skip_ws(b, i);
        if b.get(i) == Some(&b'{') {
            i += 1;
            let before = out.len();
            loop {
                i = skip_ws(b, i);
                match b.get(i) {
                    None => return i,
                    Some(b'}') => return i + 1,
                    Some(b',') => i += 1,
                    Some(_) => {
                        let next = use_tree(b, i, &segs, out);
                        if next == i {
                            i += 1;
                        } else {
                            i = next;
                        }
                    }
                }
                if out.len() == before {
                    out.push(segs.clone());
                }
            }
        }
        let start = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        if i == start {
            out.push(segs);
            return i;
        }
        segs.push(String::from_utf8_lossy(&b[start..i]).into_owned());
        let j = skip_ws(b, i);
        if b[j..].starts_with(b"::") {
            i = j + 2;
        } else {
            out.push(segs);
            return i;
        }
    }
}

/// The inline modules of a file (`mod tests { … }`): name and byte range.
fn inline_modules(b: &[u8]) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = find_word(b, i, b"mod") {
        i = p + 3;
        let s = skip_ws(b, i);
        let e = (s..b.len()).find(|&k| !is_ident(b[k])).unwrap_or(b.len());
        let brace = skip_ws(b, e);
        if e == s || b.get(brace) != Some(&b'{') {
            continue;
        }
        let mut depth = 0;
        let mut k = brace;
        while k < b.len() {
            match b[k] {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        out.push((String::from_utf8_lossy(&b[s..e]).into_owned(), p, k));
    }
    out
}

/// The next occurrence of `word` as a whole identifier at or after `from`.
fn find_word(b: &[u8], from: usize, word: &[u8]) -> Option<usize> {
    let mut i = from;
    while i + word.len() <= b.len() {
        let p = i + b[i..].windows(word.len()).position(|w| w == word)?;
        let before_ok = p == 0 || !(is_ident(b[p - 1]) || b[p - 1] == b'$');
        let after_ok = b.get(p + word.len()).is_none_or(|&c| !is_ident(c));
        if before_ok && after_ok {
            return Some(p);
        }
        i = p + 1;
    }
    None
}

/// The module path of a source file under `src` (`lib.rs` → root, `a/mod.rs` and `a.rs` → `a`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.len() == 1 && matches!(parts[0].as_str(), "lib" | "main") {
        parts.clear();
    } else if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// One import between sibling modules: importer, imported, and the file it is written in.
type Edge = (String, String, String);

/// Every import between sibling modules of the crate whose sources are in `src`.
fn imports(src: &Path) -> Vec<Edge> {
    let mut files = Vec::new();
    super::rust_files(src, &mut files);
    files.retain(|f| !f.strip_prefix(src).is_ok_and(|r| r.starts_with("bin")));
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        let code = code_only(&text);
        let b = code.as_bytes();
        let base = module_of(src, file);
        let inline = inline_modules(b);
        let rel = file.strip_prefix(src).unwrap_or(file).display().to_string();
        for word in [b"crate".as_slice(), b"super"] {
            let mut i = 0;
            while let Some(p) = find_word(b, i, word) {
                i = p + word.len();
                let mut j = skip_ws(b, i);
                if !b[j..].starts_with(b"::") {
                    continue;
                }
                // Not the tail of a longer path (`a::super::b` is not valid Rust anyway).
                if p >= 2 && &b[p - 2..p] == b"::" {
                    continue;
                }
                let mut here = base.clone();
                here.extend(
                    inline
                        .iter()
                        .filter(|(_, s, e)| *s < p && p < *e)
                        .map(|(n, _, _)| n.clone()),
                );
                let mut target = if word == b"crate" {
                    Vec::new()
                } else {
                    let mut t = here.clone();
                    t.pop();
                    // `super::super::…`
                    loop {
                        let k = skip_ws(b, j + 2);
                        if b[k..].starts_with(b"super")
                            && !b.get(k + 5).is_some_and(|&c| is_ident(c))
                        {
                            t.pop();
                            j = skip_ws(b, k + 5);
                            if !b[j..].starts_with(b"::") {
                                break;
                            }
                        } else {
                            break;
                        }
                    }
                    t
                };
                let mut paths = Vec::new();
                use_tree(b, j + 2, &[], &mut paths);
                let prefix = std::mem::take(&mut target);
                for path in paths {
                    let full: Vec<String> = prefix.iter().chain(&path).cloned().collect();
                    let resolved = (0..=full.len())
                        .rev()
                        .map(|n| &full[..n])
                        .find(|m| modules.contains(*m))
                        .unwrap_or(&[]);
                    let common = here
                        .iter()
                        .zip(resolved)
                        .take_while(|(a, b)| a == b)
                        .count();
                    if common < here.len() && common < resolved.len() {
                        edges.push((
                            here[..=common].join("::"),
                            resolved[..=common].join("::"),
                            rel.clone(),
                        ));
                    }
                }
            }
        }
    }
    edges.sort();
    edges.dedup();
    edges
}

/// The strongly connected components of more than one module (Tarjan's algorithm).
fn cycles(edges: &[Edge]) -> Vec<BTreeSet<String>> {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (a, b, _) in edges {
        graph.entry(a).or_default().insert(b);
        graph.entry(b).or_default();
    }
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(v: &'a str, g: &BTreeMap<&'a str, BTreeSet<&'a str>>, s: &mut State<'a>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in &g[v] {
            if !s.index.contains_key(w) {
                visit(w, g, s);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.insert(w.to_owned());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.out.push(comp);
            }
        }
    }
    let mut state = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(v, &graph, &mut state);
        }
    }
    state.out
}

/// The source directory of every crate of the workspace, by crate directory name.
fn crate_sources() -> Vec<(String, PathBuf)> {
    let crates = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&crates)
        .expect("read crates")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("src").is_dir())
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, p.join("src"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn modules_of_a_crate_import_one_another_without_cycles() {
    let mut problems = Vec::new();
    let mut used = vec![false; ALLOWED.len()];
    for (krate, src) in crate_sources() {
        let edges = imports(&src);
        for cycle in cycles(&edges) {
            let allowed = ALLOWED.iter().position(|(c, modules, _)| {
                *c == krate && cycle.iter().all(|m| modules.contains(&m.as_str()))
            });
            if let Some(k) = allowed {
                used[k] = true;
                continue;
            }
            let mut text = format!(
                "crates/{krate}: modules {} import one another:",
                cycle.iter().cloned().collect::<Vec<_>>().join(", ")
            );
            for (a, b, file) in &edges {
                if cycle.contains(a) && cycle.contains(b) {
                    text.push_str(&format!("\n    {a} -> {b} (src/{file})"));
                }
            }
            problems.push(text);
        }
    }
    for ((krate, modules, _), used) in ALLOWED.iter().zip(used) {
        if !used {
            problems.push(format!(
                "crates/{krate}: the allowed cycle {} no longer exists; remove it from ALLOWED",
                modules.join(", ")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn imports_are_found_in_use_trees_and_paths_and_not_in_comments_or_strings() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("b")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "//! x\nmod a;\nmod b;\nmod c;\n").expect("write");
    std::fs::write(
        src.join("a.rs"),
        "//! a\nuse crate::{b::{x::One, Two}, c};\n// crate::d::Gone\nconst S: &str = \"crate::d\";\nfn f() -> char { 'c' }\n",
    )
    .expect("write");
    std::fs::write(
        src.join("b/mod.rs"),
        "//! b\nmod x;\npub(crate) use x::One;\n",
    )
    .expect("write");
    std::fs::write(
        src.join("b/x.rs"),
        "//! x\nuse super::super::c::Three;\nfn g() { let _ = crate::a::f; }\n#[cfg(test)]\nmod tests { use super::*; }\n",
    )
    .expect("write");
    std::fs::write(
        src.join("c.rs"),
        "//! c\nfn h<'a>(s: &'a str) -> &'a str { s }\n",
    )
    .expect("write");
    let edges: Vec<(String, String)> = imports(&src).into_iter().map(|(a, b, _)| (a, b)).collect();
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        edges,
        vec![
            pair("a", "b"),
            pair("a", "c"),
            pair("b", "a"),
            pair("b", "c")
        ]
    );
    assert_eq!(
        cycles(&imports(&src)),
        vec![["a", "b"].iter().map(|s| s.to_string()).collect()]
    );
}
