//! This process's memory, and the machine the figures were measured on.

/// The most anonymous memory seen while it runs, sampled on its own thread.
pub struct HeapSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<f64>,
}

impl HeapSampler {
    pub fn start() -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut most: f64 = 0.0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                most = most.max(anon_memory_mib().unwrap_or(0.0));
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            most
        });
        HeapSampler { stop, thread }
    }

    pub fn stop(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or(0.0)
    }
}

/// Starts a new high-water mark of this process's memory (Linux: clear_refs 5).
pub fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn anon_memory_mib() -> Option<f64> {
    status_kib("RssAnon:").map(|kb| kb / 1024.0)
}

fn status_kib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

pub fn peak_memory_mib() -> Option<f64> {
    status_kib("VmHWM:").map(|kb| kb / 1024.0)
}

pub fn machine(store: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cores} cores ({cpu}), {mem_gib:.0} GiB memory, {store} on local disk, release build")
}
