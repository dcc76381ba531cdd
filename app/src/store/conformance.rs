//! The store conformance suite: what every engine must do, written once against the
//! traits. An engine runs it with [`conformance_suite!`], giving a function that opens a
//! fresh, empty store (and a guard that removes it). The expected results are computed
//! from the entries themselves with the filter's own Rust rules, so every engine is held
//! to one definition of what a filter matches.

use super::{
    Head, NewSession, NewToken, NewUser, Problem, PurgeStep, RawEntry, RecordChange, ScanSink, SettingsChange,
    SettingsChanged, Store, StoreError, UserUpdate,
};
use crate::accounts::{Lockout, Role, User};
use crate::entry::{Actor, ActorType, AuditEntry, EntryPage, IngestToken, Resource, Severity, SEARCH_TOTAL_BOUND};
use crate::filter::{EntryFilter, EntryQuery, PageRequest};
use crate::histogram::{Histogram, Span};
use crate::ingest::ValidEntry;
use crate::tokens::{Scope, TokenRecord};
use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

/// Generates one `#[tokio::test]` per case for an engine: `conformance_suite!(open)`,
/// where `open().await` gives `(Store, guard)`.
macro_rules! conformance_suite {
    ($open:path) => {
        conformance_suite!(@cases $open;
            appends_extend_the_chain_and_read_back_exactly,
            lists_and_counts_match_the_filter_rules,
            the_timeline_counts_exactly_the_matching_entries,
            a_search_timeline_counts_late_entries_in_their_own_day,
            a_scan_hands_over_every_match_oldest_first_and_stops_when_told,
            new_entries_are_announced_and_read_after_a_sequence,
            search_folds_accents_in_lists_counts_timeline_and_scans,
            a_one_word_search_counts_each_entry_once_however_many_words_it_begins,
            actors_are_suggested_by_any_part_of_their_name_or_id,
            an_actor_filter_finds_every_actor_it_names,
            verify_passes_an_intact_log_and_checks_a_given_head,
            the_stored_tree_answers_roots_and_proofs_for_every_size,
            checkpoints_are_kept_once_per_size_and_listed_in_order,
            the_purge_deletes_by_time_in_steps_and_verification_goes_across_what_it_recorded,
            settings_answer_the_value_each_change_replaced,
            subscriptions_are_unique_by_id_listed_by_name_and_removed_once,
            destinations_are_unique_by_name_change_by_version_and_go_with_their_cursor,
            tokens_are_found_by_hash_and_names_are_unique,
            tokens_expire_are_revoked_at_once_and_note_their_use,
            users_are_unique_by_name_whatever_its_case_and_ids_are_never_reused,
            updates_answer_the_user_before_and_after,
            the_last_active_admin_is_never_demoted_disabled_or_deleted,
            two_admins_demoting_each_other_at_once_leave_one_admin,
            failed_sign_ins_lock_and_a_success_forgets_them,
            sessions_are_found_by_hash_touched_and_ended_once,
            expired_sessions_end_and_users_disabled_deleted_or_reset_lose_theirs,
            concurrent_appends_never_fork_the_chain,
            concurrent_appends_share_commits_and_each_gets_its_own_entries,
            unknown_entries_are_none_and_empty_appends_write_nothing);
    };
    (@cases $open:path; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _guard) = $open().await;
                $crate::store::conformance::$case(store).await;
            }
        )*
    };
}
pub(crate) use conformance_suite;

/// A sample entry: its number decides everything about it.
pub fn sample(i: i64) -> ValidEntry {
    let base: DateTime<Utc> = "2025-03-01T00:00:00Z".parse().expect("time");
    let types = ["auth.login.success", "auth.login.failed", "rotation.failed", "sync.completed", "backup.done"];
    let actors = [
        (ActorType::User, "user-1", "Alice@Contoso.com"),
        (ActorType::User, "user-2", "bob@contoso.com"),
        (ActorType::Service, "sp-rot", "rotation-worker"),
        (ActorType::System, "system", "system"),
    ];
    let (kind, id, name) = actors[(i % 4) as usize];
    // Times jump back and forth (late arrivals, equal times).
    let minutes = (i * 7919) % (10 * 24 * 60) - if i % 13 == 0 { 2000 } else { 0 };
    let received = base + Duration::days(12) + Duration::seconds(i);
    ValidEntry {
        timestamp: base + Duration::minutes(minutes),
        event_type: types[(i % 5) as usize].to_owned(),
        actor: Actor { kind, id: id.to_owned(), name: name.to_owned() },
        resource: (i % 3 == 0).then(|| Resource {
            kind: "secret".into(),
            id: format!("kv/{i}"),
            name: Some(if i % 2 == 0 { "stripe-api-key".into() } else { "kv-prod-payments".into() }),
        }),
        description: format!("event {i} in vault kv-prod-{}", i % 6),
        details: serde_json::json!({"n": i, "nested": {"b": [1, 2], "a": null}})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        severity: Severity::ALL[(i % 3) as usize],
        ip_address: (i % 2 == 0).then(|| "192.0.2.7".to_owned()),
        user_agent: (i % 5 == 0).then(|| "curl/8".to_owned()),
        received_at: received,
        ingested_by: (i % 4 != 3).then(|| IngestToken { id: 1 + i % 3, name: format!("token-{}", i % 3) }),
    }
}

pub fn samples(range: std::ops::Range<i64>) -> Vec<ValidEntry> {
    range.map(sample).collect()
}

fn filter(query: &str) -> EntryFilter {
    EntryQuery::from_query_string(query).and_then(|q| q.validate()).expect("valid query").0
}

/// Every stored entry, read one by one.
async fn all(store: &Store, n: u64) -> Vec<AuditEntry> {
    let mut out = Vec::new();
    for seq in 1..=n {
        out.push(store.log.get(seq).await.expect("reads").expect("stored"));
    }
    out
}

fn newest_first(mut entries: Vec<AuditEntry>) -> Vec<AuditEntry> {
    entries.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(b.sequence.cmp(&a.sequence)));
    entries
}

pub async fn appends_extend_the_chain_and_read_back_exactly(store: Store) {
    let mut sequences = Vec::new();
    for batch in [samples(0..1), samples(1..8), samples(8..40)] {
        let given = batch.clone();
        let receipt = store.log.append(batch).await.expect("appends");
        assert_eq!(receipt.sequences.len(), given.len());
        let last = store.log.get(*receipt.sequences.last().expect("one")).await.expect("reads").expect("stored");
        assert_eq!(receipt.head_hash, last.hash, "the receipt names the batch's last hash");
        for (seq, entry) in receipt.sequences.iter().zip(&given) {
            let stored = store.log.get(*seq).await.expect("reads").expect("stored");
            assert_eq!(stored.id, format!("audit-{seq}"));
            assert_eq!(
                (&stored.timestamp, &stored.event_type, &stored.actor, &stored.resource, &stored.description),
                (&entry.timestamp, &entry.event_type, &entry.actor, &entry.resource, &entry.description)
            );
            assert_eq!((&stored.details, stored.severity), (&entry.details, entry.severity));
            assert_eq!((&stored.ip_address, &stored.user_agent), (&entry.ip_address, &entry.user_agent));
            assert_eq!((stored.received_at, &stored.ingested_by), (Some(entry.received_at), &entry.ingested_by));
        }
        sequences.extend(receipt.sequences);
    }
    assert_eq!(sequences, (1..=40).collect::<Vec<u64>>());
    let entries = all(&store, 40).await;
    assert_eq!(entries[0].prev_hash, hex::encode(super::GENESIS_HASH));
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "entry {} links to the one before", pair[1].sequence);
    }
}

/// Filters that each exercise a rule or a plan (prefixes, names ignoring case, `system`,
/// search words and prefixes, date-times, combinations), each matching some of
/// [`samples`]: every engine's lists and counts are checked against them.
pub const FILTER_QUERIES: &[&str] = &[
    "",
    "event_type=auth.*",
    "event_type=rotation.failed&event_type=backup.done",
    "severity=error",
    "severity=info,warning",
    "actor=ALICE%40contoso.com",
    "actor=USER-2&severity=info,warning",
    "actor=system&start_date=2025-03-03T05:00:00Z",
    "q=stripe",
    "q=kv-prod-payments&severity=info",
    "start_date=2025-03-02&end_date=2025-03-05T12:00:00Z&event_type=auth.login.*",
    // Over 1000 matches between two partial days: deep pages sought by day, both edges.
    "start_date=2025-03-01T18:00:00Z&end_date=2025-03-09T06:00:00Z",
    "q=vault+kv&actor=rotation-worker&end_date=2025-03-06",
    "q=eve",
    "q=1",
    "q=kv&severity=error",
    "q=eve+in",
];

/// A page's total is exact, or (a search's, counted only so far) a true lower bound no
/// smaller than the rows the page shows.
pub fn assert_total(page: &EntryPage, matching: u64, what: &str) {
    if page.total_exact {
        assert_eq!(page.total, matching, "exact total of {what}");
    } else {
        assert!(page.total <= matching, "a bound no more than the matches: {what}");
        let shown = if page.entries.is_empty() { 0 } else { page.offset + page.entries.len() as u64 };
        assert!(page.total >= shown.min(matching), "a bound no less than the rows shown: {what}");
        assert!(page.has_more() || page.entries.len() < page.limit as usize, "a bound lets the pages go on: {what}");
    }
}

/// Only a search's total may be a bound, and never that of a page that saw every match.
pub fn assert_exact_where_cheap(page: &EntryPage, filter: &EntryFilter, matching: u64, what: &str) {
    // A page cut short by the last match has seen them all.
    let last_page = !page.entries.is_empty() && page.entries.len() < page.limit as usize;
    if filter.search.is_empty() || last_page || matching <= SEARCH_TOTAL_BOUND.min(page.limit.into()) {
        assert!(page.total_exact, "{what} must be counted exactly");
    }
}

pub async fn lists_and_counts_match_the_filter_rules(store: Store) {
    for chunk in samples(0..1500).chunks(400) {
        store.log.append(chunk.to_vec()).await.expect("appends");
    }
    let stored = newest_first(all(&store, 1500).await);
    for text in FILTER_QUERIES {
        let f = filter(text);
        let expected: Vec<u64> = stored.iter().filter(|e| f.matches(e)).map(|e| e.sequence).collect();
        assert!(!expected.is_empty(), "{text} matches nothing: a weak check");
        assert_eq!(store.log.count(&f).await.expect("counts"), expected.len() as u64, "count of {text}");
        let last = expected.len() as u64 - 1;
        for (limit, offset) in [(50, 0), (7, 3), (1000, 0), (25, 1000), (10, last), (10, last + 1)] {
            let page = store.log.list(&f, PageRequest { limit, offset }).await.expect("lists");
            let got: Vec<u64> = page.entries.iter().map(|e| e.sequence).collect();
            let want: Vec<u64> = expected.iter().skip(offset as usize).take(limit as usize).copied().collect();
            assert_eq!(got, want, "{text} limit {limit} offset {offset}");
            let what = format!("{text} limit {limit} offset {offset}");
            assert_total(&page, expected.len() as u64, &what);
            assert_exact_where_cheap(&page, &f, expected.len() as u64, &what);
        }
    }
    // A search of several common words is counted up to the bound and says so; a one-word
    // search is counted exactly from its per-word counts; the count stays exact.
    for (query, bounded) in [("q=stripe+kv", true), ("q=stripe", false)] {
        let common = filter(query);
        let matching = stored.iter().filter(|e| common.matches(e)).count() as u64;
        assert!(matching > SEARCH_TOTAL_BOUND, "{query}: the sample must exceed the bound");
        let page = store.log.list(&common, PageRequest { limit: 10, offset: 0 }).await.expect("lists");
        let expected = if bounded { (SEARCH_TOTAL_BOUND, false) } else { (matching, true) };
        assert_eq!((page.total, page.total_exact), expected, "{query}");
        assert!(page.has_more());
        assert_eq!(store.log.count(&common).await.expect("counts"), matching);
    }
    let nothing = store.log.list(&filter("q=zzzz"), PageRequest::default()).await.expect("lists");
    assert_eq!((nothing.total, nothing.entries.len()), (0, 0));
}

pub async fn the_timeline_counts_exactly_the_matching_entries(store: Store) {
    store.log.append(samples(0..1200)).await.expect("appends");
    let now: DateTime<Utc> = "2025-03-12T00:00:00Z".parse().expect("time");
    let every = all(&store, 1200).await;
    let earliest = store.log.earliest().await.expect("earliest");
    assert_eq!(earliest, every.iter().map(|e| e.timestamp).min());
    for text in [
        "",
        "severity=error",
        "actor=bob%40contoso.com",
        "actor=system&event_type=auth.*",
        "q=stripe",
        "start_date=2025-03-03T05:30:00Z&end_date=2025-03-07T18:00:00Z",
        "start_date=2025-03-04T06:00:00Z&end_date=2025-03-05T12:00:00Z&severity=info,warning",
        "start_date=2025-03-02T07:00:00Z&q=kv&actor=rotation-worker",
        // One word and at most time and severity besides: from the per-word counts.
        "q=kv&severity=info,warning",
        "start_date=2025-03-03T05:30:00Z&end_date=2025-03-07T18:00:00Z&q=stripe",
        "q=stripe+kv",
        // Edge days with no entries outside the range: counted whole from the counts.
        "start_date=2025-02-27T06:00:00Z&end_date=2025-03-20T10:00:00Z&q=stripe",
        "start_date=2025-02-27T06:00:00Z&end_date=2025-03-20T10:00:00Z&severity=warning",
    ] {
        let f = filter(text);
        let span = Span::plan(f.start, f.end, earliest, now);
        let got = store.log.histogram(&f, span).await.expect("histogram");
        let mut want = Histogram::empty(span);
        for e in every.iter().filter(|e| f.matches(e)) {
            want.add(e.timestamp, e.severity, 1);
        }
        assert!(want.total() > 0, "{text} counts nothing: a weak check");
        assert_eq!(got, want, "{text} by {}s", span.bucket_secs);
    }
}

/// Entries mostly in time order, as a live log records them, with some recorded late:
/// after a later day had begun (one of them after its own day had no other entry left),
/// at the very start of a day, and in batches that cross days.
pub async fn a_search_timeline_counts_late_entries_in_their_own_day(store: Store) {
    let base: DateTime<Utc> = "2025-03-01T00:00:00Z".parse().expect("time");
    let mut entries = samples(0..900);
    for (i, e) in entries.iter_mut().enumerate() {
        let i = i as i64;
        // 100 entries a day over 9 days; every 17th recorded one to three days late, and
        // every 50th at midnight exactly.
        let minutes = i * 1440 / 100;
        let late = if i % 17 == 5 { 1440 * (1 + i % 3) } else { 0 };
        e.timestamp =
            if i % 50 == 0 { base + Duration::days(i / 100) } else { base + Duration::minutes(minutes - late) };
    }
    // A day of which only late entries are left: recorded after the next day began.
    entries[420].timestamp = base - Duration::days(2) + Duration::hours(3);
    for batch in [0..1, 1..40, 40..333, 333..334, 334..900] {
        store.log.append(entries[batch].to_vec()).await.expect("appends");
    }
    let now: DateTime<Utc> = "2025-03-12T00:00:00Z".parse().expect("time");
    let every = all(&store, 900).await;
    let earliest = store.log.earliest().await.expect("earliest");
    for text in [
        "q=stripe+kv",
        "q=vault+kv",
        "q=vault+event",
        "q=vault+kv&severity=warning",
        "q=vault+kv&severity=info,error",
        "q=vault+kv&severity=info",
        "q=kv+prod&severity=error,warning",
        "start_date=2025-03-02T05:30:00Z&end_date=2025-03-07T18:00:00Z&q=vault+kv",
        "start_date=2025-02-26T00:00:00Z&end_date=2025-03-08T00:00:00Z&q=vault+kv&severity=info,warning",
        "start_date=2025-03-03T00:00:00Z&q=stripe+kv",
        "end_date=2025-03-04T12:00:00Z&q=kv+prod",
    ] {
        let f = filter(text);
        let span = Span::plan(f.start, f.end, earliest, now);
        let got = store.log.histogram(&f, span).await.expect("histogram");
        let mut want = Histogram::empty(span);
        for e in every.iter().filter(|e| f.matches(e)) {
            want.add(e.timestamp, e.severity, 1);
        }
        assert!(want.total() > 0, "{text} counts nothing: a weak check");
        assert_eq!(got, want, "{text} by {}s", span.bucket_secs);
        let page = store.log.list(&f, PageRequest { limit: 1000, offset: 0 }).await.expect("lists");
        assert_eq!(page.entries.len() as u64, want.total(), "{text}: the list agrees with the timeline");
        assert_eq!(store.log.count(&f).await.expect("counts"), want.total(), "{text}: the count too");
    }
}

/// Each scanned entry's sequence, posting token and hash (hex; empty when not read).
type Seen = Arc<Mutex<Vec<(u64, Option<i64>, String)>>>;

/// Records what a scan hands over, and stops after `stop_after` entries if asked.
struct Collect {
    seen: Seen,
    stop_after: Option<usize>,
    ended: Arc<Mutex<bool>>,
    hashes: bool,
}

impl Collect {
    fn new(seen: &Seen, stop_after: Option<usize>, ended: &Arc<Mutex<bool>>) -> Box<Self> {
        Box::new(Collect { seen: seen.clone(), stop_after, ended: ended.clone(), hashes: true })
    }
}

impl ScanSink for Collect {
    fn entry(&mut self, entry: &RawEntry<'_>) -> bool {
        let mut seen = self.seen.lock().expect("lock");
        seen.push((entry.sequence, entry.ingest_token_id, hex::encode(entry.hash)));
        if self.hashes {
            assert!(entry.to_entry().is_ok(), "a scanned row reads back as an entry");
        }
        self.stop_after.is_none_or(|n| seen.len() < n)
    }

    fn end(&mut self) {
        *self.ended.lock().expect("lock") = true;
    }

    fn wants_hashes(&self) -> bool {
        self.hashes
    }
}

pub async fn a_scan_hands_over_every_match_oldest_first_and_stops_when_told(store: Store) {
    store.log.append(samples(0..300)).await.expect("appends");
    let every = all(&store, 300).await;
    for text in ["", "severity=error&q=stripe", "actor=system", "q=nothingmatches"] {
        let f = filter(text);
        let mut want: Vec<&AuditEntry> = every.iter().filter(|e| f.matches(e)).collect();
        want.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then(a.sequence.cmp(&b.sequence)));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let ended = Arc::new(Mutex::new(false));
        let n = store.log.scan(&f, Collect::new(&seen, None, &ended)).await.expect("scans");
        let got = seen.lock().expect("lock").clone();
        let expected: Vec<(u64, Option<i64>, String)> =
            want.iter().map(|e| (e.sequence, e.ingested_by.as_ref().map(|t| t.id), e.hash.clone())).collect();
        assert_eq!(got, expected, "{text}");
        assert_eq!(n, expected.len() as u64);
        assert!(*ended.lock().expect("lock"), "a scan that ran to its end says so");

        // A sink that shows no hash gets the same entries without them.
        let without = Arc::new(Mutex::new(Vec::new()));
        let mut sink = Collect::new(&without, None, &ended);
        sink.hashes = false;
        store.log.scan(&f, sink).await.expect("scans");
        let expected: Vec<_> = expected.into_iter().map(|(seq, token, _)| (seq, token, String::new())).collect();
        assert_eq!(*without.lock().expect("lock"), expected, "{text} without hashes");
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let ended = Arc::new(Mutex::new(false));
    store.log.scan(&filter(""), Collect::new(&seen, Some(10), &ended)).await.expect("scans");
    assert_eq!(seen.lock().expect("lock").len(), 10, "the scan stopped when the sink said so");
    assert!(!*ended.lock().expect("lock"), "a stopped scan has no end");
}

/// An actor filter names every actor whose id or name it is, whether that is one actor
/// (which an engine may look up first) or several: one's id another's name, and a name
/// two share whatever its case. Lists, counts, the timeline and scans agree.
pub async fn an_actor_filter_finds_every_actor_it_names(store: Store) {
    let actors = [
        Actor { kind: ActorType::User, id: "dana".into(), name: "Dana Smith".into() },
        Actor { kind: ActorType::Service, id: "sp-dana".into(), name: "DANA".into() },
        Actor { kind: ActorType::Service, id: "sp-other".into(), name: "Dana".into() },
        Actor { kind: ActorType::User, id: "user-9".into(), name: "Erin".into() },
    ];
    let mut entries = samples(0..400);
    // Every other entry, so that the new actors' entries have every severity.
    for (i, entry) in entries.iter_mut().enumerate().filter(|(i, _)| i % 2 == 0) {
        entry.actor = actors[(i / 2) % actors.len()].clone();
    }
    store.log.append(entries).await.expect("appends");
    let every = newest_first(all(&store, 400).await);
    let earliest = store.log.earliest().await.expect("earliest");
    let now: DateTime<Utc> = "2025-03-12T00:00:00Z".parse().expect("time");
    for (text, actors_named) in [
        ("actor=DANA", 3),
        ("actor=sp-dana&severity=info,error", 1),
        ("actor=erin&event_type=auth.*", 1),
        ("actor=dana+smith&start_date=2025-03-02", 1),
        ("actor=dana&q=event", 3),
        ("actor=nobody-at-all", 0),
    ] {
        let f = filter(text);
        let want: Vec<u64> = every.iter().filter(|e| f.matches(e)).map(|e| e.sequence).collect();
        let named: std::collections::BTreeSet<&str> =
            every.iter().filter(|e| f.matches(e)).map(|e| e.actor.id.as_str()).collect();
        assert_eq!(named.len(), actors_named, "{text}: {named:?}");
        assert_eq!(store.log.count(&f).await.expect("counts"), want.len() as u64, "count of {text}");
        for (limit, offset) in [(50, 0), (7, 5)] {
            let page = store.log.list(&f, PageRequest { limit, offset }).await.expect("lists");
            let got: Vec<u64> = page.entries.iter().map(|e| e.sequence).collect();
            let expected: Vec<u64> = want.iter().skip(offset as usize).take(limit as usize).copied().collect();
            assert_eq!(got, expected, "{text} limit {limit} offset {offset}");
            assert_total(&page, want.len() as u64, text);
        }
        let span = Span::plan(f.start, f.end, earliest, now);
        assert_eq!(store.log.histogram(&f, span).await.expect("histogram").total(), want.len() as u64, "{text}");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let ended = Arc::new(Mutex::new(false));
        store.log.scan(&f, Collect::new(&seen, None, &ended)).await.expect("scans");
        let scanned: Vec<u64> = seen.lock().expect("lock").iter().map(|(seq, _, _)| *seq).collect();
        let mut oldest_first = every.iter().filter(|e| f.matches(e)).collect::<Vec<_>>();
        oldest_first.reverse();
        assert_eq!(scanned, oldest_first.iter().map(|e| e.sequence).collect::<Vec<_>>(), "scan of {text}");
    }
}

pub async fn new_entries_are_announced_and_read_after_a_sequence(store: Store) {
    let mut head = store.log.watch_head();
    assert_eq!(*head.borrow_and_update(), 0);
    store.log.append(samples(0..5)).await.expect("appends");
    assert!(head.has_changed().expect("open"), "an append moves the head");
    assert_eq!(*head.borrow_and_update(), 5);
    store.log.append(samples(5..9)).await.expect("appends");
    let after: Vec<u64> = store.log.entries_after(3, 100).await.expect("reads").iter().map(|e| e.sequence).collect();
    assert_eq!(after, vec![4, 5, 6, 7, 8, 9]);
    let limited: Vec<u64> = store.log.entries_after(3, 2).await.expect("reads").iter().map(|e| e.sequence).collect();
    assert_eq!(limited, vec![4, 5]);
    assert!(store.log.entries_after(9, 10).await.expect("reads").is_empty());
}

pub async fn search_folds_accents_in_lists_counts_timeline_and_scans(store: Store) {
    let mut entries = samples(0..6);
    entries[2].description = "Zahlung an Müller".into();
    entries[4].description = "Überweisung an Muller & Söhne, Crème brûlée".into();
    // Letters that are also combining marks start a word and fold away: an empty word is
    // no word, and no reason to refuse the entry.
    entries[5].description = "Ablage \u{345} und \u{93f} fertig".into();
    store.log.append(entries).await.expect("appends");
    let every = all(&store, 6).await;
    let now: DateTime<Utc> = "2025-03-12T00:00:00Z".parse().expect("time");
    for (q, want) in [
        ("müller", vec![5, 3]),
        ("muller", vec![5, 3]),
        ("MÜLLER", vec![5, 3]),
        ("mull", vec![5, 3]),
        ("sohne", vec![5]),
        ("creme brulee", vec![5]),
        ("crème", vec![5]),
        ("uberweisung", vec![5]),
    ] {
        let f = filter(&format!("q={}", url_encode(q)));
        let rust: Vec<u64> = newest_first(every.clone()).iter().filter(|e| f.matches(e)).map(|e| e.sequence).collect();
        let mut want = want;
        let mut sorted = rust.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        want.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(sorted, want, "the Rust rules for {q}");
        let page = store.log.list(&f, PageRequest::default()).await.expect("lists");
        assert_eq!(page.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), rust, "list of {q}");
        assert_eq!(store.log.count(&f).await.expect("counts"), want.len() as u64, "count of {q}");
        let span = Span::plan(None, None, store.log.earliest().await.expect("earliest"), now);
        assert_eq!(
            store.log.histogram(&f, span).await.expect("histogram").total(),
            want.len() as u64,
            "timeline of {q}"
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Collect::new(&seen, None, &Arc::new(Mutex::new(false)));
        assert_eq!(store.log.scan(&f, sink).await.expect("scans"), want.len() as u64, "scan of {q}");
    }
    let report = store.log.verify(None).await.expect("verifies");
    assert!(report.is_intact(), "{:?}", report.problems);
}

/// A search word matches every word it begins: an entry holding several of them is one
/// match, in the page's total, the count and the timeline alike (whole days, partial
/// days and severities).
pub async fn a_one_word_search_counts_each_entry_once_however_many_words_it_begins(store: Store) {
    let mut entries = samples(0..45);
    for (i, entry) in entries.iter_mut().enumerate() {
        entry.description = match i % 3 {
            0 => "rotation rotated rotate",
            1 => "rotation of Müllerstraße",
            _ => "rotisserie at Müllerstrasse and müllerstraßen",
        }
        .into();
    }
    store.log.append(entries).await.expect("appends");
    let every = all(&store, 45).await;
    let now: DateTime<Utc> = "2025-03-12T00:00:00Z".parse().expect("time");
    for q in [
        "q=rot",
        "q=rota",
        "q=rotation",
        "q=rotated",
        "q=ro",
        "q=mullerstr",
        "q=m%C3%BCllerstra%C3%9Fe",
        "q=mullerstrasse",
        "q=rot&severity=warning",
        "q=rot&severity=info&severity=error&start_date=2025-03-03&end_date=2025-03-07",
        "q=rotat&start_date=2025-03-02T06:30:00Z&end_date=2025-03-08T18:00:00Z",
    ] {
        let f = filter(q);
        let want = every.iter().filter(|e| f.matches(e)).count() as u64;
        let page = store.log.list(&f, PageRequest::default()).await.expect("lists");
        assert_eq!((page.total, page.total_exact), (want, true), "total of {q}");
        assert_eq!(store.log.count(&f).await.expect("counts"), want, "count of {q}");
        let span = Span::plan(f.start, f.end, store.log.earliest().await.expect("earliest"), now);
        assert_eq!(store.log.histogram(&f, span).await.expect("histogram").total(), want, "timeline of {q}");
    }
    assert!(store.log.verify(None).await.expect("verifies").problems.is_empty());
}

fn url_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub async fn actors_are_suggested_by_any_part_of_their_name_or_id(store: Store) {
    store.log.append(samples(0..8)).await.expect("appends");
    let names = store.log.suggest_actors("CONTOSO", 10).await.expect("suggests");
    assert_eq!(names, vec!["alice@contoso.com", "bob@contoso.com"]);
    let names = store.log.suggest_actors("rot", 10).await.expect("suggests");
    assert_eq!(names, vec!["rotation-worker", "sp-rot"], "those that begin with it first");
    assert_eq!(store.log.suggest_actors("o", 1).await.expect("suggests").len(), 1);
    assert!(store.log.suggest_actors("nobody", 10).await.expect("suggests").is_empty());
}

pub async fn verify_passes_an_intact_log_and_checks_a_given_head(store: Store) {
    let empty = store.log.verify(None).await.expect("verifies");
    assert!(empty.is_intact() && empty.entries == 0 && empty.head.is_none(), "{empty:?}");
    store.log.append(samples(0..30)).await.expect("appends");
    let receipt = store.log.append(samples(30..50)).await.expect("appends");
    let report = store.log.verify(None).await.expect("verifies");
    assert!(report.is_intact(), "{:?}", report.problems);
    let head = Head { sequence: 50, hash: receipt.head_hash.clone() };
    assert_eq!((report.entries, report.head.as_ref()), (50, Some(&head)));
    // The Merkle tree of the entries as they are served, recomputed here another way (the
    // stored hashes of the Go sumdb layout): the same size and root on both engines.
    let served = store.log.entries_after(0, 100).await.expect("reads");
    let stored = std::cell::RefCell::new(Vec::new());
    struct Stored<'a>(&'a std::cell::RefCell<Vec<tlog_tiles::Hash>>);
    impl tlog_tiles::HashReader for Stored<'_> {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
            Ok(indexes.iter().map(|&i| self.0.borrow()[i as usize]).collect())
        }
    }
    for (n, entry) in served.iter().enumerate() {
        let leaf = tlog_tiles::Hash(crate::integrity::entry_leaf_hash(entry));
        let more = tlog_tiles::stored_hashes_for_record_hash(n as u64, leaf, &Stored(&stored)).expect("stores");
        stored.borrow_mut().extend(more);
    }
    let root = tlog_tiles::tree_hash(50, &Stored(&stored)).expect("root");
    assert_eq!(report.tree, Some(crate::integrity::TreeHead { size: 50, root: root.0 }));
    assert_eq!(empty.tree.map(|t| t.size), Some(0));

    let earlier = store.log.get(30).await.expect("reads").expect("stored");
    let seen = Head { sequence: 30, hash: earlier.hash };
    assert!(store.log.verify(Some(&seen)).await.expect("verifies").is_intact());
    let beyond = Head { sequence: 51, hash: receipt.head_hash.clone() };
    let report = store.log.verify(Some(&beyond)).await.expect("verifies");
    assert_eq!(report.problems, vec![Problem::Truncated { expected: 51, last: 50 }]);
    let other = Head { sequence: 50, hash: "0".repeat(64) };
    let report = store.log.verify(Some(&other)).await.expect("verifies");
    assert!(matches!(report.problems.as_slice(), [Problem::HeadMismatch { seq: 50, .. }]), "{:?}", report.problems);
}

fn new_user(name: &str, role: Role) -> NewUser {
    NewUser {
        username: name.to_owned(),
        display_name: format!("{name} Example"),
        role,
        password_hash: format!("hash of {name}"),
    }
}

async fn create(store: &Store, name: &str, role: Role) -> User {
    let now: DateTime<Utc> = "2026-01-02T03:04:05.678901Z".parse().expect("time");
    store.accounts.create_user(&new_user(name, role), now).await.expect("creates")
}

fn change(role: Option<Role>, disabled: Option<bool>) -> UserUpdate {
    UserUpdate { role, disabled, ..UserUpdate::default() }
}

/// The tree's rows are written with the entries, whatever the groups: the root of every
/// size read from them is the one recomputed from the served entries, and proofs read from
/// them check against those roots.
pub async fn the_stored_tree_answers_roots_and_proofs_for_every_size(store: Store) {
    use crate::integrity::{check_consistency, check_inclusion, entry_leaf_hash, TreeBuilder, TreeQuery};
    use crate::store::tree_answer;
    assert_eq!(store.tree.tree_size().await.expect("size"), 0);
    for (from, to) in [(0, 1), (1, 8), (8, 9), (9, 40)] {
        store.log.append(samples(from..to)).await.expect("appends");
    }
    let concurrent = (40..60).map(|i| {
        let log = store.log.clone();
        tokio::spawn(async move { log.append(samples(i..i + 1)).await })
    });
    for appended in futures_util::future::join_all(concurrent).await {
        appended.expect("joins").expect("appends");
    }
    assert_eq!(store.tree.tree_size().await.expect("size"), 60);
    let served = store.log.entries_after(0, 100).await.expect("reads");
    let mut builder = TreeBuilder::default();
    let mut heads = vec![builder.head()];
    for entry in &served {
        builder.push(entry_leaf_hash(entry));
        heads.push(builder.head());
    }
    for size in 1..=60u64 {
        let root = tree_answer(&*store.tree, TreeQuery::Root { size }).await.expect("root");
        assert_eq!(root, vec![heads[size as usize].root], "root of {size}");
    }
    for (index, size) in [(0u64, 1u64), (0, 60), (59, 60), (31, 33), (8, 9)] {
        let proof = tree_answer(&*store.tree, TreeQuery::Inclusion { index, size }).await.expect("proof");
        let leaf = entry_leaf_hash(&served[index as usize]);
        assert!(check_inclusion(&proof, index, size, heads[size as usize].root, leaf), "{index} in {size}");
    }
    for (from, to) in [(1u64, 60u64), (8, 9), (33, 60), (60, 60), (0, 5)] {
        let proof = tree_answer(&*store.tree, TreeQuery::Consistency { from, to }).await.expect("proof");
        assert!(check_consistency(&proof, heads[from as usize], heads[to as usize]), "{from} to {to}");
    }
    let beyond = tree_answer(&*store.tree, TreeQuery::Inclusion { index: 3, size: 61 }).await;
    assert!(matches!(beyond, Err(StoreError::Conflict(_))), "{beyond:?}");
}

pub async fn the_purge_deletes_by_time_in_steps_and_verification_goes_across_what_it_recorded(store: Store) {
    use crate::integrity::{check_inclusion, entry_leaf_hash, TreeQuery};
    use crate::store::tree_answer;
    let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("time");
    store.log.append(samples(0..60)).await.expect("appends");
    let before = store.log.entries_after(0, 100).await.expect("reads");
    let root = tree_answer(&*store.tree, TreeQuery::Root { size: 60 }).await.expect("root")[0];
    // The samples' times jump back and forth: entries due by time are not a prefix.
    let mut times: Vec<DateTime<Utc>> = before.iter().map(|e| e.timestamp).collect();
    times.sort();
    let cutoff = times[30];
    let due: Vec<u64> = before.iter().filter(|e| e.timestamp < cutoff && e.sequence < 60).map(|e| e.sequence).collect();
    assert!(due.len() >= 25 && due.windows(2).any(|w| w[1] != w[0] + 1), "not a prefix: {due:?}");
    assert_eq!(store.retention.purge_due(cutoff).await.expect("counts"), due.len() as u64);

    // Bounded (what an archive holds): only entries numbered below the bound go.
    let bound = due[due.len() / 2];
    let mut bounded = 0;
    loop {
        let step = store.retention.purge_step(cutoff, Some(bound), 4, now).await.expect("purges");
        assert!(step.last.is_none_or(|last| last < bound), "{step:?}");
        bounded += step.deleted;
        if !step.more {
            break;
        }
    }
    assert_eq!(bounded, due.iter().filter(|s| **s < bound).count() as u64);
    assert_eq!(store.log.get(bound).await.expect("reads").map(|e| e.sequence), Some(bound), "the bound is kept");

    // Small steps, each saying whether more is due.
    let mut deleted = vec![bounded];
    loop {
        let step = store.retention.purge_step(cutoff, None, 7, now).await.expect("purges");
        assert!(step.deleted <= 7);
        deleted.push(step.deleted);
        if !step.more {
            break;
        }
    }
    assert_eq!(deleted.iter().sum::<u64>(), due.len() as u64);
    let left = store.retention.purge_step(cutoff, None, 7, now).await.expect("nothing left");
    assert_eq!(PurgeStep { took: Default::default(), ..left }, PurgeStep::default());
    for seq in &due {
        assert_eq!(store.log.get(*seq).await.expect("reads"), None, "audit-{seq} was due");
    }
    let ranges = store.retention.purged().await.expect("reads");
    let recorded: Vec<u64> = ranges.iter().flat_map(|r| r.first..=r.last).collect();
    assert_eq!(recorded, due, "the runs recorded are exactly the entries deleted");
    assert!(ranges.iter().all(|r| r.purged_at == now && r.cutoff == cutoff));

    // Lists, counts, the timeline and search agree with what is left.
    let left = 60 - due.len() as u64;
    assert_eq!(store.log.count(&filter("")).await.expect("counts"), left);
    let page = store.log.list(&filter("limit=100"), PageRequest::default()).await.expect("lists");
    assert_eq!(page.entries.len() as u64, left);
    assert_total(&store.log.list(&filter("q=vault"), PageRequest::default()).await.expect("searches"), left, "search");
    let report = store.log.verify(None).await.expect("verifies");
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!((report.entries, report.purged), (60, due.len() as u64), "the purged entries are reported as such");
    assert!(!report.purged_runs.is_empty());

    // The tree is whole: every kept entry is still proven in the tree of 60, and the root
    // is the one signed before the purge.
    assert_eq!(tree_answer(&*store.tree, TreeQuery::Root { size: 60 }).await.expect("root")[0], root);
    for entry in before.iter().filter(|e| !due.contains(&e.sequence)) {
        let index = entry.sequence - 1;
        let proof = tree_answer(&*store.tree, TreeQuery::Inclusion { index, size: 60 }).await.expect("proof");
        assert!(check_inclusion(&proof, index, 60, root, entry_leaf_hash(entry)), "audit-{}", entry.sequence);
    }

    // Appends go on, and a later purge of everything due keeps the newest entry.
    store.log.append(samples(60..64)).await.expect("appends after a purge");
    // A cutoff within the last 30 days is refused: retention keeps 30 days at least.
    let too_late = Utc::now() - Duration::days(29);
    let refused = store.retention.purge_step(too_late, None, 1000, now).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    assert_eq!(store.log.count(&filter("")).await.expect("counts"), left + 4, "nothing went");
    let everything = Utc::now() - Duration::days(30);
    while store.retention.purge_step(everything, None, 1000, now).await.expect("purges").more {}
    assert_eq!(store.log.count(&filter("")).await.expect("counts"), 1, "the newest entry stays");
    assert!(store.log.get(64).await.expect("reads").is_some());
    store.log.append(samples(64..66)).await.expect("appends after purging all but the head");
    let report = store.log.verify(None).await.expect("verifies");
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!((report.entries, report.purged), (66, 63));
}

/// A recorder that records every change that changed something as one entry (`sample`,
/// numbered by `n`, which counts the calls: an entry rolled back leaves a gap).
fn recorder(n: Arc<std::sync::atomic::AtomicI64>) -> RecordChange {
    Arc::new(move |changed: &SettingsChanged| {
        let changed_something = !matches!(changed, SettingsChanged::Added(false) | SettingsChanged::Removed(None));
        Ok(changed_something.then(|| sample(n.fetch_add(1, std::sync::atomic::Ordering::SeqCst))))
    })
}

pub async fn settings_answer_the_value_each_change_replaced(store: Store) {
    let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("time");
    let put = |value: &str| SettingsChange::Put { name: "audit_retention_days", value: value.to_owned(), now };
    let record = recorder(Arc::default());
    assert!(store.settings.settings().await.expect("reads").is_empty(), "defaults are not stored");
    let (changed, receipt) = store.settings.change(put("120"), record.clone()).await.expect("puts");
    assert_eq!(changed, SettingsChanged::Put { previous: None });
    assert_eq!(receipt.expect("recorded").sequences, [1], "the change's entry");
    let (changed, _) = store.settings.change(put("60"), record.clone()).await.expect("puts");
    assert_eq!(changed, SettingsChanged::Put { previous: Some("120".into()) });
    // Changes at once: each answers the value another left, and one of them stands.
    let changes = ["31", "32", "33", "34"].map(|value| {
        let (settings, record, change) = (store.settings.clone(), record.clone(), put(value));
        tokio::spawn(async move { settings.change(change, record).await })
    });
    let mut replaced: Vec<String> = Vec::new();
    for change in futures_util::future::join_all(changes).await {
        match change.expect("joins").expect("puts") {
            (SettingsChanged::Put { previous: Some(previous) }, Some(_)) => replaced.push(previous),
            other => panic!("a change that replaced nothing, or was not recorded: {other:?}"),
        }
    }
    let standing = store.settings.settings().await.expect("reads")[0].1.clone();
    replaced.push(standing.clone());
    replaced.sort();
    assert_eq!(replaced, ["31", "32", "33", "34", "60"], "every value was replaced once, and one stands");
    assert_eq!(store.log.count(&filter("")).await.expect("counts"), 6, "each change has its entry");
    assert_eq!(*store.log.watch_head().borrow(), 6, "the live stream is told of the changes' entries");
    // Appends go on straight after the changes' entries, in one chain and one tree.
    assert_eq!(store.log.append(samples(6..8)).await.expect("appends").sequences, [7, 8]);
    let report = store.log.verify(None).await.expect("verifies");
    assert!(report.is_intact() && report.entries == 8, "{report:?}");

    // A change whose entry cannot be made is not made: one transaction holds both.
    let failing: RecordChange = Arc::new(|_: &SettingsChanged| Err(StoreError::backend("no entry")));
    store.settings.change(put("200"), failing).await.expect_err("its entry failed");
    // One with nothing to record is not stored either.
    let nothing: RecordChange = Arc::new(|_: &SettingsChanged| Ok(None));
    let (changed, receipt) = store.settings.change(put("201"), nothing).await.expect("answers");
    assert_eq!((changed, receipt), (SettingsChanged::Put { previous: Some(standing.clone()) }, None));
    assert_eq!(
        store.settings.settings().await.expect("reads"),
        [("audit_retention_days".to_owned(), standing.clone())]
    );
    assert_eq!(store.log.count(&filter("")).await.expect("counts"), 8, "nothing else was appended");
    // Nor is one whose entry panics to build; the store takes changes and appends after it.
    let panics: RecordChange = Arc::new(|_: &SettingsChanged| panic!("a recorder that panics"));
    store.settings.change(put("202"), panics).await.expect_err("its entry panicked");
    assert_eq!(store.settings.settings().await.expect("reads")[0].1, standing);
    let (_, receipt) = store.settings.change(put("203"), record).await.expect("changes after a panic");
    assert_eq!(receipt.expect("recorded").sequences, [9]);
    assert_eq!(store.log.append(samples(9..10)).await.expect("appends").sequences, [10]);
    assert!(store.log.verify(None).await.expect("verifies").is_intact());
}

/// A change is stored only with its entry: when the append itself fails (`refuse_appends`
/// makes the database refuse entries, with an error saying "refused", until
/// `allow_appends`), the settings and subscriptions are as they were.
pub async fn a_change_whose_entry_the_database_refuses_is_not_made(
    store: Store,
    refuse_appends: impl std::future::Future<Output = ()>,
    allow_appends: impl std::future::Future<Output = ()>,
) {
    use crate::subscriptions::{Cloud, Subscription};
    let now: DateTime<Utc> = "2026-01-01T00:00:00.123456Z".parse().expect("time");
    let put = |value: &str| SettingsChange::Put { name: "audit_retention_days", value: value.to_owned(), now };
    let record = recorder(Arc::default());
    store.settings.change(put("120"), record.clone()).await.expect("changes");
    let prod = Subscription {
        subscription_id: "0f8fad5b-d9cb-469f-a165-70867728950e".to_owned(),
        display_name: "Production".to_owned(),
        cloud: Cloud::Azure,
        added_at: now,
        added_by: "ana".to_owned(),
    };
    store.settings.change(SettingsChange::AddSubscription(prod.clone()), record.clone()).await.expect("adds");
    refuse_appends.await;
    let refused = |error: StoreError, what: &str| {
        let error = error.to_string();
        assert!(error.contains("refused"), "{what}: refused by the database, not otherwise: {error}");
    };
    refused(store.log.append(samples(0..1)).await.expect_err("an append"), "an append");
    refused(store.settings.change(put("200"), record.clone()).await.expect_err("a setting"), "a setting");
    let dev = Subscription { subscription_id: "7c9e6679-7425-40de-944b-e07fc1f90ae7".to_owned(), ..prod.clone() };
    let add = store.settings.change(SettingsChange::AddSubscription(dev), record.clone());
    refused(add.await.expect_err("an addition"), "an addition");
    let remove =
        store.settings.change(SettingsChange::RemoveSubscription(prod.subscription_id.clone()), record.clone());
    refused(remove.await.expect_err("a removal"), "a removal");
    assert_eq!(
        store.settings.settings().await.expect("reads"),
        [("audit_retention_days".to_owned(), "120".to_owned())]
    );
    assert_eq!(store.settings.subscriptions().await.expect("reads"), vec![prod]);
    assert_eq!(store.log.count(&filter("")).await.expect("counts"), 2);
    // Taken again, a change is made with the next entry of the same chain.
    allow_appends.await;
    let (_, receipt) = store.settings.change(put("200"), record).await.expect("changes");
    assert_eq!(receipt.expect("recorded").sequences, [3]);
    assert!(store.log.verify(None).await.expect("verifies").is_intact());
}

pub async fn subscriptions_are_unique_by_id_listed_by_name_and_removed_once(store: Store) {
    use crate::subscriptions::{Cloud, Subscription};
    let at: DateTime<Utc> = "2026-01-01T00:00:00.123456Z".parse().expect("time");
    let one = |id: &str, name: &str, cloud: Cloud| Subscription {
        subscription_id: id.to_owned(),
        display_name: name.to_owned(),
        cloud,
        added_at: at,
        added_by: "ana".to_owned(),
    };
    let record = recorder(Arc::default());
    let change = |change: SettingsChange| store.settings.change(change, record.clone());
    let add = |s: &Subscription| change(SettingsChange::AddSubscription(s.clone()));
    let remove = |id: &str| change(SettingsChange::RemoveSubscription(id.to_owned()));
    let prod = one("0f8fad5b-d9cb-469f-a165-70867728950e", "Production", Cloud::Azure);
    let dev = one("7c9e6679-7425-40de-944b-e07fc1f90ae7", "Development", Cloud::Gcp);
    assert!(store.settings.subscriptions().await.expect("reads").is_empty());
    assert!(matches!(add(&prod).await.expect("adds"), (SettingsChanged::Added(true), Some(_))));
    assert!(matches!(add(&dev).await.expect("adds"), (SettingsChanged::Added(true), Some(_))));
    let again = one(&prod.subscription_id, "Another name", Cloud::Aws);
    assert_eq!(add(&again).await.expect("answers"), (SettingsChanged::Added(false), None), "an id is added once");
    assert_eq!(store.settings.subscriptions().await.expect("reads"), vec![dev.clone(), prod.clone()]);
    let (removed, receipt) = remove(&prod.subscription_id).await.expect("removes");
    assert_eq!(removed, SettingsChanged::Removed(Some(prod.clone())));
    assert!(receipt.is_some());
    assert_eq!(remove(&prod.subscription_id).await.expect("answers"), (SettingsChanged::Removed(None), None));
    assert_eq!(store.settings.subscriptions().await.expect("reads"), vec![dev.clone()]);
    assert_eq!(store.log.count(&filter("")).await.expect("counts"), 3, "one entry for each change made");
    // A change whose entry cannot be made is not made.
    let failing: RecordChange = Arc::new(|_: &SettingsChanged| Err(StoreError::backend("no entry")));
    let refused = store.settings.change(SettingsChange::RemoveSubscription(dev.subscription_id.clone()), failing);
    refused.await.expect_err("its entry failed");
    assert_eq!(store.settings.subscriptions().await.expect("reads"), vec![dev]);
    assert_eq!(store.log.count(&filter("")).await.expect("counts"), 3);
}

pub async fn destinations_are_unique_by_name_change_by_version_and_go_with_their_cursor(store: Store) {
    use crate::destinations::{DestinationConfig, DestinationKind, HecOptions};
    use crate::store::destinations::Updated;
    use crate::store::StoredDestination;
    let at: DateTime<Utc> = "2026-01-01T00:00:00.123456Z".parse().expect("time");
    let config = DestinationConfig {
        url: Some("https://splunk:8088".into()),
        event_types: vec!["audit.*".into()],
        min_severity: Severity::Info,
        enabled: true,
        hec: HecOptions { index: Some("audit".into()), ..HecOptions::default() },
        headers: Default::default(),
        max_events: 100,
        max_bytes: 1 << 20,
    };
    let new = |name: &str| StoredDestination {
        id: 0,
        name: name.to_owned(),
        kind: DestinationKind::SplunkHec,
        config: config.clone(),
        secret: Some("token-1".into()),
        version: 1,
        created_at: at,
        created_by: "ana".into(),
        updated_at: at,
        updated_by: "ana".into(),
    };
    assert!(store.delivery.destinations().await.expect("reads").is_empty());
    let splunk = store.delivery.create_destination(&new("Splunk"), 7).await.expect("adds").expect("added");
    assert!(splunk.id > 0);
    assert_eq!(StoredDestination { id: splunk.id, ..new("Splunk") }, splunk, "read back as written");
    assert_eq!(store.delivery.delivery_cursor(splunk.id).await.expect("reads"), Some(7));
    assert_eq!(store.delivery.create_destination(&new("SPLUNK"), 0).await.expect("answers"), None, "names ignore case");
    let hook = store.delivery.create_destination(&new("hook"), 0).await.expect("adds").expect("added");
    assert!(hook.id > splunk.id);
    let names: Vec<String> = store.delivery.destinations().await.expect("reads").into_iter().map(|d| d.name).collect();
    assert_eq!(names, vec!["hook", "Splunk"], "by name ignoring case");

    let changed = DestinationConfig { min_severity: Severity::Warning, ..config.clone() };
    let later = at + Duration::seconds(5);
    let Updated::Done(after) = store
        .delivery
        .update_destination(splunk.id, 1, "splunk-prod", &changed, Some("token-2"), later, "bo")
        .await
        .expect("updates")
    else {
        panic!("not updated")
    };
    let after = *after;
    assert_eq!((after.version, after.name.as_str(), after.secret.as_deref()), (2, "splunk-prod", Some("token-2")));
    assert_eq!(
        (after.config.min_severity, after.updated_at, after.updated_by.as_str()),
        (Severity::Warning, later, "bo")
    );
    assert_eq!((after.created_at, after.created_by.as_str()), (at, "ana"));
    let stale =
        store.delivery.update_destination(splunk.id, 1, "x", &config, None, later, "bo").await.expect("answers");
    assert_eq!(stale, Updated::Changed, "a change from an old version is refused");
    let taken =
        store.delivery.update_destination(splunk.id, 2, "HOOK", &config, None, later, "bo").await.expect("answers");
    assert_eq!(taken, Updated::NameTaken);
    assert_eq!(store.delivery.destination(splunk.id).await.expect("reads"), Some(after.clone()), "unchanged");

    let (removed, cursor) = store.delivery.delete_destination(splunk.id).await.expect("deletes").expect("was there");
    assert_eq!((removed, cursor), (after.clone(), 7));
    assert_eq!(store.delivery.delete_destination(splunk.id).await.expect("answers"), None);
    assert_eq!(store.delivery.delivery_cursor(splunk.id).await.expect("reads"), None, "its cursor went with it");
    assert!(store.delivery.restore_destination(&after, 7).await.expect("restores"));
    assert_eq!(store.delivery.destination(splunk.id).await.expect("reads"), Some(after.clone()));
    assert_eq!(store.delivery.delivery_cursor(splunk.id).await.expect("reads"), Some(7));
    assert!(!store.delivery.restore_destination(&after, 7).await.expect("answers"), "already there");
    // Ids are never reused.
    store.delivery.delete_destination(hook.id).await.expect("deletes");
    let third = store.delivery.create_destination(&new("third"), 0).await.expect("adds").expect("added");
    assert!(third.id > hook.id);

    // Entries set aside are skipped until a replay from before them tries them again; one
    // reckoned before a replay (an older epoch) is not set aside.
    let now = Utc::now();
    let epoch = store.delivery.delivery_state(third.id).await.expect("reads").expect("kept").epoch;
    for seq in [3, 6] {
        assert!(store.delivery.park_delivery(third.id, seq, "bad index", epoch, now).await.expect("parks"));
    }
    assert!(!store.delivery.park_delivery(third.id, 6, "again", epoch, now).await.expect("answers"), "once each");
    assert_eq!(store.delivery.parked_deliveries(third.id, 0, 10).await.expect("reads"), [3, 6]);
    assert_eq!(store.delivery.parked_deliveries(third.id, 3, 5).await.expect("reads"), Vec::<u64>::new());
    store.delivery.rewind_delivery(third.id, 9).await.expect("moves");
    assert_eq!(store.delivery.rewind_delivery(third.id, 4).await.expect("moves"), Some(9));
    assert!(!store.delivery.park_delivery(third.id, 7, "late", epoch, now).await.expect("answers"), "an older epoch");
    assert_eq!(store.delivery.retry_parked(third.id, 4).await.expect("forgets"), 1);
    assert_eq!(store.delivery.parked_deliveries(third.id, 0, 10).await.expect("reads"), [3], "6 is tried again");
    let state = store.delivery.delivery_state(third.id).await.expect("reads").expect("kept");
    assert_eq!((state.cursor, state.parked), (4, 1));
}

pub async fn checkpoints_are_kept_once_per_size_and_listed_in_order(store: Store) {
    use crate::integrity::TreeHead;
    use crate::store::StoredCheckpoint;
    assert_eq!(store.tree.latest_checkpoint().await.expect("reads"), None);
    let at: DateTime<Utc> = "2026-01-02T03:04:05.123456Z".parse().expect("time");
    let checkpoint = |size: u64, byte: u8| StoredCheckpoint {
        head: TreeHead { size, root: [byte; 32] },
        signed_at: at + Duration::seconds(size as i64),
        note: format!("note of {size}\n"),
    };
    for size in [5, 1, 9] {
        assert!(store.tree.add_checkpoint(&checkpoint(size, 1)).await.expect("adds"));
    }
    assert!(!store.tree.add_checkpoint(&checkpoint(5, 2)).await.expect("adds"), "one per size");
    assert_eq!(store.tree.latest_checkpoint().await.expect("reads"), Some(checkpoint(9, 1)));
    let after: Vec<u64> =
        store.tree.checkpoints_after(1, 10).await.expect("lists").iter().map(|c| c.head.size).collect();
    assert_eq!(after, vec![5, 9]);
    let first = store.tree.checkpoints_after(0, 1).await.expect("lists");
    assert_eq!(first, vec![checkpoint(1, 1)], "the root and the time read back exactly");
}

pub async fn users_are_unique_by_name_whatever_its_case_and_ids_are_never_reused(store: Store) {
    assert_eq!(store.accounts.highest_user_id().await.expect("reads"), 0, "no user yet");
    let alice = create(&store, "Alice", Role::Admin).await;
    assert_eq!(
        (alice.username.as_str(), alice.display_name.as_str(), alice.role, alice.disabled),
        ("Alice", "Alice Example", Role::Admin, false)
    );
    assert_eq!(alice.created_at, "2026-01-02T03:04:05.678901Z".parse::<DateTime<Utc>>().expect("time"));
    assert_eq!((alice.last_login_at, alice.failed_attempts, alice.locked_until), (None, 0, None));
    let taken = store.accounts.create_user(&new_user("aLICE", Role::Auditor), Utc::now()).await;
    assert!(matches!(&taken, Err(StoreError::Conflict(m)) if m.contains("aLICE")), "{taken:?}");

    let found = store.accounts.user_named("ALICE").await.expect("reads").expect("found whatever the case");
    assert_eq!((&found.user, found.password_hash.as_str()), (&alice, "hash of Alice"));
    assert_eq!(store.accounts.user(alice.id).await.expect("reads"), Some(found));
    assert_eq!(store.accounts.user_named("nobody").await.expect("reads"), None);
    assert_eq!(store.accounts.user(alice.id + 1000).await.expect("reads"), None);

    let bob = create(&store, "bob", Role::Auditor).await;
    let names = |users: Vec<User>| users.into_iter().map(|u| u.username).collect::<Vec<_>>();
    assert_eq!(names(store.accounts.users().await.expect("lists")), ["Alice", "bob"]);
    assert_eq!(store.accounts.delete_user(bob.id).await.expect("deletes"), bob);
    assert_eq!(names(store.accounts.users().await.expect("lists")), ["Alice"]);
    assert!(matches!(store.accounts.delete_user(bob.id).await, Err(StoreError::NotFound(_))));
    let bob_again = create(&store, "bob", Role::Auditor).await;
    assert!(bob_again.id > bob.id, "a deleted user's id is not given again");
    store.accounts.delete_user(bob_again.id).await.expect("deletes");
    assert_eq!(store.accounts.highest_user_id().await.expect("reads"), bob_again.id, "deleted ones count");
}

pub async fn updates_answer_the_user_before_and_after(store: Store) {
    let alice = create(&store, "alice", Role::Admin).await;
    let bob = create(&store, "bob", Role::Admin).await;
    let update = UserUpdate {
        display_name: Some("Robert".into()),
        role: Some(Role::Auditor),
        password_hash: Some("new hash".into()),
        ..UserUpdate::default()
    };
    let (before, after) = store.accounts.update_user(bob.id, &update).await.expect("updates");
    assert_eq!(before, bob);
    assert_eq!((after.display_name.as_str(), after.role, after.disabled), ("Robert", Role::Auditor, false));
    let stored = store.accounts.user(bob.id).await.expect("reads").expect("found");
    assert_eq!((stored.user, stored.password_hash.as_str()), (after, "new hash"));

    // Nothing asked, nothing changed.
    let (before, after) = store.accounts.update_user(alice.id, &UserUpdate::default()).await.expect("updates");
    assert_eq!((&before, &after), (&alice, &alice));
    let unlock = UserUpdate { unlock: true, ..UserUpdate::default() };
    assert_eq!(store.accounts.update_user(alice.id, &unlock).await.expect("updates").1, alice);
    let missing = store.accounts.update_user(bob.id + 1000, &update).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
}

pub async fn the_last_active_admin_is_never_demoted_disabled_or_deleted(store: Store) {
    let alice = create(&store, "alice", Role::Admin).await;
    fn last<T>(r: Result<T, StoreError>) -> bool {
        matches!(r, Err(StoreError::Conflict(m)) if m.contains("last active admin"))
    }
    assert!(last(store.accounts.update_user(alice.id, &change(Some(Role::Auditor), None)).await));
    assert!(last(store.accounts.update_user(alice.id, &change(None, Some(true))).await));
    assert!(last(store.accounts.delete_user(alice.id).await));
    assert_eq!(store.accounts.user(alice.id).await.expect("reads").expect("kept").user, alice, "nothing changed");

    // A disabled admin is not one that keeps the product administrable.
    let carol = create(&store, "carol", Role::Admin).await;
    store.accounts.update_user(carol.id, &change(None, Some(true))).await.expect("another admin remains");
    assert!(last(store.accounts.update_user(alice.id, &change(Some(Role::Auditor), None)).await));
    store.accounts.update_user(carol.id, &change(None, Some(false))).await.expect("enabled again");
    store.accounts.update_user(alice.id, &change(Some(Role::Auditor), None)).await.expect("carol remains");
    assert!(last(store.accounts.delete_user(carol.id).await));
    // Changes that keep an admin active pass, and auditors come and go.
    store.accounts.update_user(carol.id, &UserUpdate { unlock: true, ..UserUpdate::default() }).await.expect("ok");
    store.accounts.delete_user(alice.id).await.expect("an auditor may be deleted");
}

pub async fn two_admins_demoting_each_other_at_once_leave_one_admin(store: Store) {
    let alice = create(&store, "alice", Role::Admin).await;
    let bob = create(&store, "bob", Role::Admin).await;
    for round in 0..5 {
        let demote = change(Some(Role::Auditor), None);
        let (a, b) =
            tokio::join!(store.accounts.update_user(alice.id, &demote), store.accounts.update_user(bob.id, &demote));
        assert!(a.is_ok() != b.is_ok(), "round {round}: exactly one demotion passes: {a:?} {b:?}");
        let admins = store.accounts.users().await.expect("lists").into_iter().filter(User::is_active_admin).count();
        assert_eq!(admins, 1, "round {round}");
        let demoted = if a.is_ok() { alice.id } else { bob.id };
        store.accounts.update_user(demoted, &change(Some(Role::Admin), None)).await.expect("promoted again");
    }
}

pub async fn failed_sign_ins_lock_and_a_success_forgets_them(store: Store) {
    let bob = create(&store, "bob", Role::Auditor).await;
    let lockout = Lockout::default();
    let t0: DateTime<Utc> = "2026-02-01T10:00:00Z".parse().expect("time");
    for attempt in 1..=4 {
        let (after, locks) =
            store.accounts.sign_in_failed(bob.id, t0 + Duration::minutes(attempt), &lockout).await.expect("counts");
        assert_eq!((after.failed_attempts, after.locked_until, locks), (attempt as u32, None, false));
    }
    let (locked, locks) =
        store.accounts.sign_in_failed(bob.id, t0 + Duration::minutes(5), &lockout).await.expect("counts");
    assert_eq!((locked.failed_attempts, locked.locked_until, locks), (5, Some(t0 + Duration::minutes(20)), true));
    let stored = store.accounts.user(bob.id).await.expect("reads").expect("found");
    assert_eq!((stored.user, stored.failures_since), (locked.clone(), Some(t0 + Duration::minutes(1))));
    let again = store.accounts.sign_in_failed(bob.id, t0 + Duration::minutes(6), &lockout).await.expect("counts");
    assert_eq!(again, (locked, false), "failures while locked change nothing, and do not lock it again");
    let during = store.accounts.signed_in(bob.id, t0 + Duration::minutes(7)).await.expect("checks");
    assert_eq!(during, None, "a locked account does not sign in, whatever password was checked");

    let signed_in = store.accounts.signed_in(bob.id, t0 + Duration::minutes(30)).await.expect("records").expect("open");
    assert_eq!(
        (signed_in.failed_attempts, signed_in.locked_until, signed_in.last_login_at),
        (0, None, Some(t0 + Duration::minutes(30)))
    );
    store.accounts.sign_in_failed(bob.id, t0 + Duration::minutes(31), &lockout).await.expect("counts");
    let unlock = UserUpdate { unlock: true, ..UserUpdate::default() };
    let (_, after) = store.accounts.update_user(bob.id, &unlock).await.expect("unlocks");
    store.accounts.update_user(bob.id, &change(None, Some(true))).await.expect("disables");
    assert_eq!(store.accounts.signed_in(bob.id, t0 + Duration::minutes(40)).await.expect("checks"), None);
    assert_eq!(after.failed_attempts, 0);
    assert_eq!(store.accounts.user(bob.id).await.expect("reads").expect("found").failures_since, None);
    let missing = store.accounts.sign_in_failed(bob.id + 1000, t0, &lockout).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
}

fn new_session<'a>(hash: &'a [u8], user: &User, now: DateTime<Utc>) -> NewSession<'a> {
    NewSession { token_hash: hash, user_id: user.id, now, ip_address: Some("192.0.2.7"), user_agent: Some("Firefox") }
}

pub async fn sessions_are_found_by_hash_touched_and_ended_once(store: Store) {
    let bob = create(&store, "bob", Role::Auditor).await;
    let t0: DateTime<Utc> = "2026-02-01T10:00:00Z".parse().expect("time");
    let hash = [7u8; 32];
    store.sessions.create_session(&new_session(&hash, &bob, t0)).await.expect("creates");
    let session = store.sessions.session(&hash).await.expect("reads").expect("found");
    assert_eq!((session.user, session.created_at, session.last_seen_at), (bob.clone(), t0, t0));
    assert_eq!((session.ip_address.as_deref(), session.user_agent.as_deref()), (Some("192.0.2.7"), Some("Firefox")));
    assert_eq!(store.sessions.session(&[8u8; 32]).await.expect("reads"), None);

    store.sessions.touch_session(&hash, t0 + Duration::minutes(5)).await.expect("touches");
    store.sessions.touch_session(&hash, t0 + Duration::minutes(1)).await.expect("touches");
    let seen = store.sessions.session(&hash).await.expect("reads").expect("found").last_seen_at;
    assert_eq!(seen, t0 + Duration::minutes(5), "a session's last use never moves back");

    let (a, b) = tokio::join!(store.sessions.end_session(&hash), store.sessions.end_session(&hash));
    let ended: Vec<_> = [a.expect("ends"), b.expect("ends")].into_iter().flatten().collect();
    assert_eq!(ended.len(), 1, "one caller ends it, and records it");
    assert_eq!(ended[0].user, bob);
    assert_eq!(store.sessions.session(&hash).await.expect("reads"), None);
}

pub async fn expired_sessions_end_and_users_disabled_deleted_or_reset_lose_theirs(store: Store) {
    let alice = create(&store, "alice", Role::Admin).await;
    let bob = create(&store, "bob", Role::Auditor).await;
    let carol = create(&store, "carol", Role::Auditor).await;
    let t0: DateTime<Utc> = "2026-02-01T10:00:00Z".parse().expect("time");
    let minutes = |m| t0 + Duration::minutes(m);
    store.sessions.create_session(&new_session(&[1; 32], &alice, t0)).await.expect("creates");
    store.sessions.touch_session(&[1; 32], minutes(20)).await.expect("touches");
    store.sessions.create_session(&new_session(&[2; 32], &bob, t0)).await.expect("creates");
    store.sessions.create_session(&new_session(&[3; 32], &carol, t0 - Duration::hours(13))).await.expect("creates");
    store.sessions.touch_session(&[3; 32], minutes(25)).await.expect("touches");

    // Idle since before t0 + 10 min (bob's) or begun before t0 - 12 h (carol's).
    let ended = store.sessions.end_expired_sessions(minutes(10), t0 - Duration::hours(12)).await.expect("ends");
    let mut names: Vec<&str> = ended.iter().map(|s| s.user.username.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["bob", "carol"]);
    assert!(store.sessions.session(&[1; 32]).await.expect("reads").is_some(), "alice's is in use");
    assert!(store.sessions.end_expired_sessions(minutes(10), t0 - Duration::hours(12)).await.expect("ends").is_empty());

    store.sessions.create_session(&new_session(&[4; 32], &bob, t0)).await.expect("creates");
    store.accounts.update_user(bob.id, &change(None, Some(true))).await.expect("disables");
    assert_eq!(store.sessions.session(&[4; 32]).await.expect("reads"), None, "disabling ends the sessions");
    store.sessions.create_session(&new_session(&[7; 32], &alice, t0)).await.expect("creates");
    store.accounts.update_user(alice.id, &change(Some(Role::Admin), None)).await.expect("changes nothing");
    assert!(store.sessions.session(&[7; 32]).await.expect("reads").is_some(), "a change of nothing ends nothing");
    let reset = UserUpdate { password_hash: Some("new-hash".into()), ..UserUpdate::default() };
    store.accounts.update_user(alice.id, &reset).await.expect("resets");
    assert_eq!(store.sessions.session(&[7; 32]).await.expect("reads"), None, "a new password ends the sessions");
    store.sessions.create_session(&new_session(&[5; 32], &carol, t0)).await.expect("creates");
    store.accounts.delete_user(carol.id).await.expect("deletes");
    assert_eq!(store.sessions.session(&[5; 32]).await.expect("reads"), None, "deleting ends the sessions");
    let unknown = store.sessions.create_session(&new_session(&[6; 32], &carol, t0)).await;
    assert!(unknown.is_err(), "no session for a user who does not exist");
}

pub async fn tokens_are_found_by_hash_and_names_are_unique(store: Store) {
    let made = store.tokens.create_token("splunk", &[Scope::Read, Scope::Ingest], &[7; 32]).await.expect("creates");
    assert_eq!((made.name.as_str(), made.scopes.as_slice()), ("splunk", &[Scope::Read, Scope::Ingest][..]));
    let found = store.tokens.find_token(&[7; 32]).await.expect("finds");
    assert_eq!(found.as_ref(), Some(&made));
    assert_eq!(store.tokens.find_token(&[8; 32]).await.expect("finds"), None);
    let again = store.tokens.create_token("splunk", &[Scope::Read], &[9; 32]).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let other = store.tokens.create_token("ingest", &[Scope::Ingest], &[9; 32]).await.expect("creates");
    assert_ne!(other.id, made.id, "ids are unique");

    let all = store.tokens.all_tokens().await.expect("lists");
    let listed: Vec<(TokenRecord, &[u8])> = all.iter().map(|t| (t.info.record(), t.token_hash.as_slice())).collect();
    assert_eq!(listed, vec![(made, &[7; 32][..]), (other, &[9; 32][..])], "oldest first, with their hashes");
    let now = chrono::Utc::now();
    assert!(all.iter().all(|t| (now - Duration::seconds(60)..=now).contains(&t.info.created_at)), "{all:?}");
}

pub async fn tokens_expire_are_revoked_at_once_and_note_their_use(store: Store) {
    let now = chrono::Utc::now();
    let second = |t: chrono::DateTime<chrono::Utc>| chrono::DateTime::from_timestamp(t.timestamp(), 0).expect("time");
    let new = |name, hash, expires_at| NewToken {
        name,
        scopes: &[Scope::Read],
        token_hash: hash,
        created_by: Some("ana"),
        expires_at,
        now,
    };
    let lasting =
        store.tokens.issue_token(&new("lasting", &[1; 32], Some(now + Duration::days(30)))).await.expect("issues");
    assert_eq!(lasting.created_by.as_deref(), Some("ana"));
    assert_eq!(lasting.expires_at, Some(second(now + Duration::days(30))), "kept to the second");
    assert_eq!((lasting.created_at, lasting.last_used_at), (second(now), None));
    let expired =
        store.tokens.issue_token(&new("expired", &[2; 32], Some(now - Duration::seconds(1)))).await.expect("issues");
    assert!(expired.expired(now));
    assert_eq!(store.tokens.find_token(&[1; 32]).await.expect("finds"), Some(lasting.record()));
    assert_eq!(store.tokens.find_token(&[2; 32]).await.expect("finds"), None, "an expired token is no token");

    store.tokens.token_used(lasting.id, now).await.expect("notes");
    // An older use noted late does not move "last used" back.
    store.tokens.token_used(lasting.id, now - Duration::minutes(5)).await.expect("notes");
    let all = store.tokens.all_tokens().await.expect("lists");
    assert_eq!(all[0].info.last_used_at, Some(second(now)));
    assert_eq!(all[1].info, expired, "listed with its expiry, for the page to show");

    let revoked = store.tokens.revoke_token(lasting.id).await.expect("revokes");
    assert_eq!(revoked.name, "lasting");
    assert_eq!(store.tokens.find_token(&[1; 32]).await.expect("finds"), None, "revoked: refused at once");
    let again = store.tokens.revoke_token(lasting.id).await;
    assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");
    // The name is free again; an id is never given twice, not even the newest one's
    // (the actor `token-N` of the log must name one token).
    store.tokens.revoke_token(expired.id).await.expect("revokes the newest");
    let reissued = store.tokens.issue_token(&new("lasting", &[3; 32], None)).await.expect("issues");
    assert!(reissued.id > expired.id, "{} after {}", reissued.id, expired.id);
}

pub async fn concurrent_appends_never_fork_the_chain(store: Store) {
    let mut tasks = Vec::new();
    for producer in 0..8 {
        let log = store.log.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..10 {
                let first = producer * 1000 + round * 10;
                let size = 1 + (round % 3) as usize;
                log.append(samples(first..first + size as i64)).await.expect("appends");
            }
        }));
    }
    for task in tasks {
        task.await.expect("producer");
    }
    let report = store.log.verify(None).await.expect("verifies");
    assert!(report.is_intact(), "{:?}", report.problems);
    let per_producer: u64 = (0..10).map(|round| 1 + round % 3).sum();
    assert_eq!(report.entries, 8 * per_producer);
}

/// Appends that arrive together share commits (group commit), and each caller is answered
/// with its own entries.
pub async fn concurrent_appends_share_commits_and_each_gets_its_own_entries(store: Store) {
    let mut tasks = Vec::new();
    for producer in 0..8 {
        let log = store.log.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut last = 0;
            for i in 0..25 {
                // One to three entries an append, so that a group splits unevenly.
                let entries: Vec<_> = (0..1 + i % 3).map(|k| sample(producer * 1000 + i * 10 + k)).collect();
                let described: Vec<String> = entries.iter().map(|e| e.description.clone()).collect();
                let receipt = log.append(entries).await.expect("appends");
                let sequences = receipt.sequences.clone();
                assert_eq!(sequences.len(), described.len());
                assert!(sequences.windows(2).all(|w| w[1] == w[0] + 1), "one append's entries are consecutive");
                assert!(sequences[0] > last, "a producer's appends keep their order");
                last = *sequences.last().expect("one");
                for (k, (seq, description)) in sequences.iter().zip(described).enumerate() {
                    let head = (k + 1 == sequences.len()).then(|| receipt.head_hash.clone());
                    mine.push((*seq, description, head));
                }
            }
            mine
        }));
    }
    let mut seen = std::collections::HashSet::new();
    for task in tasks {
        for (seq, description, head) in task.await.expect("producer") {
            assert!(seen.insert(seq), "sequence {seq} given twice");
            let stored = store.log.get(seq).await.expect("reads").expect("stored");
            assert_eq!(stored.description, description, "each caller got its own entries");
            if let Some(head) = head {
                assert_eq!(stored.hash, head, "an append's head is the hash of its last entry");
            }
        }
    }
    // 8 producers × 25 appends of 1, 2 or 3 entries.
    let entries = 8 * (9 + 8 * 2 + 8 * 3);
    assert_eq!(seen.len(), entries);
    let commits = store.maintenance.commits();
    assert!(commits < 200, "200 appends from 8 producers took {commits} commits: none were grouped");
    assert_eq!(store.maintenance.append_phases().entries, entries as u64, "every entry is counted in its commit");
    assert!(store.log.verify(None).await.expect("verifies").is_intact());
}

pub async fn unknown_entries_are_none_and_empty_appends_write_nothing(store: Store) {
    assert!(store.log.get(1).await.expect("reads").is_none());
    let receipt = store.log.append(Vec::new()).await.expect("nothing to do");
    assert!(receipt.sequences.is_empty());
    store.log.append(samples(0..2)).await.expect("appends");
    assert!(store.log.get(3).await.expect("reads").is_none());
    assert!(store.log.get(u64::MAX).await.expect("reads").is_none());
    assert_eq!(store.log.count(&filter("")).await.expect("counts"), 2);
    store.maintenance.ping().await.expect("answers");
    store.maintenance.optimize().await.expect("statistics");
}
