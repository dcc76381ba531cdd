//! `GET /audit/export`: every matching entry as a download, in JSON, NDJSON, CSV or PDF.
//! Problems with the request are answered (400) before the first byte of the file. JSON,
//! NDJSON ([`json`]) and CSV ([`csv`]) are written as they are read ([`stream`]); a store failure
//! mid-way aborts the transfer, so a client can never mistake a cut-off file for a whole
//! one. A PDF is laid out whole before it is sent ([`pdf`]). Each export is itself
//! audited.

mod csv;
mod json;
mod pdf;
mod stream;

use crate::rest::ApiError;
use app::entry::{Actor, ActorType, Severity};
use app::export::{file_name, ExportFormat, PDF_MAX_ENTRIES};
use app::filter::{EntryFilter, EntryQuery};
use app::ingest::ValidEntry;
use app::store::{AuditStore, RawEntry, ScanSink, StoreError};
use app::tokens::TokenRecord;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::{DateTime, Utc};
use csv::Csv;
use json::Json;
use pdf::{PdfError, Report, ReportMeta};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::{oneshot, Semaphore, SemaphorePermit};

/// PDF reports are built one at a time: each holds its pages in memory until it is sent.
static PDF_BUILDS: Semaphore = Semaphore::const_new(1);

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
    let now = Utc::now();
    let name = file_name(&filter, format, now);
    let exported_by = match token {
        Some(Extension(token)) => Exporter::Token(token.name),
        None => Exporter::Page,
    };
    let audit = ExportAudit { store: store.clone(), format, filters, exported_by };
    let body = match format {
        ExportFormat::Json => stream::body(store, filter, audit, Json { lines: false }),
        ExportFormat::Ndjson => stream::body(store, filter, audit, Json { lines: true }),
        ExportFormat::Csv => stream::body(store, filter, audit, Csv),
        ExportFormat::Pdf => pdf_body(store, &query, filter, audit, now).await?,
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

/// The PDF report, complete, or a 422 if it would hold more than [`PDF_MAX_ENTRIES`].
async fn pdf_body(
    store: Arc<dyn AuditStore>,
    query: &EntryQuery,
    filter: EntryFilter,
    audit: ExportAudit,
    now: DateTime<Utc>,
) -> Result<Body, ApiError> {
    let matched = store.count(&filter).await?;
    if matched > PDF_MAX_ENTRIES {
        return Err(too_many(&matched.to_string()));
    }
    let meta = ReportMeta {
        period: period(&filter),
        filters: app::audit::url::chips(query).iter().map(|c| c.label()).collect(),
        generated_by: audit.exported_by.describe(),
        generated_at: now,
    };
    // The turn goes with the build, so a client that leaves cannot start another
    // alongside a build still running.
    let turn = PDF_BUILDS.acquire().await.map_err(|_| ApiError::Unavailable)?;
    let (done, written) = oneshot::channel();
    let sink = PdfSink {
        report: Some(Report::new(meta)?),
        rows: 0,
        limit: PDF_MAX_ENTRIES,
        done: Some(done),
        _turn: Some(turn),
    };
    let rows = store.scan(&filter, Box::new(sink)).await?;
    match written.await {
        Ok(bytes) => {
            let bytes = bytes?;
            audit.record(rows).await?;
            Ok(Body::from(bytes))
        }
        // The scan stopped early: entries arrived meanwhile and took it past the cap.
        Err(_) => Err(too_many(&format!("more than {PDF_MAX_ENTRIES}"))),
    }
}

/// Lays out each entry as the scan reads it (on the scan's thread: this is CPU work) and
/// writes the file when the last one is in.
struct PdfSink {
    report: Option<Report>,
    rows: u64,
    /// The cap, checked again here: entries may arrive after they were counted.
    limit: u64,
    done: Option<oneshot::Sender<Result<Vec<u8>, PdfError>>>,
    _turn: Option<SemaphorePermit<'static>>,
}

impl ScanSink for PdfSink {
    fn entry(&mut self, entry: &RawEntry<'_>) -> bool {
        self.rows += 1;
        // Stop when the client has gone: nobody would receive the file.
        if self.done.as_ref().is_none_or(|done| done.is_closed()) {
            return false;
        }
        match &mut self.report {
            Some(report) if self.rows <= self.limit => {
                report.push(entry);
                true
            }
            _ => false,
        }
    }

    fn end(&mut self) {
        if let (Some(report), Some(done)) = (self.report.take(), self.done.take()) {
            let _ = done.send(report.finish());
        }
    }
}

impl From<PdfError> for ApiError {
    fn from(e: PdfError) -> Self {
        ApiError::Report(e.to_string())
    }
}

fn too_many(matched: &str) -> ApiError {
    ApiError::BadBody {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: format!(
            "a PDF report holds at most {PDF_MAX_ENTRIES} entries and these filters match {matched}: \
             narrow the period or the filters, or export CSV or JSON, which have no limit"
        ),
    }
}

/// The period a filter covers, in words.
fn period(filter: &EntryFilter) -> String {
    let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let from = filter.start.map_or_else(|| "the first entry".to_owned(), at);
    let to =
        filter.end.map_or_else(|| "the time of this report".to_owned(), |end| format!("{} (not included)", at(end)));
    format!("From {from} up to {to}")
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
                .map_err(|()| bad_request(&format!("format '{value}' is unknown: use json, ndjson, csv or pdf")))?;
            if format.replace(parsed).is_some() {
                return Err(bad_request("parameter 'format' may be given only once"));
            }
        } else {
            rest.append_pair(&key, &value);
        }
    }
    let format = format.ok_or_else(|| bad_request("format is required: json, ndjson, csv or pdf"))?;
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

    /// As a report names its author.
    fn describe(&self) -> String {
        match self {
            Exporter::Token(name) => format!("API token \"{name}\""),
            Exporter::Page => "the Audit tab (no login)".to_owned(),
        }
    }
}

/// What the audit entry of an export records, once its row count is known.
pub(super) struct ExportAudit {
    store: Arc<dyn AuditStore>,
    format: ExportFormat,
    filters: String,
    exported_by: Exporter,
}

impl ExportAudit {
    pub(super) async fn record(&self, rows: u64) -> Result<(), StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_required_once_and_known() {
        assert!(split_format("severity=error").is_err());
        assert!(split_format("format=xml").is_err());
        assert!(split_format("format=csv&format=json").is_err());
        let (format, rest) = split_format("format=pdf&severity=error&q=kv").map_err(|e| e.to_string()).expect("ok");
        assert_eq!((format, rest.as_str()), (ExportFormat::Pdf, "severity=error&q=kv"));
    }

    #[test]
    fn a_report_that_grows_past_the_cap_while_read_is_never_written() {
        let meta = || ReportMeta {
            period: String::new(),
            filters: Vec::new(),
            generated_by: "test".to_owned(),
            generated_at: Utc::now(),
        };
        let entry = RawEntry {
            sequence: 1,
            timestamp: Utc::now(),
            event_type: "auth.logout",
            severity: Severity::Info,
            actor_type: "user",
            actor_id: "u",
            actor_name: "u",
            resource_type: None,
            resource_id: None,
            resource_name: None,
            description: "d",
            details: "{}",
            ip_address: None,
            user_agent: None,
            prev_hash: &[],
            hash: &[],
        };
        let (done, mut written) = oneshot::channel();
        let mut sink = PdfSink { report: Report::new(meta()).ok(), rows: 0, limit: 2, done: Some(done), _turn: None };
        assert!(sink.entry(&entry) && sink.entry(&entry));
        assert!(!sink.entry(&entry), "the third entry stops the scan");
        assert!(matches!(written.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
        drop(sink); // a stopped scan never calls `end`
        assert!(written.try_recv().is_err(), "no file");

        let (done, mut written) = oneshot::channel();
        let mut sink = PdfSink { report: Report::new(meta()).ok(), rows: 0, limit: 2, done: Some(done), _turn: None };
        assert!(sink.entry(&entry));
        sink.end();
        let pdf = written.try_recv().expect("written").expect("a file");
        assert!(pdf.starts_with(b"%PDF-"));

        // A client that went away stops the layout at the next entry.
        let (done, written) = oneshot::channel();
        let mut sink = PdfSink { report: Report::new(meta()).ok(), rows: 0, limit: 2, done: Some(done), _turn: None };
        drop(written);
        assert!(!sink.entry(&entry));
    }

    #[test]
    fn the_period_is_said_in_words() {
        let filter = |q: &str| EntryQuery::from_query_string(q).and_then(|q| q.validate()).expect("valid").0;
        assert_eq!(
            period(&filter("start_date=2025-01-01&end_date=2025-01-31")),
            "From 2025-01-01 00:00:00 UTC up to 2025-02-01 00:00:00 UTC (not included)"
        );
        assert_eq!(period(&filter("")), "From the first entry up to the time of this report");
    }
}
