//! Hostile configs to the CloudFormation, Terraform and CLI-JSON readers: every corpus file,
//! cut short, with bytes flipped and with tokens those formats give meaning to (`!Ref`, `${`,
//! `{{`, unbalanced brackets, NUL, invalid UTF-8) inserted anywhere, is read or refused —
//! never a panic — and a refusal names the file it refused.

use cachalot_doctor::input::Inputs;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

const TOKENS: &[&[u8]] = &[
    b"!Ref ",
    b"!Sub '${",
    b"!GetAtt x.",
    b"!If [",
    b"${var.",
    b"{{",
    b"}}",
    b"[[",
    b"]",
    b"\"",
    b"\\",
    b"\0",
    b"\xff\xfe",
    b"\n  - ",
    b": : :",
    b"resource \"aws_cloudfront_distribution\" {",
    b"<<EOF\n",
    b"1e999999",
    b"-9223372036854775809",
];

/// Every config file of the lint corpus (JSON, YAML, `.tf`).
fn corpus_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint_corpus");
    let mut out = Vec::new();
    for case in std::fs::read_dir(&root).unwrap() {
        let case = case.unwrap().path();
        if !case.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&case).unwrap() {
            let file = file.unwrap().path();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name != "expected.json" && file.is_file() {
                out.push(file);
            }
        }
    }
    out.sort();
    out
}

/// `text` mutated: cut at `cut` (a fraction), a byte flipped at `flip`, `token` inserted at `at`.
fn mutate(text: &[u8], cut: f64, flip: f64, at: f64, token: usize) -> Vec<u8> {
    let pos = |f: f64, len: usize| ((f * len as f64) as usize).min(len);
    let mut out = text.to_vec();
    let i = pos(at, out.len());
    out.splice(i..i, TOKENS[token % TOKENS.len()].iter().copied());
    if !out.is_empty() {
        let j = pos(flip, out.len() - 1);
        out[j] ^= 0x5a;
    }
    out.truncate(pos(cut, out.len()));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configs_are_read_or_refused_naming_the_file(
        file in 0usize..64,
        cut in 0.0f64..=1.0,
        flip in 0.0f64..1.0,
        at in 0.0f64..=1.0,
        token in 0usize..64,
    ) {
        let files = corpus_files();
        prop_assume!(!files.is_empty());
        let source = &files[file % files.len()];
        let text = std::fs::read(source).unwrap();
        let dir = std::env::temp_dir().join(format!("cachalot-iac-hostile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join(source.file_name().unwrap());
        std::fs::write(&target, mutate(&text, cut, flip, at, token)).unwrap();
        match Inputs::load(std::slice::from_ref(&target)) {
            Ok(inputs) => {
                // Whatever was read is turned into a snapshot or refused, never a panic.
                let _ = inputs.snapshot();
            }
            Err(errors) => {
                let name = target.file_name().unwrap().to_string_lossy().into_owned();
                let shown = format!("{errors:?}");
                prop_assert!(shown.contains(&name), "a refusal must name the file: {shown}");
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
