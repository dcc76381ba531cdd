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
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// Bytes gathered before a chunk is sent: few syscalls, flat memory.
const CHUNK: usize = 64 * 1024;

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
    let sink = Box::new(Scanning { sink, runtime, deadline: Instant::now() + LONGEST });
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
    deadline: Instant,
}

impl<F: RowFormat> Scanning<F> {
    /// Sends a chunk or an error, waiting while the client catches up; `false` once the
    /// client has gone or has taken nothing for [`IDLE`].
    fn send(&self, item: Result<Chunk, StoreError>) -> bool {
        let wait = IDLE.min(self.deadline.saturating_duration_since(Instant::now()));
        let sent = self.runtime.block_on(tokio::time::timeout(wait, self.sink.tx.send(item)));
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

#[cfg(test)]
mod tests {
    use super::super::{ExportAudit, Exporter};
    use super::*;
    use app::export::ExportFormat;
    use app::filter::EntryQuery;

    /// The response side over a channel the test feeds, and how many exports it recorded.
    async fn respond(chunks: Vec<Chunk>) -> (Vec<Result<Bytes, StoreError>>, u64) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = app::store::open(&format!("sqlite:{}", dir.path().join("a.db").display())).await.expect("store");
        let audit = ExportAudit {
            store: store.clone(),
            format: ExportFormat::Csv,
            filters: String::new(),
            exported_by: Exporter::Page,
        };
        let (tx, rx) = mpsc::channel(8);
        for chunk in chunks {
            assert!(tx.send(Ok(chunk)).await.is_ok());
        }
        drop(tx);
        let mut state = State { head: Some("head\r\n".to_owned()), rx, audit, rows: 0, complete: false, done: false };
        let mut out = Vec::new();
        while let Some((item, next)) = state.next().await {
            out.push(item);
            state = next;
        }
        let (filter, _) =
            EntryQuery::from_query_string("event_type=audit.exported").and_then(|q| q.validate()).expect("valid");
        (out, store.count(&filter).await.expect("count"))
    }

    fn chunk(last: bool) -> Chunk {
        Chunk { bytes: Bytes::from_static(b"row\r\n"), rows: 1, last }
    }

    #[tokio::test]
    async fn a_stream_that_ends_without_its_last_chunk_is_aborted_and_not_recorded() {
        let (out, recorded) = respond(vec![chunk(false)]).await;
        assert_eq!(out.len(), 3, "head, chunk, then the error");
        assert!(out[0].is_ok() && out[1].is_ok() && out[2].is_err());
        assert_eq!(recorded, 0);
    }

    #[tokio::test]
    async fn a_stream_with_its_last_chunk_ends_cleanly_and_is_recorded() {
        let (out, recorded) = respond(vec![chunk(false), chunk(true)]).await;
        assert_eq!(out.len(), 3, "head and two chunks");
        assert!(out.iter().all(Result::is_ok));
        assert_eq!(recorded, 1);
    }
}
