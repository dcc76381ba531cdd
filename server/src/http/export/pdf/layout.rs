//! How a report is measured: the page and its table, cells wrapped to their columns, and
//! the small text helpers of the layout.

use super::fonts::{Face, Fonts};
use super::text::{self, wrap};
use app::entry::Severity;

// A4 landscape, in points: a six-column table reads better wide.
pub(super) const PAGE_W: f32 = 841.89;
pub(super) const PAGE_H: f32 = 595.28;
pub(super) const MARGIN: f32 = 36.0;
pub(super) const TOP: f32 = PAGE_H - MARGIN;
/// The lowest a table row may reach; the footer sits below.
pub(super) const BOTTOM: f32 = 46.0;
pub(super) const FOOTER_Y: f32 = 24.0;

pub(super) const SIZE: f32 = 7.5;
pub(super) const LEADING: f32 = 9.0;
/// Space above and below the text of a row.
pub(super) const ROW_PAD: f32 = 2.5;
/// Space left and right of the text in a cell.
pub(super) const CELL_PAD: f32 = 3.0;
pub(super) const HEADER_ROW: f32 = 15.0;

/// The table's columns and their widths; the description takes what is left.
pub(super) const COLUMNS: [(&str, f32); 6] = [
    ("Time (UTC) / entry", 84.0),
    ("Event type", 104.0),
    ("Severity", 40.0),
    ("Actor", 112.0),
    ("Resource", 138.0),
    ("Description", PAGE_W - 2.0 * MARGIN - (84.0 + 104.0 + 40.0 + 112.0 + 138.0)),
];

pub(super) const META_SIZE: f32 = 8.5;
pub(super) const META_LEADING: f32 = 11.5;
pub(super) const META_LABEL_W: f32 = 92.0;
pub(super) const META_VALUE_W: f32 = 560.0;
/// The most lines one fact of the first page may take.
pub(super) const META_MAX_LINES: usize = 6;

/// A value wrapped to its width, in the face that can show it.
pub(super) struct Cell {
    pub(super) face: Face,
    pub(super) lines: Vec<String>,
}

impl Cell {
    pub(super) fn wrap(fonts: &Fonts, text: &str, width: f32, size: f32) -> Cell {
        let face = Face::for_text(text);
        Cell { face, lines: wrap(text, width, size, fonts.metrics(face)) }
    }
}

pub(super) fn severity_index(severity: Severity) -> usize {
    match severity {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Error => 2,
    }
}

/// `text` cut to `width` points with an ellipsis, if it is wider.
pub(super) fn clip(text: &str, width: f32, size: f32, metrics: &text::Metrics) -> String {
    if metrics.width(text, size) <= width {
        return text.to_owned();
    }
    let room = width - metrics.width("…", size);
    let mut out = String::new();
    for c in text.chars() {
        let mut next = out.clone();
        next.push(c);
        if metrics.width(&next, size) > room {
            break;
        }
        out = next;
    }
    out.push('…');
    out
}

/// `1234567` as `1,234,567`.
pub(super) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
