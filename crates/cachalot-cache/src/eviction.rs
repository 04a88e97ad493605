//! Byte-bounded LRU with TinyLFU admission: the disk tier's index policy, pure (no I/O),
//! so that it can also be driven by a simulation (`examples/zipf.rs`).
//!
//! Entries are charged their size in bytes. When a newcomer does not fit, the least
//! recently used entries that would have to go for it are its victims; with TinyLFU on, the
//! newcomer is admitted only if the sketch says it was asked for more often than every one
//! of them, so a burst of one-hit wonders cannot flush objects that are asked for again.
//! With TinyLFU off it is plain LRU.

use crate::sketch::FrequencySketch;
use std::collections::{BTreeMap, HashMap};

/// Recency ticks of entries found at start (recency unknown) lie below every tick given later.
const WARM_TICKS: u64 = 1 << 62;

/// One entry.
#[derive(Debug, Clone)]
pub struct Slot<M> {
    /// Bytes charged.
    pub size: u64,
    tick: u64,
    /// What the owner keeps with the entry.
    pub meta: M,
}

/// What [`ByteLru::admit`] decided.
#[derive(Debug)]
pub enum Admission<M> {
    /// Inserted; these entries were evicted to make room.
    Admitted(Vec<(u64, Slot<M>)>),
    /// Not inserted: the entries it would push out are asked for at least as often (or it
    /// is larger than the whole capacity).
    Rejected,
}

/// A byte-bounded LRU over 64-bit ids, optionally with TinyLFU admission.
#[derive(Debug)]
pub struct ByteLru<M> {
    entries: HashMap<u64, Slot<M>>,
    order: BTreeMap<u64, u64>,
    tick: u64,
    cold_tick: u64,
    used: u64,
    capacity: u64,
    sketch: Option<FrequencySketch>,
}

impl<M> ByteLru<M> {
    /// Holds at most `capacity` bytes; `expected_entries` sizes the sketch; `tinylfu`
    /// turns admission on.
    pub fn new(capacity: u64, expected_entries: usize, tinylfu: bool) -> Self {
        ByteLru {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            tick: WARM_TICKS,
            cold_tick: 0,
            used: 0,
            capacity,
            sketch: tinylfu.then(|| FrequencySketch::new(expected_entries)),
        }
    }

    /// Records one request for `id` (hit or miss), for admission.
    pub fn record(&mut self, id: u64) {
        if let Some(s) = &mut self.sketch {
            s.increment(id);
        }
    }

    /// Marks `id` as just used; false when it is not held.
    pub fn touch(&mut self, id: u64) -> bool {
        self.tick += 1;
        let tick = self.tick;
        let Some(slot) = self.entries.get_mut(&id) else { return false };
        self.order.remove(&slot.tick);
        slot.tick = tick;
        self.order.insert(tick, id);
        true
    }

    /// The entry for `id`.
    pub fn get(&self, id: u64) -> Option<&Slot<M>> {
        self.entries.get(&id)
    }

    /// The entry for `id`, to change its metadata.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Slot<M>> {
        self.entries.get_mut(&id)
    }

    /// Whether `id` is held.
    pub fn contains(&self, id: u64) -> bool {
        self.entries.contains_key(&id)
    }

    /// Offers `id` of `size` bytes. An id already held is replaced without an admission
    /// check (it is evidently asked for); others must win against their victims.
    pub fn admit(&mut self, id: u64, size: u64, meta: M) -> Admission<M> {
        if size > self.capacity {
            return Admission::Rejected;
        }
        let replaced = self.remove(id);
        let need = (self.used + size).saturating_sub(self.capacity);
        let mut victims = Vec::new();
        if need > 0 {
            let mut freed = 0;
            for victim in self.order.values() {
                if freed >= need {
                    break;
                }
                let Some(slot) = self.entries.get(victim) else { continue };
                victims.push(*victim);
                freed += slot.size;
            }
            if replaced.is_none()
                && let Some(sketch) = &self.sketch
            {
                let candidate = sketch.estimate(id);
                if victims.iter().any(|v| sketch.estimate(*v) >= candidate) {
                    return Admission::Rejected;
                }
            }
        }
        let evicted = victims.into_iter().filter_map(|v| self.remove(v).map(|s| (v, s))).collect();
        self.tick += 1;
        self.put(id, Slot { size, tick: self.tick, meta });
        Admission::Admitted(evicted)
    }

    /// Adds an entry found at start: least recently used of all, no admission check;
    /// returns what had to go for it (when the capacity shrank since it was written).
    pub fn insert_warm(&mut self, id: u64, size: u64, meta: M) -> Vec<(u64, Slot<M>)> {
        if self.entries.contains_key(&id) {
            return Vec::new();
        }
        self.cold_tick += 1;
        self.put(id, Slot { size, tick: self.cold_tick, meta });
        self.shrink_to_capacity()
    }

    /// Changes the size charged for `id` (a stream that ended at another length than
    /// announced); returns what had to go for it.
    pub fn resize(&mut self, id: u64, size: u64) -> Vec<(u64, Slot<M>)> {
        if let Some(slot) = self.entries.get_mut(&id) {
            self.used = self.used - slot.size + size;
            slot.size = size;
        }
        self.shrink_to_capacity()
    }

    fn shrink_to_capacity(&mut self) -> Vec<(u64, Slot<M>)> {
        let mut evicted = Vec::new();
        while self.used > self.capacity {
            let Some((_, victim)) = self.order.pop_first() else { break };
            if let Some(slot) = self.entries.remove(&victim) {
                self.used -= slot.size;
                evicted.push((victim, slot));
            }
        }
        evicted
    }

    fn put(&mut self, id: u64, slot: Slot<M>) {
        self.used += slot.size;
        self.order.insert(slot.tick, id);
        self.entries.insert(id, slot);
    }

    /// Removes `id`.
    pub fn remove(&mut self, id: u64) -> Option<Slot<M>> {
        let slot = self.entries.remove(&id)?;
        self.order.remove(&slot.tick);
        self.used -= slot.size;
        Some(slot)
    }

    /// Bytes held.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Slot<M>)> {
        self.entries.iter().map(|(id, s)| (*id, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_evicts_the_least_recently_used_by_bytes() {
        let mut lru: ByteLru<()> = ByteLru::new(100, 16, false);
        for id in 0..4 {
            assert!(matches!(lru.admit(id, 25, ()), Admission::Admitted(ref v) if v.is_empty()));
        }
        assert!(lru.touch(0));
        let Admission::Admitted(evicted) = lru.admit(9, 40, ()) else { panic!("plain LRU admits") };
        assert_eq!(evicted.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(lru.used(), 90);
        assert!(matches!(lru.admit(10, 101, ()), Admission::Rejected), "larger than everything");
    }

    #[test]
    fn tinylfu_keeps_popular_entries_from_one_hit_wonders() {
        let mut lru: ByteLru<()> = ByteLru::new(100, 64, true);
        for id in 0..4 {
            for _ in 0..3 {
                lru.record(id);
            }
            lru.admit(id, 25, ());
        }
        lru.record(50);
        assert!(matches!(lru.admit(50, 25, ()), Admission::Rejected), "seen once, loses to popular entries");
        assert!((0..4).all(|id| lru.contains(id)));
        for _ in 0..5 {
            lru.record(51);
        }
        assert!(matches!(lru.admit(51, 25, ()), Admission::Admitted(ref v) if v.len() == 1), "more popular wins");
        assert!(matches!(lru.admit(51, 30, ()), Admission::Admitted(_)), "a held id is replaced");
    }

    #[test]
    fn warm_entries_are_least_recent() {
        let mut lru: ByteLru<()> = ByteLru::new(50, 16, false);
        lru.admit(1, 20, ());
        assert!(lru.insert_warm(2, 20, ()).is_empty());
        let Admission::Admitted(evicted) = lru.admit(3, 20, ()) else { panic!() };
        assert_eq!(evicted[0].0, 2, "found at start, so older than anything used since");
        assert_eq!(lru.resize(1, 45).len(), 1);
        assert!(lru.used() <= 50);
    }
}
