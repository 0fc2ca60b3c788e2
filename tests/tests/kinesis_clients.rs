//! Real Kinesis clients against a real Alleycat: boto3 and the AWS CLI (from PyPI, in the
//! repository's `.tools/venv`) run `tests/kinesis/test_kinesis.py`, and
//! `@aws-sdk/client-kinesis` (from npm, in `tests/kinesis/js/node_modules`) runs
//! `tests/kinesis/js/client.test.mjs`, against `alleycat serve` on free ports, configured with
//! nothing but the endpoint URL and the credentials. `scripts/setup.sh` installs both.
//!
//! Missing clients are a failure, not a skip: CI must run these.
#![allow(missing_docs)]

use std::{path::PathBuf, process::Stdio, time::Duration};

use alleycat_server::{RunOptions, ServeConfig};
use tokio::{net::TcpListener, process::Command, sync::oneshot};

const ACCESS_KEY_ID: &str = "AKIDKINESISTEST";
const SECRET: &str = "kinesis-test-secret";
const RACE_SECONDS: u32 = 3600;
/// Generous: the suite takes about twenty seconds on a busy two-core machine.
const SUITE_DEADLINE: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_the_aws_cli_and_the_js_sdk_work_against_alleycat_unchanged() {
    let root = repo_root();
    let bin = root.join(".tools/venv/bin");
    for tool in ["python", "aws"] {
        assert!(
            bin.join(tool).exists(),
            "{} is missing: the Kinesis client tests need boto3, awscli and pytest in .tools/venv; run scripts/setup.sh",
            bin.join(tool).display()
        );
    }
    let js = root.join("tests/kinesis/js");
    assert!(
        js.join("node_modules/@aws-sdk/client-kinesis").exists(),
        "{} has no node_modules: the Kinesis client tests need @aws-sdk/client-kinesis; run scripts/setup.sh",
        js.display()
    );
    let data = tempfile::tempdir().unwrap();
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), "<!doctype html><title>Alleycat</title>")
        .unwrap();
    let config = ServeConfig {
        port: 0,
        data_dir: data.path().to_owned(),
        dist: dist.path().to_owned(),
        race_seconds: RACE_SECONDS,
        roster_size: 100,
        api_key: Some("kinesis-test-producer".into()),
        delivery_interval_ms: 200,
        throttle: true,
        kinesis_port: Some(0),
        kinesis_access_key_id: ACCESS_KEY_ID.into(),
        kinesis_secret_access_key: SECRET.into(),
        ..ServeConfig::default()
    };
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let kinesis = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", http.local_addr().unwrap());
    let endpoint = format!("http://{}", kinesis.local_addr().unwrap());
    // The wall clock: the throttle's per-second budget must refill as the suites run.
    let options = RunOptions { kinesis: Some(kinesis), ..RunOptions::default() };
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(alleycat_server::run_with(http, config, options, async {
        let _ = stopped.await;
    }));

    let env = [
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", data.path().display().to_string()),
        ("PYTHONDONTWRITEBYTECODE", "1".into()),
        ("KINESIS_ENDPOINT", endpoint),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
        ("ALLEYCAT_URL", base),
        ("ALLEYCAT_DATA_DIR", data.path().display().to_string()),
    ];
    let mut python = Command::new(bin.join("python"));
    python
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/kinesis/test_kinesis.py"])
        .current_dir(&root);
    run_suite("boto3 and awscli", python, &env, Report::Pytest).await;
    let mut node = Command::new("node");
    node.args(["--no-warnings", "--test", "--test-reporter=tap", "client.test.mjs"])
        .current_dir(&js);
    run_suite("@aws-sdk/client-kinesis", node, &env, Report::NodeTap).await;

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// How a suite reports its tally.
#[derive(Debug, Clone, Copy)]
enum Report {
    /// pytest's summary line: `12 passed in 3.2s`, `1 failed, 11 passed in 3.2s`.
    Pytest,
    /// `node --test`'s TAP summary: `# pass 12`, `# fail 0`.
    NodeTap,
}

impl Report {
    /// How many tests passed and failed, when the report says so.
    fn tally(self, report: &str) -> Option<(usize, usize)> {
        match self {
            Report::Pytest => {
                let summary = report.lines().rev().find(|l| l.contains(" passed"))?;
                let count = |word: &str| {
                    let words: Vec<&str> = summary.split([' ', ',']).collect();
                    words.windows(2).find(|w| w[1] == word).and_then(|w| w[0].parse().ok())
                };
                Some((count("passed")?, count("failed").unwrap_or(0)))
            }
            Report::NodeTap => {
                let count = |key: &str| {
                    report.lines().find_map(|l| l.strip_prefix(key)?.trim().parse::<usize>().ok())
                };
                Some((count("# pass ")?, count("# fail ")?))
            }
        }
    }
}

/// Runs one client suite with only `env`, and fails with its output unless it exited cleanly
/// and its report counts at least one test passed and none failed (a suite that ran nothing
/// has not passed).
async fn run_suite(name: &str, mut command: Command, env: &[(&str, String)], kind: Report) {
    command
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SUITE_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("the {name} suite did not finish in time"))
        .unwrap_or_else(|e| panic!("cannot run the {name} suite: {e}"));
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the {name} suite failed:\n{report}");
    let tally = kind.tally(&report);
    assert!(
        matches!(tally, Some((passed, 0)) if passed > 0),
        "the {name} suite did not report tests passed and none failed ({tally:?}):\n{report}"
    );
}

#[test]
fn a_suite_that_ran_no_tests_is_not_counted_as_passed() {
    assert_eq!(Report::NodeTap.tally("# tests 0\n# pass 0\n# fail 0\n"), Some((0, 0)));
    assert_eq!(Report::NodeTap.tally("# tests 7\n# pass 7\n# fail 0\n"), Some((7, 0)));
    assert_eq!(Report::NodeTap.tally("# fail 0\n"), None);
    assert_eq!(Report::Pytest.tally("....\n12 passed in 3.21s\n"), Some((12, 0)));
    assert_eq!(Report::Pytest.tally("1 failed, 11 passed in 3.2s\n"), Some((11, 1)));
    assert_eq!(Report::Pytest.tally("no tests ran in 0.01s\n"), None);
}
