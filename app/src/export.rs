//! Exports of the log: the formats, their file names and the columns of the CSV. Shared
//! by the export endpoint and the export dialog.

use crate::dates;
use crate::filter::EntryFilter;
use chrono::{DateTime, Duration, Utc};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// An array of entries exactly as the API returns them.
    Json,
    /// One entry a line, for SIEM bulk loads.
    Ndjson,
    /// RFC 4180, one row an entry, nested fields flattened.
    Csv,
    /// A paginated report for assessors, at most [`PDF_MAX_ENTRIES`] entries.
    Pdf,
    /// A zip an assessor verifies offline: the PDF report, the CSV, the JSON with each
    /// entry's inclusion proof, the signed checkpoint, the public key and a signed
    /// manifest. Holds a PDF, so at most [`PDF_MAX_ENTRIES`] entries.
    Evidence,
}

/// The most entries a PDF report holds. A report is laid out whole before it is sent (its
/// pages say "Page n of m"), so its memory grows with its entries; 50,000 entries make
/// about 2,600 pages, more than anyone reads. Larger exports are refused with a 422 that
/// says so, never cut short; CSV and JSON have no limit.
pub const PDF_MAX_ENTRIES: u64 = 50_000;

impl ExportFormat {
    pub const ALL: [ExportFormat; 5] =
        [ExportFormat::Json, ExportFormat::Ndjson, ExportFormat::Csv, ExportFormat::Pdf, ExportFormat::Evidence];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Csv => "csv",
            ExportFormat::Pdf => "pdf",
            ExportFormat::Evidence => "evidence",
        }
    }

    /// The download's file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Evidence => "zip",
            other => other.as_str(),
        }
    }

    /// Whether the file holds a PDF report, and so at most [`PDF_MAX_ENTRIES`] entries.
    pub fn has_report(self) -> bool {
        matches!(self, ExportFormat::Pdf | ExportFormat::Evidence)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Json => "application/json",
            ExportFormat::Ndjson => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Pdf => "application/pdf",
            ExportFormat::Evidence => "application/zip",
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportFormat {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|f| f.as_str() == s).ok_or(())
    }
}

/// Where the Audit tab's export dialog downloads from (the REST API's `/audit/export`
/// needs a bearer token, which a browser does not hold).
pub const PAGE_EXPORT_PATH: &str = "/api/audit/export";

/// The dialog's download address for the page's filters (without paging).
pub fn page_export_url(filters: &str, format: ExportFormat) -> String {
    if filters.is_empty() {
        format!("{PAGE_EXPORT_PATH}?format={format}")
    } else {
        format!("{PAGE_EXPORT_PATH}?format={format}&{filters}")
    }
}

/// What each format is for, as the dialog explains it.
pub fn describe(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Json => "JSON: an array of entries exactly as the API returns them",
        ExportFormat::Ndjson => "NDJSON: one entry a line, for SIEM bulk loads",
        ExportFormat::Csv => "CSV: one row an entry, for spreadsheets (formula-like cells made safe)",
        ExportFormat::Pdf => "PDF: a paginated report for assessors, up to 50,000 entries",
        ExportFormat::Evidence => {
            "Evidence pack: a zip of the PDF, the CSV and the JSON with each entry's proof, signed, \
             for assessors to verify offline; up to 50,000 entries"
        }
    }
}

/// Why the dialog will not offer a PDF (or an evidence pack, which holds one) of `total`
/// entries, if it will not.
pub fn pdf_refusal(format: ExportFormat, total: u64) -> Option<String> {
    let what = match format {
        ExportFormat::Pdf => "A PDF report",
        ExportFormat::Evidence => "An evidence pack",
        _ => return None,
    };
    (total > PDF_MAX_ENTRIES).then(|| {
        format!(
            "{what} holds at most 50,000 entries and these filters match {total}: narrow the period or \
             the filters, or choose CSV or JSON, which have no limit."
        )
    })
}

/// The CSV's columns, in order: the entry with `actor` and `resource` flattened.
pub const CSV_COLUMNS: [&str; 17] = [
    "id",
    "timestamp",
    "event_type",
    "severity",
    "actor_type",
    "actor_id",
    "actor_name",
    "resource_type",
    "resource_id",
    "resource_name",
    "description",
    "details",
    "ip_address",
    "user_agent",
    "received_at",
    "ingested_by_id",
    "ingested_by_name",
];

/// `certifyclouds-audit-2025-01-01_2025-01-31.csv`: named for the period it covers (the
/// filter's dates; an open start reads `start`, an open end the day of the export).
pub fn file_name(filter: &EntryFilter, format: ExportFormat, now: DateTime<Utc>) -> String {
    let from = filter.start.map_or_else(|| "start".to_owned(), |s| dates::ymd(&s));
    // The end is exclusive: the last day covered is the one before it.
    let to = dates::ymd(&filter.end.map_or(now, |e| e - Duration::microseconds(1)));
    format!("certifyclouds-audit-{from}_{to}.{}", format.extension())
}

/// A CSV cell made safe to open in a spreadsheet (OWASP CSV injection): a value that a
/// spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, tab, carriage
/// return or NUL) gets a leading `'`, which spreadsheets show as text. The value stays
/// recoverable: strip that one leading `'` from a cell that then starts with one of those.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\0') => std::borrow::Cow::Owned(format!("'{cell}")),
        _ => std::borrow::Cow::Borrowed(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::EntryQuery;

    #[test]
    fn files_are_named_for_their_period() {
        let now: DateTime<Utc> = "2025-02-10T12:00:00Z".parse().expect("time");
        let filter = |q: &str| EntryQuery::from_query_string(q).and_then(|q| q.validate()).expect("valid").0;
        let f = filter("start_date=2025-01-01&end_date=2025-01-31");
        assert_eq!(file_name(&f, ExportFormat::Csv, now), "certifyclouds-audit-2025-01-01_2025-01-31.csv");
        assert_eq!(file_name(&filter(""), ExportFormat::Json, now), "certifyclouds-audit-start_2025-02-10.json");
        let f = filter("start_date=2025-01-05T10:00:00Z&end_date=2025-01-06T00:00:00Z");
        assert_eq!(file_name(&f, ExportFormat::Ndjson, now), "certifyclouds-audit-2025-01-05_2025-01-06.ndjson");
        assert_eq!(file_name(&f, ExportFormat::Evidence, now), "certifyclouds-audit-2025-01-05_2025-01-06.zip");
    }

    #[test]
    fn a_pdf_over_the_cap_is_refused_up_front() {
        assert_eq!(pdf_refusal(ExportFormat::Pdf, PDF_MAX_ENTRIES), None);
        assert_eq!(pdf_refusal(ExportFormat::Pdf, 0), None);
        let refusal = pdf_refusal(ExportFormat::Pdf, PDF_MAX_ENTRIES + 1).expect("refused");
        assert!(refusal.contains("at most 50,000") && refusal.contains("match 50001"), "{refusal}");
        let refusal = pdf_refusal(ExportFormat::Evidence, PDF_MAX_ENTRIES + 1).expect("refused");
        assert!(refusal.starts_with("An evidence pack holds at most 50,000"), "{refusal}");
        assert_eq!(pdf_refusal(ExportFormat::Csv, u64::MAX), None);
    }

    #[test]
    fn formula_cells_are_neutralised_and_others_left_alone() {
        for hostile in ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx", "\0x"] {
            assert_eq!(neutralise(hostile), format!("'{hostile}"));
        }
        for plain in ["alice", "'quoted", "1-2", "", "a=b"] {
            assert_eq!(neutralise(plain), plain);
        }
        assert_eq!("json".parse(), Ok(ExportFormat::Json));
        assert_eq!("pdf".parse(), Ok(ExportFormat::Pdf));
        assert_eq!("evidence".parse(), Ok(ExportFormat::Evidence));
        assert!("xlsx".parse::<ExportFormat>().is_err());
        // The dialog states the cap in words: they must agree.
        assert!(describe(ExportFormat::Pdf).contains("50,000") && PDF_MAX_ENTRIES == 50_000);
    }
}
