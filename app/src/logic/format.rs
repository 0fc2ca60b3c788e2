//! How numbers, places and times read on screen.

/// `n` with thousands separators: `1,001`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A racer known only by their id: `Racer #1,042`.
pub fn racer_number(id: u64) -> String {
    format!("Racer #{}", thousands(id))
}

/// An output for display with one decimal: `132.3`.
pub fn output(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    // Round half away from zero, as people do (132.25 reads 132.3).
    format!("{:.1}", (value.max(0.0) * 10.0).round() / 10.0)
}

/// A race total for display, whole and with separators: `12,345`.
pub fn total(value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    thousands(value.max(0.0).round() as u64)
}

/// `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`, …
pub fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A place in a field: `#12 of 1,001`.
pub fn place_of(place: usize, field: usize) -> String {
    format!("#{} of {}", thousands(place as u64), thousands(field as u64))
}

/// `ms` as `m:ss`, rounding up so that the last second reads `0:01`, not `0:00`.
pub fn countdown(ms: u64) -> String {
    let seconds = ms.div_ceil(1000);
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

/// A byte count for people: `812 KB`, `1.4 MB`.
pub fn bytes(n: u64) -> String {
    match n {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{} KB", n.div_ceil(1024)),
        n => format!("{:.1} MB", n as f64 / (1024.0 * 1024.0)),
    }
}

/// A count of seconds: `1 second`, `12 seconds`.
pub fn seconds(n: usize) -> String {
    match n {
        1 => "1 second".to_owned(),
        n => format!("{} seconds", thousands(n as u64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_counted_in_words() {
        assert_eq!(seconds(0), "0 seconds");
        assert_eq!(seconds(1), "1 second");
        assert_eq!(seconds(1200), "1,200 seconds");
    }

    #[test]
    fn thousands_are_separated_by_commas() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_001), "1,001");
        assert_eq!(thousands(40_000), "40,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(racer_number(1_042), "Racer #1,042");
    }

    #[test]
    fn ordinals_follow_english() {
        let got: Vec<_> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].map(ordinal).to_vec();
        assert_eq!(
            got,
            ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]
        );
    }

    #[test]
    fn outputs_totals_and_places_read_well() {
        assert_eq!(output(132.25), "132.3");
        assert_eq!(output(f64::NAN), "–");
        assert_eq!(total(12_345.4), "12,345");
        assert_eq!(place_of(12, 1001), "#12 of 1,001");
    }

    #[test]
    fn countdown_rounds_up_to_whole_seconds() {
        assert_eq!(countdown(0), "0:00");
        assert_eq!(countdown(1), "0:01");
        assert_eq!(countdown(59_001), "1:00");
        assert_eq!(countdown(300_000), "5:00");
    }

    #[test]
    fn bytes_read_in_units() {
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(2048), "2 KB");
        assert_eq!(bytes(1_572_864), "1.5 MB");
    }
}
