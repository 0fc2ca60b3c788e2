//! The root component: loads the server's configuration, then shows the lobby.

use leptos::prelude::*;

use super::{class_list::ClassList, countdown::Countdown};
use crate::{api, time};

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let config = LocalResource::new(api::config);
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <img src="/favicon.svg" alt="" width="28" height="28"/>
                <span>"Alleycat"</span>
            </a>
            <span class="tagline">"Five-minute races. Every five minutes."</span>
        </header>
        <main class="page">
            <Suspense fallback=|| view! { <p class="muted" role="status">"Loading the race clock…"</p> }>
                {move || config.get().map(|loaded| match loaded {
                    Ok(config) => {
                        let offset = time::clock_offset_ms(config.server_time_ms, time::browser_now_ms());
                        view! {
                            <Countdown race_seconds=config.race_seconds clock_offset_ms=offset/>
                            <ClassList classes=config.classes.clone()/>
                        }.into_any()
                    }
                    Err(message) => view! {
                        <p class="error" role="alert">{message}</p>
                    }.into_any(),
                })}
            </Suspense>
        </main>
    }
}
