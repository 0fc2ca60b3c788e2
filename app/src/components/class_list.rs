//! The six classes, as cards.

use alleycat_domain::api::ClassInfo;
use leptos::prelude::*;

/// The classes a racer can ride in.
#[component]
pub fn ClassList(
    /// The classes, in id order.
    classes: Vec<ClassInfo>,
) -> impl IntoView {
    view! {
        <section aria-labelledby="classes-title">
            <h2 id="classes-title">"Classes"</h2>
            <ul class="class-grid">
                {classes.into_iter().map(|class| view! {
                    <li class="class-card" data-class-id=class.id>
                        <span class="class-badge" aria-hidden="true">{class.id}</span>
                        <h3>{class.name}</h3>
                        <p class="muted">{class.tagline}</p>
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
}
