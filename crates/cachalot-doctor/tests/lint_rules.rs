//! Lint rules as data: one fixture folder per rule under `tests/lint_rules/<rule-id>/`, in the
//! spirit of ruff's per-rule fixtures. `fires/` holds a configuration (a Cachalot config file or
//! AWS CLI outputs, with `logs/` when the rule reads access logs) that the rule must flag;
//! `passes/` a close one that it must not. The rule's findings on `fires/` are snapshotted
//! (`tests/snapshots/lint_rules__<rule-id>.snap`). Every rule has a folder, every folder a rule.

use cachalot_doctor::input::Inputs;
use cachalot_doctor::lint::{self, Context, report, rules, usage::KeyUsage};
use cachalot_doctor::logs;
use std::path::{Path, PathBuf};

const ROOT: &str = "tests/lint_rules";

/// The findings of every rule on the configuration in `case` (and its `logs/`, if any).
fn lint_folder(case: &Path) -> (Vec<lint::Finding>, Vec<String>) {
    let inputs = Inputs::load(&[case.to_path_buf()]).unwrap_or_else(|e| panic!("{}: {e:?}", case.display()));
    let snapshot = inputs.snapshot().unwrap_or_else(|e| panic!("{}: {e:?}", case.display()));
    let log_dir = case.join("logs");
    let usage = log_dir.is_dir().then(|| {
        let files = logs::expand(&[log_dir.display().to_string()]).unwrap();
        let (usage, stats) = KeyUsage::from_logs(&snapshot, &files, 1).unwrap();
        assert_eq!(stats.bad_lines, 0, "{}: {:?}", log_dir.display(), stats.first_bad);
        usage
    });
    let cx = Context { inputs: &inputs, snapshot: &snapshot, usage: usage.as_ref() };
    (lint::lint(&cx), inputs.files.clone())
}

fn rule_folders() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(ROOT).unwrap().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

#[test]
fn every_rule_has_a_fixture_folder_and_every_folder_a_rule() {
    let folders: Vec<String> =
        rule_folders().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    let mut ids: Vec<String> = rules::ALL.iter().map(|r| r.meta.id.to_owned()).collect();
    ids.sort();
    assert_eq!(folders, ids);
    for f in rule_folders() {
        assert!(f.join("fires").is_dir() && f.join("passes").is_dir(), "{}: needs fires/ and passes/", f.display());
    }
}

#[test]
fn each_rule_fires_on_its_fixture_and_not_on_the_near_miss() {
    for folder in rule_folders() {
        let id = folder.file_name().unwrap().to_string_lossy().into_owned();
        let (all, files) = lint_folder(&folder.join("fires"));
        let fired: Vec<lint::Finding> = all.into_iter().filter(|f| f.rule() == id).collect();
        assert!(!fired.is_empty(), "{id}: no finding on fires/");
        let json = report::json(&fired, &files, &[]);
        let text = serde_json::to_string_pretty(&json["findings"]).unwrap();
        insta::assert_snapshot!(id.clone(), text);

        let (all, _) = lint_folder(&folder.join("passes"));
        let fired: Vec<String> = all.iter().filter(|f| f.rule() == id).map(|f| f.diagnostic.message.clone()).collect();
        assert!(fired.is_empty(), "{id}: fires on passes/: {fired:?}");
    }
}
