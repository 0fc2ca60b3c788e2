//! The racer session: one `POST /api/session` when the ride starts. Whoever needs the token
//! (the sender, the live board) awaits it; the screen reads its error.

use leptos::prelude::*;

use crate::api;

/// The racer's bearer token, or why no session could be opened (a sentence).
pub type Token = Result<String, String>;

/// The ride's racer session (a resource: asked once, shared by everyone who awaits it).
#[derive(Clone, Copy)]
pub struct Session(LocalResource<Token>);

/// Opens a racer session for `racer_id`.
pub fn use_session(racer_id: u64) -> Session {
    Session(LocalResource::new(move || async move {
        api::session(racer_id).await.map(|session| session.token)
    }))
}

impl Session {
    /// The token, once the server has answered.
    pub async fn token(self) -> Token {
        self.0.await
    }

    /// Why the session could not be opened, once the server has answered (tracked).
    pub fn error(self) -> Option<String> {
        self.0.get().and_then(Result::err)
    }
}
