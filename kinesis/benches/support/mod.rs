//! What the Kinesis benchmarks share: a light SigV4-signing JSON-protocol client and their
//! command-line and figure helpers.
#![allow(dead_code)]

use alleycat_kinesis::sigv4::{self, Credentials};
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use serde_json::Value;

const REGION: &str = "us-east-1";

/// The value after `name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

/// The wall clock, epoch ms (the one clock of the workspace, `alleycat_domain::Clock`).
pub fn now_ms() -> u64 {
    use alleycat_ingest::stream::{Clock, SystemClock};
    SystemClock.now_ms()
}

/// A JSON-protocol client that signs each call with SigV4 as an SDK does, over HTTP/1.1
/// keep-alive connections.
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    uri: Uri,
    credentials: Credentials,
}

impl Client {
    /// A client of `endpoint`, with `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (the server's
    /// defaults otherwise).
    pub fn new(endpoint: String) -> Self {
        let credentials = Credentials {
            access_key_id: std::env::var("AWS_ACCESS_KEY_ID")
                .unwrap_or_else(|_| "AKIDALLEYCATLOCAL".into()),
            secret_access_key: std::env::var("AWS_SECRET_ACCESS_KEY")
                .unwrap_or_else(|_| "alleycat-local-secret".into()),
        };
        Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .tcp_nodelay(true)
                .build()
                .expect("HTTP client"),
            uri: endpoint.parse().expect("an endpoint URL"),
            endpoint,
            credentials,
        }
    }

    /// Sends one signed call; the response as it arrives (a subscription's body streams).
    pub async fn send(&self, action: &str, body: Vec<u8>) -> Result<reqwest::Response, String> {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
        let target = format!("Kinesis_20131202.{action}");
        headers.insert("x-amz-target", target.parse().expect("an ASCII action"));
        let host = self.uri.authority().map(|a| a.as_str()).unwrap_or("localhost");
        headers.insert("host", host.parse().expect("an ASCII host"));
        sigv4::sign(
            &self.credentials,
            REGION,
            &Method::POST,
            &self.uri,
            &mut headers,
            &body,
            now_ms(),
        );
        headers.remove("host"); // reqwest writes it from the URL, as signed
        self.http
            .post(&self.endpoint)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())
    }

    /// One call and its JSON answer; an error names the action, the status and the answer.
    pub async fn call(&self, action: &str, body: Vec<u8>) -> Result<Value, String> {
        let response = self.send(action, body).await?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        // kinesalite answers CreateStream with an empty body.
        let answer: Value = match &bytes[..] {
            [] => Value::Null,
            body => serde_json::from_slice(body).map_err(|e| e.to_string())?,
        };
        if status.is_success() {
            Ok(answer)
        } else {
            Err(format!("{action}: {status} {answer}"))
        }
    }
}

/// The `p` quantile of `sorted` (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(f64::NAN)
}
