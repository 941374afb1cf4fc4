//! [`Report`]: what a broadcast did, for people (a few lines) and for scripts (one JSON
//! object, every reason key always present; broadcast.md, "Command line"). A sending
//! job's report also gives the recent rate per account and the time left at that rate.

use std::collections::BTreeMap;
use std::fmt;

use super::eligibility::Judgement;
use crate::engine::THROUGHPUT_WINDOW as WINDOW;
use crate::engine::{Figures, Job, JobState};
use crate::model::Seconds;

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
    /// A sending job's speed, once its log shows one.
    pub speed: Option<Speed>,
}

/// How fast a sending job goes lately (over the last 30 s of take-up time it logged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Speed {
    /// Recipients a second, per account.
    pub rates: BTreeMap<String, u64>,
    /// Seconds left at that rate (`None`: no recipient a second).
    pub eta: Option<u64>,
    /// When the latest logged batch was taken up.
    pub at: Seconds,
}

impl Speed {
    /// Recipients a second, every account together.
    pub fn rate(&self) -> u64 {
        self.rates.values().sum()
    }

    fn of(job: &Job) -> Option<Speed> {
        if job.state != JobState::Sending {
            return None;
        }
        let at = job.throughput.last()?;
        let rates = job.throughput.rates();
        if rates.is_empty() {
            return None;
        }
        let total: f64 = rates.values().sum();
        let f = &job.figures;
        let done = f.sent + f.failed + f.excluded.deleted + (job.eligible_at_start() - f.eligible);
        let left = job.eligible_at_start().saturating_sub(done);
        Some(Speed {
            rates: (rates.into_iter())
                .map(|(a, r)| (a, r.round() as u64))
                .collect(),
            eta: (total >= 0.5).then(|| (left as f64 / total).ceil() as u64),
            at,
        })
    }

    /// The speed as JSON fields: `rate`, `rates` per account, `eta_seconds`,
    /// `logged_at`.
    fn json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        map.insert("rate".into(), self.rate().into());
        map.insert("rates".into(), serde_json::json!(self.rates));
        map.insert("eta_seconds".into(), serde_json::json!(self.eta));
        let at = crate::model::time::format_rfc3339(self.at);
        map.insert("logged_at".into(), at.into());
        map
    }
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
            speed: Speed::of(job),
        }
    }

    /// When a sending job last logged a batch, if that was over 30 s before `now` (its
    /// run was stopped or killed, or is stuck): its speed is then no current rate, and
    /// is dropped.
    pub fn idle_since(&mut self, now: Seconds) -> Option<Seconds> {
        let at = self.speed.as_ref().map(|s| s.at)?;
        (now - at > WINDOW).then(|| {
            self.speed = None;
            at
        })
    }

    /// The report of a preview (nothing sent).
    pub fn preview(job: &str, judgement: &Judgement) -> Report {
        Report {
            job: job.to_string(),
            state: "preview".into(),
            reason: None,
            figures: judgement.figures(),
            speed: None,
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
            if let Some(speed) = &self.speed {
                map.extend(speed.json());
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
        if let Some(pace) = &self.speed {
            let each: Vec<String> = (pace.rates.iter())
                .map(|(account, rate)| format!("{account} {rate}/s"))
                .collect();
            let left = pace
                .eta
                .map_or("no estimate".into(), |s| format!("about {} left", span(s)));
            writeln!(f, "  rate {}/s ({}), {left}", pace.rate(), each.join(", "))?;
        }
        Ok(())
    }
}

/// Seconds as a short duration: `45 s`, `12 min`, `3 h 5 min`.
fn span(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds.div_ceil(60)),
        _ => format!("{} h {} min", seconds / 3600, (seconds % 3600) / 60),
    }
}
