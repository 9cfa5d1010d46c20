//! Which transaction ids the `transactions` table holds, per (tenant, month), kept between
//! appends so deduplication does not re-read the table on every commit.
//!
//! Why: dropping re-imported rows needs the ids already stored for every (tenant, month) a
//! batch touches. Reading them from Delta on each commit costs time that grows with the table
//! (a bulk import re-read its own months on every batch). The index loads a (tenant, month)
//! once, adds what this writer commits, and catches up on other writers' commits by reading
//! only the files those commits added.
//!
//! Guarantee: the index is exact for the table version it records ([`IdIndex::version`]) or it
//! is empty; when the log cannot say what changed (a delete, an overwrite, a missing commit
//! file) the caller resets it and reloads from the table. Memory is bounded: past `capacity`
//! ids, the least recently used (tenant, month) entries the current batch does not need are
//! dropped (and reloaded if needed again). Imports write months in runs, so the entries a
//! long import has moved past are the ones dropped.
//!
//! Ids are stored as the 128 bits of their `tx_` + 32-hex form (16 bytes each instead of a
//! 35-byte string plus allocation), in sets hashed with foldhash (seeded per process) rather
//! than SipHash: every committed row is parsed, looked up and inserted, and with SipHash and
//! `u128::from_str_radix` that was a fifth of the commit thread's time.

use std::collections::{HashMap, HashSet};

/// A (tenant, month) key: the unit the index loads and evicts.
pub type PartKey = (String, String);

/// A set of ids (as [`id_bits`]).
pub type IdSet = HashSet<u128, foldhash::fast::RandomState>;

/// The 128-bit value of a `tx_` + 32 hex digit transaction id (`None` for any other form).
pub fn id_bits(id: &str) -> Option<u128> {
    let hex = id.strip_prefix("tx_")?.as_bytes();
    if hex.len() != 32 {
        return None;
    }
    let (high, low) = hex.split_at(16);
    Some(u128::from(hex_u64(high)?) << 64 | u128::from(hex_u64(low)?))
}

/// Sixteen hex digits (either case) as a number.
fn hex_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, &digit| {
        let nibble = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            b'A'..=b'F' => digit - b'A' + 10,
            _ => return None,
        };
        Some(value << 4 | u64::from(nibble))
    })
}

/// Ids per (tenant, month) as of one table version.
#[derive(Debug)]
pub struct IdIndex {
    version: Option<u64>,
    /// tenant → month → ids: nested so lookups by `&str` allocate nothing (the dedupe loop
    /// asks once per row).
    parts: HashMap<String, HashMap<String, Part>>,
    ids: usize,
    capacity: usize,
    /// Bumped by every [`IdIndex::evict_except`]: the batch clock that orders entries by use.
    clock: u64,
}

/// One (tenant, month)'s ids and the batch that last needed them.
#[derive(Debug)]
struct Part {
    ids: IdSet,
    used: u64,
}

impl IdIndex {
    /// An empty index holding at most about `capacity` ids.
    pub fn new(capacity: usize) -> Self {
        IdIndex {
            version: None,
            parts: HashMap::new(),
            ids: 0,
            capacity,
            clock: 0,
        }
    }

    /// The table version the index is exact for (`None`: nothing loaded yet).
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// Forgets everything; the index is now exact (and empty) for `version`.
    pub fn reset(&mut self, version: Option<u64>) {
        self.parts.clear();
        self.ids = 0;
        self.version = version;
    }

    /// Marks the index exact for `version` (the caller has applied every change up to it).
    pub fn set_version(&mut self, version: Option<u64>) {
        self.version = version;
    }

    /// Whether nothing is loaded.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Ids held.
    pub fn len(&self) -> usize {
        self.ids
    }

    /// Whether any tenant's ids for `month` are loaded (a commit adding files to that month
    /// must then be read).
    pub fn has_month(&self, month: &str) -> bool {
        self.parts.values().any(|months| months.contains_key(month))
    }

    /// Whether `key` is loaded.
    pub fn has(&self, key: &PartKey) -> bool {
        self.ids_of(&key.0, &key.1).is_some()
    }

    /// Records a (tenant, month) as loaded with `ids` (none: the table has none).
    pub fn load(&mut self, key: PartKey, ids: impl IntoIterator<Item = u128>) {
        let (tenant, month) = key;
        let ids: IdSet = ids.into_iter().collect();
        self.ids += ids.len();
        let part = Part {
            ids,
            used: self.clock,
        };
        if let Some(previous) = self.parts.entry(tenant).or_default().insert(month, part) {
            self.ids -= previous.ids.len();
        }
    }

    /// The ids of a loaded (tenant, month).
    pub fn ids_of(&self, tenant: &str, month: &str) -> Option<&IdSet> {
        self.parts.get(tenant)?.get(month).map(|part| &part.ids)
    }

    /// Adds ids the table now holds for one (tenant, month); ignored when it is not loaded,
    /// since loading it later reads the table anyway.
    pub fn extend(&mut self, tenant: &str, month: &str, ids: impl IntoIterator<Item = u128>) {
        let part = self
            .parts
            .get_mut(tenant)
            .and_then(|months| months.get_mut(month));
        if let Some(part) = part {
            let before = part.ids.len();
            part.ids.extend(ids);
            self.ids += part.ids.len() - before;
        }
    }

    /// Marks `keep` (the current batch's keys) as just used, then drops the least recently
    /// used keys outside it while the index holds more than its capacity.
    pub fn evict_except(&mut self, keep: &HashSet<PartKey>) {
        self.clock += 1;
        for (tenant, month) in keep {
            if let Some(part) = self
                .parts
                .get_mut(tenant)
                .and_then(|months| months.get_mut(month))
            {
                part.used = self.clock;
            }
        }
        if self.ids <= self.capacity {
            return;
        }
        let mut evictable: Vec<(u64, PartKey)> = self
            .parts
            .iter()
            .flat_map(|(tenant, months)| {
                months
                    .iter()
                    .map(move |(month, part)| (part.used, (tenant.clone(), month.clone())))
            })
            .filter(|(_, key)| !keep.contains(key))
            .collect();
        evictable.sort_unstable();
        for (_, (tenant, month)) in evictable {
            if self.ids <= self.capacity {
                break;
            }
            let Some(months) = self.parts.get_mut(&tenant) else {
                continue;
            };
            if let Some(part) = months.remove(&month) {
                self.ids -= part.ids.len();
            }
            if months.is_empty() {
                self.parts.remove(&tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(index: &IdIndex, tenant: &str, month: &str, id: u128) -> bool {
        index
            .ids_of(tenant, month)
            .is_some_and(|ids| ids.contains(&id))
    }

    fn key(tenant: &str, month: &str) -> PartKey {
        (tenant.to_string(), month.to_string())
    }

    #[test]
    fn id_bits_accepts_only_the_canonical_form() {
        assert_eq!(
            id_bits("tx_0000000000000000000000000000002a"),
            Some(42),
            "hex digits are the id's value"
        );
        assert_eq!(
            id_bits("tx_ffffffffffffffffffffffffffffffff"),
            Some(u128::MAX)
        );
        assert_eq!(
            id_bits("tx_0123456789abcdefFEDCBA9876543210"),
            Some(0x0123456789abcdef_fedcba9876543210),
            "both halves, either case"
        );
        assert_eq!(id_bits("tx_123"), None);
        assert_eq!(id_bits("0000000000000000000000000000002a"), None);
        assert_eq!(id_bits("tx_000000000000000000000000000000g0"), None);
        assert_eq!(id_bits("tx_+0000000000000000000000000000002"), None);
    }

    #[test]
    fn answers_only_for_loaded_keys_and_counts_ids() {
        let mut index = IdIndex::new(100);
        index.load(key("acme", "2024-01"), HashSet::from([1, 2]));
        assert!(contains(&index, "acme", "2024-01", 1));
        assert!(!contains(&index, "acme", "2024-01", 3));
        assert!(!contains(&index, "acme", "2024-02", 1));
        index.extend("acme", "2024-01", [3]);
        index.extend("acme", "2024-01", [3]);
        index.extend("acme", "2024-02", [4]);
        assert!(contains(&index, "acme", "2024-01", 3));
        assert!(
            !index.has(&key("acme", "2024-02")),
            "adding never loads a key"
        );
        assert_eq!(index.len(), 3);
        index.load(key("acme", "2024-01"), HashSet::from([9]));
        assert_eq!(index.len(), 1, "reloading replaces the key's ids");
        assert!(index.has_month("2024-01"));
        assert!(!index.has_month("2024-02"));
    }

    #[test]
    fn eviction_keeps_the_current_batch_keys_and_stops_under_capacity() {
        let mut index = IdIndex::new(4);
        index.load(key("a", "2024-01"), HashSet::from([1, 2, 3]));
        index.load(key("b", "2024-01"), HashSet::from([4, 5, 6]));
        index.load(key("c", "2024-01"), HashSet::from([7]));
        let keep = HashSet::from([key("b", "2024-01")]);
        index.evict_except(&keep);
        assert!(index.has(&key("b", "2024-01")));
        assert!(index.len() <= 4);
        let mut full = IdIndex::new(1);
        full.load(key("a", "2024-01"), HashSet::from([1, 2, 3]));
        full.evict_except(&HashSet::from([key("a", "2024-01")]));
        assert_eq!(
            full.len(),
            3,
            "keys the batch needs stay even over capacity"
        );
    }

    #[test]
    fn eviction_drops_the_least_recently_used_keys_first() {
        let mut index = IdIndex::new(4);
        index.load(key("a", "2024-01"), HashSet::from([1, 2]));
        index.load(key("a", "2024-02"), HashSet::from([3, 4]));
        index.evict_except(&HashSet::from([key("a", "2024-01")]));
        index.load(key("a", "2024-03"), HashSet::from([5, 6]));
        index.evict_except(&HashSet::from([key("a", "2024-03")]));
        assert!(
            index.has(&key("a", "2024-01")),
            "used by the previous batch: kept"
        );
        assert!(
            !index.has(&key("a", "2024-02")),
            "unused since it was loaded: dropped first"
        );
        assert_eq!(index.len(), 4);
    }

    #[test]
    fn reset_forgets_everything_at_a_version() {
        let mut index = IdIndex::new(10);
        index.load(key("a", "2024-01"), HashSet::from([1]));
        index.set_version(Some(3));
        index.reset(Some(7));
        assert!(index.is_empty());
        assert_eq!(index.len(), 0);
        assert_eq!(index.version(), Some(7));
    }
}
