//! The load generator against a real server: it rides races on the clock and at full speed,
//! every event is acknowledged and lands in the results with the totals the sim computed, and
//! it retries exactly what may succeed when sent again; its check (`--check-seconds`) finds
//! every acknowledged event stored, and says so when they are not.

mod support;

use std::time::Duration;

use alleycat_sim::ClassChoice;
use support::{
    assert_results_match, client, metric, results_with, ride, serve_config, sim_config, Dirs,
    Server,
};

/// Races of the live test: short, so the sim rides a whole one within seconds.
const SHORT_RACE: u32 = 8;
/// Races of the tests that ride a past race at full speed: long, so no test straddles a race
/// boundary in practice (the duplicate check spans two race lengths).
const LONG_RACE: u32 = 600;
/// Races of the restart test: long enough that the sim is still sending when the server stops.
const RESTART_RACE: u32 = 30;

fn any_port() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[tokio::test]
async fn a_field_rides_a_race_on_the_clock_and_every_racer_is_in_the_results() {
    let dirs = Dirs::new();
    let server = Server::start(serve_config(&dirs, SHORT_RACE, 500), any_port()).await;
    let report = ride(sim_config(&server.base, 120, ClassChoice::All)).await;

    let s = &report.summary;
    assert_eq!(s.sent, 120 * u64::from(SHORT_RACE), "{s:?}");
    assert_eq!(s.acknowledged, s.sent, "{s:?}");
    assert!(s.is_success() && s.ack_latency_ms.max > 0.0, "{s:?}");
    let [race] = s.races[..] else { panic!("one race ridden: {s:?}") };
    for class in 1..=6 {
        let rows = results_with(&server.base, race, class, 20 * u64::from(SHORT_RACE)).await;
        assert_results_match(&report, race, class, &rows);
    }
    server.stop().await;
}

#[tokio::test]
async fn refused_events_are_not_retried() {
    let dirs = Dirs::new();
    let server = Server::start(serve_config(&dirs, LONG_RACE, 100), any_port()).await;
    let config = alleycat_sim::SimConfig {
        fast: true,
        invalid_percent: 10.0,
        ..sim_config(&server.base, 10, ClassChoice::One(2))
    };
    let total = 10 * u64::from(LONG_RACE);

    // Deliberately invalid events are refused once each and count as intended.
    let first = ride(config.clone()).await;
    let s = &first.summary;
    let [race] = s.races[..] else { panic!("one race ridden: {s:?}") };
    let invalid = (0..10)
        .flat_map(|i| (1..=LONG_RACE).map(move |second| (i, second)))
        .filter(|&(i, second)| first.field.is_deliberately_invalid(i, race, second))
        .count() as u64;
    assert!(invalid > 0);
    assert_eq!((s.sent, s.rejected_as_intended, s.acknowledged), (total, invalid, total - invalid));
    assert_eq!((s.failed, s.retried_requests), (0, 0), "{s:?}");
    assert!(s.is_success());
    let refused = metric(&server.base, "events_rejected", "CadenceOutOfRange").await;
    assert_eq!(refused, invalid, "each invalid event was sent once");

    // Ridden again, every valid event is the very event already stored (the same uuid): answered
    // as stored, counted as such, never retried and never a failure; the invalid ones are
    // refused once more.
    let again = ride(alleycat_sim::SimConfig { race: Some(race), ..config }).await;
    let s = &again.summary;
    assert_eq!((s.acknowledged, s.already_stored), (total - invalid, total - invalid), "{s:?}");
    assert_eq!((s.failed, s.retried_requests), (0, 0), "{s:?}");
    let duplicates = metric(&server.base, "events_rejected", "DuplicateEvent").await;
    assert_eq!(duplicates, 0, "a resend of a stored event is not a rejection");
    let refused = metric(&server.base, "events_rejected", "CadenceOutOfRange").await;
    assert_eq!(refused, 2 * invalid, "each invalid event was sent once more");
    server.stop().await;
}

#[tokio::test]
async fn throttled_events_are_retried_until_acknowledged() {
    let dirs = Dirs::new();
    let mut config = serve_config(&dirs, SHORT_RACE, 500);
    config.throttle = true; // Kinesis' 1,000 records/s per shard
    config.shards = 1;
    let server = Server::start(config, any_port()).await;
    let report = ride(alleycat_sim::SimConfig {
        fast: true,
        ..sim_config(&server.base, 400, ClassChoice::One(3))
    })
    .await;
    let s = &report.summary;
    let total = 400 * u64::from(SHORT_RACE);
    assert_eq!((s.sent, s.acknowledged, s.failed), (total, total, 0), "{s:?}");
    assert!(s.retried_requests > 0, "the shard's limit was never hit: {s:?}");
    let throttled =
        metric(&server.base, "events_rejected", "ProvisionedThroughputExceededException").await;
    assert!(throttled > 0);
    let rows = results_with(&server.base, s.races[0], 3, total).await;
    assert_results_match(&report, s.races[0], 3, &rows);
    server.stop().await;
}

#[tokio::test]
async fn requests_that_meet_a_stopped_server_are_retried_once_it_is_back() {
    let dirs = Dirs::new();
    let server = Server::start(serve_config(&dirs, RESTART_RACE, 2000), any_port()).await;
    let (base, address) = (server.base.clone(), server.address);
    let sim = tokio::spawn(ride(alleycat_sim::SimConfig {
        fast: true,
        connections: 2,
        ..sim_config(&base, 2000, ClassChoice::One(1))
    }));
    // Stop the server once part of the race is in, and start it again on the same address.
    support::eventually(Duration::from_secs(30), "the first events", || async {
        (metric(&base, "events_accepted", "").await >= 2000).then_some(())
    })
    .await;
    server.stop().await;
    let server = Server::start(serve_config(&dirs, RESTART_RACE, 2000), address).await;

    let report = sim.await.unwrap();
    let s = &report.summary;
    let total = 2000 * u64::from(RESTART_RACE);
    assert_eq!((s.sent, s.acknowledged, s.failed), (total, total, 0), "{s:?}");
    assert!(s.retried_requests > 0, "no request met the stopped server: {s:?}");
    let rows = results_with(&server.base, s.races[0], 1, total).await;
    assert_results_match(&report, s.races[0], 1, &rows);
    server.stop().await;
}

#[tokio::test]
async fn racers_are_spread_over_several_servers_and_a_dead_one_is_passed_over() {
    let (dirs_a, dirs_b) = (Dirs::new(), Dirs::new());
    let a = Server::start(serve_config(&dirs_a, SHORT_RACE, 1000), any_port()).await;
    let b = Server::start(serve_config(&dirs_b, SHORT_RACE, 1000), any_port()).await;
    // A port nothing listens on: every request sent there is refused at once.
    let dead = {
        let listener = std::net::TcpListener::bind(any_port()).unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let report = ride(alleycat_sim::SimConfig {
        servers: vec![a.base.clone(), dead, b.base.clone()],
        fast: true,
        batch_size: 100,
        ..sim_config(&a.base, 600, ClassChoice::One(5))
    })
    .await;
    let s = &report.summary;
    let total = 600 * u64::from(SHORT_RACE);
    assert_eq!((s.sent, s.acknowledged, s.failed), (total, total, 0), "{s:?}");
    assert!(s.retried_requests > 0, "no batch met the dead server: {s:?}");
    let (on_a, on_b) = (
        metric(&a.base, "events_accepted", "").await,
        metric(&b.base, "events_accepted", "").await,
    );
    assert_eq!(on_a + on_b, total, "each event stored once");
    assert!(on_a > total / 4 && on_b > total / 4, "spread: {on_a} on one, {on_b} on the other");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn the_check_finds_every_acknowledged_event_stored_and_counts_them_missing_elsewhere() {
    let dirs = Dirs::new();
    let server = Server::start(serve_config(&dirs, LONG_RACE, 100), any_port()).await;
    let config = alleycat_sim::SimConfig {
        fast: true,
        check_seconds: Some(30),
        ..sim_config(&server.base, 12, ClassChoice::All)
    };
    let report = ride(config).await;
    let s = &report.summary;
    let check = s.check.clone().expect("the sim checked what was stored");
    assert_eq!(s.acknowledged, 12 * u64::from(LONG_RACE), "{s:?}");
    assert_eq!(
        (check.acknowledged, check.missing_from_results, check.missing_from_history),
        (s.acknowledged, 0, 0),
        "{check:?}"
    );
    assert_eq!((check.extra_in_results, check.wrong_totals), (0, 0), "{check:?}");
    assert!(s.is_success());

    // A server that stored none of it: every acknowledged event is missing from both.
    let other_dirs = Dirs::new();
    let other = Server::start(serve_config(&other_dirs, LONG_RACE, 100), any_port()).await;
    let elsewhere =
        alleycat_sim::check::stored(&client(), &other.base, &report, Duration::ZERO).await;
    assert_eq!(
        (elsewhere.missing_from_results, elsewhere.missing_from_history),
        (s.acknowledged, s.acknowledged),
        "{elsewhere:?}"
    );
    assert!(!elsewhere.is_ok(0));
    other.stop().await;
    server.stop().await;
}
