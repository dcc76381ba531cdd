//! Where ingest time goes, per entry. The request side (JSON, validation, the SHA-256 of
//! each entry) is timed here on 1000-event bodies like the bulk clients post; the store's
//! side is what the store measured of its own appends ([`AppendPhases`]) while the seeded
//! entries went in. Index maintenance is the difference in the rows phase between two
//! scratch stores filled alike, one with and one without the filter and time indexes.

use crate::ingest::one_event;
use crate::BATCH;
use app::ingest::{parse_batch, Receipt};
use app::integrity::EntryFields;
use app::store::{self, entry_hash, AppendPhases, GENESIS_HASH};
use chrono::{DateTime, Utc};
use server::config::Profile;
use server::seed::Generator;
use std::time::{Duration, Instant};

/// Batches timed on the request side, each timing repeated this often (the least kept).
const BODIES: usize = 20;
const REPEATS: usize = 3;

/// Entries in each scratch store of the index comparison.
const SCRATCH: u64 = 200_000;

/// The indexes that keep entries findable by time and by each filter.
const INDEXES: [&str; 5] = [
    "audit_entries_ts",
    "audit_entries_type_ts",
    "audit_entries_notable_ts",
    "audit_entries_actor_ts",
    "audit_entries_system_ts",
];

struct RequestSide {
    json: f64,
    validation: f64,
    hashing: f64,
}

fn least(mut f: impl FnMut() -> Duration) -> Duration {
    (0..REPEATS).map(|_| f()).min().unwrap_or_default()
}

/// Microseconds per entry of decoding, validating and hashing 1000-event bodies.
fn request_side() -> RequestSide {
    let bodies: Vec<Vec<u8>> = (0..BODIES)
        .map(|b| serde_json::to_vec(&(b * BATCH..(b + 1) * BATCH).map(one_event).collect::<Vec<_>>()).expect("json"))
        .collect();
    let receipt = Receipt { received_at: Utc::now(), token: None };
    let json = least(|| {
        let t = Instant::now();
        for body in &bodies {
            std::hint::black_box(serde_json::from_slice::<serde_json::Value>(body).expect("json"));
        }
        t.elapsed()
    });
    let parsed = least(|| {
        let t = Instant::now();
        for body in &bodies {
            std::hint::black_box(parse_batch(body, &receipt).expect("valid"));
        }
        t.elapsed()
    });
    let entries: Vec<_> = bodies.iter().flat_map(|b| parse_batch(b, &receipt).expect("valid")).collect();
    let hashing = least(|| {
        let t = Instant::now();
        let mut prev = GENESIS_HASH;
        for (i, entry) in entries.iter().enumerate() {
            prev = entry_hash(&prev, &EntryFields::of_new(entry, i as u64 + 1));
        }
        std::hint::black_box(prev);
        t.elapsed()
    });
    let per_entry = |d: Duration| d.as_secs_f64() * 1e6 / (BODIES * BATCH) as f64;
    RequestSide {
        json: per_entry(json),
        validation: per_entry(parsed.saturating_sub(json)),
        hashing: per_entry(hashing),
    }
}

/// The store's phases over `SCRATCH` generated entries in a fresh store, with or
/// without the indexes.
async fn scratch_phases(with_indexes: bool, until: DateTime<Utc>) -> AppendPhases {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("scratch.db").display());
    let store = store::open(&url).await.expect("store opens");
    if !with_indexes {
        let pool = sqlx::SqlitePool::connect(&url).await.expect("connects");
        for index in INDEXES {
            sqlx::query(&format!("DROP INDEX {index}")).execute(&pool).await.expect("drops");
        }
        pool.close().await;
    }
    let mut generator = Generator::new(SCRATCH, 90, 7, until).profile(Profile::Catalogue);
    loop {
        let batch: Vec<_> = generator.by_ref().take(BATCH).collect::<Result<_, _>>().expect("generated");
        if batch.is_empty() {
            break;
        }
        store.log.append(batch).await.expect("append");
    }
    let phases = store.maintenance.append_phases();
    store.maintenance.close().await;
    phases
}

/// The breakdown table: `seeding` is the store's phases while it was seeded (none when an
/// earlier run's store was reused); `bulk` the rate over HTTP.
pub async fn section(seeding: Option<&AppendPhases>, bulk: Option<f64>, until: DateTime<Utc>) -> String {
    let request = request_side();
    let with = scratch_phases(true, until).await;
    let without = scratch_phases(false, until).await;
    let us = |d: Duration, n: u64| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    let indexes = us(with.rows, with.entries) - us(without.rows, without.entries);
    let mut rows = format!(
        "| JSON decoding (serde_json, the whole body) | request | {:.2} |\n\
         | validation (each field checked, the entry built) | request | {:.2} |\n",
        request.json, request.validation
    );
    match seeding {
        Some(p) => {
            let n = p.entries;
            let store_total = us(p.chain + p.rows + p.search + p.terms + p.counts + p.tree + p.commit, n);
            for (name, d) in [
                ("hash chain: actor lookups, details serialised, SHA-256", p.chain),
                ("rows, with the time and filter indexes", p.rows),
                ("full-text search index (FTS5)", p.search),
                ("per-word counts by day and severity", p.terms),
                ("Merkle tree: canonical bytes, leaf and subtree hashes, their row", p.tree),
                ("per-day counts", p.counts),
                ("commit: WAL written and on disk", p.commit),
            ] {
                rows.push_str(&format!(
                    "| {name} | store | {:.2} ({:.0}%) |\n",
                    us(d, n),
                    100.0 * us(d, n) / store_total.max(f64::EPSILON)
                ));
            }
            rows.push_str(&format!("| **the store's append, in all** | store | **{store_total:.2}** |\n"));
            let tree = us(p.tree, n);
            let before = store_total - tree;
            rows.push_str(&format!(
                "\nThe Merkle tree costs {tree:.2} µs per entry: {:.1}% more than the rest of the append \
                 ({before:.2} µs; target ≤ 10%: {}).\n",
                100.0 * tree / before.max(f64::EPSILON),
                if tree <= 0.1 * before { "met" } else { "**not met**" }
            ));
        }
        None => rows.push_str(
            "| the store's phases | store | not measured: the store of an earlier run was reused (`BENCH_DATA`) |\n",
        ),
    }
    format!(
        "### Where ingest time goes\n\n\
         Microseconds per entry. The request side is timed on {BODIES} bodies of {BATCH} events (the least of \
         {REPEATS} runs); the store's phases are what the store measured of its own appends while the catalogue \
         store was seeded in {BATCH}-entry batches. Of the request side, the SHA-256 of each entry (part of the \
         hash chain phase) takes {hash:.2} µs. The indexes' share of the rows phase: {SCRATCH} entries into a \
         fresh store took {w:.2} µs each for the rows with the five time and filter indexes and {wo:.2} µs \
         without them, so index maintenance costs about {indexes:.2} µs per entry at that size (more in a \
         larger store, whose indexes are deeper).{http}\n\n\
         | phase | side | µs per entry |\n|---|---|---|\n{rows}",
        hash = request.hashing,
        w = us(with.rows, with.entries),
        wo = us(without.rows, without.entries),
        http = match bulk {
            Some(rate) => format!(
                " Over HTTP, two clients posting {BATCH}-event batches reach {rate:.0} events/s: {:.1} µs of wall \
                 time per entry on two cores.",
                1e6 / rate.max(f64::EPSILON)
            ),
            None => String::new(),
        },
    )
}
