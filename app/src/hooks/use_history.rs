//! The class's all-time history, downloaded once when the ride opens (`crate::history_load`), so
//! that it is ready to rank by the start.

use std::sync::Arc;

use alleycat_domain::{ClassId, History};
use leptos::{prelude::*, task::spawn_local};

use crate::history_load::{self, LoadError, LoadStats};

/// The state of the all-time history.
#[derive(Debug, Clone)]
pub enum HistoryState {
    /// Downloading: bytes received and expected.
    Downloading(u64, Option<u64>),
    /// Ready to rank.
    Ready(Arc<History>, LoadStats),
    /// No history for this class yet.
    Missing,
    /// Could not be loaded.
    Failed(String),
}

/// Starts downloading class `class_id`'s history.
pub fn use_history(class_id: ClassId) -> ReadSignal<HistoryState> {
    let history = RwSignal::new(HistoryState::Downloading(0, None));
    spawn_local(async move {
        let answer = history_load::load(class_id, move |got, expected| {
            history.set(HistoryState::Downloading(got, expected));
        })
        .await;
        #[cfg(feature = "bench")]
        if let Ok((h, stats)) = &answer {
            crate::bench::history_ready(class_id, h, stats);
        }
        history.set(match answer {
            Ok((h, stats)) => HistoryState::Ready(h, stats),
            Err(LoadError::Missing) => HistoryState::Missing,
            Err(LoadError::Failed(message)) => HistoryState::Failed(message),
        });
    });
    history.read_only()
}
