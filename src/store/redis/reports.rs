//! Single reports on Redis: each through the area's group commit
//! ([`group`](super::group)), written by `update_group` with the reports
//! gathered with it, and its answer read back into the domain's types.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{
    connection::COMMAND_TIMEOUT,
    group::{Entries, Report},
    handle::{learn_clock, run_function, RedisStore},
};
use crate::domain::error::{Error, Result};
use crate::domain::{Coordinates, Driver, DriverId, LocationReport, ReportOutcome, JITTER_KM};

/// A report's outcome as the functions word it: OK, STALE, ELSEWHERE, or
/// the refusal `IMPLAUSIBLE|km|seconds`.
pub(super) fn outcome_of(tag: &str, max_speed_kmh: f64) -> ReportOutcome {
    match tag {
        "OK" => ReportOutcome::Accepted,
        "STALE" => ReportOutcome::Stale,
        "ELSEWHERE" => ReportOutcome::Elsewhere,
        _ => ReportOutcome::Refused(implausible(tag, max_speed_kmh)),
    }
}

/// A refusal as the functions word it: `IMPLAUSIBLE|km|seconds`.
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
        Ok(outcome_of(&entries[0], max_speed_kmh))
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
        let answer = tokio::time::timeout(COMMAND_TIMEOUT, submit)
            .await
            .map_err(|_| {
                metrics::counter!(crate::telemetry::STORE_ERRORS).increment(1);
                Error::unavailable("Redis did not answer in time")
            })
            .and_then(|answer| answer);
        if matches!(answer, Err(Error::Unavailable { .. })) {
            // The node may have failed over: its replicas are read again.
            self.replicas
                .store(-1, std::sync::atomic::Ordering::Relaxed);
        }
        answer
    }

    /// One `update_group` call for the reports gathered, as a future of its
    /// own (it runs as the group's task, whoever waits for it).
    fn group_call(
        &self,
        reports: Vec<Report>,
    ) -> impl std::future::Future<Output = Result<Vec<Entries>>> + Send + 'static {
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
        let cmd = self.function_cmd("update_group", None, &own);
        let (conn, clock) = (self.conn.clone(), self.clock_offset_ms.clone());
        let count = reports.len();
        async move {
            let reply: Vec<String> = run_function(conn, cmd).await?;
            if reply.len() != count * 2 + 2 {
                return Err(Error::internal(format!(
                    "update_group answered {} entries for {count} reports",
                    reply.len()
                )));
            }
            let mut entries = reply.into_iter();
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                let tag = entries.next().unwrap_or_default();
                out.push([tag, entries.next().unwrap_or_default()]);
            }
            if let (Some(_), Some(now)) = (entries.next(), entries.next()) {
                learn_clock(&clock, &now);
            }
            Ok(out)
        }
    }
}
