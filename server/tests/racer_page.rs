//! A racer's own page over the real HTTP API, on SQLite and on PostgreSQL:
//! `GET /api/racers/{id}/races` (past races newest first, with place, field, total, every
//! second's output and the real-bike mark, paged with `before`) and `GET /api/racers/{id}/bests`
//! (the personal best of each class: total, all-time place, best output at each second), for
//! roster racers and people alike; and the real-bike mark on a race's results.

mod support;

use std::time::Duration;

use alleycat_domain::{racer::FIRST_PERSON_ID, RaceClock, RacerEvent, Source};
use alleycat_testkit::postgres::Postgres;
use serde_json::Value;
use support::{event, eventually, to_json, TestServer, API_KEY, RACE_SECONDS};

/// A person's racer id (people's ids start at [`FIRST_PERSON_ID`]).
const PERSON: u64 = FIRST_PERSON_ID + 1;

/// `racer`'s second `second` of `race` in `class` at `cadence` on the simulated bike.
fn sim(race: u64, racer: u64, class: u8, second: u32, cadence: f64) -> Value {
    to_json(&event(race, racer, class, second, cadence))
}

/// The same, on a trainer at `power` watts.
fn trainer(race: u64, racer: u64, class: u8, second: u32, power: f64) -> Value {
    to_json(&RacerEvent {
        source: Source::Trainer,
        power: Some(power),
        ..event(race, racer, class, second, 85.0)
    })
}

async fn get_json(server: &TestServer, path: &str) -> (u16, Value) {
    let response = server.get(path).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `path`'s answer once `ready` says the merge has caught up.
async fn once(server: &TestServer, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    eventually(Duration::from_secs(20), path, || async {
        let (status, body) = get_json(server, path).await;
        (status == 200 && ready(&body)).then_some(body)
    })
    .await
}

fn outputs(body: &Value) -> Vec<Option<f64>> {
    body.as_array().unwrap().iter().map(Value::as_f64).collect()
}

/// Racer 7 rides class 2 in three past races (the middle one on a trainer) against racers 8
/// and 9, and class 3 in an earlier one; a person rides class 3. Everything is checked against the race
/// results the same server answers.
async fn a_racers_page_shows_their_races_and_bests(server: &TestServer) {
    let (now, _) = server.race_now();
    let (r0, r1, r2, r3) = (now - 4, now - 3, now - 2, now - 1);
    let mut events = vec![sim(r0, 7, 3, 1, 50.0)];
    // Race r1: racer 7 strongest at second 1, weak at 2; racer 8 beats them on total.
    events.extend([sim(r1, 7, 2, 1, 90.0), sim(r1, 7, 2, 2, 10.0)]);
    events.extend((1..=3).map(|s| sim(r1, 8, 2, s, 60.0)));
    // Race r2 on a trainer: the best total, strong at second 2; racers 8 and 9 behind.
    events.extend([trainer(r2, 7, 2, 1, 100.0), trainer(r2, 7, 2, 2, 400.0)]);
    events.extend([sim(r2, 8, 2, 1, 20.0), sim(r2, 9, 2, 1, 30.0)]);
    // Race r3: seconds 1 and 3 (a gap at 2), alone; and a person in class 3.
    events.extend([sim(r3, 7, 2, 1, 40.0), sim(r3, 7, 2, 3, 40.0)]);
    events.extend([sim(r3, PERSON, 3, 1, 70.0), sim(r3, PERSON, 3, 2, 71.0)]);
    let (status, body) = server.post_events(API_KEY, &events).await;
    assert_eq!((status, &body["failedRecordCount"]), (200, &Value::from(0)), "{body}");

    let page =
        once(server, "/api/racers/7/races", |b| b["races"].as_array().unwrap().len() == 4).await;
    let races = page["races"].as_array().unwrap();
    let keys: Vec<(u64, u64)> = races
        .iter()
        .map(|r| (r["raceId"].as_u64().unwrap(), r["classId"].as_u64().unwrap()))
        .collect();
    assert_eq!(keys, [(r3, 2), (r2, 2), (r1, 2), (r0, 3)], "newest first");
    assert_eq!(page["racerId"], 7);
    assert!(page.get("nextBefore").is_none(), "one page holds them all: {page}");
    let clock = RaceClock::new(RACE_SECONDS);
    for race in races {
        let (id, class) = (race["raceId"].as_u64().unwrap(), race["classId"].as_u64().unwrap());
        assert_eq!(race["startedAtMs"], clock.start_ms(id));
        assert_eq!(race["outputs"].as_array().unwrap().len(), RACE_SECONDS as usize);
        // Place, field, total and seconds are the race results' own.
        let (_, results) = get_json(server, &format!("/api/races/{id}?classId={class}")).await;
        let rows = results["results"].as_array().unwrap();
        let mine = rows.iter().find(|r| r["racerId"] == 7).unwrap();
        assert_eq!(race["place"], mine["place"], "race {id} class {class}");
        assert_eq!(race["field"], rows.len());
        assert_eq!(race["total"], mine["total"]);
        assert_eq!(race["seconds"], mine["seconds"]);
        // The real-bike mark, on the page and on the results board alike.
        let real = id == r2;
        assert_eq!(race.get("realBike").is_some(), real, "{race}");
        assert_eq!(mine["realBike"].as_bool().unwrap_or(false), real, "{mine}");
        let others_real = rows.iter().filter(|r| r["racerId"] != 7).any(|r| r["realBike"] == true);
        assert!(!others_real, "only racer 7 rode a trainer: {results}");
    }
    let r1_ride = &races[2];
    assert_eq!((&r1_ride["place"], &r1_ride["field"]), (&Value::from(2), &Value::from(2)));
    let sim_output = |cadence| alleycat_domain::output(cadence, 50.0);
    let r3_outputs = outputs(&races[0]["outputs"]);
    assert_eq!(r3_outputs[..4], [Some(sim_output(40.0)), None, Some(sim_output(40.0)), None]);
    assert_eq!(outputs(&races[1]["outputs"])[..3], [Some(100.0), Some(400.0), None]);

    // Paging: three races, then the one before them, then nothing.
    let ids = |page: &Value| -> Vec<u64> {
        page["races"].as_array().unwrap().iter().map(|r| r["raceId"].as_u64().unwrap()).collect()
    };
    let (_, first) = get_json(server, "/api/racers/7/races?limit=3").await;
    assert_eq!((ids(&first), &first["nextBefore"]), (vec![r3, r2, r1], &Value::from(r1)));
    let (_, rest) = get_json(server, &format!("/api/racers/7/races?limit=3&before={r1}")).await;
    assert_eq!(ids(&rest), [r0]);
    assert!(rest.get("nextBefore").is_none(), "{rest}");
    let (status, none) = get_json(server, &format!("/api/racers/7/races?before={r0}")).await;
    assert_eq!((status, ids(&none)), (200, vec![]));

    // Personal bests: class 2's best total is race r2's; each second's best is the best of any
    // race; the all-time place is the class leaderboard's.
    let bests =
        once(server, "/api/racers/7/bests", |b| b["bests"].as_array().unwrap().len() == 2).await;
    let class2 = &bests["bests"][0];
    assert_eq!(class2["classId"], 2);
    assert_eq!(class2["raceId"], r2);
    assert_eq!(class2["total"], 500.0);
    let seconds = outputs(&class2["seconds"]);
    assert_eq!(seconds.len(), RACE_SECONDS as usize);
    assert_eq!(
        seconds[..4],
        [Some(sim_output(90.0).max(100.0)), Some(400.0), Some(sim_output(40.0)), None]
    );
    let (_, board) = get_json(server, "/api/leaderboard?classId=2").await;
    let entries = board["entries"].as_array().unwrap();
    let row = entries.iter().find(|r| r["racerId"] == 7).unwrap();
    assert_eq!((&class2["place"], &class2["field"]), (&row["place"], &Value::from(entries.len())));
    assert_eq!(bests["bests"][1]["classId"], 3);

    // A person's page works the same way.
    let person = once(server, &format!("/api/racers/{PERSON}/races"), |b| {
        !b["races"].as_array().unwrap().is_empty()
    })
    .await;
    assert_eq!(person["races"][0]["total"], sim_output(70.0) + sim_output(71.0));
    assert_eq!(person["races"][0]["place"], 1);
    let (status, bests) = get_json(server, &format!("/api/racers/{PERSON}/bests")).await;
    assert_eq!((status, &bests["bests"][0]["classId"]), (200, &Value::from(3)));

    // A .fit link per race: the file of each listed ride is there.
    let fit = server.get(&format!("/api/racers/7/races/{r2}.fit?classId=2")).await;
    assert_eq!(fit.status(), 200);
}

#[tokio::test]
async fn a_racers_page_lists_their_races_and_personal_bests() {
    let server = TestServer::start().await;
    a_racers_page_shows_their_races_and_bests(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn a_racers_page_reads_the_same_from_postgresql() {
    let postgres = Postgres::start().unwrap();
    let url = postgres.url().parse().unwrap();
    let server = TestServer::start_with(|c| c.database.url = Some(url)).await;
    a_racers_page_shows_their_races_and_bests(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn a_racers_page_refuses_bad_requests_and_unknown_racers_clearly() {
    let server = TestServer::start().await;
    for path in ["/api/racers/seven/races", "/api/racers/seven/bests"] {
        let (status, body) = get_json(&server, path).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")), "{path}");
        assert!(body["message"].as_str().unwrap().contains("not a number"), "{body}");
    }
    for query in ["limit=0", "limit=abc", "before=-1", "colour=red"] {
        let (status, body) = get_json(&server, &format!("/api/racers/7/races?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body["message"].as_str().unwrap().contains("limit is 1 to 50"), "{body}");
    }
    // Roster size 100: racer 5 exists and has ridden nothing; racer 5,000 does not exist.
    let (status, empty) = get_json(&server, "/api/racers/5/races").await;
    assert_eq!(status, 200);
    assert_eq!(empty["races"], Value::Array(vec![]));
    let (status, empty) = get_json(&server, "/api/racers/5/bests").await;
    assert_eq!((status, &empty["bests"]), (200, &Value::Array(vec![])));
    for path in ["/api/racers/5000/races", "/api/racers/5000/bests"] {
        let (status, body) = get_json(&server, path).await;
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{path}");
        assert_eq!(body["message"], "There is no racer 5000.");
    }
    server.stop().await;
}
