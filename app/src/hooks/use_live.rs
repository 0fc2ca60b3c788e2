//! The racer's live connection: follows the class's live WebSocket (`crate::live`) for as long
//! as the ride is on screen, keeps the rankings the here-now board shows (`logic::here_now`),
//! and offers the socket to the sender ([`Live::link`]).

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use alleycat_domain::{ClassId, RaceId};
use leptos::{prelude::*, task::spawn_local};

use super::{Names, Session};
use crate::{
    live::{self, Link, LiveStatus},
    logic::here_now::HereNow,
};

/// How many here-now racers the server sends (the rider's own entry comes on top).
const LIVE_LIMIT: u32 = 100;

/// The live board of one ride.
#[derive(Clone, Copy)]
pub struct Live {
    /// What the here-now board shows.
    pub board: ReadSignal<HereNow>,
    /// The connection as the rider sees it.
    pub status: ReadSignal<LiveStatus>,
    link: StoredValue<Link, LocalStorage>,
}

impl Live {
    /// The way the rider's events take over this connection.
    pub fn link(&self) -> Link {
        self.link.get_value()
    }
}

/// Follows class `class_id` for race `race_id`, naming racers in `names` as rankings arrive.
/// It connects once the session has answered, with its token so that the server includes the
/// rider's own entry and takes their events (without a session the board still shows the
/// field). It stops when the component is dropped.
pub fn use_live(class_id: ClassId, race_id: RaceId, session: Session, names: Names) -> Live {
    let board = RwSignal::new(HereNow::new(race_id));
    let status = RwSignal::new(LiveStatus::Connecting);
    let link = Link::default();
    let alive = Arc::new(AtomicBool::new(true));
    {
        let alive = alive.clone();
        on_cleanup(move || alive.store(false, Ordering::Relaxed));
    }
    let follow_link = link.clone();
    spawn_local(async move {
        let token = session.token().await.ok();
        live::follow(
            class_id,
            token,
            LIVE_LIMIT,
            alive,
            follow_link,
            move |ranking| {
                names.learn(&ranking);
                board.maybe_update(|b| b.receive(ranking));
            },
            move |s| status.set(s),
        )
        .await;
    });
    Live {
        board: board.read_only(),
        status: status.read_only(),
        link: StoredValue::new_local(link),
    }
}
