//! Group commit of single position reports: one area's reports written
//! at once when no report call of the area is in flight, gathered while
//! one is, and sent together in the next call (`update_group` in
//! `lua/reports.lua`), up to `--max-report-batch` a call.
//!
//! An idle service adds no wait (the first report leads its own call at
//! once); a busy one pays Redis's per-call cost once per batch instead of
//! once per report. Each caller gets its own outcome, reports go in the
//! order they arrived (so one driver's stay in order), a failed call fails
//! every report it carried with the store's error, and no caller waits
//! past the store's timeout.
//!
//! Leadership: the caller that finds no call in flight leads: it takes
//! what waits (up to the cap), makes the call and hands each waiter its
//! answer, then passes the lead to the first report still waiting, which
//! leads the next call with whatever gathered meanwhile. A leader dropped
//! mid-call (its caller gave up) still passes the lead on; the reports it
//! carried get `UNAVAILABLE`, as a call cut short would.

use std::{collections::HashMap, collections::VecDeque, future::Future, sync::Mutex};

use chrono::{DateTime, Utc};

use tokio::sync::oneshot;

use super::{connection::COMMAND_TIMEOUT, handle::RedisStore};
use crate::domain::error::{Error, Result};
use crate::domain::{Coordinates, Driver, DriverId, LocationReport, ReportOutcome, JITTER_KM};

/// A refusal as the function words it: `IMPLAUSIBLE|km|seconds`.
fn implausible(tag: &str, max_speed_kmh: f64) -> Error {
    let mut parts = tag.split('|').skip(1);
    let mut number = || {
        parts
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let (km, seconds) = (number(), number());
    Error::implausible_jump(km, seconds, max_speed_kmh)
}

/// One report waiting for its call.
pub(super) struct Report {
    pub id: String,
    pub lng: f64,
    pub lat: f64,
    pub max_speed_kmh: f64,
    pub create: bool,
    /// When the position was taken (ms); `None`: the server's now.
    pub taken_ms: Option<i64>,
}

/// A report's answer: the function's two entries for it, its outcome and
/// the driver's `last` (see `update_group`).
pub(super) type Entries = [String; 2];

enum Turn {
    Done(Result<Entries>),
    /// The call in flight ended: the receiver leads the next one, with its
    /// report first.
    Lead(Report),
}

struct Waiting {
    report: Report,
    reply: oneshot::Sender<Turn>,
}

#[derive(Default)]
struct State {
    /// A call is in flight (or a lead is being passed on).
    busy: bool,
    queue: VecDeque<Waiting>,
}

/// One area's gathering of reports.
pub(super) struct Group {
    state: Mutex<State>,
    max: usize,
}

impl Group {
    pub fn new(max: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            max: max.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every change under the lock is one push, pop or flag: a panic
        // elsewhere cannot leave it half-made, so a poisoned lock is sound.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `report` with whatever else is waiting, through `call` (the
    /// reports of one call, in order; two entries back for each).
    pub async fn submit<F, Fut>(&self, report: Report, call: F) -> Result<Entries>
    where
        F: Fn(Vec<Report>) -> Fut,
        Fut: Future<Output = Result<Vec<Entries>>>,
    {
        let rx = {
            let mut state = self.lock();
            if state.busy {
                let (tx, rx) = oneshot::channel();
                state.queue.push_back(Waiting { report, reply: tx });
                Ok(rx)
            } else {
                state.busy = true;
                Err(report)
            }
        };
        let rx = match rx {
            Ok(rx) => rx,
            Err(report) => return self.lead(report, &call).await,
        };
        let mut follower = Follower {
            rx: Some(rx),
            group: self,
        };
        match follower.wait().await {
            Some(Turn::Done(answer)) => answer,
            Some(Turn::Lead(report)) => self.lead(report, &call).await,
            None => Err(Error::unavailable(
                "the store call carrying this report was abandoned",
            )),
        }
    }

    /// Makes one call with `mine` first and up to the cap of what waits,
    /// then passes the lead on (also when this future is dropped).
    async fn lead<F, Fut>(&self, mine: Report, call: &F) -> Result<Entries>
    where
        F: Fn(Vec<Report>) -> Fut,
        Fut: Future<Output = Result<Vec<Entries>>>,
    {
        let _pass = PassLead(self);
        let mut reports = vec![mine];
        let mut replies = Vec::new();
        {
            let mut state = self.lock();
            while reports.len() < self.max {
                let Some(next) = state.queue.pop_front() else {
                    break;
                };
                // A caller that gave up is not written for.
                if next.reply.is_closed() {
                    continue;
                }
                reports.push(next.report);
                replies.push(next.reply);
            }
        }
        metrics::counter!(crate::telemetry::REPORT_CALLS).increment(1);
        metrics::counter!(crate::telemetry::REPORTS_GROUPED).increment(reports.len() as u64);
        match call(reports).await {
            Ok(answers) => {
                let mut answers = answers.into_iter();
                let mine = answers
                    .next()
                    .ok_or_else(|| Error::internal("a report call answered nothing"));
                for reply in replies {
                    let answer = answers
                        .next()
                        .ok_or_else(|| Error::internal("a report call answered too few"));
                    let _ = reply.send(Turn::Done(answer));
                }
                mine
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Turn::Done(Err(error.clone())));
                }
                Err(error)
            }
        }
    }

    /// The call in flight ended: the first report still waiting leads the
    /// next call, or the group goes idle.
    fn pass_lead(&self) {
        let mut state = self.lock();
        while let Some(Waiting { report, reply }) = state.queue.pop_front() {
            if reply.send(Turn::Lead(report)).is_ok() {
                return;
            }
        }
        state.busy = false;
    }
}

/// Passes the lead on when the leading call ends, however it ends.
struct PassLead<'a>(&'a Group);

impl Drop for PassLead<'_> {
    fn drop(&mut self) {
        self.0.pass_lead();
    }
}

/// A report waiting for its call. Dropped (its caller gave up) with the
/// lead handed to it but not taken up, it passes the lead on, so the
/// group never stays busy with no one leading.
struct Follower<'a> {
    rx: Option<oneshot::Receiver<Turn>>,
    group: &'a Group,
}

impl Follower<'_> {
    async fn wait(&mut self) -> Option<Turn> {
        let rx = self.rx.as_mut()?;
        let turn = rx.await.ok();
        self.rx = None;
        turn
    }
}

impl Drop for Follower<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(Turn::Lead(_)) = rx.try_recv() {
                self.group.pass_lead();
            }
        }
    }
}

impl RedisStore {
    /// [`Fleet::report`](crate::store::Fleet::report) through the group
    /// commit.
    pub(super) async fn report_alone(
        &self,
        id: &DriverId,
        at: Coordinates,
        now: DateTime<Utc>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Option<Driver>> {
        let entries = self
            .report_grouped(id, at, None, max_speed_kmh, create)
            .await?;
        let [tag, last] = entries;
        match tag.as_str() {
            "ELSEWHERE" => Ok(None),
            "OK" | "STALE" => {
                let mut fields = HashMap::with_capacity(5);
                let names = ["lng", "lat", "updated", "state", "ride"];
                for (name, value) in names.into_iter().zip(last.splitn(5, '|')) {
                    fields.insert(name.to_owned(), value.to_owned());
                }
                if fields.len() < 4 {
                    return Err(Error::internal(format!(
                        "a report answered an unreadable driver: {last:?}"
                    )));
                }
                self.driver_from_fields(id, &fields, now).map(Some)
            }
            _ => Err(implausible(&tag, max_speed_kmh)),
        }
    }

    /// One report of a batch, taken when it says, through the group commit.
    pub(super) async fn outcome_alone(
        &self,
        report: &LocationReport,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<ReportOutcome> {
        let taken = Some(report.taken_at.timestamp_millis());
        let entries = self
            .report_grouped(&report.driver, report.at, taken, max_speed_kmh, create)
            .await?;
        Ok(match entries[0].as_str() {
            "OK" => ReportOutcome::Accepted,
            "STALE" => ReportOutcome::Stale,
            "ELSEWHERE" => ReportOutcome::Elsewhere,
            tag => ReportOutcome::Refused(implausible(tag, max_speed_kmh)),
        })
    }

    /// One report through the area's group commit: the two entries
    /// `update_group` answered for it. Waits at most the store's timeout,
    /// queueing included.
    pub(super) async fn report_grouped(
        &self,
        id: &DriverId,
        at: Coordinates,
        taken_ms: Option<i64>,
        max_speed_kmh: f64,
        create: bool,
    ) -> Result<Entries> {
        let report = Report {
            id: id.to_string(),
            lng: at.lng(),
            lat: at.lat(),
            max_speed_kmh,
            create,
            taken_ms,
        };
        let submit = self
            .reports
            .submit(report, |reports| self.group_call(reports));
        tokio::time::timeout(COMMAND_TIMEOUT, submit)
            .await
            .map_err(|_| {
                metrics::counter!(crate::telemetry::STORE_ERRORS).increment(1);
                Error::unavailable("Redis did not answer in time")
            })?
    }

    /// One `update_group` call for the reports gathered.
    async fn group_call(&self, reports: Vec<Report>) -> Result<Vec<Entries>> {
        let mut own = Vec::with_capacity(1 + reports.len() * 5);
        own.push(JITTER_KM.to_string());
        for r in &reports {
            own.push(r.id.clone());
            own.push(r.lng.to_string());
            own.push(r.lat.to_string());
            own.push(if r.create {
                format!("{}+", r.max_speed_kmh)
            } else {
                r.max_speed_kmh.to_string()
            });
            own.push(r.taken_ms.map(|ms| ms.to_string()).unwrap_or_default());
        }
        let reply: Vec<String> = self.call("update_group", None, &own).await?;
        if reply.len() != reports.len() * 2 + 2 {
            return Err(Error::internal(format!(
                "update_group answered {} entries for {} reports",
                reply.len(),
                reports.len()
            )));
        }
        let mut entries = reply.into_iter();
        let mut out = Vec::with_capacity(reports.len());
        for _ in 0..reports.len() {
            let tag = entries.next().unwrap_or_default();
            out.push([tag, entries.next().unwrap_or_default()]);
        }
        if let (Some(_), Some(now)) = (entries.next(), entries.next()) {
            self.learn_clock(&now);
        }
        Ok(out)
    }
}
