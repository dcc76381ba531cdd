//! Verifying the whole log against what cannot be forged without the key: the store's own
//! checks (every entry's hash chain link, its leaf and its row of the Merkle tree, the
//! search index and the counts), then every signed checkpoint, stored or kept elsewhere
//! (the checkpoint directory, a file an auditor kept): its signature, and that the log
//! still holds its entries and still hashes to its root. A database rewritten with every
//! hash recomputed passes its own checks; it cannot re-sign the checkpoints.

use crate::checkpoint::open_note;
use crate::integrity::{TreeHead, TreeQuery};
use crate::store::{Head, Problem, Store, StoreError, StoredCheckpoint, VerifyReport};
use chrono::{DateTime, Utc};

/// A checkpoint kept outside the database: where it came from, and the signed note.
#[derive(Clone, Debug)]
pub struct OutsideCheckpoint {
    pub source: String,
    pub note: String,
}

/// What a verification found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    pub report: VerifyReport,
    /// Checkpoints whose signature was checked (stored and outside).
    pub checkpoints: usize,
    /// The latest stored checkpoint the log still matches.
    pub latest: Option<StoredCheckpoint>,
    /// Whether signatures were checked (a public key was at hand).
    pub signatures_checked: bool,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.report.is_intact()
    }
}

/// Stored checkpoints read per page.
const PAGE: u32 = 1000;
/// Problems named per kind, at most.
const NAMED: usize = 3;

/// A signed tree head to hold the log to: what it states, when it was signed (if known),
/// and where it came from.
struct Signed {
    head: TreeHead,
    at: String,
    source: String,
}

/// Verifies the log and its checkpoints. `verifier_key` (`<origin>+<id>+<key>`) checks
/// the signatures; without it the stored checkpoints' heads are compared unchecked.
pub async fn verify_integrity(
    store: &Store,
    verifier_key: Option<&str>,
    expect_head: Option<&Head>,
    outside: &[OutsideCheckpoint],
) -> Result<Verification, StoreError> {
    let mut problems = Vec::new();
    let (signed, stored_heads) = signed_heads(store, verifier_key, outside, &mut problems).await?;
    let sizes: Vec<u64> = signed.iter().map(|s| s.head.size).collect();
    let mut report = store.log.verify_with_roots(expect_head, &sizes).await?;
    // Whether the walk went through every entry without a broken link (the search index
    // and the counts are derived data: they do not break the chain).
    let walked_whole =
        !report.problems.iter().any(|p| matches!(p, Problem::BrokenLink { .. } | Problem::OutOfPlace { .. }));
    report.problems.append(&mut problems);
    let tree_size = store.tree.tree_size().await?;
    if walked_whole && tree_size > report.entries {
        report.problems.push(Problem::TreeBeyondLog { tree: tree_size, entries: report.entries });
    }

    // Cut back: a signed tree larger than the log.
    if walked_whole {
        if let Some(beyond) = signed.iter().filter(|s| s.head.size > report.entries).max_by_key(|s| s.head.size) {
            report.problems.push(Problem::RolledBack {
                size: beyond.head.size,
                signed_at: beyond.at.clone(),
                source: beyond.source.clone(),
                entries: report.entries,
            });
        }
    }

    // A signed size inside a purged run has no entries left to recompute its tree from:
    // it is held to the stored tree's root at that size (the rows are kept), which the
    // walk's later roots depend on too.
    if walked_whole {
        for size in signed.iter().map(|s| s.head.size) {
            let purged = report.purged_runs.iter().any(|&(first, last)| first <= size && size <= last);
            if purged && !report.roots.iter().any(|r| r.size == size) {
                let root = crate::store::tree_answer(store.tree.as_ref(), TreeQuery::Root { size }).await?;
                report.roots.push(TreeHead { size, root: root.first().copied().unwrap_or_default() });
            }
        }
    }

    // Rewritten: every signed head the walk reached is compared with the walk's own tree
    // at that size (recomputed from the entries, not read from the stored rows). The
    // smallest that differs is named, after the largest that still matches below it.
    let reached = |size: u64| report.roots.iter().find(|r| r.size == size).copied();
    let mut differing: Vec<&Signed> =
        signed.iter().filter(|s| reached(s.head.size).is_some_and(|r| r != s.head)).collect();
    differing.sort_by_key(|s| s.head.size);
    if let Some(first) = differing.first() {
        let intact = signed
            .iter()
            .filter(|s| s.head.size < first.head.size && reached(s.head.size) == Some(s.head))
            .map(|s| s.head.size)
            .max()
            .unwrap_or(0);
        report.problems.push(Problem::Rewritten {
            size: first.head.size,
            signed_at: first.at.clone(),
            source: first.source.clone(),
            intact,
        });
    }

    let latest = if report.is_intact() { stored_heads.last().cloned() } else { None };
    Ok(Verification { report, checkpoints: signed.len(), latest, signatures_checked: verifier_key.is_some() })
}

/// Every signed head: the stored checkpoints (their signatures checked, and that their
/// stored size and root are what the note signs) and those kept outside. Problems with
/// the checkpoints themselves go to `problems`. Also the stored checkpoints that passed.
async fn signed_heads(
    store: &Store,
    verifier_key: Option<&str>,
    outside: &[OutsideCheckpoint],
    problems: &mut Vec<Problem>,
) -> Result<(Vec<Signed>, Vec<StoredCheckpoint>), StoreError> {
    let mut signed = Vec::new();
    let mut stored_heads = Vec::new();
    let mut bad = 0;
    let mut after = 0;
    loop {
        let page = store.tree.checkpoints_after(after, PAGE).await?;
        for checkpoint in &page {
            let at = shown_time(checkpoint.signed_at);
            let size = checkpoint.head.size;
            let source = "stored".to_owned();
            match verifier_key.map(|key| open_note(&checkpoint.note, key)) {
                Some(Err(e)) => {
                    bad += 1;
                    if bad <= NAMED {
                        let reason = format!("signed at {at} is not genuine: {e}");
                        problems.push(Problem::Checkpoint { size, source, reason });
                    }
                    continue;
                }
                Some(Ok(head)) if head != checkpoint.head => {
                    let reason = format!("signed at {at} was edited: its note signs size {}", head.size);
                    problems.push(Problem::Checkpoint { size, source, reason });
                    continue;
                }
                _ => {}
            }
            stored_heads.push(checkpoint.clone());
            signed.push(Signed { head: checkpoint.head, at, source });
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = last.head.size,
            _ => break,
        }
    }
    for kept in outside {
        let reason = match verifier_key.map(|key| open_note(&kept.note, key)) {
            Some(Ok(head)) => {
                signed.push(Signed { head, at: "an earlier time".into(), source: kept.source.clone() });
                continue;
            }
            Some(Err(e)) => format!("is not genuine: {e}"),
            None => "cannot be checked without the log's public key".into(),
        };
        problems.push(Problem::Checkpoint { size: 0, source: kept.source.clone(), reason });
    }
    Ok((signed, stored_heads))
}

fn shown_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
