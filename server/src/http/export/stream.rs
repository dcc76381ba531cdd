//! The download as it is sent. For the streamed formats (JSON, NDJSON, CSV) rows come from
//! [`AuditLog::scan`] as borrowed columns and are written straight into 64 KiB chunks on
//! the scan's own thread; a PDF is handed over whole, in the same chunks. The response
//! sends each chunk as it comes and keeps the export's trace up to date: the download
//! starts at once, memory stays flat whatever the size, a client that goes away stops the
//! scan, and a stream that ends without its last chunk is aborted rather than passed off
//! as a whole file. However the transfer ends, its outcome is recorded.

use super::trace::{ExportTrace, StopReason};
use app::filter::EntryFilter;
use app::store::{AuditLog, RawEntry, ScanSink, StoreError};
use axum::body::{Body, Bytes};
use futures_util::stream::unfold;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

/// Bytes gathered before a chunk is sent: few syscalls, flat memory.
pub(super) const CHUNK: usize = 64 * 1024;

/// Chunks written ahead of the client: enough to keep the scan busy, little memory.
const AHEAD: usize = 8;

/// How long a client may take no data before the export is abandoned, and the longest
/// an export may last in all: a stalled or crawling download must not hold a database
/// read (and a blocking thread, and one of the few scan turns) open for ever. A million
/// entries take seconds to write; an hour lets even a slow link fetch them.
const IDLE: Duration = Duration::from_secs(300);
const LONGEST: Duration = Duration::from_secs(3600);

/// How one streamed format writes a file.
pub(super) trait RowFormat: Send + 'static {
    /// What the file starts with (sent at once).
    fn head(&self) -> String;
    /// One entry; `index` counts them from 0.
    fn row(&self, out: &mut String, entry: &RawEntry<'_>, index: u64) -> Result<(), StoreError>;
    /// What the file ends with, after `rows` entries.
    fn tail(&self, out: &mut String, rows: u64);
    /// Whether the file holds the entries' hashes (see [`ScanSink::wants_hashes`]).
    fn hashes(&self) -> bool {
        true
    }
}

/// A piece of the file, how many entries it holds, and whether it is the last.
pub(super) struct Chunk {
    pub bytes: Bytes,
    pub rows: u64,
    pub last: bool,
}

pub(super) type Chunks = mpsc::Receiver<Result<Chunk, StoreError>>;

/// A streamed download: the head at once, then the rows as the scan writes them. The
/// scan holds `turn` until its read ends.
pub(super) fn scanned(
    log: Arc<dyn AuditLog>,
    filter: EntryFilter,
    trace: ExportTrace,
    turn: OwnedSemaphorePermit,
    format: impl RowFormat,
) -> Body {
    let (tx, rx) = mpsc::channel(AHEAD);
    let head = format.head();
    let sink = Sink { format, out: String::with_capacity(CHUNK + 4096), rows: 0, total: 0, tx: tx.clone() };
    let stopped = trace.stop_reason();
    let sink = Box::new(Scanning {
        sink,
        runtime: Handle::current(),
        deadline: Instant::now() + LONGEST,
        stopped,
        _turn: turn,
    });
    tokio::spawn(async move {
        if let Err(e) = log.scan(&filter, sink).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    respond(Some(head), rx, trace)
}

/// A file already complete in memory (the PDF), sent in chunks; its entries are counted
/// with the last one.
pub(super) fn whole(bytes: Vec<u8>, rows: u64, trace: ExportTrace) -> Body {
    let bytes = Bytes::from(bytes);
    let pieces = bytes.len().div_ceil(CHUNK).max(1);
    let (tx, rx) = mpsc::channel(pieces);
    for i in 0..pieces {
        let piece = bytes.slice(i * CHUNK..((i + 1) * CHUNK).min(bytes.len()));
        let last = i + 1 == pieces;
        // The channel holds every piece: sending cannot fail or wait.
        let _ = tx.try_send(Ok(Chunk { bytes: piece, rows: if last { rows } else { 0 }, last }));
    }
    respond(None, rx, trace)
}

/// The response side: the head, then the chunks; the trace follows every byte.
pub(super) fn respond(head: Option<String>, rx: Chunks, trace: ExportTrace) -> Body {
    let state = Sending { head, rx, trace: Some(trace), complete: false };
    Body::from_stream(unfold(state, Sending::next))
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

/// The sink, the runtime it waits on (the scan's thread is a blocking one, where waiting
/// on the runtime is allowed) and the export's turn to read the store.
struct Scanning<F> {
    sink: Sink<F>,
    runtime: Handle,
    deadline: Instant,
    /// Set when this side gives up on a client too slow, so that the outcome says so.
    stopped: StopReason,
    _turn: OwnedSemaphorePermit,
}

impl<F: RowFormat> Scanning<F> {
    /// Sends a chunk or an error, waiting while the client catches up; `false` once the
    /// client has gone or has taken nothing for [`IDLE`].
    fn send(&self, item: Result<Chunk, StoreError>) -> bool {
        let wait = IDLE.min(self.deadline.saturating_duration_since(Instant::now()));
        match self.runtime.block_on(tokio::time::timeout(wait, self.sink.tx.send(item))) {
            Ok(Ok(())) => true,
            // The response was dropped: the client went away.
            Ok(Err(_)) => false,
            Err(_) => {
                let why = if Instant::now() >= self.deadline {
                    "the download lasted longer than an hour"
                } else {
                    "the client took nothing for five minutes"
                };
                let _ = self.stopped.set(why);
                false
            }
        }
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

    fn wants_hashes(&self) -> bool {
        self.sink.format.hashes()
    }
}

struct Sending {
    head: Option<String>,
    rx: Chunks,
    /// Taken when the outcome is recorded; dropped with the response otherwise (the
    /// client went away), which records the abort.
    trace: Option<ExportTrace>,
    /// The last chunk has been seen.
    complete: bool,
}

impl Sending {
    async fn next(mut self) -> Option<(Result<Bytes, StoreError>, Self)> {
        if let Some(head) = self.head.take() {
            self.count(head.len(), 0);
            return Some((Ok(Bytes::from(head)), self));
        }
        // No trace left: the outcome is recorded, the transfer is over.
        self.trace.as_ref()?;
        match self.rx.recv().await {
            Some(Ok(chunk)) => {
                self.count(chunk.bytes.len(), chunk.rows);
                self.complete = chunk.last;
                Some((Ok(chunk.bytes), self))
            }
            Some(Err(e)) => self.abort(e, "the store could not be read to the end").await,
            None if !self.complete => {
                let why = self.trace.as_ref().and_then(|t| t.stop_reason().get().copied());
                let why = why.unwrap_or("the store could not be read to the end");
                self.abort(StoreError::backend("the scan ended before its last row"), why).await
            }
            None => {
                if let Some(trace) = self.trace.take() {
                    trace.completed().await;
                }
                None
            }
        }
    }

    fn count(&mut self, bytes: usize, rows: u64) {
        if let Some(trace) = &mut self.trace {
            trace.bytes += bytes as u64;
            trace.rows += rows;
        }
    }

    /// Ends the transfer with an error, so that the client sees a failed download rather
    /// than a short file.
    async fn abort(mut self, e: StoreError, why: &str) -> Option<(Result<Bytes, StoreError>, Self)> {
        tracing::error!(error = %e, reason = why, "export failed part-way; the transfer is aborted");
        if let Some(trace) = self.trace.take() {
            trace.aborted(why).await;
        }
        Some((Err(e), self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use app::access::{Caller, Principal};
    use app::export::ExportFormat;
    use app::filter::EntryQuery;

    /// The response side over a channel the test feeds, and the export events it recorded.
    async fn respond_with(chunks: Vec<Chunk>) -> (Vec<Result<Bytes, StoreError>>, Vec<String>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = app::store::open(&format!("sqlite:{}", dir.path().join("a.db").display())).await.expect("store");
        let caller = Caller { principal: Principal::Anonymous, ip: None, user_agent: None };
        let trace = ExportTrace::start(store.log.clone(), Arc::new(Metrics::default()), &caller, ExportFormat::Csv, "")
            .await
            .expect("started");
        let (tx, rx) = mpsc::channel(8);
        for chunk in chunks {
            assert!(tx.send(Ok(chunk)).await.is_ok());
        }
        drop(tx);
        let mut state = Some(Sending { head: Some("head\r\n".to_owned()), rx, trace: Some(trace), complete: false });
        let mut out = Vec::new();
        while let Some((item, next)) = match state.take() {
            Some(sending) => sending.next().await,
            None => None,
        } {
            let failed = item.is_err();
            out.push(item);
            state = Some(next);
            if failed {
                break;
            }
        }
        drop(state);
        // The abort of a dropped transfer is recorded on a task of its own.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (filter, _) =
            EntryQuery::from_query_string("event_type=audit.*").and_then(|q| q.validate()).expect("valid");
        let page = store.log.list(&filter, app::filter::PageRequest::default()).await.expect("lists");
        let mut events: Vec<String> = page.entries.iter().map(|e| e.event_type.clone()).collect();
        events.reverse();
        (out, events)
    }

    fn chunk(last: bool) -> Chunk {
        Chunk { bytes: Bytes::from_static(b"row\r\n"), rows: 1, last }
    }

    #[tokio::test]
    async fn a_stream_that_ends_without_its_last_chunk_is_aborted_and_recorded_so() {
        let (out, events) = respond_with(vec![chunk(false)]).await;
        assert_eq!(out.len(), 3, "head, chunk, then the error");
        assert!(out[0].is_ok() && out[1].is_ok() && out[2].is_err());
        assert_eq!(events, ["audit.exported", "audit.export.aborted"]);
    }

    #[tokio::test]
    async fn a_stream_with_its_last_chunk_ends_cleanly_and_is_recorded_complete() {
        let (out, events) = respond_with(vec![chunk(false), chunk(true)]).await;
        assert_eq!(out.len(), 3, "head and two chunks");
        assert!(out.iter().all(Result::is_ok));
        assert_eq!(events, ["audit.exported", "audit.export.completed"]);
    }
}
