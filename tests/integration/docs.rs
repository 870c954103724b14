//! Docs that stay true: every `src/`, `tests/`, `scripts/`, `bench/`, `packaging/` or `docs/` path a doc names exists,
//! the window uses one word per concept (docs/terms.md's "Never" column against its string literals), and no function
//! but a screen's view grows past 150 lines.

use std::path::Path;

/// Words from the "Never" column of docs/terms.md, lower-cased.
fn forbidden_words() -> Vec<String> {
    let terms =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/terms.md"))
            .unwrap();
    let mut words = Vec::new();
    for line in terms
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Concept"))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let Some(never) = cells.get(3) {
            words.extend(
                never
                    .split(',')
                    .map(|w| w.trim().to_lowercase())
                    .filter(|w| !w.is_empty()),
            );
        }
    }
    words
}

/// Every `"…"` literal in one Rust file (skipping comments, which are for developers).
fn string_literals(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in source.lines() {
        let code = line.trim_start();
        if code.starts_with("//") || code.starts_with("#[") {
            continue;
        }
        let mut rest = code;
        while let Some(start) = rest.find('"') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('"') else { break };
            out.push(after[..end].to_string());
            rest = &after[end + 1..];
        }
    }
    out
}

/// Does `text` use `word` as a whole word (so "login" does not match "login-username", an id)?
fn uses_word(text: &str, word: &str) -> bool {
    let lower = text.to_lowercase();
    lower.match_indices(word).any(|(at, _)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + word.len()..].chars().next();
        let boundary =
            |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '-' || c == '_'));
        boundary(before) && boundary(after)
    })
}

#[test]
fn the_window_uses_one_word_per_concept() {
    let words = forbidden_words();
    assert!(
        words.contains(&"log in".to_string()) && words.contains(&"api key".to_string()),
        "{words:?}"
    );
    let mut offenders = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gui");
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for literal in string_literals(&source) {
                for word in &words {
                    if uses_word(&literal, word) {
                        offenders.push(format!("{}: {word:?} in {literal:?}", path.display()));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "words docs/terms.md rules out:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_wording_check_finds_what_it_looks_for() {
    assert!(uses_word("Please log in again.", "log in"));
    assert!(uses_word("Your API key", "api key"));
    assert!(!uses_word("login-username", "login"));
    assert!(!uses_word("blogin", "login"));
    assert_eq!(
        string_literals("let a = \"one\";\n// \"three\"\nf(\"four\")"),
        ["one", "four"]
    );
}

/// The Markdown files a person reads: the README, CONTRIBUTING and everything under docs/.
fn doc_files() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files
}

/// Repository paths named in a doc: words starting with one of the tracked top-level folders, cut at the first
/// character that cannot be part of a path; `<placeholders>`, globs and `…` are not paths.
fn named_paths(text: &str) -> Vec<String> {
    const ROOTS: [&str; 6] = [
        "src/",
        "tests/",
        "scripts/",
        "bench/",
        "packaging/",
        "docs/",
    ];
    let mut out = Vec::new();
    for (at, _) in text.char_indices() {
        let rest = &text[at..];
        let Some(root) = ROOTS.iter().find(|r| rest.starts_with(**r)) else {
            continue;
        };
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| {
            c.is_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '~' | '$' | '%' | '\\')
        }) {
            continue; // part of a longer path (~/.local/share/…, $HOME/src/…) or a word
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '/' | '.' | '_' | '-')))
            .unwrap_or(rest.len());
        let path = rest[..end].trim_end_matches(['.', ',']);
        let cut = rest[end..].chars().next();
        if path.len() <= root.len() || matches!(cut, Some('<' | '*' | '…' | '{')) {
            continue;
        }
        out.push(path.to_string());
    }
    out
}

#[test]
fn every_path_a_doc_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    let mut checked = 0;
    for doc in doc_files() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for path in named_paths(&text) {
            checked += 1;
            if !root.join(&path).exists() {
                missing.push(format!(
                    "{}: {path}",
                    doc.strip_prefix(root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "the docs name only {checked} paths: is the scanner broken?"
    );
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "docs name paths that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_path_scanner_finds_what_a_doc_names() {
    let text = "see `src/engine/paths.rs`, tests/integration/gui.rs. Not ~/.local/share/src/x, nor \
                screen/<name>.rs under src/gui/screen/<name>.rs, nor docs/*.md; but scripts/test.sh.";
    assert_eq!(
        named_paths(text),
        [
            "src/engine/paths.rs",
            "tests/integration/gui.rs",
            "scripts/test.sh"
        ]
    );
}

/// Every function in `src/` with its length in lines (signature to closing brace, as rustfmt lays them out).
fn function_lengths(source: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let rest = ["pub(crate) ", "pub(super) ", "pub "]
            .iter()
            .find_map(|p| trimmed.strip_prefix(p))
            .unwrap_or(trimmed);
        let rest = rest.strip_prefix("const ").unwrap_or(rest);
        let rest = rest.strip_prefix("async ").unwrap_or(rest);
        let Some(signature) = rest.strip_prefix("fn ") else {
            continue;
        };
        if line.trim_end().ends_with(';') {
            continue; // a declaration in a trait
        }
        let name: String = signature
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let closing = format!("{indent}}}");
        if let Some(end) = lines[i + 1..].iter().position(|l| *l == closing) {
            out.push((name, end + 2));
        }
    }
    out
}

/// One message handler, one planning step, one check: each fits on a few screens. A screen's `view` builds a
/// widget tree and may be longer; everything else is split when it grows past the limit.
#[test]
fn no_function_but_a_view_is_longer_than_150_lines() {
    const LIMIT: usize = 150;
    let mut long = Vec::new();
    let mut files = Vec::new();
    walk_rs(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for (name, lines) in function_lengths(&source) {
            if lines > LIMIT && name != "view" && !name.starts_with("view_") {
                long.push(format!("{} {name}: {lines} lines", file.display()));
            }
        }
    }
    assert!(long.is_empty(), "split these: {long:#?}");
}

#[test]
fn the_length_check_measures_what_it_looks_for() {
    let source = "fn a() {\n    x();\n}\n\nimpl S {\n    pub(crate) async fn b(&self) -> u8 {\n        1\n    }\n    fn c();\n}\n";
    assert_eq!(
        function_lengths(source),
        [("a".to_string(), 3), ("b".to_string(), 3)]
    );
}

fn walk_rs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
