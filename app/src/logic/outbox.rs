//! The rider's outbox: each event sent to the server and what became of it (the messages log),
//! and how the server's answer settles each one. Whatever carries the events (HTTP today, the
//! racer's WebSocket later) answers in [`EventResult`]s and settles them through [`fates`].

use alleycat_domain::api::{EventResult, EventsResponse};

/// What became of one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// On its way.
    Sent,
    /// Stored durably.
    Acknowledged {
        /// The shard that stored it.
        shard: String,
        /// Its sequence number there.
        sequence: String,
    },
    /// Refused by the server.
    Rejected {
        /// The server's code.
        code: String,
        /// The server's sentence.
        message: String,
    },
    /// Never reached the server.
    Failed(String),
}

impl Fate {
    /// Whether the server stored the event.
    pub fn is_acknowledged(&self) -> bool {
        matches!(self, Self::Acknowledged { .. })
    }

    /// Whether the event is lost (refused or never delivered).
    pub fn is_lost(&self) -> bool {
        matches!(self, Self::Rejected { .. } | Self::Failed(_))
    }

    /// The fate the server's result for one event gives it.
    fn of(result: EventResult) -> Self {
        match result.error_code {
            None => Self::Acknowledged {
                shard: result.shard_id.unwrap_or_default(),
                sequence: result.sequence_number.unwrap_or_default(),
            },
            Some(code) => {
                Self::Rejected { code, message: result.error_message.unwrap_or_default() }
            }
        }
    }
}

/// The fates of `count` events sent together, from the server's answer (one result per event,
/// in order) or the sentence saying why the request failed. Events the answer has no result for
/// are failed, never left "sent".
pub fn fates(answer: Result<EventsResponse, String>, count: usize) -> Vec<Fate> {
    match answer {
        Ok(answer) => {
            let mut fates: Vec<Fate> =
                answer.records.into_iter().take(count).map(Fate::of).collect();
            fates.resize(count, Fate::Failed("the server answered without a result".into()));
            fates
        }
        Err(message) => vec![Fate::Failed(message); count],
    }
}

/// The fate of events sent without a racer session (the session could not be opened).
pub fn without_session(error: &str) -> Fate {
    Fate::Failed(format!("no racer session ({error})"))
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The second of the race.
    pub second: u32,
    /// Whether it was the `final` event.
    pub last: bool,
    /// The output sent.
    pub output: f64,
    /// What became of it.
    pub fate: Fate,
}

/// The events sent this race, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outbox {
    entries: Vec<LogEntry>,
}

impl Outbox {
    /// Records an event on its way.
    pub fn sent(&mut self, second: u32, last: bool, output: f64) {
        self.entries.insert(0, LogEntry { second, last, output, fate: Fate::Sent });
    }

    /// Settles the event of `second`; false when no event of that second was sent.
    pub fn settle(&mut self, second: u32, fate: Fate) -> bool {
        match self.entries.iter_mut().find(|e| e.second == second) {
            Some(entry) => {
                entry.fate = fate;
                true
            }
            None => false,
        }
    }

    /// How many events the server stored.
    pub fn acknowledged(&self) -> u32 {
        self.entries.iter().filter(|e| e.fate.is_acknowledged()).count() as u32
    }

    /// How many events are lost.
    pub fn lost(&self) -> u32 {
        self.entries.iter().filter(|e| e.fate.is_lost()).count() as u32
    }

    /// The entries, newest first.
    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(shard: &str, sequence: &str) -> EventResult {
        EventResult {
            shard_id: Some(shard.into()),
            sequence_number: Some(sequence.into()),
            ..EventResult::default()
        }
    }

    fn refused(code: &str, message: &str) -> EventResult {
        EventResult {
            error_code: Some(code.into()),
            error_message: Some(message.into()),
            ..EventResult::default()
        }
    }

    #[test]
    fn each_event_takes_its_own_result_in_order() {
        let answer = EventsResponse {
            failed_record_count: 1,
            records: vec![
                stored("shardId-000000000001", "7"),
                refused("DuplicateEvent", "Second 3 was already sent."),
            ],
        };
        assert_eq!(
            fates(Ok(answer), 2),
            [
                Fate::Acknowledged { shard: "shardId-000000000001".into(), sequence: "7".into() },
                Fate::Rejected {
                    code: "DuplicateEvent".into(),
                    message: "Second 3 was already sent.".into()
                },
            ]
        );
    }

    #[test]
    fn events_without_a_result_fail_and_a_failed_request_fails_them_all() {
        let short = EventsResponse { failed_record_count: 0, records: vec![stored("s", "1")] };
        let got = fates(Ok(short), 2);
        assert!(got[0].is_acknowledged());
        assert_eq!(got[1], Fate::Failed("the server answered without a result".into()));
        let down = fates(Err("Cannot reach the Alleycat server.".into()), 3);
        assert_eq!(down, vec![Fate::Failed("Cannot reach the Alleycat server.".into()); 3]);
    }

    #[test]
    fn the_outbox_keeps_the_newest_first_and_counts_what_was_stored_and_lost() {
        let mut outbox = Outbox::default();
        outbox.sent(1, false, 80.0);
        outbox.sent(2, true, 90.0);
        assert_eq!(outbox.entries().iter().map(|e| e.second).collect::<Vec<_>>(), [2, 1]);
        assert!(outbox.settle(1, Fate::Acknowledged { shard: "s".into(), sequence: "1".into() }));
        assert!(outbox.settle(2, without_session("refused")));
        assert!(!outbox.settle(3, Fate::Sent));
        assert_eq!((outbox.acknowledged(), outbox.lost()), (1, 1));
        assert_eq!(outbox.entries()[0].fate, Fate::Failed("no racer session (refused)".into()));
    }
}
