//! Readers yield the processor to the writer. On two cores, eight reader connections
//! running queries back to back would otherwise take their share of the processor from
//! the one writer thread, and every single-event append waits behind them (measured:
//! writes fell to a third under 80 busy readers). Reader threads run at a lower
//! scheduling priority instead, so that when both want the processor the writer gets
//! the larger share; readers lose nothing when nobody writes.
//!
//! sqlx starts each connection's worker thread itself and offers no hook on that
//! thread, so the threads are found by the name the store gives them. Linux only (its
//! niceness is per thread); elsewhere readers keep the normal priority.

/// The prefix of every reader thread's name (Linux keeps 15 bytes of a thread's name).
pub const READER_THREAD: &str = "audit-read-";

/// How much lower than the process reader threads run: 5 steps of `nice` give them
/// about a third of the weight of the writer's thread when both want the processor.
/// Measured at 100k entries under the benchmark's load (80 readers, 20 producers, each
/// read in one transaction as [`super::plan::list`] reads), in one session: 10 steps kept 2.7k–3.2k events/s but left reads at p99 225–258 ms; 5
/// steps, 1.8k–2.1k events/s (p99 22–25 ms) and reads at p99 190–213 ms; 3 steps cost
/// writes more and gave reads nothing further.
#[cfg(target_os = "linux")]
const READER_STEPS: libc::c_int = 5;

/// The niceness reader threads get: `READER_STEPS` below the process's own (never
/// above it: an absolute value would raise them over a process started with `nice`).
#[cfg(target_os = "linux")]
fn reader_niceness() -> libc::c_int {
    // SAFETY: integers only; 0 names the calling process.
    let own = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    (own + READER_STEPS).min(19)
}

/// The name of reader connection `id`'s thread.
pub fn reader_thread_name(id: u64) -> String {
    format!("{READER_THREAD}{id}")
}

/// Lowers the priority of every reader thread of this process (those already lowered
/// are set again, which changes nothing). A failure only costs fairness, so it is
/// logged, not returned.
#[cfg(target_os = "linux")]
pub fn lower_reader_threads() {
    let tasks = match std::fs::read_dir("/proc/self/task") {
        Ok(tasks) => tasks,
        Err(error) => {
            tracing::debug!(%error, "reader threads keep their priority");
            return;
        }
    };
    let niceness = reader_niceness();
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse::<libc::id_t>().ok()) else {
            continue;
        };
        let is_reader = std::fs::read_to_string(task.path().join("comm"))
            .is_ok_and(|name| name.trim_end().starts_with(READER_THREAD));
        if !is_reader {
            continue;
        }
        // SAFETY: setpriority takes plain integers and reads no memory of ours; on Linux
        // PRIO_PROCESS with a thread id sets that one thread's niceness.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, niceness) };
        if rc != 0 {
            tracing::debug!(tid, error = %std::io::Error::last_os_error(), "reader thread keeps its priority");
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub fn lower_reader_threads() {}

/// Lowers the calling thread as reader threads are lowered: for background work (WAL
/// checkpoints) that must not take the processor from appends, nor from readers.
#[cfg(target_os = "linux")]
pub fn lower_this_thread() {
    // SAFETY: integers only; on Linux PRIO_PROCESS with 0 names the calling thread.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, reader_niceness()) } != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "background thread keeps its priority");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn lower_this_thread() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn niceness_of(tid: libc::id_t) -> libc::c_int {
        // SAFETY: as above, integers only.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) }
    }

    fn own_tid() -> libc::id_t {
        // SAFETY: gettid has no arguments and cannot fail.
        unsafe { libc::gettid() as libc::id_t }
    }

    #[test]
    fn reader_threads_are_lowered_and_others_are_not() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let reader = std::thread::Builder::new()
            .name(reader_thread_name(7))
            .spawn(move || {
                tx.send(own_tid()).expect("send");
                done_rx.recv().ok();
            })
            .expect("spawn");
        let tid = rx.recv().expect("tid");
        let before = niceness_of(own_tid());
        let expected = reader_niceness();
        assert!(expected > before || before == 19, "readers run below the process");
        lower_reader_threads();
        assert_eq!(niceness_of(tid), expected);
        assert_eq!(niceness_of(own_tid()), before, "a thread not named as a reader keeps its priority");
        done_tx.send(()).expect("send");
        reader.join().expect("join");
    }
}
