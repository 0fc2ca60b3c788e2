//! The racer's menu in the top bar: their passkeys (add, remove), the devices that ride as them
//! (remove), and Sign out.

use alleycat_domain::api::{Credential, CredentialList, RacerInfo};
use leptos::{ev, html, prelude::*, task::spawn_local};
use wasm_bindgen::JsCast;

use super::avatar::Avatar;
use crate::{
    api::{self, CredentialKind},
    hooks::Session,
    logic::{format, passkey::device_name},
    passkeys,
};

/// The racer's chip, which opens their menu. Shows nothing while the device has no racer.
#[component]
pub fn RacerMenu(
    /// The device's session.
    session: Session,
    /// Called once the device has forgotten its racer (signed out, or this device removed).
    on_sign_out: Callback<()>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let button = NodeRef::<html::Button>::new();
    let root = NodeRef::<html::Div>::new();
    // A click or tap anywhere else closes the menu, and so does Escape (back to its button).
    let outside = window_event_listener(ev::pointerdown, move |e| {
        let target = e.target().and_then(|t| t.dyn_into::<web_sys::Node>().ok());
        let inside = root.get_untracked().is_some_and(|root| root.contains(target.as_ref()));
        if open.get_untracked() && !inside {
            open.set(false);
        }
    });
    let escape = window_event_listener(ev::keydown, move |e| {
        if e.key() == "Escape" && open.get_untracked() {
            open.set(false);
            if let Some(button) = button.get_untracked() {
                let _ = button.focus();
            }
        }
    });
    on_cleanup(move || {
        outside.remove();
        escape.remove();
    });
    let signed_out = Callback::new(move |()| {
        open.set(false);
        on_sign_out.run(());
    });
    move || {
        session.racer().map(|racer| {
            view! {
                <div class="racer-menu" node_ref=root>
                    <button class="rider-chip" node_ref=button aria-controls="racer-menu-panel"
                        aria-expanded=move || open.get().to_string()
                        on:click=move |_| open.update(|o| *o = !*o)>
                        <Avatar racer_id=racer.id name=racer.name.clone() size=26/>
                        <span class="visually-hidden">"Your racer: "</span>
                        <span>{racer.name.clone()}</span>
                        <span class="chevron" aria-hidden="true">"▾"</span>
                    </button>
                    <Show when=move || open.get()>
                        <MenuPanel session=session racer=racer.clone() on_sign_out=signed_out/>
                    </Show>
                </div>
            }
        })
    }
}

/// The open menu.
#[component]
fn MenuPanel(session: Session, racer: RacerInfo, on_sign_out: Callback<()>) -> impl IntoView {
    let changed = RwSignal::new(0u32);
    let error = RwSignal::new(None::<String>);
    let sign_out = move |_| {
        error.set(None);
        spawn_local(async move {
            match api::end_session().await {
                Ok(()) => {
                    session.forget();
                    on_sign_out.run(());
                }
                Err(message) => error.set(Some(format!("Not signed out: {message}"))),
            }
        });
    };
    view! {
        <div id="racer-menu-panel" class="menu-panel panel" role="region" aria-label="Your racer's menu">
            <div class="chosen-racer">
                <Avatar racer_id=racer.id name=racer.name.clone() size=40/>
                <div>
                    <strong class="chosen-name">{racer.name.clone()}</strong>
                    <span class="muted small">{format::racer_number(racer.id)}</span>
                </div>
            </div>
            <Credentials session=session kind=CredentialKind::Passkey changed=changed error=error on_sign_out=on_sign_out/>
            <AddPasskey session=session changed=changed error=error/>
            <Credentials session=session kind=CredentialKind::Device changed=changed error=error on_sign_out=on_sign_out/>
            <p class="field-message" role="alert">{move || error.get()}</p>
            <button class="button" on:click=sign_out>"Sign out"</button>
            <p class="muted small">"Sign out forgets your racer on this device; a passkey brings it back."</p>
        </div>
    }
}

/// The racer's passkeys or devices, each with Remove.
#[component]
fn Credentials(
    session: Session,
    kind: CredentialKind,
    changed: RwSignal<u32>,
    error: RwSignal<Option<String>>,
    on_sign_out: Callback<()>,
) -> impl IntoView {
    let (title, empty) = match kind {
        CredentialKind::Passkey => (
            "Your passkeys",
            "No passkeys yet. Add one to sign in as your racer on any device, even after this one \
             forgets you.",
        ),
        CredentialKind::Device => ("Your devices", "No devices."),
    };
    let list = LocalResource::new(move || {
        changed.get();
        async move {
            let token = session.token().await?;
            api::credentials(kind, &token).await
        }
    });
    let remove = move |credential: Credential| {
        error.set(None);
        spawn_local(async move {
            let removed = match session.token().await {
                Ok(token) => api::remove_credential(kind, &token, &credential.id).await,
                Err(message) => Err(message),
            };
            match removed {
                // This device no longer rides as the racer: forget it here too.
                Ok(()) if kind == CredentialKind::Device && credential.current => {
                    session.forget();
                    on_sign_out.run(());
                }
                Ok(()) => changed.update(|c| *c += 1),
                Err(message) => error.set(Some(format!("Not removed: {message}"))),
            }
        });
    };
    view! {
        <section class="credentials">
            <h3 class="form-title">{title}</h3>
            <Suspense fallback=|| view! { <p class="muted small" role="status">"Loading…"</p> }>
                {move || list.get().map(|answer| match answer {
                    Ok(CredentialList { credentials }) if credentials.is_empty() => view! {
                        <p class="muted small">{empty}</p>
                    }.into_any(),
                    Ok(CredentialList { credentials }) => view! {
                        <ul class="credential-list" aria-label=title>
                            {credentials.into_iter().map(|c| {
                                let label = match kind {
                                    CredentialKind::Passkey => c.label.clone(),
                                    CredentialKind::Device => device_name(&c.label),
                                };
                                let removing = c.clone();
                                view! {
                                    <li class="credential">
                                        <span class="credential-label" title=c.label.clone()>
                                            {label.clone()}
                                            {c.current.then(|| view! { <span class="tag you">{current_tag(kind)}</span> })}
                                        </span>
                                        <span class="muted small">{dates(&c)}</span>
                                        <button class="button small-button" aria-label=format!("Remove {label}")
                                            on:click=move |_| remove(removing.clone())>"Remove"</button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(message) => view! {
                        <p class="note warn" role="alert">{message}</p>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// "Add a passkey", or why this page cannot.
#[component]
fn AddPasskey(
    session: Session,
    changed: RwSignal<u32>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let added = RwSignal::new(None::<String>);
    // While a ceremony runs the button stays (a disabled button would drop the focus) but does
    // nothing.
    let add = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        added.set(None);
        spawn_local(async move {
            let answer = match session.token().await {
                Ok(token) => passkeys::add(&token).await,
                Err(message) => Err(message),
            };
            match answer {
                Ok(_) => {
                    added.set(Some("Passkey added.".to_owned()));
                    changed.update(|c| *c += 1);
                }
                Err(message) => error.set(Some(message)),
            }
            busy.set(false);
        });
    };
    match passkeys::support() {
        Ok(()) => view! {
            <button class="button primary" on:click=add aria-disabled=move || busy.get().to_string()>"Add a passkey"</button>
            <p class="muted small" role="status">{move || added.get()}</p>
        }
        .into_any(),
        Err(why) => view! {
            <p class="muted small" data-testid="passkeys-missing">
                {format!("No Add a passkey here. {}", why.message())}
            </p>
        }
        .into_any(),
    }
}

/// What marks the credential this request came from.
fn current_tag(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Passkey => "this sign-in",
        CredentialKind::Device => "this device",
    }
}

/// "Added 7 Dec 2026 · last used 8 Dec 2026".
fn dates(credential: &Credential) -> String {
    let added = format!("Added {}", day(credential.created_at_ms));
    match credential.last_used_ms {
        Some(used) => format!("{added} · last used {}", day(used)),
        None => added,
    }
}

/// A day in the browser's locale, e.g. "7 Dec 2026".
fn day(epoch_ms: u64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(epoch_ms as f64));
    let options = js_sys::Object::new();
    for (key, value) in [("day", "numeric"), ("month", "short"), ("year", "numeric")] {
        let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
    }
    date.to_locale_date_string("default", &options).into()
}
