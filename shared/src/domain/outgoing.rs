//! The rolling 24-hour outgoing cap: what a wallet sent, hour by hour, over the last day.
//!
//! Kept on the payer's wallet item, so the debit that moves the money (already conditioned on
//! the version the decision was read at) also writes the new count: parallel payments cannot
//! both fit in what is left, and no separate reservation can leak when a payment fails.
//!
//! An amount counts from the moment it is sent until 24 hours after the end of the clock hour
//! it was sent in (between 24 and 25 hours): at most 25 hourly buckets, a few hundred bytes.

use super::time::{from_millis, to_millis};
use std::collections::BTreeMap;
use time::OffsetDateTime;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Minor units sent per clock hour (hours since the Unix epoch), only the hours still counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentByHour(BTreeMap<i64, i64>);

/// What the cap says about one more payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapDecision {
    /// It fits; the count to write with the debit.
    Fits(SentByHour),
    /// It does not: what is left now, and when enough is freed for it (`None` when the amount
    /// alone is over the cap).
    Exceeded {
        remaining: i64,
        frees_at: Option<OffsetDateTime>,
    },
}

fn hour_of(at: OffsetDateTime) -> i64 {
    to_millis(at).div_euclid(HOUR_MS)
}

/// When an amount sent in `hour` stops counting.
fn freed_at_ms(hour: i64) -> i64 {
    (hour + 1) * HOUR_MS + DAY_MS
}

impl SentByHour {
    /// From stored `(hour, minor units)` pairs.
    pub fn from_hours(hours: impl IntoIterator<Item = (i64, i64)>) -> Self {
        Self(hours.into_iter().collect())
    }

    /// The stored pairs, oldest hour first.
    pub fn hours(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.0.iter().map(|(h, a)| (*h, *a))
    }

    /// What still counts at `now`.
    pub fn counted(&self, now: OffsetDateTime) -> i64 {
        let now = to_millis(now);
        self.0
            .iter()
            .filter(|(h, _)| freed_at_ms(**h) > now)
            .map(|(_, a)| *a)
            .sum()
    }

    /// What is left of `limit` at `now`.
    pub fn remaining(&self, now: OffsetDateTime, limit: i64) -> i64 {
        (limit - self.counted(now)).max(0)
    }

    /// Whether `amount` sent at `now` fits under `limit`, and the count to store if it does.
    pub fn decide(&self, now: OffsetDateTime, amount: i64, limit: i64) -> CapDecision {
        let now_ms = to_millis(now);
        let live: BTreeMap<i64, i64> = self
            .0
            .iter()
            .filter(|(h, _)| freed_at_ms(**h) > now_ms)
            .map(|(h, a)| (*h, *a))
            .collect();
        let counted: i64 = live.values().sum();
        if counted.saturating_add(amount) <= limit {
            let mut next = live;
            *next.entry(hour_of(now)).or_insert(0) += amount;
            return CapDecision::Fits(Self(next));
        }
        let remaining = (limit - counted).max(0);
        if amount > limit {
            return CapDecision::Exceeded {
                remaining,
                frees_at: None,
            };
        }
        // Oldest hours free first: the payment fits once enough of them have.
        let mut still = counted;
        let mut frees_at = None;
        for (hour, sent) in &live {
            still -= sent;
            if still + amount <= limit {
                frees_at = Some(from_millis(freed_at_ms(*hour)));
                break;
            }
        }
        CapDecision::Exceeded {
            remaining,
            frees_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> OffsetDateTime {
        from_millis(ms)
    }

    #[test]
    fn an_amount_counts_until_a_day_after_its_hour_ended() {
        let sent_at = 10 * HOUR_MS + 59 * 60_000; // 10:59
        let CapDecision::Fits(sent) = SentByHour::default().decide(at(sent_at), 700, 1000) else {
            panic!("fits");
        };
        assert_eq!(sent.counted(at(sent_at + DAY_MS)), 700);
        assert_eq!(sent.counted(at(11 * HOUR_MS + DAY_MS - 1)), 700);
        assert_eq!(sent.counted(at(11 * HOUR_MS + DAY_MS)), 0);
    }

    #[test]
    fn a_payment_past_the_cap_is_told_when_enough_frees_up() {
        let mut sent = SentByHour::default();
        for (hour, amount) in [(1, 300), (2, 300), (3, 300)] {
            let CapDecision::Fits(next) = sent.decide(at(hour * HOUR_MS), amount, 1000) else {
                panic!("fits");
            };
            sent = next;
        }
        let now = at(5 * HOUR_MS);
        assert_eq!(sent.remaining(now, 1000), 100);
        // 500 needs 400 freed: hour 1 (300) is not enough, hours 1 and 2 are.
        assert_eq!(
            sent.decide(now, 500, 1000),
            CapDecision::Exceeded {
                remaining: 100,
                frees_at: Some(at(freed_at_ms(2)))
            }
        );
        assert_eq!(
            sent.decide(now, 1001, 1000),
            CapDecision::Exceeded {
                remaining: 100,
                frees_at: None
            }
        );
        assert!(matches!(sent.decide(now, 100, 1000), CapDecision::Fits(_)));
    }

    #[test]
    fn hours_no_longer_counted_are_dropped_from_what_is_stored() {
        let old = SentByHour::from_hours([(1, 999), (40, 1)]);
        let CapDecision::Fits(next) = old.decide(at(41 * HOUR_MS), 5, 1000) else {
            panic!("fits");
        };
        assert_eq!(next.hours().collect::<Vec<_>>(), vec![(40, 1), (41, 5)]);
    }
}
