//! The streamed formats (JSON, NDJSON, CSV): rows come from [`AuditStore::scan`] as
//! borrowed columns and are written straight into 64 KiB chunks on the scan's own thread;
//! the response sends each chunk as it comes. The download starts at once, memory stays
//! flat whatever the size, a client that goes away stops the scan, and a stream that ends
//! without its last chunk is aborted rather than passed off as a whole file.

use super::ExportAudit;
use app::filter::EntryFilter;
use app::store::{AuditStore, RawEntry, ScanSink, StoreError};
use axum::body::{Body, Bytes};
use futures_util::stream::unfold;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// Bytes gathered before a chunk is sent: few syscalls, flat memory.
const CHUNK: usize = 64 * 1024;

/// Chunks written ahead of the client: enough to keep the scan busy, little memory.
const AHEAD: usize = 8;

/// How long a client may take no data before the export is abandoned: a stalled
/// download must not hold a database read (and a blocking thread) open for ever.
const IDLE: Duration = Duration::from_secs(300);

/// How one streamed format writes a file.
pub(super) trait RowFormat: Send + 'static {
    /// What the file starts with (sent at once).
    fn head(&self) -> String;
    /// One entry; `index` counts them from 0.
    fn row(&self, out: &mut String, entry: &RawEntry<'_>, index: u64) -> Result<(), StoreError>;
    /// What the file ends with, after `rows` entries.
    fn tail(&self, out: &mut String, rows: u64);
}

/// The download: the head at once, then the rows as the scan writes them.
pub(super) fn body(
    store: Arc<dyn AuditStore>,
    filter: EntryFilter,
    audit: ExportAudit,
    format: impl RowFormat,
) -> Body {
    let (tx, rx) = mpsc::channel(AHEAD);
    let head = format.head();
    let sink = Sink { format, out: String::with_capacity(CHUNK + 4096), rows: 0, total: 0, tx: tx.clone() };
    let runtime = Handle::current();
    let sink = Box::new(Scanning { sink, runtime });
    tokio::spawn(async move {
        if let Err(e) = store.scan(&filter, sink).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    let state = State { head: Some(head), rx, audit, rows: 0, complete: false, done: false };
    Body::from_stream(unfold(state, State::next))
}

/// A piece of the file, how many entries it holds, and whether it is the last.
struct Chunk {
    bytes: Bytes,
    rows: u64,
    last: bool,
}

/// Writes rows into chunks on the scan's thread and hands each one over when full.
struct Sink<F> {
    format: F,
    out: String,
    /// Entries in the chunk being written.
    rows: u64,
    /// Entries written in all.
    total: u64,
    tx: mpsc::Sender<Result<Chunk, StoreError>>,
}

/// The sink and the runtime it waits on: the scan's thread is a blocking one, where
/// waiting on the runtime is allowed.
struct Scanning<F> {
    sink: Sink<F>,
    runtime: Handle,
}

impl<F: RowFormat> Scanning<F> {
    /// Sends a chunk or an error, waiting while the client catches up; `false` once the
    /// client has gone or has taken nothing for [`IDLE`].
    fn send(&self, item: Result<Chunk, StoreError>) -> bool {
        let sent = self.runtime.block_on(tokio::time::timeout(IDLE, self.sink.tx.send(item)));
        matches!(sent, Ok(Ok(())))
    }

    fn flush(&mut self, last: bool) -> bool {
        let out = std::mem::replace(&mut self.sink.out, String::with_capacity(CHUNK + 4096));
        let chunk = Chunk { bytes: Bytes::from(out), rows: std::mem::take(&mut self.sink.rows), last };
        self.send(Ok(chunk))
    }
}

impl<F: RowFormat> ScanSink for Scanning<F> {
    fn entry(&mut self, entry: &RawEntry<'_>) -> bool {
        let sink = &mut self.sink;
        if let Err(e) = sink.format.row(&mut sink.out, entry, sink.total) {
            self.send(Err(e));
            return false;
        }
        sink.rows += 1;
        sink.total += 1;
        sink.out.len() < CHUNK || self.flush(false)
    }

    fn end(&mut self) {
        let sink = &mut self.sink;
        sink.format.tail(&mut sink.out, sink.total);
        self.flush(true);
    }
}

/// The response side: the head, then the chunks; the export is recorded when the last
/// one is through, and a failure part-way aborts the transfer.
struct State {
    head: Option<String>,
    rx: mpsc::Receiver<Result<Chunk, StoreError>>,
    audit: ExportAudit,
    rows: u64,
    /// The last chunk has been seen.
    complete: bool,
    done: bool,
}

impl State {
    fn abort(mut self, e: StoreError) -> Option<(Result<Bytes, StoreError>, Self)> {
        tracing::error!(error = %e, "export failed part-way; the transfer is aborted");
        self.done = true;
        Some((Err(e), self))
    }

    async fn next(mut self) -> Option<(Result<Bytes, StoreError>, Self)> {
        if let Some(head) = self.head.take() {
            return Some((Ok(Bytes::from(head)), self));
        }
        if self.done {
            return None;
        }
        match self.rx.recv().await {
            Some(Ok(chunk)) => {
                self.rows += chunk.rows;
                self.complete = chunk.last;
                Some((Ok(chunk.bytes), self))
            }
            Some(Err(e)) => self.abort(e),
            None if !self.complete => self.abort(StoreError::ScanStopped("the scan ended before its last row".into())),
            None => {
                self.done = true;
                match self.audit.record(self.rows).await {
                    Ok(()) => None,
                    Err(e) => {
                        // The file is complete; only its trace is missing, which must not pass silently.
                        tracing::error!(error = %e, "could not record the export in the audit log");
                        Some((Err(e), self))
                    }
                }
            }
        }
    }
}
