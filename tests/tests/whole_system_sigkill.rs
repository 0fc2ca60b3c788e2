//! The whole system through a crash: 1,000 simulated racers ride a 20-second race in class 1
//! against the `alleycat` binary, which is killed with SIGKILL mid-race and started again on the
//! same data directory and port. The generator retries what was not acknowledged, and afterwards
//! nothing acknowledged is missing: the same checks as `whole_system.rs`.

mod support;

use std::time::Duration;

use alleycat_sim::ClassChoice;
use support::{
    assert_stored_as_acknowledged, eventually, metric, ride, sim_config, Dirs, ServerProcess,
};
use tokio::io::AsyncReadExt;

const RACE_SECONDS: u32 = 20;
const RACERS: u32 = 1000;
const ROSTER: u32 = 2000;

#[tokio::test]
async fn after_a_sigkill_mid_race_the_generator_retries_and_nothing_acknowledged_is_lost() {
    let dirs = Dirs::new();
    let server = ServerProcess::spawn(&dirs, RACE_SECONDS, ROSTER, 0);
    let (base, port) = (server.base.clone(), server.port);
    let sim = tokio::spawn(ride(sim_config(&base, RACERS, ClassChoice::One(1))));

    // Kill it a few seconds into the race, then start it again on the same port and data.
    eventually(Duration::from_secs(3 * u64::from(RACE_SECONDS)), "five seconds ridden", || async {
        (metric(&base, "events_accepted", "").await >= 5 * u64::from(RACERS)).then_some(())
    })
    .await;
    server.kill();
    // Stand in for the dead server until the generator's next request arrives, and drop it
    // unanswered: at least one request meets the crash, however quickly the restart follows.
    let stand_in = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let (mut request, _) = tokio::time::timeout(Duration::from_secs(10), stand_in.accept())
        .await
        .expect("the generator sends within a race second")
        .unwrap();
    let mut head = [0u8; 64];
    let read = request.read(&mut head).await.unwrap();
    assert!(head[..read].starts_with(b"POST "), "the generator posts events");
    drop((request, stand_in));
    let server = ServerProcess::spawn(&dirs, RACE_SECONDS, ROSTER, port);

    let report = sim.await.unwrap();
    assert!(report.summary.retried_requests > 0, "nothing met the killed server");
    assert_stored_as_acknowledged(&report, &server.base, dirs.data.path()).await;
    server.terminate();
}
