//! JSON (an array) and NDJSON (one entry a line): each entry exactly as the API returns it,
//! through the same type and serializer.

use super::stream::RowFormat;
use app::store::{RawEntry, StoreError};

pub(super) struct Json {
    /// One entry a line (NDJSON) instead of an array.
    pub lines: bool,
}

impl RowFormat for Json {
    fn head(&self) -> String {
        if self.lines {
            String::new()
        } else {
            "[".to_owned()
        }
    }

    fn row(&self, out: &mut String, entry: &RawEntry<'_>, index: u64) -> Result<(), StoreError> {
        let entry = entry.to_entry()?;
        if !self.lines {
            out.push_str(if index == 0 { "\n" } else { ",\n" });
        }
        let json = serde_json::to_string(&entry)
            .map_err(|e| StoreError::Corrupt { seq: entry.sequence, reason: format!("cannot be serialised: {e}") })?;
        out.push_str(&json);
        if self.lines {
            out.push('\n');
        }
        Ok(())
    }

    fn tail(&self, out: &mut String, rows: u64) {
        if !self.lines {
            out.push_str(if rows == 0 { "]" } else { "\n]" });
        }
    }
}
