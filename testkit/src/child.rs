//! Child processes for tests that kill a process (SIGKILL mid-write, a lease holder that dies):
//! the test binary runs itself again with only one test selected, and that test does the
//! child's work when it finds itself so started ([`is_child`]), and nothing otherwise. So the
//! child's code lives beside the test that kills it, and no helper binary ships with a crate.
//!
//! The child speaks to its parent on **standard error** (libtest writes its own lines to
//! standard output), one line per message; its arguments travel in environment variables.

use std::process::{Command, Stdio};

/// Names the test a child process was started to run.
const CHILD_ENV: &str = "ALLEYCAT_TEST_CHILD";

/// A command that runs this test binary again, running only the test `name` as a child
/// (standard error piped for its messages, standard output discarded). Set its arguments with
/// `.env(…)` and spawn it.
pub fn command(name: &str) -> Command {
    let exe = std::env::current_exe().expect("the running test binary");
    let mut command = Command::new(exe);
    command
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, name)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Whether this process was started by [`command`] to run the test `name` as a child.
pub fn is_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|started| started == name)
}
