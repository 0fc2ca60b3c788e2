//! The all-time ranking step: where the rider's output this second places among every racer's
//! personal best at that same second, and the rows on screen.

use std::ops::Range;

use alleycat_domain::{
    output::{from_centi, to_centi},
    History,
};

use super::board::{BoardRow, MY_LIVE_KEY};

/// One second of the all-time board.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The rider's place among the bests at this second plus themselves (1-based).
    pub place: usize,
    /// How many rows the board has: every best at this second, plus the rider.
    pub field: usize,
    /// The rider's own best at this second, if they have one.
    pub my_best: Option<f64>,
    /// The rider beats their own best at this second (or has none yet and is riding).
    pub personal_best: bool,
    /// The rows at `window` (0-based indexes into the board), best first.
    pub rows: Vec<BoardRow>,
}

/// The rider on the all-time board this second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rider<'a> {
    /// Their racer id.
    pub id: u64,
    /// Their name.
    pub name: &'a str,
    /// Their output this second.
    pub output: f64,
    /// A trainer or power meter measures it (their live row gets the real-bike mark).
    pub real_bike: bool,
}

/// Ranks `rider`'s output at `second` against `history` and builds the rows in `window`; a
/// best ridden on a real bike carries the mark. `name_of` names a racer id (the board shows ids
/// for racers it has no name for).
pub fn step(
    history: &History,
    second: u32,
    rider: &Rider<'_>,
    window: Range<usize>,
    name_of: impl Fn(u64) -> String,
) -> Step {
    let Rider { id: me, name: my_name, output, real_bike: my_real_bike } = *rider;
    let centi = to_centi(output);
    let place = history.rank(second, centi);
    let field = history.field(second) + 1;
    let my_best = history.best(me, second);
    let personal_best = my_best.is_none_or(|best| centi > best);
    let my_index = place - 1;
    let window = window.start.min(field)..window.end.min(field);
    let mut rows = Vec::with_capacity(window.len());
    // Board index i holds history place i+1 above the rider and history place i below.
    let above = window.start..window.end.min(my_index);
    rows.extend(history.ranked(second, above.start + 1..above.end + 1).map(|best| BoardRow {
        key: best.racer_id,
        slot: best.place - 1,
        place: best.place,
        racer_id: best.racer_id,
        name: name_of(best.racer_id),
        output: from_centi(best.centi),
        total: None,
        is_me: false,
        is_my_best: best.racer_id == me,
        real_bike: best.real_bike,
    }));
    if window.contains(&my_index) {
        rows.push(BoardRow {
            key: MY_LIVE_KEY,
            slot: my_index,
            place,
            racer_id: me,
            name: my_name.to_owned(),
            output: from_centi(centi),
            total: None,
            is_me: true,
            is_my_best: false,
            real_bike: my_real_bike,
        });
    }
    let below = window.start.max(my_index + 1)..window.end;
    if !below.is_empty() {
        rows.extend(history.ranked(second, below.start..below.end).map(|best| BoardRow {
            key: best.racer_id,
            slot: best.place,
            place: best.place + 1,
            racer_id: best.racer_id,
            name: name_of(best.racer_id),
            output: from_centi(best.centi),
            total: None,
            is_me: false,
            is_my_best: best.racer_id == me,
            real_bike: best.real_bike,
        }));
    }
    Step { place, field, my_best: my_best.map(from_centi), personal_best, rows }
}

#[cfg(test)]
mod tests {
    use alleycat_domain::ClassBests;

    use super::*;

    fn history() -> History {
        let mut b = ClassBests::new(3, 5);
        // Second 1: racer 7 on 140, racer 42 (me) on 132.25, racer 1000 on 120.
        b.improve(7, 1, 14000);
        b.improve(42, 1, 13225);
        b.improve(1000, 1, 12000);
        b.improve(7, 2, 9000);
        // Racer 1000's best at second 1 was ridden on a trainer.
        b.improve_ridden(1000, 1, 12000, true);
        History::from_bests(&b)
    }

    /// Racer 42, "Me", riding `output` on the simulated bike.
    fn me(output: f64) -> Rider<'static> {
        Rider { id: 42, name: "Me", output, real_bike: false }
    }

    fn places(step: &Step) -> Vec<(usize, u64, bool)> {
        for row in &step.rows {
            assert_eq!(row.slot + 1, row.place, "{row:?}");
        }
        step.rows.iter().map(|r| (r.place, r.racer_id, r.is_me)).collect()
    }

    #[test]
    fn the_rider_slots_in_among_the_bests_and_everyone_below_moves_down() {
        let h = history();
        let s = step(&h, 1, &me(135.0), 0..10, |id| format!("R{id}"));
        assert_eq!((s.place, s.field), (2, 4));
        assert_eq!(places(&s), [(1, 7, false), (2, 42, true), (3, 42, false), (4, 1000, false)]);
        assert!(s.personal_best);
        assert_eq!(s.my_best, Some(132.25));
        assert!(s.rows[2].is_my_best);
        assert_eq!(s.rows[1].key, MY_LIVE_KEY);
    }

    #[test]
    fn no_trophy_below_my_own_best_and_first_with_the_top_output() {
        let h = history();
        let s = step(&h, 1, &me(100.0), 0..10, |id| format!("R{id}"));
        assert_eq!(s.place, 4);
        assert!(!s.personal_best);
        let s = step(&h, 1, &me(200.0), 0..10, |id| format!("R{id}"));
        assert_eq!(s.place, 1);
        assert_eq!(places(&s)[0], (1, 42, true));
    }

    #[test]
    fn a_window_shows_only_its_rows() {
        let h = history();
        let s = step(&h, 1, &me(135.0), 2..3, |id| format!("R{id}"));
        assert_eq!(places(&s), [(3, 42, false)]);
        let s = step(&h, 1, &me(135.0), 1..2, |id| format!("R{id}"));
        assert_eq!(places(&s), [(2, 42, true)]);
        let s = step(&h, 1, &me(135.0), 3..40, |id| format!("R{id}"));
        assert_eq!(places(&s), [(4, 1000, false)]);
    }

    #[test]
    fn bests_ridden_on_a_real_bike_and_the_riders_own_trainer_carry_the_mark() {
        let h = history();
        let s = step(&h, 1, &me(135.0), 0..10, |id| format!("R{id}"));
        let marks: Vec<_> = s.rows.iter().map(|r| (r.racer_id, r.is_me, r.real_bike)).collect();
        assert_eq!(
            marks,
            [(7, false, false), (42, true, false), (42, false, false), (1000, false, true)]
        );
        let on_a_trainer = Rider { real_bike: true, ..me(135.0) };
        let s = step(&h, 1, &on_a_trainer, 1..2, |id| format!("R{id}"));
        assert!(s.rows[0].is_me && s.rows[0].real_bike);
    }

    #[test]
    fn a_second_without_my_best_is_a_personal_best_when_riding() {
        let h = history();
        let s = step(&h, 2, &me(50.0), 0..10, |id| format!("R{id}"));
        assert_eq!((s.place, s.field), (2, 2));
        assert!(s.personal_best && s.my_best.is_none());
    }
}
