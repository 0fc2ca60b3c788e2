//! Racer names for the boards: learnt from the live rankings, looked up (`GET /api/racers/{id}`)
//! once each for the all-time rows on screen.

use std::collections::{HashMap, HashSet};

use alleycat_domain::api::LiveRanking;
use leptos::{prelude::*, task::spawn_local};

use crate::{api, logic::format};

/// The names the ride knows.
#[derive(Clone, Copy)]
pub struct Names {
    known: RwSignal<HashMap<u64, String>>,
    asked: StoredValue<HashSet<u64>>,
}

/// An empty name book.
pub fn use_names() -> Names {
    Names { known: RwSignal::new(HashMap::new()), asked: StoredValue::new(HashSet::new()) }
}

impl Names {
    /// Learns the names of everyone in `ranking`.
    pub fn learn(self, ranking: &LiveRanking) {
        self.known.maybe_update(|known| {
            let before = known.len();
            for e in ranking.entries.iter().chain(ranking.me.iter()) {
                known.entry(e.racer_id).or_insert_with(|| e.name.clone());
            }
            known.len() != before
        });
    }

    /// Calls `f` with a function naming a racer id: their name, or their number while the name
    /// is unknown (tracked: re-runs when names arrive).
    pub fn with<R>(self, f: impl FnOnce(&dyn Fn(u64) -> String) -> R) -> R {
        self.known.with(|known| {
            f(&|id| known.get(&id).cloned().unwrap_or_else(|| format::racer_number(id)))
        })
    }

    /// Asks the server for the names of `ids` it does not know yet, each once per ride.
    pub fn look_up(self, ids: impl IntoIterator<Item = u64>) {
        for id in ids {
            if self.known.with_untracked(|k| k.contains_key(&id))
                || !self.asked.try_update_value(|a| a.insert(id)).unwrap_or(false)
            {
                continue;
            }
            let known = self.known;
            spawn_local(async move {
                if let Ok(info) = api::racer(id).await {
                    known.update(|k| {
                        k.insert(id, info.name);
                    });
                }
            });
        }
    }
}
