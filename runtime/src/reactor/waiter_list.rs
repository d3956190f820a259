//! The waiter list of one I/O source, shaped for the common case.
//!
//! Almost every source has at most one listed waiter at a time: a connection's
//! task awaiting `readable()` while the connection is idle. An idle server
//! holds one such entry per connection for as long as the connection is idle,
//! so the entry's cost is paid per idle connection (the `idle_memory`
//! benchmark). The first waiter is therefore stored inline, with no heap
//! allocation; only a second concurrent waiter (several accept loops on one
//! listener, several receivers on one UDP socket) allocates a slab for the
//! rest.
//!
//! Keys are stable for as long as their entry lives: `0` is the inline entry,
//! `k + 1` is entry `k` of the slab. A key may be reused after its entry is
//! removed, as with a `Slab`; each key is owned by the one future that
//! inserted it.

use slab::Slab;

/// An entry-keyed collection: one entry inline, more in a slab on demand.
#[derive(Debug)]
pub(crate) struct WaiterList<T> {
    first: Option<T>,
    rest: Option<Box<Slab<T>>>,
}

impl<T> WaiterList<T> {
    pub(crate) const fn new() -> WaiterList<T> {
        WaiterList {
            first: None,
            rest: None,
        }
    }

    /// Stores `value`; returns its key.
    pub(crate) fn insert(&mut self, value: T) -> usize {
        if self.first.is_none() {
            self.first = Some(value);
            0
        } else {
            self.rest.get_or_insert_with(Box::default).insert(value) + 1
        }
    }

    pub(crate) fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        match key {
            0 => self.first.as_mut(),
            k => self.rest.as_mut()?.get_mut(k - 1),
        }
    }

    /// Removes and returns the entry `key`, if it is there.
    pub(crate) fn try_remove(&mut self, key: usize) -> Option<T> {
        match key {
            0 => self.first.take(),
            k => self.rest.as_mut()?.try_remove(k - 1),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.as_ref().map_or(0, |r| r.len())
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        let rest = self
            .rest
            .as_deref_mut()
            .into_iter()
            .flat_map(|r| r.iter_mut());
        self.first.iter_mut().chain(rest.map(|(_, v)| v))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::WaiterList;

    /// A reference model: every live key maps to its value, keys stay valid
    /// until removed, and iteration sees exactly the live entries.
    #[test]
    fn behaves_like_a_map_of_live_keys() {
        let mut list = WaiterList::new();
        let mut model = std::collections::BTreeMap::new();
        let mut next_value = 0u32;
        // A fixed pseudo-random schedule of inserts and removals.
        let mut seed = 0x9e37_79b9u32;
        for _ in 0..2_000 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let live: Vec<usize> = model.keys().copied().collect();
            if live.is_empty() || !seed.is_multiple_of(3) {
                let key = list.insert(next_value);
                assert!(
                    model.insert(key, next_value).is_none(),
                    "key {key} given twice"
                );
                next_value += 1;
            } else {
                let key = live[seed as usize % live.len()];
                assert_eq!(list.try_remove(key), model.remove(&key));
                assert_eq!(list.try_remove(key), None, "removed twice");
            }
            assert_eq!(list.len(), model.len());
            assert_eq!(list.is_empty(), model.is_empty());
            for (key, value) in &model {
                assert_eq!(list.get_mut(*key).copied(), Some(*value));
            }
            let mut seen: Vec<u32> = list.iter_mut().map(|v| *v).collect();
            let mut want: Vec<u32> = model.values().copied().collect();
            seen.sort_unstable();
            want.sort_unstable();
            assert_eq!(seen, want);
        }
    }

    #[test]
    fn one_waiter_needs_no_allocation() {
        let mut list = WaiterList::new();
        assert_eq!(list.insert(7), 0);
        assert!(list.rest.is_none());
        assert_eq!(list.insert(8), 1);
        assert_eq!(list.try_remove(0), Some(7));
        // The inline slot is free again and is used before the slab.
        assert_eq!(list.insert(9), 0);
        assert_eq!(list.get_mut(1).copied(), Some(8));
    }
}
