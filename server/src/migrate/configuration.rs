//! What a store holds besides its log, carried over by `migrate-store` once the entries are
//! copied and verified: its configuration tables mirrored row for row, ids included
//! ([`app::store::mirror_configuration`]: settings, cloud subscriptions, delivery
//! destinations with their secrets and whole delivery state, alert rules, the cursors of
//! the jobs that follow the log), and its signed checkpoints added up to the head the copy
//! verified. A target the copy accepts holds no entry of its own (see `resume_point`), so
//! nobody changed its configuration: each run replaces it, and the last one carries over
//! what changed on the source since the first.

use app::store::{Mirrored, PgStore, Store, StoreError, TreeStore};

/// Checkpoints read from the source at a time.
const CHECKPOINTS: u32 = 500;

/// What a copy of the configuration put on the target.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CopiedConfiguration {
    /// The rows mirrored, by kind.
    pub mirrored: Mirrored,
    /// Checkpoints added (those already there are not counted again).
    pub checkpoints: usize,
}

/// Mirrors the configuration of the store at `source_url` onto the PostgreSQL database at
/// `target_url`, and adds the source's checkpoints of trees up to `head` entries.
pub async fn copy(
    source: &Store,
    source_url: &str,
    target: &PgStore,
    target_url: &str,
    head: u64,
) -> Result<CopiedConfiguration, StoreError> {
    let mirrored = app::store::mirror_configuration(source_url, target_url, head).await?;
    let mut copied = CopiedConfiguration { mirrored, checkpoints: 0 };
    // A checkpoint of more entries than the copy holds (the source went on meanwhile) is
    // left for the next run: the target's log must reach it first.
    let mut after = 0;
    'pages: loop {
        let page = source.tree.checkpoints_after(after, CHECKPOINTS).await?;
        let Some(last) = page.last().map(|c| c.head.size) else { break };
        for checkpoint in &page {
            if checkpoint.head.size > head {
                break 'pages;
            }
            copied.checkpoints += usize::from(target.add_checkpoint(checkpoint).await?);
        }
        after = last;
    }
    Ok(copied)
}
