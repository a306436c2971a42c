//! What DynamoDB's TTL does for the table, done for the memory stores: records whose `ttl` has
//! passed are dropped. On DynamoDB every such record carries a `ttl` attribute and AWS deletes it
//! in the background; reads already ignore a lapsed record, so dropping it changes no answer,
//! only how much memory a long-running local server holds (issue 18: without it, the local
//! server kept every idempotency record, ticket and session it ever wrote).
//!
//! Each memory store implements [`Expiring`]; the local server sweeps them all on a timer with
//! its clock (`chatman-local`'s `expiry` module).

use std::collections::HashMap;
use std::hash::Hash;
use time::OffsetDateTime;

/// A memory store that holds records with an expiry.
pub trait Expiring: Send + Sync {
    /// Drops every record DynamoDB's TTL would have deleted by `now`; returns how many.
    fn drop_expired(&self, now: OffsetDateTime) -> usize;
}

/// Keeps the entries of `map` that `live` accepts and gives back the spare capacity once most of
/// it is unused (a `HashMap` never shrinks by itself); returns how many were dropped.
pub fn retain_live<K: Eq + Hash, V>(
    map: &mut HashMap<K, V>,
    mut live: impl FnMut(&K, &V) -> bool,
) -> usize {
    let before = map.len();
    map.retain(|k, v| live(k, v));
    if map.capacity() > 64 && map.len() < map.capacity() / 4 {
        map.shrink_to_fit();
    }
    before - map.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_what_is_not_live_and_gives_capacity_back() {
        let mut map: HashMap<u32, u32> = (0..10_000).map(|i| (i, i)).collect();
        let dropped = retain_live(&mut map, |k, _| *k < 10);
        assert_eq!(dropped, 9_990);
        assert_eq!(map.len(), 10);
        assert!(map.capacity() < 1_000, "capacity {}", map.capacity());
    }
}
