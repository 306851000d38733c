//! Holds the layer rule of DESIGN.md: dependencies point down only.
//!
//! `event ← {log, schema, plugin} ← broker ← {http, pipeline} ← gateway ← main`. A module may
//! use itself and modules strictly below it; the L1 modules never use each other.

use std::path::Path;

fn rank(module: &str) -> Option<u32> {
    Some(match module {
        "event" => 0,
        "log" | "schema" | "plugin" => 1,
        "broker" => 2,
        "http" | "pipeline" | "config" => 3,
        "gateway" => 4,
        "shutdown" | "telemetry" => 0,
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
            for used in line.split("crate::").skip(1) {
                let target: String = used
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let Some(theirs) = rank(&target) else {
                    continue;
                };
                edges += 1;
                let same_layer_peer = theirs == own && target != top;
                if target != top && (theirs > own || same_layer_peer) {
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
