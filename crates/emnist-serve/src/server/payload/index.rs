//! The last logged requests by id, bounded: what feedback is checked against (the model and
//! version that answered, how many images, what each was predicted to be).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::Arc;

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

/// The last `capacity` logged requests in a ring of slots that are reused in place (an id's and
/// its predictions' buffers keep their capacity): remembering a request allocates nothing once
/// the ring is full, and frees nothing another thread allocated. A repeated id answers with its
/// latest request.
pub struct RequestIndex {
    capacity: usize,
    /// The keyed hash of an id → its latest slot.
    map: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    slots: Vec<Slot>,
    /// The slot the next request takes.
    next: usize,
    keys: RandomState,
}

struct Slot {
    hash: u64,
    id: String,
    model: Arc<ModelInfo>,
    /// The predicted class of each image, by index.
    predicted: Vec<u32>,
}

/// One remembered request, as feedback checks it.
pub struct Logged<'a> {
    pub model: &'a Arc<ModelInfo>,
    /// The predicted class of each image, by index.
    pub predicted: &'a [u32],
}

impl RequestIndex {
    pub fn new(capacity: usize) -> RequestIndex {
        let capacity = capacity.clamp(1, u32::MAX as usize);
        RequestIndex {
            capacity,
            // Sized once (address space; pages are touched as requests come): no rehash or move
            // of a large table on a request's thread.
            map: HashMap::with_capacity_and_hasher(capacity, Default::default()),
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
            self.slots.push(Slot { hash, id: id.into(), model: model.clone(), predicted: predicted.into() });
        } else {
            let slot = &mut self.slots[at];
            // The oldest request leaves, unless its id came again since (the map points on).
            if self.map.get(&slot.hash) == Some(&(at as u32)) {
                self.map.remove(&slot.hash);
            }
            slot.hash = hash;
            slot.id.clear();
            slot.id.push_str(id);
            slot.predicted.clear();
            slot.predicted.extend_from_slice(predicted);
            if !Arc::ptr_eq(&slot.model, model) {
                slot.model = model.clone();
            }
        }
        self.map.insert(hash, at as u32);
    }

    /// The request logged under `id`, if remembered.
    pub fn get(&self, id: &str) -> Option<Logged<'_>> {
        let slot = &self.slots[*self.map.get(&self.keys.hash_one(id))? as usize];
        // Two ids of one 64-bit hash: the earlier is forgotten, never mistaken for the later.
        (slot.id == id).then_some(Logged { model: &slot.model, predicted: &slot.predicted })
    }

    /// Requests remembered now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// The map's hasher: its keys are hashes already (keyed by the index's `RandomState`).
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn class_names_for_messages() {
        let m = ModelInfo { name: "m".into(), version: 1, classes: (0..100).map(|i| i.to_string()).collect() };
        assert!(m.class_list().ends_with("79 and 20 more"));
        assert_eq!(m.class(3), "3");
        assert_eq!(m.class(200), "200");
    }
}
