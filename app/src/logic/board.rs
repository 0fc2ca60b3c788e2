//! The leaderboard's rows and its virtual window: only the rows on screen are rendered.

use std::ops::Range;

/// One row of a leaderboard, here-now or all-time.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardRow {
    /// What keeps a row's DOM node across updates, so it can glide to its new place: the racer
    /// id, with the rider's own live row keyed apart from their past best.
    pub key: u64,
    /// Where the row sits on the board, 0-based from the top.
    pub slot: usize,
    /// 1-based place.
    pub place: usize,
    /// The racer.
    pub racer_id: u64,
    /// What to call them.
    pub name: String,
    /// Their output this second (here now) or their best at this second (all time).
    pub output: f64,
    /// Their race total so far (here now only).
    pub total: Option<f64>,
    /// This is the rider using the app.
    pub is_me: bool,
    /// This is the rider's own past best (all time only).
    pub is_my_best: bool,
    /// They ride a real bike (here now), or their best at this second was ridden on one (all
    /// time); the board marks it.
    pub real_bike: bool,
}

/// Key of the rider's own live row on the all-time board, apart from every racer id.
pub const MY_LIVE_KEY: u64 = u64::MAX;

/// The rows to render for a list of `total` rows of `row_height` px, scrolled to `scroll_top`
/// in a viewport `viewport` px tall, with `overscan` extra rows either side so fast scrolling does
/// not show gaps. Indexes are 0-based.
pub fn window(
    scroll_top: f64,
    viewport: f64,
    row_height: f64,
    total: usize,
    overscan: usize,
) -> Range<usize> {
    if total == 0 || row_height <= 0.0 {
        return 0..0;
    }
    let first = (scroll_top.max(0.0) / row_height).floor() as usize;
    let visible = (viewport.max(0.0) / row_height).ceil() as usize + 1;
    let start = first.saturating_sub(overscan).min(total);
    let end = first.saturating_add(visible).saturating_add(overscan).min(total);
    start..end.max(start)
}

/// The scroll position that puts row `index` in the middle of the viewport.
pub fn centre_on(index: usize, viewport: f64, row_height: f64, total: usize) -> f64 {
    let content = total as f64 * row_height;
    let top = index as f64 * row_height - (viewport - row_height) / 2.0;
    top.clamp(0.0, (content - viewport).max(0.0))
}

/// The here-now rows: the top of the ranking, plus the rider's own entry wherever they are when
/// it is not already among them.
pub fn with_me(mut rows: Vec<BoardRow>, me: Option<BoardRow>) -> Vec<BoardRow> {
    if let Some(me) = me {
        if let Some(row) = rows.iter_mut().find(|r| r.racer_id == me.racer_id) {
            row.is_me = true;
        } else {
            rows.push(BoardRow { is_me: true, ..me });
        }
    }
    for (slot, row) in rows.iter_mut().enumerate() {
        row.slot = slot;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(place: usize, racer_id: u64) -> BoardRow {
        BoardRow {
            key: racer_id,
            slot: 0,
            place,
            racer_id,
            name: format!("R{racer_id}"),
            output: 100.0,
            total: Some(1000.0),
            is_me: false,
            is_my_best: false,
            real_bike: false,
        }
    }

    #[test]
    fn the_window_covers_the_viewport_and_the_overscan() {
        assert_eq!(window(0.0, 400.0, 40.0, 6667, 3), 0..14);
        assert_eq!(window(4000.0, 400.0, 40.0, 6667, 3), 97..114);
        assert_eq!(window(0.0, 400.0, 40.0, 5, 3), 0..5);
        assert_eq!(window(1e9, 400.0, 40.0, 20, 3), 20..20);
        assert_eq!(window(0.0, 400.0, 40.0, 0, 3), 0..0);
    }

    #[test]
    fn the_window_is_the_same_size_for_a_big_and_a_middling_class() {
        let big = window(40_000.0, 480.0, 44.0, 6_668, 4);
        let middling = window(400.0, 480.0, 44.0, 60, 4);
        assert_eq!(big.len(), middling.len());
    }

    #[test]
    fn centring_clamps_to_the_list() {
        assert_eq!(centre_on(0, 400.0, 40.0, 100), 0.0);
        assert_eq!(centre_on(50, 400.0, 40.0, 100), 2000.0 - 180.0);
        assert_eq!(centre_on(99, 400.0, 40.0, 100), 3600.0);
        assert_eq!(centre_on(3, 400.0, 40.0, 5), 0.0);
    }

    #[test]
    fn my_entry_is_added_once_and_highlighted() {
        let top = vec![row(1, 5), row(2, 9)];
        let rows = with_me(top.clone(), Some(row(12, 42)));
        assert_eq!(rows.len(), 3);
        assert!(rows[2].is_me && rows[2].place == 12 && rows[2].slot == 2);
        let rows = with_me(top, Some(row(2, 9)));
        assert_eq!(rows.len(), 2);
        assert!(rows[1].is_me && !rows[0].is_me);
    }
}
