//! The `realBike` field of version 3: which bests were ridden on a real bike (a trainer or a
//! power meter), as runs of seconds for each racer that has any (see the [module docs](super)
//! for the layout). Racers on the simulated bike cost nothing.

use std::ops::Range;

use bit_vec::BitVec;

use super::{
    digits::{push_number, Numbers},
    HistoryError,
};

/// Writes the field racer by racer.
#[derive(Default)]
pub(super) struct RunsWriter {
    out: String,
    /// The position (in `racers`) after the last racer written.
    next_position: usize,
}

impl RunsWriter {
    /// Adds the racer at `position` in `racers`, whose seconds `flags` marks (bit 0 is second
    /// 1); a racer with no mark is left out.
    pub(super) fn push(&mut self, position: usize, flags: &BitVec) {
        let runs = runs_of(flags);
        if runs.is_empty() {
            return;
        }
        push_number(&mut self.out, (position - self.next_position) as u64);
        push_number(&mut self.out, runs.len() as u64);
        let mut end = 0;
        for run in runs {
            push_number(&mut self.out, (run.start - end) as u64);
            push_number(&mut self.out, run.len() as u64);
            end = run.end;
        }
        self.next_position = position + 1;
    }

    /// The field's text (empty when no racer has a mark).
    pub(super) fn finish(self) -> String {
        self.out
    }
}

/// The runs of set bits in `flags`, 0-based second indices.
fn runs_of(flags: &BitVec) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, set) in flags.iter().enumerate() {
        match (set, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push(s..flags.len());
    }
    runs
}

/// Reads the field of a file of `racers` racers and `seconds` seconds, calling `mark` with
/// each run: the racer's position in `racers` and the 0-based seconds it covers. Every number
/// is checked: positions increase and stay below `racers`, each racer has at least one run,
/// runs are non-empty, in order, apart, and end within the race.
pub(super) fn read_runs(
    field: &str,
    racers: usize,
    seconds: usize,
    mut mark: impl FnMut(usize, Range<usize>) -> Result<(), HistoryError>,
) -> Result<(), HistoryError> {
    let mut numbers = Numbers::new(field, "realBike");
    let invalid = |what: String| Err(HistoryError::Invalid(what));
    let mut next_position = 0usize;
    while !numbers.done() {
        let position = usize::try_from(numbers.next()?)
            .ok()
            .and_then(|gap| next_position.checked_add(gap))
            .filter(|&p| p < racers);
        let Some(position) = position else {
            return invalid(format!("realBike names a racer past the {racers} of the file"));
        };
        let count = numbers.next()?;
        if count == 0 {
            return invalid(format!("realBike gives racer #{position} no run"));
        }
        let mut end = 0usize;
        for k in 0..count {
            let gap = numbers.next()?;
            let len = numbers.next()?;
            let start = usize::try_from(gap).ok().and_then(|g| end.checked_add(g));
            let stop = start.zip(usize::try_from(len).ok()).and_then(|(s, l)| s.checked_add(l));
            match (start, stop) {
                (Some(start), Some(stop)) if len > 0 && (k == 0 || gap > 0) && stop <= seconds => {
                    mark(position, start..stop)?;
                    end = stop;
                }
                _ => {
                    return invalid(format!(
                        "realBike run {k} of racer #{position} is empty, touches the one \
                         before or ends past second {seconds}"
                    ))
                }
            }
        }
        next_position = position + 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(s: &str) -> BitVec {
        s.chars().map(|c| c == '1').collect()
    }

    fn read(field: &str, racers: usize, seconds: usize) -> Result<Vec<String>, HistoryError> {
        let mut marks = Vec::new();
        read_runs(field, racers, seconds, |p, r| {
            marks.push(format!("{p}:{}-{}", r.start, r.end));
            Ok(())
        })?;
        Ok(marks)
    }

    #[test]
    fn runs_are_written_as_documented_and_read_back() {
        let mut w = RunsWriter::default();
        w.push(0, &bits("00000"));
        w.push(2, &bits("11111"));
        w.push(3, &bits("01101"));
        let field = w.finish();
        // Racer #2: position gap 2, one run: gap 0, length 5. Racer #3: gap 0, two runs:
        // (1, 2) and (1, 1).
        assert_eq!(field, "%$#(#%$%$$");
        assert_eq!(read(&field, 4, 5).unwrap(), ["2:0-5", "3:1-3", "3:4-5"]);
        assert_eq!(RunsWriter::default().finish(), "");
    }

    #[test]
    fn bad_runs_are_refused() {
        // Past the last racer; no run; an empty run; touching runs; past the race's end.
        for field in ["%$#$", "##", "#$##", "#%#$#$", "#$#'"] {
            assert!(matches!(read(field, 2, 3), Err(HistoryError::Invalid(_))), "{field}");
        }
        assert!(matches!(read("#$#", 2, 3), Err(HistoryError::Invalid(_))), "ends too soon");
    }
}
