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
//! what waits (up to the cap) and starts the call as a task of its own,
//! which hands each waiter its answer and then passes the lead to the first
//! report still waiting (that report leads the next call with whatever
//! gathered meanwhile). The call is the task's, not the leader's: a leader
//! whose caller gives up (a client hanging up) neither cancels the call
//! nor fails the other reports it carries.

use std::{
    collections::VecDeque,
    future::Future,
    sync::{Arc, Mutex},
};

use tokio::sync::oneshot;

use crate::domain::error::{Error, Result};

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
    pub async fn submit<F, Fut>(self: &Arc<Self>, report: Report, call: F) -> Result<Entries>
    where
        F: Fn(Vec<Report>) -> Fut,
        Fut: Future<Output = Result<Vec<Entries>>> + Send + 'static,
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

    /// Starts one call with `mine` first and up to the cap of what waits,
    /// as a task that answers every report it carries and then passes the
    /// lead on; waits for `mine`'s answer.
    async fn lead<F, Fut>(self: &Arc<Self>, mine: Report, call: &F) -> Result<Entries>
    where
        F: Fn(Vec<Report>) -> Fut,
        Fut: Future<Output = Result<Vec<Entries>>> + Send + 'static,
    {
        let pass = PassLead(self.clone());
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
        let answers = call(reports);
        let task = tokio::spawn(async move {
            let _pass = pass;
            answer_each(answers.await, replies)
        });
        task.await
            .unwrap_or_else(|_| Err(Error::internal("a report call's task failed")))
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

/// Hands each waiting report its answer from the call's; answers the
/// leader's own (the first).
fn answer_each(
    answers: Result<Vec<Entries>>,
    replies: Vec<oneshot::Sender<Turn>>,
) -> Result<Entries> {
    match answers {
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

/// Passes the lead on when the call ends, however it ends.
struct PassLead(Arc<Group>);

impl Drop for PassLead {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::Notify;

    use super::*;

    fn report(id: &str) -> Report {
        Report {
            id: id.to_owned(),
            lng: 0.0,
            lat: 0.0,
            max_speed_kmh: 0.0,
            create: true,
            taken_ms: None,
        }
    }

    /// A call that answers each report with its id, after `gate` opens
    /// (when there is one), and records the calls it made.
    async fn echo(
        reports: Vec<Report>,
        gate: Option<Arc<Notify>>,
        calls: Arc<Mutex<Vec<Vec<String>>>>,
    ) -> Result<Vec<Entries>> {
        if let Some(gate) = gate {
            gate.notified().await;
        }
        let ids: Vec<String> = reports.iter().map(|r| r.id.clone()).collect();
        calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(ids.clone());
        Ok(ids.into_iter().map(|id| ["OK".to_owned(), id]).collect())
    }

    #[tokio::test]
    async fn reports_arriving_during_a_call_go_together_in_the_next_each_answered_its_own() {
        let group = Arc::new(Group::new(256));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Notify::new());
        let call = |reports| echo(reports, Some(gate.clone()), calls.clone());
        let first = group.submit(report("a"), call);
        let rest = futures_util::future::join_all(
            ["b", "c", "d"].map(|id| group.submit(report(id), call)),
        );
        let open = async {
            // Every report is in before the first call is let through; then
            // the second call is let through too.
            tokio::task::yield_now().await;
            gate.notify_one();
            tokio::task::yield_now().await;
            gate.notify_one();
        };
        let (first, rest, ()) = tokio::join!(first, rest, open);
        assert_eq!(first.ok().map(|e| e[1].clone()).as_deref(), Some("a"));
        let rest: Vec<String> = rest
            .into_iter()
            .filter_map(|r| r.ok())
            .map(|e| e[1].clone())
            .collect();
        assert_eq!(rest, ["b", "c", "d"]);
        let calls = calls.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(calls, [vec!["a"], vec!["b", "c", "d"]]);
    }

    #[tokio::test]
    async fn a_leader_whose_caller_gives_up_still_answers_the_reports_its_call_carries() {
        let group = Arc::new(Group::new(256));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Notify::new());
        // The first call waits for the gate; the second takes 100 ms.
        let call = |reports: Vec<Report>| {
            let (gate, calls) = (gate.clone(), calls.clone());
            async move {
                if reports.first().is_some_and(|r| r.id == "a") {
                    gate.notified().await;
                } else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                echo(reports, None, calls).await
            }
        };
        let a = group.submit(report("a"), call);
        // b leads the second call (carrying c) and its caller gives up
        // after 50 ms, mid-call.
        let b = tokio::time::timeout(Duration::from_millis(50), group.submit(report("b"), call));
        let c = group.submit(report("c"), call);
        let open = async {
            tokio::task::yield_now().await;
            gate.notify_one();
        };
        let (a, b, c, ()) = tokio::join!(a, b, c, open);
        assert_eq!(a.ok().map(|e| e[1].clone()).as_deref(), Some("a"));
        assert!(b.is_err(), "b's caller gave up");
        assert_eq!(
            c.ok().map(|e| e[1].clone()).as_deref(),
            Some("c"),
            "c rode in the call b led: answered all the same"
        );
        // The group is idle again: the next report leads at once.
        let next = group.submit(report("d"), |reports| echo(reports, None, calls.clone()));
        assert_eq!(next.await.ok().map(|e| e[1].clone()).as_deref(), Some("d"));
        let calls = calls.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(calls, [vec!["a"], vec!["b", "c"], vec!["d"]]);
    }

    #[tokio::test]
    async fn a_failed_call_fails_every_report_it_carried() {
        let group = Arc::new(Group::new(2));
        let gate = Arc::new(Notify::new());
        let failing = |reports: Vec<Report>| {
            let gate = gate.clone();
            async move {
                if reports.first().is_some_and(|r| r.id == "a") {
                    gate.notified().await;
                    return Ok(vec![["OK".to_owned(), "a".to_owned()]]);
                }
                Err(Error::unavailable("Redis went away"))
            }
        };
        let all = futures_util::future::join_all(
            ["a", "b", "c", "d"].map(|id| group.submit(report(id), failing)),
        );
        let open = async {
            tokio::task::yield_now().await;
            gate.notify_one();
        };
        let (all, ()) = tokio::join!(all, open);
        assert!(all[0].is_ok());
        // b and c went in one call (the cap is 2), d in the next: all failed.
        for (id, answer) in ["b", "c", "d"].iter().zip(&all[1..]) {
            assert!(
                matches!(answer, Err(Error::Unavailable { .. })),
                "{id}: {:?}",
                answer.as_ref().err()
            );
        }
    }
}
