//! The root component: loads the server's configuration and asks who this device rides as,
//! then shows the page the URL names (`logic::route`): the set-up screen or the ride (the ride
//! under way at once after a reload, `resumed`), or a racer's page. Off the ride it sends what
//! earlier rides left waiting (`leftovers`: a rider who left a race while offline loses nothing).

use alleycat_domain::{
    api::{ClassInfo, ConfigResponse, RacerInfo},
    RaceId,
};
use leptos::prelude::*;

use super::{racer_menu::RacerMenu, racer_page::RacerPage, ride::Ride, setup::Setup};
use crate::{
    api,
    hooks::{drain_saved, provide_session, Sender, Session},
    logic::{
        format,
        ride::{can_resume, race_to_join, still_sendable},
        route::Route,
    },
    storage, time,
};

/// What the app shows.
#[derive(Debug, Clone, PartialEq)]
enum Screen {
    /// Choosing a racer and a class.
    Setup,
    /// Riding race `race_id`.
    Ride {
        /// Who rides.
        racer: RacerInfo,
        /// In which class.
        class: ClassInfo,
        /// Which race.
        race_id: RaceId,
    },
}

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let config = LocalResource::new(api::config);
    let session = provide_session();
    let route = Route::parse(
        &web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_default(),
    );
    let screen = RwSignal::new(Screen::Setup);
    let leftovers = RwSignal::new(Vec::<Sender>::new());
    let owner = Owner::current();
    Effect::new(move |_| {
        if let (Some(Ok(config)), Some(racer), Some(owner)) =
            (config.get(), session.racer(), owner.as_ref())
        {
            let on_screen = match screen.get() {
                Screen::Ride { race_id, .. } => Some(race_id),
                Screen::Setup => None,
            };
            owner.with(|| send_leftovers(&config, session, racer.id, on_screen, screen, leftovers));
        }
    });
    let on_sign_out = Callback::new(move |()| screen.set(Screen::Setup));
    // Once the clock and the racer are known: back to the ride under way, if there is one (on
    // the home page; a racer's page stays what it is).
    Effect::new(move |_| {
        if route != Route::Home {
            return;
        }
        if let (Some(Ok(config)), Some(racer)) = (config.get(), session.racer()) {
            let now = time::Clock::new(
                config.race_seconds,
                config.server_time_ms,
                time::browser_now_ms(),
            )
            .now_ms();
            if let Some(ride) = resumed(&config, now, racer) {
                screen.set(ride);
            }
        }
    });
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/">
                <img src="/favicon.svg" alt="" width="28" height="28"/>
                <span>"Alleycat"</span>
            </a>
            <span class="tagline">"Virtual bike races, live and all-time"</span>
            <RacerMenu session=session on_sign_out=on_sign_out/>
        </header>
        <main class="page" id="main">
            <LeftoversNote leftovers=leftovers/>
            <Suspense fallback=|| view! { <p class="muted" role="status">"Loading the race clock…"</p> }>
                {move || config.get().map(|loaded| match loaded {
                    Ok(config) => {
                        let clock = time::Clock::new(config.race_seconds, config.server_time_ms, time::browser_now_ms());
                        let classes = config.classes.clone();
                        let on_start = Callback::new(move |(racer, class): (RacerInfo, ClassInfo)| {
                            storage::set_class(class.id);
                            let race_id = race_to_join(clock.race, clock.now_ms());
                            storage::set_current_ride(storage::CurrentRide { racer_id: racer.id, class_id: class.id, race_id });
                            screen.set(Screen::Ride { racer, class, race_id });
                            scroll_to_top();
                        });
                        let on_leave = Callback::new(move |()| {
                            storage::clear_current_ride();
                            screen.set(Screen::Setup);
                            scroll_to_top();
                        });
                        if let Route::Racer(racer_id) = route {
                            return view! {
                                <RacerPage racer_id=racer_id classes=classes.clone() race_seconds=config.race_seconds/>
                            }.into_any();
                        }
                        if route == Route::Unknown {
                            return view! {
                                <p class="note warn" role="alert">"There is no such page. "<a href="/">"Go racing"</a></p>
                            }.into_any();
                        }
                        view! {
                            {move || match screen.get() {
                                Screen::Setup => view! {
                                    <Setup classes=classes.clone() clock=clock session=session on_start=on_start/>
                                }.into_any(),
                                Screen::Ride { racer, class, race_id } => view! {
                                    <Ride racer=racer class=class race_id=race_id clock=clock on_leave=on_leave/>
                                }.into_any(),
                            }}
                        }.into_any()
                    }
                    Err(message) => view! {
                        <p class="note warn" role="alert">{format!("Alleycat cannot start: {message}")}</p>
                    }.into_any(),
                })}
            </Suspense>
        </main>
    }
}

/// The ride under way when the page was left, if `racer` rode it and it is to be taken up again
/// at `now_ms` (see `can_resume`); forgets saved outboxes whose race can no longer take events.
fn resumed(config: &ConfigResponse, now_ms: u64, racer: RacerInfo) -> Option<Screen> {
    let clock = config.clock();
    storage::prune_outboxes(|_, race| still_sendable(clock, race, now_ms, config.late_seconds));
    let ride = storage::current_ride().filter(|ride| ride.racer_id == racer.id)?;
    let class = config.classes.iter().find(|c| c.id == ride.class_id)?.clone();
    let waiting = storage::outbox(ride.racer_id, ride.race_id).map_or(0, |o| o.waiting());
    if !can_resume(clock, ride.race_id, now_ms, config.late_seconds, waiting) {
        storage::clear_current_ride();
        return None;
    }
    Some(Screen::Ride { racer, class, race_id: ride.race_id })
}

/// Starts a drain (`drain_saved`) for each saved outbox of `racer_id` with seconds waiting whose
/// race can still take them, other than the race `on_screen` (its ride's own sender has it) and
/// those already draining. A drain stops when nothing waits, when its race can no longer take
/// events, or when its ride comes back on screen.
fn send_leftovers(
    config: &ConfigResponse,
    session: Session,
    racer_id: u64,
    on_screen: Option<RaceId>,
    screen: RwSignal<Screen>,
    leftovers: RwSignal<Vec<Sender>>,
) {
    let (race_clock, late_seconds) = (config.clock(), config.late_seconds);
    let clock =
        time::Clock::new(config.race_seconds, config.server_time_ms, time::browser_now_ms());
    let draining: Vec<RaceId> =
        leftovers.with_untracked(|l| l.iter().map(|s| s.race_id()).collect());
    for (racer, race) in storage::saved_outboxes() {
        let waiting = storage::outbox(racer, race).map_or(0, |o| o.waiting());
        let sendable = still_sendable(race_clock, race, clock.now_ms(), late_seconds);
        if racer != racer_id
            || Some(race) == on_screen
            || draining.contains(&race)
            || waiting == 0
            || !sendable
        {
            continue;
        }
        let keep_going = move || {
            let back_on_screen = screen
                .with_untracked(|s| matches!(s, Screen::Ride { race_id, .. } if *race_id == race));
            !back_on_screen && still_sendable(race_clock, race, clock.now_ms(), late_seconds)
        };
        let done = move || leftovers.update(|l| l.retain(|s| s.race_id() != race));
        let sender = drain_saved(session, racer, race, keep_going, done);
        leftovers.update(|l| l.push(sender));
    }
}

/// What earlier rides left waiting and the app is sending now.
#[component]
fn LeftoversNote(leftovers: RwSignal<Vec<Sender>>) -> impl IntoView {
    move || {
        leftovers.with(|l| {
            l.iter()
                .copied()
                .map(|sender| {
                    let race = sender.race_id();
                    let waiting = move || sender.outbox().with(|o| o.waiting());
                    view! {
                        <p class="note" role="status" data-testid="leftovers">
                            {move || format!(
                                "Sending {} of race {race} that waited when you left it…",
                                format::seconds(waiting()),
                            )}
                        </p>
                    }
                })
                .collect_view()
        })
    }
}

fn scroll_to_top() {
    if let Some(w) = web_sys::window() {
        w.scroll_to_with_x_and_y(0.0, 0.0);
    }
}
