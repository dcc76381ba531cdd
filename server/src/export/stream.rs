//! JSON and NDJSON: each entry through the API's own serializer, written as the entries
//! are read from the store, in chunks, so the download starts at once and memory stays
//! flat whatever the size.

use super::ExportAudit;
use app::entry::AuditEntry;
use app::store::StoreError;
use axum::body::Bytes;
use tokio::sync::mpsc;

/// The formats written as a stream.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Text {
    Json,
    Ndjson,
}

/// Bytes gathered before a chunk is sent: few syscalls, flat memory.
pub(super) const CHUNK: usize = 64 * 1024;

/// Turns the stream of entries into the file, chunk by chunk.
pub(super) struct Writer {
    format: Text,
    rows: mpsc::Receiver<Result<AuditEntry, StoreError>>,
    audit: ExportAudit,
    count: u64,
    state: WriterState,
}

#[derive(PartialEq, Eq)]
enum WriterState {
    Start,
    Rows,
    Done,
}

impl Writer {
    pub(super) fn new(format: Text, rows: mpsc::Receiver<Result<AuditEntry, StoreError>>, audit: ExportAudit) -> Self {
        Writer { format, rows, audit, count: 0, state: WriterState::Start }
    }

    pub(super) async fn next_chunk(mut self) -> Option<(Result<Bytes, StoreError>, Self)> {
        if self.state == WriterState::Done {
            return None;
        }
        let mut out = String::with_capacity(CHUNK + 4096);
        if self.state == WriterState::Start {
            self.state = WriterState::Rows;
            match self.format {
                Text::Json => out.push('['),
                Text::Ndjson => {}
            }
        }
        while out.len() < CHUNK {
            match self.rows.recv().await {
                Some(Ok(entry)) => {
                    self.write(&mut out, &entry);
                    self.count += 1;
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "export failed part-way; the transfer is aborted");
                    self.state = WriterState::Done;
                    return Some((Err(e), self));
                }
                None => {
                    if self.format == Text::Json {
                        out.push_str(if self.count == 0 { "]" } else { "\n]" });
                    }
                    self.state = WriterState::Done;
                    if let Err(e) = self.audit.record(self.count).await {
                        // The file is complete; only its trace is missing, which must not pass silently.
                        tracing::error!(error = %e, "could not record the export in the audit log");
                        return Some((Err(e), self));
                    }
                    break;
                }
            }
        }
        Some((Ok(Bytes::from(out)), self))
    }

    fn write(&self, out: &mut String, entry: &AuditEntry) {
        match self.format {
            Text::Json => {
                out.push_str(if self.count == 0 { "\n" } else { ",\n" });
                out.push_str(&serde_json::to_string(entry).unwrap_or_default());
            }
            Text::Ndjson => {
                out.push_str(&serde_json::to_string(entry).unwrap_or_default());
                out.push('\n');
            }
        }
    }
}
