//! `invalidation-instead-of-versioning`: frequent or wildcard invalidations.

use super::Rule;
use crate::cause::Cause;
use crate::lint::{Context, Finding, RuleMeta};
use cachalot_config::{Diagnostic, Severity};
use serde_json::json;

pub(super) const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "invalidation-instead-of-versioning",
        title: "invalidations are frequent or use wildcards where versioned URLs fit",
        why: "a wildcard invalidation throws away warm cache on every POP at once, spiking origin load and \
              lowering the very hit ratio it is meant to fix; versioned URLs need no invalidation at all",
        cause: Some(Cause::InvalidationChurn),
    },
    check,
};

/// More invalidations than this in the listed window counts as frequent.
const FREQUENT: usize = 4;

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let all = &cx.inputs.invalidations;
    let Some(first) = all.first() else { return };
    let wildcard: Vec<&String> = all.iter().flat_map(|i| i.paths.iter()).filter(|p| p.ends_with('*')).collect();
    let broad = wildcard.iter().filter(|p| p.matches('/').count() <= 2).count();
    if all.len() <= FREQUENT && broad == 0 {
        return;
    }
    let mut times: Vec<&str> = all.iter().filter_map(|i| i.create_time.as_deref()).collect();
    times.sort_unstable();
    let span = match (times.first(), times.last()) {
        (Some(a), Some(b)) if a != b => format!(" between {a} and {b}"),
        _ => String::new(),
    };
    let message = format!(
        "{} invalidation{}{span}, {} wildcard path{} ({} of them broad, such as {})",
        all.len(),
        if all.len() == 1 { "" } else { "s" },
        wildcard.len(),
        if wildcard.len() == 1 { "" } else { "s" },
        broad,
        wildcard.first().map_or("none", |p| p.as_str())
    );
    out.push(Finding {
        diagnostic: Diagnostic {
            severity: Severity::Warning,
            code: RULE.meta.id.to_owned(),
            path: first.source.path.clone(),
            message,
            hint: Some(Cause::InvalidationChurn.fix().to_owned()),
        },
        file: first.source.file.clone(),
        line: first.source.line,
        cause: RULE.meta.cause,
        why: RULE.meta.why.to_owned(),
        fix: Some(json!({
            "OriginResponseHeaders": {"Cache-Control": "public, max-age=31536000, immutable"},
            "Example": {"Before": "/static/app.js", "After": "/static/app.3f9a1c.js"}
        })),
        distribution: None,
        behavior: None,
    });
}
