//! The Alleycat racing app: Leptos, client-side rendered, compiled to WebAssembly.

mod api;
mod components;
mod time;

use leptos::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    mount_to_body(components::App);
}
