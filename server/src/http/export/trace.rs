//! An export leaves its trace before its data leaves: `audit.exported` (who asked, from
//! where, the format and the filters) is committed before the first byte is sent, and the
//! outcome (`audit.export.completed`, or `audit.export.aborted` with the rows and bytes
//! sent so far) when the transfer ends, however it ends. A client that takes the whole
//! file and hangs up still left the first record.

use super::super::error::ApiError;
use crate::metrics::Metrics;
use app::access::Caller;
use app::entry::entry_id;
use app::export::ExportFormat;
use app::ingest::ValidEntry;
use app::internal_event::{EventError, InternalEvent};
use app::store::AuditLog;
use chrono::Utc;
use std::sync::{Arc, OnceLock};

/// Why a transfer stopped early, when the server stopped it (a time limit) rather than
/// the client: set by the side that gives up, read when the outcome is recorded.
pub(super) type StopReason = Arc<OnceLock<&'static str>>;

pub(super) struct ExportTrace {
    log: Arc<dyn AuditLog>,
    metrics: Arc<Metrics>,
    caller: Caller,
    format: ExportFormat,
    /// The `audit.exported` entry that the outcome refers to.
    export_seq: u64,
    export_id: String,
    pub rows: u64,
    pub bytes: u64,
    ended: bool,
    stopped: StopReason,
}

impl ExportTrace {
    /// Records that the export starts; the export must not start if this fails.
    pub async fn start(
        log: Arc<dyn AuditLog>,
        metrics: Arc<Metrics>,
        caller: &Caller,
        format: ExportFormat,
        filters: &str,
    ) -> Result<Self, ApiError> {
        let entry = event("audit.exported", caller)
            .map(|e| {
                e.detail("format", format.as_str())
                    .detail("filters", filters)
                    .detail("exported_by", caller.principal.describe())
            })
            .and_then(|e| e.build(Utc::now()))
            .map_err(|e| ApiError::Report(e.to_string()))?;
        let receipt = log.append(vec![entry]).await?;
        let export_seq = receipt.sequences.first().copied().unwrap_or_default();
        Ok(ExportTrace {
            log,
            metrics,
            caller: caller.clone(),
            format,
            export_seq,
            export_id: entry_id(export_seq),
            rows: 0,
            bytes: 0,
            ended: false,
            stopped: StopReason::default(),
        })
    }

    /// Where the reading side says why it gave up, if it does.
    pub fn stop_reason(&self) -> StopReason {
        self.stopped.clone()
    }

    /// The newest entry before this export's own record: the export covers the log as it
    /// stood when it was asked for.
    pub fn snapshot(&self) -> u64 {
        self.export_seq.saturating_sub(1)
    }

    /// Records that every byte was handed over.
    pub async fn completed(mut self) {
        self.ended = true;
        record(self.log.clone(), self.outcome(None)).await;
        self.metrics.export(self.format.as_str(), "completed", self.bytes);
    }

    /// Records that the transfer stopped before its end.
    pub async fn aborted(mut self, reason: &str) {
        self.ended = true;
        record(self.log.clone(), self.outcome(Some(reason))).await;
        self.metrics.export(self.format.as_str(), "aborted", self.bytes);
    }

    /// The outcome's entry: completed, or aborted for a reason.
    fn outcome(&self, aborted: Option<&str>) -> Result<ValidEntry, EventError> {
        let event_type = if aborted.is_some() { "audit.export.aborted" } else { "audit.export.completed" };
        let mut event = event(event_type, &self.caller)?
            .detail("export_id", self.export_id.as_str())
            .detail("format", self.format.as_str())
            .detail("rows", self.rows)
            .detail("bytes", self.bytes);
        if let Some(reason) = aborted {
            event = event.detail("reason", reason);
        }
        event.build(Utc::now())
    }
}

/// An event about an export, by the caller, from where the caller asked.
fn event(event_type: &str, caller: &Caller) -> Result<InternalEvent, EventError> {
    Ok(InternalEvent::new(event_type)?
        .by(&caller.principal)
        .from(caller.ip.map(|ip| ip.to_string()), caller.user_agent.clone()))
}

async fn record(log: Arc<dyn AuditLog>, entry: Result<ValidEntry, EventError>) {
    let appended = match entry {
        Ok(entry) => log.append(vec![entry]).await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = appended {
        tracing::error!(error = %e, "could not record the outcome of an export in the audit log");
    }
}

impl Drop for ExportTrace {
    /// A transfer dropped before it ended: the client went away (or the server stopped
    /// waiting for it, and said why).
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let reason = self.stopped.get().copied().unwrap_or("the client went away");
        let entry = self.outcome(Some(reason));
        self.metrics.export(self.format.as_str(), "aborted", self.bytes);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(record(self.log.clone(), entry));
            }
            Err(_) => tracing::error!("an export was abandoned outside the runtime; its outcome is not recorded"),
        }
    }
}
