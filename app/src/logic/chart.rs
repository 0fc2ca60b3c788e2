//! The live chart's geometry: the rider's output second by second against their personal best
//! at each second, as SVG path data.

use std::fmt::Write;

/// Where the chart draws, in SVG user units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Width of the plot.
    pub width: f64,
    /// Height of the plot.
    pub height: f64,
}

/// The top of the y axis: a round number above every value, at least 50.
pub fn y_max(series: &[&[Option<f64>]]) -> f64 {
    let top = series
        .iter()
        .flat_map(|s| s.iter().flatten())
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    ((top * 1.1) / 50.0).ceil().max(1.0) * 50.0
}

/// The x of second `second` (1-based) of `seconds`.
pub fn x_of(frame: Frame, seconds: u32, second: u32) -> f64 {
    let span = f64::from(seconds.max(2) - 1);
    f64::from(second.saturating_sub(1)) / span * frame.width
}

/// The y of `value` on an axis from 0 to `max`.
pub fn y_of(frame: Frame, max: f64, value: f64) -> f64 {
    frame.height - (value / max).clamp(0.0, 1.0) * frame.height
}

/// A polyline through the seconds that have a value (index 0 is second 1); a gap (a second with
/// no value) starts a new segment. Empty when there is nothing to draw.
pub fn line(frame: Frame, seconds: u32, max: f64, values: &[Option<f64>]) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for (i, value) in values.iter().enumerate() {
        match value {
            Some(v) if v.is_finite() => {
                let x = x_of(frame, seconds, i as u32 + 1);
                let y = y_of(frame, max, *v);
                let _ = write!(d, "{}{x:.1},{y:.1}", if pen_down { " L" } else { " M" });
                pen_down = true;
            }
            _ => pen_down = false,
        }
    }
    d.trim_start().to_owned()
}

/// The same line closed down to the x axis, for a filled area under it.
pub fn area(frame: Frame, seconds: u32, max: f64, values: &[Option<f64>]) -> String {
    let first = values.iter().position(|v| v.is_some());
    let last = values.iter().rposition(|v| v.is_some());
    let (Some(first), Some(last)) = (first, last) else { return String::new() };
    let filled: Vec<Option<f64>> =
        values[first..=last].iter().map(|v| Some(v.unwrap_or(0.0))).collect();
    let mut padded = vec![None; first];
    padded.extend(filled);
    let d = line(frame, seconds, max, &padded);
    let x0 = x_of(frame, seconds, first as u32 + 1);
    let x1 = x_of(frame, seconds, last as u32 + 1);
    format!("{d} L{x1:.1},{h:.1} L{x0:.1},{h:.1} Z", h = frame.height)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Frame = Frame { width: 100.0, height: 50.0 };

    #[test]
    fn the_axis_rounds_up_above_the_highest_value() {
        assert_eq!(y_max(&[&[Some(132.0)], &[None, Some(90.0)]]), 150.0);
        assert_eq!(y_max(&[&[]]), 50.0);
    }

    #[test]
    fn a_line_runs_from_the_first_to_the_last_second_and_breaks_at_gaps() {
        let d = line(F, 5, 100.0, &[Some(0.0), Some(50.0), None, Some(100.0), Some(100.0)]);
        assert_eq!(d, "M0.0,50.0 L25.0,25.0 M75.0,0.0 L100.0,0.0");
        assert_eq!(line(F, 5, 100.0, &[None, None]), "");
    }

    #[test]
    fn an_area_closes_on_the_axis() {
        let d = area(F, 3, 100.0, &[None, Some(50.0), Some(50.0)]);
        assert_eq!(d, "M50.0,25.0 L100.0,25.0 L100.0,50.0 L50.0,50.0 Z");
        assert_eq!(area(F, 3, 100.0, &[None]), "");
    }
}
