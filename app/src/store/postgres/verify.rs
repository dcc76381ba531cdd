//! `verify` on PostgreSQL, in one snapshot: the chain over every stored row in sequence
//! order (each row's search words checked against the words its fields make), then the
//! per-day, per-actor and search key counts and the actor each entry is filed under.

use super::read::snapshot;
use super::scan::raw;
use super::search::lexemes;
use crate::store::rows::COLUMNS;
use crate::store::verify::{ChainWalk, Head, Problem, VerifyReport};
use crate::store::{RawEntry, StoreError};
use futures_util::TryStreamExt;
use sqlx::{PgConnection, PgPool, Row};

/// Entries named at most per kind of problem.
const NAMED: i64 = 5;

pub async fn verify(pool: &PgPool, expect_head: Option<&Head>, tree_sizes: &[u64]) -> Result<VerifyReport, StoreError> {
    let mut tx = snapshot(pool).await?;
    let (gaps, lost) = super::purge::gaps(&mut tx).await?;
    let mut walk = ChainWalk::wanting(tree_sizes.to_vec()).across(gaps);
    let mut search = Vec::new();
    {
        // One query, streamed: paging by sequence number would step over a second row
        // given the same number behind the triggers' back, and the walk must see it.
        let sql = format!(
            "SELECT {COLUMNS}, array_to_string(tsvector_to_array(words), ' ') AS stored_words, \
             audit_tree.hashes AS tree_row FROM audit_entries LEFT JOIN audit_tree USING (seq) ORDER BY seq, ts"
        );
        let mut rows = sqlx::query(&sql).fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let seq: i64 = row.try_get(0)?;
            let stored: &str = row.try_get("stored_words")?;
            let entry = raw(&row);
            // A row that cannot be read is the walk's to report.
            let differs = matches!(&entry, Ok(entry) if !same_words(stored, entry));
            let tree_row: Option<&[u8]> = row.try_get("tree_row")?;
            if !walk.visit(seq, entry, tree_row) {
                break;
            }
            if differs && search.len() < NAMED as usize {
                search.push(seq);
            }
        }
    }
    let mut report = walk.finish();
    report.problems.extend(lost);
    if !search.is_empty() {
        let named: Vec<String> = search.iter().map(|s| format!("audit-{s}")).collect();
        report
            .problems
            .push(Problem::SearchIndex(format!("the words stored for {} differ from their fields", named.join(", "))));
    }
    report.problems.extend(check_counts(&mut tx).await?);
    report.problems.extend(check_actors(&mut tx).await?);
    if let Some(expected) = expect_head {
        let seq = i64::try_from(expected.sequence).unwrap_or(i64::MAX);
        let hash: Option<Vec<u8>> = sqlx::query_scalar("SELECT hash FROM audit_entries WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&mut *tx)
            .await?;
        report.check_head(expected, hash.map(hex::encode));
    }
    tx.commit().await?;
    Ok(report)
}

/// Whether the stored words are exactly those the entry's fields make.
fn same_words(stored: &str, entry: &RawEntry<'_>) -> bool {
    let made = lexemes(entry.event_type, entry.actor_name, entry.description, entry.resource_name);
    let mut made: Vec<&str> = made.split(' ').filter(|w| !w.is_empty()).collect();
    let mut stored: Vec<&str> = stored.split(' ').filter(|w| !w.is_empty()).collect();
    made.sort_unstable();
    stored.sort_unstable();
    made == stored
}

/// The day (since the epoch) of a time in microseconds, rounded down, in SQL.
const DAY: &str = "floor(ts::numeric / 86400000000)::int8";

/// An entry's search keys in SQL (`search::search_keys`, which the migration that made
/// the table also follows): each of its words, and each beginning of three to eight
/// characters, once.
const ENTRY_KEYS: &str = "SELECT word AS key FROM unnest(tsvector_to_array(words)) AS word \
     UNION SELECT left(word, chars) FROM unnest(tsvector_to_array(words)) AS word, \
     generate_series(3, least(char_length(word) - 1, 8)) AS chars";

/// Each count table against the entries it counts.
async fn check_counts(conn: &mut PgConnection) -> Result<Vec<Problem>, StoreError> {
    let mut problems = Vec::new();
    for (table, keys, grouped) in [
        (
            "audit_daily_counts",
            "day, event_type, severity, actor_type",
            format!("SELECT {DAY} AS day, event_type, severity, actor_type, count(*) AS n FROM audit_entries GROUP BY 1, 2, 3, 4"),
        ),
        (
            "audit_actor_counts",
            "actor_ref, day, event_type, severity",
            format!("SELECT actor_ref, {DAY} AS day, event_type, severity, count(*) AS n FROM audit_entries GROUP BY 1, 2, 3, 4"),
        ),
        (
            "audit_search_keys",
            "key, day, severity",
            format!(
                "SELECT k.key, {DAY} AS day, severity, count(*) AS n FROM audit_entries \
                 CROSS JOIN LATERAL ({ENTRY_KEYS}) AS k GROUP BY 1, 2, 3"
            ),
        ),
    ] {
        let differing: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {table} c FULL JOIN ({grouped}) e USING ({keys}) \
             WHERE c.n IS DISTINCT FROM e.n"
        ))
        .fetch_one(&mut *conn)
        .await?;
        if differing > 0 {
            problems.push(Problem::Counts { table, detail: format!("{differing} counts differ from the entries") });
        }
    }
    Ok(problems)
}

/// Entries filed under an actor other than their own (ASCII case folded, as filed).
async fn check_actors(conn: &mut PgConnection) -> Result<Vec<Problem>, StoreError> {
    let misfiled: Vec<i64> = sqlx::query_scalar(
        "SELECT e.seq FROM audit_entries e LEFT JOIN audit_actors a ON a.ref = e.actor_ref \
         WHERE a.ref IS NULL OR a.id_key <> lower(e.actor_id COLLATE \"C\") OR a.name_key <> lower(e.actor_name COLLATE \"C\") \
         ORDER BY e.seq LIMIT $1",
    )
    .bind(NAMED)
    .fetch_all(&mut *conn)
    .await?;
    Ok(misfiled.into_iter().map(|seq| Problem::ActorIndex { seq: u64::try_from(seq).unwrap_or(0) }).collect())
}
