//! The foundation endpoints against a real server on port 0.

use std::path::Path;

use alleycat_server::ServeConfig;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

struct TestServer {
    base: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl TestServer {
    async fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let dist = tempfile::tempdir().unwrap();
        write_fake_dist(dist.path());
        let config = ServeConfig {
            port: 0,
            data_dir: data.path().to_owned(),
            dist: dist.path().to_owned(),
            race_seconds: 20,
            roster_size: 100,
            ..ServeConfig::default()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(alleycat_server::run(listener, config, async {
            let _ = stopped.await;
        }));
        Self { base, stop: Some(stop), task, _dirs: (data, dist) }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(format!("{}{path}", self.base)).await.unwrap()
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

fn write_fake_dist(dist: &Path) {
    std::fs::write(dist.join("index.html"), "<!doctype html><title>Alleycat</title>").unwrap();
    std::fs::write(dist.join("alleycat-app-0123456789abcdef_bg.wasm"), b"\0asm").unwrap();
    std::fs::write(dist.join("alleycat-app-0123456789abcdef.js"), "export {}").unwrap();
    std::fs::write(dist.join("alleycat-app-0123456789abcdef.js.gz"), b"gz!").unwrap();
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

#[tokio::test]
async fn healthz_answers_ok() {
    let server = TestServer::start().await;
    let response = server.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
    server.stop().await;
}

#[tokio::test]
async fn config_lists_six_classes_and_the_race_clock() {
    let server = TestServer::start().await;
    let response = server.get("/api/config").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["classes"].as_array().unwrap().len(), 6);
    assert_eq!(body["raceSeconds"], 20);
    let now = body["serverTimeMs"].as_u64().unwrap();
    let next = body["nextRaceStartMs"].as_u64().unwrap();
    assert!(next > now && next - now <= 20_000, "next start {next} is not within a race of {now}");
    assert_eq!(body["currentRaceId"].as_u64().unwrap(), now / 20_000);
    server.stop().await;
}

#[tokio::test]
async fn unknown_api_paths_get_a_json_404_not_the_app() {
    let server = TestServer::start().await;
    let response = server.get("/api/nope").await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    server.stop().await;
}

#[tokio::test]
async fn index_is_revalidated_and_unknown_paths_fall_back_to_it() {
    let server = TestServer::start().await;
    for path in ["/", "/index.html", "/races/123"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "cache-control"), "no-cache", "{path}");
        assert!(header(&response, "content-type").starts_with("text/html"), "{path}");
        assert!(response.text().await.unwrap().contains("<title>Alleycat</title>"));
    }
    server.stop().await;
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_precompressed_files_are_used() {
    let server = TestServer::start().await;
    let wasm = server.get("/alleycat-app-0123456789abcdef_bg.wasm").await;
    assert_eq!(wasm.status(), 200);
    assert_eq!(header(&wasm, "cache-control"), "public, max-age=31536000, immutable");
    assert_eq!(header(&wasm, "content-type"), "application/wasm");

    let client = reqwest::Client::new();
    let js = client
        .get(format!("{}/alleycat-app-0123456789abcdef.js", server.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&js, "content-encoding"), "gzip");
    assert_eq!(js.bytes().await.unwrap().as_ref(), b"gz!");
    server.stop().await;
}

#[tokio::test]
async fn paths_cannot_escape_the_app_folder() {
    let server = TestServer::start().await;
    let response = server.get("/..%2f..%2f..%2fetc%2fpasswd").await;
    let body = response.text().await.unwrap();
    assert!(!body.contains("root:"), "served a file outside dist");
    server.stop().await;
}
