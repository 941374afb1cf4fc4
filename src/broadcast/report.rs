//! [`Report`]: what a broadcast did, for people (a few lines) and for scripts (one JSON
//! object, every reason key always present; broadcast.md, "Command line").

use std::fmt;

use super::eligibility::Judgement;
use crate::engine::{Figures, Job};

/// A broadcast's state and figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub job: String,
    /// `preview`, `sending`, `done` or `failed`.
    pub state: String,
    /// Why the job failed, when it did, or why a run stopped with the job left
    /// `sending` (a full outbox disk).
    pub reason: Option<String>,
    pub figures: Figures,
}

impl Report {
    /// The report of a job.
    pub fn of(job: &Job) -> Report {
        let reason = match &job.state {
            super::JobState::Failed(why) => Some(why.clone()),
            _ => None,
        };
        Report {
            job: job.id.clone(),
            state: job.state.name().to_string(),
            reason,
            figures: job.figures.clone(),
        }
    }

    /// The report of a preview (nothing sent).
    pub fn preview(job: &str, judgement: &Judgement) -> Report {
        Report {
            job: job.to_string(),
            state: "preview".into(),
            reason: None,
            figures: judgement.figures(),
        }
    }

    /// Whether the job is done with nothing failed (exit status 0).
    pub fn succeeded(&self) -> bool {
        matches!(self.state.as_str(), "done" | "preview") && self.figures.failed == 0
    }

    /// The report as the JSON object scripts read.
    pub fn json(&self) -> serde_json::Value {
        let excluded: serde_json::Map<String, serde_json::Value> =
            (self.figures.excluded.by_reason().iter())
                .map(|(reason, n)| (reason.to_string(), (*n).into()))
                .collect();
        let mut object = serde_json::json!({
            "job": self.job,
            "state": self.state,
            "audience": self.figures.audience,
            "eligible": self.figures.eligible,
            "excluded": excluded,
            "sent": self.figures.sent,
            "failed": self.figures.failed,
            "uncertain": self.figures.uncertain,
        });
        if let Some(map) = object.as_object_mut() {
            if let Some(reason) = &self.reason {
                map.insert("reason".into(), reason.clone().into());
            }
            if !self.figures.failures.is_empty() {
                map.insert("failures".into(), serde_json::json!(self.figures.failures));
            }
        }
        object
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "job {}: {}", self.job, self.state)?;
        if let Some(reason) = &self.reason {
            writeln!(f, "  stopped: {reason}")?;
        }
        writeln!(
            f,
            "  audience {}, eligible {}",
            self.figures.audience, self.figures.eligible
        )?;
        let excluded: Vec<String> = (self.figures.excluded.by_reason().iter())
            .filter(|(_, n)| *n > 0)
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        if !excluded.is_empty() {
            writeln!(f, "  excluded: {}", excluded.join(", "))?;
        }
        writeln!(
            f,
            "  sent {}, failed {}, uncertain {}",
            self.figures.sent, self.figures.failed, self.figures.uncertain
        )?;
        for (why, n) in &self.figures.failures {
            writeln!(f, "  failed ({n}): {why}")?;
        }
        Ok(())
    }
}
