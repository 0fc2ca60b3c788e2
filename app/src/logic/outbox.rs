//! The rider's outbox: every event ridden is kept until the server has it, and the messages
//! log says what became of each second. Whatever carries the events (the live WebSocket, or
//! `POST /api/events` as the fallback) answers in [`EventResult`]s, which settle them here.
//!
//! - Each second's event goes in with [`Outbox::push`] and waits, in the order ridden.
//! - [`Outbox::next_batch`] takes the oldest waiting events, at most [`MAX_BATCH`]. One batch is
//!   on its way at a time, so the server meets the seconds oldest first.
//! - The answer settles the batch ([`Outbox::settle`]), each result matched to its event by
//!   uuid (by place for a result without one): stored, or `alreadyStored` (a resend whose first
//!   acknowledgement was lost), leaves the outbox; a retryable refusal
//!   ([`alleycat_domain::api::RETRYABLE_CODES`]: throttling, internal failures, the rate limit,
//!   an event still in flight) waits to be sent again; any other refusal (invalid, a second
//!   already taken, too late) is final: it leaves the outbox and shows in the log.
//! - A batch that got no answer (the connection failed) waits to be sent again, whole
//!   ([`Outbox::unanswered`]). Resending is always safe: the server answers a stored uuid as
//!   stored.
//!
//! # Saved format
//!
//! The outbox survives a reload ([`Outbox::to_saved`], [`Outbox::from_saved`]; `crate::storage`
//! keeps it under `alleycat.outbox.<racerId>.<raceId>`). One JSON object:
//!
//! ```json
//! {"v": 1,
//!  "waiting": [RacerEvent, …],
//!  "log": [{"second": 12, "last": false, "output": 126.5, "fate": "waiting"}, …]}
//! ```
//!
//! - `waiting`: the events not yet acknowledged, exactly as they go on the wire (camelCase
//!   `RacerEvent`, with their uuid, so a resend is recognised), in the order ridden. An event
//!   that was on its way when the page went away is saved as waiting and sent again.
//! - `log`: one entry per second ridden, newest first; `fate` is `"waiting"`, `"sent"`,
//!   `{"retrying": {"reason"}}`, `{"acknowledged": {"shard", "sequence"}}` (both empty for
//!   `alreadyStored`) or `{"rejected": {"code", "message"}}`. The ride's outputs are rebuilt
//!   from it after a reload.
//! - `v` is [`SAVED_VERSION`]. A record of another version, or one that does not parse, is not
//!   used ([`SavedError`]): the ride goes on with an empty outbox.

use alleycat_domain::{api::EventResult, RacerEvent};
use serde::{Deserialize, Serialize};

/// The most events sent in one batch (the server takes 500 a frame; a small batch keeps a
/// reconnect's resend from crowding the current second out, as the server rate-limits each
/// racer).
pub const MAX_BATCH: usize = 50;
/// The version of the saved format this app writes and reads.
pub const SAVED_VERSION: u32 = 1;

/// What became of one second's event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Fate {
    /// In the outbox, not sent yet.
    Waiting,
    /// On its way, not answered yet.
    Sent,
    /// To be sent again: the last try did not store it, for `reason` (a retryable refusal or a
    /// lost connection).
    Retrying {
        /// Why the last try failed, as a sentence.
        reason: String,
    },
    /// Stored durably. `shard` and `sequence` are empty for a resend the server had stored
    /// already.
    Acknowledged {
        /// The shard that stored it.
        shard: String,
        /// Its sequence number there.
        sequence: String,
    },
    /// Refused for good: it left the outbox.
    Rejected {
        /// The server's code.
        code: String,
        /// The server's sentence.
        message: String,
    },
}

impl Fate {
    /// Whether the server has the event.
    pub fn is_acknowledged(&self) -> bool {
        matches!(self, Self::Acknowledged { .. })
    }

    /// Whether the event is lost (refused for good).
    pub fn is_lost(&self) -> bool {
        matches!(self, Self::Rejected { .. })
    }

    /// Whether the event is still in the outbox.
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Waiting | Self::Sent | Self::Retrying { .. })
    }

    /// The fate the server's result gives an event.
    fn of(result: &EventResult) -> Self {
        if result.is_stored() {
            return Self::Acknowledged {
                shard: result.shard_id.clone().unwrap_or_default(),
                sequence: result.sequence_number.clone().unwrap_or_default(),
            };
        }
        let code = result.error_code.clone().unwrap_or_default();
        let message = result.error_message.clone().unwrap_or_default();
        if result.is_retryable() {
            Self::Retrying { reason: format!("{code}: {message}") }
        } else {
            Self::Rejected { code, message }
        }
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The second of the race.
    pub second: u32,
    /// Whether it was the `final` event.
    pub last: bool,
    /// The output ridden.
    pub output: f64,
    /// What became of it.
    pub fate: Fate,
}

/// How one answer settled a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    /// Events the server has now (stored or already stored).
    pub stored: usize,
    /// Events to send again.
    pub retry: usize,
    /// Events refused for good.
    pub rejected: usize,
}

/// Why a saved outbox was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SavedError {
    /// The text is not the saved format.
    #[error("the saved outbox does not parse: {0}")]
    Unreadable(String),
    /// Written by another version of the app.
    #[error("the saved outbox is version {found}, not {SAVED_VERSION}")]
    Version {
        /// The version found.
        found: u32,
    },
}

/// The events of one ride: those waiting for the server, and the log of every second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outbox {
    /// Not acknowledged yet, in the order ridden.
    waiting: Vec<RacerEvent>,
    /// The uuids of the batch on its way, in the order sent.
    in_flight: Vec<uuid::Uuid>,
    /// One entry per second, newest first.
    log: Vec<LogEntry>,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    v: u32,
    waiting: Vec<RacerEvent>,
    log: Vec<LogEntry>,
}

impl Outbox {
    /// Adds the event of a second ridden, with the `output` it is worth; false (and nothing
    /// changes) when that second is in the outbox already: a second is ridden once.
    pub fn push(&mut self, event: RacerEvent, output: f64) -> bool {
        if self.has_second(event.second) {
            return false;
        }
        self.log.insert(
            0,
            LogEntry {
                second: event.second,
                last: event.event == alleycat_domain::EventKind::Final,
                output,
                fate: Fate::Waiting,
            },
        );
        let at = self.waiting.partition_point(|e| e.second < event.second);
        self.waiting.insert(at, event);
        true
    }

    /// Whether `second` was ridden (whatever became of it).
    pub fn has_second(&self, second: u32) -> bool {
        self.log.iter().any(|e| e.second == second)
    }

    /// The oldest waiting events to send now, at most `max`, marked on their way; none while a
    /// batch is on its way already.
    pub fn next_batch(&mut self, max: usize) -> Vec<RacerEvent> {
        if !self.in_flight.is_empty() {
            return Vec::new();
        }
        let batch: Vec<RacerEvent> = self.waiting.iter().take(max).cloned().collect();
        self.in_flight = batch.iter().map(|e| e.uuid).collect();
        for event in &batch {
            self.set_fate(event.second, Fate::Sent);
        }
        batch
    }

    /// Settles the batch on its way with the server's answer (one result per event, in the
    /// order sent): each result is matched by its uuid, or by its place when it has none. An
    /// event the answer says nothing about is sent again.
    pub fn settle(&mut self, records: &[EventResult]) -> Settled {
        let mut settled = Settled::default();
        for (place, uuid) in std::mem::take(&mut self.in_flight).into_iter().enumerate() {
            let result = records
                .iter()
                .find(|r| r.uuid == Some(uuid))
                .or_else(|| records.get(place).filter(|r| r.uuid.is_none()));
            let fate = match result {
                Some(result) => Fate::of(result),
                None => Fate::Retrying { reason: "the server's answer left it out".into() },
            };
            match fate {
                Fate::Acknowledged { .. } => settled.stored += 1,
                Fate::Rejected { .. } => settled.rejected += 1,
                _ => settled.retry += 1,
            }
            self.decide(uuid, fate);
        }
        settled
    }

    /// The batch on its way got no answer, for `reason`: every event of it waits to be sent
    /// again.
    pub fn unanswered(&mut self, reason: &str) {
        for uuid in std::mem::take(&mut self.in_flight) {
            self.decide(uuid, Fate::Retrying { reason: reason.to_owned() });
        }
    }

    /// Gives the waiting event `uuid` its `fate`, taking it out of the outbox when it is final.
    fn decide(&mut self, uuid: uuid::Uuid, fate: Fate) {
        let Some(at) = self.waiting.iter().position(|e| e.uuid == uuid) else { return };
        let second = self.waiting[at].second;
        if !fate.is_pending() {
            self.waiting.remove(at);
        }
        self.set_fate(second, fate);
    }

    fn set_fate(&mut self, second: u32, fate: Fate) {
        if let Some(entry) = self.log.iter_mut().find(|e| e.second == second) {
            entry.fate = fate;
        }
    }

    /// How many seconds wait to be acknowledged.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// How many seconds the server has.
    pub fn acknowledged(&self) -> u32 {
        self.log.iter().filter(|e| e.fate.is_acknowledged()).count() as u32
    }

    /// How many seconds were refused for good.
    pub fn lost(&self) -> u32 {
        self.log.iter().filter(|e| e.fate.is_lost()).count() as u32
    }

    /// The log, newest first.
    pub fn entries(&self) -> &[LogEntry] {
        &self.log
    }

    /// The saved format (see the module docs).
    pub fn to_saved(&self) -> String {
        let saved =
            Saved { v: SAVED_VERSION, waiting: self.waiting.clone(), log: self.log.clone() };
        serde_json::to_string(&saved).unwrap_or_default()
    }

    /// The outbox saved in `text`; what was on its way waits to be sent again.
    pub fn from_saved(text: &str) -> Result<Self, SavedError> {
        #[derive(Deserialize)]
        struct Version {
            v: u32,
        }
        let version: Version =
            serde_json::from_str(text).map_err(|e| SavedError::Unreadable(e.to_string()))?;
        if version.v != SAVED_VERSION {
            return Err(SavedError::Version { found: version.v });
        }
        let saved: Saved =
            serde_json::from_str(text).map_err(|e| SavedError::Unreadable(e.to_string()))?;
        let mut outbox = Self { waiting: saved.waiting, in_flight: Vec::new(), log: saved.log };
        outbox.waiting.sort_by_key(|e| e.second);
        for entry in &mut outbox.log {
            if entry.fate == Fate::Sent {
                entry.fate = Fate::Waiting;
            }
        }
        Ok(outbox)
    }
}

#[cfg(test)]
mod tests {
    use alleycat_domain::{EventKind, Source};

    use super::*;

    fn ridden(second: u32) -> RacerEvent {
        RacerEvent {
            uuid: uuid::Uuid::from_u128(u128::from(second) + 1000),
            event: if second == 20 { EventKind::Final } else { EventKind::Update },
            device_timestamp: 1_000 * u64::from(second),
            second,
            race_id: 77,
            racer_id: 1042,
            class_id: 3,
            cadence: 80.0,
            resistance: 50.0,
            source: Source::default(),
            power: None,
            heart_rate: None,
        }
    }

    fn stored(event: &RacerEvent) -> EventResult {
        EventResult {
            uuid: Some(event.uuid),
            shard_id: Some("shardId-000000000001".into()),
            sequence_number: Some(format!("{}", event.second)),
            ..EventResult::default()
        }
    }

    fn refused(event: &RacerEvent, code: &str) -> EventResult {
        EventResult {
            uuid: Some(event.uuid),
            error_code: Some(code.into()),
            error_message: Some(format!("{code} for second {}", event.second)),
            ..EventResult::default()
        }
    }

    fn outbox_of(seconds: std::ops::RangeInclusive<u32>) -> Outbox {
        let mut outbox = Outbox::default();
        for s in seconds {
            assert!(outbox.push(ridden(s), f64::from(s)));
        }
        outbox
    }

    fn seconds(events: &[RacerEvent]) -> Vec<u32> {
        events.iter().map(|e| e.second).collect()
    }

    #[test]
    fn the_oldest_seconds_go_first_in_bounded_batches_one_batch_at_a_time() {
        let mut outbox = outbox_of(1..=7);
        let first = outbox.next_batch(3);
        assert_eq!(seconds(&first), [1, 2, 3]);
        assert!(outbox.next_batch(3).is_empty(), "one batch on its way at a time");
        assert_eq!(outbox.entries()[6].fate, Fate::Sent);
        assert_eq!(outbox.settle(&first.iter().map(stored).collect::<Vec<_>>()).stored, 3);
        assert_eq!(seconds(&outbox.next_batch(3)), [4, 5, 6]);
        assert_eq!(outbox.waiting(), 4);
        assert_eq!(outbox.acknowledged(), 3);
    }

    #[test]
    fn a_second_is_ridden_once() {
        let mut outbox = outbox_of(1..=2);
        let mut again = ridden(2);
        again.uuid = uuid::Uuid::from_u128(9);
        assert!(!outbox.push(again, 1.0));
        assert_eq!(outbox.waiting(), 2);
        assert!(outbox.has_second(1) && !outbox.has_second(3));
    }

    #[test]
    fn a_second_ridden_out_of_order_still_waits_in_its_place() {
        let mut outbox = outbox_of(1..=2);
        outbox.push(ridden(5), 5.0);
        outbox.push(ridden(4), 4.0);
        assert_eq!(seconds(&outbox.next_batch(10)), [1, 2, 4, 5]);
    }

    #[test]
    fn acks_match_by_uuid_whatever_their_order_and_stored_or_already_stored_leave_the_outbox() {
        let mut outbox = outbox_of(1..=3);
        let batch = outbox.next_batch(10);
        let resent = EventResult {
            uuid: Some(batch[0].uuid),
            already_stored: true,
            ..EventResult::default()
        };
        let answer = [stored(&batch[2]), resent, stored(&batch[1])];
        assert_eq!(outbox.settle(&answer), Settled { stored: 3, retry: 0, rejected: 0 });
        assert_eq!(outbox.waiting(), 0);
        let fates: Vec<&Fate> = outbox.entries().iter().map(|e| &e.fate).collect();
        assert_eq!(
            fates[0],
            &Fate::Acknowledged { shard: "shardId-000000000001".into(), sequence: "3".into() }
        );
        assert_eq!(fates[2], &Fate::Acknowledged { shard: String::new(), sequence: String::new() });
    }

    #[test]
    fn retryable_refusals_wait_to_be_resent_and_final_ones_leave_the_outbox_and_show() {
        let mut outbox = outbox_of(1..=5);
        let batch = outbox.next_batch(10);
        let answer = [
            refused(&batch[0], "EventInFlight"),
            refused(&batch[1], "RateLimited"),
            refused(&batch[2], "InternalFailure"),
            refused(&batch[3], "DuplicateEvent"),
            refused(&batch[4], "InvalidCadence"),
        ];
        assert_eq!(outbox.settle(&answer), Settled { stored: 0, retry: 3, rejected: 2 });
        assert_eq!(outbox.waiting(), 3);
        assert_eq!(outbox.lost(), 2);
        assert_eq!(
            outbox.entries()[1].fate,
            Fate::Rejected {
                code: "DuplicateEvent".into(),
                message: "DuplicateEvent for second 4".into()
            }
        );
        assert!(
            matches!(&outbox.entries()[4].fate, Fate::Retrying { reason } if reason.starts_with("EventInFlight"))
        );
        assert_eq!(seconds(&outbox.next_batch(10)), [1, 2, 3], "resent, oldest first");
    }

    #[test]
    fn a_batch_without_an_answer_is_resent_whole_and_a_result_left_out_is_resent() {
        let mut outbox = outbox_of(1..=3);
        outbox.next_batch(10);
        outbox.unanswered("The live connection was lost.");
        assert_eq!(
            outbox.entries()[0].fate,
            Fate::Retrying { reason: "The live connection was lost.".into() }
        );
        let batch = outbox.next_batch(10);
        assert_eq!(seconds(&batch), [1, 2, 3]);
        // A short answer: what it says nothing about goes again.
        assert_eq!(
            outbox.settle(&[stored(&batch[0])]),
            Settled { stored: 1, retry: 2, rejected: 0 }
        );
        assert_eq!(seconds(&outbox.next_batch(10)), [2, 3]);
    }

    #[test]
    fn results_without_a_uuid_are_matched_by_their_place() {
        let mut outbox = outbox_of(1..=2);
        let batch = outbox.next_batch(10);
        let bare = |mut r: EventResult| {
            r.uuid = None;
            r
        };
        let answer = [bare(stored(&batch[0])), bare(refused(&batch[1], "InvalidSecond"))];
        assert_eq!(outbox.settle(&answer), Settled { stored: 1, retry: 0, rejected: 1 });
    }

    #[test]
    fn acks_with_nothing_on_its_way_change_nothing() {
        let mut outbox = outbox_of(1..=1);
        let event = ridden(1);
        assert_eq!(outbox.settle(&[stored(&event)]), Settled::default());
        assert_eq!(outbox.waiting(), 1);
    }

    #[test]
    fn the_saved_outbox_comes_back_with_what_was_on_its_way_waiting_again() {
        let mut outbox = outbox_of(1..=4);
        let first = outbox.next_batch(2);
        outbox.settle(&[stored(&first[0]), refused(&first[1], "DuplicateEvent")]);
        outbox.next_batch(1); // second 3 on its way when the page goes away
        let text = outbox.to_saved();
        assert!(text.starts_with("{\"v\":1,"), "{text}");
        let back = Outbox::from_saved(&text).unwrap();
        assert_eq!(back.waiting(), 2);
        assert_eq!(back.entries()[1].fate, Fate::Waiting, "second 3 is sent again");
        assert_eq!((back.acknowledged(), back.lost()), (1, 1));
        let mut back = back;
        let batch = back.next_batch(10);
        assert_eq!(seconds(&batch), [3, 4]);
        assert_eq!(batch[0].uuid, ridden(3).uuid, "the same uuid, so a stored one is recognised");
    }

    #[test]
    fn a_saved_outbox_of_another_version_or_garbage_is_not_used() {
        assert!(matches!(Outbox::from_saved("not json"), Err(SavedError::Unreadable(_))));
        assert!(matches!(Outbox::from_saved("{\"v\":1}"), Err(SavedError::Unreadable(_))));
        assert_eq!(
            Outbox::from_saved("{\"v\":2,\"waiting\":[],\"log\":[]}"),
            Err(SavedError::Version { found: 2 })
        );
        assert_eq!(
            Outbox::from_saved("{\"v\":1,\"waiting\":[],\"log\":[]}"),
            Ok(Outbox::default())
        );
    }
}
