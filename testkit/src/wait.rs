//! Waiting in tests, always with a deadline: a test that waits for something that never comes
//! fails with what it waited for instead of hanging CI.

use std::{
    future::Future,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

/// How often [`eventually`] asks again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Waits (up to `limit`) until `check` returns `Some`, asking again every [`POLL_INTERVAL`];
/// each check is itself cut off at the deadline, so a request that never answers cannot hang.
///
/// # Panics
/// When `check` has not returned `Some` within `limit`, naming `what`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Ok(Some(value)) = tokio::time::timeout_at(deadline, check()).await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// `future`'s output, or a panic naming `what` when it takes longer than `limit`.
///
/// # Panics
/// When `future` has not finished within `limit`.
pub async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: not within {limit:?}"),
    }
}

/// Runs `command` to its end (stdin closed, stdout and stderr captured) and returns what it
/// printed and how it exited; kills it if it runs longer than `limit`.
///
/// # Panics
/// When the command cannot start, or is still running after `limit` (it is killed first).
pub fn output_within(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    // Drained on threads, so a chatty child never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{command:?} was still running after {limit:?}: killed");
            }
            Err(e) => panic!("waiting for {command:?}: {e}"),
        }
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn eventually_returns_the_first_answer() {
        let mut asked = 0;
        let got = eventually(Duration::from_secs(5), "the third ask", || {
            asked += 1;
            let answer = (asked == 3).then_some(asked);
            async move { answer }
        })
        .await;
        assert_eq!(got, 3);
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "a check that never answers: not within 1s")]
    async fn eventually_cuts_off_a_check_that_never_answers() {
        eventually(Duration::from_secs(1), "a check that never answers", || {
            std::future::pending::<Option<()>>()
        })
        .await;
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "nothing: not within 2s")]
    async fn within_fails_at_the_deadline() {
        within(Duration::from_secs(2), "nothing", std::future::pending::<()>()).await;
    }

    #[test]
    fn output_within_captures_what_a_command_printed() {
        let out = output_within(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        );
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    #[should_panic(expected = "killed")]
    fn output_within_kills_a_command_that_runs_too_long() {
        output_within(Command::new("sleep").arg("30"), Duration::from_millis(200));
    }
}
