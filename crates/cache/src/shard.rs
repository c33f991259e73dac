//! One shard of the cache: a hash table over a slab of nodes, and the W-TinyLFU policy.
//!
//! The policy is W-TinyLFU (Einziger, Friedman and Manes, "TinyLFU", 2017) as Caffeine lays it
//! out, with two changes, both measured on the shared traces (figures in the README):
//! - new entries enter a small *window*;
//! - entries leaving the window become *candidates* for the main space, made of a *probation*
//!   and a *protected* segment;
//! - a candidate gets in only when the TinyLFU sketch says it is more popular than the entry it
//!   would push out (the probation segment's oldest entry); this is what resists scans, since a
//!   one-off key never beats an established one;
//! - change 1, the window adapts by ARC's rule instead of Caffeine's hill climber: keys evicted
//!   from the window and from the main space are remembered (by hash) in two ghost lists sized
//!   like their segments; a new key found in the main ghost shrinks the window, one found in the
//!   window's ghost grows it, but only if the key is not already popular (see
//!   [`RECENCY_EVIDENCE_MAX_FREQUENCY`]). The hill climber moved the window by noise on short
//!   traces and lost to LRU on recency-heavy ones (web07, sprite);
//! - change 2, reads only take the shard's *shared* lock and write nothing but two small
//!   atomics in the node: a pending-hit count (folded into the sketch when the node leaves, and
//!   added to the sketch's estimate meanwhile) and a referenced bit. The window and protected
//!   segments are therefore CLOCK queues (a referenced node gets a second chance instead of a
//!   relink per hit), and a hit in probation promotes the node lazily, when it reaches the
//!   probation end, as in S3-FIFO. This took a hit from about 290 instructions to about 125
//!   and lets readers of one shard run in parallel.
//!
//! Nodes live in a slab (`Vec<Option<Node>>`) and link to each other by index, so the three
//! queues are intrusive doubly linked lists without pointers or per-node allocations.
//! `&self` methods run under the shard's shared lock, `&mut self` ones under its exclusive lock.

use std::borrow::Borrow;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};

use hashbrown::HashTable;

use crate::clock::Clock;
use crate::metrics::{Counters, Striped};
use crate::sketch::FrequencySketch;

/// The index that means "no node".
const NIL: u32 = u32::MAX;
/// The expiry time of an entry that never expires.
pub(crate) const NEVER: u64 = u64::MAX;

/// The main space is 99 % of the capacity at the start; the window gets the rest.
const PERCENT_MAIN: f64 = 0.99;
/// The protected segment's share of the main space.
const PERCENT_MAIN_PROTECTED: f64 = 0.80;
/// The most the window moves on one ghost hit, as a share of the capacity (Caffeine's hill
/// climber uses the same full step).
const MAX_WINDOW_STEP: f64 = 0.0625;
/// A key back from the window ghost only argues for a larger window when the sketch has seen
/// it at most this often: then it is being reused soon after a first sighting, which is what a
/// larger window catches. A popular key coming back (every key of a loop, for one) says nothing
/// about the window, and growing the window on such evidence drives the cache towards LRU,
/// which on a loop longer than the cache hits nothing.
const RECENCY_EVIDENCE_MAX_FREQUENCY: u8 = 1;
/// At most this many entries move between segments in one adjustment, to bound the pause.
const QUEUE_TRANSFER_THRESHOLD: usize = 1_000;
/// A candidate at least this popular is admitted with probability 1/128 even when it loses,
/// so an attacker who knows the hash cannot pin a victim in place forever.
const ADMIT_HASHDOS_THRESHOLD: u8 = 6;

/// How much a warm-up entry raises its key's sketch counters: enough that a key seen once
/// (a one-hit wonder, estimate 1) does not win the admission contest against it (ties keep the
/// resident), without pinning it: two halvings of the sketch bring it back to 0 unless it is
/// read meanwhile.
pub(crate) const WARM_FREQUENCY: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queue {
    Window = 0,
    Probation = 1,
    Protected = 2,
}

#[derive(Debug)]
struct Node<K, V> {
    key: K,
    value: V,
    hash: u64,
    /// Clock nanoseconds at which the entry expires, or [`NEVER`].
    expires_at: u64,
    /// Clock nanoseconds from which a hit through the loader path refreshes the entry, or
    /// [`NEVER`] (see `CacheBuilder::refresh_ahead`).
    refresh_at: u64,
    weight: u32,
    queue: Queue,
    /// Hits not yet added to the sketch, at most 15 like a sketch counter (see `record_hit`).
    /// Atomic because hits happen under the shard's shared lock.
    pending_hits: AtomicU8,
    /// Set by a hit; read when the node reaches the end of its queue (CLOCK's second chance,
    /// or promotion out of probation).
    referenced: AtomicBool,
    /// Towards the least recently used end.
    prev: u32,
    /// Towards the most recently used end.
    next: u32,
}

impl<K, V> Node<K, V> {
    /// Records a hit with plain loads and stores: under the shared lock two threads may race
    /// and lose one increment, which a frequency estimate can afford. Nothing is written when
    /// the node is already saturated and referenced, so the hottest keys do not bounce their
    /// cache lines between cores.
    #[inline]
    fn record_hit(&self) {
        let pending = self.pending_hits.load(Relaxed);
        if pending < 15 {
            self.pending_hits.store(pending + 1, Relaxed);
        }
        if !self.referenced.load(Relaxed) {
            self.referenced.store(true, Relaxed);
        }
    }

    fn take_referenced(&mut self) -> bool {
        std::mem::take(self.referenced.get_mut())
    }
}

/// When an entry stops being served, and when a hit through the loader path starts refreshing
/// it; clock nanoseconds, [`NEVER`] for never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadlines {
    pub(crate) expires_at: u64,
    pub(crate) refresh_at: u64,
}

/// An intrusive list over the slab: `head` is the least recently used end.
#[derive(Debug, Clone, Copy)]
struct Deque {
    head: u32,
    tail: u32,
    weight: u64,
}

impl Default for Deque {
    fn default() -> Self {
        Deque {
            head: NIL,
            tail: NIL,
            weight: 0,
        }
    }
}

/// Hashes of recently evicted keys, oldest first, with a set for membership.
#[derive(Debug, Default)]
struct Ghost {
    order: std::collections::VecDeque<u64>,
    members: hashbrown::HashSet<u64, foldhash::fast::FixedState>,
}

impl Ghost {
    fn len(&self) -> usize {
        self.members.len()
    }

    fn push(&mut self, hash: u64, capacity: usize) {
        if self.members.insert(hash) {
            self.order.push_back(hash);
        }
        while self.members.len() > capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.members.remove(&old);
                }
                None => break,
            }
        }
        // Entries removed by a hit stay in `order` as tombstones; drop them when they pile up.
        if self.order.len() > 2 * capacity.max(8) {
            let members = &self.members;
            self.order.retain(|h| members.contains(h));
        }
    }

    fn take(&mut self, hash: u64) -> bool {
        self.members.remove(&hash)
    }
}

/// The time, read from the clock at most once and only when an entry with a TTL needs it.
///
/// It is the context of one operation, so it also carries the read path's one other output:
/// whether the hit-ratio watch is due for a check.
pub(crate) struct LazyNow<'a> {
    clock: &'a dyn Clock,
    nanos: Option<u64>,
    /// Set by a miss whose stripe count reached the watch's check interval; the caller then
    /// evaluates the watch once it has released the shard's lock.
    pub(crate) watch_due: bool,
}

impl<'a> LazyNow<'a> {
    pub(crate) fn new(clock: &'a dyn Clock) -> Self {
        LazyNow {
            clock,
            nanos: None,
            watch_due: false,
        }
    }

    pub(crate) fn nanos(&mut self) -> u64 {
        *self
            .nanos
            .get_or_insert_with(|| u64::try_from(self.clock.now().as_nanos()).unwrap_or(NEVER))
    }

    fn is_expired(&mut self, expires_at: u64) -> bool {
        expires_at != NEVER && self.nanos() >= expires_at
    }
}

#[derive(Debug)]
pub(crate) struct Shard<K, V> {
    /// Read-path counters, striped because reads share the lock.
    hits: Striped,
    misses: Striped,
    /// A miss whose stripe count `c` has `c & watch_mask == 0` is due to check the hit-ratio
    /// watch; `u64::MAX` (never, for a count of at least 1) without a watch. Hits never check,
    /// so the hit path is the same with or without a watch.
    watch_mask: u64,
    /// How long after its expiry an entry is kept to be served if a load fails, in clock
    /// nanoseconds; 0 without `stale_if_error`.
    stale_grace: u64,
    table: HashTable<u32>,
    nodes: Vec<Option<Node<K, V>>>,
    free: Vec<u32>,
    queues: [Deque; 3],
    max_weight: u64,
    window_max: u64,
    protected_max: u64,
    total_weight: u64,
    sketch: FrequencySketch,
    rng_state: u64,
    /// `hits` when the sketch last aged: hits advance the aging clock too.
    hits_at_age: u64,
    window_ghost: Ghost,
    main_ghost: Ghost,
    counters: Counters,
}

/// What a read found.
pub(crate) enum Found<'a, V> {
    Live(&'a V),
    Expired,
    Absent,
}

/// What happened to the value that was in the cache under an inserted key.
pub(crate) enum Replaced<V> {
    /// There was no entry.
    Nothing,
    /// The entry was live and its value is returned.
    Value(V),
}

impl<K, V> Shard<K, V> {
    /// An empty shard holding entries of total weight at most `max_weight`.
    pub(crate) fn new(max_weight: u64, seed: u64) -> Self {
        let window_max = max_weight - (PERCENT_MAIN * max_weight as f64) as u64;
        let protected_max = (PERCENT_MAIN_PROTECTED * (max_weight - window_max) as f64) as u64;
        Shard {
            table: HashTable::new(),
            nodes: Vec::new(),
            free: Vec::new(),
            queues: [Deque::default(); 3],
            max_weight,
            window_max,
            protected_max,
            total_weight: 0,
            sketch: FrequencySketch::new(max_weight),
            rng_state: seed | 1,
            hits: Striped::default(),
            misses: Striped::default(),
            watch_mask: u64::MAX,
            stale_grace: 0,
            hits_at_age: 0,
            window_ghost: Ghost::default(),
            main_ghost: Ghost::default(),
            counters: Counters::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn weighted_size(&self) -> u64 {
        self.total_weight
    }

    #[inline]
    fn node(&self, idx: u32) -> &Node<K, V> {
        self.nodes[idx as usize]
            .as_ref()
            .expect("linked index points at a live node")
    }

    #[inline]
    fn node_mut(&mut self, idx: u32) -> &mut Node<K, V> {
        self.nodes[idx as usize]
            .as_mut()
            .expect("linked index points at a live node")
    }

    #[inline]
    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let nodes = &self.nodes;
        self.table
            .find(hash, |&idx| match &nodes[idx as usize] {
                Some(node) => node.key.borrow() == key,
                None => false,
            })
            .copied()
    }

    /// Looks `key` up as a read under the shared lock. A live entry records a hit (counted,
    /// and noted in the node for the policy); an absent one counts a miss; an expired one is
    /// reported so the caller can remove it under the exclusive lock with [`Shard::expire`].
    #[inline]
    pub(crate) fn lookup<Q>(&self, hash: u64, key: &Q, now: &mut LazyNow<'_>) -> Found<'_, V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let Some(idx) = self.find(hash, key) else {
            if self.misses.increment() & self.watch_mask == 0 {
                now.watch_due = true;
            }
            return Found::Absent;
        };
        let node = self.node(idx);
        if now.is_expired(node.expires_at) {
            return Found::Expired;
        }
        node.record_hit();
        self.hits.increment();
        Found::Live(&node.value)
    }

    /// Removes `key` if its entry has expired (and is past its stale-if-error grace period,
    /// if any), and counts the read that found it as a miss.
    pub(crate) fn expire<Q>(&mut self, hash: u64, key: &Q, now: &mut LazyNow<'_>)
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if let Some(idx) = self.find(hash, key)
            && now.is_expired(self.node(idx).expires_at)
            && !self.within_grace(self.node(idx).expires_at, now)
        {
            self.unlink_and_free(idx);
            self.counters.expirations += 1;
        }
        self.misses.increment_mut();
    }

    /// [`Shard::lookup`] under the exclusive lock: an expired entry is removed at once.
    pub(crate) fn get<Q>(&mut self, hash: u64, key: &Q, now: &mut LazyNow<'_>) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if let Found::Expired = self.lookup(hash, key, now) {
            self.expire(hash, key, now);
            return None;
        }
        // `lookup` counted the hit or miss; find the value again to return it, since the
        // borrow checker cannot see that the `Expired` branch returned.
        self.find(hash, key).map(|idx| &self.node(idx).value)
    }

    /// Sets how long expired entries are kept for stale-if-error (clock nanoseconds).
    pub(crate) fn set_stale_grace(&mut self, grace_nanos: u64) {
        self.stale_grace = grace_nanos;
    }

    /// Whether an expired entry is still within its stale-if-error grace period.
    fn within_grace(&self, expires_at: u64, now: &mut LazyNow<'_>) -> bool {
        self.stale_grace > 0 && now.nanos() < expires_at.saturating_add(self.stale_grace)
    }

    /// The value of `key` if its entry has expired but is within the stale-if-error grace
    /// period; `None` for a live entry, a missing one, or without a grace period.
    pub(crate) fn stale<Q>(&self, hash: u64, key: &Q, now: &mut LazyNow<'_>) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if self.stale_grace == 0 {
            return None;
        }
        let node = self.node(self.find(hash, key)?);
        (now.is_expired(node.expires_at) && self.within_grace(node.expires_at, now))
            .then_some(&node.value)
    }

    /// Counts a failed load answered with a stale value.
    pub(crate) fn count_stale_served(&mut self) {
        self.counters.stale_served += 1;
    }

    /// Whether `key` has a live entry whose refresh time has come (see
    /// `CacheBuilder::refresh_ahead`); neither the policy nor the counters see this look-up.
    pub(crate) fn refresh_due<Q>(&self, hash: u64, key: &Q, now: &mut LazyNow<'_>) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.find(hash, key).is_some_and(|idx| {
            let node = self.node(idx);
            node.refresh_at != NEVER
                && now.nanos() >= node.refresh_at
                && !now.is_expired(node.expires_at)
        })
    }

    /// Counts a refresh started by a hit in the refresh window.
    pub(crate) fn count_refresh(&mut self) {
        self.counters.refreshes += 1;
    }

    /// Counts a refresh whose loader returned an error.
    pub(crate) fn count_refresh_failure(&mut self) {
        self.counters.refresh_failures += 1;
    }

    /// Sets the hit-ratio watch's check schedule (see `HitRatioWatch::check_mask`).
    pub(crate) fn set_watch_mask(&mut self, mask: u64) {
        self.watch_mask = mask;
    }

    /// Hits and all lookups so far, for the hit-ratio watch: two striped sums, no copy of the
    /// other counters.
    pub(crate) fn hits_and_lookups(&self) -> (u64, u64) {
        let hits = self.hits.sum();
        (hits, hits + self.misses.sum())
    }

    /// This shard's counters.
    pub(crate) fn counters(&self) -> Counters {
        Counters {
            hits: self.hits.sum(),
            misses: self.misses.sum(),
            ..self.counters
        }
    }

    /// Whether `key` has a live entry; neither the policy nor the counters see this look-up.
    pub(crate) fn contains<Q>(&self, hash: u64, key: &Q, now: &mut LazyNow<'_>) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.find(hash, key)
            .is_some_and(|idx| !now.is_expired(self.node(idx).expires_at))
    }

    /// Inserts or replaces `key`, then evicts until the shard fits its capacity again.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        weight: u32,
        deadlines: Deadlines,
        now: &mut LazyNow<'_>,
    ) -> Replaced<V>
    where
        K: Eq,
    {
        if let Some(idx) = self.find(hash, &key) {
            let was_expired = now.is_expired(self.node(idx).expires_at);
            let node = self.node_mut(idx);
            let old_value = std::mem::replace(&mut node.value, value);
            let old_weight = std::mem::replace(&mut node.weight, weight);
            node.expires_at = deadlines.expires_at;
            node.refresh_at = deadlines.refresh_at;
            let queue = node.queue;
            self.queues[queue as usize].weight =
                self.queues[queue as usize].weight - u64::from(old_weight) + u64::from(weight);
            self.total_weight = self.total_weight - u64::from(old_weight) + u64::from(weight);
            // Replacing an expired entry is an expiration followed by an insert, so that
            // `inserts == removals + evictions + expirations + len` holds.
            if was_expired {
                self.counters.expirations += 1;
                self.counters.inserts += 1;
            } else {
                self.counters.updates += 1;
            }
            self.node(idx).record_hit();
            if u64::from(weight) > self.max_weight {
                // Too heavy to keep: drop it alone rather than evict everything else first.
                self.evict_node(idx, now);
            }
            self.evict(now);
            return if was_expired {
                Replaced::Nothing
            } else {
                Replaced::Value(old_value)
            };
        }

        let idx = self.store_node(hash, key, value, deadlines, weight, Queue::Window);
        self.push_back(Queue::Window, idx);
        self.total_weight += u64::from(weight);
        self.adapt_window(hash, weight);
        self.sketch.increment(hash);
        self.maybe_age();
        self.counters.inserts += 1;
        self.evict(now);
        Replaced::Nothing
    }

    /// Allocates a node for a new key and indexes it in the table; the caller links it into
    /// `queue`'s list and accounts for its weight.
    fn store_node(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        deadlines: Deadlines,
        weight: u32,
        queue: Queue,
    ) -> u32 {
        let idx = self.alloc(Node {
            key,
            value,
            hash,
            expires_at: deadlines.expires_at,
            refresh_at: deadlines.refresh_at,
            weight,
            queue,
            pending_hits: AtomicU8::new(0),
            referenced: AtomicBool::new(false),
            prev: NIL,
            next: NIL,
        });
        let nodes = &self.nodes;
        self.table.insert_unique(hash, idx, |&other| {
            nodes[other as usize]
                .as_ref()
                .expect("table points at live nodes")
                .hash
        });
        idx
    }

    /// Stores warm-up entries (most important first) directly in the main space, bypassing the
    /// window and the admission contest, while they fit in the room left: the first ones go to
    /// the protected segment up to its share, the rest to probation. Keys already present, and
    /// entries too heavy for the room left, are skipped. Each stored key's sketch counters are
    /// raised by [`WARM_FREQUENCY`]. Returns how many entries were stored.
    pub(crate) fn warm(
        &mut self,
        entries: impl IntoIterator<Item = (u64, K, V, u32)>,
        deadlines: Deadlines,
    ) -> usize
    where
        K: Eq,
    {
        let mut room = self.max_weight.saturating_sub(self.total_weight);
        let mut protected_room = self
            .protected_max
            .saturating_sub(self.queues[Queue::Protected as usize].weight);
        // Indices in the order given; linked at the end in reverse, so that the most important
        // entry ends at the most recently used end of its segment.
        let mut stored: Vec<u32> = Vec::new();
        for (hash, key, value, weight) in entries {
            if room == 0 {
                break;
            }
            let weight_u64 = u64::from(weight);
            if weight_u64 > room || self.find(hash, &key).is_some() {
                continue;
            }
            room -= weight_u64;
            let queue = if weight_u64 <= protected_room {
                protected_room -= weight_u64;
                Queue::Protected
            } else {
                Queue::Probation
            };
            let idx = self.store_node(hash, key, value, deadlines, weight, queue);
            self.total_weight += weight_u64;
            self.sketch.add(hash, WARM_FREQUENCY);
            self.counters.inserts += 1;
            stored.push(idx);
        }
        for &idx in stored.iter().rev() {
            let queue = self.node(idx).queue;
            self.push_back(queue, idx);
        }
        stored.len()
    }

    /// Appends this shard's live entries to `out` with their popularity estimate, hottest
    /// first within the shard: by segment (protected, probation, window), most recently used
    /// first within a segment; the caller sorts by the estimate.
    pub(crate) fn collect_hot(&self, now: &mut LazyNow<'_>, out: &mut Vec<(u8, K, V)>)
    where
        K: Clone,
        V: Clone,
    {
        for queue in [Queue::Protected, Queue::Probation, Queue::Window] {
            let mut idx = self.queues[queue as usize].tail;
            while idx != NIL {
                let node = self.node(idx);
                if !now.is_expired(node.expires_at) {
                    out.push((self.frequency(idx), node.key.clone(), node.value.clone()));
                }
                idx = node.prev;
            }
        }
    }

    /// Removes `key`; returns its value if the entry was live.
    pub(crate) fn remove<Q>(&mut self, hash: u64, key: &Q, now: &mut LazyNow<'_>) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let idx = self.find(hash, key)?;
        let node = self.unlink_and_free(idx);
        if now.is_expired(node.expires_at) {
            self.counters.expirations += 1;
            return None;
        }
        self.counters.removals += 1;
        Some(node.value)
    }

    /// Removes every entry for which `remove(key, value)` is true; returns how many live ones
    /// went. Expired entries met on the way are dropped and counted as expirations.
    pub(crate) fn remove_where(
        &mut self,
        now: &mut LazyNow<'_>,
        mut remove: impl FnMut(&K, &V) -> bool,
    ) -> usize {
        let mut removed = 0;
        for idx in 0..self.nodes.len() {
            let Some(node) = &self.nodes[idx] else {
                continue;
            };
            if now.is_expired(node.expires_at) {
                self.unlink_and_free(idx as u32);
                self.counters.expirations += 1;
            } else if remove(&node.key, &node.value) {
                self.unlink_and_free(idx as u32);
                self.counters.removals += 1;
                removed += 1;
            }
        }
        removed
    }

    /// Ages the sketch once a sample's worth of accesses has passed: the misses it counted
    /// itself plus the hits recorded in nodes since the last aging.
    fn maybe_age(&mut self) {
        let hits = self.hits.sum();
        let hit_ticks = hits - self.hits_at_age;
        if self.sketch.advance(hit_ticks) {
            self.sketch.halve();
            for node in self.nodes.iter_mut().flatten() {
                *node.pending_hits.get_mut() /= 2;
            }
        }
        self.hits_at_age = hits;
    }

    /// The TinyLFU estimate of a cached node's popularity: the sketch plus its pending hits.
    fn frequency(&self, idx: u32) -> u8 {
        let node = self.node(idx);
        (self.sketch.frequency(node.hash) + node.pending_hits.load(Relaxed)).min(15)
    }

    fn alloc(&mut self, node: Node<K, V>) -> u32 {
        if let Some(idx) = self.free.pop() {
            self.nodes[idx as usize] = Some(node);
            idx
        } else {
            let idx = u32::try_from(self.nodes.len()).expect("a shard holds fewer than 2^32 nodes");
            assert!(idx != NIL, "a shard holds fewer than 2^32 - 1 nodes");
            self.nodes.push(Some(node));
            idx
        }
    }

    /// Takes the node out of its queue, the table and the slab.
    fn unlink_and_free(&mut self, idx: u32) -> Node<K, V> {
        self.unlink(idx);
        let node = self.nodes[idx as usize]
            .take()
            .expect("freed index points at a live node");
        self.table
            .find_entry(node.hash, |&other| other == idx)
            .expect("every live node is in the table")
            .remove();
        self.free.push(idx);
        self.total_weight -= u64::from(node.weight);
        self.sketch.add(node.hash, node.pending_hits.load(Relaxed));
        node
    }

    fn unlink(&mut self, idx: u32) {
        let (prev, next, queue, weight) = {
            let node = self.node(idx);
            (node.prev, node.next, node.queue, node.weight)
        };
        let deque = &mut self.queues[queue as usize];
        deque.weight -= u64::from(weight);
        if prev == NIL {
            deque.head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.queues[queue as usize].tail = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
    }

    fn push_back(&mut self, queue: Queue, idx: u32) {
        let tail = self.queues[queue as usize].tail;
        let node = self.node_mut(idx);
        node.queue = queue;
        node.prev = tail;
        node.next = NIL;
        let weight = node.weight;
        if tail == NIL {
            self.queues[queue as usize].head = idx;
        } else {
            self.node_mut(tail).next = idx;
        }
        let deque = &mut self.queues[queue as usize];
        deque.tail = idx;
        deque.weight += u64::from(weight);
    }

    fn move_to_back(&mut self, queue: Queue, idx: u32) {
        self.unlink(idx);
        self.push_back(queue, idx);
    }

    fn evict_node(&mut self, idx: u32, now: &mut LazyNow<'_>) {
        let node = self.unlink_and_free(idx);
        if now.is_expired(node.expires_at) {
            self.counters.expirations += 1;
        } else {
            self.counters.evictions += 1;
        }
    }

    /// How many entries fit in `weight` units of capacity, at the current mean entry weight.
    fn entries_in(&self, weight: u64) -> usize {
        let mean_weight = (self.total_weight / self.table.len().max(1) as u64).max(1);
        usize::try_from(weight / mean_weight)
            .unwrap_or(usize::MAX)
            .max(1)
    }

    /// Evicts a candidate that lost the admission contest; it is remembered in the window
    /// ghost, sized like the window.
    fn evict_candidate(&mut self, idx: u32, now: &mut LazyNow<'_>) {
        let capacity = self.entries_in(self.window_max);
        let hash = self.node(idx).hash;
        self.window_ghost.push(hash, capacity);
        self.evict_node(idx, now);
    }

    /// Evicts a victim from the main space; it is remembered in the main ghost, sized like
    /// the main space.
    fn evict_victim(&mut self, idx: u32, now: &mut LazyNow<'_>) {
        let capacity = self.entries_in(self.max_weight - self.window_max);
        let hash = self.node(idx).hash;
        self.main_ghost.push(hash, capacity);
        self.evict_node(idx, now);
    }

    /// ARC's adaptation rule applied to the window (Megiddo and Modha, FAST 2003): a new key
    /// found in the window ghost would have been a hit with a larger window, so the window
    /// grows; one found in the main ghost would have been a hit with a larger main space, so
    /// the window shrinks. The step is the ratio of the ghost sizes, as in ARC, so the side
    /// with fewer ghosts moves the boundary further per hit; unlike ARC it is capped at
    /// [`MAX_WINDOW_STEP`] of the capacity, because a tiny window has a tiny ghost and the
    /// uncapped ratio then swings the window by most of the cache on a single hit.
    fn adapt_window(&mut self, hash: u64, weight: u32) {
        let max_step = ((self.max_weight as f64 * MAX_WINDOW_STEP) as u64).max(1);
        let weight = u64::from(weight);
        if self.window_ghost.take(hash)
            && self.sketch.frequency(hash) <= RECENCY_EVIDENCE_MAX_FREQUENCY
        {
            let ratio = self.main_ghost.len() / self.window_ghost.len().max(1);
            self.increase_window((ratio.max(1) as u64 * weight).min(max_step));
        } else if self.main_ghost.take(hash) {
            let ratio = self.window_ghost.len() / self.main_ghost.len().max(1);
            self.decrease_window((ratio.max(1) as u64 * weight).min(max_step));
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: the admission tie-break only needs to be unpredictable in the long run.
        let mut x = self.rng_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng_state = x;
        x
    }

    /// Evicts until the shard fits: first the window's overflow moves to probation, then
    /// each candidate competes with the probation segment's LRU victim.
    fn evict(&mut self, now: &mut LazyNow<'_>) {
        if self.total_weight <= self.max_weight && self.queues[0].weight <= self.window_max {
            return;
        }
        let first_candidate = self.evict_from_window();
        self.evict_from_main(first_candidate, now);
    }

    fn evict_from_window(&mut self) -> u32 {
        let mut first = NIL;
        let mut idx = self.queues[Queue::Window as usize].head;
        while self.queues[Queue::Window as usize].weight > self.window_max && idx != NIL {
            let next = self.node(idx).next;
            if self.node_mut(idx).take_referenced() {
                self.move_to_back(Queue::Window, idx);
            } else {
                self.move_to_back(Queue::Probation, idx);
                if first == NIL {
                    first = idx;
                }
            }
            idx = next;
        }
        first
    }

    fn evict_from_main(&mut self, mut candidate: u32, now: &mut LazyNow<'_>) {
        let mut victim_queue = Queue::Probation;
        let mut candidate_queue = Queue::Probation;
        let mut victim = self.queues[Queue::Probation as usize].head;
        let mut restarted = false;
        while self.total_weight > self.max_weight {
            // Out of candidates from the window's overflow: the window's own LRU entries are next.
            if candidate == NIL && candidate_queue == Queue::Probation {
                candidate = self.queues[Queue::Window as usize].head;
                candidate_queue = Queue::Window;
            }
            if candidate == NIL && victim == NIL {
                match victim_queue {
                    Queue::Probation => {
                        victim = self.queues[Queue::Protected as usize].head;
                        victim_queue = Queue::Protected;
                        continue;
                    }
                    Queue::Protected => {
                        victim = self.queues[Queue::Window as usize].head;
                        victim_queue = Queue::Window;
                        continue;
                    }
                    // Lazy promotions may have sent nodes back to probation's tail (demoted
                    // from a protected segment that was already full) after the walk passed.
                    // Their referenced bits are clear now, so one more pass evicts them.
                    Queue::Window if !restarted => {
                        restarted = true;
                        victim = self.queues[Queue::Probation as usize].head;
                        victim_queue = Queue::Probation;
                        continue;
                    }
                    Queue::Window => break,
                }
            }
            if victim == NIL {
                let next = self.node(candidate).next;
                self.evict_candidate(candidate, now);
                candidate = next;
                continue;
            }
            if candidate == NIL {
                let next = self.node(victim).next;
                self.evict_victim(victim, now);
                victim = next;
                continue;
            }
            if candidate == victim {
                victim = self.node(victim).next;
                self.evict_node(candidate, now);
                candidate = NIL;
                continue;
            }
            if now.is_expired(self.node(victim).expires_at) {
                let next = self.node(victim).next;
                self.evict_node(victim, now);
                victim = next;
                continue;
            }
            if victim_queue == Queue::Probation && self.node_mut(victim).take_referenced() {
                // Hit while on probation: promoted now, lazily, instead of on the hit itself
                // (hits only hold the shared lock).
                let next = self.node(victim).next;
                self.move_to_back(Queue::Protected, victim);
                self.demote_from_protected();
                victim = next;
                continue;
            }
            let candidate_node = self.node(candidate);
            if now.is_expired(candidate_node.expires_at)
                || u64::from(candidate_node.weight) > self.max_weight
            {
                let next = candidate_node.next;
                self.evict_node(candidate, now);
                candidate = next;
                continue;
            }
            if self.admit(candidate, victim) {
                let next = self.node(victim).next;
                self.evict_victim(victim, now);
                victim = next;
                candidate = self.node(candidate).next;
            } else {
                let next = self.node(candidate).next;
                self.evict_candidate(candidate, now);
                candidate = next;
            }
        }
    }

    fn admit(&mut self, candidate: u32, victim: u32) -> bool {
        let victim_freq = self.frequency(victim);
        let candidate_freq = self.frequency(candidate);
        if candidate_freq > victim_freq {
            true
        } else if candidate_freq >= ADMIT_HASHDOS_THRESHOLD {
            self.next_random() & 127 == 0
        } else {
            false
        }
    }

    fn demote_from_protected(&mut self) {
        for _ in 0..QUEUE_TRANSFER_THRESHOLD {
            if self.queues[Queue::Protected as usize].weight <= self.protected_max {
                break;
            }
            let demoted = self.queues[Queue::Protected as usize].head;
            if demoted == NIL {
                break;
            }
            if self.node_mut(demoted).take_referenced() {
                self.move_to_back(Queue::Protected, demoted);
            } else {
                self.move_to_back(Queue::Probation, demoted);
            }
        }
    }

    fn increase_window(&mut self, adjustment: u64) {
        if self.protected_max == 0 {
            return;
        }
        let mut quota = adjustment.min(self.protected_max);
        self.protected_max -= quota;
        self.window_max += quota;
        self.demote_from_protected();
        for _ in 0..QUEUE_TRANSFER_THRESHOLD {
            let mut candidate = self.queues[Queue::Probation as usize].head;
            if candidate == NIL || quota < u64::from(self.node(candidate).weight) {
                candidate = self.queues[Queue::Protected as usize].head;
            }
            if candidate == NIL {
                break;
            }
            let weight = u64::from(self.node(candidate).weight);
            if quota < weight {
                break;
            }
            quota -= weight;
            self.move_to_back(Queue::Window, candidate);
        }
        self.protected_max += quota;
        self.window_max -= quota;
    }

    fn decrease_window(&mut self, adjustment: u64) {
        if self.window_max <= 1 {
            return;
        }
        let mut quota = adjustment.min(self.window_max - 1);
        self.protected_max += quota;
        self.window_max -= quota;
        for _ in 0..QUEUE_TRANSFER_THRESHOLD {
            let candidate = self.queues[Queue::Window as usize].head;
            if candidate == NIL {
                break;
            }
            let weight = u64::from(self.node(candidate).weight);
            if quota < weight {
                break;
            }
            quota -= weight;
            self.move_to_back(Queue::Probation, candidate);
        }
        self.protected_max -= quota;
        self.window_max += quota;
    }

    /// Checks the structural invariants; used by tests after every operation.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let mut total = 0u64;
        let mut count = 0usize;
        for (queue_idx, deque) in self.queues.iter().enumerate() {
            let mut weight = 0u64;
            let mut prev = NIL;
            let mut idx = deque.head;
            while idx != NIL {
                let node = self.node(idx);
                assert_eq!(node.queue as usize, queue_idx);
                assert_eq!(node.prev, prev);
                weight += u64::from(node.weight);
                count += 1;
                prev = idx;
                idx = node.next;
            }
            assert_eq!(deque.tail, prev);
            assert_eq!(deque.weight, weight);
            total += weight;
        }
        assert_eq!(total, self.total_weight);
        assert_eq!(count, self.table.len());
        assert!(self.total_weight <= self.max_weight || self.table.len() <= 1);
    }
}
