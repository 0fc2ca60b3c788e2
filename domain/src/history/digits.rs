//! The digit code: unsigned integers as characters that need no escaping in JSON (the format's
//! `values` and `bests` strings; see the [module docs](super) for the definition), and zigzag for
//! the signed steps between them.

use super::HistoryError;

/// The digit code's alphabet: `#` to `~` without `\\` (see the module docs).
const DIGITS: usize = 91;
/// Numbers below this are one digit.
const ONE_DIGIT: u64 = 81;

fn digit_char(d: usize) -> char {
    let b = 0x23 + d as u8;
    (if b >= b'\\' { b + 1 } else { b }) as char
}

fn digit_value(c: u8) -> Option<u64> {
    match c {
        0x23..=0x5b => Some(u64::from(c - 0x23)),
        0x5d..=0x7e => Some(u64::from(c - 0x24)),
        _ => None,
    }
}

pub(super) fn push_number(out: &mut String, z: u64) {
    if z < ONE_DIGIT {
        out.push(digit_char(z as usize));
        return;
    }
    let mut rest = z - ONE_DIGIT;
    let mut digits = [0usize; 10];
    let mut k = 0;
    loop {
        digits[k] = (rest % DIGITS as u64) as usize;
        rest /= DIGITS as u64;
        k += 1;
        if rest == 0 {
            break;
        }
    }
    out.push(digit_char(80 + k));
    for &d in digits[..k].iter().rev() {
        out.push(digit_char(d));
    }
}

pub(super) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(super) fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Reads numbers in the digit code, checking every character and overflow.
pub(super) struct Numbers<'a> {
    bytes: &'a [u8],
    pos: usize,
    field: &'static str,
}

impl<'a> Numbers<'a> {
    pub(super) fn new(s: &'a str, field: &'static str) -> Self {
        Self { bytes: s.as_bytes(), pos: 0, field }
    }

    fn invalid(&self, what: &str) -> HistoryError {
        HistoryError::Invalid(format!("{} at character {}: {what}", self.field, self.pos))
    }

    pub(super) fn next(&mut self) -> Result<u64, HistoryError> {
        let first = *self.bytes.get(self.pos).ok_or_else(|| self.invalid("ends too soon"))?;
        let d = digit_value(first).ok_or_else(|| self.invalid("not a digit"))?;
        self.pos += 1;
        if d < ONE_DIGIT {
            return Ok(d);
        }
        let k = (d - 80) as usize;
        let mut z: u64 = 0;
        for _ in 0..k {
            let c = *self.bytes.get(self.pos).ok_or_else(|| self.invalid("ends too soon"))?;
            let d = digit_value(c).ok_or_else(|| self.invalid("not a digit"))?;
            z = z
                .checked_mul(DIGITS as u64)
                .and_then(|z| z.checked_add(d))
                .ok_or_else(|| self.invalid("number too large"))?;
            self.pos += 1;
        }
        z.checked_add(ONE_DIGIT).ok_or_else(|| self.invalid("number too large"))
    }

    pub(super) fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digit_code_uses_the_documented_alphabet_and_round_trips() {
        let mut s = String::new();
        for z in [0, 56, 57, 80, 81, 81 + 90, 81 + 91, u64::MAX] {
            s.clear();
            push_number(&mut s, z);
            assert!(s.bytes().all(|b| (0x23..=0x7e).contains(&b) && b != b'\\'), "{s}");
            let mut numbers = Numbers::new(&s, "test");
            assert_eq!(numbers.next().unwrap(), z);
            assert!(numbers.done());
        }
        let code = |z| {
            let mut s = String::new();
            push_number(&mut s, z);
            s
        };
        assert_eq!(code(0), "#");
        assert_eq!(code(56), "[");
        assert_eq!(code(57), "]");
        assert_eq!(code(80), "t");
        assert_eq!(code(81), "u#");
        assert_eq!(code(81 + 91), "v$#");
        for v in [0i64, 1, -1, 12345, -12345, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!((zigzag(0), zigzag(-1), zigzag(1), zigzag(-2)), (0, 1, 2, 3));
        assert!(Numbers::new("\\", "test").next().is_err());
        assert!(Numbers::new("v", "test").next().is_err());
        assert!(Numbers::new("~~~~~~~~~~~~", "test").next().is_err());
    }
}
