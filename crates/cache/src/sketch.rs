//! The TinyLFU frequency sketch: an approximate, aging popularity counter per key.
//!
//! A count-min sketch with four rows of 4-bit counters packed sixteen to a `u64`.
//! Every access increments the key's four counters (saturating at 15); the estimate is the
//! smallest of the four. After `sample_size` increments all counters are halved, so the sketch
//! forgets old popularity and follows a shifting workload (Einziger, Friedman and Manes,
//! "TinyLFU: A Highly Efficient Cache Admission Policy", 2017).
//!
//! As in Caffeine, a key's four counters all sit in one 64-byte block of eight words, so an
//! increment touches one cache line instead of four. Unlike Caffeine, the table has two words
//! per unit of capacity instead of one (see [`WORDS_PER_ENTRY`]).

/// Table words per unit of capacity: 8 counters per entry in each row.
///
/// A sample between two halvings holds 10 accesses per entry, so a row sees up to 10 distinct
/// keys per entry of capacity, and a count-min estimate over-counts a rare key by about the
/// number of keys per counter. With Caffeine's one word (4 counters per row per entry) the
/// one-off keys that fill a sample inflated the estimates of new keys enough to decide
/// admissions; two words halve that error for 8 more bytes per entry. Measured on the shared
/// traces at 54 points (README, "Hit ratio on real traces"): 35 instead of 31 at or above the
/// best peer, total shortfall 9.6 instead of 13.9 points; four words measured no better.
const WORDS_PER_ENTRY: usize = 2;
const RESET_MASK: u64 = 0x7777_7777_7777_7777;
const ONE_MASK: u64 = 0x1111_1111_1111_1111;

/// Eight words on one cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Block([u64; 8]);

#[derive(Debug)]
pub(crate) struct FrequencySketch {
    table: Box<[Block]>,
    /// The number of blocks, minus one.
    block_mask: usize,
    /// Increments since the last halving.
    size: u64,
    /// Increments between two halvings: ten times the capacity, as in Caffeine.
    sample_size: u64,
}

impl FrequencySketch {
    /// A sketch sized for a cache holding about `capacity` entries.
    pub(crate) fn new(capacity: u64) -> Self {
        let capacity = capacity.clamp(8, 1 << 26);
        let table_len = (usize::try_from(capacity)
            .expect("capacity is clamped to fit usize")
            .next_power_of_two()
            * WORDS_PER_ENTRY)
            .min(1 << 26);
        FrequencySketch {
            table: vec![Block::default(); table_len / 8].into_boxed_slice(),
            block_mask: table_len / 8 - 1,
            size: 0,
            sample_size: capacity.saturating_mul(10),
        }
    }

    /// The key's block, and the hash that picks its four counters within the block.
    #[inline]
    fn locate(&self, hash: u64) -> (usize, u64) {
        let block_hash = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let block_hash = block_hash ^ (block_hash >> 31);
        let counter_hash = block_hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let counter_hash = counter_hash ^ (counter_hash >> 29);
        ((block_hash >> 32) as usize & self.block_mask, counter_hash)
    }

    /// The word within the block and the bit shift of the key's counter in row `row`.
    /// Row `row` owns words `2 * row` and `2 * row + 1`, so the four counters of one key never
    /// share a word.
    #[inline(always)]
    fn counter(counter_hash: u64, row: usize) -> (usize, u64) {
        let bits = counter_hash >> (row * 8);
        let word = ((bits & 1) as usize | (row << 1)) & 7;
        (word, ((bits >> 1) & 15) * 4)
    }

    /// The estimated number of recent accesses to `hash`, from 0 to 15.
    #[inline]
    pub(crate) fn frequency(&self, hash: u64) -> u8 {
        let (block, counter_hash) = self.locate(hash);
        let words = &self.table[block].0;
        let mut min = 15u64;
        for row in 0..4 {
            let (word, shift) = Self::counter(counter_hash, row);
            min = min.min((words[word] >> shift) & 0xf);
        }
        min as u8
    }

    /// Records one access to `hash`.
    #[inline]
    pub(crate) fn increment(&mut self, hash: u64) {
        let (block, counter_hash) = self.locate(hash);
        let words = &mut self.table[block].0;
        let mut added = 0u64;
        for row in 0..4 {
            let (word, shift) = Self::counter(counter_hash, row);
            // Branch-free saturating increment: add one unless the counter is already 15.
            let not_full = u64::from((words[word] >> shift) & 0xf != 0xf);
            words[word] += not_full << shift;
            added |= not_full;
        }
        if added != 0 {
            // The owner ages the sketch (see `advance`), so that it can age its own pending
            // counts at the same moment.
            self.size += 1;
        }
    }

    /// Adds `count` accesses to `hash` at once (saturating), without advancing the aging clock:
    /// the accesses were already counted by [`FrequencySketch::tick`] when they happened.
    pub(crate) fn add(&mut self, hash: u64, count: u8) {
        if count == 0 {
            return;
        }
        let (block, counter_hash) = self.locate(hash);
        let words = &mut self.table[block].0;
        for row in 0..4 {
            let (word, shift) = Self::counter(counter_hash, row);
            let counter = (words[word] >> shift) & 0xf;
            let raised = (counter + u64::from(count)).min(15);
            words[word] += (raised - counter) << shift;
        }
    }

    /// Counts `accesses` kept outside the sketch for now (hits recorded in the entries
    /// themselves). Returns true when the sample is complete: the caller must then halve its
    /// own pending counts and call [`FrequencySketch::halve`].
    pub(crate) fn advance(&mut self, accesses: u64) -> bool {
        self.size += accesses;
        self.size >= self.sample_size
    }

    /// Halves every counter, so old popularity fades.
    pub(crate) fn halve(&mut self) {
        let mut odd_counters = 0u64;
        for word in self.table.iter_mut().flat_map(|block| block.0.iter_mut()) {
            odd_counters += u64::from((*word & ONE_MASK).count_ones());
            *word = (*word >> 1) & RESET_MASK;
        }
        self.size = (self.size - odd_counters / 4) / 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_to_fifteen_and_estimates_never_undercount() {
        let mut sketch = FrequencySketch::new(1024);
        for n in 1..=20u8 {
            sketch.increment(42);
            assert!(sketch.frequency(42) >= n.min(15));
        }
        assert_eq!(sketch.frequency(42), 15);
    }

    #[test]
    fn unseen_keys_are_mostly_zero() {
        let mut sketch = FrequencySketch::new(1024);
        for key in 0..512u64 {
            sketch.increment(key.wrapping_mul(0x2545_f491_4f6c_dd1d));
        }
        let nonzero = (10_000..11_000u64)
            .filter(|key| sketch.frequency(key.wrapping_mul(0x2545_f491_4f6c_dd1d)) > 0)
            .count();
        assert!(nonzero < 100, "too many false positives: {nonzero}");
    }

    #[test]
    fn a_full_sample_of_one_off_keys_leaves_most_unseen_keys_at_zero() {
        // A sample is 10 accesses per entry of capacity; all of them distinct keys is the worst
        // case for over-counting. With 4 counters per row per entry about 70 % of unseen keys
        // would read at least 1 after it; with 8, about 25 %.
        let mut sketch = FrequencySketch::new(1024);
        let mix = |key: u64| key.wrapping_mul(0x2545_f491_4f6c_dd1d);
        for key in 0..10 * 1024 {
            sketch.increment(mix(key));
        }
        let inflated = (1_000_000..1_010_000)
            .filter(|&key| sketch.frequency(mix(key)) > 0)
            .count();
        assert!(
            inflated < 4_000,
            "{inflated} of 10000 unseen keys read above 0"
        );
    }

    #[test]
    fn halving_ages_counts() {
        let mut sketch = FrequencySketch::new(8);
        for _ in 0..8 {
            sketch.increment(7);
        }
        let before = sketch.frequency(7);
        // Fill the sample with other keys; the owner halves once the sample is complete.
        for key in 100..400u64 {
            sketch.increment(key.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        assert!(sketch.advance(0));
        sketch.halve();
        assert!(sketch.frequency(7) < before);
    }
}
