//! The last logged requests by id, bounded: what feedback is checked against (the model and
//! version that answered, how many images, what each was predicted to be).

use std::collections::{HashMap, VecDeque};
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

/// One logged request.
#[derive(Debug, Clone)]
pub struct Logged {
    pub model: Arc<ModelInfo>,
    /// The predicted class of each image, by index.
    pub predicted: Box<[u32]>,
}

/// The last `capacity` logged requests; a repeated id replaces the earlier request.
pub struct RequestIndex {
    capacity: usize,
    map: HashMap<Arc<str>, (u64, Logged)>,
    order: VecDeque<(Arc<str>, u64)>,
    next: u64,
}

impl RequestIndex {
    pub fn new(capacity: usize) -> RequestIndex {
        RequestIndex { capacity: capacity.max(1), map: HashMap::new(), order: VecDeque::new(), next: 0 }
    }

    /// How many requests it remembers at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Remembers request `id`, forgetting the oldest beyond the capacity.
    pub fn insert(&mut self, id: &str, logged: Logged) {
        let id: Arc<str> = id.into();
        let seq = self.next;
        self.next += 1;
        self.map.insert(id.clone(), (seq, logged));
        self.order.push_back((id, seq));
        while self.map.len() > self.capacity || self.order.len() > 2 * self.capacity {
            let Some((old, old_seq)) = self.order.pop_front() else { break };
            // Only the id's latest insertion removes it.
            if self.map.get(&old).is_some_and(|(s, _)| *s == old_seq) {
                self.map.remove(&old);
            }
        }
    }

    /// The request logged under `id`, if remembered.
    pub fn get(&self, id: &str) -> Option<&Logged> {
        self.map.get(id).map(|(_, l)| l)
    }

    /// Requests remembered now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(n: u32) -> Logged {
        let model = Arc::new(ModelInfo { name: "m".into(), version: 1, classes: vec!["a".into(), "b".into()] });
        Logged { model, predicted: (0..n).collect() }
    }

    #[test]
    fn the_oldest_are_forgotten_and_a_repeated_id_is_the_latest() {
        let mut ix = RequestIndex::new(3);
        for id in ["a", "b", "c", "d"] {
            ix.insert(id, logged(1));
        }
        assert_eq!(ix.len(), 3);
        assert!(ix.get("a").is_none() && ix.get("d").is_some());
        // "b" again: its first insertion leaving the queue does not remove the second.
        ix.insert("b", logged(2));
        ix.insert("e", logged(1));
        ix.insert("f", logged(1));
        assert_eq!(ix.get("b").map(|l| l.predicted.len()), Some(2));
        assert!(ix.get("c").is_none());
        assert_eq!(ix.len(), 3);
        // Many repeats of one id keep the queue bounded too.
        for _ in 0..100 {
            ix.insert("z", logged(1));
        }
        assert!(ix.order.len() <= 2 * ix.capacity());
        assert!(ix.get("z").is_some());
    }

    #[test]
    fn class_names_for_messages() {
        let m = ModelInfo { name: "m".into(), version: 1, classes: (0..100).map(|i| i.to_string()).collect() };
        assert!(m.class_list().ends_with("79 and 20 more"));
        assert_eq!(m.class(3), "3");
        assert_eq!(m.class(200), "200");
    }
}
