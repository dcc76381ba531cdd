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

/// Every table's rows on a SQLite source.
async fn read_sqlite(url: &str) -> Result<Vec<Rows>, StoreError> {
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(|e| failed("the source", e))?.read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await.map_err(|e| failed("the source", e))?;
    let mut all = Vec::new();
    for table in TABLES {
        let rows = sqlx::query(&select(table)).fetch_all(&mut conn).await.map_err(|e| failed(table.name, e))?;
        let rows = rows
            .iter()
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
            .map_err(|e| failed(table.name, e))?;
        let highest_id: i64 = match table.identity {
            true => sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = ?")
                .bind(table.name)
                .fetch_one(&mut conn)
                .await
                .map_err(|e| failed(table.name, e))?,
            false => 0,
        };
        all.push(Rows { rows, highest_id });
    }
    conn.close().await.map_err(|e| failed("the source", e))?;
    Ok(all)
}

/// Every table's rows on a PostgreSQL source.
async fn read_postgres(url: &str) -> Result<Vec<Rows>, StoreError> {
    let mut conn = sqlx::PgConnection::connect(url).await.map_err(|e| failed("the source", e))?;
    let mut all = Vec::new();
    for table in TABLES {
        let rows = sqlx::query(&select(table)).fetch_all(&mut conn).await.map_err(|e| failed(table.name, e))?;
        let rows = rows
            .iter()
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
            .map_err(|e| failed(table.name, e))?;
        let highest_id: i64 = match table.identity {
            true => sqlx::query_scalar(&format!(
                "SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence('{}', 'id')::regclass), 0)",
                table.name
            ))
            .fetch_one(&mut conn)
            .await
            .map_err(|e| failed(table.name, e))?,
            false => 0,
        };
        all.push(Rows { rows, highest_id });
    }
    conn.close().await.map_err(|e| failed("the source", e))?;
    Ok(all)
}

/// Replaces the target's configuration tables with the source's rows, in one transaction.
async fn write(target_url: &str, tables: &[Rows]) -> Result<(), StoreError> {
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
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM {0}), $1, 1))",
                table.name
            ))
            .bind(rows.highest_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| failed(table.name, e))?;
        }
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
/// of the store at `source_url` (SQLite or PostgreSQL).
pub async fn mirror_configuration(source_url: &str, target_url: &str) -> Result<Mirrored, StoreError> {
    let tables = match super::is_postgres(source_url) {
        true => read_postgres(source_url).await?,
        false => read_sqlite(source_url).await?,
    };
    write(target_url, &tables).await?;
    let count = |name: &str| TABLES.iter().zip(&tables).find(|(t, _)| t.name == name).map_or(0, |(_, r)| r.rows.len());
    Ok(Mirrored {
        settings: count("settings"),
        subscriptions: count("subscriptions"),
        destinations: count("destinations"),
        alert_rules: count("alert_rules"),
    })
}
