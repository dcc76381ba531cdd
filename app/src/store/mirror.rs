//! The configuration tables of a store (settings, subscriptions, delivery destinations and
//! their state, alert rules, job cursors), mirrored row for row into a PostgreSQL database
//! for `migrate-store`: ids included, since the log names destinations and rules by id
//! (an alert's `destination_ids`, its `rule_id`) and an id must mean the same on the target
//! and never be given again. The target's tables are replaced in one transaction.

use super::StoreError;
use sqlx::{Connection, Row};
use std::str::FromStr;

/// A column's type, the same on both engines (times are microseconds).
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
}

/// A table mirrored, its columns, and whether its first column is an id the store gives.
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    identity: bool,
}

use Kind::{Int, Text};

/// In the order they are filled (a destination before its state).
const TABLES: &[Table] = &[
    Table {
        name: "settings",
        columns: &[("name", Text), ("value", Text), ("previous", Text), ("updated_at", Int)],
        identity: false,
    },
    Table {
        name: "subscriptions",
        columns: &[
            ("subscription_id", Text),
            ("display_name", Text),
            ("cloud", Text),
            ("added_at", Int),
            ("added_by", Text),
        ],
        identity: false,
    },
    Table {
        name: "destinations",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("name_key", Text),
            ("kind", Text),
            ("config", Text),
            ("secret", Text),
            ("version", Int),
            ("created_at", Int),
            ("created_by", Text),
            ("updated_at", Int),
            ("updated_by", Text),
        ],
        identity: true,
    },
    Table {
        name: "delivery_state",
        columns: &[
            ("destination_id", Int),
            ("cursor", Int),
            ("epoch", Int),
            ("state", Text),
            ("delivered", Int),
            ("attempts", Int),
            ("failing", Int),
            ("failing_since", Int),
            ("last_success_at", Int),
            ("last_error_at", Int),
            ("last_error", Text),
            ("next_retry_at", Int),
        ],
        identity: false,
    },
    Table {
        name: "delivery_parked",
        columns: &[("destination_id", Int), ("seq", Int), ("reason", Text), ("parked_at", Int)],
        identity: false,
    },
    Table {
        name: "alert_rules",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("name_key", Text),
            ("config", Text),
            ("builtin", Int),
            ("version", Int),
            ("created_at", Int),
            ("created_by", Text),
            ("updated_at", Int),
            ("updated_by", Text),
        ],
        identity: true,
    },
    Table { name: "job_cursors", columns: &[("name", Text), ("cursor", Int)], identity: false },
];

/// A value of a row, either kind, possibly null.
#[derive(Debug)]
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

/// The rows of a table as read from the source, and the highest id it ever gave (SQLite's
/// `AUTOINCREMENT` remembers the ids of rows deleted since).
struct Rows {
    rows: Vec<Vec<Value>>,
    highest_id: i64,
}

fn select(table: &Table) -> String {
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    format!("SELECT {} FROM {}", columns.join(", "), table.name)
}

fn failed(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::backend(format!("copying the configuration, {what}: {e}"))
}

/// A table's rows as read, in the columns' kinds.
fn decode<R>(table: &Table, rows: &[R]) -> Result<Vec<Vec<Value>>, StoreError>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    rows.iter()
        .map(|row| {
            table
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, kind))| match kind {
                    Int => row.try_get(i).map(Value::Int),
                    Text => row.try_get(i).map(Value::Text),
                })
                .collect::<Result<Vec<Value>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(table.name, e))
}

/// Every table's rows on a SQLite source, in one read transaction (one moment).
async fn read_sqlite(url: &str) -> Result<Vec<Rows>, StoreError> {
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(|e| failed("the source", e))?.read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await.map_err(|e| failed("the source", e))?;
    let mut tx = conn.begin().await.map_err(|e| failed("the source", e))?;
    let mut all = Vec::new();
    for table in TABLES {
        let rows = sqlx::query(&select(table)).fetch_all(&mut *tx).await.map_err(|e| failed(table.name, e))?;
        let highest_id: i64 = match table.identity {
            // AUTOINCREMENT remembers the highest id given, its row removed or not.
            true => sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = ?")
                .bind(table.name)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| failed(table.name, e))?,
            false => 0,
        };
        all.push(Rows { rows: decode(table, &rows)?, highest_id });
    }
    tx.rollback().await.map_err(|e| failed("the source", e))?;
    conn.close().await.map_err(|e| failed("the source", e))?;
    Ok(all)
}

/// Every table's rows on a PostgreSQL source, in one read-only snapshot.
async fn read_postgres(url: &str) -> Result<Vec<Rows>, StoreError> {
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(|e| failed("the source", e))?;
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut conn)
        .await
        .map_err(|e| failed("the source", e))?;
    let mut all = Vec::new();
    for table in TABLES {
        let rows = sqlx::query(&select(table)).fetch_all(&mut conn).await.map_err(|e| failed(table.name, e))?;
        let highest_id: i64 = match table.identity {
            // From the catalogue view, which needs no right on the sequence itself.
            true => sqlx::query_scalar(
                "SELECT COALESCE(MAX(last_value), 0) FROM pg_sequences \
                 WHERE schemaname = current_schema() AND sequencename = $1",
            )
            .bind(format!("{}_id_seq", table.name))
            .fetch_one(&mut conn)
            .await
            .map_err(|e| failed(table.name, e))?,
            false => 0,
        };
        all.push(Rows { rows: decode(table, &rows)?, highest_id });
    }
    sqlx::query("ROLLBACK").execute(&mut conn).await.map_err(|e| failed("the source", e))?;
    conn.close().await.map_err(|e| failed("the source", e))?;
    Ok(all)
}

/// Replaces the target's configuration tables with the source's rows, in one transaction.
async fn write(target_url: &str, tables: &[Rows], head: u64) -> Result<(), StoreError> {
    let mut conn = sqlx::PgConnection::connect(target_url).await.map_err(|e| failed("the target", e))?;
    let mut tx = conn.begin().await.map_err(|e| failed("the target", e))?;
    for table in TABLES.iter().rev() {
        sqlx::query(&format!("DELETE FROM {}", table.name))
            .execute(&mut *tx)
            .await
            .map_err(|e| failed(table.name, e))?;
    }
    for (table, rows) in TABLES.iter().zip(tables) {
        let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
        let places: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let insert = format!("INSERT INTO {} ({}) VALUES ({})", table.name, columns.join(", "), places.join(", "));
        for row in &rows.rows {
            let mut query = sqlx::query(&insert);
            for value in row {
                query = match value {
                    Value::Int(v) => query.bind(*v),
                    Value::Text(v) => query.bind(v.as_deref()),
                };
            }
            query.execute(&mut *tx).await.map_err(|e| failed(table.name, e))?;
        }
        if table.identity {
            // The next id given is past every id the source ever gave.
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), GREATEST(m, $1, 1), GREATEST(m, $1) > 0) \
                 FROM (SELECT COALESCE(MAX(id), 0) AS m FROM {0}) AS given",
                table.name
            ))
            .bind(rows.highest_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| failed(table.name, e))?;
        }
    }
    // The source may have gone on after its entries were copied: no cursor points past
    // what the target holds (its own next entries would be skipped), and nothing past it
    // is set aside.
    let head = i64::try_from(head).unwrap_or(i64::MAX);
    for sql in [
        "UPDATE delivery_state SET cursor = LEAST(cursor, $1)",
        "UPDATE job_cursors SET cursor = LEAST(cursor, $1)",
        "DELETE FROM delivery_parked WHERE seq > $1",
    ] {
        sqlx::query(sql).bind(head).execute(&mut *tx).await.map_err(|e| failed("the cursors", e))?;
    }
    tx.commit().await.map_err(|e| failed("the target", e))?;
    conn.close().await.map_err(|e| failed("the target", e))
}

/// How many rows of each kind were mirrored.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mirrored {
    pub settings: usize,
    pub subscriptions: usize,
    pub destinations: usize,
    pub alert_rules: usize,
}

/// Replaces the configuration tables of the PostgreSQL database at `target_url` with those
/// of the store at `source_url` (SQLite or PostgreSQL), its log copied up to `head`.
pub async fn mirror_configuration(source_url: &str, target_url: &str, head: u64) -> Result<Mirrored, StoreError> {
    let tables = match super::is_postgres(source_url) {
        true => read_postgres(source_url).await?,
        false => read_sqlite(source_url).await?,
    };
    write(target_url, &tables, head).await?;
    let count = |name: &str| TABLES.iter().zip(&tables).find(|(t, _)| t.name == name).map_or(0, |(_, r)| r.rows.len());
    Ok(Mirrored {
        settings: count("settings"),
        subscriptions: count("subscriptions"),
        destinations: count("destinations"),
        alert_rules: count("alert_rules"),
    })
}
