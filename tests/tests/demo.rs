//! `alleycat serve --demo-racers N`: a fresh server is alive at once, as a newcomer sees it over
//! HTTP: the past races backfilled, the class leaderboard filled with demo racers, and the race
//! running now ridden by them.

mod support;

use std::time::Duration;

use alleycat_domain::{
    api::{ConfigResponse, LeaderboardResponse, RacesResponse},
    RaceClock,
};
use support::{eventually, serve_config, Dirs, Server};

const RACE_SECONDS: u32 = 6;
const ROSTER: u32 = 100;
const DEMO_RACERS: u32 = 12;

#[tokio::test]
async fn demo_racers_fill_the_past_races_and_ride_the_running_one() {
    let dirs = Dirs::new();
    let mut config = serve_config(&dirs, RACE_SECONDS, ROSTER);
    config.demo_racers = DEMO_RACERS;
    let server = Server::start(config, "127.0.0.1:0".parse().unwrap()).await;
    let get = |path: String| {
        let url = format!("{}{path}", server.base);
        async move {
            support::client().get(url).send().await.ok()?.json::<serde_json::Value>().await.ok()
        }
    };
    let config: ConfigResponse =
        serde_json::from_value(get("/api/config".into()).await.unwrap()).unwrap();
    let started_in = RaceClock::new(RACE_SECONDS).race_at(config.server_time_ms);

    // Every class: the backfilled races and the running one, two demo racers each (12 / 6).
    for class in 1..=6 {
        let races: RacesResponse =
            eventually(Duration::from_secs(30), "backfilled and live races", || async {
                let races: RacesResponse =
                    serde_json::from_value(get(format!("/api/races?classId={class}")).await?)
                        .ok()?;
                let live = races.races.iter().any(|r| r.race_id >= started_in);
                let past = races.races.iter().filter(|r| r.race_id < started_in).count();
                (live && past >= alleycat_server::demo::DEMO_BACKFILL_RACES as usize)
                    .then_some(races)
            })
            .await;
        assert!(races.races.iter().all(|r| r.racers == 2), "{races:?}");
        let board: LeaderboardResponse =
            serde_json::from_value(get(format!("/api/leaderboard?classId={class}")).await.unwrap())
                .unwrap();
        assert_eq!(board.entries.len(), 2);
        // The demo racers are the top of the roster.
        let demo = ROSTER - DEMO_RACERS + 1..=ROSTER;
        assert!(board.entries.iter().all(|e| demo.contains(&(e.racer_id as u32))), "{board:?}");
    }
    server.stop().await;
}
