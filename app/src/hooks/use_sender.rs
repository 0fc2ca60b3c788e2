//! Sending the rider's events: each one goes into the outbox (the messages log) as "sent", over
//! a [`Transport`] with the session's token, and is settled by the server's answer
//! (`logic::outbox`).
//!
//! The transport is the seam for other ways to the server: today every event is its own
//! `POST /api/events` ([`Http`]); a transport over the racer's WebSocket implements [`Transport`]
//! and is handed to [`use_sender_over`], and nothing else changes.

use std::future::Future;

use alleycat_domain::{api::EventsResponse, EventKind, RacerEvent};
use leptos::{prelude::*, task::spawn_local};

use super::Session;
use crate::{
    api,
    logic::outbox::{self, Outbox},
};

/// A way to carry events to the server.
pub trait Transport: Copy + 'static {
    /// Sends `events` with the racer's bearer `token`: the server's answer (one result per
    /// event, in order), or why the events did not arrive (a sentence).
    fn send(
        self,
        token: String,
        events: Vec<RacerEvent>,
    ) -> impl Future<Output = Result<EventsResponse, String>>;
}

/// `POST /api/events`, one request per call.
#[derive(Debug, Clone, Copy, Default)]
pub struct Http;

impl Transport for Http {
    async fn send(self, token: String, events: Vec<RacerEvent>) -> Result<EventsResponse, String> {
        api::post_events(&token, events).await
    }
}

/// Sends the rider's events and keeps what became of each.
#[derive(Clone, Copy)]
pub struct Sender<T: Transport = Http> {
    session: Session,
    transport: T,
    outbox: RwSignal<Outbox>,
}

/// A sender over HTTP with the ride's `session`.
pub fn use_sender(session: Session) -> Sender {
    use_sender_over(session, Http)
}

/// A sender over `transport` with the ride's `session`.
pub fn use_sender_over<T: Transport>(session: Session, transport: T) -> Sender<T> {
    Sender { session, transport, outbox: RwSignal::new(Outbox::default()) }
}

impl<T: Transport> Sender<T> {
    /// The events sent and their fates, newest first.
    pub fn outbox(self) -> ReadSignal<Outbox> {
        self.outbox.read_only()
    }

    /// Sends `event`, logged with the `output` it carries. Waits for the session first; without
    /// one the event fails with the session's error.
    pub fn send(self, event: RacerEvent, output: f64) {
        let second = event.second;
        self.outbox.update(|o| o.sent(second, event.event == EventKind::Final, output));
        spawn_local(async move {
            let fate = match self.session.token().await {
                Ok(token) => outbox::fates(self.transport.send(token, vec![event]).await, 1)
                    .into_iter()
                    .next(),
                Err(error) => Some(outbox::without_session(&error)),
            };
            if let Some(fate) = fate {
                self.outbox.update(|o| {
                    o.settle(second, fate);
                });
            }
        });
    }
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
