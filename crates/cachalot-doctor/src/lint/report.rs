//! Lint output: aligned text, JSON and SARIF 2.1.0.
//!
//! **API boundary.** The JSON fields (`version`, `files`, `findings[].{severity, code, path,
//! message, hint, file, cause, why, fix, distribution, behavior}`, `summary`, `notes`) and
//! the SARIF shape are documented in `docs/compat/doctor.md`.

use super::Finding;
use super::rules;
use cachalot_config::Severity;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// JSON output version.
pub const JSON_VERSION: u32 = 1;

fn counts(findings: &[Finding]) -> (usize, usize, usize) {
    let n = |s: Severity| findings.iter().filter(|f| f.diagnostic.severity == s).count();
    (n(Severity::Error), n(Severity::Warning), n(Severity::Note))
}

/// Plain-text report: an aligned table, then each finding with its why and fix.
pub fn text(findings: &[Finding], files: &[String], notes: &[String]) -> String {
    let mut out = String::new();
    for n in notes {
        let _ = writeln!(out, "note: {n}");
    }
    if findings.is_empty() {
        let _ = writeln!(out, "No findings in {} file{}.", files.len(), if files.len() == 1 { "" } else { "s" });
        return out;
    }
    let rows: Vec<[String; 4]> = findings
        .iter()
        .map(|f| {
            [
                f.diagnostic.severity.as_str().to_owned(),
                f.rule().to_owned(),
                f.cause.map_or("-".to_owned(), |c| c.id().to_owned()),
                f.behavior.clone().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    let headers = ["SEVERITY", "RULE", "CAUSE", "BEHAVIOR"];
    let mut widths = headers.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i == 3 {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<w$}  ");
            }
        }
        s.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(headers));
    for r in &rows {
        let _ = writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3]]));
    }
    for (i, f) in findings.iter().enumerate() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}. {} [{}]", i + 1, f.diagnostic.message, f.rule());
        match f.line {
            Some(line) => {
                let _ = writeln!(out, "   where: {}:{line} {}", f.file, f.diagnostic.path);
            }
            None => {
                let _ = writeln!(out, "   where: {} {}", f.file, f.diagnostic.path);
            }
        }
        if let Some(c) = f.cause {
            let _ = writeln!(out, "   cause: {} ({})", c.id(), c.summary());
        }
        let _ = writeln!(out, "   why:   {}", f.why);
        if let Some(h) = &f.diagnostic.hint {
            let _ = writeln!(out, "   fix:   {h}");
        }
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "   fix JSON: {}", serde_json::to_string(fix).unwrap_or_default());
        }
    }
    let (e, w, n) = counts(findings);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} finding{} ({e} error{}, {w} warning{}, {n} note{}) in {} file{}.",
        findings.len(),
        plural(findings.len()),
        plural(e),
        plural(w),
        plural(n),
        files.len(),
        plural(files.len())
    );
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// JSON report.
pub fn json(findings: &[Finding], files: &[String], notes: &[String]) -> Value {
    let (e, w, n) = counts(findings);
    json!({
        "version": JSON_VERSION,
        "files": files,
        "findings": findings,
        "summary": {"findings": findings.len(), "errors": e, "warnings": w, "notes": n},
        "notes": notes,
    })
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// SARIF 2.1.0 log with one run; every rule is listed in the driver.
pub fn sarif(findings: &[Finding], version: &str) -> Value {
    let rules: Vec<Value> = rules::ALL
        .iter()
        .map(|r| {
            let mut props = json!({});
            if let Some(c) = r.meta.cause {
                props = json!({"cause": c.id(), "tags": [c.id()]});
            }
            json!({
                "id": r.meta.id,
                "name": r.meta.id,
                "shortDescription": {"text": r.meta.title},
                "fullDescription": {"text": r.meta.why},
                "help": {"text": r.meta.cause.map_or(r.meta.title, |c| c.fix())},
                "properties": props,
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let index = rules::ALL.iter().position(|r| r.meta.id == f.rule()).unwrap_or(0);
            let mut message = f.diagnostic.message.clone();
            if let Some(h) = &f.diagnostic.hint {
                message.push_str(". Fix: ");
                message.push_str(h);
            }
            let mut physical = json!({"artifactLocation": {"uri": f.file}});
            if let Some(line) = f.line {
                physical["region"] = json!({"startLine": line});
            }
            json!({
                "ruleId": f.rule(),
                "ruleIndex": index,
                "level": sarif_level(f.diagnostic.severity),
                "message": {"text": message},
                "locations": [{
                    "physicalLocation": physical,
                    "logicalLocations": [{"fullyQualifiedName": f.diagnostic.path, "kind": "member"}]
                }],
                "properties": {
                    "cause": f.cause.map(|c| c.id()),
                    "why": f.why,
                    "fix": f.fix,
                    "distribution": f.distribution,
                    "behavior": f.behavior,
                }
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "cachalot",
                "informationUri": "https://github.com/cachalot-cdn/cachalot",
                "version": version,
                "rules": rules,
            }},
            "results": results,
        }]
    })
}
