//! The CloudFormation templates the tests read are templates CloudFormation accepts: each passes
//! `cfn-lint` (from the test venv, `CACHALOT_VENV` or `CACHALOT_AWS_VENV`). Without it the test
//! says so loudly and passes locally; under CI (`CI` set) a missing `cfn-lint` fails it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cfn_lint() -> Option<PathBuf> {
    ["CACHALOT_VENV", "CACHALOT_AWS_VENV"]
        .iter()
        .filter_map(std::env::var_os)
        .map(|v| PathBuf::from(v).join("bin/cfn-lint"))
        .find(|p| p.is_file())
}

fn templates(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            templates(&p, out);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".template.json") {
            out.push(p);
        }
    }
}

#[test]
fn corpus_templates_pass_cfn_lint() {
    let Some(cfn_lint) = cfn_lint() else {
        assert!(std::env::var_os("CI").is_none(), "cfn-lint is missing from the test venv (requirements-test.txt)");
        eprintln!("SKIPPED: no cfn-lint in $CACHALOT_VENV/bin (pip install -r requirements-test.txt)");
        return;
    };
    let mut files = Vec::new();
    templates(Path::new("tests/lint_corpus"), &mut files);
    assert!(!files.is_empty());
    for f in &files {
        let out = Command::new(&cfn_lint).arg("--").arg(f).output().unwrap();
        assert!(
            out.status.success(),
            "{}: cfn-lint:\n{}{}",
            f.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("{} templates pass cfn-lint", files.len());
}
