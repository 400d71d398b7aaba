//! kube-scheduler crash and restart: the process loses everything it held in memory, the pods created while it
//! is down stay Pending, and the new process rebuilds its cache and queue from a LIST. It schedules again at the
//! first 100 ms cache-sync poll after the LIST has arrived (upstream's `WaitForCacheSync`), without losing or
//! double-booking any pod, even when it crashed in the middle of a burst with bindings in flight.
//!
//! With the default timings a pod created at `t` commits at `t + 5 ms` (2 ms request, 3 ms etcd), the scheduler
//! sees it 1 ms later and runs its cycle (1 ms), whose binding leaves at the end of the cycle and commits 5 ms
//! after that: `PodScheduled` at `t + 12 ms`.

use kubesim::invariants;
use kubesim::model::{NodeId, PodPhase, Resources};
use kubesim::recorder::{EventRow, EventSink, EventType};
use kubesim::scenario::Scenario;
use kubesim::scheduler::Lifecycle;
use kubesim::scheduler::cache::{Cache, PodEntry};
use kubesim::sim::Sim;
use kubesim::time::SimTime;
use std::collections::BTreeMap;
use std::sync::Arc;

fn ms(t: u64) -> SimTime {
    SimTime::from_millis(t)
}

fn sim(s: &Scenario) -> Sim {
    Sim::new(Arc::new(s.config.clone()), EventSink::Memory(Vec::new())).expect("sim")
}

/// Pods arriving once a second from 1 s (25 of them) on two roomy nodes.
fn arrivals(timings: &str) -> Scenario {
    let text = format!(
        r#"
[scenario]
name = "sched-restart"
seed = 7
duration = "40s"

[timings]
{timings}

[[cluster.node_pools]]
name = "n"
count = 2
cpu = "8"
memory = "16Gi"

[[workloads.arrivals]]
name = "p"
interval = "1s"
max_pods = 25
[workloads.arrivals.template]
requests = {{ cpu = "250m", memory = "128Mi" }}
"#
    );
    Scenario::from_str(&text, "sched-restart.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn rows(events: &[EventRow], ty: EventType) -> Vec<&EventRow> {
    events.iter().filter(|r| r.event == ty).collect()
}

fn times_us(rows: &[&EventRow]) -> Vec<u64> {
    rows.iter().map(|r| r.time.micros()).collect()
}

fn unbound_pending(sim: &Sim) -> usize {
    sim.api.etcd.pods.iter().filter(|(_, r)| r.state.node.is_none() && r.state.phase == PodPhase::Pending).count()
}

#[test]
fn pods_created_while_the_scheduler_is_down_wait_for_the_restart_and_its_cache_sync() {
    let s = arrivals("");
    let mut sim = sim(&s);
    sim.run_until(ms(4_500));
    sim.crash_scheduler();
    assert_eq!(sim.scheduler.lifecycle(), Lifecycle::Down);
    assert_eq!(sim.scheduler.cache().len(), 0, "the cache died with the process");
    sim.run_until(ms(20_500));
    // Pods 5..=20 were created while it was down: all still unbound.
    assert_eq!(unbound_pending(&sim), 16);
    assert_eq!(sim.scheduler.pending(), 0, "a dead scheduler queues nothing");
    sim.restart_scheduler();
    assert_eq!(sim.scheduler.lifecycle(), Lifecycle::Syncing { listed_remaining: 22 });
    // The LIST arrives at 20.501 s, but nothing is scheduled before the 100 ms poll finds it.
    sim.run_until(ms(20_600));
    assert_eq!(sim.scheduler.lifecycle(), Lifecycle::Syncing { listed_remaining: 0 });
    assert_eq!(sim.scheduler.pending(), 16, "the relisted unbound pods wait in activeQ");
    assert_eq!(sim.scheduler.cache().len(), 2);
    assert_eq!(unbound_pending(&sim), 16);
    sim.run();
    assert_eq!(sim.scheduler.lifecycle(), Lifecycle::Running);
    assert_eq!(unbound_pending(&sim), 0);
    let events = sim.rec.finish().expect("events");

    let crashed = rows(&events, EventType::SchedulerCrashed);
    assert_eq!(times_us(&crashed), vec![4_500_000]);
    assert_eq!(crashed[0].detail, "queued=0 assumed=0 unsent_requests=0");
    assert_eq!(crashed[0].name, "kube-scheduler");
    let started = rows(&events, EventType::SchedulerStarted);
    assert_eq!(times_us(&started), vec![20_500_000]);
    // 2 nodes and the 20 pods created so far (4 bound, 16 not).
    assert_eq!(started[0].detail, "listed=22 incarnation=1");
    let synced = rows(&events, EventType::SchedulerSynced);
    assert_eq!(times_us(&synced), vec![20_600_000]);
    assert_eq!(synced[0].detail, "queued=16 nodes=2");

    let scheduled = times_us(&rows(&events, EventType::PodScheduled));
    let mut expected: Vec<u64> = (1..=4).map(|k| k * 1_000_000 + 12_000).collect();
    // The first cycle runs at the sync (20.6 s), one per millisecond after it; each binding commits 6 ms after
    // its cycle started.
    expected.extend((0..16).map(|i| 20_606_000 + i * 1_000));
    expected.extend((21..=25).map(|k| k * 1_000_000 + 12_000));
    assert_eq!(scheduled, expected);
}

#[test]
fn scheduling_starts_at_the_first_sync_poll_after_the_list_arrives() {
    // A slow scheduler watch: the LIST sent at 20.5 s arrives at 20.75 s; the polls at 20.5, 20.6 and 20.7 s find
    // it missing, the one at 20.8 s finds it.
    let s = arrivals("watch_latency_scheduler = \"250ms\"");
    let mut sim = sim(&s);
    sim.run_until(ms(4_500));
    sim.crash_scheduler();
    sim.run_until(ms(20_500));
    sim.restart_scheduler();
    sim.run_until(ms(20_800));
    assert_eq!(sim.scheduler.lifecycle(), Lifecycle::Syncing { listed_remaining: 0 });
    sim.run();
    let events = sim.rec.finish().expect("events");
    assert_eq!(times_us(&rows(&events, EventType::SchedulerSynced)), vec![20_800_000]);
    let after: Vec<u64> =
        times_us(&rows(&events, EventType::PodScheduled)).into_iter().filter(|t| *t > 4_500_000).collect();
    assert_eq!(after[0], 20_806_000);
    assert_eq!(after[15], 20_821_000);
    assert_eq!(after.len(), 21);
}

/// Builds the cache a freshly started scheduler should hold from the store: every node, and every bound,
/// non-terminal pod on its node; then checks the scheduler's cache against it, node by node.
fn assert_cache_matches_store(sim: &Sim) {
    let etcd = &sim.api.etcd;
    let mut reference = Cache::default();
    for (i, slot) in etcd.nodes.iter().enumerate() {
        if let Some(v) = slot {
            reference.upsert_node(NodeId(i as u32), v.obj.clone());
        }
    }
    let mut sums: BTreeMap<NodeId, Resources> = BTreeMap::new();
    for (id, r) in etcd.pods.iter() {
        if let Some(n) = r.state.node
            && !r.state.phase.is_terminal()
        {
            assert!(reference.add_pod(n, PodEntry::new(id, r.spec.clone(), SimTime::ZERO)));
            sums.entry(n).or_default().add(&r.spec.template.requests);
        }
    }
    let cache = sim.scheduler.cache();
    let ids = |c: &Cache| c.nodes().map(|n| n.id).collect::<Vec<_>>();
    assert_eq!(ids(cache), ids(&reference), "the cache has every node, and no other");
    for want in reference.nodes() {
        let got = cache.node(want.id).expect("node");
        let mut got_pods: Vec<_> = got.pods.iter().map(|p| p.id).collect();
        let mut want_pods: Vec<_> = want.pods.iter().map(|p| p.id).collect();
        got_pods.sort();
        want_pods.sort();
        let unique = {
            let mut u = got_pods.clone();
            u.dedup();
            u.len()
        };
        assert_eq!(unique, got_pods.len(), "a pod twice on {}", want.node.name);
        assert_eq!(got_pods, want_pods, "pods on {}", want.node.name);
        assert_eq!(got.requested, want.requested, "requests on {}", want.node.name);
        assert_eq!(got.requested, sums.get(&want.id).cloned().unwrap_or_default(), "sum on {}", want.node.name);
        assert_eq!(got.nonzero_cpu_millis, want.nonzero_cpu_millis);
        assert_eq!(got.nonzero_memory_bytes, want.nonzero_memory_bytes);
        assert_eq!(got.used_ports, want.used_ports);
        assert_eq!(got.node.name, want.node.name);
    }
}

fn mixed() -> Scenario {
    let text = r#"
[scenario]
name = "sched-restart-mixed"
seed = 11
duration = "90s"

[[cluster.node_pools]]
name = "n"
count = 3
cpu = "4"
memory = "8Gi"

[[workloads.deployments]]
name = "web"
replicas = 3
template = { requests = { cpu = "1", memory = "512Mi" }, labels = { app = "web" }, ports = [{ host_port = 8080 }] }

[[workloads.deployments]]
name = "api"
replicas = 2
template = { requests = { cpu = "1", memory = "512Mi" }, labels = { app = "api" } }

[[workloads.jobs]]
name = "batch"
completions = 3
parallelism = 3
[workloads.jobs.template]
requests = { cpu = "500m", memory = "256Mi" }
ports = [{ host_port = 9000 }]
run = { dist = "fixed", value = "5s" }

[[pdbs]]
name = "web"
selector = { app = "web" }
min_available = 2

[[actions]]
verb = "scale"
at = "10s"
deployment = "api"
replicas = 5
"#;
    Scenario::from_str(text, "mixed.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_relisted_cache_equals_a_cache_built_from_the_store() {
    let s = mixed();
    let mut sim = sim(&s);
    sim.run_until(ms(3_000));
    let bound_before =
        sim.api.etcd.pods.iter().filter(|(_, r)| r.state.node.is_some() && !r.state.phase.is_terminal()).count();
    assert_eq!(bound_before, 8, "3 web, 2 api and 3 batch pods run before the crash");
    sim.crash_scheduler();
    // While it is down the batch pods finish (terminal pods are not listed) and api scales to 5.
    sim.run_until(ms(30_000));
    assert_eq!(unbound_pending(&sim), 3, "the 3 new api pods wait");
    assert_eq!(sim.api.etcd.pods.iter().filter(|(_, r)| r.state.phase == PodPhase::Succeeded).count(), 3);
    sim.restart_scheduler();
    // At the sync: the cache is the store's, and the 3 new pods are queued.
    sim.run_until(ms(30_100));
    assert_cache_matches_store(&sim);
    assert_eq!(sim.scheduler.pending(), 3);
    for info in sim.scheduler.cache().nodes() {
        let ports: Vec<i64> = info.used_ports.iter().map(|p| i64::from(p.port)).collect();
        assert_eq!(ports, vec![8080], "{}: the finished batch pods' port 9000 is free", info.node.name);
    }
    sim.run();
    assert_eq!(unbound_pending(&sim), 0);
    assert_cache_matches_store(&sim);
    invariants::check(&sim).unwrap_or_else(|e| panic!("{e}"));
    let events = sim.rec.finish().expect("events");
    // 3 nodes + 8 pods (not the 3 finished batch pods) + 1 budget.
    let started = rows(&events, EventType::SchedulerStarted);
    assert_eq!(started[0].detail, "listed=12 incarnation=1");
    let api_bound = rows(&events, EventType::PodScheduled).iter().filter(|r| r.name.starts_with("api-")).count();
    assert_eq!(api_bound, 5);
}

/// A burst of 300 pods (one every 2 ms) on four nodes: the scheduler binds faster than its 50 QPS client allows,
/// so after the first 100 bindings they queue in its rate limiter. Bin packing (MostAllocated) fills the
/// fullest node first, so a cache that forgot some bound pods would pile new ones onto nodes that are full.
fn burst(timings: &str, cpu: &str) -> Scenario {
    let text = format!(
        r#"
[scenario]
name = "sched-restart-burst"
seed = 5
duration = "60s"

[scheduler]
preset = "binpack"

[timings]
{timings}

[[cluster.node_pools]]
name = "n"
count = 4
cpu = "{cpu}"
memory = "64Gi"

[[workloads.arrivals]]
name = "b"
interval = "2ms"
max_pods = 300
[workloads.arrivals.template]
requests = {{ cpu = "500m", memory = "64Mi" }}
"#
    );
    Scenario::from_str(&text, "burst.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Runs with a crash at `crash` and a restart at `restart`, checking every invariant (no node over-allocated,
/// the scheduler's cache consistent with the store, ...) after every event when `check`.
fn run_with_crash(s: &Scenario, crash: SimTime, restart: SimTime, check: bool) -> (Sim, Vec<EventRow>) {
    let mut sim = sim(s);
    let checked_run_until = |sim: &mut Sim, t: Option<SimTime>| {
        while t.is_none_or(|t| sim.next_event_time().is_some_and(|n| n < t)) {
            if !sim.step() {
                return;
            }
            if check {
                invariants::check(sim).unwrap_or_else(|e| panic!("at {}: {e}", sim.now()));
            }
        }
        if let Some(t) = t {
            sim.run_until(t);
        }
    };
    checked_run_until(&mut sim, Some(crash));
    sim.crash_scheduler();
    checked_run_until(&mut sim, Some(restart));
    sim.restart_scheduler();
    checked_run_until(&mut sim, None);
    let events = sim.rec.finish().expect("events");
    (sim, events)
}

fn lost(events: &[EventRow]) -> (usize, usize) {
    let crashed = rows(events, EventType::SchedulerCrashed);
    assert_eq!(crashed.len(), 1);
    let field = |k: &str| -> usize {
        let kv = crashed[0].detail.split(' ').find(|kv| kv.starts_with(k)).expect(k);
        kv.split('=').nth(1).expect("value").parse().expect("number")
    };
    (field("assumed="), field("unsent_requests="))
}

fn assert_every_pod_bound_once(sim: &Sim, events: &[EventRow], pods: usize) {
    let mut per_pod: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows(events, EventType::PodScheduled) {
        *per_pod.entry(r.name.as_str()).or_default() += 1;
    }
    assert_eq!(per_pod.len(), pods, "every pod is bound");
    assert!(per_pod.values().all(|n| *n == 1), "no pod is bound twice");
    assert_eq!(unbound_pending(sim), 0);
    assert_eq!(sim.api.etcd.pods.len(), pods);
}

#[test]
fn a_crash_in_the_middle_of_a_burst_loses_and_double_books_nothing() {
    // 4 nodes of 38 CPU hold 304 pods of 500m: a relisted cache that missed bound pods would over-allocate.
    // Requests take 30 ms to reach the apiserver, longer than the 20 ms between two throttled bindings, so some
    // binding is always on the wire.
    let s = burst("api_request_latency = \"30ms\"", "38");
    // At 400 ms about 200 pods were created, more than 100 bindings sent (some still on the wire) and the rest
    // assumed and waiting in the rate limiter. The restart comes 2 ms later: bindings on the wire commit after
    // the LIST, so the new process lists their pods unbound and learns of the binding through its watch before
    // its cache syncs.
    let (sim, events) = run_with_crash(&s, ms(400), ms(402), true);
    let (assumed, unsent) = lost(&events);
    assert!(unsent > 0, "bindings waiting in the rate limiter are lost with the process");
    assert!(assumed > unsent, "some assumed pods' bindings were on the wire");
    let on_the_wire =
        rows(&events, EventType::PodScheduled).iter().filter(|r| r.time > ms(400) && r.time < ms(502)).count();
    assert!(on_the_wire > 0, "bindings sent before the crash still commit");
    assert_every_pod_bound_once(&sim, &events, 300);
    assert_cache_matches_store(&sim);
    assert_eq!(sim.scheduler.stats.bind_errors, 0, "nothing bound twice, so no binding conflicts");
}

#[test]
fn bindings_committing_after_the_new_process_synced_are_not_bound_twice() {
    // etcd takes 300 ms per write: the old process's bindings still commit after the new one has synced (at
    // 0.61 s) and started scheduling the pods it listed unbound. Its second bindings of those pods fail with
    // a conflict, and the watch moves each pod to the node it was really bound to. (As upstream, the new
    // process cannot know the in-flight bindings and may pick an already promised node for another pod, so the
    // nodes are roomy here and capacity is not checked.)
    let s = burst("etcd_write_latency = \"300ms\"", "200");
    let (sim, events) = run_with_crash(&s, ms(500), ms(510), false);
    let (assumed, _) = lost(&events);
    assert!(assumed > 0);
    assert!(sim.scheduler.stats.bind_errors > 0, "the race happened: some second bindings were refused");
    assert_every_pod_bound_once(&sim, &events, 300);
    assert_cache_matches_store(&sim);
    invariants::check(&sim).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn runs_with_a_crash_are_deterministic() {
    let s = burst("", "38");
    let (_, a) = run_with_crash(&s, ms(400), ms(1_500), false);
    let (_, b) = run_with_crash(&s, ms(400), ms(1_500), false);
    assert_eq!(a, b, "two identical runs with a crash give identical events");
    let (_, other) = run_with_crash(&s, ms(400), ms(1_600), false);
    assert_ne!(a, other, "the restart time shows in the events");
    assert!(rows(&a, EventType::SchedulerSynced).len() == 1);
}

#[test]
fn crash_and_restart_are_idempotent() {
    let s = arrivals("");
    let mut sim = sim(&s);
    sim.run_until(ms(2_500));
    sim.restart_scheduler(); // running: nothing happens
    assert_eq!(sim.scheduler.incarnation(), 0);
    sim.crash_scheduler();
    sim.crash_scheduler(); // already down
    assert_eq!(sim.scheduler.incarnation(), 1);
    sim.run_until(ms(3_000));
    sim.restart_scheduler();
    sim.restart_scheduler(); // already starting
    sim.run();
    let events = sim.rec.finish().expect("events");
    assert_eq!(rows(&events, EventType::SchedulerCrashed).len(), 1);
    assert_eq!(rows(&events, EventType::SchedulerStarted).len(), 1);
    assert_eq!(rows(&events, EventType::SchedulerSynced).len(), 1);
    assert_eq!(rows(&events, EventType::PodScheduled).len(), 25);
}

#[test]
fn a_process_that_crashes_while_syncing_leaves_no_timer_behind() {
    // The process started at 10 s polls at 10.0 s and would poll again at 10.1 s, but crashes at 10.05 s. The
    // next one, started at 10.06 s, syncs on its own grid (10.06 s, then 10.16 s), not at the dead one's 10.1 s.
    let s = arrivals("");
    let mut sim = sim(&s);
    sim.run_until(ms(4_500));
    sim.crash_scheduler();
    sim.run_until(ms(10_000));
    sim.restart_scheduler();
    sim.run_until(ms(10_050));
    assert_eq!(sim.scheduler.lifecycle(), Lifecycle::Syncing { listed_remaining: 0 });
    sim.crash_scheduler();
    sim.run_until(ms(10_060));
    sim.restart_scheduler();
    assert_eq!(sim.scheduler.incarnation(), 2);
    sim.run();
    let events = sim.rec.finish().expect("events");
    assert_eq!(times_us(&rows(&events, EventType::SchedulerCrashed)), vec![4_500_000, 10_050_000]);
    assert_eq!(times_us(&rows(&events, EventType::SchedulerStarted)), vec![10_000_000, 10_060_000]);
    assert_eq!(times_us(&rows(&events, EventType::SchedulerSynced)), vec![10_160_000]);
    // Pods 5..=10 were waiting: bound from the sync on, one cycle per millisecond.
    let after: Vec<u64> = times_us(&rows(&events, EventType::PodScheduled))
        .into_iter()
        .filter(|t| (4_500_000..11_000_000).contains(t))
        .collect();
    assert_eq!(after, (0..6).map(|i| 10_166_000 + i * 1_000).collect::<Vec<u64>>());
}

#[test]
fn a_run_ending_with_the_scheduler_down_reports_why_pods_wait() {
    let s = arrivals("");
    let mut sim = sim(&s);
    sim.run_until(ms(4_500));
    sim.crash_scheduler();
    sim.run();
    let summary = kubesim::run::summarize(&mut sim);
    // Pods 5..=25 were created after the crash.
    let want: BTreeMap<String, u64> = [("kube-scheduler is not running".to_string(), 21)].into_iter().collect();
    assert_eq!(summary.pending_reasons, want);
    assert_eq!(summary.metrics["pods_pending_at_end"], 21);
}

#[test]
fn a_pod_unschedulable_before_and_after_a_restart_counts_once() {
    let text = r#"
[scenario]
name = "too-big"
duration = "20s"

[[cluster.node_pools]]
name = "n"
count = 1
cpu = "1"
memory = "1Gi"

[[workloads.arrivals]]
name = "big"
interval = "1s"
max_pods = 1
[workloads.arrivals.template]
requests = { cpu = "2", memory = "64Mi" }
"#;
    let s = Scenario::from_str(text, "too-big.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut sim = sim(&s);
    sim.run_until(ms(5_000));
    assert_eq!(sim.rec.metrics.pods_unschedulable, 1);
    sim.crash_scheduler();
    sim.run_until(ms(6_000));
    sim.restart_scheduler();
    sim.run();
    assert!(sim.scheduler.stats.failed_attempts >= 2, "tried again by the new process");
    assert_eq!(sim.rec.metrics.pods_unschedulable, 1, "still one pod");
    let summary = kubesim::run::summarize(&mut sim);
    assert_eq!(summary.pending_reasons.values().sum::<u64>(), 1);
    assert!(summary.pending_reasons.keys().all(|k| k.contains("Insufficient cpu")), "{:?}", summary.pending_reasons);
}
