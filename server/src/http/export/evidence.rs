//! `format=evidence`: the evidence pack ([`crate::evidence`]). The proofs are against the
//! latest signed checkpoint when it covers every entry the export reads; otherwise one is
//! signed first (as the checkpoint job would within minutes: it states the log as it is),
//! so that the pack never leaves out the newest entries. The scan then lays out the report
//! and writes the CSV and keeps the entries as it reads them; the inclusion proofs are
//! read in batches, and the pack is built off the runtime and sent whole, like a PDF,
//! under the same cap and holding the same turns until it is built.

use super::csv::Csv;
use super::pdf::{Report, ReportMeta, Section};
use super::stream::RowFormat;
use super::trace::ExportTrace;
use crate::evidence::{self, Manifest, ManifestCheckpoint, ManifestEntries, ManifestFilters, PackContents};
use crate::http::error::ApiError;
use crate::state::AppState;
use app::checkpoint::{b64, checkpoint_now, CheckpointError, Signing};
use app::compliance::ComplianceView;
use app::entry::{entry_id, AuditEntry};
use app::export::{ExportFormat, PDF_MAX_ENTRIES};
use app::filter::{EntryFilter, EntryQuery};
use app::integrity::entry_leaf_hash;
use app::proof::{EntryWithProof, InclusionProofView};
use app::store::{inclusion_proofs, RawEntry, ScanSink, StoreError, StoredCheckpoint};
use axum::body::Body;
use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::{oneshot, OwnedSemaphorePermit};

/// Proofs read at once: their rows in one query of a few thousand.
const PROOF_BATCH: usize = 2_000;

/// What the request asked for, besides the filter.
pub(super) struct Asked {
    pub query: EntryQuery,
    /// The newest entry the export reads.
    pub snapshot: u64,
    /// The query string without `format`.
    pub filters: String,
    pub meta: ReportMeta,
}

/// The pack for the entries `filter` matches, up to the trace's snapshot.
pub(super) async fn body(
    state: &AppState,
    filter: EntryFilter,
    asked: Asked,
    trace: ExportTrace,
    turns: [OwnedSemaphorePermit; 2],
) -> Result<Body, ApiError> {
    let built = build(state, filter, asked, turns).await;
    super::send_whole(built, trace, ExportFormat::Evidence).await
}

async fn build(
    state: &AppState,
    filter: EntryFilter,
    asked: Asked,
    turns: [OwnedSemaphorePermit; 2],
) -> Result<Option<(Vec<u8>, u64)>, ApiError> {
    let Asked { query, snapshot, filters, meta } = asked;
    let signing = state.signing.clone();
    let checkpoint = match state.tree.latest_checkpoint().await? {
        Some(latest) if latest.head.size >= snapshot && signing.key.open(&latest.note).is_ok() => latest,
        _ => {
            checkpoint_now(state.tree.as_ref(), &signing.key, &signing.policy, Utc::now())
                .await
                .map_err(refused)?
                .checkpoint
        }
    };
    let compliance = app::compliance::api::build(&state.store, query.start_date.clone(), query.end_date.clone())
        .await
        .map_err(|e| ApiError::Report(format!("the compliance view could not be built: {e}")))?;
    let generated_at = meta.generated_at;
    let manifest = Manifest {
        format: evidence::FORMAT.to_owned(),
        generated_at: generated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        generated_by: meta.generated_by.clone(),
        period: meta.period.clone(),
        filters: ManifestFilters { query: filters, labels: meta.filters.clone() },
        entries: ManifestEntries { count: 0, first: None, last: None },
        checkpoint: ManifestCheckpoint {
            origin: signing.key.origin().to_owned(),
            key_id: signing.key.key_id(),
            size: checkpoint.head.size,
            root: b64(&checkpoint.head.root),
            signed_at: checkpoint.signed_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        },
        files: Default::default(),
    };
    let sections = vec![integrity_section(&signing, &checkpoint), compliance_section(&compliance)];

    let (done, read) = oneshot::channel();
    let sink = PackSink {
        report: Some(Report::new(meta)?.with_sections(sections)),
        csv: Csv.head(),
        entries: Vec::new(),
        failed: None,
        limit: PDF_MAX_ENTRIES,
        done: Some(done),
    };
    let rows = state.log.scan(&filter, Box::new(sink)).await?;
    let Ok(scanned) = read.await else { return Ok(None) };
    let Scanned { report, csv, entries } = scanned?;

    let proofs = proofs(state, &entries, checkpoint.head.size).await?;
    let manifest = Manifest {
        entries: ManifestEntries {
            count: entries.len() as u64,
            first: entries.first().map(|e| entry_id(e.sequence)),
            last: entries.last().map(|e| entry_id(e.sequence)),
        },
        ..manifest
    };
    // Hashing the leaves, writing the JSON, laying out the pages and deflating the files
    // is CPU work: off the runtime, still holding the export's turns.
    let zip = tokio::task::spawn_blocking(move || {
        let _turns = turns;
        let json = proven(&entries, proofs, &checkpoint)?;
        let pdf = report.finish()?;
        let note = checkpoint.note;
        evidence::write_pack(
            PackContents { pdf, csv: csv.into_bytes(), json, checkpoint_note: note, manifest, generated_at },
            &signing.key,
        )
        .map_err(|e| ApiError::Report(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::Report(format!("the evidence pack could not be built: {e}")))??;
    Ok(Some((zip, rows)))
}

/// Each entry's inclusion proof in the tree of `size` entries, read in batches.
async fn proofs(state: &AppState, entries: &[AuditEntry], size: u64) -> Result<Vec<Vec<[u8; 32]>>, ApiError> {
    let mut proofs = Vec::with_capacity(entries.len());
    for batch in entries.chunks(PROOF_BATCH) {
        let indexes: Vec<u64> = batch.iter().map(|e| e.sequence - 1).collect();
        proofs.extend(inclusion_proofs(state.tree.as_ref(), size, &indexes).await?);
    }
    Ok(proofs)
}

/// `entries.json`: each entry as the API serves it with its inclusion proof against the
/// checkpoint, one a line, in an array.
fn proven(
    entries: &[AuditEntry],
    proofs: Vec<Vec<[u8; 32]>>,
    checkpoint: &StoredCheckpoint,
) -> Result<Vec<u8>, ApiError> {
    let size = checkpoint.head.size;
    let root = b64(&checkpoint.head.root);
    let mut out = Vec::with_capacity(entries.len() * 1536 + 4);
    out.push(b'[');
    for (i, (entry, proof)) in entries.iter().zip(proofs).enumerate() {
        let with = EntryWithProof {
            entry: entry.clone(),
            inclusion_proof: Some(InclusionProofView {
                id: entry_id(entry.sequence),
                leaf_index: entry.sequence - 1,
                leaf_hash: b64(&entry_leaf_hash(entry)),
                tree_size: size,
                root: root.clone(),
                proof: proof.iter().map(b64).collect(),
                // One copy, in checkpoint.txt.
                checkpoint: None,
            }),
        };
        out.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        serde_json::to_writer(&mut out, &with).map_err(|e| {
            ApiError::Store(StoreError::Corrupt { seq: entry.sequence, reason: format!("cannot be serialised: {e}") })
        })?;
    }
    out.extend_from_slice(if entries.is_empty() { b"]\n" } else { b"\n]\n" });
    Ok(out)
}

/// The report's page on the pack's integrity: the checkpoint, the key, how to check.
fn integrity_section(signing: &Signing, checkpoint: &StoredCheckpoint) -> Section {
    let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    Section {
        heading: "Integrity".to_owned(),
        intro: "Every entry of this report is in the signed checkpoint below: entries.json in this pack holds each \
                one's RFC 6962 inclusion proof against it, and manifest.sig signs the digest of every file. \
                README.txt says how to check the pack offline."
            .to_owned(),
        facts: vec![
            ("Log (origin)".to_owned(), signing.key.origin().to_owned()),
            (
                "Checkpoint".to_owned(),
                format!("{} entries, signed at {}", checkpoint.head.size, at(checkpoint.signed_at)),
            ),
            ("Root hash (SHA-256, base64)".to_owned(), b64(&checkpoint.head.root)),
            ("Signing key".to_owned(), format!("Ed25519, key id {}", signing.key.key_id())),
            ("Verifier key".to_owned(), signing.key.verifier_key().to_owned()),
        ],
    }
}

/// The compliance view for the report's period.
fn compliance_section(view: &ComplianceView) -> Section {
    let period = match (view.start_date.as_str(), view.end_date.as_str()) {
        ("", "") => "the whole log".to_owned(),
        ("", end) => format!("the log up to {end}"),
        (start, "") => format!("{start} onwards"),
        (start, end) => format!("{start} to {end}"),
    };
    Section {
        heading: "Compliance view".to_owned(),
        intro: format!(
            "The controls of SOC 2, ISO 27001 and NIST 800-53 that ask for audit logging, with the evidence this log \
             holds for {period}."
        ),
        facts: view
            .controls
            .iter()
            .map(|c| {
                let evidence: Vec<String> = c.evidence.iter().map(|e| format!("{}: {}", e.label, e.found)).collect();
                (format!("{} {}: {}", c.framework, c.id, c.title), evidence.join("\n"))
            })
            .collect(),
    }
}

/// A checkpoint that cannot be signed refuses the pack: its proofs would have nothing to
/// stand on.
fn refused(e: CheckpointError) -> ApiError {
    match e {
        e @ (CheckpointError::Empty | CheckpointError::WrongKey(_) | CheckpointError::Diverged(_)) => {
            tracing::error!(error = %e, "no checkpoint for an evidence pack");
            ApiError::BadRequest {
                status: StatusCode::CONFLICT,
                message: format!("no evidence pack: its checkpoint could not be signed: {e}"),
            }
        }
        e => ApiError::Report(e.to_string()),
    }
}

/// What the scan hands over: the report laid out, the CSV and the entries.
struct Scanned {
    report: Report,
    csv: String,
    entries: Vec<AuditEntry>,
}

/// Lays out, writes and keeps each entry as the scan reads it (on the scan's thread).
struct PackSink {
    report: Option<Report>,
    csv: String,
    entries: Vec<AuditEntry>,
    failed: Option<StoreError>,
    /// The cap, checked again here: entries may arrive after they were counted.
    limit: u64,
    done: Option<oneshot::Sender<Result<Scanned, ApiError>>>,
}

impl ScanSink for PackSink {
    fn entry(&mut self, raw: &RawEntry<'_>) -> bool {
        let index = self.entries.len() as u64;
        if index >= self.limit || self.done.as_ref().is_none_or(|done| done.is_closed()) {
            return false;
        }
        let entry = match raw.to_entry().and_then(|entry| Csv.row(&mut self.csv, raw, index).map(|()| entry)) {
            Ok(entry) => entry,
            Err(e) => {
                self.failed = Some(e);
                return false;
            }
        };
        if let Some(report) = &mut self.report {
            report.push(raw);
        }
        self.entries.push(entry);
        true
    }

    fn end(&mut self) {
        if let (Some(report), Some(done)) = (self.report.take(), self.done.take()) {
            let scanned =
                Scanned { report, csv: std::mem::take(&mut self.csv), entries: std::mem::take(&mut self.entries) };
            let _ = done.send(Ok(scanned));
        }
    }

    fn wants_hashes(&self) -> bool {
        false
    }
}

impl Drop for PackSink {
    /// A scan stopped by a damaged entry says so; one stopped by the cap or a client
    /// that went away drops the sender, and the pack is not made.
    fn drop(&mut self) {
        if let (Some(e), Some(done)) = (self.failed.take(), self.done.take()) {
            let _ = done.send(Err(ApiError::Store(e)));
        }
    }
}
