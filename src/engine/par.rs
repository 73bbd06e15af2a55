//! Ordered work on every core: walks over thousands of tasks or processes (each reading
//! scattered pages of a dump) split in as many ordered parts as there are cores
//! ([`crate::engine::search::threads`], `PODMORTEM_THREADS`).

/// `f` of every item, in order: on every core for lists of at least `parallel_from` items,
/// on the calling thread otherwise. With `release_every`, the mapped evidence pages touched
/// are dropped from the resident set every that many items of each part
/// ([`crate::engine::mapped::release_all`]).
pub fn map_ordered<T: Sync, R: Send>(
    items: &[T],
    parallel_from: usize,
    release_every: Option<usize>,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    map_ordered_on(
        crate::engine::search::threads(),
        items,
        parallel_from,
        release_every,
        f,
    )
}

/// Threads for work that mostly waits for evidence pages to come from the disk (scattered
/// reads through a map of a file not in the page cache): more than the cores, so that more
/// reads are in flight at once (a virtual disk serves many at once far faster than one by
/// one). Four per core, at most 16.
pub fn io_threads() -> usize {
    (crate::engine::search::threads() * 4).min(16)
}

/// [`map_ordered`] on `threads` threads.
pub fn map_ordered_on<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    parallel_from: usize,
    release_every: Option<usize>,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let one = |(i, item): (usize, &T)| {
        if release_every.is_some_and(|n| n > 0 && i % n == n - 1) {
            crate::engine::mapped::release_all();
        }
        f(item)
    };
    if threads < 2 || items.len() < parallel_from.max(2) {
        return items.iter().enumerate().map(one).collect();
    }
    let per = items.len().div_ceil(threads);
    let one = &one;
    std::thread::scope(|s| {
        let parts: Vec<_> = items
            .chunks(per)
            .map(|part| s.spawn(move || part.iter().enumerate().map(one).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_order_as_one_thread() {
        let items: Vec<u32> = (0..1000).collect();
        let got = map_ordered(&items, 2, Some(64), |&x| x * 3);
        let want: Vec<u32> = items.iter().map(|&x| x * 3).collect();
        assert_eq!(got, want);
        assert!(map_ordered(&[] as &[u32], 2, None, |&x| x).is_empty());
    }
}
