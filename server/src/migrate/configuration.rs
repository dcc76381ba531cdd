//! What a store holds besides its log, copied by `migrate-store` once the entries are:
//! settings, cloud subscriptions, delivery destinations (their secrets, and their cursors so
//! that nothing is delivered twice or skipped), alert rules (the destinations they name
//! given the target's ids), the alert evaluator's cursor and the signed checkpoints. Each is
//! matched by its name (a setting's, a destination's, a rule's), its id (a subscription's)
//! or its tree size (a checkpoint's): a copy run again adds only what the target lacks, and
//! never replaces what was changed on the target after the move.

use app::store::{AlertStore, DeliveryStore, PgStore, SettingsStore, Store, StoreError, TreeStore};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Checkpoints read from the source at a time.
const CHECKPOINTS: u32 = 500;

/// What a copy of the configuration added to the target.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CopiedConfiguration {
    pub settings: usize,
    pub subscriptions: usize,
    pub destinations: usize,
    pub alert_rules: usize,
    pub checkpoints: usize,
}

/// Copies into `target` the configuration of `source` it lacks.
pub async fn copy(source: &Store, target: &PgStore, now: DateTime<Utc>) -> Result<CopiedConfiguration, StoreError> {
    let mut copied = CopiedConfiguration::default();

    let theirs: HashMap<String, String> = target.settings().await?.into_iter().collect();
    for (name, value) in source.settings.settings().await? {
        if !theirs.contains_key(&name) {
            target.put_setting(&name, &value, now).await?;
            copied.settings += 1;
        }
    }
    for subscription in source.settings.subscriptions().await? {
        copied.subscriptions += usize::from(target.add_subscription(&subscription).await?);
    }

    // The target gives destinations its own ids: the rules' references follow them.
    let by_name: HashMap<String, i64> =
        target.destinations().await?.into_iter().map(|d| (d.name.to_lowercase(), d.id)).collect();
    let mut ids: HashMap<i64, i64> = HashMap::new();
    for destination in source.delivery.destinations().await? {
        let id = match by_name.get(&destination.name.to_lowercase()) {
            Some(id) => *id,
            None => {
                let cursor = source.delivery.delivery_cursor(destination.id).await?.unwrap_or(0);
                let Some(made) = target.create_destination(&destination, cursor).await? else { continue };
                copied.destinations += 1;
                made.id
            }
        };
        ids.insert(destination.id, id);
    }

    let rules = target.rules().await?;
    for rule in source.alerts.rules().await? {
        let mut config = rule.config.clone();
        config.destinations = config.destinations.iter().filter_map(|id| ids.get(id).copied()).collect();
        if rule.builtin {
            // The target has its own built-in rule: it takes the source's settings, unless
            // it was changed on the target since it was made.
            if let Some(own) = rules.iter().find(|r| r.builtin && r.version == 1) {
                if own.config != config || own.name != rule.name {
                    target
                        .update_rule(own.id, own.version, &rule.name, &config, rule.updated_at, &rule.updated_by)
                        .await?;
                    copied.alert_rules += 1;
                }
            }
            continue;
        }
        if rules.iter().any(|r| r.name.eq_ignore_ascii_case(&rule.name)) {
            continue;
        }
        if target.create_rule(&rule.name, &config, rule.created_at, &rule.created_by).await?.is_some() {
            copied.alert_rules += 1;
        }
    }
    // Alerts go on from where the source's evaluator was, not from the head of the copy.
    if let (Some(cursor), None) =
        (source.alerts.job_cursor(app::alerting::JOB).await?, target.job_cursor(app::alerting::JOB).await?)
    {
        target.move_job_cursor(app::alerting::JOB, None, cursor).await?;
    }

    // The checkpoints signed so far: a copy restored from an older state is still caught.
    let mut after = 0;
    loop {
        let page = source.tree.checkpoints_after(after, CHECKPOINTS).await?;
        let Some(last) = page.last().map(|c| c.head.size) else { break };
        for checkpoint in &page {
            copied.checkpoints += usize::from(target.add_checkpoint(checkpoint).await?);
        }
        after = last;
    }
    Ok(copied)
}
