//! Holds the layer rule of DESIGN.md: dependencies point down only.
//!
//! `event ← {log, schema, plugin} ← broker ← {http, pipeline} ← gateway ← main`. A module may
//! use itself, the layer directly below it (no layer is skipped: a front end reaches storage
//! and plugins only through the broker), and `event`, the vocabulary every layer speaks. The
//! L1 modules never use each other. The composition root (`gateway`, `config`) may use every
//! layer below it: it builds them.

use std::path::Path;

fn rank(module: &str) -> Option<u32> {
    Some(match module {
        "event" => 0,
        "log" | "schema" | "plugin" => 1,
        "broker" => 2,
        "http" | "pipeline" => 3,
        "gateway" | "config" => 4,
        "shutdown" | "telemetry" | "durable" | "json_text" => 0,
        _ => return None,
    })
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a line names: `crate::a::…` and each item of `crate::{a, b::…}`.
fn used_modules(line: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for used in line.split("crate::").skip(1) {
        match used.strip_prefix('{') {
            Some(group) => {
                let group = group.split('}').next().unwrap_or_default();
                let mut depth = 0;
                let mut item_start = true;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        _ if item_start && !c.is_whitespace() => {
                            out.push(ident(&group[i..]));
                            item_start = false;
                        }
                        _ => {}
                    }
                }
            }
            None => out.push(ident(used)),
        }
    }
    out
}

/// The layer rule for one edge.
fn allowed(own_name: &str, own: u32, target: &str, theirs: u32) -> bool {
    if target == own_name || target == "event" {
        return true;
    }
    let composition_root = matches!(own_name, "gateway" | "config");
    if composition_root {
        return theirs < own || (theirs == own && target != "gateway");
    }
    // Utility modules at rank 0 (shutdown, telemetry, durable, json_text) are usable by all.
    theirs == 0 || theirs + 1 == own
}

#[test]
fn layer_rule_rejects_skips_and_upward_edges() {
    assert!(allowed("http", 3, "broker", 2));
    assert!(allowed("http", 3, "event", 0));
    assert!(
        !allowed("http", 3, "log", 1),
        "a front end skipping the broker"
    );
    assert!(
        !allowed("pipeline", 3, "plugin", 1),
        "the pipeline skipping the broker"
    );
    assert!(!allowed("broker", 2, "http", 3), "an upward edge");
    assert!(!allowed("log", 1, "plugin", 1), "L1 peers");
    assert!(allowed("gateway", 4, "log", 1));
    assert_eq!(
        used_modules("use crate::{log, plugin::Host};"),
        ["log", "plugin"]
    );
    assert_eq!(used_modules("x: crate::broker::Broker"), ["broker"]);
}

#[test]
fn layers_point_down_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut edges = 0;
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        let Some(own) = rank(&top) else { continue };
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for target in used_modules(line) {
                let Some(theirs) = rank(&target) else {
                    continue;
                };
                edges += 1;
                if !allowed(&top, own, &target, theirs) {
                    violations.push(format!("{}:{}: {top} uses {target}", rel.display(), n + 1));
                }
            }
        }
    }
    assert!(
        edges > 20,
        "the scan found too few crate:: edges ({edges}) to be checking anything"
    );
    assert!(
        violations.is_empty(),
        "layer rule broken:\n{}",
        violations.join("\n")
    );
}

#[test]
fn storage_knows_nothing_of_http() {
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/log");
    let mut files = vec![log.with_extension("rs")];
    rust_files(&log, &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for forbidden in ["hyper", "http::", "StatusCode", "serde_json::Value"] {
            assert!(
                !text.contains(forbidden),
                "{} mentions {forbidden}",
                file.display()
            );
        }
    }
}
