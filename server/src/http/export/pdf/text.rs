//! Measuring and wrapping text with the report font's own advance widths, so long values
//! are broken over as many lines as they need and never cut or run into the next column.

use printpdf::ParsedFont;
use std::collections::HashMap;

/// Advance widths of one font, in ems.
pub struct Metrics {
    ascii: [f32; 128],
    other: HashMap<char, f32>,
    /// The width of the "missing glyph" box drawn for characters the font lacks.
    missing: f32,
}

impl Metrics {
    pub fn new(font: &ParsedFont) -> Self {
        let em = f32::from(font.units_per_em.max(1));
        let glyph = |gid: u16| font.glyph_widths.get(&gid).map_or(0.0, |w| f32::from(*w) / em);
        let missing = glyph(0);
        let width = |c: char| font.codepoint_to_glyph.get(&u32::from(c)).map_or(missing, |gid| glyph(*gid));
        let mut ascii = [missing; 128];
        for (code, slot) in ascii.iter_mut().enumerate() {
            if let Some(c) = char::from_u32(code as u32) {
                *slot = width(c);
            }
        }
        let other = font
            .codepoint_to_glyph
            .iter()
            .filter(|(code, _)| **code >= 128)
            .filter_map(|(code, gid)| Some((char::from_u32(*code)?, glyph(*gid))))
            .collect();
        Metrics { ascii, other, missing }
    }

    fn em(&self, c: char) -> f32 {
        match self.ascii.get(c as usize) {
            Some(w) => *w,
            None => self.other.get(&c).copied().unwrap_or(self.missing),
        }
    }

    /// The width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.em(c)).sum::<f32>() * size
    }
}

/// `text` broken into lines no wider than `max` points at `size`: at spaces where it can,
/// inside a word only when the word alone is wider than the line. Line breaks in the text
/// are kept; runs of spaces and tabs become one space; control characters show as U+FFFD
/// so that nothing invisible hides in a compliance document.
pub fn wrap(text: &str, max: f32, size: f32, metrics: &Metrics) -> Vec<String> {
    let max_em = max / size;
    // Most values are one short line with nothing to tidy: answer those in one pass.
    let mut width = 0.0;
    let mut plain = !text.starts_with(' ') && !text.ends_with(' ');
    let mut after_space = false;
    for c in text.chars() {
        if c.is_control() || (c == ' ' && after_space) {
            plain = false;
            break;
        }
        after_space = c == ' ';
        width += metrics.em(c);
    }
    if plain && width <= max_em {
        return vec![text.to_owned()];
    }
    let space = metrics.em(' ');
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut used = 0.0;
        for word in paragraph.split([' ', '\t', '\r']).filter(|w| !w.is_empty()) {
            let word: String = word.chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect();
            let width: f32 = word.chars().map(|c| metrics.em(c)).sum();
            if !line.is_empty() && used + space + width <= max_em {
                line.push(' ');
                line.push_str(&word);
                used += space + width;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                used = 0.0;
            }
            if width <= max_em {
                line = word;
                used = width;
                continue;
            }
            // Wider than a whole line: break it where the line is full.
            for c in word.chars() {
                let w = metrics.em(c);
                if !line.is_empty() && used + w > max_em {
                    lines.push(std::mem::take(&mut line));
                    used = 0.0;
                }
                line.push(c);
                used += w;
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        super::super::fonts::unicode_font().map(|f| Metrics::new(&f)).expect("the report font parses")
    }

    #[test]
    fn widths_come_from_the_font() {
        let m = metrics();
        assert!(m.width("W", 10.0) > m.width("i", 10.0));
        assert!((m.width("ab", 10.0) - (m.width("a", 10.0) + m.width("b", 10.0))).abs() < 1e-4);
        assert!((m.width("a", 20.0) - 2.0 * m.width("a", 10.0)).abs() < 1e-4);
        assert!(m.width("Ж", 10.0) > 0.0, "Cyrillic is in the font");
    }

    #[test]
    fn every_line_fits_and_no_text_is_lost() {
        let m = metrics();
        let text = "Rotated the secret kv-prod-payments/stripe-api-key-with-a-very-long-name-indeed \
                    for the payments team after the scheduled 90-day policy fired";
        for max in [40.0, 80.0, 150.0, 400.0] {
            let lines = wrap(text, max, 7.5, &m);
            for line in &lines {
                assert!(m.width(line, 7.5) <= max + 1e-3, "{line:?} is wider than {max}");
            }
            let joined: String = lines.concat().split_whitespace().collect();
            let original: String = text.split_whitespace().collect();
            assert_eq!(joined, original, "wrapping at {max} lost or changed text");
        }
        assert_eq!(wrap(text, 2000.0, 7.5, &m).len(), 1);
    }

    #[test]
    fn the_one_line_shortcut_agrees_with_the_wrapper() {
        let m = metrics();
        for text in ["one line", "alice@contoso.com", "Zoë  two  spaces", "x", "a b c d e f", "Жанна Иванова"]
        {
            // A trailing line break takes the full wrapper, and adds one empty line.
            let full = wrap(&format!("{text}\n"), 500.0, 7.5, &m);
            assert_eq!(wrap(text, 500.0, 7.5, &m), full[..1], "{text:?}");
            assert_eq!(full[1], "");
        }
    }

    #[test]
    fn line_breaks_are_kept_and_control_characters_shown() {
        let m = metrics();
        assert_eq!(wrap("first\nsecond", 500.0, 7.5, &m), ["first", "second"]);
        assert_eq!(wrap("a\u{7}b", 500.0, 7.5, &m), ["a\u{FFFD}b"]);
        assert_eq!(wrap("", 500.0, 7.5, &m), [""]);
        assert_eq!(wrap("x   y\t z", 500.0, 7.5, &m), ["x y z"]);
        assert_eq!(wrap(" padded ", 500.0, 7.5, &m), ["padded"]);
        assert_eq!(wrap("one line", 500.0, 7.5, &m), ["one line"]);
    }
}
