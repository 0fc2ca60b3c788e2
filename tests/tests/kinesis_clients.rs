//! Real Kinesis clients against a real Alleycat: boto3 and the AWS CLI (from PyPI, in the
//! repository's `.tools/venv`) run `tests/kinesis/test_kinesis.py`, and
//! `@aws-sdk/client-kinesis` (from npm, in `tests/kinesis/js/node_modules`) runs
//! `tests/kinesis/js/client.test.mjs`, against `alleycat serve` on free ports, configured with
//! nothing but the endpoint URL and the credentials. `scripts/setup.sh` installs both.
//!
//! Missing clients are a failure, not a skip: CI must run these.
#![allow(missing_docs)]

use std::{path::PathBuf, process::Stdio, time::Duration};

use alleycat_server::ServeConfig;
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
    let (stop, stopped) = oneshot::channel::<()>();
    let server =
        tokio::spawn(alleycat_server::run_with_kinesis(http, Some(kinesis), config, async {
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
        ("ALLEYCAT_RACE_SECONDS", RACE_SECONDS.to_string()),
        ("ALLEYCAT_DATA_DIR", data.path().display().to_string()),
    ];
    let mut python = Command::new(bin.join("python"));
    python
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/kinesis/test_kinesis.py"])
        .current_dir(&root);
    run_suite("boto3 and awscli", python, &env, " passed").await;
    let mut node = Command::new("node");
    node.args(["--no-warnings", "--test", "client.test.mjs"]).current_dir(&js);
    run_suite("@aws-sdk/client-kinesis", node, &env, "# fail 0").await;

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// Runs one client suite with only `env`, and fails with its output unless it passed.
async fn run_suite(name: &str, mut command: Command, env: &[(&str, String)], passed: &str) {
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
    assert!(report.contains(passed), "{report}");
}
