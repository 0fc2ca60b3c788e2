//! Which of the rankings the live WebSocket streams the here-now board shows.
//!
//! The server streams the ranking of the race running now. Before the rider's race starts the
//! board shows that (earlier) race, so the rider sees the field warming up; once a ranking of the
//! rider's own race arrives the board shows that race only, and keeps its last state after the
//! end, when the server moves on to the next race.

use alleycat_domain::{api::LiveRanking, RaceId};

/// The here-now board of one rider's race.
#[derive(Debug, Clone, PartialEq)]
pub struct HereNow {
    race_id: RaceId,
    ranking: Option<LiveRanking>,
    last_place: Option<(u32, u32)>,
}

impl HereNow {
    /// An empty board for race `race_id`.
    pub fn new(race_id: RaceId) -> Self {
        Self { race_id, ranking: None, last_place: None }
    }

    /// Takes a ranking from the server; returns whether the board shows it.
    pub fn receive(&mut self, ranking: LiveRanking) -> bool {
        let mine = ranking.race_id == self.race_id;
        let before_start = ranking.race_id < self.race_id
            && self.ranking.as_ref().is_none_or(|shown| shown.race_id != self.race_id);
        if !(mine || before_start) {
            return false;
        }
        if let (true, Some(me)) = (mine, &ranking.me) {
            self.last_place = Some((me.rank, ranking.racer_count));
        }
        self.ranking = Some(ranking);
        true
    }

    /// The ranking on the board.
    pub fn ranking(&self) -> Option<&LiveRanking> {
        self.ranking.as_ref()
    }

    /// The rider's last place in their own race and the field then, once the server ranked them.
    pub fn last_place(&self) -> Option<(u32, u32)> {
        self.last_place
    }
}

#[cfg(test)]
mod tests {
    use alleycat_domain::api::LiveEntry;

    use super::*;

    fn ranking(race_id: RaceId, me_rank: Option<u32>) -> LiveRanking {
        let entry = |rank| LiveEntry {
            rank,
            racer_id: 7,
            name: "Kenji Q. Underhill".into(),
            output: 100.0,
            total: 100.0,
            second: 1,
            real_bike: false,
        };
        LiveRanking {
            race_id,
            class_id: 1,
            second: 1,
            racer_count: 12,
            entries: Vec::new(),
            me: me_rank.map(entry),
        }
    }

    #[test]
    fn before_the_start_the_board_shows_the_race_running_now() {
        let mut board = HereNow::new(10);
        assert!(board.receive(ranking(9, None)));
        assert_eq!(board.ranking().map(|r| r.race_id), Some(9));
        assert_eq!(board.last_place(), None);
    }

    #[test]
    fn once_the_riders_race_is_on_the_board_it_stays_there_after_the_end() {
        let mut board = HereNow::new(10);
        assert!(board.receive(ranking(9, None)));
        assert!(board.receive(ranking(10, Some(3))));
        assert_eq!(board.last_place(), Some((3, 12)));
        // A late message of the race before, and the next race after the end, are not shown.
        assert!(!board.receive(ranking(9, None)));
        assert!(!board.receive(ranking(11, Some(1))));
        assert_eq!(board.ranking().map(|r| r.race_id), Some(10));
        assert_eq!(board.last_place(), Some((3, 12)));
    }

    #[test]
    fn a_ranking_of_the_riders_race_without_them_keeps_their_last_place() {
        let mut board = HereNow::new(10);
        assert!(board.receive(ranking(10, Some(2))));
        assert!(board.receive(ranking(10, None)));
        assert_eq!(board.last_place(), Some((2, 12)));
    }
}
