//! The here-now board: every class's ranking in the race running now, fed by the server's own
//! reader of the stream (not by polling a database) and published once a second.
//!
//! On start-up [`catch_up`] replays every shard from shortly before the current race began up to
//! the tip, so the board (and the duplicate check, see [`crate::admission`]) resumes where it was
//! before a restart; then [`follow`] keeps reading each shard, waiting at the tip without polling
//! (and at most ten reads a second per shard once at the tip). After a reshard, both read a
//! parent shard to its end before its children, as the KCL does, so a racer's events are folded
//! in the order they were stored.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use alleycat_domain::{
    api::{LiveEntry, LiveMessage, LiveRanking},
    output::{from_centi, to_centi},
    ClassId, Clock, RaceClock, RaceId, RacerEvent, SecondSet, CLASSES,
};
use alleycat_ingest::stream::{
    lineage::{self, Lineage, ShardRead},
    Record, ShardId, ShardIterator, StartingPosition, Stream, StreamError,
};
use axum::extract::ws::Utf8Bytes;
use tokio::sync::watch;

use crate::{admission::Admission, racers::Racers, AppState};

/// Records read from a shard per call.
const READ_LIMIT: usize = 10_000;
/// How long a reader waits at a shard's tip before asking again.
const TIP_WAIT: Duration = Duration::from_secs(1);
/// The least time between two reads of a shard that found the shard's tip. The board is
/// published once a second, so folding events in ten times a second is plenty; waking at every
/// append instead (a thousand times a second at 1,000 racers) cost more CPU than the rest of
/// the board. A full page is followed by the next read at once (catching up).
const READ_SPACING: Duration = Duration::from_millis(100);

/// One class's ranking at one tick, shared by every WebSocket client of the class.
///
/// Its JSON message is encoded once per tick and per `limit` asked ([`Snapshot::frame`]), by the
/// first socket that sends it; every other socket of the class sends the same bytes, plus its
/// own entry when it has one. At 10,000 sockets that is six encodings of the top 100 a second
/// instead of 10,000.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The race.
    pub race_id: RaceId,
    /// The class.
    pub class_id: ClassId,
    /// The race's second by the server clock.
    pub second: u32,
    /// Everyone, ranked (best first).
    pub entries: Vec<LiveEntry>,
    /// Racer id → index in `entries`.
    pub index: HashMap<u64, usize>,
    /// The message without `me`, per limit (at most the entries there are), once encoded.
    encoded: Arc<Mutex<Vec<(usize, Utf8Bytes)>>>,
}

impl Snapshot {
    /// The `{"type": "ranking", …}` message for a client that wants the top `limit` and is `me`
    /// (if a racer): [`Snapshot::message`] as JSON text, from the shared encoding.
    pub fn frame(&self, limit: usize, me: Option<u64>) -> Utf8Bytes {
        let shared = self.shared_frame(limit.min(self.entries.len()));
        let Some(entry) = me.and_then(|id| self.index.get(&id)).map(|&i| &self.entries[i]) else {
            return shared;
        };
        // The shared message ends with the object's closing brace: the entry goes before it.
        let entry = serde_json::to_string(entry).expect("a live entry serializes");
        let mut text = String::with_capacity(shared.len() + entry.len() + 8);
        text.push_str(&shared[..shared.len() - 1]);
        text.push_str(",\"me\":");
        text.push_str(&entry);
        text.push('}');
        text.into()
    }

    /// The message of the top `limit` without `me`, encoded by the first caller.
    fn shared_frame(&self, limit: usize) -> Utf8Bytes {
        let mut encoded = self.encoded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, frame)) = encoded.iter().find(|(l, _)| *l == limit) {
            return frame.clone();
        }
        let message = LiveMessage::Ranking(self.message(limit, None));
        let frame: Utf8Bytes =
            serde_json::to_string(&message).expect("a live ranking serializes").into();
        encoded.push((limit, frame.clone()));
        frame
    }

    /// The message for a client that wants the top `limit` and is `me` (if a racer).
    pub fn message(&self, limit: usize, me: Option<u64>) -> LiveRanking {
        LiveRanking {
            race_id: self.race_id,
            class_id: self.class_id,
            second: self.second,
            racer_count: self.entries.len() as u32,
            entries: self.entries.iter().take(limit).cloned().collect(),
            me: me.and_then(|id| self.index.get(&id)).map(|&i| self.entries[i].clone()),
        }
    }
}

/// What the board shows of one rider: outputs in hundredths, as the merge keeps them
/// ([`to_centi`]), so that the board's totals and order are the results' to the hundredth.
#[derive(Debug, Default, Clone, Copy)]
struct Standing {
    latest_second: u32,
    latest_centi: u32,
    total_centi: u64,
    /// Some second came from a trainer or a power meter.
    real_bike: bool,
}

/// One rider of a race on the board.
#[derive(Debug, Default)]
struct Rider {
    /// The seconds counted, so that a second read twice (at-least-once reading, a Kinesis
    /// producer's retry) counts once, in races of any length.
    seen: SecondSet,
    standing: Standing,
}

impl Rider {
    fn apply(&mut self, second: u32, centi: u32, measured: bool) {
        if !self.seen.insert(second) {
            return;
        }
        let standing = &mut self.standing;
        standing.real_bike |= measured;
        standing.total_centi += u64::from(centi);
        if second >= standing.latest_second {
            standing.latest_second = second;
            standing.latest_centi = centi;
        }
    }
}

/// A race's standings, copied out of the board to rank them without holding its lock.
type Riders = Vec<(u64, Standing)>;

/// The board: live state of the current races, and one publisher per class.
#[derive(Debug)]
pub struct LiveBoard {
    clock: RaceClock,
    racers: Arc<Racers>,
    races: Mutex<HashMap<(RaceId, ClassId), HashMap<u64, Rider>>>,
    publishers: Vec<watch::Sender<Arc<Snapshot>>>,
}

impl LiveBoard {
    /// An empty board.
    pub fn new(clock: RaceClock, racers: Arc<Racers>) -> Self {
        let publishers = CLASSES.iter().map(|_| watch::channel(Arc::default()).0).collect();
        Self { clock, racers, races: Mutex::default(), publishers }
    }

    /// Reads the names of the people among `events`' racers that the board has not met (a racer
    /// created on another server), so that the rankings show them; a database failure leaves
    /// them named by id until the next try.
    pub async fn learn_names(&self, events: &[RacerEvent]) {
        if let Err(error) = self.racers.learn(events.iter().map(|e| e.racer_id)).await {
            tracing::warn!(%error, "Cannot read racers' names for the here-now board.");
        }
    }

    /// Folds one event in (events of races already over are ignored).
    pub fn apply(&self, event: &RacerEvent, now_ms: u64) {
        if event.race_id + 1 < self.clock.race_at(now_ms) {
            return;
        }
        let mut races = self.races.lock().unwrap_or_else(|p| p.into_inner());
        races
            .entry((event.race_id, event.class_id))
            .or_default()
            .entry(event.racer_id)
            .or_default()
            .apply(event.second, to_centi(event.output()), event.source.measures_power());
    }

    /// Ranks every class's current race and publishes it to the class's subscribers.
    ///
    /// In a race's first second, a class whose previous race had riders gets that race's final
    /// standings instead: its last second's events arrive after the last tick inside it, and
    /// without this one more tick its riders would never see their own finish on the board.
    pub fn publish(&self, now_ms: u64) {
        let race_id = self.clock.race_at(now_ms);
        let second = self.clock.second_at(now_ms);
        let mut races = self.races.lock().unwrap_or_else(|p| p.into_inner());
        races.retain(|(race, _), _| *race + 1 >= race_id);
        let shown: Vec<(RaceId, ClassId, u32, Riders)> = CLASSES
            .iter()
            .map(|class| {
                let finished =
                    race_id.checked_sub(1).filter(|_| second == 1).and_then(|previous| {
                        races
                            .get(&(previous, class.id))
                            .filter(|riders| !riders.is_empty())
                            .map(|riders| (previous, riders))
                    });
                let (race, riders, second) = match finished {
                    Some((previous, riders)) => (previous, Some(riders), self.clock.race_seconds),
                    None => (race_id, races.get(&(race_id, class.id)), second),
                };
                let riders = riders
                    .map(|r| r.iter().map(|(id, rider)| (*id, rider.standing)).collect())
                    .unwrap_or_default();
                (race, class.id, second, riders)
            })
            .collect();
        drop(races);
        for (race, class_id, second, riders) in shown {
            let snapshot = self.rank(race, class_id, second, riders);
            self.publishers[usize::from(class_id) - 1].send_replace(Arc::new(snapshot));
        }
    }

    fn rank(
        &self,
        race_id: RaceId,
        class_id: ClassId,
        second: u32,
        mut riders: Riders,
    ) -> Snapshot {
        // As the results rank a race: total descending, then racer id.
        riders
            .sort_by(|(a_id, a), (b_id, b)| b.total_centi.cmp(&a.total_centi).then(a_id.cmp(b_id)));
        let entries: Vec<LiveEntry> = riders
            .iter()
            .enumerate()
            .map(|(i, (id, standing))| LiveEntry {
                rank: i as u32 + 1,
                racer_id: *id,
                name: self.racers.name(*id),
                output: from_centi(standing.latest_centi),
                total: from_centi(standing.total_centi),
                second: standing.latest_second,
                real_bike: standing.real_bike,
            })
            .collect();
        let index = entries.iter().enumerate().map(|(i, e)| (e.racer_id, i)).collect();
        Snapshot { race_id, class_id, second, entries, index, encoded: Arc::default() }
    }

    /// Subscribes to `class`'s snapshots.
    pub fn subscribe(&self, class: ClassId) -> Option<watch::Receiver<Arc<Snapshot>>> {
        self.publishers.get(usize::from(class).checked_sub(1)?).map(watch::Sender::subscribe)
    }
}

/// Where the here-now readers go on after [`catch_up`]: the closed shards already read to their
/// end, and each other replayed shard's position.
#[derive(Debug, Default)]
pub struct CaughtUp {
    done: Lineage,
    positions: HashMap<ShardId, ShardIterator>,
}

/// The racer events among `records` (a record that is not one is skipped: the stream is the
/// pipeline's, and producers on the Kinesis API may put anything).
fn events_of(records: &[Record]) -> Vec<RacerEvent> {
    records.iter().filter_map(|record| serde_json::from_slice(&record.data).ok()).collect()
}

/// Replays every shard from shortly before the current race began to the tip into the board and
/// the duplicate check, parents before children ([`lineage`]); returns where to [`follow`]
/// from.
pub async fn catch_up(
    stream: &dyn Stream,
    board: &LiveBoard,
    admission: &Admission,
    grace_ms: u64,
    now_ms: u64,
) -> Result<CaughtUp, StreamError> {
    let clock = board.clock;
    let from = clock.start_ms(clock.race_at(now_ms)).saturating_sub(clock.race_ms() + grace_ms);
    let mut caught_up = CaughtUp::default();
    let mut order = Lineage::new();
    let mut replayed = 0usize;
    loop {
        let ready = order.ready(&stream.shards());
        if ready.is_empty() {
            break;
        }
        for shard in ready {
            let tip = stream.shard_iterator(shard, StartingPosition::Latest).await?;
            let mut iterator =
                stream.shard_iterator(shard, StartingPosition::AtTimestamp(from)).await?;
            loop {
                let page = stream.get_records(&iterator, READ_LIMIT, Duration::ZERO).await?;
                let events = events_of(&page.records);
                board.learn_names(&events).await;
                for event in &events {
                    admission.remember(event, now_ms);
                    board.apply(event, now_ms);
                }
                replayed += page.records.len();
                iterator = page.next_iterator;
                if page.child_shards.is_some() {
                    order.finish(shard);
                    caught_up.done.finish(shard);
                    break;
                }
                if page.records.is_empty() || iterator.position >= tip.position {
                    caught_up.positions.insert(shard, iterator);
                    break;
                }
            }
        }
    }
    tracing::info!(records = replayed, "The here-now board caught up with the stream.");
    Ok(caught_up)
}

/// Reads each shard for ever from where [`catch_up`] left it (a child shard that appears
/// later from its start), parents before children, folding events into the board and into the
/// duplicate check: with several servers on one stream, each then also knows the events the
/// others stored (a request retried on another server after its first server died is refused as
/// a duplicate once the survivor has read the original).
pub async fn follow(state: AppState, caught_up: CaughtUp) {
    let CaughtUp { done, positions } = caught_up;
    let positions = Arc::new(positions);
    let stream = state.stream().clone();
    lineage::read_all(stream, done, move |shard| {
        let (state, positions) = (state.clone(), positions.clone());
        async move { follow_shard(state, shard, positions.get(&shard).copied()).await }
    })
    .await;
}

/// Reads `shard` from `start` (its trim horizon when `None`) into the board until the stream
/// closes or the shard is read to its end.
async fn follow_shard(state: AppState, shard: ShardId, start: Option<ShardIterator>) -> ShardRead {
    let (stream, board) = (state.stream().clone(), state.inner.board.clone());
    let mut iterator = start;
    loop {
        let Some(at) = iterator else {
            match stream.shard_iterator(shard, StartingPosition::TrimHorizon).await {
                Ok(at) => iterator = Some(at),
                Err(StreamError::Closed) => return ShardRead::Stopped,
                Err(error) => {
                    tracing::error!(%error, shard = %shard, "The here-now reader cannot start; retrying.");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            continue;
        };
        match stream.get_records(&at, READ_LIMIT, TIP_WAIT).await {
            Ok(page) => {
                let now = state.now_ms();
                let events = events_of(&page.records);
                board.learn_names(&events).await;
                for event in &events {
                    board.apply(event, now);
                }
                state.admission().remember_all(&events, now);
                if page.child_shards.is_some() {
                    return ShardRead::Finished;
                }
                iterator = Some(page.next_iterator);
                if !page.records.is_empty() && page.records.len() < READ_LIMIT {
                    tokio::time::sleep(READ_SPACING).await;
                }
            }
            Err(StreamError::Closed) => return ShardRead::Stopped,
            Err(error) => {
                tracing::error!(%error, shard = %shard, "The here-now reader failed; retrying.");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Publishes the board just after each whole second of `time`, for ever.
pub async fn tick(board: Arc<LiveBoard>, time: Arc<dyn Clock>) {
    loop {
        let now = time.now_ms();
        board.publish(now);
        let next = 1000 - now % 1000 + 20;
        tokio::time::sleep(Duration::from_millis(next)).await;
    }
}

#[cfg(test)]
mod tests {
    use alleycat_domain::EventKind;
    use uuid::Uuid;

    use super::*;
    use crate::roster::Roster;

    async fn test_board(clock: RaceClock) -> LiveBoard {
        let db = alleycat_ingest::db::Database::in_memory().await.unwrap();
        let time = Arc::new(alleycat_domain::ManualClock::new(0));
        LiveBoard::new(clock, Arc::new(Racers::new(Arc::new(Roster::generated(10, 1)), db, time)))
    }

    fn event(racer: u64, second: u32, cadence: f64) -> RacerEvent {
        RacerEvent {
            uuid: Uuid::nil(),
            event: EventKind::Update,
            device_timestamp: 0,
            second,
            race_id: 50,
            racer_id: racer,
            class_id: 2,
            cadence,
            resistance: 35.0,
            source: alleycat_domain::Source::Sim,
            power: None,
            heart_rate: None,
        }
    }

    #[tokio::test]
    async fn a_racer_on_a_trainer_is_marked_as_riding_a_real_bike_and_a_simulated_one_is_not() {
        let clock = RaceClock::new(20);
        let board = test_board(clock).await;
        let now = clock.start_ms(50) + 3500;
        let trainer = RacerEvent {
            source: alleycat_domain::Source::Trainer,
            power: Some(250.0),
            ..event(3, 1, 80.0)
        };
        board.apply(&trainer, now);
        board.apply(&event(4, 1, 80.0), now);
        let mut live = board.subscribe(2).unwrap();
        board.publish(now);
        let ranking = live.borrow_and_update().message(10, None);
        let marked: Vec<(u64, bool)> =
            ranking.entries.iter().map(|e| (e.racer_id, e.real_bike)).collect();
        assert_eq!(marked, [(3, true), (4, false)], "250 W beats the formula's 166.75");
    }

    #[tokio::test]
    async fn racers_are_ranked_by_total_with_each_second_counted_once() {
        let clock = RaceClock::new(20);
        let board = test_board(clock).await;
        let now = clock.start_ms(50) + 3500;
        for e in [event(1, 1, 65.0), event(1, 2, 65.0), event(2, 1, 166.0), event(2, 1, 166.0)] {
            board.apply(&e, now);
        }
        let mut live = board.subscribe(2).unwrap();
        board.publish(now);
        let snapshot = live.borrow_and_update().clone();
        assert_eq!((snapshot.race_id, snapshot.second), (50, 4));
        let ranking = snapshot.message(1, Some(1));
        assert_eq!(ranking.racer_count, 2);
        assert_eq!(ranking.entries[0].racer_id, 2);
        assert_eq!(ranking.entries[0].total, 201.0); // counted once despite the replay
        assert_eq!(ranking.me.as_ref().map(|m| (m.rank, m.total, m.second)), Some((2, 200.0, 2)));
        assert_eq!(board.subscribe(1).unwrap().borrow().entries.len(), 0);
    }

    #[tokio::test]
    async fn racers_tied_in_hundredths_are_ranked_by_racer_id_as_the_results_rank_them() {
        // Racer 1 rides one second at 91.77; racer 2 two seconds at 40.25 and 51.52, also
        // 91.77 in all. Summed as floats, racer 2's total is 91.77000000000001 and the board
        // once ranked them first; the results (integer hundredths) put the tie in racer-id
        // order, racer 1 first.
        let clock = RaceClock::new(20);
        let board = test_board(clock).await;
        let now = clock.start_ms(50) + 3500;
        let at = |racer, second, cadence| RacerEvent {
            resistance: 50.0,
            ..event(racer, second, cadence)
        };
        for e in [at(2, 1, 0.0), at(2, 2, 9.8), at(1, 1, 44.8)] {
            board.apply(&e, now);
        }
        let mut live = board.subscribe(2).unwrap();
        board.publish(now);
        let entries = live.borrow_and_update().entries.clone();
        let ranked: Vec<_> = entries.iter().map(|e| (e.racer_id, e.total)).collect();
        assert_eq!(ranked, [(1, 91.77), (2, 91.77)]);
        assert_eq!((entries[1].output, entries[1].second), (51.52, 2));
    }

    #[tokio::test]
    async fn the_shared_frame_is_the_message_each_socket_would_encode_with_its_own_entry() {
        let clock = RaceClock::new(20);
        let board = test_board(clock).await;
        let now = clock.start_ms(50) + 3500;
        for racer in 1..=5 {
            board.apply(&event(racer, 1, 40.0 + racer as f64), now);
        }
        let mut live = board.subscribe(2).unwrap();
        board.publish(now);
        let snapshot = live.borrow_and_update().clone();
        for (limit, me) in [(2, None), (2, Some(1)), (2, Some(5)), (100, Some(3)), (2, Some(42))] {
            let framed: LiveMessage = serde_json::from_str(&snapshot.frame(limit, me)).unwrap();
            let expected = LiveMessage::Ranking(snapshot.message(limit, me));
            assert_eq!(framed, expected, "limit {limit}, me {me:?}");
        }
        // One encoding per limit, shared by every socket that asks for it.
        assert_eq!(snapshot.encoded.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn seconds_past_512_replayed_are_counted_once() {
        let clock = RaceClock::new(900);
        let board = test_board(clock).await;
        let now = clock.start_ms(50) + 700_000;
        for second in [511, 512, 600, 900, 600, 900, 512] {
            board.apply(&event(1, second, 65.0), now);
        }
        let mut live = board.subscribe(2).unwrap();
        board.publish(now);
        let entry = live.borrow_and_update().entries[0].clone();
        assert_eq!((entry.total, entry.second), (400.0, 900));
    }

    #[tokio::test]
    async fn the_first_tick_of_a_race_shows_the_finished_race_with_its_last_second() {
        let clock = RaceClock::new(20);
        let board = test_board(clock).await;
        let mut live = board.subscribe(2).unwrap();
        // Second 20 arrives after the race's last tick inside it (at 19.02 s).
        let last_tick = clock.start_ms(50) + 19_020;
        board.apply(&event(1, 19, 65.0), last_tick);
        board.publish(last_tick);
        assert_eq!(live.borrow_and_update().entries[0].second, 19);
        board.apply(&event(1, 20, 65.0), last_tick + 500);

        let next_race = clock.start_ms(51) + 20;
        board.publish(next_race);
        let finished = live.borrow_and_update().clone();
        assert_eq!((finished.race_id, finished.second), (50, 20));
        assert_eq!((finished.entries[0].second, finished.entries[0].total), (20, 200.0));

        board.publish(next_race + 1000);
        let current = live.borrow_and_update().clone();
        assert_eq!((current.race_id, current.second, current.entries.len()), (51, 2, 0));
    }
}
