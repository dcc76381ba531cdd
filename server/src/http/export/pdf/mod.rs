//! The PDF export: a report an assessor can file. The first page says what it covers (the
//! period, the filters, how many entries, who generated it and when); then every entry,
//! oldest first, in a table whose long values wrap instead of being cut, with the header
//! row on every page and "Page n of m" at the foot; the last page sums the entries up by
//! category and severity. Text is real text in an embedded Unicode font, so it can be
//! searched and extracted.
//!
//! "Page n of m" and the first page's entry count need the whole table laid out first, so
//! the document is built in memory and sent when complete. That memory grows with the
//! entries, which is why a PDF holds at most `app::export::PDF_MAX_ENTRIES` (CSV and JSON have no
//! limit) and why reports are built one at a time.

mod canvas;
mod fonts;
mod layout;
mod report;
mod text;

pub use report::{Report, ReportMeta, Section};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PdfError {
    #[error("the report font built into this program cannot be read")]
    Font,
    #[error("the report could not be written: {0}")]
    Write(String),
}

#[cfg(test)]
mod tests {
    use super::canvas::Canvas;
    use super::fonts::{fonts, Face};
    use super::layout::*;
    use super::*;
    use app::entry::Severity;
    use app::store::RawEntry;
    use printpdf::{FontId, Op, TextItem};

    fn entry<'a>(seq: u64, actor: &'a str, description: &'a str) -> RawEntry<'a> {
        RawEntry {
            sequence: seq,
            timestamp: "2025-01-15T11:30:00Z".parse().expect("time"),
            event_type: "auth.login.success",
            severity: Severity::Info,
            actor_type: "user",
            actor_id: "user-1",
            actor_name: actor,
            resource_type: None,
            resource_id: None,
            resource_name: None,
            description,
            details: "{}",
            ip_address: None,
            user_agent: None,
            received_at: None,
            ingest_token_id: None,
            ingest_token_name: None,
            prev_hash: &[],
            hash: &[],
        }
    }

    fn report_meta() -> ReportMeta {
        ReportMeta {
            period: "From the first entry up to the time of this report".to_owned(),
            filters: Vec::new(),
            generated_by: "test".to_owned(),
            generated_at: "2025-02-01T00:00:00Z".parse().expect("time"),
        }
    }

    fn report() -> Report {
        Report::new(report_meta()).expect("fonts load")
    }

    /// Every string shown on the laid-out pages so far, in order.
    fn shown(report: &Report) -> Vec<String> {
        report
            .pages
            .iter()
            .chain(std::iter::once(&report.page))
            .flat_map(|page| &page.ops)
            .filter_map(|op| match op {
                Op::ShowText { items } => match items.as_slice() {
                    [TextItem::Text(text)] => Some(text.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_row_taller_than_a_page_continues_on_the_next() {
        let mut report = report();
        let words: Vec<String> = (0..3000).map(|i| format!("w{i}")).collect();
        report.push(&entry(1, "alice", &words.join(" ")));
        assert!(report.pages.len() >= 2, "one row of 3000 words spans pages");
        let shown = shown(&report).join(" ");
        let shown: std::collections::HashSet<&str> = shown.split(' ').collect();
        assert!(words.iter().all(|w| shown.contains(w.as_str())), "a word was cut");
        // Every page but the first starts with the repeated header.
        for page in &report.pages[1..] {
            let first_text = page.ops.iter().find_map(|op| match op {
                Op::ShowText { items } => match items.as_slice() {
                    [TextItem::Text(text)] => Some(text.as_str()),
                    _ => None,
                },
                _ => None,
            });
            assert_eq!(first_text, Some(COLUMNS[0].0));
        }
    }

    #[test]
    fn the_unicode_font_is_embedded_only_when_needed() {
        let mut latin = report();
        latin.push(&entry(1, "Zoë Müller", "Logged in from Zürich"));
        let latin = latin.finish().expect("written");
        let mut cyrillic = report();
        cyrillic.push(&entry(1, "Жанна", "Logged in"));
        let cyrillic = cyrillic.finish().expect("written");
        let embeds = |pdf: &[u8]| pdf.windows(b"FontFile2".len()).any(|w| w == b"FontFile2");
        assert!(!embeds(&latin), "a Latin report needs no embedded font");
        assert!(embeds(&cyrillic), "Cyrillic needs the embedded font");
        assert!(cyrillic.len() > latin.len() + 100_000);
    }

    #[test]
    fn relative_moves_put_every_line_where_it_was_asked() {
        let mut canvas = Canvas::new(FontId("F1".to_owned()));
        let asked = [
            (Face::Label, 36.0, 500.0),
            (Face::Latin, 120.5, 500.0),
            (Face::Unicode, 36.0, 491.0),
            (Face::Latin, 700.25, 24.0),
            (Face::Latin, 36.0, 24.0),
        ];
        for (face, x, y) in asked {
            canvas.text(face, SIZE, x, y, "text");
        }
        // Replay the moves as a reader does: each from the start of the line before.
        let mut at = (0.0f32, 0.0f32);
        let mut placed = Vec::new();
        for op in canvas.into_ops() {
            match op {
                Op::SetTextCursor { pos } => at = (at.0 + pos.x.0, at.1 + pos.y.0),
                Op::ShowText { .. } => placed.push(at),
                _ => {}
            }
        }
        let want: Vec<(f32, f32)> = asked.iter().map(|(_, x, y)| (*x, *y)).collect();
        assert_eq!(placed.len(), want.len());
        for (got, want) in placed.iter().zip(&want) {
            assert!((got.0 - want.0).abs() < 1e-3 && (got.1 - want.1).abs() < 1e-3, "{got:?} != {want:?}");
        }
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1234567), "1,234,567");
    }

    #[test]
    fn long_facts_are_shortened_and_clipped_not_spilled() {
        let fonts = fonts().expect("fonts load");
        let metrics = fonts.metrics(Face::Latin);
        let long = "x".repeat(500);
        let clipped = clip(&long, 100.0, 7.0, metrics);
        assert!(metrics.width(&clipped, 7.0) <= 100.0 && clipped.ends_with('…'));
        assert_eq!(clip("short", 100.0, 7.0, metrics), "short");

        let filters: Vec<String> = (0..300).map(|i| format!("Event type: custom.kind{i}")).collect();
        let meta = ReportMeta { filters, ..report_meta() };
        let report = Report::new(meta).expect("fonts load");
        let shown = report.front.iter().find(|(label, _)| *label == "Filters").map(|(_, c)| c.lines.len());
        assert_eq!(shown, Some(META_MAX_LINES));
        assert!(report.y > BOTTOM + 100.0, "the table still starts on the first page");
    }

    #[test]
    fn the_columns_fill_the_page_width() {
        let width: f32 = COLUMNS.iter().map(|(_, w)| w).sum();
        assert!((width - (PAGE_W - 2.0 * MARGIN)).abs() < 0.01);
        assert!(COLUMNS[5].1 > 250.0, "the description keeps the widest column");
    }
}
