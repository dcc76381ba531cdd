//! Writing a pack: every file's digest into the manifest, the manifest's digest signed,
//! then the zip (deflated; dated when the pack was generated, so the same pack is the
//! same bytes).

use super::*;
use app::checkpoint::{CheckpointError, LogKey};
use chrono::{DateTime, Datelike, Timelike, Utc};
use std::io::Write;
use thiserror::Error;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

#[derive(Debug, Error)]
pub enum PackError {
    #[error("the pack's manifest could not be signed: {0}")]
    Sign(#[from] CheckpointError),
    #[error("the pack could not be written: {0}")]
    Zip(String),
}

/// What a pack holds besides what is derived from it (the key files, the README, the
/// scripts, the digests and the signature).
pub struct PackContents {
    pub pdf: Vec<u8>,
    pub csv: Vec<u8>,
    pub json: Vec<u8>,
    /// The signed note every proof in `json` is against.
    pub checkpoint_note: String,
    /// The manifest without its `files`, which are filled in here.
    pub manifest: Manifest,
    pub generated_at: DateTime<Utc>,
}

/// The pack's zip.
pub fn write_pack(contents: PackContents, key: &LogKey) -> Result<Vec<u8>, PackError> {
    let PackContents { pdf, csv, json, checkpoint_note, mut manifest, generated_at } = contents;
    let readme = readme(&manifest);
    let verifier_key = format!("{}\n", key.verifier_key());
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        (README, readme.into_bytes()),
        (REPORT, pdf),
        (CSV, csv),
        (JSON, json),
        (CHECKPOINT, checkpoint_note.into_bytes()),
        (PUBLIC_KEY_PEM, key.public_key_pem().into_bytes()),
        (VERIFIER_KEY, verifier_key.into_bytes()),
    ];
    files.extend(SCRIPTS.iter().map(|(name, text)| (*name, text.as_bytes().to_vec())));
    manifest.files = files.iter().map(|(name, bytes)| ((*name).to_owned(), sha256_hex(bytes))).collect();
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| PackError::Zip(e.to_string()))?;
    manifest_bytes.push(b'\n');
    let signature = key.sign_text(&manifest_note_text(&manifest_bytes))?;
    files.push((MANIFEST, manifest_bytes));
    files.push((MANIFEST_SIG, signature.into_bytes()));

    let zip_time = zip::DateTime::from_date_and_time(
        u16::try_from(generated_at.year()).unwrap_or(1980),
        generated_at.month() as u8,
        generated_at.day() as u8,
        generated_at.hour() as u8,
        generated_at.minute() as u8,
        generated_at.second() as u8,
    )
    .unwrap_or_default();
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(zip_time)
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let failed = |e: &dyn std::fmt::Display| PackError::Zip(e.to_string());
    for (name, bytes) in &files {
        zip.start_file(*name, options).map_err(|e| failed(&e))?;
        zip.write_all(bytes).map_err(|e| failed(&e))?;
    }
    Ok(zip.finish().map_err(|e| failed(&e))?.into_inner())
}

/// The README: what the pack is and three ways to check it.
fn readme(manifest: &Manifest) -> String {
    let cp = &manifest.checkpoint;
    let filters = if manifest.filters.labels.is_empty() {
        "none: every entry".to_owned()
    } else {
        manifest.filters.labels.join("; ")
    };
    format!(
        "CertifyClouds Audit evidence pack
==================================

Generated {at} by {by}.
Period:  {period}
Filters: {filters}
Entries: {count}

Every entry in this pack is proven to belong to the log whose signed checkpoint is
checkpoint.txt: {size} entries, root {root}, signed by {origin} with key {key_id}
at {signed_at}. A filtered pack proves its entries without holding the rest of the log.

Files
  report.pdf         the report (entries, summary, integrity facts, compliance view)
  entries.csv        the same entries, one row each
  entries.json       the same entries as the API serves them, each with its RFC 6962
                     inclusion proof (inclusion_proof) against checkpoint.txt
  checkpoint.txt     the signed checkpoint (C2SP tlog-checkpoint, signed-note format)
  public-key.pem     the log's Ed25519 public key (for openssl)
  verifier-key.txt   the same key as signed-note tools take it
  manifest.json      the SHA-256 of every file above, the filters, period and counts
  manifest.sig       a signed note of the manifest's SHA-256, by the log's key
  verify_pack.py     a verifier in 100 lines of Python (standard library), with
  ed25519.py         the Ed25519 check it uses (RFC 8032)

Trust nothing in the pack until it is checked against the log's key taken from
elsewhere: GET /audit/integrity/public-key (verifier_key and public_key_pem), the
Integrity page, or a copy you were given before. Key id {key_id} signed this pack.
Prefer the verifiers you have already (the certifyclouds program, or verify_pack.py
and ed25519.py from docs/ of the CertifyClouds sources, which these copies must equal):
a forger could replace the copies in the pack.

1. With CertifyClouds:
     certifyclouds verify-pack THIS.zip --verifier-key '<the log's verifier key>'
2. With Python 3 alone, in a directory holding verify_pack.py and ed25519.py:
     python3 verify_pack.py THIS.zip '<the log's verifier key>'
3. The signature by hand, with OpenSSL 3 (after unzipping the pack). First check that
   public-key.pem is the log's published public_key_pem, then:
     sed -n 4p manifest.sig | cut -d' ' -f3 | base64 -d | tail -c 64 > sig.bin
     head -n 2 manifest.sig > signed.txt
     openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in signed.txt -sigfile sig.bin
     sha256sum manifest.json     (must be the sha256 line of manifest.sig)
   then compare each file's sha256sum with manifest.json's \"files\".

Any changed byte makes the check fail and names the file. See docs/integrity.md.
",
        at = manifest.generated_at,
        by = manifest.generated_by,
        period = manifest.period,
        count = manifest.entries.count,
        size = cp.size,
        root = cp.root,
        origin = cp.origin,
        key_id = cp.key_id,
        signed_at = cp.signed_at,
    )
}
