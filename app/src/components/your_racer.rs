//! The set-up screen's first step: who rides. The device's racer when it has one; otherwise
//! "Create your racer" (one field, one button) and "Sign in with a passkey".

use alleycat_domain::racer::validate_name;
use leptos::{ev::SubmitEvent, html, prelude::*, task::spawn_local};

use super::avatar::Avatar;
use crate::{
    api,
    hooks::{Identity, Session},
    logic::{format, route::Route},
    passkeys,
};

/// The racer of this device, or the ways to get one.
#[component]
pub fn YourRacer(
    /// The device's session.
    session: Session,
    /// Called when the device gets its racer here (created, or signed in with a passkey).
    on_signed_in: Callback<()>,
) -> impl IntoView {
    view! {
        <section class="panel your-racer" aria-labelledby="racer-title">
            <h2 class="panel-title" id="racer-title">"1. Your racer"</h2>
            {move || match session.identity() {
                Identity::Checking => view! {
                    <p class="muted" role="status">"Finding your racer…"</p>
                }.into_any(),
                Identity::Racer(racer) => view! {
                    <div class="chosen-racer" data-testid="your-racer">
                        <Avatar racer_id=racer.id name=racer.name.clone() size=48/>
                        <div>
                            <strong class="chosen-name">{racer.name.clone()}</strong>
                            <span class="muted small">{format::racer_number(racer.id)}</span>
                            <a class="racer-link small" href=Route::Racer(racer.id).path()>"Races and personal bests"</a>
                        </div>
                    </div>
                    <p class="muted small">"Your passkeys, devices and Sign out are in your racer's menu at the top."</p>
                }.into_any(),
                Identity::Nobody => view! {
                    <CreateRacer session=session on_signed_in=on_signed_in/>
                    <PasskeySignIn session=session on_signed_in=on_signed_in/>
                }.into_any(),
                Identity::Unknown(message) => view! {
                    <p class="note warn" role="alert">{format!("Cannot find your racer: {message}")}</p>
                    <button class="button" on:click=move |_| session.check()>"Try again"</button>
                }.into_any(),
            }}
        </section>
    }
}

/// A name, checked as it is typed with the server's own rules, and one button.
#[component]
fn CreateRacer(session: Session, on_signed_in: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let touched = RwSignal::new(false);
    let invite = RwSignal::new(invite_in_url().unwrap_or_default());
    let ask_invite = RwSignal::new(!invite.get_untracked().is_empty());
    let refusal = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let input = NodeRef::<html::Input>::new();
    let problem = move || {
        touched.get().then(|| validate_name(&name.get()).err().map(|e| e.to_string())).flatten()
    };
    let message = move || problem().or_else(|| refusal.get());
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        touched.set(true);
        let Ok(valid) = validate_name(&name.get_untracked()) else {
            if let Some(input) = input.get_untracked() {
                let _ = input.focus();
            }
            return;
        };
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        refusal.set(None);
        spawn_local(async move {
            let code = invite.get_untracked().trim().to_owned();
            let answer =
                api::create_racer(&valid, (!code.is_empty()).then_some(code.as_str())).await;
            match answer {
                Ok(created) => {
                    session.signed_in(created);
                    on_signed_in.run(());
                }
                Err(refused) => {
                    // 403: the server takes new racers by invitation; let them paste one.
                    if refused.status == 403 {
                        ask_invite.set(true);
                    }
                    refusal.set(Some(refused.message));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <form class="create-racer" on:submit=submit novalidate>
            <h3 class="form-title">"Create your racer"</h3>
            <label class="field-label" for="racer-name">"Your racer's name"</label>
            <input id="racer-name" node_ref=input class="text-input" type="text" autocomplete="nickname"
                spellcheck="false" placeholder="e.g. Ada Lovelace" required
                aria-invalid=move || message().is_some().to_string()
                aria-describedby="racer-name-message"
                prop:value=move || name.get()
                on:input=move |ev| {
                    name.set(event_target_value(&ev));
                    touched.set(true);
                    refusal.set(None);
                }/>
            <p id="racer-name-message" class="field-message" aria-live="polite">{message}</p>
            <Show when=move || ask_invite.get()>
                <label class="field-label" for="racer-invite">"Invitation code"</label>
                <input id="racer-invite" class="text-input" type="text" autocomplete="off" spellcheck="false"
                    prop:value=move || invite.get()
                    on:input=move |ev| invite.set(event_target_value(&ev))/>
            </Show>
            <button type="submit" class="button primary" aria-disabled=move || busy.get().to_string()>"Create your racer"</button>
        </form>
    }
}

/// "Sign in with a passkey", or why this page cannot.
#[component]
fn PasskeySignIn(session: Session, on_signed_in: Callback<()>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let sign_in = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match passkeys::sign_in().await {
                Ok(signed_in) => {
                    session.signed_in(signed_in);
                    on_signed_in.run(());
                }
                Err(message) => {
                    error.set(Some(message));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <div class="passkey-sign-in">
            <p class="or muted small">"Raced here before?"</p>
            {match passkeys::support() {
                Ok(()) => view! {
                    <button class="button" on:click=sign_in aria-disabled=move || busy.get().to_string()>
                        "Sign in with a passkey"
                    </button>
                    <p class="field-message" role="alert">{move || error.get()}</p>
                }.into_any(),
                Err(why) => view! {
                    <p class="muted small" data-testid="passkeys-missing">
                        {format!("No passkey sign-in here. {}", why.message())}
                    </p>
                }.into_any(),
            }}
        </div>
    }
}

/// The invitation code of an invite link (`/?invite=CODE`).
fn invite_in_url() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    let code = web_sys::UrlSearchParams::new_with_str(&search).ok()?.get("invite")?;
    (!code.trim().is_empty()).then_some(code)
}
