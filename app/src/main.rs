//! The Alleycat racing app: Leptos, client-side rendered, compiled to WebAssembly.
//!
//! The pure logic (`logic/`) has no DOM and is tested natively: `cargo test -p alleycat-app`.
//! Components (`components/`) lay out the screens; the ride's moving parts (session, live
//! board, heartbeat, sender) are hooks (`hooks/`). The `bench` feature adds the benchmark's
//! probes (`bench.rs`), which the production build does not have.

mod api;
#[cfg(feature = "bench")]
mod bench;
mod bluetooth;
mod components;
mod history_load;
mod hooks;
mod live;
mod logic;
mod passkeys;
mod storage;
mod time;

use leptos::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    mount_to_body(components::App);
}
