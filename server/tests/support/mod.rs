//! A real server on port 0 with a temporary data directory and a clock the test sets, and
//! helpers to talk to it.
//!
//! Every [`TestServer`] runs on its own [`ManualClock`], starting at [`test_start_ms`]: second
//! 1,800 of an hour-long race unless `ALLEYCAT_TEST_SECOND_OF_HOUR` says otherwise (run the
//! suite with it at 3590 to see that no test needs the wall clock's minute). A test that needs
//! a particular moment of the race sets it ([`TestServer::set_second`]). Servers started as the
//! binary ([`spawn_server`]) run on the wall clock: give them past races only.
#![allow(dead_code, missing_docs)]

use std::{
    path::Path,
    process::{Child, Command},
    time::Duration,
};

pub mod passkey;

use alleycat_domain::{
    api::SessionResponse, Clock, EventKind, ManualClock, RaceClock, RacerEvent, SystemClock,
};
use alleycat_server::{RunOptions, ServeConfig};
#[allow(unused_imports)] // not every test file waits
pub use alleycat_testkit::{eventually, http::client, within};
use serde_json::{json, Value};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub const API_KEY: &str = "test-producer-key";
/// Hour-long races: a race starts on the hour.
pub const RACE_SECONDS: u32 = 3600;
/// 2026-01-01T00:00:00Z, an hour's start.
pub const TEST_HOUR_MS: u64 = 1_767_225_600_000;
/// Where in the hour the test clock starts unless `ALLEYCAT_TEST_SECOND_OF_HOUR` is set.
pub const DEFAULT_SECOND_OF_HOUR: u64 = 1800;

/// When a test server's clock starts: `ALLEYCAT_TEST_SECOND_OF_HOUR` (0 to 3599, default
/// [`DEFAULT_SECOND_OF_HOUR`]) seconds and a half into the hour of [`TEST_HOUR_MS`].
pub fn test_start_ms() -> u64 {
    let second = std::env::var("ALLEYCAT_TEST_SECOND_OF_HOUR")
        .ok()
        .map(|s| s.parse::<u64>().expect("ALLEYCAT_TEST_SECOND_OF_HOUR is a second of the hour"))
        .unwrap_or(DEFAULT_SECOND_OF_HOUR);
    assert!(second < 3600, "ALLEYCAT_TEST_SECOND_OF_HOUR is 0 to 3599, not {second}");
    TEST_HOUR_MS + second * 1000 + 500
}

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub config: ServeConfig,
    /// The server's clock: set it, and the server's handlers, boards and pipeline follow.
    pub clock: ManualClock,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _dirs: Vec<tempfile::TempDir>,
}

pub fn test_config(data: &Path, dist: &Path) -> ServeConfig {
    ServeConfig {
        port: 0,
        data_dir: data.to_owned(),
        dist: dist.to_owned(),
        race_seconds: RACE_SECONDS,
        roster_size: 100,
        api_key: Some(API_KEY.into()),
        delivery_interval_ms: 200,
        ..ServeConfig::default()
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        let data = tempfile::tempdir().unwrap();
        let dist = tempfile::tempdir().unwrap();
        write_fake_dist(dist.path());
        let mut config = test_config(data.path(), dist.path());
        adjust(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("{}://{}", config.scheme(), listener.local_addr().unwrap());
        let clock = ManualClock::new(test_start_ms());
        let (stop, stopped) = oneshot::channel::<()>();
        let options =
            RunOptions { clock: std::sync::Arc::new(clock.clone()), ..Default::default() };
        let task =
            tokio::spawn(alleycat_server::run_with(listener, config.clone(), options, async {
                let _ = stopped.await;
            }));
        // The listener is already bound: requests queue until the server has opened its data
        // directory and starts accepting, so no waiting is needed here.
        let client = client();
        Self {
            base,
            client,
            config,
            clock,
            stop: Some(stop),
            task: Some(task),
            _dirs: vec![data, dist],
        }
    }

    /// The race running on this server's clock, and its second.
    pub fn race_now(&self) -> (u64, u32) {
        let (clock, now) = (RaceClock::new(self.config.race_seconds), self.clock.now_ms());
        (clock.race_at(now), clock.second_at(now))
    }

    /// Sets this server's clock to the middle of `second` (from 1) of the race it shows.
    pub fn set_second(&self, second: u32) {
        let clock = RaceClock::new(self.config.race_seconds);
        let start = clock.start_ms(clock.race_at(self.clock.now_ms()));
        self.clock.set(start + u64::from(second - 1) * 1000 + 500);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Creates a person's racer named `name` as a browser would (`POST /api/racers`) and returns
    /// its session and device cookie.
    pub async fn create_racer(&self, name: &str) -> TestRacer {
        let response = self
            .client
            .post(self.url("/api/racers"))
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "creating {name:?}");
        let cookie = device_cookie(&response).expect("a device cookie");
        let session: SessionResponse = response.json().await.unwrap();
        TestRacer { id: session.racer.id, token: session.token.clone(), session, cookie }
    }

    /// `POST /api/session` with `cookie` (`alleycat_device=…`, or none).
    pub async fn session(&self, cookie: Option<&str>) -> reqwest::Response {
        let mut request = self.client.post(self.url("/api/session"));
        if let Some(cookie) = cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        request.send().await.unwrap()
    }

    pub async fn post_events(&self, credential: &str, events: &[Value]) -> (u16, Value) {
        let response = self
            .client
            .post(self.url("/api/events"))
            .bearer_auth(credential)
            .json(&json!({ "events": events }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

/// A person's racer made by [`TestServer::create_racer`]: its session and the browser's device
/// cookie.
#[derive(Debug, Clone)]
pub struct TestRacer {
    pub id: u64,
    pub token: String,
    pub session: SessionResponse,
    /// `alleycat_device=<secret>`, as the browser sends it back.
    pub cookie: String,
}

/// The device cookie a response sets (`alleycat_device=<secret>`, without its attributes).
pub fn device_cookie(response: &reqwest::Response) -> Option<String> {
    set_cookie(response).map(|full| full.split(';').next().unwrap_or_default().trim().to_owned())
}

/// The whole `Set-Cookie` of the device cookie a response sets, attributes and all.
pub fn set_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("alleycat_device="))
        .map(str::to_owned)
}

pub fn write_fake_dist(dist: &Path) {
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>Alleycat</title><script type=\"module\">start()</script>",
    )
    .unwrap();
    std::fs::write(dist.join("alleycat-app-0123456789abcdef_bg.wasm"), b"\0asm").unwrap();
    std::fs::write(dist.join("alleycat-app-0123456789abcdef.js"), "export {}").unwrap();
    std::fs::write(dist.join("alleycat-app-0123456789abcdef.js.gz"), b"gz!").unwrap();
}

/// The race running on the wall clock (the clock of servers started as the binary) and its
/// second, for [`RACE_SECONDS`] races; give such servers past races, so the minute does not
/// matter.
pub fn wall_race_now() -> (u64, u32) {
    let (clock, now) = (RaceClock::new(RACE_SECONDS), SystemClock.now_ms());
    (clock.race_at(now), clock.second_at(now))
}

/// Racers 1 to 3 riding seconds 1 to 5 of `race` in `class`, at cadence 50, 60 and 70: racer 3
/// is the strongest.
pub fn three_racers_ride(race: u64, class: u8) -> Vec<RacerEvent> {
    (1..=3u64)
        .flat_map(|racer| {
            (1..=5u32).map(move |s| event(race, racer, class, s, 40.0 + racer as f64 * 10.0))
        })
        .collect()
}

/// An event of `racer` in class `class` for `second` of `race`.
pub fn event(race: u64, racer: u64, class: u8, second: u32, cadence: f64) -> RacerEvent {
    RacerEvent {
        uuid: uuid::Uuid::new_v4(),
        event: EventKind::Update,
        device_timestamp: SystemClock.now_ms(),
        second,
        race_id: race,
        racer_id: racer,
        class_id: class,
        cadence,
        resistance: 50.0,
        source: alleycat_domain::Source::Sim,
        power: None,
        heart_rate: None,
    }
}

pub fn to_json(event: &RacerEvent) -> Value {
    serde_json::to_value(event).unwrap()
}

/// The `alleycat` binary on `data`, started on a free port with the test settings plus `extra`
/// variables; returns it and its base URL.
pub fn spawn_server(data: &Path, dist: &Path, extra: &[(&str, String)]) -> (Child, String) {
    let race_seconds = RACE_SECONDS.to_string();
    let mut env: Vec<(&str, &std::ffi::OsStr)> = vec![
        ("ALLEYCAT_DATA_DIR", data.as_os_str()),
        ("ALLEYCAT_DIST", dist.as_os_str()),
        ("ALLEYCAT_RACE_SECONDS", race_seconds.as_ref()),
        ("ALLEYCAT_API_KEY", API_KEY.as_ref()),
        ("ALLEYCAT_ROSTER_SIZE", "200".as_ref()),
        ("ALLEYCAT_DELIVERY_INTERVAL_MS", "200".as_ref()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.as_ref())));
    spawn_binary(&env)
}

/// The `alleycat` binary started with `serve` on a free port, with `env` on top of the logging
/// it needs ([`alleycat_testkit::alleycat::serve`]); returns it and its base URL.
pub fn spawn_binary(env: &[(&str, &std::ffi::OsStr)]) -> (Child, String) {
    let binary = Path::new(env!("CARGO_BIN_EXE_alleycat"));
    let (child, address) = alleycat_testkit::alleycat::serve(binary, env.iter().copied());
    (child, format!("http://{address}"))
}

/// Runs the `alleycat` binary with `args` and `env` to its end (at most a minute) and returns what
/// it printed and how it exited.
pub fn run_alleycat(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_alleycat"));
    command
        .args(args)
        .env("ALLEYCAT_LOG", "info")
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k, v)));
    alleycat_testkit::output_within(&mut command, Duration::from_secs(60))
}

/// The value of the Prometheus series `series` (name and labels exactly as exposed) in `text`,
/// or `None` when it is not there: a whole-line match, so `…_total 1` is never read from 10.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// Stops a spawned `alleycat` with SIGTERM (graceful shutdown) and waits for its exit.
pub fn terminate(child: &mut Child) -> std::process::ExitStatus {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    child.wait().unwrap()
}

/// Posts `events` with the API key to the server at `base`; returns the answer's body.
pub async fn post_events(client: &reqwest::Client, base: &str, events: &[Value]) -> Value {
    let response = client
        .post(format!("{base}/api/events"))
        .bearer_auth(API_KEY)
        .json(&serde_json::json!({ "events": events }))
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

/// How long a test waits for a message on a live socket.
pub const SOCKET_WAIT: Duration = Duration::from_secs(10);

/// The next message of `type` on a live socket, plain or TLS (rankings and others in between
/// are skipped), within [`SOCKET_WAIT`].
pub async fn next_of<S>(socket: &mut tokio_tungstenite::WebSocketStream<S>, kind: &str) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    tokio::time::timeout(SOCKET_WAIT, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    if message["type"] == kind {
                        return message;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("the socket ended while waiting for {kind}: {other:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {kind} message within {SOCKET_WAIT:?}"))
}
