//! `GET /audit/export`: every matching entry as a download, JSON, NDJSON or CSV, written
//! as it is read from the store. Problems with the request are answered (400) before the
//! first byte of the file; a store failure mid-way aborts the transfer, so a client can
//! never mistake a cut-off file for a whole one. Each export is itself audited.

use super::ApiError;
use app::entry::{Actor, ActorType, AuditEntry, Severity};
use app::export::{file_name, neutralise, ExportFormat, CSV_COLUMNS};
use app::filter::EntryQuery;
use app::ingest::ValidEntry;
use app::store::{AuditStore, StoreError};
use app::tokens::TokenRecord;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::Utc;
use futures_util::stream;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Bytes gathered before a chunk is sent: few syscalls, flat memory.
const CHUNK: usize = 64 * 1024;

/// `GET /audit/export` (bearer token) and `GET /api/audit/export` (the Audit tab's
/// export dialog; the pages have no login yet, so neither has their export).
pub async fn export(
    State(store): State<Arc<dyn AuditStore>>,
    token: Option<Extension<TokenRecord>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (format, filters) = split_format(query.as_deref().unwrap_or_default())?;
    let query = EntryQuery::from_query_string(&filters)?;
    if query.limit.is_some() || query.offset.is_some() {
        return Err(bad_request("an export holds every matching entry: leave out limit and offset"));
    }
    let (filter, _) = query.validate()?;
    let name = file_name(&filter, format, Utc::now());
    let rows = store.export(filter);
    let exported_by = match token {
        Some(Extension(token)) => Exporter::Token(token.name),
        None => Exporter::Page,
    };
    let audit = ExportAudit { store, format, filters, exported_by };
    let body = Body::from_stream(stream::unfold(Writer::new(format, rows, audit), Writer::next_chunk));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

fn bad_request(message: &str) -> ApiError {
    ApiError::BadBody { status: StatusCode::BAD_REQUEST, message: message.to_owned() }
}

/// Takes the required `format` out of the query; the rest are the filters.
fn split_format(query: &str) -> Result<(ExportFormat, String), ApiError> {
    let mut format = None;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == "format" {
            let parsed = value
                .parse()
                .map_err(|()| bad_request(&format!("format '{value}' is unknown: use json, ndjson or csv")))?;
            if format.replace(parsed).is_some() {
                return Err(bad_request("parameter 'format' may be given only once"));
            }
        } else {
            rest.append_pair(&key, &value);
        }
    }
    let format = format.ok_or_else(|| bad_request("format is required: json, ndjson or csv"))?;
    Ok((format, rest.finish()))
}

/// Who asked for an export.
enum Exporter {
    /// A REST client, named by its token.
    Token(String),
    /// The Audit tab's export dialog, which has no login yet.
    Page,
}

impl Exporter {
    fn actor(&self) -> Actor {
        match self {
            Exporter::Token(name) => Actor { kind: ActorType::Service, id: name.clone(), name: name.clone() },
            Exporter::Page => {
                Actor { kind: ActorType::User, id: "anonymous".to_owned(), name: "Audit tab (no login)".to_owned() }
            }
        }
    }
}

/// What the audit entry of an export records, once its row count is known.
struct ExportAudit {
    store: Arc<dyn AuditStore>,
    format: ExportFormat,
    filters: String,
    exported_by: Exporter,
}

impl ExportAudit {
    async fn record(&self, rows: u64) -> Result<(), StoreError> {
        let actor = self.exported_by.actor();
        let details = json!({
            "format": self.format.as_str(),
            "filters": self.filters,
            "rows": rows,
            "exported_by": actor.name,
        });
        let details = details.as_object().cloned().unwrap_or_default();
        let description = app::catalogue::lookup("audit.exported")
            .map(|spec| app::catalogue::render_template(spec.template, &details))
            .unwrap_or_default();
        let entry = ValidEntry {
            timestamp: Utc::now(),
            event_type: "audit.exported".to_owned(),
            actor,
            resource: None,
            description,
            details,
            severity: Severity::Info,
            ip_address: None,
            user_agent: None,
        };
        self.store.append(&[entry]).await.map(|_| ())
    }
}

/// Turns the stream of entries into the file, chunk by chunk.
struct Writer {
    format: ExportFormat,
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
    fn new(format: ExportFormat, rows: mpsc::Receiver<Result<AuditEntry, StoreError>>, audit: ExportAudit) -> Self {
        Writer { format, rows, audit, count: 0, state: WriterState::Start }
    }

    async fn next_chunk(mut self) -> Option<(Result<Bytes, StoreError>, Self)> {
        if self.state == WriterState::Done {
            return None;
        }
        let mut out = String::with_capacity(CHUNK + 4096);
        if self.state == WriterState::Start {
            self.state = WriterState::Rows;
            match self.format {
                ExportFormat::Json => out.push('['),
                ExportFormat::Csv => csv_row(&mut out, CSV_COLUMNS.iter().map(|c| (*c).to_owned())),
                ExportFormat::Ndjson => {}
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
                    if self.format == ExportFormat::Json {
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
            ExportFormat::Json => {
                out.push_str(if self.count == 0 { "\n" } else { ",\n" });
                out.push_str(&serde_json::to_string(entry).unwrap_or_default());
            }
            ExportFormat::Ndjson => {
                out.push_str(&serde_json::to_string(entry).unwrap_or_default());
                out.push('\n');
            }
            ExportFormat::Csv => csv_row(out, csv_cells(entry).into_iter()),
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

    #[test]
    fn format_is_required_once_and_known() {
        assert!(split_format("severity=error").is_err());
        assert!(split_format("format=xml").is_err());
        assert!(split_format("format=csv&format=json").is_err());
        let (format, rest) = split_format("format=csv&severity=error&q=kv").map_err(|e| e.to_string()).expect("ok");
        assert_eq!((format, rest.as_str()), (ExportFormat::Csv, "severity=error&q=kv"));
    }
}
