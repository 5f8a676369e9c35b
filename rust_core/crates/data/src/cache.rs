//! A small per-process cache of decoded files, keyed by path, size, mtime and (on Unix)
//! inode and change time, and by how the files were read (a candle pair's timeframe:
//! the same file read as another timeframe is validated against that one's grid).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Identifies one version of a file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileKey {
    path: PathBuf,
    size: u64,
    modified: Option<SystemTime>,
    changed: Option<StatusChange>,
}

/// The device, inode and status-change time of a file (Unix). A rewrite that puts the
/// size and mtime back (`cp -p`, `rsync -t`, `tar x`) still moves the change time,
/// which no user can set, or replaces the inode.
type StatusChange = (u64, u64, i64, i64);

#[cfg(unix)]
fn status_change(meta: &std::fs::Metadata) -> Option<StatusChange> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec()))
}

#[cfg(not(unix))]
fn status_change(_meta: &std::fs::Metadata) -> Option<StatusChange> {
    None
}

impl FileKey {
    /// Returns the key of the file as it is now, or `None` when it cannot be stat'ed.
    pub(crate) fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        let path = std::fs::canonicalize(path).ok()?;
        Some(Self { path, size: meta.len(), modified: meta.modified().ok(), changed: status_change(&meta) })
    }
}

/// A least-recently-used cache holding at most `CAPACITY` entries, each keyed by a
/// `reading` (how the files were read) and the versions of its files.
///
/// A plain vector: lookups are linear over a handful of entries, and nothing about
/// iteration order can leak into results.
pub(crate) struct FileCache<R, T> {
    entries: Mutex<Vec<(EntryKey<R>, Arc<T>)>>,
}

/// A cache entry's key: the reading and the versions of its files.
type EntryKey<R> = (R, Vec<FileKey>);

const CAPACITY: usize = 8;

impl<R: PartialEq, T> FileCache<R, T> {
    /// Returns an empty cache.
    pub(crate) const fn new() -> Self {
        Self { entries: Mutex::new(Vec::new()) }
    }

    /// Returns the cached value for `reading` of the files `keys`, or loads, stores and
    /// returns it. Without keys (a file that cannot be stat'ed) it always loads.
    pub(crate) fn get_or_load<E>(
        &self,
        reading: R,
        keys: Option<Vec<FileKey>>,
        load: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        let Some(keys) = keys else {
            return load().map(Arc::new);
        };
        let key = (reading, keys);
        if let Some(hit) = self.take(&key) {
            return Ok(hit);
        }
        let value = Arc::new(load()?);
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|(k, _)| *k != key);
        entries.push((key, Arc::clone(&value)));
        if entries.len() > CAPACITY {
            entries.remove(0);
        }
        Ok(value)
    }

    fn take(&self, key: &EntryKey<R>) -> Option<Arc<T>> {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let index = entries.iter().position(|(k, _)| k == key)?;
        let entry = entries.remove(index);
        let value = Arc::clone(&entry.1);
        entries.push(entry);
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_once_per_file_version_and_evicts_the_oldest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache: FileCache<(), usize> = FileCache::new();
        let mut loads = 0;
        let paths: Vec<_> = (0..=CAPACITY)
            .map(|i| {
                let p = dir.path().join(format!("f{i}"));
                std::fs::write(&p, [0u8; 3]).expect("write");
                p
            })
            .collect();
        for _ in 0..2 {
            let v = cache
                .get_or_load((), FileKey::of(&paths[0]).map(|k| vec![k]), || {
                    loads += 1;
                    Ok::<_, ()>(7)
                })
                .expect("load");
            assert_eq!(*v, 7);
        }
        assert_eq!(loads, 1);
        for p in &paths[1..] {
            cache.get_or_load((), FileKey::of(p).map(|k| vec![k]), || Ok::<_, ()>(1)).expect("load");
        }
        cache
            .get_or_load((), FileKey::of(&paths[0]).map(|k| vec![k]), || {
                loads += 1;
                Ok::<_, ()>(7)
            })
            .expect("load");
        assert_eq!(loads, 2, "the oldest entry was evicted");
        std::fs::write(&paths[0], [0u8; 5]).expect("rewrite");
        cache
            .get_or_load((), FileKey::of(&paths[0]).map(|k| vec![k]), || {
                loads += 1;
                Ok::<_, ()>(8)
            })
            .expect("load");
        assert_eq!(loads, 3, "a changed file is read again");
    }
}
