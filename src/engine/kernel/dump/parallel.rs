//! Reading a dump's thousands of tasks in parallel: each task's structures, command line
//! and executable lie on scattered pages (AVML chunks to decode), so the open's walk is
//! split in ordered parts. A first open mostly waits for those pages to come from the disk,
//! so there are more parts than cores ([`io_threads`](crate::engine::par::io_threads)).

use crate::engine::error::Result;
use crate::engine::kernel::dpath::PathRef;
use crate::engine::kernel::memory::KernelMemory;
use crate::engine::kernel::space::KernelSpace;
use crate::engine::kernel::tasks::{TaskInfo, read_task};

/// Items each part handles between two [`release_all`](crate::engine::mapped::release_all)s:
/// what a walk over the whole dump touched is not left resident. Per part: with 8 parts
/// (2 cores) of a 2,040-task list, 256 meant no release before the end (a first open of the 64 GiB
/// LiME peaked at 163 MB; 122 MB with 32, in the same time).
const RELEASE_EVERY: usize = 32;
/// Shorter lists are not worth a thread.
const PARALLEL_FROM: usize = 128;

/// `f` of every item, in order, on every core for long lists, releasing the mapped pages
/// touched every [`RELEASE_EVERY`] items of each part.
pub(super) fn map_ordered<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = crate::engine::par::io_threads();
    crate::engine::par::map_ordered_on(threads, items, PARALLEL_FROM, Some(RELEASE_EVERY), f)
}

/// One task as read: its facts and its root folder.
pub(super) type TaskRead = Result<(TaskInfo, Option<PathRef>)>;

/// Reads every task of the list (its facts and its root folder), in list order.
pub(super) fn read_tasks(k: &KernelSpace, list: &[u64]) -> Vec<(u64, TaskRead)> {
    map_ordered(list, |&task| {
        (
            task,
            read_task(k, task).map(|info| (info, fs_root(k, task))),
        )
    })
}

/// `task->fs->root`, when the task has a `fs_struct`.
fn fs_root(k: &dyn KernelMemory, task: u64) -> Option<PathRef> {
    let fs = k.read_field_u64(task, "task_struct", "fs").ok()?;
    if fs == 0 {
        return None;
    }
    PathRef::read(k, k.field_addr(fs, "fs_struct", "root").ok()?).ok()
}
