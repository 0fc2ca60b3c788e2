//! Rides on a real bike (issue #17) over the real HTTP API: a trainer's or power meter's
//! measured power is the output that reaches the race results, and bad measurements are
//! refused with their own error.

mod support;

use std::time::Duration;

use alleycat_domain::{RacerEvent, Source};
use serde_json::{json, Value};
use support::{event, eventually, race_now, to_json, TestServer, API_KEY};

/// Racer `racer`'s second `second` of `race` in class 2, ridden on a trainer at `power` watts
/// with heart rate `bpm`.
fn trainer_second(race: u64, racer: u64, second: u32, power: f64, bpm: f64) -> RacerEvent {
    RacerEvent {
        source: Source::Trainer,
        power: Some(power),
        heart_rate: Some(bpm),
        ..event(race, racer, 2, second, 85.0)
    }
}

/// The results of `race` in class 2, once the merge has them for `racers` racers.
async fn results(server: &TestServer, race: u64, racers: usize) -> Value {
    eventually(Duration::from_secs(10), || async {
        let response = server.get(&format!("/api/races/{race}?classId=2")).await;
        (response.status() == 200).then_some(())?;
        let body: Value = response.json().await.ok()?;
        (body["results"].as_array()?.len() == racers).then_some(body)
    })
    .await
}

#[tokio::test]
async fn a_trainers_measured_power_reaches_the_race_results_instead_of_the_formula() {
    let server = TestServer::start().await;
    let (race, _) = race_now();
    let past = race - 1;
    // Racer 7 on a trainer, racer 8 on the simulated bike at the same cadence.
    let powers = [180.0, 250.5, 320.0, 0.0, 210.0];
    let mut events: Vec<Value> = powers
        .iter()
        .zip(1..)
        .map(|(&power, second)| to_json(&trainer_second(past, 7, second, power, 140.0)))
        .collect();
    events.extend((1..=5).map(|second| to_json(&event(past, 8, 2, second, 85.0))));
    let (_, body) = server.post_events(API_KEY, &events).await;
    assert_eq!(body["failedRecordCount"], 0, "{body}");

    let results = results(&server, past, 2).await;
    let rows = results["results"].as_array().unwrap();
    let trainer = rows.iter().find(|r| r["racerId"] == 7).expect("racer 7 has a result");
    // 180 + 250.5 + 320 + 0 + 210: a 0 W second (coasting) is ridden, stored as the smallest
    // output, 0.01, like every output (a history file's 0 means "no best").
    assert_eq!(trainer["total"], 960.51);
    assert_eq!(trainer["best"], 320.0);
    assert_eq!(trainer["seconds"], 5);
    assert_eq!(trainer["finalOutput"], 210.0);
    let sim = rows.iter().find(|r| r["racerId"] == 8).expect("racer 8 has a result");
    assert_eq!(sim["total"], 5.0 * alleycat_domain::output(85.0, 50.0));
    server.stop().await;
}

#[tokio::test]
async fn measured_values_out_of_bounds_are_refused_each_with_its_own_error() {
    let server = TestServer::start().await;
    let (race, second) = race_now();
    let token = server.token(5).await;
    let good =
        to_json(&RacerEvent { racer_id: 5, ..trainer_second(race, 5, second, 200.0, 120.0) });
    let mut no_power = good.clone();
    no_power.as_object_mut().unwrap().remove("power");
    let mut too_strong = good.clone();
    too_strong["power"] = json!(3001);
    let mut no_pulse = good.clone();
    no_pulse["heartRate"] = json!(20);
    let mut sim_power = good.clone();
    sim_power["source"] = json!("sim");
    let mut unknown_source = good.clone();
    unknown_source["source"] = json!("rowingMachine");
    let (status, body) = server
        .post_events(&token, &[no_power, too_strong, no_pulse, sim_power, unknown_source, good])
        .await;
    assert_eq!(status, 200, "{body}");
    let codes: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["errorCode"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(
        codes,
        [
            "MissingPower",
            "PowerOutOfRange",
            "HeartRateOutOfRange",
            "PowerWithoutDevice",
            "MalformedEvent",
            "ok"
        ]
    );
    assert!(body["records"][1]["errorMessage"].as_str().unwrap().contains("3000 W"), "{body}");
    server.stop().await;
}
