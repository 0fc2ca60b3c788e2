//! The benchmark's probes, built only with the `bench` feature (`scripts/build-app.sh --bench`,
//! see BENCHMARKS.md, App): when the page is opened with `?bench`, the app publishes its figures
//! on `window` for `tests/e2e/bench/history.bench.ts` to read. The production build has none of
//! this.
//!
//! - `window.__alleycatHistory`: the history download's [`LoadStats`] and the WebAssembly memory
//!   right after it;
//! - `window.__alleycatStep`: one all-time ranking step, timed over every second and many
//!   outputs;
//! - `window.__alleycatDecode`: the same history gunzipped and decoded again (fetched again,
//!   the time excludes the network), to see where decode's time goes.

use alleycat_domain::{history, ClassId, History};
use leptos::task::spawn_local;
use wasm_bindgen::JsValue;

use crate::{history_load::LoadStats, logic::alltime, time::perf_now};

/// The racer whose board the ranking step is timed for: one of the benchmark's history
/// (`tests/e2e/bench/history.bench.ts`), so that their own bests are looked up as a rider's are.
const BENCH_RIDER: u64 = 42;

/// Runs the probes once a history is ready to rank, if the page asked for them: before the
/// board uses the history, with the ranking step as the chosen racer's board runs it.
pub fn history_ready(class_id: ClassId, history: &History, stats: &LoadStats) {
    if !requested() {
        return;
    }
    let me = BENCH_RIDER;
    publish(
        "__alleycatHistory",
        &[
            ("bytes", stats.bytes as f64),
            ("racers", stats.racers as f64),
            ("downloadMs", stats.download_ms),
            ("decodeMs", stats.decode_ms),
            ("totalMs", stats.total_ms),
            ("wasmMemoryBytes", wasm_memory_bytes()),
        ],
    );
    time_steps(history, me);
    spawn_local(decode_again(class_id));
}

/// Whether the page was opened with `?bench`.
fn requested() -> bool {
    web_sys::window().and_then(|w| w.location().search().ok()).is_some_and(|s| s.contains("bench"))
}

/// Times the all-time ranking step as the board runs it each second (the rider's rank and the
/// rows on screen) over every second of the race and many outputs, and publishes the mean.
fn time_steps(history: &History, me: u64) {
    const ROUNDS: u32 = 20;
    let seconds = history.race_seconds();
    let started = perf_now();
    let mut checksum = 0usize;
    for round in 0..ROUNDS {
        for second in 1..=seconds {
            let output = 60.0 + f64::from((second * 7 + round * 13) % 140);
            let rank = history.rank(second, alleycat_domain::output::to_centi(output));
            let first = rank.saturating_sub(6);
            let rider = alltime::Rider { id: me, name: "Me", output, real_bike: false };
            let step = alltime::step(history, second, &rider, first..first + 20, |id| {
                format!("Racer #{id}")
            });
            checksum += step.rows.len() + step.place;
        }
    }
    let steps = f64::from(ROUNDS * seconds);
    let mean_ms = (perf_now() - started) / steps;
    publish(
        "__alleycatStep",
        &[("meanMs", mean_ms), ("steps", steps), ("checksum", checksum as f64)],
    );
}

/// Fetches the history file again and times its gunzip and its whole decode.
async fn decode_again(class_id: ClassId) {
    let url = format!("/api/history/class-{class_id}.gz");
    let bytes = match gloo_net::http::Request::get(&url).send().await {
        Ok(response) => response.binary().await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let t0 = perf_now();
    let inflated =
        history::gunzip(&bytes, history::MAX_DECODED_BYTES).map(|j| j.len()).unwrap_or(0);
    let t1 = perf_now();
    let _ = history::decode(&bytes);
    let t2 = perf_now();
    publish(
        "__alleycatDecode",
        &[("gunzipMs", t1 - t0), ("decodeAgainMs", t2 - t1), ("jsonBytes", inflated as f64)],
    );
}

/// The size of the app's WebAssembly memory, bytes.
fn wasm_memory_bytes() -> f64 {
    let memory = wasm_bindgen::memory();
    js_sys::Reflect::get(&memory, &"buffer".into())
        .and_then(|b| js_sys::Reflect::get(&b, &"byteLength".into()))
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0)
}

/// Puts `figures` on `window[name]` as one object.
fn publish(name: &str, figures: &[(&str, f64)]) {
    let object = js_sys::Object::new();
    for &(key, value) in figures {
        let _ = js_sys::Reflect::set(&object, &key.into(), &JsValue::from_f64(value));
    }
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(&window, &name.into(), &object);
    }
}
