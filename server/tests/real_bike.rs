//! Rides on a real bike (issue #17) over the real HTTP API: a trainer's or power meter's
//! measured power is the output that reaches the race results and the history file (whose bests
//! ridden on a real bike are marked), and bad measurements are refused with their own error.

mod support;

use std::time::Duration;

use alleycat_domain::{RacerEvent, Source};
use serde_json::{json, Value};
use support::{event, eventually, to_json, TestServer, API_KEY};

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
    eventually(Duration::from_secs(10), "the race's results", || async {
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
    let (race, _) = server.race_now();
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
    let (race, second) = server.race_now();
    let racer = server.create_racer("Ada Lovelace").await;
    let (me, token) = (racer.id, racer.token);
    let good =
        to_json(&RacerEvent { racer_id: me, ..trainer_second(race, me, second, 200.0, 120.0) });
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

/// A decoded FIT field's value as a number (`None` when absent or not numeric).
fn number(record: &fitparser::FitDataRecord, name: &str) -> Option<f64> {
    use fitparser::Value;
    let field = record.fields().iter().find(|f| f.name() == name)?;
    Some(match field.value() {
        Value::UInt8(v) | Value::Enum(v) => f64::from(*v),
        Value::UInt16(v) => f64::from(*v),
        Value::UInt32(v) => f64::from(*v),
        Value::UInt32z(v) => f64::from(*v),
        Value::Float64(v) => *v,
        Value::Timestamp(t) => t.timestamp() as f64,
        _ => return None,
    })
}

#[tokio::test]
async fn a_ride_downloads_as_a_fit_file_with_every_second_and_the_results_totals() {
    use fitparser::profile::MesgNum;
    let server = TestServer::start().await;
    let (race, _) = server.race_now();
    let past = race - 1;
    // Seconds 1 to 6 on a trainer; second 4 never sent (a drop), second 5 without heart rate.
    let seconds = [
        (1, 180.0, 80.0, Some(120.0)),
        (2, 250.4, 92.0, Some(131.0)),
        (3, 320.0, 95.5, Some(140.0)),
    ];
    let mut ride: Vec<RacerEvent> = seconds
        .iter()
        .map(|&(s, power, cadence, bpm)| RacerEvent {
            cadence,
            heart_rate: bpm,
            ..trainer_second(past, 7, s, power, 0.0)
        })
        .collect();
    ride.push(RacerEvent {
        heart_rate: None,
        cadence: 70.0,
        ..trainer_second(past, 7, 5, 150.0, 0.0)
    });
    ride.push(RacerEvent { cadence: 60.0, ..trainer_second(past, 7, 6, 99.6, 125.0) });
    let events: Vec<Value> = ride.iter().map(to_json).collect();
    let (_, body) = server.post_events(API_KEY, &events).await;
    assert_eq!(body["failedRecordCount"], 0, "{body}");
    let results = results(&server, past, 1).await;
    let result = &results["results"][0];

    let response = server.get(&format!("/api/racers/7/races/{past}.fit")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/vnd.ant.fit");
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains(".fit"));
    let bytes = response.bytes().await.unwrap();
    let decoded = fitparser::from_bytes(&bytes).expect("an independent decoder reads the file");

    let kinds: Vec<MesgNum> = decoded.iter().map(|r| r.kind()).collect();
    assert_eq!(kinds.first(), Some(&MesgNum::FileId));
    for kind in [MesgNum::Lap, MesgNum::Session, MesgNum::Activity] {
        assert_eq!(kinds.iter().filter(|&&k| k == kind).count(), 1, "one {kind:?}");
    }
    let start = alleycat_domain::RaceClock::new(support::RACE_SECONDS).start_ms(past) / 1000;
    let records: Vec<_> = decoded.iter().filter(|r| r.kind() == MesgNum::Record).collect();
    let read = |name| records.iter().map(|r| number(r, name)).collect::<Vec<_>>();
    let times: Vec<f64> = (1..=6).map(|s| (start + s) as f64).collect();
    assert_eq!(read("timestamp"), times.into_iter().map(Some).collect::<Vec<_>>());
    let watts = [180.0, 250.0, 320.0, 0.0, 150.0, 100.0];
    assert_eq!(read("power"), watts.map(Some).to_vec());
    assert_eq!(read("cadence"), [Some(80.0), Some(92.0), Some(96.0), None, Some(70.0), Some(60.0)]);
    assert_eq!(
        read("heart_rate"),
        [Some(120.0), Some(131.0), Some(140.0), None, None, Some(125.0)]
    );

    let session = decoded.iter().find(|r| r.kind() == MesgNum::Session).unwrap();
    let total = result["total"].as_f64().unwrap();
    let seconds_ridden = result["seconds"].as_f64().unwrap();
    assert_eq!(seconds_ridden, 5.0);
    assert_eq!(number(session, "total_timer_time"), Some(seconds_ridden));
    assert_eq!(number(session, "total_elapsed_time"), Some(6.0));
    assert_eq!(number(session, "max_power"), Some(result["best"].as_f64().unwrap().round()));
    assert_eq!(number(session, "avg_power"), Some((total / seconds_ridden).round()));
    assert_eq!(number(session, "total_work"), Some(total.round()));
    assert_eq!(
        number(session, "avg_cadence"),
        Some(((80 + 92 + 96 + 70 + 60) as f64 / 5.0).round())
    );
    assert_eq!(
        number(session, "avg_heart_rate"),
        Some(((120 + 131 + 140 + 125) as f64 / 4.0).round())
    );
    assert_eq!(number(session, "max_heart_rate"), Some(140.0));
    assert_eq!(number(session, "start_time"), Some(start as f64));
    server.stop().await;
}

#[tokio::test]
async fn a_ride_file_that_does_not_exist_is_a_clear_404_and_bad_names_are_refused() {
    let server = TestServer::start().await;
    let (race, _) = server.race_now();
    let missing = server.get(&format!("/api/racers/7/races/{race}.fit")).await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("no ride"), "{body}");
    assert_eq!(server.get(&format!("/api/racers/7/races/{race}.gpx")).await.status(), 404);
    assert_eq!(server.get(&format!("/api/racers/seven/races/{race}.fit")).await.status(), 400);
    assert_eq!(
        server.get(&format!("/api/racers/7/races/{race}.fit?classId=9")).await.status(),
        400
    );
    server.stop().await;
}

/// Class 2's history file as the browser downloads it, once `ready` holds for it.
async fn served_history(
    server: &TestServer,
    ready: impl Fn(&alleycat_domain::History) -> bool,
) -> alleycat_domain::History {
    eventually(Duration::from_secs(10), "class 2's history file", || async {
        let response = server.get("/api/history/class-2.gz").await;
        (response.status() == 200).then_some(())?;
        let history = alleycat_domain::history::decode(&response.bytes().await.ok()?).ok()?;
        ready(&history).then_some(history)
    })
    .await
}

#[tokio::test]
async fn a_best_ridden_on_a_trainer_comes_back_marked_in_the_served_history_file() {
    let server = TestServer::start().await;
    let (race, _) = server.race_now();
    // Racer 7 rides race -1 on a trainer (300 W, then 100 W) and race -2 on the simulated bike
    // (138 each second); racer 8 rides race -1 on the simulated bike.
    let sim = alleycat_domain::output(85.0, 50.0);
    assert_eq!(sim, 138.0);
    let mut events = vec![
        to_json(&trainer_second(race - 1, 7, 1, 300.0, 140.0)),
        to_json(&trainer_second(race - 1, 7, 2, 100.0, 140.0)),
    ];
    events.extend((1..=2).map(|second| to_json(&event(race - 2, 7, 2, second, 85.0))));
    events.extend((1..=2).map(|second| to_json(&event(race - 1, 8, 2, second, 85.0))));
    let (_, body) = server.post_events(API_KEY, &events).await;
    assert_eq!(body["failedRecordCount"], 0, "{body}");

    let history =
        served_history(&server, |h| h.best(7, 2).is_some() && h.best(8, 2).is_some()).await;
    // Second 1's best is the trainer's: marked. Second 2's is the simulated ride's: not marked,
    // though racer 7 rode that second on a trainer too.
    assert_eq!(history.best(7, 1), Some(30_000));
    assert!(history.real_bike(7, 1));
    assert_eq!(history.best(7, 2), Some(13_800));
    assert!(!history.real_bike(7, 2));
    assert!(!history.real_bike(8, 1) && !history.real_bike(8, 2));
    let top: Vec<_> = history.ranked(1, 1..3).map(|best| (best.racer_id, best.real_bike)).collect();
    assert_eq!(top, [(7, true), (8, false)]);
    server.stop().await;
}
