//! Memos of per-text results: [`TextMemo`], bounded, for normalisers that see the same few
//! hundred texts (vendors, category and account names) across millions of rows, and
//! [`LastText`], one entry, for columns whose consecutive cells repeat (dates, currency codes).
//!
//! Why not a `HashMap<String, V>`: std's SipHash over the text was ~2% of an import, and
//! looking a `&str` up in it allocates nothing but still hashes twice on a miss. Here the text
//! is hashed once with xxh3 and the map is keyed by that hash (hashed no further); the text is
//! kept beside the value and compared on every hit, so a hash collision only costs a
//! recomputation, never a wrong answer.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

/// A [`Hasher`] for keys that are already well-mixed 64-bit hashes: it passes them through.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are meant to reach this hasher; anything else still hashes, slowly.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

/// A map from precomputed 64-bit hashes.
pub(crate) type HashKeyed<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

/// Results of a pure function of a text, remembered for up to `limit` distinct texts; when
/// full it starts over, so memory stays bounded on a file of all-distinct texts.
pub(crate) struct TextMemo<V> {
    entries: HashKeyed<(Box<str>, V)>,
    limit: usize,
}

impl<V> TextMemo<V> {
    pub(crate) fn new(limit: usize) -> Self {
        TextMemo {
            entries: HashKeyed::default(),
            limit: limit.max(1),
        }
    }

    /// `compute(text)`, from memory when `text` was seen before.
    pub(crate) fn get(&mut self, text: &str, compute: impl FnOnce(&str) -> V) -> &V {
        let hash = xxhash_rust::xxh3::xxh3_64(text.as_bytes());
        if self.entries.len() >= self.limit && !self.entries.contains_key(&hash) {
            self.entries.clear();
        }
        match self.entries.entry(hash) {
            Entry::Occupied(entry) if &*entry.get().0 == text => &entry.into_mut().1,
            Entry::Occupied(entry) => {
                let slot = entry.into_mut();
                *slot = (Box::from(text), compute(text));
                &slot.1
            }
            Entry::Vacant(entry) => &entry.insert((Box::from(text), compute(text))).1,
        }
    }
}

/// The result for the last text seen: a ledger sorted by date repeats each date cell for a
/// run of rows, a currency column one or two codes, so one comparison replaces the work. Errors
/// are not remembered (the next row asks again), and the text's buffer is reused.
#[derive(Clone, Debug)]
pub(crate) struct LastText<V> {
    text: String,
    value: Option<V>,
}

impl<V> Default for LastText<V> {
    fn default() -> Self {
        LastText {
            text: String::new(),
            value: None,
        }
    }
}

impl<V: Copy> LastText<V> {
    /// `compute(text)`, without calling it when `text` is the last text that succeeded.
    pub(crate) fn get<E>(
        &mut self,
        text: &str,
        compute: impl FnOnce(&str) -> Result<V, E>,
    ) -> Result<V, E> {
        if let Some(value) = self.value
            && self.text == text
        {
            return Ok(value);
        }
        let value = compute(text)?;
        self.text.clear();
        self.text.push_str(text);
        self.value = Some(value);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_text_is_answered_from_memory_and_errors_are_not_kept() {
        let mut last = LastText::default();
        let mut calls = 0;
        let mut parse = |last: &mut LastText<u32>, text: &str| {
            last.get(text, |t| {
                calls += 1;
                t.parse::<u32>()
            })
        };
        assert_eq!(parse(&mut last, "7"), Ok(7));
        assert_eq!(parse(&mut last, "7"), Ok(7));
        assert!(parse(&mut last, "x").is_err());
        assert!(parse(&mut last, "x").is_err());
        // A failure does not replace the last success.
        assert_eq!(parse(&mut last, "7"), Ok(7));
        assert_eq!(parse(&mut last, "8"), Ok(8));
        assert_eq!(calls, 4);
    }

    #[test]
    fn computes_each_text_once_and_stays_within_its_limit() {
        let mut memo = TextMemo::new(2);
        let mut calls = 0;
        let mut upper = |memo: &mut TextMemo<String>, text: &str| {
            memo.get(text, |t| {
                calls += 1;
                t.to_uppercase()
            })
            .clone()
        };
        assert_eq!(upper(&mut memo, "a"), "A");
        assert_eq!(upper(&mut memo, "a"), "A");
        assert_eq!(upper(&mut memo, "b"), "B");
        assert_eq!(upper(&mut memo, "c"), "C");
        assert_eq!(upper(&mut memo, "c"), "C");
        assert_eq!(calls, 3);
        assert!(memo.entries.len() <= 2);
    }

    #[test]
    fn a_colliding_hash_recomputes_instead_of_answering_for_another_text() {
        let mut memo = TextMemo::new(8);
        let hash = xxhash_rust::xxh3::xxh3_64(b"first");
        // Plant another text under "first"'s hash, as a collision would.
        memo.entries.insert(hash, (Box::from("other"), 1));
        assert_eq!(*memo.get("first", |_| 2), 2);
        assert_eq!(*memo.get("first", |_| 3), 2);
    }
}
