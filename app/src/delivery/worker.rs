//! One destination's delivery: read what it wants after its cursor, send it, and move the
//! cursor only once the receiver took it. A failure keeps the cursor where it is and waits
//! (a backoff with jitter, then a circuit's pause); the first time it counts as failing,
//! and the first success after, are each recorded once (`delivery.failed`,
//! `delivery.recovered`). The cursor is in the store, so a restart, even after `kill -9`,
//! goes on from the last batch accepted: a batch may then come twice, never not at all.

use super::{filter_of, read_filter, redact, sender_for, Outcome, Policy, Sender};
use crate::alerting::addressed_to;
use crate::audit::service::pull;
use crate::entry::AuditEntry;
use crate::internal_event::{record, system_actor, InternalEvent};
use crate::store::{DeliveryNote, DeliveryState, Store, StoreError, StoredDestination};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What a step asks of the loop.
enum Step {
    /// Go on at once: more may be waiting.
    Again,
    /// Caught up: wait for new entries.
    Idle,
    /// Wait this long (a retry, a circuit's pause).
    Wait(Duration),
    /// The destination is gone, or the worker is told to stop.
    Gone,
}

/// What a worker remembers between steps (lost on a restart, which only means sending a
/// refused batch whole once more).
#[derive(Default)]
struct Local {
    /// Send one entry at a time until the cursor reaches this: a batch was refused as bad
    /// data without saying which entry.
    single_until: Option<u64>,
    /// Entries set aside since the last batch taken.
    parks_in_a_row: u32,
}

/// After this many entries set aside in a row, the receiver is taken to refuse everything
/// (its index or format settings are wrong): paused rather than set aside entry by entry,
/// each of which would be a new entry for it to refuse.
const PARKS_BEFORE_PAUSE: u32 = 5;

/// How long a caught-up worker lets new entries gather after being woken.
const SETTLE: Duration = Duration::from_millis(200);

/// Delivers to destination `id` until it is removed or `stop` turns true. `sender`
/// replaces the destination kind's own (tests).
pub async fn run(
    store: Store,
    id: i64,
    policy: Policy,
    sender: Option<Arc<dyn Sender>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut head = store.log.watch_head();
    let mut local = Local::default();
    loop {
        if *stop.borrow() {
            return;
        }
        let wait = match step(&store, id, &policy, sender.clone(), &mut local, &mut stop).await {
            Ok(Step::Again) => continue,
            Ok(Step::Gone) => return,
            Ok(Step::Wait(wait)) => wait,
            Ok(Step::Idle) => {
                tokio::select! {
                    _ = head.changed() => {
                        // Appends come in bursts: gather them rather than read (and move
                        // the cursor) once per commit.
                        tokio::time::sleep(SETTLE).await;
                    }
                    () = tokio::time::sleep(policy.poll) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(destination = id, error = %e, "delivery cannot read its state; it tries again");
                policy.poll
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn step(
    store: &Store,
    id: i64,
    policy: &Policy,
    sender: Option<Arc<dyn Sender>>,
    local: &mut Local,
    stop: &mut watch::Receiver<bool>,
) -> Result<Step, StoreError> {
    let (Some(destination), Some(state)) =
        (store.delivery.destination(id).await?, store.delivery.delivery_state(id).await?)
    else {
        return Ok(Step::Gone);
    };
    let now = Utc::now();
    if !destination.config.enabled {
        if state.state != "disabled" {
            let note = DeliveryNote { state: "disabled".into(), attempts: 0, error: None, next_retry_at: None };
            store.delivery.note_delivery(id, &note, now).await?;
        }
        return Ok(Step::Idle);
    }
    let sender: Arc<dyn Sender> = match sender {
        Some(sender) => sender,
        None => match sender_for(&destination) {
            Ok(sender) => Arc::from(sender),
            Err(why) => return paused(store, &destination, &state, policy, why, now).await,
        },
    };
    let wanted = filter_of(&destination.config);
    let page = pull(store.log.as_ref(), &read_filter(&destination.config), state.cursor, destination.config.max_events)
        .await?;
    let next = page.next.unwrap_or(state.cursor);
    let parked = match page.entries.is_empty() {
        true => Vec::new(),
        false => store.delivery.parked_deliveries(id, state.cursor, next).await?,
    };
    let entries: Vec<AuditEntry> = page
        .entries
        .into_iter()
        .filter(|e| !parked.contains(&e.sequence) && (wanted.matches(e) || addressed_to(e, id)))
        .collect();
    let read = entries.len();
    let mut batch = fit(entries, destination.config.max_bytes);
    match local.single_until {
        Some(until) if state.cursor < until => batch.truncate(1),
        _ => local.single_until = None,
    }
    let Some(last) = batch.last().map(|e| e.sequence) else {
        if next > state.cursor {
            // Nothing it wants: pass over what was read.
            store.delivery.advance_delivery(id, state.epoch, state.cursor, next, 0, now).await?;
            return Ok(Step::Again);
        }
        if state.state != "idle" && state.attempts == 0 {
            let note = DeliveryNote { state: "idle".into(), attempts: 0, error: None, next_retry_at: None };
            store.delivery.note_delivery(id, &note, now).await?;
        }
        return Ok(Step::Idle);
    };
    // A batch cut short by its size ends at its last entry; a whole one at what was read.
    let to = if batch.len() == read { next } else { last };
    // A stop ends a send in flight (the bookkeeping after one is never cut short): the
    // batch was not taken as far as the cursor knows, and whoever delivers next sends it.
    let outcome = tokio::select! {
        outcome = sender.send(&batch) => outcome,
        _ = stop.changed() => return Ok(Step::Gone),
    };
    match outcome {
        Outcome::Accepted => {
            let now = Utc::now();
            // Refused when a replay or another instance moved it meanwhile: read it again.
            store.delivery.advance_delivery(id, state.epoch, state.cursor, to, batch.len() as u64, now).await?;
            local.parks_in_a_row = 0;
            if state.failing {
                recovered(store, &destination, &state, now).await?;
            }
            Ok(Step::Again)
        }
        Outcome::Retry { error, retry_after } => {
            let error = redact(&error, &destination);
            let attempts = state.attempts.saturating_add(1);
            let open = attempts >= policy.open_after;
            let wait = match (open, retry_after) {
                (true, _) => policy.max_backoff,
                (false, Some(asked)) => asked.min(policy.max_backoff),
                (false, None) => policy.backoff(attempts, rand::random()),
            };
            let note = DeliveryNote {
                state: if open { "circuit_open" } else { "retrying" }.into(),
                attempts,
                error: Some(error.clone()),
                next_retry_at: Some(now + chrono::Duration::from_std(wait).unwrap_or_default()),
            };
            if attempts >= policy.failing_after && !state.failing {
                failed(store, &destination, &error, attempts, now).await?;
            }
            store.delivery.note_delivery(id, &note, now).await?;
            Ok(Step::Wait(wait))
        }
        Outcome::Pause { reason } => {
            let reason = redact(&reason, &destination);
            paused(store, &destination, &state, policy, reason, now).await
        }
        Outcome::Park { index, reason } => {
            let reason = redact(&reason, &destination);
            if local.parks_in_a_row >= PARKS_BEFORE_PAUSE {
                let why = format!("the receiver refuses every entry as bad data ({reason}): check its settings");
                return paused(store, &destination, &state, policy, why, now).await;
            }
            match (index.filter(|i| *i < batch.len()), batch.len()) {
                (Some(i), _) => park(store, &destination, &batch[i], &reason, state.epoch, now).await?,
                (None, 1) => park(store, &destination, &batch[0], &reason, state.epoch, now).await?,
                // Which one is bad? One at a time will tell.
                (None, _) => local.single_until = Some(last),
            }
            local.parks_in_a_row += 1;
            Ok(Step::Again)
        }
    }
}

/// Sets an entry the receiver refused as bad data aside, recorded as `delivery.parked`.
async fn park(
    store: &Store,
    destination: &StoredDestination,
    entry: &AuditEntry,
    reason: &str,
    epoch: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if !store.delivery.park_delivery(destination.id, entry.sequence, reason, epoch, now).await? {
        return Ok(());
    }
    tracing::warn!(destination = %destination.name, entry = %entry.id, reason, "an entry refused as bad data is set aside");
    let event = InternalEvent::new("delivery.parked").map(|e| {
        e.detail("destination_id", destination.id)
            .detail("name", destination.name.as_str())
            .detail("entry_id", entry.id.as_str())
            .detail("sequence", entry.sequence)
            .detail("reason", reason)
    });
    if let Err(why) = record(store, event, &system_actor(), now).await {
        tracing::error!(destination = destination.id, error = %why, "cannot record an entry set aside");
    }
    Ok(())
}

/// Refused until someone changes something: say so, and try again now and then.
async fn paused(
    store: &Store,
    destination: &StoredDestination,
    state: &DeliveryState,
    policy: &Policy,
    reason: String,
    now: DateTime<Utc>,
) -> Result<Step, StoreError> {
    let attempts = state.attempts.saturating_add(1);
    let note = DeliveryNote {
        state: "paused".into(),
        attempts,
        error: Some(reason.clone()),
        next_retry_at: Some(now + chrono::Duration::from_std(policy.paused_probe).unwrap_or_default()),
    };
    // Failing first: the health view never shows a paused destination as not failing.
    if !state.failing {
        failed(store, destination, &reason, attempts, now).await?;
    }
    store.delivery.note_delivery(destination.id, &note, now).await?;
    Ok(Step::Wait(policy.paused_probe))
}

/// The entries of a batch that fit in `max_bytes` (at least the first).
fn fit(entries: Vec<AuditEntry>, max_bytes: u32) -> Vec<AuditEntry> {
    let mut total = 0usize;
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let size = serde_json::to_vec(&entry).map_or(0, |bytes| bytes.len() + 1);
        if !out.is_empty() && total + size > max_bytes as usize {
            break;
        }
        total += size;
        out.push(entry);
    }
    out
}

/// Delivery started failing: recorded once (whichever instance gets there first).
async fn failed(
    store: &Store,
    destination: &StoredDestination,
    error: &str,
    attempts: u32,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if !store.delivery.set_failing(destination.id, true, now).await? {
        return Ok(());
    }
    let event = InternalEvent::new("delivery.failed").map(|e| {
        e.detail("destination_id", destination.id)
            .detail("name", destination.name.as_str())
            .detail("kind", destination.kind.as_str())
            .detail("error", error)
            .detail("attempts", attempts)
    });
    if let Err(why) = record(store, event, &system_actor(), now).await {
        tracing::error!(destination = destination.id, error = %why, "cannot record that delivery fails; tried again");
        // Unmarked, so that the next failure tries to record it again.
        store.delivery.set_failing(destination.id, false, now).await?;
    }
    tracing::warn!(destination = %destination.name, error = %error, "delivery is failing");
    Ok(())
}

/// Delivery succeeded again after failing: recorded once.
async fn recovered(
    store: &Store,
    destination: &StoredDestination,
    state: &DeliveryState,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if !store.delivery.set_failing(destination.id, false, now).await? {
        return Ok(());
    }
    let failed_seconds = state.failing_since.map_or(0, |since| (now - since).num_seconds().max(0));
    let event = InternalEvent::new("delivery.recovered").map(|e| {
        e.detail("destination_id", destination.id)
            .detail("name", destination.name.as_str())
            .detail("kind", destination.kind.as_str())
            .detail("failed_seconds", failed_seconds)
            .detail("last_error", state.last_error.clone().unwrap_or_default())
    });
    if let Err(why) = record(store, event, &system_actor(), now).await {
        tracing::error!(destination = destination.id, error = %why, "cannot record that delivery recovered");
        store.delivery.set_failing(destination.id, true, now).await?;
    }
    tracing::info!(destination = %destination.name, failed_seconds, "delivery recovered");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::destination_changes;
    use crate::destinations::NewDestination;
    use crate::filter::{EntryQuery, PageRequest};
    use crate::store::conformance::samples;
    use async_trait::async_trait;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// A receiver that answers as scripted (then accepts), and keeps what it accepted.
    #[derive(Default)]
    struct Receiver {
        script: Mutex<VecDeque<Outcome>>,
        accepted: Mutex<Vec<u64>>,
        tries: Mutex<u32>,
        batches: Mutex<u32>,
    }

    #[async_trait]
    impl Sender for Receiver {
        async fn send(&self, batch: &[AuditEntry]) -> Outcome {
            *self.tries.lock().expect("lock") += 1;
            let answer = self.script.lock().expect("lock").pop_front().unwrap_or(Outcome::Accepted);
            if answer == Outcome::Accepted {
                self.accepted.lock().expect("lock").extend(batch.iter().map(|e| e.sequence));
                *self.batches.lock().expect("lock") += 1;
            }
            answer
        }
    }

    fn quick() -> Policy {
        Policy {
            poll: Duration::from_millis(20),
            base_backoff: Duration::from_millis(2),
            max_backoff: Duration::from_millis(10),
            failing_after: 3,
            open_after: 5,
            paused_probe: Duration::from_millis(10),
        }
    }

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let store = crate::store::open(&format!("sqlite:{}", dir.path().join("d.db").display())).await.expect("opens");
        (store, dir)
    }

    async fn destination(store: &Store, extra: serde_json::Value) -> i64 {
        let mut body = serde_json::json!({"name": "la", "kind": "stdout", "start": "beginning"});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        let new: NewDestination = serde_json::from_value(body).expect("valid");
        let admin = crate::entry::Actor { kind: crate::entry::ActorType::User, id: "u1".into(), name: "ada".into() };
        destination_changes::create(store, &new, admin, Utc::now()).await.expect("created").destination.id
    }

    /// Runs delivery until `done` holds of the receiver (at most 5 s), then stops it.
    async fn deliver_until(store: &Store, id: i64, receiver: &Arc<Receiver>, done: impl Fn(&Receiver) -> bool) {
        let (stop, stopped) = watch::channel(false);
        let sender: Arc<dyn Sender> = receiver.clone();
        let task = tokio::spawn(run(store.clone(), id, quick(), Some(sender), stopped));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !done(receiver) {
            assert!(tokio::time::Instant::now() < deadline, "delivered in time");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Let the cursor's move land before stopping.
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.send(true).expect("running");
        task.await.expect("stops");
    }

    async fn of_type(store: &Store, event_type: &str) -> Vec<AuditEntry> {
        let filter = EntryQuery::from_query_string(&format!("event_type={event_type}"))
            .and_then(|q| q.validate())
            .expect("valid")
            .0;
        store.log.list(&filter, PageRequest { limit: 100, offset: 0 }).await.expect("lists").entries
    }

    #[tokio::test]
    async fn every_wanted_entry_arrives_once_in_order_and_the_cursor_reaches_the_head() {
        let (store, _dir) = store().await;
        store.log.append(samples(0..40)).await.expect("appends");
        let id = destination(&store, serde_json::json!({"max_events": 7, "event_types": ["auth.*"]})).await;
        let receiver = Arc::new(Receiver::default());
        let head = 41; // the samples and destination.created
        let wanted: Vec<u64> = (1..=40).filter(|i| (i - 1) % 5 < 2).collect();
        deliver_until(&store, id, &receiver, |r| r.accepted.lock().expect("lock").len() == wanted.len()).await;
        assert_eq!(*receiver.accepted.lock().expect("lock"), wanted, "auth.* only, in sequence order, once");
        let state = store.delivery.delivery_state(id).await.expect("reads").expect("there");
        assert_eq!((state.cursor, state.delivered, state.failing), (head, wanted.len() as u64, false));
        assert!(state.last_success_at.is_some());
        assert!(receiver.accepted.lock().expect("lock").iter().all(|s| *s <= 40));
    }

    #[tokio::test]
    async fn a_failing_receiver_is_retried_without_losing_anything_and_each_change_is_recorded_once() {
        let (store, _dir) = store().await;
        store.log.append(samples(0..10)).await.expect("appends");
        let id = destination(&store, serde_json::json!({"max_events": 4})).await;
        let receiver = Arc::new(Receiver::default());
        let failure = || Outcome::Retry { error: "503 busy (code 9)".into(), retry_after: None };
        receiver.script.lock().expect("lock").extend([Outcome::Accepted, failure(), failure(), failure(), failure()]);
        deliver_until(&store, id, &receiver, |r| r.accepted.lock().expect("lock").len() >= 11).await;
        let accepted = receiver.accepted.lock().expect("lock").clone();
        assert_eq!(accepted[..11], (1..=11).collect::<Vec<u64>>(), "nothing lost, nothing out of order");
        let (tries, batches) = (*receiver.tries.lock().expect("lock"), *receiver.batches.lock().expect("lock"));
        assert_eq!(tries, 4 + batches, "each failure tried once more, nothing else sent twice");
        assert_eq!(accepted.len(), accepted.iter().collect::<std::collections::BTreeSet<_>>().len(), "no repeats");
        let failed = of_type(&store, "delivery.failed").await;
        assert_eq!(failed.len(), 1, "one entry when it started failing, not one per retry");
        assert_eq!(failed[0].details["error"], "503 busy (code 9)");
        assert_eq!(failed[0].details["destination_id"], id);
        let recovered = of_type(&store, "delivery.recovered").await;
        assert_eq!(recovered.len(), 1);
        let state = store.delivery.delivery_state(id).await.expect("reads").expect("there");
        assert!(!state.failing && state.attempts == 0);
        assert_eq!(state.last_error.as_deref(), Some("503 busy (code 9)"), "the last error stays to be seen");
    }

    #[tokio::test]
    async fn a_restart_goes_on_from_the_cursor_and_a_refused_token_pauses_and_says_so() {
        let (store, _dir) = store().await;
        store.log.append(samples(0..6)).await.expect("appends");
        let id = destination(&store, serde_json::json!({})).await;
        let first = Arc::new(Receiver::default());
        deliver_until(&store, id, &first, |r| r.accepted.lock().expect("lock").len() == 7).await;
        store.log.append(samples(6..9)).await.expect("appends");
        let second = Arc::new(Receiver::default());
        second.script.lock().expect("lock").push_back(Outcome::Pause { reason: "HEC token refused (code 4)".into() });
        deliver_until(&store, id, &second, |r| r.accepted.lock().expect("lock").len() >= 3).await;
        let again = second.accepted.lock().expect("lock").clone();
        assert_eq!(again[..3], [8, 9, 10], "from the cursor on, after the pause");
        let failed = of_type(&store, "delivery.failed").await;
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].details["error"], "HEC token refused (code 4)");
    }

    #[tokio::test]
    async fn answers_lose_the_secrets_they_echo() {
        let (store, _dir) = store().await;
        let body = serde_json::json!({"name": "hook", "kind": "webhook", "url": "https://h.example/x",
                                      "secret": "whsec_0123456789abcdef", "headers": {"X-Api-Key": "key-4567"}});
        let new: NewDestination = serde_json::from_value(body).expect("valid");
        let admin = crate::entry::Actor { kind: crate::entry::ActorType::User, id: "u1".into(), name: "ada".into() };
        let id = destination_changes::create(&store, &new, admin, Utc::now()).await.expect("created").destination.id;
        let stored = store.delivery.destination(id).await.expect("reads").expect("there");
        let echoed = "HTTP 400: got X-Api-Key: key-4567 and secret whsec_0123456789abcdef";
        assert_eq!(redact(echoed, &stored), "HTTP 400: got X-Api-Key: [redacted] and secret [redacted]");
    }

    #[test]
    fn a_batch_is_cut_to_its_size_but_never_empty() {
        let entry = |i: u64| AuditEntry {
            id: format!("audit-{i}"),
            sequence: i,
            timestamp: Utc::now(),
            received_at: None,
            event_type: "secret.read".into(),
            severity: crate::entry::Severity::Info,
            actor: crate::entry::Actor { kind: crate::entry::ActorType::User, id: "u".into(), name: "u".into() },
            resource: None,
            description: "x".repeat(400),
            details: Default::default(),
            ip_address: None,
            user_agent: None,
            ingested_by: None,
            prev_hash: String::new(),
            hash: String::new(),
        };
        let batch: Vec<AuditEntry> = (1..=10).map(entry).collect();
        assert_eq!(fit(batch.clone(), 1024).len(), 1);
        assert_eq!(fit(batch.clone(), 100).len(), 1, "one entry larger than the limit still goes");
        assert_eq!(fit(batch, 1 << 20).len(), 10);
    }
}
