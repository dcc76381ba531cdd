//! Checking a pack offline. Each step trusts only what the steps before it proved, and a
//! failure names the file that does not hold:
//! 1. every file reads whole from the zip (its CRC holds);
//! 2. `manifest.sig` verifies with the key (the one given, else the pack's own);
//! 3. `manifest.json` has the SHA-256 the signature states;
//! 4. every other file has the SHA-256 the manifest lists, and none is missing or added;
//! 5. `checkpoint.txt` verifies with the key and is the manifest's checkpoint;
//! 6. every entry of `entries.json` hashes to the leaf of its proof, and the proof leads
//!    to the checkpoint's root; the count and the ids are the manifest's.

use super::*;
use app::checkpoint::{b64, check_verifier_key, open_note, open_signed_text};
use app::entry::entry_id;
use app::integrity::{check_inclusion, entry_leaf_hash, TreeHead};
use app::proof::EntryWithProof;
use base64::Engine;
use std::io::Read;
use thiserror::Error;

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PackProblem {
    #[error("the pack is not a readable zip: {0}")]
    NotAZip(String),
    #[error("the verifier key given is not one: {0}")]
    BadKey(String),
    /// What is wrong, and the file it is in.
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
}

/// What a pack that holds proves.
#[derive(Debug)]
pub struct PackCheck {
    pub manifest: Manifest,
    pub checkpoint: TreeHead,
    /// The verifier key the pack was checked with.
    pub verifier_key: String,
    /// Whether that key was given by the caller (otherwise: the pack's own, which proves
    /// only that the pack is whole, not whose log it is).
    pub key_given: bool,
}

fn problem(file: &str, reason: impl Into<String>) -> PackProblem {
    PackProblem::File { file: file.to_owned(), reason: reason.into() }
}

/// Checks the pack in `bytes` with `verifier_key` (`<origin>+<id>+<key>`) or, without
/// one, the key the pack names.
pub fn verify_pack(bytes: &[u8], verifier_key: Option<&str>) -> Result<PackCheck, PackProblem> {
    let files = read_all(bytes, MAX_UNZIPPED)?;
    let file = |name: &str| files.get(name).ok_or_else(|| problem(name, "missing from the pack"));
    let text = |name: &str| {
        file(name).and_then(|b| std::str::from_utf8(b).map_err(|_| problem(name, "is not UTF-8 text: it was changed")))
    };
    let own_key = text(VERIFIER_KEY).map(|k| k.trim().to_owned());
    let (key, key_given): (String, bool) = match verifier_key {
        Some(key) => {
            check_verifier_key(key.trim()).map_err(|e| PackProblem::BadKey(e.to_string()))?;
            (key.trim().to_owned(), true)
        }
        None => {
            let own = own_key.clone()?;
            check_verifier_key(&own).map_err(|e| problem(VERIFIER_KEY, format!("is not a verifier key: {e}")))?;
            (own, false)
        }
    };

    // 2 and 3: the signature, then the manifest it signs.
    let signed = open_signed_text(text(MANIFEST_SIG)?, &key).map_err(|e| match &own_key {
        Ok(own) if key_given && *own != key => {
            problem(VERIFIER_KEY, format!("the pack was signed by {own}, not by the key given ({key})"))
        }
        _ => problem(MANIFEST_SIG, format!("its signature does not verify: {e}")),
    })?;
    let manifest_bytes = file(MANIFEST)?;
    if signed.1 != manifest_note_text(manifest_bytes).as_bytes() {
        let shown = String::from_utf8_lossy(&signed.1).into_owned();
        return Err(if shown.starts_with(&format!("{MANIFEST_NOTE_TITLE}\nsha256 ")) {
            problem(MANIFEST, "changed: its SHA-256 is not the one manifest.sig signs")
        } else {
            problem(MANIFEST_SIG, "signs something other than a pack manifest")
        });
    }
    let manifest: Manifest = serde_json::from_slice(manifest_bytes)
        .map_err(|e| problem(MANIFEST, format!("is not a pack manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(problem(MANIFEST, format!("is of format '{}', not {FORMAT}", manifest.format)));
    }

    // 4: every file, and only those.
    for (name, digest) in &manifest.files {
        if sha256_hex(file(name)?) != *digest {
            return Err(problem(name, "changed: its SHA-256 is not the one the manifest lists"));
        }
    }
    if let Some(added) =
        files.keys().find(|name| !manifest.files.contains_key(*name) && *name != MANIFEST && *name != MANIFEST_SIG)
    {
        return Err(problem(added, "added: the manifest does not list it"));
    }
    let pem_key = public_key_of_pem(text(PUBLIC_KEY_PEM)?);
    let own_public = own_key.ok().and_then(|k| raw_key(&k));
    if pem_key.is_none() || pem_key != own_public {
        return Err(problem(PUBLIC_KEY_PEM, "is not the key of verifier-key.txt"));
    }

    // 5: the checkpoint.
    let checkpoint = open_note(text(CHECKPOINT)?, &key).map_err(|e| problem(CHECKPOINT, e.to_string()))?;
    let stated = &manifest.checkpoint;
    if checkpoint.size != stated.size || b64(&checkpoint.root) != stated.root {
        return Err(problem(CHECKPOINT, "is not the checkpoint the manifest names"));
    }

    // 6: every entry, in the tree the checkpoint signs.
    let entries: Vec<EntryWithProof> =
        serde_json::from_slice(file(JSON)?).map_err(|e| problem(JSON, format!("is not a list of entries: {e}")))?;
    check_entries(&entries, checkpoint).map_err(|reason| problem(JSON, reason))?;
    let ids = (entries.first().map(|e| entry_id(e.entry.sequence)), entries.last().map(|e| entry_id(e.entry.sequence)));
    if entries.len() as u64 != manifest.entries.count
        || ids != (manifest.entries.first.clone(), manifest.entries.last.clone())
    {
        return Err(problem(JSON, "does not hold the entries the manifest counts"));
    }
    Ok(PackCheck { manifest, checkpoint, verifier_key: key, key_given })
}

/// Each entry's leaf and proof against the checkpoint, each entry once (they come oldest
/// first by timestamp, which need not be sequence order).
fn check_entries(entries: &[EntryWithProof], checkpoint: TreeHead) -> Result<(), String> {
    let decode = |s: &str| -> Option<[u8; 32]> {
        base64::engine::general_purpose::STANDARD.decode(s).ok().and_then(|b| b.try_into().ok())
    };
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    for EntryWithProof { entry, inclusion_proof } in entries {
        let id = entry_id(entry.sequence);
        if !seen.insert(entry.sequence) {
            return Err(format!("{id} appears twice"));
        }
        let proof = inclusion_proof.as_ref().ok_or_else(|| format!("{id} has no inclusion proof"))?;
        if proof.leaf_index + 1 != entry.sequence || proof.tree_size != checkpoint.size {
            return Err(format!("{id}'s proof is for another leaf or tree"));
        }
        let leaf = entry_leaf_hash(entry);
        if decode(&proof.leaf_hash) != Some(leaf) {
            return Err(format!("{id} is not the entry its proof was made for: it was changed"));
        }
        let path: Option<Vec<[u8; 32]>> = proof.proof.iter().map(|h| decode(h)).collect();
        let path = path.ok_or_else(|| format!("{id}'s proof holds a hash that is not 32 bytes of base64"))?;
        if !check_inclusion(&path, proof.leaf_index, checkpoint.size, checkpoint.root, leaf) {
            return Err(format!("{id}'s proof does not lead to the checkpoint's root"));
        }
    }
    Ok(())
}

/// The most a pack may unzip to, and the most files it may hold: a pack of 50,000
/// entries is well under both, and a zip bomb is refused before it fills the memory.
const MAX_UNZIPPED: u64 = 1 << 30;
const MAX_FILES: usize = 64;

/// Every file of the zip, read whole (a damaged one fails its CRC and is named), at most
/// `max_unzipped` bytes in all.
fn read_all(bytes: &[u8], max_unzipped: u64) -> Result<BTreeMap<String, Vec<u8>>, PackProblem> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| PackProblem::NotAZip(e.to_string()))?;
    if zip.len() > MAX_FILES {
        return Err(PackProblem::NotAZip(format!("it holds {} files, more than a pack's {MAX_FILES}", zip.len())));
    }
    let mut files = BTreeMap::new();
    let mut room = max_unzipped;
    for i in 0..zip.len() {
        let member = zip.by_index(i).map_err(|e| PackProblem::NotAZip(e.to_string()))?;
        let name = member.name().map_err(|e| PackProblem::NotAZip(e.to_string()))?.into_owned();
        // The size the zip declares may lie: reading stops one byte past the room left.
        let mut content = Vec::new();
        member
            .take(room + 1)
            .read_to_end(&mut content)
            .map_err(|e| problem(&name, format!("damaged in the zip: {e}")))?;
        room = room
            .checked_sub(content.len() as u64)
            .ok_or_else(|| PackProblem::NotAZip(format!("it unzips to more than {max_unzipped} bytes: not a pack")))?;
        if files.insert(name.clone(), content).is_some() {
            return Err(problem(&name, "appears twice in the zip"));
        }
    }
    Ok(files)
}

/// The raw key of a verifier key (`<name>+<id>+<base64 of 0x01 ‖ key>`).
fn raw_key(verifier_key: &str) -> Option<[u8; 32]> {
    let encoded = verifier_key.splitn(3, '+').nth(2)?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    (bytes.first() == Some(&1)).then(|| bytes.get(1..)?.try_into().ok()).flatten()
}

/// The raw key of an Ed25519 SubjectPublicKeyInfo PEM (its last 32 bytes after the
/// fixed RFC 8410 prefix).
fn public_key_of_pem(pem: &str) -> Option<[u8; 32]> {
    const PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body.trim()).ok()?;
    (der.len() == 44 && der[..12] == PREFIX).then(|| der[12..].try_into().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_zip_that_unzips_past_the_limit_is_refused_unread() {
        // 64 MiB of zeros deflate to about 64 KiB: a small bomb against a 1 MiB limit.
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("README.txt", deflated).expect("starts");
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            zip.write_all(&zeros).expect("writes");
        }
        let bomb = zip.finish().expect("finishes").into_inner();
        assert!(bomb.len() < 1 << 20);
        let refused = read_all(&bomb, 1 << 20).expect_err("refused");
        assert!(refused.to_string().contains("more than 1048576 bytes"), "{refused}");
        assert_eq!(read_all(&bomb, 128 << 20).expect("within the limit")["README.txt"].len(), 64 << 20);
    }
}
