//! Each cause's scenario: lint, analyze and replay name that cause and nothing spurious.

use cachalot_doctor::Cause;
use cachalot_doctor::analyze::{self, Options};
use cachalot_doctor::input::Inputs;
use cachalot_doctor::lint::{self, Context};
use cachalot_doctor::logs::LogInput;
use cachalot_doctor::scenario;
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("doctor-scenario-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const SEED_CAUSES: [Cause; 5] =
    [Cause::QueryStringsInKey, Cause::CookiesInKey, Cause::AcceptOverKeyed, Cause::TtlTooShort, Cause::ColdPop];

#[test]
fn lint_names_each_scenario_cause_and_nothing_else() {
    for cause in SEED_CAUSES {
        let mut inputs = Inputs::default();
        inputs.add_text("config.json", &scenario::config_for(cause), None).unwrap();
        let snapshot = inputs.snapshot().unwrap();
        let findings = lint::lint(&Context { inputs: &inputs, snapshot: &snapshot, usage: None });
        let causes: Vec<Cause> = findings.iter().filter_map(|f| f.cause).collect();
        let expected = if cause == Cause::ColdPop { vec![] } else { vec![cause] };
        assert_eq!(causes, expected, "{cause}: {findings:#?}");
    }
}

#[test]
fn analyze_names_each_scenario_cause_as_the_main_fault() {
    for cause in SEED_CAUSES {
        let s = scenario::generate(cause, 1).unwrap();
        let d = dir(cause.id());
        let (config_path, log) = scenario::write(&d, &s.config, &s.records, &scenario::log_file_name("A")).unwrap();
        let config = scenario::model_of(&config_path.display().to_string(), &s.config).unwrap();
        let report = analyze::analyze(
            &[LogInput::File(log)],
            Some(&config),
            &Options { top: 10, threads: 2, columns: None },
            None,
        )
        .unwrap();
        let faults: Vec<Cause> = report.diagnosis.iter().filter(|d| d.fault).map(|d| d.cause).collect();
        let expected = if cause == Cause::ColdPop { vec![] } else { vec![cause] };
        assert_eq!(faults, expected, "{cause}:\n{}", analyze::text(&report));
        assert!((report.hit_ratio.unwrap() - scenario::measured_hit_ratio(&s.records)).abs() < 1e-9);
        if cause == Cause::ColdPop {
            assert_eq!(report.diagnosis[0].cause, Cause::ColdPop);
        }
        std::fs::remove_dir_all(&d).ok();
    }
}

#[test]
fn analyze_without_config_still_sees_query_and_cookie_fragmentation() {
    for cause in [Cause::QueryStringsInKey, Cause::CookiesInKey] {
        let s = scenario::generate(cause, 2).unwrap();
        let d = dir(&format!("noconf-{}", cause.id()));
        let (_, log) = scenario::write(&d, &s.config, &s.records, &scenario::log_file_name("B")).unwrap();
        let report =
            analyze::analyze(&[LogInput::File(log)], None, &Options { top: 5, threads: 1, columns: None }, None)
                .unwrap();
        assert_eq!(
            report.diagnosis.iter().find(|d| d.fault).map(|d| d.cause),
            Some(cause),
            "{}",
            analyze::text(&report)
        );
        assert!(!report.fragmentation.is_empty());
        std::fs::remove_dir_all(&d).ok();
    }
}
