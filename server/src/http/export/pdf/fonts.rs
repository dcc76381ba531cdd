//! The report's faces. Text that the PDF standard fonts can show (Latin, in their
//! WinAnsi encoding) is set in the built-in Helvetica, which every reader has and which
//! costs nothing to embed or to write. Text in any other script is set in DejaVu Sans
//! Condensed, embedded in the file (wide Unicode coverage, and a licence that allows
//! embedding: see `server/assets/fonts/DejaVu-LICENSE.txt`); the font is written only
//! into reports that need it. Writing every value through the embedded font instead made
//! reports three times slower, for the same text.

use super::text::Metrics;
use printpdf::{BuiltinFont, ParsedFont};
use std::sync::LazyLock;

static UNICODE_FONT: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSansCondensed.ttf");

/// How a piece of text is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    /// The report's own labels: built-in Helvetica Bold.
    Label,
    /// Text the standard fonts can show: built-in Helvetica.
    Latin,
    /// Anything else: the embedded font.
    Unicode,
}

impl Face {
    /// The face for a value: Latin when every character is in WinAnsi (line breaks and
    /// tabs do not count: wrapping turns them into lines and spaces).
    pub fn for_text(text: &str) -> Face {
        if text.chars().all(|c| matches!(c, '\t' | '\n' | '\r') || win_ansi(c)) {
            Face::Latin
        } else {
            Face::Unicode
        }
    }

    pub fn builtin(self) -> Option<BuiltinFont> {
        match self {
            Face::Label => Some(BuiltinFont::HelveticaBold),
            Face::Latin => Some(BuiltinFont::Helvetica),
            Face::Unicode => None,
        }
    }
}

/// The parsed faces and their widths, read once per process.
pub struct Fonts {
    pub unicode: ParsedFont,
    label: Metrics,
    latin: Metrics,
    unicode_metrics: Metrics,
}

impl Fonts {
    pub fn metrics(&self, face: Face) -> &Metrics {
        match face {
            Face::Label => &self.label,
            Face::Latin => &self.latin,
            Face::Unicode => &self.unicode_metrics,
        }
    }
}

static FONTS: LazyLock<Option<Fonts>> = LazyLock::new(|| {
    let unicode = unicode_font()?;
    Some(Fonts {
        label: Metrics::new(&BuiltinFont::HelveticaBold.get_parsed_font()?),
        latin: Metrics::new(&BuiltinFont::Helvetica.get_parsed_font()?),
        unicode_metrics: Metrics::new(&unicode),
        unicode,
    })
});

/// The report's fonts, or `None` if the embedded font cannot be read (a broken build).
pub fn fonts() -> Option<&'static Fonts> {
    FONTS.as_ref()
}

pub(super) fn unicode_font() -> Option<ParsedFont> {
    ParsedFont::from_bytes(UNICODE_FONT, 0, &mut Vec::new())
}

/// Whether the standard fonts' encoding (WinAnsi, PDF 32000-1 Annex D) has `c`: printable
/// ASCII, Latin-1 and a few typographic marks.
fn win_ansi(c: char) -> bool {
    matches!(c as u32, 0x20..=0x7E | 0xA0..=0xFF)
        || matches!(
            c,
            '€' | '‚'
                | 'ƒ'
                | '„'
                | '…'
                | '†'
                | '‡'
                | 'ˆ'
                | '‰'
                | 'Š'
                | '‹'
                | 'Œ'
                | 'Ž'
                | '\u{2018}'
                | '\u{2019}'
                | '“'
                | '”'
                | '•'
                | '–'
                | '—'
                | '˜'
                | '™'
                | 'š'
                | '›'
                | 'œ'
                | 'ž'
                | 'Ÿ'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_text_uses_the_standard_font_and_other_scripts_the_embedded_one() {
        assert_eq!(Face::for_text("alice@contoso.com rotated kv-prod — ok, Zoë €5"), Face::Latin);
        assert_eq!(Face::for_text("Жанна"), Face::Unicode);
        assert_eq!(Face::for_text("田中"), Face::Unicode);
        assert_eq!(Face::for_text("a\u{FFFD}b"), Face::Unicode);
        assert_eq!(Face::for_text("tab\there\nnext"), Face::Latin);
        assert_eq!(Face::for_text("bell\u{7}"), Face::Unicode, "shown as U+FFFD, which WinAnsi lacks");
    }

    #[test]
    fn every_face_has_widths() {
        let fonts = fonts().expect("fonts load");
        for face in [Face::Label, Face::Latin, Face::Unicode] {
            assert!(fonts.metrics(face).width("Audit", 10.0) > 10.0, "{face:?}");
        }
        assert!(fonts.metrics(Face::Label).width("Audit", 10.0) > fonts.metrics(Face::Latin).width("Audit", 10.0));
    }
}
