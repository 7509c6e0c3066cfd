//! A set of receipt ids with a bound: the oldest id goes when a new one would exceed it, so a
//! broker that never answers (or an application that never waits) cannot grow it forever.

use std::collections::{HashSet, VecDeque};

#[derive(Debug, Clone)]
pub(crate) struct ReceiptSet {
    ids: HashSet<String>,
    order: VecDeque<String>,
    max: usize,
}

impl ReceiptSet {
    pub(crate) fn new(max: usize) -> Self {
        ReceiptSet {
            ids: HashSet::new(),
            order: VecDeque::new(),
            max: max.max(1),
        }
    }

    pub(crate) fn insert(&mut self, id: &str) {
        if self.ids.contains(id) {
            return;
        }
        while self.ids.len() >= self.max {
            match self.order.pop_front() {
                Some(old) => {
                    self.ids.remove(&old);
                }
                None => break,
            }
        }
        self.ids.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        // Ids removed out of order leave stale entries in `order`; drop them now and then.
        if self.order.len() > 2 * self.max {
            self.order.retain(|i| self.ids.contains(i));
        }
    }

    /// Removes `id`; true when it was there.
    pub(crate) fn remove(&mut self, id: &str) -> bool {
        self.ids.remove(id)
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    pub(crate) fn clear(&mut self) {
        self.ids.clear();
        self.order.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::ReceiptSet;

    #[test]
    fn the_oldest_id_goes_past_the_bound() {
        let mut s = ReceiptSet::new(3);
        for id in ["a", "b", "c", "d"] {
            s.insert(id);
        }
        assert_eq!(s.len(), 3);
        assert!(!s.contains("a") && s.contains("d"));
        assert!(s.remove("c") && !s.remove("c"));
    }

    #[test]
    fn out_of_order_removals_keep_memory_bounded() {
        let mut s = ReceiptSet::new(10);
        for i in 0..10_000 {
            s.insert(&i.to_string());
            s.remove(&i.to_string());
        }
        assert_eq!(s.len(), 0);
        assert!(s.order.len() <= 20);
    }
}
