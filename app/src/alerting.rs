//! Watching the log for the alert rules: every entry, in sequence order, is counted against
//! the enabled rules it matches ([`Evaluator`]); a rule whose threshold is reached (or any
//! match, for a rule without one) raises an `alert.triggered` entry naming the rule, the
//! matching entries and their count, the window and the destinations to tell, then stays
//! quiet for its cooldown, and at least for its window: a threshold rule fires once per
//! window for a group however many more matches the window holds. Delivery takes the alert
//! to those destinations like any entry.
//!
//! The evaluator's cursor is in the store, moved after the alerts of what it read are
//! recorded. On start it counts again the entries of the last window before its cursor,
//! takes the quiet periods from the alerts recorded, and only counts (never alerts for)
//! the entries up to the last one an alert recorded was raised by: a restart, even
//! `kill -9` between recording alerts and moving the cursor, neither misses a threshold
//! crossed across it nor alerts twice for one.

use crate::alert_rules::AlertRule;
use crate::audit::service::pull;
use crate::entry::AuditEntry;
use crate::filter::{EntryFilter, EventTypeMatch, PageRequest};
use crate::internal_event::{system_actor, InternalEvent};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use tokio::sync::watch;

pub const TRIGGERED: &str = "alert.triggered";
/// The job's name, for its lead and its cursor.
pub const JOB: &str = "alerts";
/// Entry ids an alert names at most.
const NAMED: usize = 20;
/// On start, the entries before the cursor are read back this many at a time...
const CHUNK: u32 = 2_000;
/// ...at most this many (the newest; a window this busy is counted from there)...
const RECOUNT_SCAN: u64 = 1_000_000;
/// ...keeping at most this many that a threshold rule counts.
const RECOUNT_KEEP: usize = 50_000;
/// Alerts read on start for their quiet periods at most (the newest).
const RECALL: u64 = 20_000;

/// An alert to raise.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    pub rule: AlertRule,
    pub group: String,
    pub count: usize,
    pub entry_ids: Vec<String>,
    /// When the first match counted was received (the window's start), and when the one
    /// that completed it was (its end).
    pub window_start: DateTime<Utc>,
    pub at: DateTime<Utc>,
    /// The sequence number of the entry that completed it.
    pub sequence: u64,
    /// Until when the rule stays quiet for this group.
    pub quiet_until: DateTime<Utc>,
}

/// A rule and a group of it (a username, say): what is counted apart.
type Key = (i64, String);
/// The matches in a window: when each counted, and its entry id.
type Window = VecDeque<(DateTime<Utc>, String)>;

/// The counts of each rule's open windows and when each rule (and group) may alert again.
#[derive(Default)]
pub struct Evaluator {
    windows: HashMap<Key, Window>,
    quiet_until: HashMap<Key, DateTime<Utc>>,
}

/// When an entry counts: when it was received (entries are numbered as they are received,
/// so windows move forward with the log).
fn moment(entry: &AuditEntry) -> DateTime<Utc> {
    entry.received_at.unwrap_or(entry.timestamp)
}

impl Evaluator {
    /// Counts `entry` against `rules`; the alerts it raises (none when `counting_only`: the
    /// window before a restart, whose alerts were raised then).
    pub fn observe(&mut self, rules: &[AlertRule], entry: &AuditEntry, counting_only: bool) -> Vec<Firing> {
        let at = moment(entry);
        let mut out = Vec::new();
        for rule in rules.iter().filter(|r| r.config.matches(entry)) {
            let key = (rule.id, rule.config.group_of(entry));
            let quiet = self.quiet_until.get(&key).is_some_and(|until| at < *until);
            let (count, ids, window_start) = match &rule.config.threshold {
                None => (1, vec![entry.id.clone()], at),
                Some(t) => {
                    let window = self.windows.entry(key.clone()).or_default();
                    window.push_back((at, entry.id.clone()));
                    let start = at - Duration::seconds(i64::from(t.window_seconds));
                    while window.front().is_some_and(|(when, _)| *when <= start) {
                        window.pop_front();
                    }
                    if window.len() < t.count as usize {
                        continue;
                    }
                    let ids = window.iter().rev().take(NAMED).map(|(_, id)| id.clone()).collect::<Vec<_>>();
                    let count = window.len();
                    let start = window.front().map_or(at, |(when, _)| *when);
                    window.clear();
                    (count, ids.into_iter().rev().collect(), start)
                }
            };
            if quiet || counting_only {
                continue;
            }
            let quiet_until = at + Duration::seconds(i64::from(rule.config.quiet_seconds()));
            self.quiet_until.insert(key.clone(), quiet_until);
            out.push(Firing {
                rule: rule.clone(),
                group: key.1,
                count,
                entry_ids: ids,
                window_start,
                at,
                sequence: entry.sequence,
                quiet_until,
            });
        }
        out
    }

    /// Forgets windows with nothing left in them by `now` and cooldowns that are over, so
    /// that memory follows the groups active lately, not every username ever tried.
    pub fn prune(&mut self, rules: &[AlertRule], now: DateTime<Utc>) {
        let longest = rules.iter().filter_map(|r| r.config.threshold.as_ref()).map(|t| t.window_seconds).max();
        let start = now - Duration::seconds(i64::from(longest.unwrap_or(0)));
        self.windows.retain(|_, window| {
            while window.front().is_some_and(|(when, _)| *when <= start) {
                window.pop_front();
            }
            !window.is_empty()
        });
        self.quiet_until.retain(|_, until| *until > now);
    }

    /// How many groups are remembered (windows and cooldowns).
    pub fn remembered(&self) -> usize {
        self.windows.len() + self.quiet_until.len()
    }

    /// An alert already recorded: the rule (and group) stays quiet until its cooldown ends.
    pub fn remember(&mut self, rule: i64, group: &str, until: DateTime<Utc>) {
        let slot = self.quiet_until.entry((rule, group.to_owned())).or_insert(until);
        *slot = (*slot).max(until);
    }
}

/// The `alert.triggered` entry of a firing.
pub fn alert(firing: &Firing) -> Result<crate::ingest::ValidEntry, crate::internal_event::EventError> {
    let rule = &firing.rule;
    let window = rule.config.threshold.as_ref().map(|t| t.window_seconds);
    let group_by = rule.config.threshold.as_ref().and_then(|t| t.group_by.clone());
    InternalEvent::new(TRIGGERED)?
        .actor(system_actor())
        .detail("rule_id", rule.id)
        .detail("rule_name", rule.name.as_str())
        .detail("count", firing.count)
        .detail("window_seconds", json!(window))
        .detail("group_by", json!(group_by))
        .detail("group_value", firing.group.as_str())
        .detail("entry_ids", json!(firing.entry_ids))
        .detail("first_entry_id", json!(firing.entry_ids.first()))
        .detail("last_entry_id", json!(firing.entry_ids.last()))
        .detail("window_start", firing.window_start.to_rfc3339_opts(SecondsFormat::Micros, true))
        .detail("window_end", firing.at.to_rfc3339_opts(SecondsFormat::Micros, true))
        .detail("cooldown_seconds", rule.config.cooldown_seconds)
        .detail("quiet_until", firing.quiet_until.to_rfc3339_opts(SecondsFormat::Micros, true))
        .detail("through_sequence", firing.sequence)
        .detail("destination_ids", json!(rule.config.destinations))
        .build(firing.at.max(Utc::now()))
}

/// Whether `entry` is an alert addressed to destination `id`.
pub fn addressed_to(entry: &AuditEntry, id: i64) -> bool {
    entry.event_type == TRIGGERED
        && entry
            .details
            .get("destination_ids")
            .and_then(|ids| ids.as_array())
            .is_some_and(|ids| ids.contains(&json!(id)))
}

/// Where the evaluator stands: its cursor, its counts, and the last entry an alert was
/// raised by before it started (entries up to it are only counted again).
struct Running {
    cursor: u64,
    evaluator: Evaluator,
    alerted_through: u64,
}

/// Takes up where the cursor is: the quiet periods of the alerts recorded, and the counts
/// of the last window before the cursor (as it stood when the cursor's entry came in).
async fn resume(store: &Store, rules: &[AlertRule], cursor: u64) -> Result<Running, StoreError> {
    let now = Utc::now();
    let longest = |f: &dyn Fn(&AlertRule) -> u32| rules.iter().map(f).max().unwrap_or(0);
    let window =
        Duration::seconds(i64::from(longest(&|r| r.config.threshold.as_ref().map_or(0, |t| t.window_seconds))));
    let quiet = Duration::seconds(i64::from(longest(&|r| r.config.quiet_seconds())));
    let anchor = match cursor {
        0 => None,
        _ => store.log.get(cursor).await?.map(|e| moment(&e)),
    }
    .unwrap_or(now);
    let alerts = |start: Option<DateTime<Utc>>| EntryFilter {
        event_types: vec![EventTypeMatch::Exact(TRIGGERED.into())],
        start,
        ..EntryFilter::default()
    };
    // The newest alert, however old: raised by an entry past the cursor, it was recorded by
    // a run stopped before it could move the cursor (alerts are appended in one batch, the
    // newest raised by the latest entry).
    let newest = store.log.list(&alerts(None), PageRequest { limit: 1, offset: 0 }).await?.entries;
    let alerted_through = newest.first().and_then(|e| e.details["through_sequence"].as_u64()).unwrap_or(0);
    let mut evaluator = Evaluator::default();
    // An alert is recorded after the entry that raised it, so those that can still keep a
    // rule quiet were recorded within the longest quiet period before the cursor's entry.
    let recent = alerts(Some(anchor.min(now) - quiet - Duration::minutes(1)));
    let mut offset = 0;
    while offset < RECALL {
        let page = store.log.list(&recent, PageRequest { limit: 1000, offset }).await?.entries;
        for entry in &page {
            let Some(rule) = entry.details["rule_id"].as_i64() else { continue };
            let until = entry.details["quiet_until"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
                // Alerts recorded before `quiet_until` was: their cooldown from when they were.
                .or_else(|| Some(moment(entry) + Duration::seconds(entry.details["cooldown_seconds"].as_i64()?)));
            if let Some(until) = until {
                evaluator.remember(rule, entry.details["group_value"].as_str().unwrap_or_default(), until);
            }
        }
        if page.len() < 1000 {
            break;
        }
        offset += 1000;
    }
    if window > Duration::zero() {
        for entry in &window_before(store, rules, cursor, anchor - window).await? {
            evaluator.observe(rules, entry, true);
        }
    }
    Ok(Running { cursor, evaluator, alerted_through })
}

/// The entries up to `cursor` received after `from` that a threshold rule counts, oldest
/// first: read back from the cursor by sequence (entries are numbered as they are received;
/// their own time may be anything a client sent).
async fn window_before(
    store: &Store,
    rules: &[AlertRule],
    cursor: u64,
    from: DateTime<Utc>,
) -> Result<Vec<AuditEntry>, StoreError> {
    let counted = |e: &AuditEntry| rules.iter().any(|r| r.config.threshold.is_some() && r.config.matches(e));
    let mut kept = Vec::new();
    let mut upper = cursor;
    while upper > 0 && cursor - upper < RECOUNT_SCAN && kept.len() < RECOUNT_KEEP {
        let lower = upper.saturating_sub(u64::from(CHUNK));
        let chunk = store.log.entries_after(lower, CHUNK).await?;
        let chunk: Vec<AuditEntry> = chunk.into_iter().filter(|e| e.sequence <= upper).collect();
        let before_window = chunk.first().is_none_or(|e| moment(e) <= from);
        kept.extend(chunk.into_iter().filter(|e| moment(e) > from && counted(e)));
        if before_window {
            break;
        }
        upper = lower;
    }
    kept.sort_by_key(|e| e.sequence);
    Ok(kept)
}

/// How often the evaluator looks without being woken.
const POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Evaluates the rules over the log as it grows, on the instance that leads `alerts`,
/// until `stop` turns true.
pub async fn run(store: Store, mut stop: watch::Receiver<bool>) {
    let mut head = store.log.watch_head();
    let mut state: Option<Running> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let idle = match step(&store, &mut state).await {
            Ok(idle) => idle,
            Err(e) => {
                tracing::warn!(error = %e, "alert rules cannot be evaluated now; tried again shortly");
                state = None;
                true
            }
        };
        if idle {
            tokio::select! {
                // Appends come in bursts: gather them rather than read once per commit.
                _ = head.changed() => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                () = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// One round: whether there was nothing new.
async fn step(store: &Store, state: &mut Option<Running>) -> Result<bool, StoreError> {
    if !store.maintenance.lead(JOB).await? {
        *state = None;
        return Ok(true);
    }
    let rules: Vec<AlertRule> = store.alerts.rules().await?.into_iter().filter(|r| r.config.enabled).collect();
    let running = match state {
        Some(running) => running,
        None => {
            let cursor = match store.alerts.job_cursor(JOB).await? {
                Some(cursor) => cursor,
                // The first start: from now on, not the history.
                None => {
                    let head = store.tree.tree_size().await?;
                    store.alerts.move_job_cursor(JOB, None, head).await?;
                    head
                }
            };
            state.insert(resume(store, &rules, cursor).await?)
        }
    };
    let cursor = running.cursor;
    let page = pull(store.log.as_ref(), &EntryFilter::default(), cursor, 500).await?;
    let next = page.next.unwrap_or(cursor);
    if next == cursor {
        return Ok(true);
    }
    let mut alerts = Vec::new();
    for entry in &page.entries {
        // Alerts for these were recorded before a restart that came before the cursor moved.
        let counting_only = entry.sequence <= running.alerted_through;
        for firing in running.evaluator.observe(&rules, entry, counting_only) {
            alerts.push(alert(&firing).map_err(|e| StoreError::backend(format!("an alert: {e}")))?);
        }
    }
    if let Some(last) = page.entries.last() {
        running.evaluator.prune(&rules, moment(last));
    }
    if !alerts.is_empty() {
        let raised = alerts.len();
        store.log.append(alerts).await?;
        tracing::info!(alerts = raised, "alert rules fired");
    }
    if !store.alerts.move_job_cursor(JOB, Some(cursor), next).await? {
        // Another instance moved it: start again from where it is.
        *state = None;
        return Ok(false);
    }
    running.cursor = next;
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert_rules::{RuleConfig, Threshold};
    use crate::entry::{Actor, ActorType, Severity};

    fn rule(cooldown: u32) -> AlertRule {
        AlertRule {
            id: 1,
            name: "Failed sign-ins".into(),
            config: RuleConfig {
                event_types: vec!["auth.login.failed".into()],
                min_severity: Severity::Info,
                actor: None,
                resource: None,
                threshold: Some(Threshold { count: 5, window_seconds: 600, group_by: Some("details.username".into()) }),
                cooldown_seconds: cooldown,
                destinations: vec![7],
                enabled: true,
            },
            builtin: true,
            created_at: Utc::now(),
            created_by: "system".into(),
            updated_at: Utc::now(),
            updated_by: "system".into(),
            version: 1,
        }
    }

    fn failed(n: u64, user: &str, minute: i64) -> AuditEntry {
        let at: DateTime<Utc> =
            "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().expect("time") + Duration::minutes(minute);
        AuditEntry {
            id: format!("audit-{n}"),
            sequence: n,
            timestamp: at,
            received_at: Some(at),
            event_type: "auth.login.failed".into(),
            severity: Severity::Warning,
            actor: Actor { kind: ActorType::User, id: "anon".into(), name: "anonymous".into() },
            resource: None,
            description: "failed".into(),
            details: json!({"username": user}).as_object().cloned().unwrap_or_default(),
            ip_address: None,
            user_agent: None,
            ingested_by: None,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn five_failures_for_one_username_in_ten_minutes_fire_once_per_window() {
        let rules = [rule(600)];
        let mut e = Evaluator::default();
        let mut fired = Vec::new();
        // ana: 5 in 8 minutes (fires at the fifth), then 3 more within the cooldown.
        for (n, minute) in (1..=8).zip([0, 2, 4, 6, 8, 9, 10, 11]) {
            fired.extend(e.observe(&rules, &failed(n, "ana", minute), false));
        }
        // bo: 4 only.
        for n in 20..24 {
            fired.extend(e.observe(&rules, &failed(n, "bo", 1), false));
        }
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!((fired[0].group.as_str(), fired[0].count), ("ana", 5));
        assert_eq!(fired[0].entry_ids, ["audit-1", "audit-2", "audit-3", "audit-4", "audit-5"]);
        // After the cooldown (fired at minute 8, quiet to 18), five more in a new window alert again.
        for (n, minute) in (30..).zip([19, 20, 21, 22, 23]) {
            fired.extend(e.observe(&rules, &failed(n, "ana", minute), false));
        }
        assert_eq!(fired.len(), 2);
    }

    #[test]
    fn matches_spread_wider_than_the_window_never_fire_and_counting_alone_never_alerts() {
        let rules = [rule(0)];
        let mut e = Evaluator::default();
        let fired: Vec<Firing> =
            (1..=10).flat_map(|n| e.observe(&rules, &failed(n, "ana", n as i64 * 3), false)).collect();
        assert!(fired.is_empty(), "at most 4 within any 10 minutes");
        // Four counted again after a restart: the fifth, after it, completes the window.
        let mut e = Evaluator::default();
        let counted: Vec<Firing> = (1..=4).flat_map(|n| e.observe(&rules, &failed(n, "ana", 0), true)).collect();
        assert!(counted.is_empty());
        assert_eq!(e.observe(&rules, &failed(5, "ana", 1), false).len(), 1);
    }

    #[test]
    fn groups_no_longer_active_are_forgotten() {
        let rules = [rule(60)];
        let mut e = Evaluator::default();
        for n in 0..1000 {
            e.observe(&rules, &failed(n, &format!("user-{n}"), 0), false);
        }
        assert_eq!(e.remembered(), 1000, "one window per username tried");
        let later: DateTime<Utc> = "2026-01-01T00:11:00Z".parse().expect("time");
        e.prune(&rules, later);
        assert_eq!(e.remembered(), 0, "ten minutes on, nothing is left to count");
    }

    #[test]
    fn an_alert_remembered_keeps_its_rule_quiet_and_alerts_are_addressed() {
        let rules = [rule(600)];
        let mut e = Evaluator::default();
        let at: DateTime<Utc> = "2026-01-01T00:30:00Z".parse().expect("time");
        e.remember(1, "ana", at);
        let fired: Vec<Firing> = (1..=5).flat_map(|n| e.observe(&rules, &failed(n, "ana", 20), false)).collect();
        assert!(fired.is_empty(), "quiet until 00:30");
        let firing = e.observe(&rules, &failed(9, "bo", 20), false);
        assert!(firing.is_empty());
        let entry = alert(&Firing {
            rule: rules[0].clone(),
            group: "ana".into(),
            count: 5,
            entry_ids: vec!["audit-1".into()],
            window_start: at - Duration::minutes(4),
            at,
            sequence: 9,
            quiet_until: at + Duration::minutes(10),
        })
        .expect("an alert");
        assert_eq!(entry.event_type, TRIGGERED);
        assert_eq!(entry.details["destination_ids"], json!([7]));
        assert_eq!(entry.details["rule_name"], "Failed sign-ins");
        assert_eq!(entry.details["window_start"], "2026-01-01T00:26:00.000000Z");
        assert_eq!(entry.details["window_end"], "2026-01-01T00:30:00.000000Z");
        assert_eq!(entry.details["quiet_until"], "2026-01-01T00:40:00.000000Z");
        assert_eq!(entry.details["through_sequence"], 9);
    }

    #[test]
    fn without_a_cooldown_a_threshold_rule_still_fires_once_per_window() {
        let rules = [rule(0)];
        let mut e = Evaluator::default();
        // Twelve in ten minutes: one alert (at the fifth), not another at the tenth.
        let fired: Vec<Firing> =
            (1..=12).flat_map(|n| e.observe(&rules, &failed(n, "ana", n as i64 / 2), false)).collect();
        assert_eq!(fired.len(), 1, "{fired:?}");
        let first = &fired[0];
        assert_eq!((first.count, first.sequence), (5, 5));
        assert_eq!(first.window_start, failed(1, "ana", 0).timestamp);
        assert_eq!(first.quiet_until - first.at, Duration::minutes(10));
        // Once the window after it is over, five more alert again.
        let again: Vec<Firing> =
            (20..25).flat_map(|n| e.observe(&rules, &failed(n, "ana", 13 + n as i64 - 20), false)).collect();
        assert_eq!(again.len(), 1);
    }
}
