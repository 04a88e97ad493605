//! `function-cannot-run`: a CloudFront Function whose code the runtime refuses.
//!
//! Runs the same check as `CreateFunction` and `serve --config`
//! ([`cachalot_functions::check`]): syntax errors, syntax the runtime does not have,
//! imports of modules it does not offer, no `handler`.

use super::Rule;
use crate::lint::{Context, Finding, RuleMeta};
use cachalot_config::{Diagnostic, Severity};
use cachalot_functions::Runtime;

pub(super) const RULE: Rule = Rule {
    meta: RuleMeta {
        id: "function-cannot-run",
        title: "a CloudFront Function's code cannot run",
        why: "every request of a behavior that runs the function fails with 503 (FunctionExecutionError): \
              nothing reaches the origin and nothing is cached",
        cause: None,
    },
    check,
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut names: Vec<&String> = cx.inputs.function_code.keys().collect();
    names.sort();
    for name in names {
        let Some(source) = cx.inputs.function_sources.get(name) else { continue };
        let Some(function) = cx.inputs.resources.functions.iter().find(|f| &f.name == name) else { continue };
        // An unknown runtime is reported by the configuration's own validation.
        let Ok(runtime) = function.runtime.parse::<Runtime>() else { continue };
        let Err(problem) = cachalot_functions::check(runtime, &cx.inputs.function_code[name]) else { continue };
        out.push(Finding {
            diagnostic: Diagnostic {
                severity: Severity::Error,
                code: RULE.meta.id.to_owned(),
                path: source.path.clone(),
                message: format!("function {name} cannot run under {runtime}: {problem}"),
                hint: Some(
                    "fix the code at the position given (function.js:LINE:COLUMN is in the function's code); \
                     `cachalot function test` runs it on an event"
                        .to_owned(),
                ),
            },
            file: source.file.clone(),
            line: source.line,
            cause: RULE.meta.cause,
            why: RULE.meta.why.to_owned(),
            fix: None,
            distribution: None,
            behavior: None,
        });
    }
}
