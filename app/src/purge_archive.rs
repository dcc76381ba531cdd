//! Archive before purge: when the archive directory is set (Settings > Advanced,
//! `audit_archive_dir`), the entries a purge is about to delete are first written there as
//! one gzip file of JSON lines. Its first line says what it is (the format, the log's
//! origin and verifier key, the signed checkpoint its proofs are against, the cutoff and
//! the range); every other line is one entry as the API serves it with its RFC 6962
//! inclusion proof against that checkpoint, so an archive verifies offline long after the
//! log has let the entries go. The file is written under a temporary name, synced and only
//! then given its name; the purge then deletes exactly the entries it holds. If any of it
//! fails, nothing is purged; nor when the server stops while it is written (between two
//! batches): the next run writes it again.

use crate::checkpoint::{b64, checkpoint_now, CheckpointError, Signing};
use crate::entry::entry_id;
use crate::filter::EntryFilter;
use crate::integrity::entry_leaf_hash;
use crate::proof::{EntryWithProof, InclusionProofView};
use crate::store::{inclusion_proofs, RawEntry, ScanSink, Store, StoreError};
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::write::GzEncoder;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The first line's `format`.
pub const FORMAT: &str = "certifyclouds-purge-archive/1";

/// Entries read, proven and written at once.
const BATCH: usize = 2_000;
/// The widest run of sequence numbers read for one batch (late entries with old times are
/// scattered among younger ones).
const SPAN: u64 = 8_000;

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("the archive could not be written to {dir}: {source}")]
    Io { dir: String, source: std::io::Error },
    #[error("the archive could not be written: {0}")]
    Store(#[from] StoreError),
    #[error("no checkpoint could be signed for the archive's proofs: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the archive could not be written: an entry cannot be serialised: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the server is stopping: the archive was left unfinished and removed")]
    Stopped,
}

/// An archive written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Archive {
    /// The file's name in the directory.
    pub file: String,
    /// The SHA-256 of the file as written (hex).
    pub sha256: String,
    pub entries: u64,
    /// The purge deletes only entries numbered below this (those the archive holds).
    pub below: u64,
}

/// Writes the entries older than `cutoff` that a purge may delete now (every one but the
/// newest) to `dir`: `None` when none is due (no file is written then). `stopping` is
/// asked before each batch: once it answers yes, the file is given up
/// ([`ArchiveError::Stopped`]), so that a stopping server does not wait for an archive of
/// hundreds of thousands of entries.
pub async fn write(
    store: &Store,
    signing: &Signing,
    dir: &Path,
    cutoff: DateTime<Utc>,
    retention_days: u32,
    now: DateTime<Utc>,
    stopping: &(dyn Fn() -> bool + Sync),
) -> Result<Option<Archive>, ArchiveError> {
    // The proofs rest on a checkpoint of the log as it stands; the entries due are those
    // before its newest entry (never purged), so the archive is exactly what goes.
    let checkpoint = match checkpoint_now(store.tree.as_ref(), &signing.key, &signing.policy, now).await {
        Ok(done) => done.checkpoint,
        Err(CheckpointError::Empty) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let size = checkpoint.head.size;
    let filter = EntryFilter { end: Some(cutoff), up_to: Some(size.saturating_sub(1)), ..EntryFilter::default() };
    let (sent, got) = tokio::sync::oneshot::channel();
    store.log.scan(&filter, Box::new(Sequences { seqs: Vec::new(), done: Some(sent) })).await?;
    let mut seqs = got.await.map_err(StoreError::backend)?;
    seqs.sort_unstable();
    let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) else { return Ok(None) };

    let stamp = cutoff.format("%Y%m%dT%H%M%SZ");
    let file = format!("certifyclouds-purge-{stamp}-{}-{}.ndjson.gz", entry_id(first), entry_id(last));
    let io = |source: std::io::Error| ArchiveError::Io { dir: dir.display().to_string(), source };
    let partial = dir.join(format!(".{file}.partial"));
    let header = serde_json::to_vec(&json!({
        "format": FORMAT,
        "origin": signing.key.origin(),
        "verifier_key": signing.key.verifier_key(),
        "checkpoint": checkpoint.note,
        "tree_size": size,
        "root": b64(&checkpoint.head.root),
        "cutoff": cutoff.to_rfc3339_opts(SecondsFormat::Secs, true),
        "retention_days": retention_days,
        "entries": seqs.len(),
        "first": entry_id(first),
        "last": entry_id(last),
        "written_at": now.to_rfc3339_opts(SecondsFormat::Secs, true),
    }))?;
    let writer = Writer::create(&partial).map_err(io)?;
    let written = fill(writer, header, store, &seqs, (size, &checkpoint.head.root), dir, stopping)
        .await
        .and_then(|sha256| publish(&partial, &dir.join(&file)).map(|()| sha256).map_err(io));
    match written {
        Ok(sha256) => Ok(Some(Archive { file, sha256, entries: seqs.len() as u64, below: size })),
        Err(e) => {
            // What was written of it goes: a partial archive is no archive.
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Writes the header and every entry's line, and ends the file: its SHA-256.
async fn fill(
    mut writer: Writer,
    header: Vec<u8>,
    store: &Store,
    seqs: &[u64],
    (size, root): (u64, &[u8; 32]),
    dir: &Path,
    stopping: &(dyn Fn() -> bool + Sync),
) -> Result<String, ArchiveError> {
    let io = |source: std::io::Error| ArchiveError::Io { dir: dir.display().to_string(), source };
    writer = writer.line(header).await.map_err(io)?;
    for batch in batches(seqs) {
        if stopping() {
            return Err(ArchiveError::Stopped);
        }
        let lines = proven_lines(store, batch, size, root).await?;
        writer = writer.lines(lines).await.map_err(io)?;
    }
    writer.finish().await.map_err(io)
}

/// The batches of sequence numbers read together: at most [`BATCH`], spanning at most
/// [`SPAN`].
fn batches(seqs: &[u64]) -> Vec<&[u64]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=seqs.len() {
        let end = i == seqs.len() || i - start == BATCH || seqs[i] - seqs[start] >= SPAN;
        if end {
            out.push(&seqs[start..i]);
            start = i;
        }
    }
    out
}

/// The archive's lines for one batch: each entry with its inclusion proof in the tree of
/// `size` entries.
async fn proven_lines(store: &Store, batch: &[u64], size: u64, root: &[u8; 32]) -> Result<Vec<u8>, ArchiveError> {
    let (first, last) = (batch[0], batch[batch.len() - 1]);
    let span = u32::try_from(last - first + 1).unwrap_or(u32::MAX);
    let read = store.log.entries_after(first - 1, span).await?;
    let entries: Vec<_> = read.into_iter().filter(|e| batch.binary_search(&e.sequence).is_ok()).collect();
    if entries.len() != batch.len() {
        return Err(StoreError::Conflict(format!(
            "{} of the entries from {} to {} to archive could not be read (another purge ran?)",
            batch.len() - entries.len(),
            entry_id(first),
            entry_id(last)
        ))
        .into());
    }
    let indexes: Vec<u64> = entries.iter().map(|e| e.sequence - 1).collect();
    let proofs = inclusion_proofs(store.tree.as_ref(), size, &indexes).await?;
    let root = b64(root);
    let mut out = Vec::with_capacity(entries.len() * 1600);
    for (entry, proof) in entries.into_iter().zip(proofs) {
        let view = InclusionProofView {
            id: entry_id(entry.sequence),
            leaf_index: entry.sequence - 1,
            leaf_hash: b64(&entry_leaf_hash(&entry)),
            tree_size: size,
            root: root.clone(),
            proof: proof.iter().map(b64).collect(),
            // One copy, in the first line.
            checkpoint: None,
        };
        serde_json::to_writer(&mut out, &EntryWithProof { entry, inclusion_proof: Some(view) })?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Gives the finished file its name, never over another file, and makes the name durable.
fn publish(partial: &Path, done: &Path) -> std::io::Result<()> {
    std::fs::hard_link(partial, done)?;
    std::fs::remove_file(partial)?;
    if let Some(dir) = done.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Collects the sequence numbers a scan hands over.
struct Sequences {
    seqs: Vec<u64>,
    done: Option<tokio::sync::oneshot::Sender<Vec<u64>>>,
}

impl ScanSink for Sequences {
    fn entry(&mut self, entry: &RawEntry<'_>) -> bool {
        self.seqs.push(entry.sequence);
        true
    }

    fn end(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(std::mem::take(&mut self.seqs));
        }
    }

    fn wants_hashes(&self) -> bool {
        false
    }
}

/// The gzip file being written, hashed as it goes; moved to a blocking thread for each
/// write (compressing is CPU work, writing is I/O).
struct Writer {
    gzip: GzEncoder<Hashing<BufWriter<File>>>,
}

impl Writer {
    fn create(path: &PathBuf) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        // The log's entries: readable by the server's user alone.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        let hashing = Hashing { inner: BufWriter::with_capacity(1 << 20, file), sha256: Sha256::new() };
        Ok(Writer { gzip: GzEncoder::new(hashing, flate2::Compression::default()) })
    }

    async fn line(self, mut json: Vec<u8>) -> std::io::Result<Self> {
        json.push(b'\n');
        self.lines(json).await
    }

    async fn lines(mut self, bytes: Vec<u8>) -> std::io::Result<Self> {
        tokio::task::spawn_blocking(move || {
            self.gzip.write_all(&bytes)?;
            Ok(self)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Ends the gzip stream and syncs the file: the file's SHA-256.
    async fn finish(self) -> std::io::Result<String> {
        tokio::task::spawn_blocking(move || {
            let mut hashing = self.gzip.finish()?;
            hashing.flush()?;
            let file = hashing.inner.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            Ok(hex::encode(hashing.sha256.finalize()))
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    sha256: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn batches_hold_at_most_so_many_entries_over_so_wide_a_span() {
        let seqs: Vec<u64> = (1..=4_500).chain([20_000, 20_001, 50_000]).collect();
        let sizes: Vec<(u64, u64, usize)> =
            super::batches(&seqs).iter().map(|b| (b[0], b[b.len() - 1], b.len())).collect();
        assert_eq!(
            sizes,
            [(1, 2_000, 2_000), (2_001, 4_000, 2_000), (4_001, 4_500, 500), (20_000, 20_001, 2), (50_000, 50_000, 1)]
        );
        assert!(super::batches(&[]).is_empty());
    }
}
