//! The last logged requests by id, bounded: what feedback is checked against (the model and
//! version that answered, how many images, what each was predicted to be).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;

use smallvec::SmallVec;

/// A model version as feedback checks it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub name: String,
    pub version: u64,
    /// Class names in output order.
    pub classes: Vec<String>,
}

impl ModelInfo {
    /// The name of class `i` (its number when the model has no name for it).
    pub fn class(&self, i: usize) -> std::borrow::Cow<'_, str> {
        match self.classes.get(i) {
            Some(name) => name.as_str().into(),
            None => i.to_string().into(),
        }
    }

    /// Class names for an error message: all of them, or the first 80 and how many more.
    pub fn class_list(&self) -> String {
        const SHOWN: usize = 80;
        let mut s = self.classes.iter().take(SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
        if self.classes.len() > SHOWN {
            s.push_str(&format!(" and {} more", self.classes.len() - SHOWN));
        }
        s
    }
}

/// The last `capacity` logged requests in a ring of slots that are reused in place, found by id
/// through an open-addressed table of (hash, slot) pairs. A request's thread inserts one per
/// logged request, so the insertion is kept to few cache lines of a large structure: a short id
/// and a short request's predictions live in the slot itself (no pointer to a cold heap block),
/// and the table's entries are 8 bytes, searched in place (no separate control bytes). Once the
/// ring is full, remembering a request allocates nothing unless its id or image count is long.
/// A repeated id answers with its latest request.
pub struct RequestIndex {
    capacity: usize,
    /// Linear probing, at most half full: [`EMPTY`] or an [`entry`]. Zeroed memory, so its pages
    /// are touched as requests come rather than at start.
    table: Vec<u64>,
    mask: usize,
    slots: Vec<Slot>,
    /// The slot the next request takes.
    next: usize,
    keys: RandomState,
}

/// An unused table entry.
const EMPTY: u64 = 0;

/// A table entry: the low half of an id's keyed hash (its home position) and its ring slot + 1
/// in the high half (so that no entry is [`EMPTY`]).
fn entry(hash: u64, slot: usize) -> u64 {
    u64::from(hash as u32) | ((slot as u64 + 1) << 32)
}

/// The ring slot of a table entry.
fn slot_of(e: u64) -> usize {
    (e >> 32) as usize - 1
}

/// Ids up to this many bytes (a fresh one is 32) are kept in the slot.
const INLINE_ID: usize = 40;

struct Slot {
    hash: u64,
    id: SmallVec<[u8; INLINE_ID]>,
    model: Arc<ModelInfo>,
    /// The predicted class of each image, by index.
    predicted: SmallVec<[u32; 4]>,
}

/// One remembered request, as feedback checks it.
pub struct Logged<'a> {
    pub model: &'a Arc<ModelInfo>,
    /// The predicted class of each image, by index.
    pub predicted: &'a [u32],
}

impl RequestIndex {
    pub fn new(capacity: usize) -> RequestIndex {
        let capacity = capacity.clamp(1, (u32::MAX / 4) as usize);
        // Sized once (address space; pages are touched as requests come): no rehash or move of a
        // large table on a request's thread.
        let size = (2 * capacity).next_power_of_two();
        RequestIndex {
            capacity,
            table: vec![EMPTY; size],
            mask: size - 1,
            slots: Vec::with_capacity(capacity),
            next: 0,
            keys: RandomState::new(),
        }
    }

    /// How many requests it remembers at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Remembers request `id` (answered by `model`, `predicted`: each image's class), forgetting
    /// the oldest beyond the capacity.
    pub fn insert(&mut self, id: &str, model: &Arc<ModelInfo>, predicted: &[u32]) {
        let hash = self.keys.hash_one(id);
        let at = self.next;
        self.next = (at + 1) % self.capacity;
        if at == self.slots.len() {
            self.slots.push(Slot {
                hash,
                id: SmallVec::from_slice(id.as_bytes()),
                model: model.clone(),
                predicted: SmallVec::from_slice(predicted),
            });
        } else {
            // The oldest request leaves, unless its id came again since (the table points on).
            let old = self.slots[at].hash;
            if let Some(pos) = self.position(old, |e| slot_of(e) == at) {
                self.remove(pos);
            }
            let slot = &mut self.slots[at];
            slot.hash = hash;
            // Rebuilt rather than cleared: a long id's heap block goes once a short one comes.
            slot.id = SmallVec::from_slice(id.as_bytes());
            slot.predicted = SmallVec::from_slice(predicted);
            if !Arc::ptr_eq(&slot.model, model) {
                slot.model = model.clone();
            }
        }
        // An earlier request under the same hash is forgotten: the entry points to the new slot.
        let slots = &self.slots;
        let pos = match self.position(hash, |e| slots[slot_of(e)].hash == hash) {
            Some(pos) => pos,
            None => {
                let mut pos = hash as usize & self.mask;
                while self.table[pos] != EMPTY {
                    pos = (pos + 1) & self.mask;
                }
                pos
            }
        };
        self.table[pos] = entry(hash, at);
    }

    /// The request logged under `id`, if remembered.
    pub fn get(&self, id: &str) -> Option<Logged<'_>> {
        let hash = self.keys.hash_one(id);
        let pos = self.position(hash, |e| self.slots[slot_of(e)].hash == hash)?;
        let slot = &self.slots[slot_of(self.table[pos])];
        // Two ids of one 64-bit hash: the earlier is forgotten, never mistaken for the later.
        (slot.id.as_slice() == id.as_bytes()).then_some(Logged { model: &slot.model, predicted: &slot.predicted })
    }

    /// Where the entry for `hash` that `is` accepts sits, probing from its home position.
    fn position(&self, hash: u64, is: impl Fn(u64) -> bool) -> Option<usize> {
        let mut pos = hash as usize & self.mask;
        loop {
            let e = self.table[pos];
            if e == EMPTY {
                return None;
            }
            if e as u32 == hash as u32 && is(e) {
                return Some(pos);
            }
            pos = (pos + 1) & self.mask;
        }
    }

    /// Empties position `pos`, moving later entries of its run back so that every entry stays
    /// reachable from its home position (no tombstones: lookups end at the first empty entry).
    fn remove(&mut self, mut pos: usize) {
        let mut next = (pos + 1) & self.mask;
        while self.table[next] != EMPTY {
            let home = self.table[next] as u32 as usize & self.mask;
            // The entry at `next` may move to `pos` when its home is not in (pos, next].
            if (next.wrapping_sub(home) & self.mask) >= (next.wrapping_sub(pos) & self.mask) {
                self.table[pos] = self.table[next];
                pos = next;
            }
            next = (next + 1) & self.mask;
        }
        self.table[pos] = EMPTY;
    }

    /// Requests remembered now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.table.iter().filter(|&&e| e != EMPTY).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn insert(ix: &mut RequestIndex, id: &str, n: u32) {
        let model = Arc::new(ModelInfo { name: "m".into(), version: 1, classes: vec!["a".into(), "b".into()] });
        ix.insert(id, &model, &(0..n).collect::<Vec<_>>());
    }

    #[test]
    fn the_oldest_are_forgotten_and_a_repeated_id_is_the_latest() {
        let mut ix = RequestIndex::new(3);
        for id in ["a", "b", "c", "d"] {
            insert(&mut ix, id, 1);
        }
        assert_eq!(ix.len(), 3);
        assert!(ix.get("a").is_none() && ix.get("d").is_some());
        // "b" again: its first insertion leaving the queue does not remove the second.
        insert(&mut ix, "b", 2);
        insert(&mut ix, "e", 1);
        insert(&mut ix, "f", 1);
        assert_eq!(ix.get("b").map(|l| l.predicted.len()), Some(2));
        assert!(ix.get("c").is_none());
        assert_eq!(ix.len(), 3);
        // Many repeats of one id keep the ring bounded and the id remembered.
        for _ in 0..100 {
            insert(&mut ix, "z", 1);
        }
        assert_eq!((ix.slots.len(), ix.len()), (3, 1));
        assert!(ix.get("z").is_some() && ix.get("b").is_none());
    }

    /// The table against a plain model of the ring (the last `capacity` insertions, the latest
    /// per id), through many evictions, repeated ids, long ids and many-image requests, with a
    /// small table so that runs wrap around its end and collide.
    #[test]
    fn the_table_agrees_with_a_model_of_the_ring() {
        let model = Arc::new(ModelInfo { name: "m".into(), version: 1, classes: vec![] });
        for capacity in [1, 2, 3, 7, 64] {
            let mut ix = RequestIndex::new(capacity);
            let mut ring: Vec<(String, Vec<u32>)> = Vec::new();
            let mut state = 0x2545_f491_4f6c_dd1du64;
            for step in 0..4000u32 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Few distinct ids (repeats), some longer than the slot holds.
                let id = match state % 5 {
                    0 => format!("{}-{}", "x".repeat(60), state % 97),
                    _ => format!("id{}", state % (3 * capacity as u64 + 5)),
                };
                let predicted: Vec<u32> = (0..(state >> 20) % 9).map(|i| step + i as u32).collect();
                ix.insert(&id, &model, &predicted);
                ring.push((id, predicted));
                if ring.len() > capacity {
                    ring.remove(0);
                }
                let mut expected: HashMap<&str, &[u32]> = HashMap::new();
                for (id, p) in &ring {
                    expected.insert(id, p);
                }
                assert_eq!(ix.len(), expected.len(), "capacity {capacity}, step {step}");
                for (id, p) in &expected {
                    assert_eq!(ix.get(id).map(|l| l.predicted), Some(*p), "capacity {capacity}, step {step}, id {id}");
                }
                assert!(ix.get("never").is_none());
            }
        }
    }

    #[test]
    fn class_names_for_messages() {
        let m = ModelInfo { name: "m".into(), version: 1, classes: (0..100).map(|i| i.to_string()).collect() };
        assert!(m.class_list().ends_with("79 and 20 more"));
        assert_eq!(m.class(3), "3");
        assert_eq!(m.class(200), "200");
    }
}
