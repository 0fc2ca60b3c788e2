//! The whole system at scale, as operators run it: the `alleycat` binary on a 20-second race with
//! a 1-second delivery interval, and 1,000 simulated racers riding a race in class 1. Afterwards
//! the class history file holds every racer's bests, the race results list every racer with the
//! totals the generator computed, and the delivered objects hold exactly the distinct events the
//! generator saw acknowledged. (`whole_system_sigkill.rs`: the same with a SIGKILL mid-race.)

mod support;

use alleycat_sim::ClassChoice;
use support::{assert_stored_as_acknowledged, ride, sim_config, Dirs, ServerProcess};

const RACE_SECONDS: u32 = 20;
const RACERS: u32 = 1000;
const ROSTER: u32 = 2000;

#[tokio::test]
async fn a_thousand_racers_ride_a_race_and_everything_acknowledged_is_stored() {
    let dirs = Dirs::new();
    let server = ServerProcess::spawn(&dirs, RACE_SECONDS, ROSTER, 0);
    let report = ride(sim_config(&server.base, RACERS, ClassChoice::One(1))).await;
    assert_eq!(report.summary.retried_requests, 0, "{:?}", report.summary);
    assert_stored_as_acknowledged(&report, &server.base, dirs.data.path()).await;
    server.terminate();
}
