//! The shard map: every shard a stream has had, its hash-key range, its parents, and when it
//! opened and closed. Resharding ([`Reshard`]) never changes a shard: it closes some and adds
//! children with the next free ids, as Kinesis does.
//!
//! - **SplitShard** closes one open shard and opens two children that share its range at the
//!   new starting hash key; each child's `parent` is the split shard.
//! - **MergeShards** closes two open shards whose ranges touch and opens one child over both;
//!   its `parent` is the first shard named, its `adjacent_parent` the second.
//! - **UpdateShardCount** (uniform scaling) reaches `target` open shards of equal ranges
//!   ([`super::hash_ranges`]) by splits and merges, as Kinesis does: first every open shard is
//!   split (in a chain) at each target boundary inside it, then the shards inside each target
//!   range are merged (in a chain) into one. Doubling or halving an even stream takes one round
//!   of splits or merges; other targets leave short-lived shards, closed at once and empty.
//!
//! A closed shard takes no more records; readers finish it and then read its children (after
//! all their parents), which keeps a partition key's records in order across a reshard.
//!
//! The map's encoding (used by the embedded engine's `stream.meta`, version 2; see
//! [`super::disk`]) is, little-endian: shard count `u32`, then per shard in id order its
//! starting hash key `u128`, ending hash key `u128`, parent `u32` and adjacent parent `u32`
//! (`u32::MAX` for none), opened at `u64` and closed at `u64` (epoch ms; `u64::MAX` while open):
//! 56 bytes a shard.

use super::{hash_ranges, ShardId, StreamError};

/// The most shards (open and closed) a stream's map may hold.
pub const MAX_MAP_SHARDS: usize = 100_000;
const NONE_U32: u32 = u32::MAX;
const OPEN_MS: u64 = u64::MAX;
/// One shard's bytes in the encoding.
pub const ENCODED_SHARD_LEN: usize = 56;

/// One shard of the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapShard {
    /// The lowest hash key it owns (or owned).
    pub starting_hash_key: u128,
    /// The highest hash key it owns (or owned), inclusive.
    pub ending_hash_key: u128,
    /// The shard it was split from, or the first of the two it was merged from.
    pub parent: Option<ShardId>,
    /// The second shard it was merged from.
    pub adjacent_parent: Option<ShardId>,
    /// When it opened, epoch ms (0 for a stream's first shards when not known).
    pub opened_ms: u64,
    /// When it closed, epoch ms; `None` while it takes records.
    pub closed_ms: Option<u64>,
}

impl MapShard {
    /// Whether it still takes records.
    pub fn is_open(&self) -> bool {
        self.closed_ms.is_none()
    }
}

/// The open shard whose range holds `key`, by the routes of [`ShardMap::routes`].
pub fn route_in(routes: &[(u128, u32)], key: u128) -> u32 {
    routes[routes.partition_point(|&(start, _)| start <= key) - 1].1
}

/// A change of the shard map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reshard {
    /// SplitShard: `shard` becomes two shards, the second starting at `new_starting_hash_key`.
    Split {
        /// The shard to split.
        shard: ShardId,
        /// The first hash key of the second child: above the shard's first, at most its last.
        new_starting_hash_key: u128,
    },
    /// MergeShards: `shard` and `adjacent` (whose ranges touch) become one shard.
    Merge {
        /// The first parent.
        shard: ShardId,
        /// The second parent.
        adjacent: ShardId,
    },
    /// UpdateShardCount with uniform scaling: `target` open shards of equal ranges.
    Scale {
        /// The number of open shards wanted.
        target: u32,
    },
}

/// Every shard a stream has had, by id (the index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMap {
    shards: Vec<MapShard>,
}

impl ShardMap {
    /// A new stream's map: `count` open shards splitting the hash space evenly.
    pub fn even(count: u32, opened_ms: u64) -> Self {
        let shards = hash_ranges(count)
            .into_iter()
            .map(|(start, end)| MapShard {
                starting_hash_key: start,
                ending_hash_key: end,
                parent: None,
                adjacent_parent: None,
                opened_ms,
                closed_ms: None,
            })
            .collect();
        Self { shards }
    }

    /// Every shard, by id.
    pub fn shards(&self) -> &[MapShard] {
        &self.shards
    }

    /// The shard `id`, if the stream has had it.
    pub fn get(&self, id: ShardId) -> Option<&MapShard> {
        self.shards.get(id.0 as usize)
    }

    /// How many shards are open.
    pub fn open_count(&self) -> usize {
        self.shards.iter().filter(|s| s.is_open()).count()
    }

    /// The open shards' `(starting hash key, id)`, by hash key: contiguous, covering the whole
    /// hash space; route a key to the last whose start is at most the key.
    pub fn routes(&self) -> Vec<(u128, u32)> {
        let mut routes: Vec<(u128, u32)> = (0..self.shards.len() as u32)
            .filter(|&i| self.shards[i as usize].is_open())
            .map(|i| (self.shards[i as usize].starting_hash_key, i))
            .collect();
        routes.sort_unstable();
        routes
    }

    /// The shards whose parent or adjacent parent is `id`, by id.
    pub fn children(&self, id: ShardId) -> Vec<ShardId> {
        (0..self.shards.len() as u32)
            .filter(|&i| {
                let s = &self.shards[i as usize];
                s.parent == Some(id) || s.adjacent_parent == Some(id)
            })
            .map(ShardId)
            .collect()
    }

    /// The map after `change` at `now_ms`, or why `change` is invalid (an unknown or closed
    /// shard, a hash key outside the shard, shards that do not touch, a target below 1).
    pub fn apply(&self, change: Reshard, now_ms: u64) -> Result<Self, StreamError> {
        let mut next = self.clone();
        match change {
            Reshard::Split { shard, new_starting_hash_key } => {
                next.split(shard, new_starting_hash_key, now_ms)?;
            }
            Reshard::Merge { shard, adjacent } => {
                next.merge(shard, adjacent, now_ms)?;
            }
            Reshard::Scale { target } => next.scale(target, now_ms)?,
        }
        if next.shards.len() > MAX_MAP_SHARDS {
            return Err(StreamError::InvalidArgument(format!(
                "the stream would have had {} shards; the most kept is {MAX_MAP_SHARDS}",
                next.shards.len()
            )));
        }
        Ok(next)
    }

    fn open_shard(&self, id: ShardId) -> Result<&MapShard, StreamError> {
        match self.get(id) {
            None => Err(StreamError::InvalidArgument(format!("{id} does not exist"))),
            Some(shard) if !shard.is_open() => {
                Err(StreamError::InvalidArgument(format!("{id} is closed")))
            }
            Some(shard) => Ok(shard),
        }
    }

    fn add(&mut self, child: MapShard) -> ShardId {
        self.shards.push(child);
        ShardId(self.shards.len() as u32 - 1)
    }

    fn split(&mut self, id: ShardId, at: u128, now_ms: u64) -> Result<[ShardId; 2], StreamError> {
        let shard = self.open_shard(id)?;
        let (start, end) = (shard.starting_hash_key, shard.ending_hash_key);
        if at <= start || at > end {
            return Err(StreamError::InvalidArgument(format!(
                "the new starting hash key {at} must be above {start} and at most {end}, \
                 inside {id}"
            )));
        }
        self.shards[id.0 as usize].closed_ms = Some(now_ms);
        let child = |s, e| MapShard {
            starting_hash_key: s,
            ending_hash_key: e,
            parent: Some(id),
            adjacent_parent: None,
            opened_ms: now_ms,
            closed_ms: None,
        };
        Ok([self.add(child(start, at - 1)), self.add(child(at, end))])
    }

    fn merge(&mut self, a: ShardId, b: ShardId, now_ms: u64) -> Result<ShardId, StreamError> {
        if a == b {
            return Err(StreamError::InvalidArgument(format!("{a} cannot be merged with itself")));
        }
        let (first, second) = (self.open_shard(a)?, self.open_shard(b)?);
        let touching = first.ending_hash_key.checked_add(1) == Some(second.starting_hash_key)
            || second.ending_hash_key.checked_add(1) == Some(first.starting_hash_key);
        if !touching {
            return Err(StreamError::InvalidArgument(format!(
                "{a} and {b} are not adjacent: their hash-key ranges do not touch"
            )));
        }
        let range = (
            first.starting_hash_key.min(second.starting_hash_key),
            first.ending_hash_key.max(second.ending_hash_key),
        );
        self.shards[a.0 as usize].closed_ms = Some(now_ms);
        self.shards[b.0 as usize].closed_ms = Some(now_ms);
        Ok(self.add(MapShard {
            starting_hash_key: range.0,
            ending_hash_key: range.1,
            parent: Some(a),
            adjacent_parent: Some(b),
            opened_ms: now_ms,
            closed_ms: None,
        }))
    }

    fn scale(&mut self, target: u32, now_ms: u64) -> Result<(), StreamError> {
        if target == 0 {
            return Err(StreamError::InvalidArgument("a stream needs at least one shard".into()));
        }
        let goal = hash_ranges(target);
        // Split every open shard at each goal boundary strictly inside it.
        for &(boundary, _) in goal.iter().skip(1) {
            let (_, id) = *self
                .routes()
                .iter()
                .rev()
                .find(|&&(start, _)| start <= boundary)
                .expect("the open shards cover the hash space");
            if self.shards[id as usize].starting_hash_key != boundary {
                self.split(ShardId(id), boundary, now_ms)?;
            }
        }
        // Merge the open shards inside each goal range, in a chain, into one.
        for &(start, end) in &goal {
            loop {
                let inside: Vec<u32> = self
                    .routes()
                    .into_iter()
                    .filter(|&(s, _)| s >= start && s <= end)
                    .map(|(_, id)| id)
                    .collect();
                if inside.len() < 2 {
                    break;
                }
                self.merge(ShardId(inside[0]), ShardId(inside[1]), now_ms)?;
            }
        }
        Ok(())
    }

    /// The map's bytes (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.shards.len() * ENCODED_SHARD_LEN);
        out.extend_from_slice(&(self.shards.len() as u32).to_le_bytes());
        for s in &self.shards {
            out.extend_from_slice(&s.starting_hash_key.to_le_bytes());
            out.extend_from_slice(&s.ending_hash_key.to_le_bytes());
            out.extend_from_slice(&s.parent.map_or(NONE_U32, |p| p.0).to_le_bytes());
            out.extend_from_slice(&s.adjacent_parent.map_or(NONE_U32, |p| p.0).to_le_bytes());
            out.extend_from_slice(&s.opened_ms.to_le_bytes());
            out.extend_from_slice(&s.closed_ms.unwrap_or(OPEN_MS).to_le_bytes());
        }
        out
    }

    /// A map back from [`ShardMap::encode`]'s bytes; the error says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let count = bytes.get(0..4).ok_or("no shard count")?;
        let count = u32::from_le_bytes(count.try_into().map_err(|_| "no shard count")?) as usize;
        if count == 0 || count > MAX_MAP_SHARDS || bytes.len() != 4 + count * ENCODED_SHARD_LEN {
            return Err(format!("{} bytes do not hold a map of {count} shards", bytes.len()));
        }
        let shards = bytes[4..]
            .chunks_exact(ENCODED_SHARD_LEN)
            .map(|b| {
                let u128_at = |at: usize| u128::from_le_bytes(b[at..at + 16].try_into().unwrap());
                let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
                let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
                let id = |v: u32| (v != NONE_U32).then_some(ShardId(v));
                MapShard {
                    starting_hash_key: u128_at(0),
                    ending_hash_key: u128_at(16),
                    parent: id(u32_at(32)),
                    adjacent_parent: id(u32_at(36)),
                    opened_ms: u64_at(40),
                    closed_ms: Some(u64_at(48)).filter(|&ms| ms != OPEN_MS),
                }
            })
            .collect();
        let map = Self { shards };
        map.check()?;
        Ok(map)
    }

    /// Checks that the open shards cover the hash space without gap or overlap, and that
    /// parents are earlier shards.
    fn check(&self) -> Result<(), String> {
        let mut expected = Some(0u128);
        for (start, id) in self.routes() {
            let shard = &self.shards[id as usize];
            if Some(start) != expected || shard.ending_hash_key < start {
                return Err(format!("open shard {} leaves a gap or overlaps", ShardId(id)));
            }
            expected = shard.ending_hash_key.checked_add(1);
        }
        if expected.is_some() {
            return Err("the open shards do not cover the hash space".into());
        }
        for (i, s) in self.shards.iter().enumerate() {
            if [s.parent, s.adjacent_parent].into_iter().flatten().any(|p| p.0 as usize >= i) {
                return Err(format!("{} names a later shard as its parent", ShardId(i as u32)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_ranges(map: &ShardMap) -> Vec<(u128, u128)> {
        map.routes()
            .iter()
            .map(|&(_, id)| {
                let s = &map.shards()[id as usize];
                (s.starting_hash_key, s.ending_hash_key)
            })
            .collect()
    }

    #[test]
    fn a_split_closes_its_shard_and_opens_two_children_over_its_range() {
        let map = ShardMap::even(2, 5);
        let middle = 1u128 << 126;
        let next = map
            .apply(Reshard::Split { shard: ShardId(0), new_starting_hash_key: middle }, 9)
            .unwrap();
        assert_eq!(next.shards().len(), 4);
        assert_eq!(next.shards()[0].closed_ms, Some(9));
        assert_eq!(next.children(ShardId(0)), [ShardId(2), ShardId(3)]);
        assert_eq!(next.shards()[2].ending_hash_key, middle - 1);
        assert_eq!(next.shards()[3].starting_hash_key, middle);
        assert_eq!(next.routes().iter().map(|r| r.1).collect::<Vec<_>>(), [2, 3, 1]);
        assert_eq!(ShardMap::decode(&next.encode()), Ok(next.clone()));
        for bad in [0, u128::MAX] {
            let split = Reshard::Split { shard: ShardId(0), new_starting_hash_key: bad };
            assert!(map.apply(split, 9).is_err(), "{bad}");
        }
        let closed = Reshard::Split { shard: ShardId(0), new_starting_hash_key: middle };
        assert!(next.apply(closed, 10).is_err());
    }

    #[test]
    fn a_merge_needs_two_open_shards_whose_ranges_touch() {
        let map = ShardMap::even(3, 0);
        assert!(map.apply(Reshard::Merge { shard: ShardId(0), adjacent: ShardId(2) }, 1).is_err());
        assert!(map.apply(Reshard::Merge { shard: ShardId(1), adjacent: ShardId(1) }, 1).is_err());
        let next =
            map.apply(Reshard::Merge { shard: ShardId(2), adjacent: ShardId(1) }, 1).unwrap();
        let child = &next.shards()[3];
        assert_eq!((child.parent, child.adjacent_parent), (Some(ShardId(2)), Some(ShardId(1))));
        assert_eq!(child.starting_hash_key, map.shards()[1].starting_hash_key);
        assert_eq!(child.ending_hash_key, u128::MAX);
    }

    #[test]
    fn uniform_scaling_reaches_even_ranges_from_any_map_through_splits_and_merges() {
        for (from, to) in [(4, 8), (8, 4), (3, 5), (5, 3), (1, 2), (2, 1), (4, 4), (7, 13)] {
            let map = ShardMap::even(from, 0);
            let next = map.apply(Reshard::Scale { target: to }, 1).unwrap();
            assert_eq!(open_ranges(&next), hash_ranges(to), "{from} -> {to}");
            ShardMap::decode(&next.encode()).unwrap();
            for shard in &next.shards()[from as usize..] {
                assert!(shard.parent.is_some(), "{from} -> {to}: every new shard has a parent");
            }
        }
        let doubled = ShardMap::even(4, 0).apply(Reshard::Scale { target: 8 }, 1).unwrap();
        assert_eq!(doubled.shards().len(), 12, "doubling is one split of each shard");
        assert!(ShardMap::even(2, 0).apply(Reshard::Scale { target: 0 }, 1).is_err());
    }

    #[test]
    fn a_damaged_map_is_refused() {
        let bytes = ShardMap::even(2, 0).encode();
        assert!(ShardMap::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut gap = bytes.clone();
        gap[4] = 1; // shard 0 no longer starts at 0
        assert!(ShardMap::decode(&gap).is_err());
    }
}
