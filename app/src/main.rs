//! The Alleycat racing app: Leptos, client-side rendered, compiled to WebAssembly.
//!
//! The pure logic (`logic/`) has no DOM and is tested natively:
//! `CARGO_TARGET_DIR=/work/target-app cargo test -p alleycat-app --target x86_64-unknown-linux-gnu`.

mod api;
mod bluetooth;
mod components;
mod history_load;
mod live;
mod logic;
mod storage;
mod time;

use leptos::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    mount_to_body(components::App);
}
