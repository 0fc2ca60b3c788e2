//! Downloading a class's all-time history with progress, gunzipping it chunk by chunk while it
//! arrives (so decompression overlaps the network), then decoding it with the shared codec.

use std::sync::Arc;

use alleycat_domain::{history, ClassId, History};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::{api, time::perf_now};

/// How long each stage took and what it produced, for the screen and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadStats {
    /// Bytes downloaded (gzipped).
    pub bytes: u64,
    /// Racers in the history.
    pub racers: usize,
    /// From the request to the last byte, gunzipped as it came, ms.
    pub download_ms: f64,
    /// After the last byte: the trailer check and the parse, ms (each second is indexed when
    /// first ranked).
    pub decode_ms: f64,
    /// From the request to ready to rank, ms.
    pub total_ms: f64,
}

/// Why there is no all-time board.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadError {
    /// The class has no history yet: the server sent an empty history file (or, before it did
    /// so, a 404).
    Missing,
    /// Anything else, as a sentence.
    Failed(String),
}

/// Downloads, decodes and indexes `/api/history/class-N.gz`, reporting `(received, expected)`
/// bytes as they arrive.
pub async fn load(
    class_id: ClassId,
    progress: impl Fn(u64, Option<u64>),
) -> Result<(Arc<History>, LoadStats), LoadError> {
    let started = perf_now();
    let window = web_sys::window().ok_or_else(|| LoadError::Failed("No browser window.".into()))?;
    // Start the download, then warm the decoder up while the bytes are on their way (see
    // `warm_up`), then read them. All of it is inside the measured time.
    let pending =
        JsFuture::from(window.fetch_with_str(&format!("/api/history/class-{class_id}.gz")));
    warm_up();
    let raw: web_sys::Response = pending
        .await
        .and_then(|r| r.dyn_into())
        .map_err(|e| LoadError::Failed(format!("Cannot reach the Alleycat server ({e:?}).")))?;
    let response = gloo_net::http::Response::from(raw);
    if response.status() == 404 {
        return Err(LoadError::Missing);
    }
    if !response.ok() {
        return Err(LoadError::Failed(api::error_message(response).await));
    }
    let expected = response.headers().get("content-length").and_then(|v| v.parse::<u64>().ok());
    let unreadable = |e: history::HistoryError| {
        LoadError::Failed(format!("The all-time history could not be read ({e})."))
    };
    let mut gunzip = history::GunzipStream::new(history::MAX_DECODED_BYTES);
    let received = match response.body() {
        Some(body) => {
            read_body(body, expected, &progress, |chunk| gunzip.push(chunk).map_err(Into::into))
                .await
                .map_err(|e| match e {
                    BodyError::Network(message) => LoadError::Failed(message),
                    BodyError::Gzip(e) => unreadable(e),
                })?
        }
        None => 0,
    };
    let json = gunzip.finish().map_err(|e| unreadable(e.into()))?;
    let downloaded = perf_now();
    let history = history::decode_json(&json).map_err(unreadable)?;
    drop(json);
    let done = perf_now();
    if history.racer_count() == 0 {
        return Err(LoadError::Missing);
    }
    let stats = LoadStats {
        bytes: received,
        racers: history.racer_count(),
        download_ms: downloaded - started,
        decode_ms: done - downloaded,
        total_ms: done - started,
    };
    Ok((Arc::new(history), stats))
}

/// A small history (40 racers × 300 s, written by `examples/seed_history.rs -- <out> 40`)
/// decoded once while the real one downloads: the browser compiles WebAssembly in a quick
/// baseline tier first and optimises functions once they have run a while, so inflating and
/// parsing the real file in the baseline tier would cost about twice as much. 40 racers warm up
/// as well as 120 did and block the page for less time (BENCHMARKS.md, App). About 11 KB.
const WARM_UP: &[u8] = include_bytes!("../assets/warmup-history.gz");

fn warm_up() {
    let _ = history::decode(WARM_UP);
}

/// Why a download could not be read.
enum BodyError {
    /// The connection broke off; a sentence.
    Network(String),
    /// The bytes are not a history file's gzip.
    Gzip(history::HistoryError),
}

/// Reads `body` chunk by chunk into `take` (which gunzips it), reporting progress at most every
/// 64 KiB so the screen is not re-rendered per chunk; returns the bytes received.
async fn read_body(
    body: web_sys::ReadableStream,
    expected: Option<u64>,
    progress: &impl Fn(u64, Option<u64>),
    mut take: impl FnMut(&[u8]) -> Result<(), history::HistoryError>,
) -> Result<u64, BodyError> {
    let failed = |e: JsValue| BodyError::Network(format!("The download broke off ({e:?})."));
    let reader: web_sys::ReadableStreamDefaultReader =
        body.get_reader().dyn_into().map_err(|e: js_sys::Object| failed(e.into()))?;
    let (mut received, mut reported) = (0u64, 0u64);
    let mut chunk_bytes = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(failed)?;
        let done = js_sys::Reflect::get(&chunk, &"done".into()).map_err(failed)?;
        if done.as_bool().unwrap_or(true) {
            break;
        }
        let value = js_sys::Reflect::get(&chunk, &"value".into()).map_err(failed)?;
        let array: js_sys::Uint8Array = value.dyn_into().map_err(failed)?;
        chunk_bytes.resize(array.length() as usize, 0);
        array.copy_to(&mut chunk_bytes);
        take(&chunk_bytes).map_err(BodyError::Gzip)?;
        received += chunk_bytes.len() as u64;
        if received - reported >= 64 * 1024 {
            reported = received;
            progress(received, expected);
        }
    }
    progress(received, expected);
    Ok(received)
}
