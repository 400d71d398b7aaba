//! Time to recovery after faults.
//!
//! A workload is *degraded* while its committed status shows fewer ready pods than desired: a Deployment with
//! `status.readyReplicas < spec.replicas`, a DaemonSet with `numberReady < desiredNumberScheduled` (what
//! `kubectl get` shows). The cluster is *whole* while no workload is degraded.
//!
//! Each fault (a `FaultInjected` row) owns the window from its injection to the next fault injected later (or
//! the end of the run). Its recovery time is measured from the injection to the moment the cluster last became
//! whole within the window; it is 0 when the cluster stayed whole throughout (the fault hurt no workload), and
//! *unrecovered* (`null`) when the cluster is still degraded when the window closes. Faults injected at the
//! same instant share a window. Effects that show only after the next fault are attributed to that fault.

use crate::time::SimTime;
use serde::Serialize;
use std::collections::BTreeSet;

/// Which kind of workload a degraded entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkloadKind {
    Deployment,
    DaemonSet,
}

#[derive(Clone, Debug)]
struct FaultMark {
    time: SimTime,
    verb: String,
    targets: String,
}

/// One entry of `summary.json`'s `fault_recovery`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultRecovery {
    pub time_s: f64,
    pub verb: String,
    pub targets: String,
    /// Injection to the cluster being whole again; `None` when it never was within the fault's window.
    pub recovery_s: Option<f64>,
}

/// Degraded workloads now, the history of the cluster being whole, and the faults.
#[derive(Debug, Default)]
pub struct Recovery {
    degraded: BTreeSet<(WorkloadKind, u64)>,
    /// Times the cluster changed between whole (`true`) and degraded, in time order.
    transitions: Vec<(SimTime, bool)>,
    faults: Vec<FaultMark>,
}

impl Recovery {
    /// A workload's committed state changed; `degraded` is its state now (false once deleted).
    pub fn workload(&mut self, kind: WorkloadKind, uid: u64, degraded: bool, now: SimTime) {
        let was_whole = self.degraded.is_empty();
        if degraded {
            self.degraded.insert((kind, uid));
        } else {
            self.degraded.remove(&(kind, uid));
        }
        let whole = self.degraded.is_empty();
        if whole != was_whole {
            self.transitions.push((now, whole));
        }
    }

    /// Workloads below their desired ready replicas now.
    pub fn degraded_count(&self) -> usize {
        self.degraded.len()
    }

    pub fn fault(&mut self, now: SimTime, verb: &str, targets: &str) {
        self.faults.push(FaultMark { time: now, verb: verb.to_string(), targets: targets.to_string() });
    }

    pub fn faults_injected(&self) -> usize {
        self.faults.len()
    }

    /// Whether the cluster was whole just after every transition at times `<= t` (before any: whole).
    fn whole_at(&self, t: SimTime) -> bool {
        let i = self.transitions.partition_point(|(at, _)| *at <= t);
        if i == 0 { true } else { self.transitions[i - 1].1 }
    }

    /// Whether the cluster was whole just before `t` (after every transition at times `< t`).
    fn whole_before(&self, t: SimTime) -> bool {
        let i = self.transitions.partition_point(|(at, _)| *at < t);
        if i == 0 { true } else { self.transitions[i - 1].1 }
    }

    /// Each fault's recovery, in injection order; `end` closes the last window.
    pub fn results(&self, end: SimTime) -> Vec<FaultRecovery> {
        let mut out = Vec::with_capacity(self.faults.len());
        for f in &self.faults {
            let window_end = self.faults.iter().map(|g| g.time).find(|t| *t > f.time).unwrap_or(end).max(f.time);
            let recovery_s = self.recovery_in(f.time, window_end).map(|at| at.since(f.time).as_secs_f64());
            out.push(FaultRecovery {
                time_s: f.time.as_secs_f64(),
                verb: f.verb.clone(),
                targets: f.targets.clone(),
                recovery_s,
            });
        }
        out
    }

    /// When the cluster last became whole in `[start, end)`: `start` itself if it never was degraded there,
    /// `None` if it is degraded at the end of the window.
    fn recovery_in(&self, start: SimTime, end: SimTime) -> Option<SimTime> {
        let closes_whole = if end > start { self.whole_before(end) } else { self.whole_at(start) };
        if !closes_whole {
            return None;
        }
        let from = self.transitions.partition_point(|(at, _)| *at < start);
        let to = self.transitions.partition_point(|(at, _)| *at < end);
        let last_healed = self.transitions[from..to].iter().rev().find(|(_, whole)| *whole).map(|(at, _)| *at);
        match last_healed {
            Some(at) => Some(at),
            // No degraded -> whole transition inside: whole throughout (closes whole, so it never degraded).
            None => Some(start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SimTime {
        SimTime::from_secs(s)
    }

    #[test]
    fn recovery_windows() {
        let mut r = Recovery::default();
        r.workload(WorkloadKind::Deployment, 1, true, t(0)); // initial rollout
        r.workload(WorkloadKind::Deployment, 1, false, t(30));
        r.fault(t(100), "node-crash", "n1");
        r.workload(WorkloadKind::Deployment, 1, true, t(140));
        r.workload(WorkloadKind::DaemonSet, 2, true, t(150));
        r.workload(WorkloadKind::Deployment, 1, false, t(400)); // DaemonSet still degraded
        r.workload(WorkloadKind::DaemonSet, 2, false, t(450)); // whole again: 350 s after the fault
        r.fault(t(500), "cordon", "n2"); // hurts nothing
        r.fault(t(600), "node-crash", "n3");
        r.workload(WorkloadKind::Deployment, 1, true, t(650)); // never heals before the end
        let got: Vec<Option<f64>> = r.results(t(1000)).iter().map(|f| f.recovery_s).collect();
        assert_eq!(got, vec![Some(350.0), Some(0.0), None]);
        assert_eq!(r.degraded_count(), 1);
    }

    #[test]
    fn degraded_at_injection_counts_until_whole() {
        let mut r = Recovery::default();
        r.workload(WorkloadKind::Deployment, 1, true, t(0));
        r.fault(t(10), "node-crash", "n1");
        r.workload(WorkloadKind::Deployment, 1, false, t(70));
        let got = r.results(t(100));
        assert_eq!(got[0].recovery_s, Some(60.0));
    }

    #[test]
    fn simultaneous_faults_share_a_window() {
        let mut r = Recovery::default();
        r.fault(t(10), "node-crash", "n1");
        r.fault(t(10), "node-crash", "n2");
        r.workload(WorkloadKind::Deployment, 1, true, t(50));
        r.workload(WorkloadKind::Deployment, 1, false, t(90));
        let got: Vec<Option<f64>> = r.results(t(100)).iter().map(|f| f.recovery_s).collect();
        assert_eq!(got, vec![Some(80.0), Some(80.0)]);
    }
}
