//! CSV: RFC 4180 with a header row, the nested fields flattened into [`CSV_COLUMNS`],
//! CRLF line ends, UTF-8, times in RFC 3339 UTC and `details` as the stored compact JSON
//! (what the API serialises). Cells a spreadsheet would run as formulas are neutralised
//! ([`neutralise`]). Written from the borrowed columns of the scan, with nothing built per
//! entry, which is what lets the export keep pace with the `sqlite3` shell
//! (docs/benchmarks.md).

use super::stream::RowFormat;
use app::export::{neutralise, CSV_COLUMNS};
use app::store::{RawEntry, StoreError};
use std::fmt::Write as _;

pub(super) struct Csv;

impl RowFormat for Csv {
    fn head(&self) -> String {
        let mut head = String::new();
        row(&mut head, CSV_COLUMNS);
        head
    }

    fn row(&self, out: &mut String, e: &RawEntry<'_>, _index: u64) -> Result<(), StoreError> {
        let _ = write!(out, "audit-{}", e.sequence);
        out.push(',');
        out.push_str(&e.timestamp.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        cells(
            out,
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
        // Provenance: when the server received the entry and which token posted it.
        out.push(',');
        if let Some(received) = e.received_at {
            out.push_str(&received.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        }
        out.push(',');
        if let Some(id) = e.ingest_token_id {
            let _ = write!(out, "{id}");
        }
        cells(out, [e.ingest_token_name.unwrap_or_default()]);
        out.push_str("\r\n");
        Ok(())
    }

    fn tail(&self, _out: &mut String, _rows: u64) {}
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

/// Cells after the first ones of a record, each preceded by its comma.
fn cells<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for cell in cells {
        out.push(',');
        cell_into(out, cell);
    }
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
