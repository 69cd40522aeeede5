//! Short names (agent ids, stream names) as fixed-size keys, so that finding
//! one on the hot path compares integers instead of calling `memcmp` for
//! every candidate: at a million frames a second those calls were the load
//! tool's largest single cost after the kernel.

/// A name of at most 16 bytes, as its length and its first and last eight
/// bytes (which overlap, or are zero-padded, for shorter names): two names
/// have equal keys exactly when they are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShortKey {
    len: u8,
    head: u64,
    tail: u64,
}

impl ShortKey {
    /// The key of `name`, or `None` when it is longer than 16 bytes.
    #[inline]
    pub fn of(name: &str) -> Option<ShortKey> {
        let b = name.as_bytes();
        let len = b.len();
        if len > 16 {
            return None;
        }
        let (head, tail) = if len >= 8 {
            (word(&b[..8]), word(&b[len - 8..]))
        } else {
            let mut head = 0u64;
            for (i, &c) in b.iter().enumerate() {
                head |= u64::from(c) << (8 * i);
            }
            (head, 0)
        };
        Some(ShortKey {
            len: len as u8,
            head,
            tail,
        })
    }
}

#[inline]
fn word(eight: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(eight);
    u64::from_le_bytes(w)
}

/// Up to this many short ids are searched in a row rather than halved.
const LINEAR: usize = 16;

/// The driven agents' ids, each with its index in the run's list.
#[derive(Debug, Clone, Default)]
pub struct AgentIndex {
    /// Ids of at most 16 bytes, by key, sorted.
    short: Vec<(ShortKey, usize)>,
    /// Longer ids, sorted.
    long: Vec<(String, usize)>,
}

impl AgentIndex {
    /// The index of `agents` (position in the slice = the agent's number).
    pub fn new(agents: &[String]) -> AgentIndex {
        let mut index = AgentIndex::default();
        for (i, a) in agents.iter().enumerate() {
            match ShortKey::of(a) {
                Some(k) => index.short.push((k, i)),
                None => index.long.push((a.clone(), i)),
            }
        }
        index.short.sort_unstable();
        index.long.sort_unstable();
        index
    }

    /// The number of agent `id`, if it is one of the driven agents.
    #[inline]
    pub fn get(&self, id: &str) -> Option<usize> {
        match ShortKey::of(id) {
            // A few agents (the usual run): equality tests in a row, which
            // the processor predicts better than a binary search's branches.
            Some(k) if self.short.len() <= LINEAR => {
                self.short.iter().find(|(s, _)| *s == k).map(|(_, i)| *i)
            }
            Some(k) => self
                .short
                .binary_search_by(|(s, _)| s.cmp(&k))
                .ok()
                .map(|at| self.short[at].1),
            None => self
                .long
                .binary_search_by(|(s, _)| s.as_str().cmp(id))
                .ok()
                .map(|at| self.long[at].1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Equal keys exactly for equal names, whatever their lengths
        /// (including NUL bytes, which zero padding must not confuse).
        #[test]
        fn keys_are_equal_exactly_when_names_are(
            a in "[\\x00a-c0-2/]{0,18}",
            b in "[\\x00a-c0-2/]{0,18}",
        ) {
            match (ShortKey::of(&a), ShortKey::of(&b)) {
                (Some(ka), Some(kb)) => prop_assert_eq!(ka == kb, a == b),
                (None, _) => prop_assert!(a.len() > 16),
                (_, None) => prop_assert!(b.len() > 16),
            }
        }

        /// The index finds every agent and nothing else, short ids and long.
        #[test]
        fn the_index_finds_exactly_the_agents(
            agents in proptest::collection::btree_set("[0-9a]{1,20}", 0..40),
            probes in proptest::collection::vec("[0-9a]{0,20}", 0..12),
        ) {
            let agents: Vec<String> = agents.into_iter().collect();
            let index = AgentIndex::new(&agents);
            for (i, a) in agents.iter().enumerate() {
                prop_assert_eq!(index.get(a), Some(i));
            }
            for p in &probes {
                prop_assert_eq!(index.get(p), agents.iter().position(|a| a == p));
            }
        }
    }

    #[test]
    fn names_that_share_their_ends_differ() {
        // 9 bytes: head and tail overlap in 7; 16 bytes: no overlap.
        assert_ne!(ShortKey::of("100100100"), ShortKey::of("100100101"));
        assert_ne!(ShortKey::of("a\0"), ShortKey::of("a"));
        assert_ne!(
            ShortKey::of("agent/1001001234"),
            ShortKey::of("agent/1001001235")
        );
        assert_eq!(ShortKey::of("x".repeat(17).as_str()), None);
    }
}
