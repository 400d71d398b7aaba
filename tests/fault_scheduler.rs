//! The `scheduler-crash` fault verb: the kube-scheduler dies, pods created meanwhile wait, and the restarted
//! process schedules them once its relist has synced (see tests/scheduler_restart.rs for the process itself).

use kubesim::recorder::EventType;
use kubesim::run::run_in_memory;
use kubesim::scenario::Scenario;
use kubesim::time::{SimDuration, SimTime};

#[test]
fn pods_created_while_the_scheduler_is_down_are_bound_after_the_restart() {
    let text = r#"
[scenario]
name = "sched-crash"
seed = 2
duration = "3m"

[[cluster.node_pools]]
name = "n"
count = 3
cpu = "4"
memory = "8Gi"

[[workloads.deployments]]
name = "web"
at = "40s"
replicas = 4
template = { requests = { cpu = "1", memory = "1Gi" } }

[[faults]]
verb = "scheduler-crash"
at = "30s"
duration = "60s"
"#;
    let scenario = Scenario::from_str(text, "sched-crash.toml").unwrap_or_else(|e| panic!("{e}"));
    let out = run_in_memory(&scenario, None).expect("run");
    let ev = &out.events;
    let at = |t: EventType| ev.iter().filter(move |r| r.event == t).map(|r| r.time).collect::<Vec<_>>();
    assert_eq!(at(EventType::FaultInjected), vec![SimTime::from_secs(30)]);
    assert_eq!(at(EventType::SchedulerCrashed), vec![SimTime::from_secs(30)]);
    assert_eq!(at(EventType::FaultHealed), vec![SimTime::from_secs(90)]);
    assert_eq!(at(EventType::SchedulerStarted), vec![SimTime::from_secs(90)]);
    // The first cache-sync poll after the LIST arrived (100 ms polls): 90.1 s.
    let synced = at(EventType::SchedulerSynced);
    assert_eq!(synced, vec![SimTime::from_secs(90).add(SimDuration::from_millis(100))]);
    let created = at(EventType::PodCreated);
    let bound = at(EventType::PodScheduled);
    assert_eq!(created.len(), 4);
    assert!(created.iter().all(|t| *t < SimTime::from_secs(41)), "the pods exist from ~40 s: {created:?}");
    assert_eq!(bound.len(), 4, "every pod is bound once");
    assert!(bound.iter().all(|t| *t > synced[0] && *t < synced[0].add(SimDuration::from_millis(50))), "{bound:?}");
    assert!(ev.iter().any(|r| r.event == EventType::FaultInjected
        && r.detail == "verb=scheduler-crash targets=kube-scheduler duration_s=60"));
}
