//! How rusqlite's errors become the store's own: a busy or locked database is
//! "overloaded, try again", everything else is the backend's failure. (sqlx's errors, of
//! either engine, are mapped in `store::error`.)

use crate::store::StoreError;

/// SQLITE_BUSY and SQLITE_LOCKED, whatever their extended code.
pub(crate) fn is_busy(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6)
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(failure, _) if is_busy(failure.extended_code) => StoreError::overloaded(),
            _ => StoreError::backend(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_locked_are_overloaded_and_the_rest_is_the_backend() {
        for code in [5, 6, 261, 517, 773] {
            let e = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
            assert!(matches!(StoreError::from(e), StoreError::Overloaded { .. }), "{code}");
        }
        let e = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(11), None);
        assert!(matches!(StoreError::from(e), StoreError::Backend(_)));
        assert!(matches!(StoreError::from(sqlx::Error::PoolTimedOut), StoreError::Overloaded { .. }));
        assert!(matches!(StoreError::from(sqlx::Error::RowNotFound), StoreError::Backend(_)));
    }
}
