//! Who this device rides as (#15), for the whole app: the racer and their short-lived token.
//!
//! On load the app asks `POST /api/session` with the device cookie (see `crate::api`): the
//! answer is the device's racer and a token, or 401 when the device has none yet. Creating a
//! racer or signing in with a passkey gives the same answer; signing out forgets it. Whoever
//! needs the token (the sender, the live board, the racer's menu) awaits [`Session::token`],
//! which renews it with the cookie before it expires (`logic::session`).
//!
//! [`provide_session`] makes the one session (the root component calls it); [`use_session`]
//! takes it for a ride, bound to the racer who rides.

use alleycat_domain::api::{RacerInfo, SessionResponse};
use futures::channel::oneshot;
use leptos::{prelude::*, task::spawn_local};

use crate::{api, logic::session::renew_at, time::browser_now_ms};

/// The racer's bearer token, or why there is none (a sentence).
pub type Token = Result<String, String>;

/// What the server said when this device has no racer.
const NO_RACER: &str = "This device has no racer yet: create your racer or sign in with a passkey.";

/// Who this device rides as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Asking the server.
    Checking,
    /// Nobody: the device has no racer (create one, or sign in with a passkey).
    Nobody,
    /// This racer.
    Racer(RacerInfo),
    /// The server could not be asked (why, a sentence); [`Session::check`] asks again.
    Unknown(String),
}

/// A token held, and when to renew it (browser time, epoch ms).
#[derive(Debug, Clone)]
struct Held {
    token: String,
    renew_at_ms: f64,
}

/// The device's session (cheap to copy; every copy is the same session).
#[derive(Clone, Copy)]
pub struct Session {
    identity: RwSignal<Identity>,
    held: StoredValue<Option<Held>>,
    /// Callers of [`Session::token`] waiting for the first answer.
    waiting: StoredValue<Vec<oneshot::Sender<()>>>,
    renewing: StoredValue<bool>,
    /// Why the last renewal failed, while it has not succeeded since.
    renew_error: RwSignal<Option<String>>,
    /// The racer a ride is for ([`use_session`]); `None` for the app's own copy.
    rider: Option<u64>,
}

/// Makes the app's session, asks the server who this device is, and shares the session with
/// every component below (the root component calls it once).
pub fn provide_session() -> Session {
    let session = Session {
        identity: RwSignal::new(Identity::Checking),
        held: StoredValue::new(None),
        waiting: StoredValue::new(Vec::new()),
        renewing: StoredValue::new(false),
        renew_error: RwSignal::new(None),
        rider: None,
    };
    provide_context(session);
    session.check();
    session
}

/// The session for the ride of racer `racer_id`: its token is refused if the device stops
/// riding as that racer (signed out, or signed in as someone else).
pub fn use_session(racer_id: u64) -> Session {
    let session = expect_context::<Session>();
    Session { rider: Some(racer_id), ..session }
}

impl Session {
    /// Who this device rides as (tracked).
    pub fn identity(self) -> Identity {
        self.identity.get()
    }

    /// The device's racer, once known (tracked).
    pub fn racer(self) -> Option<RacerInfo> {
        match self.identity.get() {
            Identity::Racer(racer) => Some(racer),
            _ => None,
        }
    }

    /// Asks the server who this device is (on load, and again after a failure).
    pub fn check(self) {
        self.identity.set(Identity::Checking);
        spawn_local(async move {
            match api::session().await {
                Ok(Some(session)) => self.signed_in(session),
                Ok(None) => self.forget(),
                Err(message) => self.settle(Identity::Unknown(message)),
            }
        });
    }

    /// The device rides as the racer of `session` from now on (a racer created, a passkey
    /// used, a token renewed).
    pub fn signed_in(self, session: SessionResponse) {
        let renew_at_ms = renew_at(browser_now_ms(), session.expires_at_ms);
        self.held.set_value(Some(Held { token: session.token, renew_at_ms }));
        self.renew_error.set(None);
        if self.identity.get_untracked() != Identity::Racer(session.racer.clone()) {
            self.settle(Identity::Racer(session.racer));
        }
    }

    /// Forgets the racer here (signed out, or the device was removed).
    pub fn forget(self) {
        self.held.set_value(None);
        self.renew_error.set(None);
        self.settle(Identity::Nobody);
    }

    /// The racer's token, once the server has answered; renewed first when it is due.
    pub async fn token(self) -> Token {
        self.settled().await;
        let racer = match self.identity.get_untracked() {
            Identity::Racer(racer) => racer,
            Identity::Nobody | Identity::Checking => return Err(NO_RACER.to_owned()),
            Identity::Unknown(message) => return Err(message),
        };
        if self.rider.is_some_and(|id| id != racer.id) {
            return Err(format!("This device rides as {} now.", racer.name));
        }
        match self.held.get_value() {
            Some(held) if browser_now_ms() < held.renew_at_ms || self.renewing.get_value() => {
                Ok(held.token)
            }
            held => self.renew(held).await,
        }
    }

    /// Why this session gives no token for the ride, if it gives none (tracked).
    pub fn error(self) -> Option<String> {
        match self.identity.get() {
            Identity::Racer(racer) if self.rider.is_some_and(|id| id != racer.id) => {
                Some(format!("This device rides as {} now.", racer.name))
            }
            Identity::Racer(_) | Identity::Checking => self.renew_error.get(),
            Identity::Nobody => Some(NO_RACER.to_owned()),
            Identity::Unknown(message) => Some(message),
        }
    }

    /// A fresh token from the device cookie. While the server cannot be reached, the token
    /// held (renewed ahead of its expiry) serves on.
    async fn renew(self, held: Option<Held>) -> Token {
        self.renewing.set_value(true);
        let answer = api::session().await;
        self.renewing.set_value(false);
        match answer {
            Ok(Some(session)) => {
                let token = session.token.clone();
                self.signed_in(session);
                Ok(token)
            }
            Ok(None) => {
                self.forget();
                Err(NO_RACER.to_owned())
            }
            Err(message) => {
                self.renew_error.set(Some(message.clone()));
                held.map(|h| h.token).ok_or(message)
            }
        }
    }

    /// Sets who the device is, and wakes the callers waiting for the first answer.
    fn settle(self, identity: Identity) {
        self.identity.set(identity);
        for waiter in self.waiting.try_update_value(std::mem::take).unwrap_or_default() {
            let _ = waiter.send(());
        }
    }

    /// Returns once the server has said who this device is.
    async fn settled(self) {
        if self.identity.get_untracked() != Identity::Checking {
            return;
        }
        let (tx, rx) = oneshot::channel();
        self.waiting.update_value(|w| w.push(tx));
        // A dropped sender (the app torn down) ends the wait too.
        let _ = rx.await;
    }
}
