//! Indicator columns whose buffers are recycled between runs on one thread.
//!
//! A run over 1M bars needs some 17 MB of indicator columns. Allocated afresh for every
//! run, blocks that large are mapped by the allocator and unmapped again when freed, so
//! every 4 KiB page of them costs a page fault on first touch: 4,000 faults, 8 to 10 ms,
//! as much as the event loop over those bars. A sweep worker runs thousands of backtests
//! in a row on one thread; keeping a few spare buffers per thread makes every run after
//! the first touch no new page. What is kept is what the run already held at its peak.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// Spare buffers kept per element type and thread: enough for one run's columns.
const SPARES_PER_TYPE: usize = 2;

thread_local! {
    static SPARE_F64: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
    static SPARE_U8: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An element type with a per-thread store of spare column buffers.
pub(crate) trait Recycled: Copy + 'static {
    /// Runs `f` on this thread's spare buffers of this type; `None` once the thread's
    /// store is gone (during thread exit).
    fn with_spares<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> Option<R>;
}

impl Recycled for f64 {
    fn with_spares<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> Option<R> {
        SPARE_F64.try_with(|spares| f(&mut spares.borrow_mut())).ok()
    }
}

impl Recycled for u8 {
    fn with_spares<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> Option<R> {
        SPARE_U8.try_with(|spares| f(&mut spares.borrow_mut())).ok()
    }
}

/// A column buffer taken from this thread's spares (or new) and handed back on drop.
#[derive(Debug)]
pub(crate) struct Column<T: Recycled>(Vec<T>);

impl<T: Recycled> Column<T> {
    /// Returns an empty column with room for `len` values.
    pub(crate) fn with_capacity(len: usize) -> Self {
        let mut values = T::with_spares(Vec::pop).flatten().unwrap_or_default();
        values.clear();
        values.reserve(len);
        Self(values)
    }

    /// Returns a column of the values of `values`.
    pub(crate) fn collect(values: impl ExactSizeIterator<Item = T>) -> Self {
        let mut column = Self::with_capacity(values.len());
        column.0.extend(values);
        column
    }
}

impl<T: Recycled> Clone for Column<T> {
    fn clone(&self) -> Self {
        Self::collect(self.0.iter().copied())
    }
}

impl<T: Recycled> Deref for Column<T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: Recycled> DerefMut for Column<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T: Recycled> Drop for Column<T> {
    fn drop(&mut self) {
        let values = std::mem::take(&mut self.0);
        if values.capacity() > 0 {
            T::with_spares(|spares| {
                if spares.len() < SPARES_PER_TYPE {
                    spares.push(values);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_column_lends_its_buffer_to_the_next_one() {
        let first = Column::collect([1.0, 2.0, 3.0].into_iter());
        let buffer = first.as_ptr();
        drop(first);
        let second = Column::<f64>::with_capacity(2);
        assert!(second.is_empty(), "a recycled buffer comes back empty");
        assert_eq!(second.as_ptr(), buffer);
        let copy = second.clone();
        assert_ne!(copy.as_ptr(), second.as_ptr());
    }

    #[test]
    fn at_most_a_few_spares_are_kept() {
        let columns: Vec<Column<u8>> = (0..5).map(|_| Column::collect([1u8].into_iter())).collect();
        drop(columns);
        assert_eq!(u8::with_spares(|spares| spares.len()), Some(SPARES_PER_TYPE));
    }
}
