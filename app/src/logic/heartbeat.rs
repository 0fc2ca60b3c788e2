//! The heartbeat's decision on each tick: whether a second of the race is due to be sent.

use super::ride::Phase;

/// What one tick of the heartbeat asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Outside the race (before the start or after the end): nothing to send.
    Idle,
    /// A second of the race that has not been sent yet: send it now.
    Second(u32),
    /// Still a second that was already sent.
    AlreadySent,
}

/// Remembers the last second sent, so each second of the race is sent once, in order. The tick
/// runs several times a second; a second the browser skipped (a throttled background tab) is not
/// sent late: the next tick sends the second it is in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heartbeat {
    last_sent: u32,
}

impl Heartbeat {
    /// The beat for a tick in `phase`.
    pub fn beat(&mut self, phase: Phase) -> Beat {
        let Phase::Riding { second } = phase else { return Beat::Idle };
        if second <= self.last_sent {
            return Beat::AlreadySent;
        }
        self.last_sent = second;
        Beat::Second(second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_second_of_the_race_is_sent_once_and_never_before_the_start_or_after_the_end() {
        let mut heart = Heartbeat::default();
        let beats: Vec<Beat> = [
            Phase::Waiting { starts_in_ms: 150 },
            Phase::Riding { second: 1 },
            Phase::Riding { second: 1 },
            Phase::Riding { second: 2 },
            Phase::Riding { second: 2 },
            Phase::Riding { second: 3 },
            Phase::Finished,
        ]
        .into_iter()
        .map(|p| heart.beat(p))
        .collect();
        assert_eq!(
            beats,
            [
                Beat::Idle,
                Beat::Second(1),
                Beat::AlreadySent,
                Beat::Second(2),
                Beat::AlreadySent,
                Beat::Second(3),
                Beat::Idle
            ]
        );
    }

    #[test]
    fn a_skipped_second_is_not_sent_late_and_the_clock_never_sends_a_second_twice() {
        let mut heart = Heartbeat::default();
        assert_eq!(heart.beat(Phase::Riding { second: 4 }), Beat::Second(4));
        // The tab slept through 5 and 6.
        assert_eq!(heart.beat(Phase::Riding { second: 7 }), Beat::Second(7));
        // A clock that steps back (a corrected offset) does not send 6 after 7.
        assert_eq!(heart.beat(Phase::Riding { second: 6 }), Beat::AlreadySent);
    }
}
