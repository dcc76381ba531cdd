//! Drawing a page: text placed line by line with relative moves, backgrounds under it,
//! the fonts set only when they change, and the streams compressed at the end.

use super::fonts::Face;
use app::entry::Severity;
use printpdf::{Color, FontId, Op, PaintMode, PdfFontHandle, Point, Pt, Rect, Rgb, TextItem};

/// One page's drawing. Backgrounds are kept apart from the text so that they go under it.
pub(super) struct Canvas {
    graphics: Vec<Op>,
    pub(super) ops: Vec<Op>,
    /// The embedded font's handle in this document.
    unicode: FontId,
    /// The face and size last set, so that they are set only when they change.
    font: Option<(Face, u32)>,
    /// Where the current text line starts. Each line is placed relative to the last
    /// (`Td`, two numbers) rather than absolutely (`Tm`, six): a report has hundreds of
    /// thousands of lines, and writing the numbers is much of its cost.
    origin: (f32, f32),
}

impl Canvas {
    pub(super) fn new(unicode: FontId) -> Self {
        Canvas { graphics: Vec::new(), ops: Vec::new(), unicode, font: None, origin: (0.0, 0.0) }
    }

    /// A fresh page in the same document.
    pub(super) fn next(&self) -> Self {
        Canvas::new(self.unicode.clone())
    }

    pub(super) fn fill(&mut self, colour: Color, x: f32, y: f32, width: f32, height: f32) {
        self.graphics.push(Op::SetFillColor { col: colour });
        let rectangle = Rect { mode: Some(PaintMode::Fill), ..Rect::from_xywh(Pt(x), Pt(y), Pt(width), Pt(height)) };
        self.graphics.push(Op::DrawRectangle { rectangle });
    }

    pub(super) fn text(&mut self, face: Face, size: f32, x: f32, y: f32, text: &str) {
        if text.is_empty() {
            return;
        }
        if self.font != Some((face, size.to_bits())) {
            self.font = Some((face, size.to_bits()));
            let font = match face.builtin() {
                Some(builtin) => PdfFontHandle::Builtin(builtin),
                None => PdfFontHandle::External(self.unicode.clone()),
            };
            self.ops.push(Op::SetFont { font, size: Pt(size) });
        }
        let (from_x, from_y) = std::mem::replace(&mut self.origin, (x, y));
        self.ops.push(Op::SetTextCursor { pos: Point { x: Pt(x - from_x), y: Pt(y - from_y) } });
        self.ops.push(Op::ShowText { items: vec![TextItem::Text(text.to_owned())] });
    }

    pub(super) fn into_ops(self) -> Vec<Op> {
        let mut ops = self.graphics;
        ops.reserve(self.ops.len() + 3);
        ops.push(Op::SetFillColor { col: grey(0.0) });
        ops.push(Op::StartTextSection);
        ops.extend(self.ops);
        ops.push(Op::EndTextSection);
        ops
    }
}

/// Deflates every stream that is not yet encoded, at zlib's fast level: several times
/// quicker than its best, for files a few per cent larger.
pub(super) fn compress(doc: &mut lopdf::Document) {
    use std::io::Write;
    for object in doc.objects.values_mut() {
        let lopdf::Object::Stream(stream) = object else { continue };
        if !stream.allows_compression || stream.dict.get(b"Filter").is_ok() {
            continue;
        }
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        if let Ok(packed) = encoder.write_all(&stream.content).and_then(|()| encoder.finish()) {
            if packed.len() < stream.content.len() {
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(packed);
            }
        }
    }
}

pub(super) fn grey(level: f32) -> Color {
    Color::Rgb(Rgb { r: level, g: level, b: level, icc_profile: None })
}

pub(super) fn severity_colour(severity: Severity) -> Color {
    let (r, g, b) = match severity {
        Severity::Info => (0.25, 0.25, 0.25),
        Severity::Warning => (0.62, 0.38, 0.0),
        Severity::Error => (0.72, 0.08, 0.08),
    };
    Color::Rgb(Rgb { r, g, b, icc_profile: None })
}
