//! What the README promises about the binaries, tested through the binaries: `alleycat history
//! import` end to end, the offline commands refused beside a running server, a PostgreSQL URL
//! asking for TLS refused at start, and `alleycat-sim`'s exit codes.

mod support;

use std::{
    path::Path,
    process::{Command, Output},
    time::Duration,
};

use alleycat_domain::output::to_centi;
use support::{history, server_binary, sim_binary, Dirs, ServerProcess, API_KEY};

/// The longest an offline command or a refused start may take.
const RUN_LIMIT: Duration = Duration::from_secs(120);
/// Races of these tests: long, and the sim rides a finished one at full speed.
const RACE_SECONDS: u32 = 600;
const ROSTER: u32 = 100;

/// Runs `binary` with `args` and only `env` (plus `PATH`) on top of quiet logs, to its end.
fn run(binary: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(binary);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ALLEYCAT_LOG", "info")
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k, v)));
    alleycat_testkit::output_within(&mut command, RUN_LIMIT)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn data_env(dirs: &Dirs) -> Vec<(&'static str, String)> {
    vec![
        ("ALLEYCAT_DATA_DIR", dirs.data.path().display().to_string()),
        ("ALLEYCAT_RACE_SECONDS", RACE_SECONDS.to_string()),
    ]
}

#[test]
fn history_import_merges_an_original_format_file_gzipped_or_not_into_the_served_history() {
    let dirs = Dirs::new();
    let files = tempfile::tempdir().unwrap();
    // Racer 5's bests at seconds 1 and 2, racer 6's at second 1.
    let plain = files.path().join("gravel.json");
    std::fs::write(&plain, r#"{"1": {"5": 120.5, "6": 100}, "2": {"5": 130.25}}"#).unwrap();
    let gzipped = files.path().join("tempo.json.gz");
    let gz = Command::new("gzip").arg("-c").arg(&plain).output().unwrap();
    assert!(gz.status.success());
    std::fs::write(&gzipped, gz.stdout).unwrap();

    let env = data_env(&dirs);
    for (class, file) in [("3", &plain), ("4", &gzipped)] {
        let out = run(
            &server_binary(),
            &["history", "import", "--class", class, file.to_str().unwrap()],
            &env,
        );
        assert!(out.status.success(), "import into class {class}: {}", stderr(&out));
    }
    // A file that is not in the format is refused, saying which file.
    let bad = files.path().join("bad.json");
    std::fs::write(&bad, r#"{"0": {"5": 1}}"#).unwrap();
    let out =
        run(&server_binary(), &["history", "import", "--class", "3", bad.to_str().unwrap()], &env);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot import") && stderr(&out).contains("bad.json"),
        "{}",
        stderr(&out)
    );

    // A server on that data directory serves both classes' history with the imported bests.
    let server = ServerProcess::spawn(&dirs, RACE_SECONDS, ROSTER, 0);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for class in [3, 4] {
        let served = runtime
            .block_on(history(&server.base, class))
            .unwrap_or_else(|| panic!("class {class} has a history"));
        assert_eq!(served.racer_count(), 2, "class {class}");
        assert_eq!(served.best(5, 1), Some(to_centi(120.5)));
        assert_eq!(served.best(5, 2), Some(to_centi(130.25)));
        assert_eq!(served.best(6, 1), Some(to_centi(100.0)));
    }
    server.terminate();
}

#[test]
fn offline_commands_are_refused_beside_a_running_server_on_the_same_data() {
    let dirs = Dirs::new();
    let server = ServerProcess::spawn(&dirs, RACE_SECONDS, ROSTER, 0);
    let file = dirs.dist.path().join("history.json");
    std::fs::write(&file, r#"{"1": {"5": 120.5}}"#).unwrap();
    let env = data_env(&dirs);
    for args in [&["rebuild"][..], &["history", "import", "--class", "2", file.to_str().unwrap()]] {
        let out = run(&server_binary(), args, &env);
        assert!(!out.status.success(), "{args:?} ran beside the server");
        assert!(
            stderr(&out).contains("another Alleycat process is using the data directory"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    server.terminate();
    // Once the server is stopped, they run.
    let out = run(&server_binary(), &["rebuild"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_database_url_asking_for_tls_is_refused_at_start_with_a_clear_message() {
    // Something listens, so the refusal is about TLS and not an unreachable server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dirs = Dirs::new();
    let mut env = data_env(&dirs);
    env.push((
        "ALLEYCAT_DATABASE_URL",
        format!("postgres://alleycat:secret@127.0.0.1:{port}/alleycat?sslmode=require"),
    ));
    env.push(("ALLEYCAT_PORT", "0".into()));
    let out = run(&server_binary(), &["serve"], &env);
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(message.contains("asks for TLS") && message.contains("sslmode=require"), "{message}");
    assert!(!message.contains("secret"), "the password is not printed: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alleycat_sim_exits_0_when_all_is_acknowledged_1_when_events_fail_and_2_when_it_cannot_start(
) {
    let dirs = Dirs::new();
    let server = ServerProcess::spawn(&dirs, RACE_SECONDS, ROSTER, 0);
    let sim = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&sim_binary(), &args, &[])
        })
    };
    let ride = |base: &str, key: &str, race: Option<u64>| {
        let mut args: Vec<String> = ["--server", base, "--api-key", key, "--racers", "3"]
            .into_iter()
            .chain(["--class", "2", "--fast", "--json", "--retry-seconds", "5"])
            .map(String::from)
            .collect();
        if let Some(race) = race {
            args.extend(["--race".into(), race.to_string()]);
        }
        args
    };

    // Every event acknowledged: 0.
    let out = sim(ride(&server.base, API_KEY, None)).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let race = summary["races"][0].as_u64().expect("the race ridden");
    assert_eq!(summary["acknowledged"], 3 * u64::from(RACE_SECONDS), "{summary}");

    // The same race again, the same riders: every event is the one already stored, answered
    // as such: 0.
    let out = sim(ride(&server.base, API_KEY, Some(race))).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["alreadyStored"], 3 * u64::from(RACE_SECONDS), "{summary}");

    // The same race with other rides (another seed): every event is a duplicate of a stored
    // second, failed for good: 1.
    let mut other_rides = ride(&server.base, API_KEY, Some(race));
    other_rides.extend(["--seed".to_owned(), "7".to_owned()]);
    let out = sim(other_rides).await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // A refused API key, and a server that is not there: the run cannot start, 2.
    let out = sim(ride(&server.base, "not-the-key", None)).await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refused the API key"), "{}", stderr(&out));
    let nobody = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let out = sim(ride(&nobody, API_KEY, None)).await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot read the race clock"), "{}", stderr(&out));
    server.terminate();
}
