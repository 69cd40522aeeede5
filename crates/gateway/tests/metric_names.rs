//! The metric names used outside `metrics.rs` agree with it:
//!
//! - every metric the gateway and the connector record has a help text (is one of
//!   `metrics::families()`): every name constant of their `metrics.rs`, and any string
//!   literal a `counter!`, `gauge!` or `histogram!` names;
//! - every metric the alert rules (`deploy/prometheus/switchboard.rules.yml`) and the
//!   dashboard (`deploy/grafana/switchboard.json`) query is one `/metrics` shows, with
//!   `_bucket`, `_sum` and `_count` only on histograms and never a histogram's bare name;
//! - with `promtool` installed (Debian: `apt-get install prometheus`), the rules pass
//!   `promtool check rules` and every dashboard query parses as PromQL (as a recording
//!   rule); without it that part is skipped, saying so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn families() -> BTreeMap<&'static str, &'static str> {
    switchboard_gateway::metrics::families().collect()
}

/// The words of `text` that look like a metric name of ours.
fn metric_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.chars().chain([' ']) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            if word.starts_with("switchboard_") || word.starts_with("process_") {
                words.push(word.clone());
            }
            word.clear();
        }
    }
    words
}

/// The first string literal after each `metrics::counter!(`, `gauge!(` or `histogram!(`.
fn recorded_literals(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    for kind in ["counter!(", "gauge!(", "histogram!(", "describe_"] {
        for (at, _) in source.match_indices(kind) {
            let rest = source[at + kind.len()..].trim_start();
            if let Some(rest) = rest.strip_prefix('"')
                && let Some(end) = rest.find('"')
            {
                names.push(rest[..end].to_owned());
            }
        }
    }
    names
}

#[test]
fn every_recorded_metric_has_a_help_text() {
    let families = families();
    for dir in [
        "crates/gateway/src",
        "crates/gateway/src/cmd",
        "crates/connector/src",
        "crates/connector/src/rest",
    ] {
        for entry in std::fs::read_dir(repo().join(dir)).expect("source folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let source = read(&path);
            for name in recorded_literals(&source) {
                assert!(
                    families.contains_key(name.as_str()),
                    "{}: {name} has no help text in metrics.rs",
                    path.display()
                );
            }
        }
    }
    // And every name constant of the gateway's and the connector's metrics.rs
    // is described.
    for file in [
        "crates/gateway/src/metrics.rs",
        "crates/connector/src/metrics.rs",
    ] {
        let source = read(&repo().join(file));
        let mut constants = 0;
        for line in source.lines().filter(|l| l.starts_with("pub const ")) {
            if let Some(name) = line.split('"').nth(1) {
                assert!(
                    families.contains_key(name),
                    "{file}: {name} has no help text"
                );
                constants += 1;
            }
        }
        assert!(
            constants >= 10,
            "{file}: its constants were found ({constants})"
        );
    }
}

/// The PromQL of the alert rules and of the dashboard's panels.
fn queries() -> (Vec<String>, Vec<String>) {
    let rules = read(&repo().join("deploy/prometheus/switchboard.rules.yml"))
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr: ").map(str::to_owned))
        .collect::<Vec<_>>();
    let dashboard: serde_json::Value =
        serde_json::from_str(&read(&repo().join("deploy/grafana/switchboard.json")))
            .expect("the dashboard is JSON");
    let panels = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().expect("a target's expr").to_owned())
        .collect::<Vec<_>>();
    (rules, panels)
}

#[test]
fn alerts_and_dashboard_query_real_metrics() {
    let families = families();
    let (rules, panels) = queries();
    assert!(rules.len() >= 10, "{rules:?}");
    assert!(panels.len() >= 15, "{panels:?}");
    for query in rules.iter().chain(&panels) {
        for word in metric_words(query) {
            let ok = match families.get(word.as_str()) {
                Some(&"histogram") => false,
                Some(_) => true,
                None => ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                    word.strip_suffix(suffix)
                        .is_some_and(|base| families.get(base) == Some(&"histogram"))
                }),
            };
            assert!(ok, "{word} in {query:?} is not a metric /metrics shows");
        }
    }
}

#[test]
fn promtool_accepts_the_rules_and_the_dashboard_queries() {
    let Ok(version) = std::process::Command::new("promtool")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped: promtool is not installed (Debian: apt-get install prometheus)");
        return;
    };
    assert!(version.status.success());
    let check = |path: &Path| {
        let out = std::process::Command::new("promtool")
            .args(["check", "rules"])
            .arg(path)
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool check rules {}:\n{}{}",
            path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    check(&repo().join("deploy/prometheus/switchboard.rules.yml"));
    // Each panel query as a recording rule, with Grafana's variables given values.
    let (_, panels) = queries();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, query) in panels.iter().enumerate() {
        let promql = query
            .replace("$__rate_interval", "5m")
            .replace("$instance", ".*");
        rules.push_str(&format!(
            "      - record: dashboard_query_{i}\n        expr: '{}'\n",
            promql.replace('\'', "''")
        ));
    }
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("dashboard.rules.yml");
    std::fs::write(&path, rules).expect("write the rules");
    check(&path);
}
