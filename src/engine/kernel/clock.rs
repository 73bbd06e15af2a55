//! When the machine booted, in wall-clock time, from the kernel's timekeeper: what turns a
//! task's start (nanoseconds since boot) into the time it was created, as Volatility's
//! `linux.pslist` shows it.
//!
//! `tk_core.timekeeper` (an anonymous struct around `struct timekeeper` since 3.17) holds
//! `offs_real` (wall clock − monotonic clock) and `offs_boot` (boot-based clock − monotonic
//! clock), in nanoseconds. A start on the boot-based clock (`start_boottime`,
//! `real_start_time`) becomes wall time by adding `offs_real − offs_boot`; one on the monotonic
//! clock (`start_time` alone) by adding `offs_real`.

use crate::engine::kernel::memory::KernelMemory;

/// The wall-clock time, in nanoseconds since the epoch, of instant 0 of the clock that
/// tasks' start times use. `None` when the ISF or the memory does not say.
pub fn start_clock_epoch_ns(k: &dyn KernelMemory) -> Option<i128> {
    let isf = k.isf();
    let holder = isf.symbol("tk_core")?.type_name?;
    let tk = k.symbol("tk_core").ok()? + isf.field(&holder, "timekeeper")?.offset;
    let offs_real = k.read_field_u64(tk, "timekeeper", "offs_real").ok()? as i64;
    let offs_boot = k.read_field_u64(tk, "timekeeper", "offs_boot").ok()? as i64;
    let boot_based = ["start_boottime", "real_start_time"]
        .iter()
        .any(|f| isf.field("task_struct", f).is_some());
    let epoch = if boot_based {
        i128::from(offs_real) - i128::from(offs_boot)
    } else {
        i128::from(offs_real)
    };
    // A timekeeper that was never set (or garbage) gives no date worth showing.
    (epoch > 0 && epoch < 1 << 62).then_some(epoch)
}
