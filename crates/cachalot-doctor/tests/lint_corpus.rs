//! Lint on configurations in the shapes real projects commit them: `get-distribution-config`
//! output (with its `ETag`), `create-distribution` input, a bare `DistributionConfig`, a bare
//! list of distributions, `terraform show -json`, Terraform `.tf` files, CloudFormation JSON and
//! YAML, `cdk synth` output. One folder per configuration under `tests/lint_corpus/<case>/`,
//! holding its files and `expected.json`:
//!
//! - `findings`: every finding that is right, as `{rule, behavior}`; each must be reported;
//! - `tolerated`: findings known to be wrong that are still reported (they count against
//!   precision); anything reported that is in neither list fails the test;
//! - `notes`: text each of which some note must contain (what could not be resolved).
//!
//! The test prints precision and recall over the corpus.

use cachalot_doctor::input::Inputs;
use cachalot_doctor::lint::{self, Context};
use serde_json::Value;
use std::path::PathBuf;

const ROOT: &str = "tests/lint_corpus";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Expected {
    rule: String,
    behavior: String,
    /// The resource's line, for templates and Terraform (checked when the expectation gives it).
    line: Option<usize>,
}

impl Expected {
    fn matches(&self, other: &Expected) -> bool {
        self.rule == other.rule
            && self.behavior == other.behavior
            && (self.line.is_none() || other.line.is_none() || self.line == other.line)
    }
}

fn list(v: &Value, key: &str) -> Vec<Expected> {
    v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| Expected {
                    rule: f["rule"].as_str().unwrap_or_default().to_owned(),
                    behavior: f["behavior"].as_str().unwrap_or_default().to_owned(),
                    line: f["line"].as_u64().map(|l| l as usize),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn lint_corpus_findings_precision_and_recall() {
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(ROOT).unwrap().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(!cases.is_empty());
    let (mut right, mut reported, mut expected_total) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap()).unwrap();
        let want = list(&expected, "findings");
        let tolerated = list(&expected, "tolerated");
        let inputs = match Inputs::load(std::slice::from_ref(case)) {
            Ok(i) => i,
            Err(e) => {
                failures.push(format!("{name}: refused: {e:?}"));
                continue;
            }
        };
        let snapshot = match inputs.snapshot() {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{name}: refused: {e:?}"));
                continue;
            }
        };
        let cx = Context { inputs: &inputs, snapshot: &snapshot, usage: None };
        let got: Vec<Expected> = lint::lint(&cx)
            .iter()
            .map(|f| Expected {
                rule: f.rule().to_owned(),
                behavior: f.behavior.clone().unwrap_or_default(),
                line: f.line,
            })
            .collect();
        for w in &want {
            if !got.iter().any(|g| w.matches(g) && (w.line.is_none() || g.line == w.line)) {
                failures.push(format!("{name}: missed {} on {} (line {:?}) in {got:?}", w.rule, w.behavior, w.line));
            }
        }
        for g in &got {
            if !want.iter().chain(&tolerated).any(|w| w.matches(g)) {
                failures.push(format!("{name}: unexpected {} on {}", g.rule, g.behavior));
            }
        }
        for n in expected["notes"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !inputs.notes.iter().any(|x| x.contains(n)) {
                failures.push(format!("{name}: no note containing {n:?} in {:?}", inputs.notes));
            }
        }
        expected_total += want.len();
        reported += got.len();
        right += got.iter().filter(|g| want.iter().any(|w| w.matches(g))).count();
        println!("{name}: {} reported, {} expected", got.len(), want.len());
    }
    let pct = |a: usize, b: usize| if b == 0 { 100.0 } else { 100.0 * a as f64 / b as f64 };
    println!(
        "lint corpus: {} configurations, {reported} findings reported, {right} right: precision {:.1} %, recall {:.1} % \
         ({right} of {expected_total} expected)",
        cases.len(),
        pct(right, reported),
        pct(right, expected_total)
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
