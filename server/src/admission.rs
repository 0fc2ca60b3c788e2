//! The rules an event must pass before it enters the stream, beyond its own validation:
//! the right racer, the race running now, not a duplicate, not too fast.
//!
//! - A racer token may only send its own racer's events.
//! - A racer's event must belong to the race running now, give or take the clock grace, and its
//!   second must not be ahead of the race clock by more than the grace. A producer (API key) may
//!   send past races (backfill) but not future ones.
//! - A racer's events of the race that just ended are still taken for `late_seconds` after its
//!   end (events resent after a network drop near the finish), when their second is not stored.
//! - A (race, racer, second) already accepted is refused as a duplicate, unless it is the very
//!   event accepted before (the same uuid, resent because its acknowledgement was lost): that
//!   one is answered as already stored ([`Refusal::AlreadyStored`], which callers answer as a
//!   success) once the stream has acknowledged it ([`Admission::confirm`]); while its first put
//!   is still in flight, the resend is refused as [`Refusal::InFlight`], to retry shortly, so
//!   nothing is called stored before it is durable. The uuid is kept as a 32-bit fingerprint per second (4 bytes a second of a ride),
//!   so a different event whose uuid collides (one in four billion) is taken for the stored one;
//!   the stored event stays, nothing is lost. This is tracked for the
//!   races of the last [`DEDUPE_RACES`] race lengths; older races are backfill, whose duplicates
//!   the merge folds harmlessly (it is idempotent). On start-up the server replays the stream's
//!   recent records into [`Admission::remember`], so duplicates are refused across restarts.
//! - A racer token may send at most `per_second` events in any one-second window.
//!
//! Admission *reserves* each accepted (race, racer, second); if the stream then fails to store
//! the event, [`Admission::release`] frees it so a retry is not refused as a duplicate.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
};

use alleycat_domain::{RaceClock, RaceId, RacerEvent, SecondSet};

use crate::auth::Caller;

/// How many race lengths back duplicates are tracked.
pub const DEDUPE_RACES: u64 = 2;

/// Why an otherwise valid event is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The token belongs to another racer.
    #[error("this token is for racer {token_racer}, not racer {event_racer}")]
    WrongRacer {
        /// The token's racer.
        token_racer: u64,
        /// The event's racer.
        event_racer: u64,
    },
    /// The event's race is not running now (beyond the grace).
    #[error("race {race_id} is not running now (race {current} is)")]
    RaceNotRunning {
        /// The event's race.
        race_id: RaceId,
        /// The race running now.
        current: RaceId,
    },
    /// The event's second has not happened yet.
    #[error("second {second} of race {race_id} has not happened yet")]
    SecondAhead {
        /// The event's race.
        race_id: RaceId,
        /// The event's second.
        second: u32,
    },
    /// This (race, racer, second) was already accepted.
    #[error("racer {racer_id} already sent second {second} of race {race_id}")]
    Duplicate {
        /// The race.
        race_id: RaceId,
        /// The racer.
        racer_id: u64,
        /// The second.
        second: u32,
    },
    /// This very event (same uuid) was already accepted: a resend, answered as stored.
    #[error("racer {racer_id}'s second {second} of race {race_id} is already stored")]
    AlreadyStored {
        /// The race.
        race_id: RaceId,
        /// The racer.
        racer_id: u64,
        /// The second.
        second: u32,
    },
    /// This very event was accepted and its put is still in flight: retry shortly.
    #[error("racer {racer_id}'s second {second} of race {race_id} is being stored; retry shortly")]
    InFlight {
        /// The race.
        race_id: RaceId,
        /// The racer.
        racer_id: u64,
        /// The second.
        second: u32,
    },
    /// The racer sent more than the allowed events in one second.
    #[error("racer {racer_id} sent more than {per_second} events in one second")]
    RateLimited {
        /// The racer.
        racer_id: u64,
        /// The limit.
        per_second: usize,
    },
}

impl Refusal {
    /// The error code sent to the client.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongRacer { .. } => "WrongRacer",
            Self::RaceNotRunning { .. } => "RaceNotRunning",
            Self::SecondAhead { .. } => "SecondAhead",
            Self::Duplicate { .. } => "DuplicateEvent",
            Self::AlreadyStored { .. } => "AlreadyStored",
            Self::InFlight { .. } => "EventInFlight",
            Self::RateLimited { .. } => "RateLimited",
        }
    }
}

/// A reservation of one (race, racer, second), to release if the event is not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    race_id: RaceId,
    racer_id: u64,
    second: u32,
}

/// The admission rules' state. Cheap to share; every method takes `&self`.
#[derive(Debug)]
pub struct Admission {
    clock: RaceClock,
    grace_ms: u64,
    late_ms: u64,
    per_second: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    seen: HashMap<(RaceId, u64), Accepted>,
    recent: HashMap<u64, VecDeque<u64>>,
    pruned_at_race: RaceId,
}

impl Admission {
    /// Rules for `clock`, with `grace_seconds` of tolerance and `per_second` events per racer.
    pub fn new(clock: RaceClock, grace_seconds: u32, per_second: usize) -> Self {
        Self {
            clock,
            grace_ms: u64::from(grace_seconds) * 1000,
            late_ms: u64::from(grace_seconds) * 1000,
            per_second: per_second.max(1),
            state: Mutex::default(),
        }
    }

    /// Takes a racer's events of a race that ended up to `late_seconds` ago (at least the clock
    /// grace).
    pub fn with_late_seconds(mut self, late_seconds: u32) -> Self {
        self.late_ms = (u64::from(late_seconds) * 1000).max(self.grace_ms);
        self
    }

    /// Checks `events` (already validated) from `caller` at `now_ms`, reserving each admitted
    /// one; returns each event's ticket or refusal, in order.
    pub fn admit(
        &self,
        caller: Caller,
        events: &[&RacerEvent],
        now_ms: u64,
    ) -> Vec<Result<Ticket, Refusal>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.prune(&mut state, now_ms);
        events.iter().map(|event| self.admit_one(&mut state, caller, event, now_ms)).collect()
    }

    fn admit_one(
        &self,
        state: &mut State,
        caller: Caller,
        event: &RacerEvent,
        now_ms: u64,
    ) -> Result<Ticket, Refusal> {
        if let Caller::Racer(token_racer) = caller {
            if token_racer != event.racer_id {
                return Err(Refusal::WrongRacer { token_racer, event_racer: event.racer_id });
            }
        }
        self.check_clock(caller, event, now_ms)?;
        if let Caller::Racer(racer_id) = caller {
            let recent = state.recent.entry(racer_id).or_default();
            while recent.front().is_some_and(|&t| t + 1000 <= now_ms) {
                recent.pop_front();
            }
            if recent.len() >= self.per_second {
                return Err(Refusal::RateLimited { racer_id, per_second: self.per_second });
            }
            recent.push_back(now_ms);
        }
        let ticket =
            Ticket { race_id: event.race_id, racer_id: event.racer_id, second: event.second };
        if self.tracks(event.race_id, now_ms) {
            let accepted = state.seen.entry((event.race_id, event.racer_id)).or_default();
            let (race_id, racer_id, second) = (event.race_id, event.racer_id, event.second);
            match accepted.accept(second, &event.uuid) {
                Seen::Fresh => {}
                Seen::Stored => return Err(Refusal::AlreadyStored { race_id, racer_id, second }),
                Seen::InFlight => return Err(Refusal::InFlight { race_id, racer_id, second }),
                Seen::Different => return Err(Refusal::Duplicate { race_id, racer_id, second }),
            }
        }
        Ok(ticket)
    }

    fn check_clock(&self, caller: Caller, event: &RacerEvent, now_ms: u64) -> Result<(), Refusal> {
        let current = self.clock.race_at(now_ms);
        let start = self.clock.start_ms(event.race_id);
        let second_at = start.saturating_add(u64::from(event.second - 1) * 1000);
        if second_at > now_ms + self.grace_ms {
            return if start > now_ms + self.grace_ms {
                Err(Refusal::RaceNotRunning { race_id: event.race_id, current })
            } else {
                Err(Refusal::SecondAhead { race_id: event.race_id, second: event.second })
            };
        }
        let ended_long_ago = self.clock.end_ms(event.race_id) + self.late_ms < now_ms;
        if caller != Caller::Producer && ended_long_ago {
            return Err(Refusal::RaceNotRunning { race_id: event.race_id, current });
        }
        Ok(())
    }

    /// Whether duplicates of `race` are tracked at `now_ms`.
    fn tracks(&self, race: RaceId, now_ms: u64) -> bool {
        race + DEDUPE_RACES > self.clock.race_at(now_ms)
    }

    /// Frees the reservations of events the stream did not store.
    pub fn release(&self, tickets: impl IntoIterator<Item = Ticket>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for t in tickets {
            if let Some(accepted) = state.seen.get_mut(&(t.race_id, t.racer_id)) {
                accepted.forget(t.second);
            }
        }
    }

    /// Marks the events of `tickets` stored (the stream acknowledged them): a resend of one is
    /// answered as already stored from now on.
    pub fn confirm(&self, tickets: impl IntoIterator<Item = Ticket>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for t in tickets {
            if let Some(accepted) = state.seen.get_mut(&(t.race_id, t.racer_id)) {
                accepted.stored.insert(t.second);
            }
        }
    }

    /// Records an event already in the stream (replayed on start-up) as accepted.
    pub fn remember(&self, event: &RacerEvent, now_ms: u64) {
        if self.tracks(event.race_id, now_ms) {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let accepted = state.seen.entry((event.race_id, event.racer_id)).or_default();
            accepted.record_stored(event.second, &event.uuid);
        }
    }

    /// [`Admission::remember`] for each of `events`, under one lock.
    pub fn remember_all(&self, events: &[RacerEvent], now_ms: u64) {
        let mut tracked = events.iter().filter(|e| self.tracks(e.race_id, now_ms)).peekable();
        if tracked.peek().is_none() {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for event in tracked {
            let accepted = state.seen.entry((event.race_id, event.racer_id)).or_default();
            accepted.record_stored(event.second, &event.uuid);
        }
    }

    fn prune(&self, state: &mut State, now_ms: u64) {
        let race = self.clock.race_at(now_ms);
        if state.pruned_at_race == race {
            return;
        }
        state.pruned_at_race = race;
        state.seen.retain(|(r, _), _| r + DEDUPE_RACES > race);
        state.recent.retain(|_, times| times.back().is_some_and(|&t| t + 1000 > now_ms));
    }
}

/// One racer's race as admission knows it: the seconds accepted, those of them the stream has
/// stored, and per second a fingerprint of the accepted event's uuid (0: not known).
#[derive(Debug, Default)]
struct Accepted {
    seconds: SecondSet,
    stored: SecondSet,
    uuids: Vec<u32>,
}

/// What admission had seen of a second.
enum Seen {
    /// Nothing: now accepted.
    Fresh,
    /// This very event, stored.
    Stored,
    /// This very event, its put still in flight.
    InFlight,
    /// Another event.
    Different,
}

/// A nonzero 32-bit fingerprint of `uuid`.
fn fingerprint(uuid: &uuid::Uuid) -> u32 {
    let bits = uuid.as_u128();
    ((bits ^ (bits >> 32) ^ (bits >> 64) ^ (bits >> 96)) as u32) | 1
}

impl Accepted {
    /// Accepts `second` for the event `uuid` unless a second is there already.
    fn accept(&mut self, second: u32, uuid: &uuid::Uuid) -> Seen {
        let index = second as usize;
        let print = fingerprint(uuid);
        if !self.seconds.insert(second) {
            let same = self.uuids.get(index).is_some_and(|&stored| stored == print);
            return match (same, self.stored.contains(second)) {
                (false, _) => Seen::Different,
                (true, true) => Seen::Stored,
                (true, false) => Seen::InFlight,
            };
        }
        if self.uuids.len() <= index {
            self.uuids.resize(index + 1, 0);
        }
        self.uuids[index] = print;
        Seen::Fresh
    }

    /// Records `second` as stored with the event `uuid` (read back from the stream).
    fn record_stored(&mut self, second: u32, uuid: &uuid::Uuid) {
        self.accept(second, uuid);
        self.stored.insert(second);
    }

    /// Gives `second` back (its event was not stored).
    fn forget(&mut self, second: u32) {
        self.seconds.remove(second);
        self.stored.remove(second);
        if let Some(print) = self.uuids.get_mut(second as usize) {
            *print = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use alleycat_domain::EventKind;
    use uuid::Uuid;

    use super::*;

    const RACE: RaceId = 1000;
    fn clock() -> RaceClock {
        RaceClock::new(20)
    }
    fn at(second: u32) -> u64 {
        clock().start_ms(RACE) + u64::from(second - 1) * 1000 + 500
    }
    fn event(racer: u64, second: u32) -> RacerEvent {
        RacerEvent {
            uuid: Uuid::new_v4(),
            event: EventKind::Update,
            device_timestamp: 0,
            second,
            race_id: RACE,
            racer_id: racer,
            class_id: 1,
            cadence: 80.0,
            resistance: 50.0,
            source: alleycat_domain::Source::Sim,
            power: None,
            heart_rate: None,
        }
    }
    fn admit(a: &Admission, caller: Caller, e: RacerEvent, now: u64) -> Result<Ticket, Refusal> {
        a.admit(caller, &[&e], now).remove(0)
    }

    #[test]
    fn a_racer_may_send_only_their_own_events() {
        let a = Admission::new(clock(), 5, 3);
        assert!(admit(&a, Caller::Racer(1), event(1, 3), at(3)).is_ok());
        let err = admit(&a, Caller::Racer(1), event(2, 3), at(3)).unwrap_err();
        assert_eq!(err.code(), "WrongRacer");
        assert!(admit(&a, Caller::Producer, event(2, 3), at(3)).is_ok());
    }

    #[test]
    fn stale_races_and_future_seconds_are_refused_for_racers() {
        let a = Admission::new(clock(), 5, 100);
        let old = RacerEvent { race_id: RACE - 1, ..event(1, 3) };
        assert_eq!(
            admit(&a, Caller::Racer(1), old.clone(), at(20) + 10_000).unwrap_err().code(),
            "RaceNotRunning"
        );
        assert_eq!(
            admit(&a, Caller::Racer(1), event(1, 15), at(3)).unwrap_err().code(),
            "SecondAhead"
        );
        let next = RacerEvent { race_id: RACE + 5, ..event(1, 1) };
        assert_eq!(
            admit(&a, Caller::Racer(1), next.clone(), at(3)).unwrap_err().code(),
            "RaceNotRunning"
        );
        // Within the grace: the previous race's last second, a second slightly ahead.
        let last = RacerEvent { race_id: RACE - 1, ..event(1, 20) };
        assert!(admit(&a, Caller::Racer(1), last, at(2)).is_ok());
        assert!(admit(&a, Caller::Racer(1), event(1, 7), at(3)).is_ok());
        // Producers may backfill the past but not the future.
        assert!(
            admit(&a, Caller::Producer, RacerEvent { race_id: 3, ..event(9, 3) }, at(3)).is_ok()
        );
        assert!(admit(&a, Caller::Producer, next, at(3)).is_err());
    }

    #[test]
    fn duplicates_are_refused_until_released() {
        let a = Admission::new(clock(), 5, 100);
        let ticket = admit(&a, Caller::Producer, event(1, 3), at(3)).unwrap();
        assert_eq!(
            admit(&a, Caller::Producer, event(1, 3), at(3)).unwrap_err().code(),
            "DuplicateEvent"
        );
        a.release([ticket]);
        assert!(admit(&a, Caller::Producer, event(1, 3), at(3)).is_ok());
    }

    #[test]
    fn a_resend_of_the_stored_event_is_already_stored_and_another_event_a_duplicate() {
        let a = Admission::new(clock(), 5, 100);
        let first = event(1, 3);
        let ticket = admit(&a, Caller::Racer(1), first.clone(), at(3)).unwrap();
        let early = admit(&a, Caller::Racer(1), first.clone(), at(3)).unwrap_err();
        assert_eq!(early.code(), "EventInFlight", "not called stored before it is durable");
        a.confirm([ticket]);
        let resend = admit(&a, Caller::Racer(1), first.clone(), at(4)).unwrap_err();
        assert_eq!(resend.code(), "AlreadyStored");
        let other = admit(&a, Caller::Racer(1), event(1, 3), at(4)).unwrap_err();
        assert_eq!(other.code(), "DuplicateEvent");
        // Replayed from the stream after a restart, the event is still known as itself.
        let b = Admission::new(clock(), 5, 100);
        b.remember_all(std::slice::from_ref(&first), at(4));
        assert_eq!(admit(&b, Caller::Racer(1), first, at(4)).unwrap_err().code(), "AlreadyStored");
    }

    #[test]
    fn late_events_are_taken_within_the_late_seconds_after_the_end_and_refused_after() {
        let a = Admission::new(clock(), 5, 100).with_late_seconds(60);
        let end = clock().end_ms(RACE);
        let last = event(1, 20);
        assert!(admit(&a, Caller::Racer(1), last, end + 59_000).is_ok(), "59 s after the end");
        let too_late = admit(&a, Caller::Racer(1), event(1, 19), end + 61_000).unwrap_err();
        assert_eq!(too_late.code(), "RaceNotRunning", "61 s after the end");
        let strict = Admission::new(clock(), 5, 100);
        let refused = admit(&strict, Caller::Racer(1), event(1, 20), end + 6_000).unwrap_err();
        assert_eq!(refused.code(), "RaceNotRunning", "without late seconds, the clock grace only");
    }

    #[test]
    fn remembered_events_count_as_duplicates_after_a_restart() {
        let a = Admission::new(clock(), 5, 100);
        a.remember(&event(1, 3), at(4));
        assert_eq!(
            admit(&a, Caller::Racer(1), event(1, 3), at(4)).unwrap_err().code(),
            "DuplicateEvent"
        );
    }

    #[test]
    fn events_another_server_stored_count_as_duplicates_once_read() {
        let a = Admission::new(clock(), 5, 100);
        let old = RacerEvent { race_id: RACE - 5, ..event(2, 3) };
        a.remember_all(&[event(1, 3), event(1, 4), old.clone()], at(4));
        for second in [3, 4] {
            assert_eq!(
                admit(&a, Caller::Producer, event(1, second), at(4)).unwrap_err().code(),
                "DuplicateEvent"
            );
        }
        assert!(admit(&a, Caller::Producer, event(1, 5), at(5)).is_ok());
        assert!(admit(&a, Caller::Producer, old, at(5)).is_ok(), "untracked races are not kept");
    }

    #[test]
    fn a_racer_is_held_to_the_rate_but_producers_are_not() {
        let a = Admission::new(clock(), 5, 3);
        let now = at(10);
        for second in 1..=3 {
            assert!(admit(&a, Caller::Racer(1), event(1, second), now).is_ok());
        }
        assert_eq!(
            admit(&a, Caller::Racer(1), event(1, 4), now).unwrap_err().code(),
            "RateLimited"
        );
        assert!(admit(&a, Caller::Racer(1), event(1, 5), now + 1000).is_ok());
        for second in 1..=10 {
            assert!(admit(&a, Caller::Producer, event(2, second), now).is_ok());
        }
    }
}
