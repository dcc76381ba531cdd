//! JSON, NDJSON and CSV: written as the entries are read from the store, in chunks, so the
//! download starts at once and memory stays flat whatever the size.

use super::ExportAudit;
use app::entry::AuditEntry;
use app::export::{neutralise, CSV_COLUMNS};
use app::store::StoreError;
use axum::body::Bytes;
use tokio::sync::mpsc;

/// The formats written as a stream.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Text {
    Json,
    Ndjson,
    Csv,
}

/// Bytes gathered before a chunk is sent: few syscalls, flat memory.
const CHUNK: usize = 64 * 1024;

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
                Text::Csv => csv_row(&mut out, CSV_COLUMNS.iter().map(|c| (*c).to_owned())),
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
            Text::Csv => csv_row(out, csv_cells(entry).into_iter()),
        }
    }
}

/// The CSV cells of an entry, in [`CSV_COLUMNS`] order.
fn csv_cells(e: &AuditEntry) -> [String; 14] {
    let resource = e.resource.as_ref();
    [
        e.id.clone(),
        e.timestamp.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        e.event_type.clone(),
        e.severity.as_str().to_owned(),
        e.actor.kind.as_str().to_owned(),
        e.actor.id.clone(),
        e.actor.name.clone(),
        resource.map(|r| r.kind.clone()).unwrap_or_default(),
        resource.map(|r| r.id.clone()).unwrap_or_default(),
        resource.and_then(|r| r.name.clone()).unwrap_or_default(),
        e.description.clone(),
        serde_json::to_string(&e.details).unwrap_or_default(),
        e.ip_address.clone().unwrap_or_default(),
        e.user_agent.clone().unwrap_or_default(),
    ]
}

/// One RFC 4180 record: fields quoted when they hold a comma, a quote or a line break
/// (quotes doubled), formula-like cells neutralised, CRLF at the end.
fn csv_row(out: &mut String, cells: impl Iterator<Item = String>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let cell = neutralise(&cell);
        if cell.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        let mut out = String::new();
        csv_row(&mut out, ["plain", "a,b", "say \"hi\"", "two\nlines", "=1+1", ""].iter().map(|s| s.to_string()));
        assert_eq!(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",'=1+1,\r\n");
    }
}
