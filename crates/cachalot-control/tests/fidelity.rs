//! What CloudFront returns and refuses, checked with boto3 (`tests/aws_cli/fidelity.py`) against the
//! `control_only` example: one test per behaviour, each citing the AWS page it follows in the script.
//! Skips, saying so, only when python3 is missing.

mod common;

fn run(scenario: &str) {
    let Some(py) = common::venv_python_or_skip(&format!("the boto3 scenario {scenario}")) else { return };
    let state = common::TempDir::new(&format!("fidelity-{scenario}"));
    let server = common::Server::start(&state.0, &[]);
    let out = common::aws_script(&py, "fidelity.py", &state.0).arg(&server.url).arg(scenario).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{scenario} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(&format!("{scenario} passed")), "{stdout}");
}

#[test]
fn legacy_host_forwarding_to_s3_is_accepted() {
    run("s3-host-forwarding");
}

#[test]
fn responses_carry_cloudfronts_defaults() {
    run("defaults");
}

#[test]
fn viewer_certificates_are_checked_as_cloudfront_checks_them() {
    run("certificates");
}

#[test]
fn an_ip_address_is_not_an_origin_domain_name() {
    run("ip-origin");
}

#[test]
fn tags_are_checked_and_malformed_arns_are_invalid_arguments() {
    run("tags");
}

#[test]
fn cname_conflicts_name_the_holder_and_come_with_every_other_problem() {
    run("cname");
}

#[test]
fn list_distributions_by_operations_are_unsupported_or_answer() {
    run("list-by");
}

#[test]
fn create_function_location_names_the_function_by_arn() {
    run("function-location");
}
