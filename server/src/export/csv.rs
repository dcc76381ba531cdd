//! CSV: RFC 4180 with a header row, the nested fields flattened into [`CSV_COLUMNS`],
//! CRLF line ends, UTF-8, times in RFC 3339 UTC and `details` as the stored compact JSON.
//! Cells a spreadsheet would run as formulas are neutralised ([`neutralise`]).
//!
//! Rows come from [`AuditStore::scan`] as borrowed columns and are written straight into
//! 64 KiB chunks on the scan's own thread, which is what lets the export keep pace with
//! the `sqlite3` shell (docs/benchmarks.md).

use super::stream::CHUNK;
use super::ExportAudit;
use app::export::{neutralise, CSV_COLUMNS};
use app::filter::EntryFilter;
use app::store::{AuditStore, RawEntry, ScanSink, StoreError};
use axum::body::{Body, Bytes};
use futures_util::stream::unfold;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// Chunks written ahead of the client: enough to keep the scan busy, little memory.
const AHEAD: usize = 8;

/// How long a client may take no data before the export is abandoned: a stalled
/// download must not hold a database read (and a blocking thread) open for ever.
const IDLE: Duration = Duration::from_secs(300);

/// A piece of the file, how many entries it holds, and whether it is the last: a stream
/// that ends without its last chunk was cut off, never complete.
struct Chunk {
    bytes: Bytes,
    rows: u64,
    last: bool,
}

/// The CSV download: the header at once, then the rows as the scan writes them.
pub(super) fn body(store: Arc<dyn AuditStore>, filter: EntryFilter, audit: ExportAudit) -> Body {
    let (tx, rx) = mpsc::channel(AHEAD);
    let sink = Sink { out: String::with_capacity(CHUNK + 4096), rows: 0, tx: tx.clone(), runtime: Handle::current() };
    tokio::spawn(async move {
        if let Err(e) = store.scan(&filter, Box::new(sink)).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    let mut header = String::new();
    row(&mut header, CSV_COLUMNS);
    let state = State { header: Some(header), rx, audit, rows: 0, complete: false, done: false };
    Body::from_stream(unfold(state, State::next))
}

/// Writes rows into chunks on the scan's thread and hands each one over when full.
struct Sink {
    out: String,
    rows: u64,
    tx: mpsc::Sender<Result<Chunk, StoreError>>,
    runtime: Handle,
}

impl Sink {
    /// Sends what is written, waiting while the client catches up; `false` once the
    /// client has gone or has taken nothing for [`IDLE`].
    fn flush(&mut self, last: bool) -> bool {
        let out = std::mem::replace(&mut self.out, String::with_capacity(CHUNK + 4096));
        let chunk = Chunk { bytes: Bytes::from(out), rows: std::mem::take(&mut self.rows), last };
        // The scan's thread is a blocking one, where waiting on the runtime is allowed.
        matches!(self.runtime.block_on(tokio::time::timeout(IDLE, self.tx.send(Ok(chunk)))), Ok(Ok(())))
    }
}

impl ScanSink for Sink {
    fn entry(&mut self, e: &RawEntry<'_>) -> bool {
        let _ = write!(self.out, "audit-{}", e.sequence);
        self.out.push(',');
        self.out.push_str(&e.timestamp.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        row_rest(
            &mut self.out,
            [
                e.event_type,
                e.severity.as_str(),
                e.actor_type,
                e.actor_id,
                e.actor_name,
                e.resource_type.unwrap_or_default(),
                e.resource_id.unwrap_or_default(),
                e.resource_name.unwrap_or_default(),
                e.description,
                e.details,
                e.ip_address.unwrap_or_default(),
                e.user_agent.unwrap_or_default(),
            ],
        );
        self.rows += 1;
        self.out.len() < CHUNK || self.flush(false)
    }

    fn end(&mut self) {
        self.flush(true);
    }
}

/// The response side: the header, then the chunks; the export is recorded when the last
/// one is through, and a failure part-way aborts the transfer.
struct State {
    header: Option<String>,
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
        if let Some(header) = self.header.take() {
            return Some((Ok(Bytes::from(header)), self));
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

/// One whole record.
fn row<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        cell_into(out, cell);
    }
    out.push_str("\r\n");
}

/// The cells after the first ones, each preceded by its comma, and the line end.
fn row_rest<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for cell in cells {
        out.push(',');
        cell_into(out, cell);
    }
    out.push_str("\r\n");
}

/// A field, neutralised if formula-like, quoted when it holds a comma, a quote or a line
/// break (quotes doubled).
fn cell_into(out: &mut String, cell: &str) {
    let cell = neutralise(cell);
    if cell.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
        out.push('"');
        for (i, part) in cell.split('"').enumerate() {
            if i > 0 {
                out.push_str("\"\"");
            }
            out.push_str(part);
        }
        out.push('"');
    } else {
        out.push_str(&cell);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        let mut out = String::new();
        row(&mut out, ["plain", "a,b", "say \"hi\"", "two\nlines", "=1+1", "-2,3", ""]);
        assert_eq!(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",'=1+1,\"'-2,3\",\r\n");
    }
}
