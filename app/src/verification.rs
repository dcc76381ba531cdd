//! Verifying the whole log against what cannot be forged without the key: the store's own
//! checks (every entry's hash chain link, its leaf and its row of the Merkle tree, the
//! search index and the counts), then every signed checkpoint, stored or kept elsewhere
//! (the checkpoint directory, a file an auditor kept): its signature, and that the log
//! still holds its entries and still hashes to its root. A database rewritten with every
//! hash recomputed passes its own checks; it cannot re-sign the checkpoints.

use crate::checkpoint::open_note;
use crate::integrity::{TreeHead, TreeQuery};
use crate::store::{tree_answer, Head, Problem, Store, StoreError, StoredCheckpoint, VerifyReport};
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

/// Verifies the log and its checkpoints. `verifier_key` (`<origin>+<id>+<key>`) checks
/// the signatures; without it only the roots are compared.
pub async fn verify_integrity(
    store: &Store,
    verifier_key: Option<&str>,
    expect_head: Option<&Head>,
    outside: &[OutsideCheckpoint],
) -> Result<Verification, StoreError> {
    let mut report = store.log.verify(expect_head).await?;
    // The entries before the first broken link or tree row: their rows are what they
    // make, so roots of trees up to this size read from the stored rows can be trusted.
    // (The search index and the counts are derived data: they do not break the chain.)
    let first_bad = report.problems.iter().find_map(|p| match p {
        Problem::TreeRow { seq, .. } | Problem::BrokenLink { seq, .. } => Some(*seq - 1),
        Problem::OutOfPlace { expected, .. } => Some(*expected - 1),
        _ => None,
    });
    let walked_intact = first_bad.is_none();
    let trusted_rows = first_bad.unwrap_or(report.entries);
    let tree_size = store.tree.tree_size().await?;
    if walked_intact && tree_size > report.entries {
        report.problems.push(Problem::TreeBeyondLog { tree: tree_size, entries: report.entries });
    }

    // Every checkpoint: (head it states, when, where from).
    let mut signed: Vec<(TreeHead, String, String)> = Vec::new();
    let mut stored_heads = Vec::new();
    let mut bad = 0;
    let mut after = 0;
    loop {
        let page = store.tree.checkpoints_after(after, PAGE).await?;
        for checkpoint in &page {
            let at = shown_time(checkpoint.signed_at);
            let source = "stored".to_owned();
            match verifier_key.map(|key| open_note(&checkpoint.note, key)) {
                Some(Err(e)) => {
                    bad += 1;
                    if bad <= NAMED {
                        report.problems.push(Problem::Checkpoint {
                            size: checkpoint.head.size,
                            source,
                            reason: format!("signed at {at} is not genuine: {e}"),
                        });
                    }
                    continue;
                }
                Some(Ok(head)) if head != checkpoint.head => {
                    report.problems.push(Problem::Checkpoint {
                        size: checkpoint.head.size,
                        source,
                        reason: format!("signed at {at} was edited: its note signs size {}", head.size),
                    });
                    continue;
                }
                _ => {}
            }
            stored_heads.push(checkpoint.clone());
            signed.push((checkpoint.head, at, source));
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = last.head.size,
            _ => break,
        }
    }
    for kept in outside {
        match verifier_key.map(|key| open_note(&kept.note, key)) {
            Some(Ok(head)) => signed.push((head, "an earlier time".into(), kept.source.clone())),
            Some(Err(e)) => report.problems.push(Problem::Checkpoint {
                size: 0,
                source: kept.source.clone(),
                reason: format!("is not genuine: {e}"),
            }),
            None => report.problems.push(Problem::Checkpoint {
                size: 0,
                source: kept.source.clone(),
                reason: "cannot be checked without the log's public key".into(),
            }),
        }
    }

    // Cut back: a signed tree larger than the log.
    if walked_intact {
        if let Some((head, at, source)) =
            signed.iter().filter(|(h, ..)| h.size > report.entries).max_by_key(|(h, ..)| h.size)
        {
            report.problems.push(Problem::RolledBack {
                size: head.size,
                signed_at: at.clone(),
                source: source.clone(),
                entries: report.entries,
            });
        }
    }

    // Rewritten: the largest signed tree within the trusted rows decides; when it fails,
    // the smallest failing one narrows where (a root commits to every leaf below it).
    let mut within: Vec<&(TreeHead, String, String)> =
        signed.iter().filter(|(h, ..)| h.size > 0 && h.size <= trusted_rows).collect();
    within.sort_by_key(|(h, ..)| h.size);
    within.dedup_by_key(|(h, ..)| (h.size, h.root));
    if let Some(largest) = within.last() {
        if !root_matches(store, largest.0).await? {
            // The first checkpoint that no longer matches (every later one fails too).
            let (mut lo, mut hi) = (0usize, within.len() - 1);
            while lo < hi {
                let mid = (lo + hi) / 2;
                if root_matches(store, within[mid].0).await? {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            let (head, at, source) = within[lo];
            let intact = lo.checked_sub(1).map_or(0, |i| within[i].0.size);
            report.problems.push(Problem::Rewritten {
                size: head.size,
                signed_at: at.clone(),
                source: source.clone(),
                intact,
            });
        }
    }

    let latest = if report.is_intact() { stored_heads.last().cloned() } else { None };
    Ok(Verification { report, checkpoints: signed.len(), latest, signatures_checked: verifier_key.is_some() })
}

async fn root_matches(store: &Store, head: TreeHead) -> Result<bool, StoreError> {
    let root = tree_answer(&*store.tree, TreeQuery::Root { size: head.size }).await?;
    Ok(root.first() == Some(&head.root))
}

fn shown_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
