//! Sending the rider's events: each second's event goes into the outbox (`logic::outbox`),
//! which is saved in localStorage at once (`crate::storage`), and a pump sends the outbox,
//! oldest first, one bounded batch at a time:
//!
//! - over the live WebSocket ([`Link`]) while it is open: the racer's one connection;
//! - over `POST /api/events` only when the socket cannot be opened (its last attempt failed) and
//!   the browser is online;
//! - nowhere while the browser is offline or the socket is still opening: the events wait.
//!
//! The pump wakes when a second is ridden, when the link opens or closes, and every
//! [`IDLE_MS`]. When the ride leaves the screen with seconds still waiting (the rider left the
//! race while offline), [`drain_saved`] takes over its saved outbox at the app's level and
//! sends it over `POST /api/events` until nothing waits or the race can no longer take events. After a failed try or a retryable refusal it waits [`RETRY_MS`] before sending
//! again (the server limits each racer to a few events a second, so a backlog drains over a
//! few seconds, oldest first). What the screen shows of it is [`Route`] and the outbox.

use std::{
    rc::Rc,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use alleycat_domain::{api::EventResult, RaceId, RacerEvent};
use futures::{
    channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender},
    future::{select, Either},
    StreamExt,
};
use gloo_timers::future::TimeoutFuture;
use leptos::{prelude::*, task::spawn_local};

use super::Session;
use crate::{
    api,
    live::{browser_online, Link},
    logic::outbox::{Outbox, MAX_BATCH},
    storage,
    time::perf_now,
};

/// The pump looks at the outbox and the connection at least this often, ms.
pub const IDLE_MS: u32 = 1_000;
/// The wait after a failed try or a retryable refusal before sending again, ms.
pub const RETRY_MS: f64 = 1_000.0;
/// How long a batch may wait for its answer before it is sent again, ms.
pub const ANSWER_TIMEOUT_MS: u32 = 10_000;

/// How the rider's events reach the server now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The live connection is opening.
    Connecting,
    /// Over the live WebSocket.
    Live,
    /// Over `POST /api/events`: the live WebSocket cannot be opened.
    Http,
    /// Nothing gets through: the browser is offline, or the server cannot be reached.
    Offline,
}

/// Sends the rider's events and keeps what became of each.
#[derive(Clone, Copy)]
pub struct Sender {
    outbox: RwSignal<Outbox>,
    route: RwSignal<Route>,
    wake: StoredValue<UnboundedSender<()>, LocalStorage>,
    racer_id: u64,
    race_id: RaceId,
}

/// A sender for `racer_id`'s race `race_id` with the ride's `session`, over `link` (or HTTP when
/// it cannot be opened). It starts with the outbox saved for this race, if any (a reload), and
/// stops when the component is dropped; what it has not sent stays saved.
pub fn use_sender(session: Session, link: Link, racer_id: u64, race_id: RaceId) -> Sender {
    let outbox = RwSignal::new(storage::outbox(racer_id, race_id).unwrap_or_default());
    let route = RwSignal::new(Route::Connecting);
    let (wake, woken) = unbounded::<()>();
    let alive = Arc::new(AtomicBool::new(true));
    {
        let (alive, wake) = (alive.clone(), wake.clone());
        on_cleanup(move || {
            alive.store(false, Ordering::Relaxed);
            wake.close_channel();
        });
    }
    {
        let wake = wake.clone();
        link.watch(move || {
            let _ = wake.unbounded_send(());
        });
    }
    let sender = Sender { outbox, route, wake: StoredValue::new_local(wake), racer_id, race_id };
    spawn_local(pump(sender, session, link, woken, Rc::new(move || alive.load(Ordering::Relaxed))));
    sender
}

/// A sender for what waits in the saved outbox of `racer_id`'s race `race_id` once its ride has
/// left the screen. Off the ride there is no live socket, so it sends over `POST /api/events`,
/// until nothing waits or `keep_going` says stop (the race can no longer take events, or its
/// ride is back on screen, whose own sender takes the outbox over); then it calls `done`. Call it
/// under an owner that outlives the ride (the app's): its signals live there.
pub fn drain_saved(
    session: Session,
    racer_id: u64,
    race_id: RaceId,
    keep_going: impl Fn() -> bool + 'static,
    done: impl FnOnce() + 'static,
) -> Sender {
    let outbox = RwSignal::new(storage::outbox(racer_id, race_id).unwrap_or_default());
    let route = RwSignal::new(Route::Connecting);
    let (wake, woken) = unbounded::<()>();
    let sender = Sender { outbox, route, wake: StoredValue::new_local(wake), racer_id, race_id };
    let waiting = move || outbox.with_untracked(|o| o.waiting() > 0);
    let go_on = Rc::new(move || keep_going() && waiting());
    spawn_local(async move {
        pump(sender, session, Link::without_socket(), woken, go_on).await;
        done();
    });
    sender
}

impl Sender {
    /// The events ridden and their fates.
    pub fn outbox(self) -> ReadSignal<Outbox> {
        self.outbox.read_only()
    }

    /// How the events reach the server now.
    pub fn route(self) -> ReadSignal<Route> {
        self.route.read_only()
    }

    /// The race whose events this sends.
    pub fn race_id(self) -> RaceId {
        self.race_id
    }

    /// Whether `second` was ridden already (in this page or before a reload).
    pub fn has_second(self, second: u32) -> bool {
        self.outbox.with_untracked(|o| o.has_second(second))
    }

    /// Keeps the event of a second ridden, worth `output`, until the server has it.
    pub fn send(self, event: RacerEvent, output: f64) {
        if self.outbox.try_update(|o| o.push(event, output)) == Some(true) {
            self.save();
            self.wake.with_value(|wake| {
                let _ = wake.unbounded_send(());
            });
        }
    }

    fn save(self) {
        self.outbox.with_untracked(|o| storage::save_outbox(self.racer_id, self.race_id, o));
    }
}

/// Sends the outbox while `keep_going` says so (for a ride: until its component is dropped).
async fn pump(
    sender: Sender,
    session: Session,
    link: Link,
    mut woken: UnboundedReceiver<()>,
    keep_going: Rc<dyn Fn() -> bool>,
) {
    // Without a session nothing can be sent: the events stay saved for a later visit, and the
    // screen says why (the session's error).
    let Ok(token) = session.token().await else { return };
    let mut not_before = 0.0;
    let mut http_failed = false;
    while keep_going() {
        let now = perf_now();
        if now < not_before {
            sleep_or_wake(&mut woken, (not_before - now) as u32).await;
            continue;
        }
        let way = if link.is_open() {
            Route::Live
        } else if !browser_online() {
            Route::Offline
        } else if link.is_unavailable() {
            Route::Http
        } else {
            Route::Connecting
        };
        let shown = if way == Route::Http && http_failed { Route::Offline } else { way };
        sender.route.maybe_update(|r| std::mem::replace(r, shown) != shown);
        let batch = match way {
            Route::Live | Route::Http => sender.outbox.try_update(|o| o.next_batch(MAX_BATCH)),
            Route::Connecting | Route::Offline => None,
        }
        .unwrap_or_default();
        if batch.is_empty() {
            sleep_or_wake(&mut woken, IDLE_MS).await;
            continue;
        }
        let answer = within(ANSWER_TIMEOUT_MS, deliver(way, &link, &token, batch)).await;
        if !keep_going() {
            return;
        }
        if way == Route::Http {
            http_failed = answer.is_err();
        }
        match answer {
            Ok(records) => {
                let settled = sender.outbox.try_update(|o| o.settle(&records)).unwrap_or_default();
                if settled.retry > 0 {
                    not_before = perf_now() + RETRY_MS;
                }
            }
            Err(reason) => {
                sender.outbox.update(|o| o.unanswered(&reason));
                not_before = perf_now() + RETRY_MS;
            }
        }
        sender.save();
    }
}

/// Sends `batch` the `way` chosen: the server's results, or why there are none.
async fn deliver(
    way: Route,
    link: &Link,
    token: &str,
    batch: Vec<RacerEvent>,
) -> Result<Vec<EventResult>, String> {
    match way {
        Route::Http => api::post_events(token, batch).await.map(|answer| answer.records),
        _ => link.send_events(batch).await,
    }
}

/// `work`'s result, or a failure after `ms`.
async fn within<T>(
    ms: u32,
    work: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match select(Box::pin(work), TimeoutFuture::new(ms)).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(format!("No answer within {} s.", ms / 1000)),
    }
}

/// Waits `ms`, or less when woken; takes every wake-up that came meanwhile.
async fn sleep_or_wake(woken: &mut UnboundedReceiver<()>, ms: u32) {
    let _ = select(woken.next(), TimeoutFuture::new(ms)).await;
    while woken.try_recv().is_ok() {}
}

/// A fresh random version-4 UUID for an event.
pub fn event_id() -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(4) {
        let word = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}
