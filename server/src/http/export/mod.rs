//! `GET /audit/export`: every matching entry as a download, in JSON, NDJSON, CSV, PDF or
//! an evidence pack ([`evidence`]).
//! Problems with the request are answered (400) before the first byte of the file. JSON,
//! NDJSON ([`json`]) and CSV ([`csv`]) are written as they are read ([`stream`]); a store failure
//! mid-way aborts the transfer, so a client can never mistake a cut-off file for a whole
//! one. A PDF is laid out whole before it is sent ([`pdf`]). Each export is itself
//! audited.

mod csv;
mod evidence;
mod json;
mod pdf;
mod stream;
mod trace;

use super::caller::Who;
use super::error::ApiError;
use crate::state::AppState;
use app::export::{file_name, ExportFormat, PDF_MAX_ENTRIES};
use app::filter::{take_param, EntryFilter, EntryQuery};
use app::store::{RawEntry, ScanSink};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use csv::Csv;
use json::Json;
use pdf::{PdfError, Report, ReportMeta};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use trace::ExportTrace;

/// What a refused export is told to wait before it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// `GET /audit/export` (bearer token) and `GET /api/audit/export` (the Audit tab's
/// export dialog). Everything that can refuse the export does so before the first byte:
/// a bad request (400), a PDF over its cap (422), too many exports at once (503 with
/// `Retry-After`), and a trace that cannot be recorded.
#[utoipa::path(
    get,
    path = "/audit/export",
    tag = "log",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every matching entry, oldest first, as a download named for its period \
                                      (JSON, NDJSON and CSV are streamed; a PDF or an evidence pack (zip) is sent when complete)"),
        (status = 400, description = "A parameter is wrong, unknown or a paging one", body = crate::http::openapi::ErrorBody),
        (status = 409, description = "An evidence pack whose checkpoint cannot be signed (this server's key is not the log's, or the checkpoint directory holds a tree the log does not extend)", body = crate::http::openapi::ErrorBody),
        (status = 422, description = "A PDF or an evidence pack over 50,000 entries", body = crate::http::openapi::ErrorBody),
        (status = 503, description = "Too many exports at once; try again after `Retry-After` seconds", body = crate::http::openapi::ErrorBody),
        (status = 401, description = "No valid bearer token", body = crate::http::openapi::ErrorBody),
        (status = 403, description = "The token lacks the scope", body = crate::http::openapi::ErrorBody)
    )
)]
pub async fn export(
    State(state): State<AppState>,
    Who(caller): Who,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (format, filters) = take_param(query.as_deref().unwrap_or_default(), "format")?;
    let format: ExportFormat = match format {
        None => return Err(ApiError::bad_request("format is required: json, ndjson, csv, pdf or evidence")),
        Some(value) => value.parse().map_err(|()| {
            ApiError::bad_request(format!("format '{value}' is unknown: use json, ndjson, csv, pdf or evidence"))
        })?,
    };
    let query = EntryQuery::from_query_string(&filters)?;
    if query.pages() {
        return Err(ApiError::bad_request("an export holds every matching entry: leave out limit, offset and after"));
    }
    let (filter, _) = query.validate()?;
    let now = Utc::now();
    let name = file_name(&filter, format, now);
    let body = if format.has_report() {
        let matched = state.log.count(&filter).await?;
        if matched > PDF_MAX_ENTRIES {
            return Err(too_many(format, &matched.to_string()));
        }
        let build = take_turn(&state.limits.pdf_builds, state.limits.scan_wait, "PDF reports are being built").await?;
        let scan = take_turn(&state.limits.scans, state.limits.scan_wait, "exports are running").await?;
        let trace = ExportTrace::start(state.log.clone(), state.metrics.clone(), &caller, format, &filters).await?;
        let filter = EntryFilter { up_to: Some(trace.snapshot()), ..filter };
        let meta = ReportMeta {
            period: period(&filter),
            filters: app::audit::url::chips(&query).iter().map(|c| c.label()).collect(),
            generated_by: caller.principal.describe(),
            generated_at: now,
        };
        if format == ExportFormat::Evidence {
            let asked = evidence::Asked { query, snapshot: trace.snapshot(), filters, meta };
            evidence::body(&state, filter, asked, trace, [build, scan]).await?
        } else {
            pdf_body(&state, filter, meta, trace, [build, scan]).await?
        }
    } else {
        let scan = take_turn(&state.limits.scans, state.limits.scan_wait, "exports are running").await?;
        let trace = ExportTrace::start(state.log.clone(), state.metrics.clone(), &caller, format, &filters).await?;
        let filter = EntryFilter { up_to: Some(trace.snapshot()), ..filter };
        let log = state.log.clone();
        match format {
            ExportFormat::Json => stream::scanned(log, filter, trace, scan, Json { lines: false }),
            ExportFormat::Ndjson => stream::scanned(log, filter, trace, scan, Json { lines: true }),
            _ => stream::scanned(log, filter, trace, scan, Csv),
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

/// A turn of a limited resource, waited for at most `wait`; then the export is refused
/// with a 503 before anything is sent.
async fn take_turn(limit: &Arc<Semaphore>, wait: Duration, what: &str) -> Result<OwnedSemaphorePermit, ApiError> {
    match tokio::time::timeout(wait, limit.clone().acquire_owned()).await {
        Ok(Ok(turn)) => Ok(turn),
        Ok(Err(_closed)) => Err(ApiError::Unavailable),
        Err(_) => Err(ApiError::Busy {
            reason: format!("too many {what} at once: try again in {} seconds", RETRY_AFTER.as_secs()),
            retry_after: RETRY_AFTER,
        }),
    }
}

/// The PDF report, laid out as the scan reads the entries and sent when complete.
async fn pdf_body(
    state: &AppState,
    filter: EntryFilter,
    meta: ReportMeta,
    trace: ExportTrace,
    turns: [OwnedSemaphorePermit; 2],
) -> Result<Body, ApiError> {
    let (done, written) = oneshot::channel();
    let built: Result<Option<(Vec<u8>, u64)>, ApiError> = async {
        let sink = PdfSink {
            report: Some(Report::new(meta)?),
            rows: 0,
            limit: PDF_MAX_ENTRIES,
            done: Some(done),
            _turns: turns,
        };
        let rows = state.log.scan(&filter, Box::new(sink)).await?;
        match written.await {
            Ok(bytes) => Ok(Some((bytes?, rows))),
            // The scan stopped early: entries arrived meanwhile and took it past the cap.
            Err(_) => Ok(None),
        }
    }
    .await;
    send_whole(built, trace, ExportFormat::Pdf).await
}

/// A file built whole (a PDF report, an evidence pack) sent; or, when it was not built,
/// why recorded and answered.
async fn send_whole(
    built: Result<Option<(Vec<u8>, u64)>, ApiError>,
    trace: ExportTrace,
    format: ExportFormat,
) -> Result<Body, ApiError> {
    let (limit, what) = match format {
        ExportFormat::Evidence => ("the evidence pack's limit", "the evidence pack"),
        _ => ("the PDF limit", "the PDF report"),
    };
    match built {
        Ok(Some((bytes, rows))) => Ok(stream::whole(bytes, rows, trace)),
        Ok(None) => {
            trace.aborted(&format!("the entries grew past {limit} while they were read")).await;
            Err(too_many(format, &format!("more than {PDF_MAX_ENTRIES}")))
        }
        // Recorded as such, not as a client that went away.
        Err(e) => {
            trace.aborted(&format!("{what} could not be built")).await;
            Err(e)
        }
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
    /// The build's and the scan's turns, held until the layout ends.
    _turns: [OwnedSemaphorePermit; 2],
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

    fn wants_hashes(&self) -> bool {
        false
    }
}

impl From<PdfError> for ApiError {
    fn from(e: PdfError) -> Self {
        ApiError::Report(e.to_string())
    }
}

fn too_many(format: ExportFormat, matched: &str) -> ApiError {
    let what = if format == ExportFormat::Evidence { "an evidence pack" } else { "a PDF report" };
    ApiError::BadRequest {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: format!(
            "{what} holds at most {PDF_MAX_ENTRIES} entries and these filters match {matched}: \
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

#[cfg(test)]
mod tests {
    use super::*;
    use app::entry::Severity;

    fn turns() -> [OwnedSemaphorePermit; 2] {
        let limit = Arc::new(Semaphore::new(2));
        let take = || limit.clone().try_acquire_owned().expect("free");
        [take(), take()]
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
            received_at: None,
            ingest_token_id: None,
            ingest_token_name: None,
            prev_hash: &[],
            hash: &[],
        };
        let (done, mut written) = oneshot::channel();
        let mut sink =
            PdfSink { report: Report::new(meta()).ok(), rows: 0, limit: 2, done: Some(done), _turns: turns() };
        assert!(sink.entry(&entry) && sink.entry(&entry));
        assert!(!sink.entry(&entry), "the third entry stops the scan");
        assert!(matches!(written.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
        drop(sink); // a stopped scan never calls `end`
        assert!(written.try_recv().is_err(), "no file");

        let (done, mut written) = oneshot::channel();
        let mut sink =
            PdfSink { report: Report::new(meta()).ok(), rows: 0, limit: 2, done: Some(done), _turns: turns() };
        assert!(sink.entry(&entry));
        sink.end();
        let pdf = written.try_recv().expect("written").expect("a file");
        assert!(pdf.starts_with(b"%PDF-"));

        // A client that went away stops the layout at the next entry.
        let (done, written) = oneshot::channel();
        let mut sink =
            PdfSink { report: Report::new(meta()).ok(), rows: 0, limit: 2, done: Some(done), _turns: turns() };
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
