//! CSV: RFC 4180 with a header row, the nested fields flattened into [`CSV_COLUMNS`],
//! CRLF line ends, UTF-8, times in RFC 3339 UTC and `details` as the stored compact JSON
//! (what the API serialises). Cells a spreadsheet would run as formulas are neutralised
//! ([`neutralise`]). Written from the borrowed columns of the scan, with nothing built per
//! entry, which is what lets the export keep pace with the `sqlite3` shell
//! (docs/benchmarks.md).

use super::stream::RowFormat;
use app::export::{neutralise, CSV_COLUMNS};
use app::store::{RawEntry, StoreError};
use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

pub(super) struct Csv;

impl RowFormat for Csv {
    fn head(&self) -> String {
        let mut head = String::new();
        row(&mut head, CSV_COLUMNS);
        head
    }

    fn row(&self, out: &mut String, e: &RawEntry<'_>, _index: u64) -> Result<(), StoreError> {
        out.push_str("audit-");
        out.push_str(itoa::Buffer::new().format(e.sequence));
        out.push(',');
        push_time(out, e.timestamp);
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
            push_time(out, received);
        }
        out.push(',');
        if let Some(id) = e.ingest_token_id {
            out.push_str(itoa::Buffer::new().format(id));
        }
        cells(out, [e.ingest_token_name.unwrap_or_default()]);
        out.push_str("\r\n");
        Ok(())
    }

    fn tail(&self, _out: &mut String, _rows: u64) {}

    fn hashes(&self) -> bool {
        false
    }
}

/// A time as `to_rfc3339_opts(SecondsFormat::AutoSi, true)` writes it, written in place
/// digit by digit: two strings built and dropped for every entry were a tenth of a large
/// export's time, and `write!` a twentieth.
fn push_time(out: &mut String, at: DateTime<Utc>) {
    let nanos = at.nanosecond();
    // Years of other than four digits and leap seconds, which no export holds in practice,
    // are left to chrono.
    let Ok(year @ 0..=9999) = u32::try_from(at.year()) else {
        out.push_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        return;
    };
    if nanos >= 1_000_000_000 {
        out.push_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        return;
    }
    push_padded(out, year, 4);
    for (separator, value) in
        [('-', at.month()), ('-', at.day()), ('T', at.hour()), (':', at.minute()), (':', at.second())]
    {
        out.push(separator);
        push_padded(out, value, 2);
    }
    match nanos {
        0 => {}
        n if n % 1_000_000 == 0 => {
            out.push('.');
            push_padded(out, n / 1_000_000, 3);
        }
        n if n % 1_000 == 0 => {
            out.push('.');
            push_padded(out, n / 1_000, 6);
        }
        n => {
            out.push('.');
            push_padded(out, n, 9);
        }
    }
    out.push('Z');
}

/// The last `width` (at most 9) decimal digits of `value`, zero-padded: `{:0width$}` for
/// a value that fits.
fn push_padded(out: &mut String, mut value: u32, width: usize) {
    let mut digits = [b'0'; 9];
    for digit in digits[..width].iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out.extend(digits[..width].iter().map(|&d| char::from(d)));
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
    fn times_are_written_as_chrono_writes_them() {
        let times = [
            "2025-02-01T00:00:00Z",
            "2025-02-01T23:59:59.5Z",
            "1970-01-01T00:00:00.000001Z",
            "2024-02-29T12:34:56.123456Z",
            "0001-01-01T00:00:00.120Z",
            "0000-01-01T00:00:00Z",
            "0999-03-04T05:06:07.000008Z",
            // A leap second, left to chrono.
            "2016-12-31T23:59:60.5Z",
            "9999-12-31T23:59:59.999999999Z",
            "2025-06-30T08:09:10.000000100Z",
        ];
        let far = [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC];
        // And times spread over the four-digit years, at every precision.
        let spread = (0..20_000_i64).filter_map(|i| {
            let micros = (i * 15_485_863 * 1_000_003) % 253_402_300_799_000_000;
            let micros = if i % 3 == 0 { micros - micros % 1_000_000 } else { micros };
            DateTime::from_timestamp_micros(if i % 5 == 0 { micros - micros % 1_000 } else { micros })
        });
        for at in times.iter().map(|t| t.parse::<DateTime<Utc>>().expect("time")).chain(far).chain(spread) {
            let mut out = String::new();
            push_time(&mut out, at);
            assert_eq!(out, at.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }
    }

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        let mut out = String::new();
        row(&mut out, ["plain", "a,b", "say \"hi\"", "two\nlines", "=1+1", "-2,3", ""]);
        assert_eq!(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",'=1+1,\"'-2,3\",\r\n");
    }
}
