//! Fuzzing (proptest) of the code that reads what users and servers type: domain normalisation, the Navigator
//! ini reader/writer and the `.condarc` editor. Never a panic; an edit either succeeds — re-parsing to exactly the
//! intended mapping with every untouched line identical — or is refused (the engine then writes nothing).
//! `CONDA_CONNECT_FUZZ_CASES` sets the number of cases per property (CI: 3000; the long run: 1,000,000).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use conda_connect::engine::condarc::{self, CondaValue, KeyEdit};
use conda_connect::engine::domain::normalize_domain;
use conda_connect::engine::ini_file::IniDoc;

fn cases() -> u32 {
    std::env::var("CONDA_CONNECT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

fn report(what: &str, executions: u32, start: std::time::Instant) {
    eprintln!(
        "fuzz {what}: {executions} executions, 0 crashes, {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------- domains

fn domain_input() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec![
        "http://",
        "https://",
        "HTTPS://",
        "ftp://",
        "",
        "http:/",
        "https://user:pw@",
    ]);
    let host = prop::sample::select(vec![
        "repo.example.com",
        "API.Repo.Example.com",
        "api.",
        "myapi.example.com",
        "10.0.0.5",
        "[::1]",
        "localhost",
        "xn--bcher-kva.example",
        "bücher.example",
        "a..b",
        "",
        "api.api.example.com",
    ]);
    let port = prop::sample::select(vec!["", ":8080", ":0", ":99999", ":", ":443"]);
    let path = prop::sample::select(vec![
        "",
        "/",
        "/api",
        "/api/system",
        "/sub/api/repo/",
        "/apidocs",
        "/a b",
        "?q=1#f",
        "//api",
    ]);
    prop_oneof![
        (scheme, host, port, path).prop_map(|(s, h, p, a)| format!("{s}{h}{p}{a}")),
        "\\PC{0,40}",
        any::<String>(),
    ]
}

#[test]
fn fuzz_domain_normalisation() {
    let start = std::time::Instant::now();
    runner()
        .run(&domain_input(), |input| {
            if let Ok(domain) = normalize_domain(&input) {
                prop_assert!(
                    domain.starts_with("http://") || domain.starts_with("https://"),
                    "{domain}"
                );
                prop_assert!(!domain.ends_with('/'), "{domain}");
                let after_scheme = domain.split("://").nth(1).unwrap_or("");
                let path_segments: Vec<&str> = after_scheme.split('/').skip(1).collect();
                prop_assert!(
                    !path_segments.iter().any(|s| s.eq_ignore_ascii_case("api")),
                    "no /api path segment: {domain}"
                );
                // idempotent, except that each pass strips one more leading `api.` label (only the leading label is stripped,
                // docs/design.md#10-domain-normalisation)
                if !domain.split("://").nth(1).unwrap_or("").starts_with("api.") {
                    prop_assert_eq!(normalize_domain(&domain), Ok(domain.clone()), "idempotent");
                }
            }
            Ok(())
        })
        .unwrap();
    report("domain normalisation", cases(), start);
}

// ---------------------------------------------------------------- ini

fn ini_line() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "[main]",
            "[ssl]",
            "[internal]",
            "[ main ]",
            "[broken",
            "[]"
        ])
        .prop_map(String::from),
        (
            "[a-z_]{1,12}",
            prop::sample::select(vec![" = ", "=", " =", "= "]),
            "[ -~]{0,20}"
        )
            .prop_map(|(k, sep, v)| format!("{k}{sep}{v}")),
        prop::sample::select(vec![
            "; comment",
            "# comment",
            "",
            "   ",
            "novalue",
            "  indented = x",
            "ключ = значение"
        ])
        .prop_map(String::from),
    ]
}

fn ini_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(ini_line(), 0..25),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(lines, crlf, bom, trailing)| {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut text = if bom {
                "\u{feff}".to_string()
            } else {
                String::new()
            };
            text.push_str(&lines.join(nl));
            if trailing && !lines.is_empty() {
                text.push_str(nl);
            }
            text
        })
}

fn lines_of(text: &str) -> Vec<String> {
    text.trim_start_matches('\u{feff}')
        .replace("\r\n", "\n")
        .lines()
        .map(str::to_string)
        .collect()
}

/// `needle`'s lines appear in `hay` in order (a subsequence).
fn is_subsequence(needle: &[String], hay: &[String]) -> bool {
    let mut it = hay.iter();
    needle.iter().all(|n| it.any(|h| h == n))
}

#[test]
fn fuzz_ini_reader_and_writer() {
    let start = std::time::Instant::now();
    let strategy = (ini_text(), "[a-z_]{1,10}", "[ -~]{0,16}");
    runner()
        .run(&strategy, |(text, key, value)| {
            let Ok(mut doc) = IniDoc::parse(&text) else {
                return Ok(());
            };
            prop_assert_eq!(
                doc.to_text(),
                text.clone(),
                "a no-op edit is byte-identical"
            );
            let value = value.trim().to_string();
            let before = lines_of(&text);
            let old_line = doc.get("main", &key).map(str::to_string);
            doc.set("main", &key, &value);
            let out = doc.to_text();
            let reparsed = IniDoc::parse(&out).expect("an edited document parses");
            prop_assert_eq!(reparsed.get("main", &key), Some(value.as_str()));
            // every other line survives, in order
            let kept: Vec<String> = before
                .iter()
                .filter(|l| {
                    let trimmed = l.trim();
                    old_line.is_none()
                        || !(trimmed
                            .split('=')
                            .next()
                            .unwrap_or("")
                            .trim()
                            .eq_ignore_ascii_case(&key)
                            && trimmed.contains('='))
                })
                .cloned()
                .collect();
            prop_assert!(
                is_subsequence(&kept, &lines_of(&out)),
                "untouched lines kept"
            );
            let mut doc = reparsed;
            prop_assert!(doc.remove("main", &key));
            prop_assert_eq!(doc.get("main", &key), None);
            Ok(())
        })
        .unwrap();
    report("ini reader/writer", cases(), start);
}

// ---------------------------------------------------------------- .condarc

fn safe_scalar() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "conda-forge",
        "defaults",
        "'quoted: yes'",
        "\"dq # not a comment\"",
        "yes",
        "no",
        "123",
        "1.5",
        "null",
        "~",
        "true",
        "https://x.example/y",
        "ünïcödé",
        "''",
        "team/sub",
        "'it''s'",
        "~/envs",
        "C:\\conda",
    ])
    .prop_map(String::from)
}

/// One top-level entry (`key` is unique in the document), as lines without indentation of the document.
fn entry(key: String, n: usize) -> impl Strategy<Value = Vec<String>> {
    let comment = prop::sample::select(vec!["", "   # why", " #c"]);
    prop_oneof![
        (safe_scalar(), comment.clone()).prop_map({
            let key = key.clone();
            move |(v, c)| vec![format!("{key}: {v}{c}")]
        }),
        (safe_scalar(), comment.clone()).prop_map({
            let key = key.clone();
            move |(v, c)| {
                vec![
                    format!("{key}: &a{n} {v}{c}"),
                    format!("{key}_alias: *a{n}"),
                ]
            }
        }),
        (
            prop::collection::vec((safe_scalar(), comment.clone()), 0..4),
            any::<bool>()
        )
            .prop_map({
                let key = key.clone();
                move |(items, indented)| {
                    let pad = if indented { "  " } else { "" };
                    let mut lines = vec![format!("{key}:")];
                    lines.extend(items.into_iter().map(|(i, c)| format!("{pad}- {i}{c}")));
                    lines
                }
            }),
        prop::collection::vec(safe_scalar(), 0..4).prop_map({
            let key = key.clone();
            move |items| vec![format!("{key}: [{}]", items.join(", "))]
        }),
        (safe_scalar(), safe_scalar()).prop_map(move |(a, b)| vec![
            format!("{key}:"),
            format!("  http: {a}"),
            format!("  https: {b}")
        ]),
    ]
}

fn condarc_text() -> impl Strategy<Value = String> {
    let keys = prop::sample::subsequence(
        vec![
            "channels",
            "default_channels",
            "channel_alias",
            "ssl_verify",
            "envs_dirs",
            "proxy_servers",
            "auto_update_conda",
            "custom",
            "x",
        ],
        0..9,
    );
    let garbage = prop::sample::select(vec![
        "",
        "key: [unclosed",
        "\t- tab",
        "a: b: c",
        "- top-level list",
        "  bad indent: x",
        "%YAML 1.2",
        "---",
    ]);
    (
        keys.prop_flat_map(|keys| {
            let count = keys.len();
            let entries: Vec<_> = keys
                .into_iter()
                .enumerate()
                .map(|(i, k)| entry(k.to_string(), i))
                .collect();
            (
                entries,
                prop::collection::vec(
                    prop::sample::select(vec!["", "# comment", "   ", "# ünïcödé"]),
                    count + 1,
                ),
            )
        }),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(0.15, (garbage, any::<prop::sample::Index>())),
    )
        .prop_map(|((entries, fillers), crlf, bom, indent, garbage)| {
            let pad = if indent { "  " } else { "" };
            let mut lines: Vec<String> = Vec::new();
            for (i, entry) in entries.into_iter().enumerate() {
                if !fillers[i].is_empty() {
                    lines.push(fillers[i].to_string());
                }
                lines.extend(entry.into_iter().map(|l| format!("{pad}{l}")));
            }
            if let Some((g, at)) = garbage {
                let at = at.index(lines.len() + 1);
                lines.insert(at, g.to_string());
            }
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut text = if bom {
                "\u{feff}".to_string()
            } else {
                String::new()
            };
            text.push_str(&lines.join(nl));
            text.push_str(nl);
            text
        })
}

/// Lines outside the blocks of conda-connect's keys (top-level `key:` at column 0 until the next one).
fn untouched_lines(text: &str) -> Vec<String> {
    let lines = lines_of(text);
    // the top-level mapping's indentation: that of the first content line (a document may be indented)
    let is_content = |l: &String| {
        let trimmed = l.trim_start();
        !trimmed.is_empty()
            && !trimmed.starts_with('#')
            && !trimmed.starts_with("---")
            && !trimmed.starts_with("...")
            && !trimmed.starts_with('%')
    };
    let indent = lines
        .iter()
        .find(|l| is_content(l))
        .map(|l| l.len() - l.trim_start().len())
        .unwrap_or(0);
    let mut out = Vec::new();
    let mut in_owned = false;
    for line in lines {
        let depth = line.len() - line.trim_start().len();
        let top = is_content(&line) && depth <= indent && !line.trim_start().starts_with('-');
        if top {
            in_owned = condarc::OWNED_KEYS
                .iter()
                .any(|k| line.trim_start().starts_with(&format!("{k}:")));
        }
        // an alias whose anchor sat in a removed key has to take the value over (yaml-edit moves the anchor)
        let alias_of_removed = line.contains(": *");
        if !in_owned
            && !alias_of_removed
            && !line.trim().is_empty()
            && !line.trim_start().starts_with('#')
        {
            out.push(line);
        }
    }
    out
}

static EDITED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static REFUSED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static REFUSED_VALID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn check_edit(text: &str, edits: &[(&str, KeyEdit)]) -> Result<(), TestCaseError> {
    use std::sync::atomic::Ordering::Relaxed;
    let Ok(before) = condarc::parse_strict(text) else {
        prop_assert!(
            condarc::apply_edits(text, edits).is_err(),
            "unparseable input is refused"
        );
        REFUSED.fetch_add(1, Relaxed);
        return Ok(());
    };
    let out = match condarc::apply_edits(text, edits) {
        Ok(out) => out,
        Err(reason) => {
            // Valid YAML is refused only when an anchor sits on a key conda-connect edits: editing it would change
            // the aliases' values too. Nothing is written.
            prop_assert!(
                text.contains('&'),
                "a valid file without anchors was refused ({reason}):\n{text}"
            );
            REFUSED_VALID.fetch_add(1, Relaxed);
            if std::env::var_os("CONDA_CONNECT_FUZZ_SHOW").is_some() {
                eprintln!("REFUSED VALID ({reason}) {edits:?}:\n{text}");
            }
            return Ok(());
        }
    };
    EDITED.fetch_add(1, Relaxed);
    let after = condarc::parse_strict(&out).expect("the result parses");
    let mut expected = before.clone();
    for (k, e) in edits {
        let key = yaml_serde::Value::String(k.to_string());
        match e {
            KeyEdit::Set(CondaValue::Str(s)) => {
                expected.insert(key, yaml_serde::Value::String(s.clone()));
            }
            KeyEdit::Set(CondaValue::List(l)) => {
                expected.insert(
                    key,
                    yaml_serde::Value::Sequence(
                        l.iter().cloned().map(yaml_serde::Value::String).collect(),
                    ),
                );
            }
            KeyEdit::Remove => {
                expected.remove(&key);
            }
            other => unreachable!("not generated here: {other:?}"),
        }
    }
    prop_assert_eq!(after, expected, "exactly the intended mapping");
    prop_assert!(
        is_subsequence(&untouched_lines(text), &lines_of(&out)),
        "untouched lines identical:\n{text}\n---\n{out}"
    );
    Ok(())
}

#[test]
fn fuzz_condarc_editor() {
    let start = std::time::Instant::now();
    let strategy = (
        condarc_text(),
        prop::collection::vec("[a-z][a-z0-9_/-]{0,10}", 1..4),
    );
    runner()
        .run(&strategy, |(text, names)| {
            check_edit(
                &text,
                &condarc::login_edits("https://repo.example.com/api/repo"),
            )?;
            check_edit(&text, &condarc::channel_edits(&names[..1], &names[1..]))?;
            Ok(())
        })
        .unwrap();
    report(".condarc editor", cases(), start);
    let (edited, refused) = (
        EDITED.load(std::sync::atomic::Ordering::Relaxed),
        REFUSED.load(std::sync::atomic::Ordering::Relaxed),
    );
    let refused_valid = REFUSED_VALID.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "fuzz .condarc editor: {edited} edits verified, {refused} invalid inputs refused, {refused_valid} valid inputs with anchors on edited keys refused"
    );
    assert!(
        edited * 4 > edited + refused + refused_valid,
        "most generated files must be edited, or the property proves little"
    );
}

#[test]
fn fuzz_sign_out_restores_each_original_entry() {
    // sign in (login edits), the user adds a key, sign out with the key-only revert: every key conda-connect owns
    // is back exactly as it was (null stays null, numbers stay numbers), the user's key stays, nothing else moves
    let start = std::time::Instant::now();
    let restored = std::sync::atomic::AtomicU64::new(0);
    runner()
        .run(&condarc_text(), |text| {
            let Ok(original) = condarc::parse_strict(&text) else {
                return Ok(());
            };
            let Ok(signed_in) =
                condarc::apply_edits(&text, &condarc::login_edits("https://h/api/repo"))
            else {
                return Ok(());
            };
            let Ok(user) = condarc::apply_edits(
                &signed_in,
                &[(
                    "user_added_key",
                    KeyEdit::Set(CondaValue::Str("mine".into())),
                )],
            ) else {
                return Ok(());
            };
            let edits: Vec<(&str, KeyEdit)> = condarc::OWNED_KEYS
                .iter()
                .map(|k| {
                    (
                        *k,
                        KeyEdit::Restore {
                            entry: condarc::entry_text(&text, k),
                            value: condarc::key_value(&original, k),
                        },
                    )
                })
                .collect();
            let Ok(reverted) = condarc::apply_edits(&user, &edits) else {
                prop_assert!(
                    text.contains('&'),
                    "a revert without anchors was refused:\n{text}"
                );
                return Ok(());
            };
            let after = condarc::parse_strict(&reverted).expect("the result parses");
            let mut expected = original.clone();
            expected.insert(
                yaml_serde::Value::String("user_added_key".into()),
                yaml_serde::Value::String("mine".into()),
            );
            if after != expected {
                prop_assert!(
                    text.contains('&'),
                    "lossy revert without anchors:\n{text}\n---\n{reverted}"
                );
            } else {
                restored.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap();
    report("sign-out key restore", cases(), start);
    let restored = restored.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("fuzz sign-out key restore: {restored} exact restores");
    assert!(
        restored as u32 * 2 > cases(),
        "most generated files are restored exactly"
    );
}

#[test]
fn fuzz_channel_names_read_back_as_written() {
    // any name the server rule allows, including words a YAML reader could take for something else
    let start = std::time::Instant::now();
    let word = prop_oneof![
        "[a-z][a-z0-9_-]{0,8}",
        prop::sample::select(vec![
            "yes", "no", "on", "off", "y", "n", "true", "null", "nan", "inf", "e10", "x_"
        ])
        .prop_map(String::from),
    ];
    let name = (word.clone(), prop::option::of(word)).prop_map(|(a, b)| match b {
        Some(b) => format!("{a}/{b}"),
        None => a,
    });
    runner()
        .run(&prop::collection::vec(name, 1..6), |names| {
            let out = condarc::apply_edits("", &condarc::channel_edits(&names[..1], &names[1..]))
                .expect("a valid selection is always written");
            let settings = condarc::read_settings(&out).unwrap();
            prop_assert_eq!(settings.default_channels.as_deref(), Some(&names[..1]));
            for name in &names {
                prop_assert!(
                    condarc::safe_plain(name) || out.contains(&format!("\"{name}\"")),
                    "{} is written plainly although a YAML reader may not read it as a string:\n{}",
                    name,
                    out
                );
            }
            Ok(())
        })
        .unwrap();
    report("channel names", cases(), start);
}

#[test]
fn huge_condarc_is_edited_or_refused_quickly() {
    let mut text = String::from("# a big generated file\nchannels:\n");
    for i in 0..50_000 {
        text.push_str(&format!("  - channel-{i}   # note {i}\n"));
    }
    text.push_str("ssl_verify: true\n");
    let start = std::time::Instant::now();
    let out = condarc::apply_edits(&text, &condarc::login_edits("https://h/api/repo")).unwrap();
    let took = start.elapsed();
    assert!(out.starts_with("# a big generated file\n") && out.contains("ssl_verify: true\n"));
    eprintln!(
        "huge .condarc ({} KB): {:.2} s",
        text.len() / 1024,
        took.as_secs_f64()
    );
    // about 0.2 s on a 2-core machine; the bound leaves room for a loaded one, not for a quadratic editor
    assert!(
        took < std::time::Duration::from_secs(5),
        "editing a {} KB .condarc took {took:?}",
        text.len() / 1024
    );
}
