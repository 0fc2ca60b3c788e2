//! The disk engine's commit window (`StreamConfig::commit_window`, `COMMIT_WINDOW_RECORDS`,
//! `COMMIT_IDLE_GAP`): a small group waits for more puts to share its fsyncs, but not when
//! nobody else is coming, and not once it has its records. Each test sets a window far longer
//! than the test may take, so only those two rules can answer in time.

mod stream_support;

use std::{sync::Arc, time::Duration};

use alleycat_ingest::stream::{config::COMMIT_WINDOW_RECORDS, Stream, StreamConfig};
use stream_support::{rec, small_config, Env};

/// Longer than any test here may run.
const ENDLESS_WINDOW: Duration = Duration::from_secs(600);
/// How long an answer may take on a loaded machine; far below the window.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

fn endless_window() -> StreamConfig {
    StreamConfig { commit_window: ENDLESS_WINDOW, ..small_config(4) }
}

#[tokio::test]
async fn a_lone_put_is_answered_without_waiting_out_the_commit_window() {
    for env in Env::both() {
        let stream = env.open(endless_window());
        for n in 0..3 {
            let put = stream.put_records(vec![rec(&format!("racer-{n}"), "one event")]);
            let out = tokio::time::timeout(ANSWER_WITHIN, put)
                .await
                .unwrap_or_else(|_| panic!("{}: a lone put waited out the window", env.kind()))
                .unwrap();
            assert_eq!(out.failed_record_count, 0, "{}", env.kind());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_trickling_in_are_answered_long_before_the_window_ends() {
    for env in Env::both() {
        let stream: Arc<dyn Stream> = Arc::new(env.open(endless_window()));
        // One put a millisecond, without end: the window's record count ends it (on a loaded
        // machine a stall of the trickle may end it first through the idle gap; this test
        // cannot tell the two apart, only that neither leaves the puts waiting the window).
        let trickle = {
            let stream = Arc::clone(&stream);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_millis(1));
                for n in 0.. {
                    every.tick().await;
                    let stream = Arc::clone(&stream);
                    tokio::spawn(async move {
                        let _ = stream.put_records(vec![rec(&format!("racer-{n}"), "event")]).await;
                    });
                }
            })
        };
        let first = stream.put_records(vec![rec("first", "event")]);
        let out = tokio::time::timeout(ANSWER_WITHIN, first).await;
        trickle.abort();
        let out = out.unwrap_or_else(|_| {
            panic!(
                "{}: neither {COMMIT_WINDOW_RECORDS} records nor a gap ended the window",
                env.kind()
            )
        });
        assert_eq!(out.unwrap().failed_record_count, 0, "{}", env.kind());
    }
}
