//! What `verify` checks and reports, whatever engine stores the log: the chain walked row
//! by row (every row a list or export can show, in sequence order, none skipped), and the
//! problems an engine's own checks find (search index, counts).

use super::chain::{entry_hash, GENESIS_HASH};
use super::retention::PurgedGap;
use super::{RawEntry, StoreError};
use crate::entry::AuditEntry;
use crate::integrity::{leaf_hash, EntryFields, TreeBuilder, TreeHead};
use std::fmt;
use std::str::FromStr;

/// A point of the chain a reader saw before: `SEQ:HASH` (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub sequence: u64,
    pub hash: String,
}

impl FromStr for Head {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not SEQ:HASH (a sequence number and a 64-digit hex hash)");
        let (seq, hash) = s.split_once(':').ok_or_else(bad)?;
        let sequence = seq.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(bad)?;
        let hash = hash.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Head { sequence, hash })
    }
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.sequence, self.hash)
    }
}

/// One thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A stored row that is not where the chain expects the next one (a gap, a duplicate,
    /// a sequence of 0 or below).
    OutOfPlace { stored_seq: i64, expected: u64 },
    /// The row's content, link or hash does not match the chain.
    BrokenLink { seq: u64, reason: String },
    /// The search index does not hold exactly the entries: an entry may be hidden from
    /// (or invented in) searches.
    SearchIndex(String),
    /// A count table disagrees with the entries: totals and the timeline would be wrong.
    Counts { table: &'static str, detail: String },
    /// An entry is filed under the wrong actor: the actor filter would hide it.
    ActorIndex { seq: u64 },
    /// The head given to check against lies past the end: entries were removed from the end.
    Truncated { expected: u64, last: u64 },
    /// The entry at the given head's place has another hash: the log was rewritten.
    HeadMismatch { seq: u64, found: String },
    /// An entry's row of the Merkle tree is missing or is not what the entry makes: the
    /// tree table (or the entry, with its chain recomputed) was changed.
    TreeRow { seq: u64, reason: &'static str },
    /// The tree holds more entries than the log: entries were removed from the end.
    TreeBeyondLog { tree: u64, entries: u64 },
    /// A signed checkpoint that does not verify, or whose stored copy was edited.
    Checkpoint { size: u64, source: String, reason: String },
    /// A signed checkpoint covers more entries than the log holds: it was cut back or an
    /// older copy of the database was restored.
    RolledBack { size: u64, signed_at: String, source: String, entries: u64 },
    /// A record of the retention purge that does not match the log: it claims entries
    /// that are still stored, or beyond the log's end (forged to pass a deletion off as
    /// a purge, or the log was cut back).
    PurgeRecord { first: u64, last: u64, reason: &'static str },
    /// The entries a signed checkpoint covers no longer hash to its root: the log was
    /// rewritten (chain and tree recomputed), somewhere after the first `intact` entries.
    Rewritten { size: u64, signed_at: String, source: String, intact: u64 },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::OutOfPlace { stored_seq, expected } => {
                write!(f, "a row with sequence {stored_seq} is stored where sequence {expected} was expected")
            }
            Problem::BrokenLink { seq, reason } => write!(f, "the hash chain is broken at sequence {seq}: {reason}"),
            Problem::SearchIndex(detail) => write!(f, "the search index disagrees with the entries: {detail}"),
            Problem::Counts { table, detail } => write!(f, "{table} disagrees with the entries: {detail}"),
            Problem::ActorIndex { seq } => {
                write!(f, "entry audit-{seq} is filed under another actor than its own (the actor filter would hide it)")
            }
            Problem::Truncated { expected, last } => write!(
                f,
                "the log ends at sequence {last} but sequence {expected} was expected: entries were removed from the end"
            ),
            Problem::HeadMismatch { seq, found } => {
                write!(f, "entry audit-{seq} now has hash {found}, not the expected one: the log was rewritten")
            }
            Problem::TreeRow { seq, reason } => {
                write!(f, "entry audit-{seq}'s row of the Merkle tree {reason}: the tree or the entry was changed")
            }
            Problem::TreeBeyondLog { tree, entries } => write!(
                f,
                "the Merkle tree holds {tree} entries but the log only {entries}: entries audit-{} to audit-{tree} \
                 were removed from the end",
                entries + 1
            ),
            Problem::Checkpoint { size, source, reason } => {
                write!(f, "the checkpoint of {size} entries ({source}) {reason}")
            }
            Problem::RolledBack { size, signed_at, source, entries } => write!(
                f,
                "the checkpoint signed at {signed_at} ({source}) covers {size} entries but the log holds {entries}: \
                 the log was truncated or an older copy of it restored"
            ),
            Problem::PurgeRecord { first, last, reason } => {
                write!(f, "the purge record of audit-{first} to audit-{last} {reason}")
            }
            Problem::Rewritten { size, signed_at, source, intact } => write!(
                f,
                "the first {size} entries no longer hash to the root signed at {signed_at} ({source}): an entry from \
                 audit-{} to audit-{size} was changed, with the hash chain and the tree recomputed",
                intact + 1
            ),
        }
    }
}

/// The outcome of a verification.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries whose place and hash were checked (up to the first broken one).
    pub entries: u64,
    /// The last entry checked, as `SEQ:HASH`.
    pub head: Option<Head>,
    /// The Merkle tree (RFC 6962) of the entries checked: what a checkpoint would sign.
    pub tree: Option<TreeHead>,
    /// The tree heads the walk reached at the sizes asked for (those it reached intact),
    /// smallest first. A size inside a purged run is not reached: its entries are gone.
    pub roots: Vec<TreeHead>,
    /// Entries the retention purge removed, as it recorded them (not problems).
    pub purged: u64,
    /// The purged runs the walk went across, as (first, last) sequence numbers.
    pub purged_runs: Vec<(u64, u64)>,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }

    /// The purged runs in words, the first `at_most` of them (`audit-1 to audit-500, …`).
    pub fn purged_runs_named(&self, at_most: usize) -> String {
        let mut runs: Vec<String> =
            self.purged_runs.iter().take(at_most).map(|(a, b)| format!("audit-{a} to audit-{b}")).collect();
        if self.purged_runs.len() > at_most {
            runs.push(format!("and {} more runs", self.purged_runs.len() - at_most));
        }
        runs.join(", ")
    }

    /// Compares the chain's end with a head a reader saw before. A head the retention
    /// purge removed since is not missing: the walk checked the chain across its record.
    pub fn check_head(&mut self, expected: &Head, hash_at: Option<String>) {
        let last = self.head.as_ref().map_or(0, |h| h.sequence);
        let purged =
            self.purged_runs.iter().any(|&(first, last)| first <= expected.sequence && expected.sequence <= last);
        match hash_at {
            None if purged => {}
            None => self.problems.push(Problem::Truncated { expected: expected.sequence, last }),
            Some(found) if found != expected.hash => {
                self.problems.push(Problem::HeadMismatch { seq: expected.sequence, found })
            }
            Some(_) => {}
        }
    }
}

/// Walks stored rows in sequence order and checks each one's place, link and hash. It
/// stops at the first broken row: every later link depends on it.
pub struct ChainWalk {
    prev: [u8; 32],
    expected: u64,
    tree: TreeBuilder,
    /// The tree row the current entry makes (kept to spare an allocation per entry).
    row: Vec<u8>,
    /// Sizes whose tree head to report, largest first (popped as they are reached).
    wanted: Vec<u64>,
    tree_row_wrong: bool,
    /// Runs the retention purge removed and recorded, last first (popped as passed).
    gaps: Vec<PurgedGap>,
    pub report: VerifyReport,
    broken: bool,
}

impl Default for ChainWalk {
    fn default() -> Self {
        ChainWalk {
            prev: GENESIS_HASH,
            expected: 1,
            tree: TreeBuilder::default(),
            row: Vec::with_capacity(64),
            wanted: Vec::new(),
            tree_row_wrong: false,
            gaps: Vec::new(),
            report: VerifyReport { tree: Some(TreeBuilder::default().head()), ..VerifyReport::default() },
            broken: false,
        }
    }
}

impl ChainWalk {
    /// A walk that also reports the tree head at each of `sizes`.
    pub fn wanting(mut sizes: Vec<u64>) -> Self {
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes.dedup();
        ChainWalk { wanted: sizes, ..ChainWalk::default() }
    }

    /// The walk goes across these recorded purged runs (in sequence order) instead of
    /// reporting their entries missing.
    pub fn across(mut self, mut gaps: Vec<PurgedGap>) -> Self {
        gaps.sort_by_key(|g| std::cmp::Reverse(g.range.first));
        self.gaps = gaps;
        self
    }

    /// Goes across the recorded runs from `self.expected` up to `next` (the next stored
    /// row): they must follow each other without a hole and link to the chain at both
    /// ends. `false` when they do not cover the gap (a problem is then reported).
    fn cross_purged(&mut self, next: u64) -> bool {
        let from = self.expected;
        while self.expected < next {
            // (`Vec::pop_if` is newer than the Rust this crate supports.)
            if self.gaps.last().is_none_or(|g| g.range.first > self.expected) {
                break;
            }
            let Some(gap) = self.gaps.pop() else { break };
            if gap.range.first != self.expected || gap.range.last >= next {
                return self.fail(Problem::BrokenLink {
                    seq: self.expected,
                    reason: format!(
                        "the purge record of audit-{} to audit-{} does not match the entries kept",
                        gap.range.first, gap.range.last
                    ),
                });
            }
            if gap.range.prev_hash != self.prev {
                return self.fail(Problem::BrokenLink {
                    seq: gap.range.first,
                    reason: "the purge record's link to the previous entry differs".into(),
                });
            }
            self.prev = gap.range.last_hash;
            self.tree = gap.tree;
            self.expected = gap.range.last + 1;
            self.report.purged += gap.range.last - gap.range.first + 1;
            match self.report.purged_runs.last_mut() {
                Some(run) if run.1 + 1 == gap.range.first => run.1 = gap.range.last,
                _ => self.report.purged_runs.push((gap.range.first, gap.range.last)),
            }
        }
        // Sizes inside the runs have no entries left to compute their roots from.
        while self.wanted.last().is_some_and(|&size| size < self.expected && size >= from) {
            self.wanted.pop();
        }
        self.expected == next || self.fail(Problem::OutOfPlace { stored_seq: next as i64, expected: self.expected })
    }

    /// Checks the next stored row (`stored_seq` as the database holds it, which may be
    /// anything if rows were written behind the store's back) and its row of the Merkle
    /// tree (`tree_row`, `None` when there is none). `false` once broken.
    pub fn visit(&mut self, stored_seq: i64, row: Result<RawEntry<'_>, StoreError>, tree_row: Option<&[u8]>) -> bool {
        if self.broken {
            return false;
        }
        self.visit_entry(stored_seq, row.and_then(|row| row.to_entry()), tree_row)
    }

    /// [`ChainWalk::visit`] of a row already read as an entry (a reader on another thread
    /// did it).
    pub fn visit_entry(
        &mut self,
        stored_seq: i64,
        entry: Result<AuditEntry, StoreError>,
        tree_row: Option<&[u8]>,
    ) -> bool {
        if self.broken {
            return false;
        }
        match u64::try_from(stored_seq) {
            Ok(seq) if seq == self.expected => {}
            // A run the retention purge removed and recorded: the walk goes on after it.
            Ok(seq) if seq > self.expected && self.gaps.last().is_some_and(|g| g.range.first == self.expected) => {
                if !self.cross_purged(seq) {
                    return false;
                }
            }
            _ => return self.fail(Problem::OutOfPlace { stored_seq, expected: self.expected }),
        }
        let expected = self.expected;
        // A purge record for an entry that is still here was not made by a purge.
        while self.gaps.last().is_some_and(|g| g.range.first <= expected) {
            let Some(gap) = self.gaps.pop() else { break };
            let (first, last) = (gap.range.first, gap.range.last);
            self.report.problems.push(Problem::PurgeRecord { first, last, reason: "covers entries still stored" });
        }
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => return self.fail(Problem::BrokenLink { seq: expected, reason: e.to_string() }),
        };
        if entry.prev_hash != hex::encode(self.prev) {
            return self
                .fail(Problem::BrokenLink { seq: expected, reason: "its link to the previous entry differs".into() });
        }
        let fields = EntryFields::of_stored(&entry);
        let hash = entry_hash(&self.prev, &fields);
        if entry.hash != hex::encode(hash) {
            return self
                .fail(Problem::BrokenLink { seq: expected, reason: "its content does not match its hash".into() });
        }
        self.row.clear();
        self.tree.push_stored(leaf_hash(&fields), &mut self.row);
        if !self.tree_row_wrong {
            let reason = match tree_row {
                None => Some("is missing"),
                Some(stored) if stored != self.row.as_slice() => Some("differs from what the entry makes"),
                Some(_) => None,
            };
            if let Some(reason) = reason {
                // Reported once, the first: later rows are not compared (the walk's own
                // tree goes on, for the checkpoints' roots).
                self.tree_row_wrong = true;
                self.report.problems.push(Problem::TreeRow { seq: expected, reason });
            }
        }
        self.prev = hash;
        self.expected += 1;
        self.report.entries = expected;
        self.report.head = Some(Head { sequence: expected, hash: entry.hash });
        self.report.tree = Some(self.tree.head());
        while self.wanted.last().is_some_and(|&size| size <= expected) {
            if self.wanted.pop() == Some(expected) {
                self.report.roots.push(self.tree.head());
            }
        }
        true
    }

    /// The report, once every row was visited: purge records left over claim entries
    /// beyond the log's end.
    pub fn finish(mut self) -> VerifyReport {
        if !self.broken {
            while let Some(gap) = self.gaps.pop() {
                let (first, last) = (gap.range.first, gap.range.last);
                self.report.problems.push(Problem::PurgeRecord { first, last, reason: "lies beyond the log's end" });
            }
        }
        self.report
    }

    fn fail(&mut self, problem: Problem) -> bool {
        self.report.problems.push(problem);
        self.broken = true;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse_as_seq_colon_hash() {
        let hash = "ab".repeat(32);
        assert_eq!(format!("12:{hash}").parse(), Ok(Head { sequence: 12, hash: hash.clone() }));
        assert_eq!(format!("12:{}", hash.to_uppercase()).parse::<Head>().map(|h| h.hash), Ok(hash.clone()));
        for bad in ["", "12", &format!("0:{hash}"), &format!("x:{hash}"), "12:abc", &format!("12:{}", "g".repeat(64))] {
            assert!(bad.parse::<Head>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_head_the_purge_removed_is_not_missing_and_its_runs_are_named_briefly() {
        let mut report =
            VerifyReport { purged: 9, purged_runs: vec![(1, 5), (7, 8), (10, 11)], ..VerifyReport::default() };
        report.check_head(&Head { sequence: 4, hash: "aa".repeat(32) }, None);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        report.check_head(&Head { sequence: 6, hash: "aa".repeat(32) }, None);
        assert_eq!(report.problems.len(), 1, "audit-6 was not purged: it is missing");
        assert_eq!(report.purged_runs_named(2), "audit-1 to audit-5, audit-7 to audit-8, and 1 more runs");
    }

    #[test]
    fn a_head_past_the_end_or_with_another_hash_is_reported() {
        let head = Head { sequence: 5, hash: "aa".repeat(32) };
        let mut report = VerifyReport {
            entries: 3,
            head: Some(Head { sequence: 3, hash: "bb".repeat(32) }),
            tree: None,
            roots: vec![],
            problems: vec![],
            ..VerifyReport::default()
        };
        report.check_head(&head, None);
        assert_eq!(report.problems, vec![Problem::Truncated { expected: 5, last: 3 }]);
        let mut report = VerifyReport::default();
        report.check_head(&head, Some("cc".repeat(32)));
        assert!(matches!(report.problems[0], Problem::HeadMismatch { seq: 5, .. }));
        let mut report = VerifyReport::default();
        report.check_head(&head, Some("aa".repeat(32)));
        assert!(report.is_intact());
    }
}
