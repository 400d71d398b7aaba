//! Node objects deleted and machines terminated for good, with exact timelines (default timings).
//!
//! - `DELETE node` from the scenario's user commits 5 ms after it is sent (request 2 ms + etcd 3 ms): `NodeDeleted`.
//!   The scheduler and the controller manager see it 1 ms later; the scheduler's cache drops the node.
//! - PodGC (`gcOrphaned`): the first 20 s pass strictly after the controller manager saw the deletion puts the
//!   node in quarantine for 40 s; the pass 40 s later confirms it is gone and handles its pods one after the
//!   other, in creation order: a PATCH to Failed (reason `DeletionByPodGC`, committed 5 ms after it is sent, its
//!   answer back 2 ms later), then a DELETE with grace 0 (committed 5 ms after the answer, answered 2 ms later).
//!   Orphan k (0-based) fails at pass + 14k + 5 ms and is deleted at pass + 14k + 12 ms.
//! - A terminated machine stops heartbeating: the node goes Ready=Unknown at probe P + 50.005 s (as in
//!   `tests/node_failure.rs`); the controller manager sees it 1 ms later, so the cloud node lifecycle
//!   controller's next 5 s pass, P + 55 s, finds the instance gone and deletes the node: `NodeDeleted` at
//!   P + 55.005 s. Then PodGC as above.

use kubesim::controllers::node_lifecycle::ZoneState;
use kubesim::invariants;
use kubesim::model::{NodeId, PodPhase, Resources};
use kubesim::recorder::{EventRow, EventSink, EventType};
use kubesim::scenario::Scenario;
use kubesim::sim::Sim;
use kubesim::time::{SimDuration, SimTime};
use std::collections::BTreeMap;
use std::sync::Arc;

const CLUSTER: &str = r#"
[scenario]
name = "node-delete"
seed = 7
duration = "10m"

[[cluster.node_pools]]
name = "a"
count = 3
cpu = "4"
memory = "8Gi"
zone = "z1"

[[workloads.deployments]]
name = "web"
replicas = 6
template = { requests = { cpu = "1", memory = "1Gi" } }

[[workloads.daemonsets]]
name = "agent"
template = { requests = { cpu = "100m", memory = "64Mi" } }
"#;

fn sim(text: &str) -> Sim {
    let sc = Scenario::from_str(text, "node-delete.toml").unwrap_or_else(|e| panic!("{e}"));
    Sim::new(Arc::new(sc.config.clone()), EventSink::Memory(Vec::new())).expect("sim")
}

fn secs(s: f64) -> SimTime {
    SimTime((s * 1e6).round() as u64)
}

fn plus_ms(t: SimTime, ms: u64) -> SimTime {
    t.add(SimDuration::from_millis(ms))
}

/// The first multiple of `period_s` strictly after `t`.
fn pass_after(t: SimTime, period_s: u64) -> SimTime {
    SimTime(t.micros() + 1).ceil_to_period(SimTime::ZERO, SimDuration::from_secs(period_s))
}

/// Every invariant, and explicitly: on every node that exists, the pods bound and not terminal request no more
/// than its allocatable, and the scheduler's cache has no node the store does not (once its watch caught up).
fn check(sim: &Sim) {
    invariants::check(sim).unwrap_or_else(|e| panic!("at {}: {e}", sim.now()));
    let etcd = &sim.api.etcd;
    let mut per_node: BTreeMap<NodeId, Resources> = BTreeMap::new();
    for (_, r) in etcd.pods.iter() {
        if let Some(n) = r.state.node
            && !r.state.phase.is_terminal()
        {
            per_node.entry(n).or_default().add(&r.spec.template.requests);
        }
    }
    for (n, req) in &per_node {
        if let Some(node) = etcd.node(*n) {
            assert!(req.fits_within(&node.allocatable), "at {}: {} over-allocated", sim.now(), node.name);
        }
    }
    for info in sim.scheduler.cache().nodes() {
        assert!(info.requested.fits_within(&info.allocatable), "at {}: cache over-allocates {}", sim.now(), info.id.0);
    }
}

/// Steps through every event up to `t` (checking after each), then sets the clock to `t`.
fn run_checked(sim: &mut Sim, t: SimTime) {
    while sim.next_event_time().is_some_and(|next| next <= t) {
        assert!(sim.step());
        check(sim);
    }
    sim.run_until(t);
    assert!(!sim.is_finished());
}

fn finish(sim: &mut Sim) -> Vec<EventRow> {
    while sim.step() {
        check(sim);
    }
    sim.rec.finish().expect("events")
}

/// The pods bound to `node`, in creation order, by name.
fn pods_on(sim: &Sim, node: NodeId) -> Vec<String> {
    let mut pods: Vec<(u64, String)> = sim
        .api
        .pods_on_node(node)
        .iter()
        .map(|p| {
            let r = &sim.api.etcd.pods[*p];
            (r.spec.uid, r.spec.name.to_string())
        })
        .collect();
    pods.sort();
    pods.into_iter().map(|(_, name)| name).collect()
}

fn rows(events: &[EventRow], event: EventType, pred: impl Fn(&EventRow) -> bool) -> Vec<&EventRow> {
    events.iter().filter(|r| r.event == event && pred(r)).collect()
}

/// The single row of `event` for pod `name`.
fn pod_row<'a>(events: &'a [EventRow], event: EventType, name: &str) -> &'a EventRow {
    let found = rows(events, event, |r| r.name == name);
    assert_eq!(found.len(), 1, "{event:?} rows for {name}: {found:?}");
    found[0]
}

/// Asserts PodGC's sequential orphan deletion from the pass at `pass`: orphan k fails at pass + 14k + 5 ms and
/// is deleted at pass + 14k + 12 ms, both with reason DeletionByPodGC, on `node`.
fn assert_orphans_collected(events: &[EventRow], orphans: &[String], node: &str, pass: SimTime) {
    assert!(!orphans.is_empty());
    for (k, name) in orphans.iter().enumerate() {
        let k = k as u64;
        let failed = pod_row(events, EventType::PodFailed, name);
        assert_eq!((failed.time, failed.node.as_str()), (plus_ms(pass, 14 * k + 5), node), "{name} failed");
        assert!(failed.detail.starts_with("reason=DeletionByPodGC"), "{}", failed.detail);
        let deleted = pod_row(events, EventType::PodDeleted, name);
        assert_eq!((deleted.time, deleted.node.as_str()), (plus_ms(pass, 14 * k + 12), node), "{name} deleted");
        assert_eq!(deleted.detail, "reason=DeletionByPodGC");
    }
}

/// Web pods Running and bound at the end, per node.
fn running_per_node(sim: &Sim, prefix: &str) -> BTreeMap<u32, usize> {
    let mut out = BTreeMap::new();
    for (_, r) in sim.api.etcd.pods.iter() {
        if r.spec.name.starts_with(prefix) && r.state.phase == PodPhase::Running && r.state.deletion.is_none() {
            *out.entry(r.state.node.expect("running pods are bound").0).or_insert(0) += 1;
        }
    }
    out
}

/// (a) A node with Running Deployment pods is deleted: it leaves the store, the informers and the scheduler's
/// cache at once, its pods stay bound to it through PodGC's quarantine, then are failed and deleted in creation
/// order, and replaced on the other nodes.
#[test]
fn deleted_node_pods_are_collected_as_orphans_after_quarantine_and_replaced() {
    let mut sim = sim(CLUSTER);
    let gone = NodeId(1);
    let at = secs(120.3);
    run_checked(&mut sim, at);
    let orphans = pods_on(&sim, gone);
    assert!(orphans.iter().any(|p| p.starts_with("web-")), "the node runs web pods: {orphans:?}");
    assert!(orphans.iter().any(|p| p.starts_with("agent-")), "and its daemon pod: {orphans:?}");
    assert!(sim.api.pods_on_node(gone).iter().all(|p| sim.api.etcd.pods[*p].state.phase == PodPhase::Running));
    sim.delete_node(gone);

    run_checked(&mut sim, plus_ms(at, 7));
    assert!(sim.api.etcd.node(gone).is_none(), "the Node is gone from the store");
    assert!(sim.scheduler.cache().node(gone).is_none(), "and from the scheduler's cache");
    assert_eq!(sim.scheduler.cache().len(), 2);
    assert_eq!(sim.scheduler.cache().order(), &[NodeId(0), NodeId(2)]);
    assert!(sim.cm.informers.node(gone).is_none(), "and from the controller manager's informer");
    assert_eq!(sim.cm.node_lifecycle.zone_counts("z1"), Some((2, 0)), "the zone counts two nodes");

    // Quarantine: the pass after the deletion is seen starts it, the pass 40 s later ends it.
    let quarantine_start = pass_after(plus_ms(at, 6), 20);
    let collect = quarantine_start.add(SimDuration::from_secs(40));
    assert_eq!((quarantine_start, collect), (secs(140.0), secs(180.0)));
    run_checked(&mut sim, secs(179.9));
    assert_eq!(pods_on(&sim, gone), orphans, "the orphans wait out the quarantine, still bound");
    assert!(sim.api.pods_on_node(gone).iter().all(|p| sim.api.etcd.pods[*p].state.phase == PodPhase::Running));

    let events = finish(&mut sim);
    let deleted = rows(&events, EventType::NodeDeleted, |_| true);
    assert_eq!(deleted.len(), 1);
    assert_eq!((deleted[0].time, deleted[0].name.as_str()), (plus_ms(at, 5), "a-1"));
    assert_eq!(deleted[0].detail, format!("pods={}", orphans.len()));
    assert_orphans_collected(&events, &orphans, "a-1", collect);
    assert!(sim.api.pods_on_node(gone).is_empty());

    // Replaced on the remaining nodes: 6 web pods Running, none on the deleted node.
    let web = running_per_node(&sim, "web-");
    assert_eq!(web.values().sum::<usize>(), 6, "{web:?}");
    assert!(!web.contains_key(&1));
    let orphaned_web = orphans.iter().filter(|p| p.starts_with("web-")).count();
    let replacements = rows(&events, EventType::PodCreated, |r| r.time > collect && r.name.starts_with("web-"));
    assert_eq!(replacements.len(), orphaned_web, "one replacement per orphaned web pod");
    for r in replacements {
        let bound = pod_row(&events, EventType::PodScheduled, &r.name);
        assert_ne!(bound.node, "a-1");
    }
    assert_eq!(sim.rec.metrics.nodes_deleted, 1);
}

/// (c) The DaemonSet's pod for the deleted node is collected by PodGC, not by the DaemonSet controller, and is
/// not recreated; the DaemonSet wants 2 pods from then on.
#[test]
fn daemon_pod_of_a_deleted_node_is_not_recreated() {
    let mut sim = sim(CLUSTER);
    let at = secs(120.3);
    run_checked(&mut sim, at);
    let daemon = pods_on(&sim, NodeId(1)).into_iter().find(|p| p.starts_with("agent-")).expect("daemon pod");
    sim.delete_node(NodeId(1));
    let events = finish(&mut sim);
    let created = rows(&events, EventType::PodCreated, |r| r.name.starts_with("agent-"));
    assert_eq!(created.len(), 3, "one per node at the start, none after: {created:?}");
    let deleted = pod_row(&events, EventType::PodDeleted, &daemon);
    assert_eq!(deleted.detail, "reason=DeletionByPodGC", "deleted by PodGC, not by the DaemonSet controller");
    assert!(rows(&events, EventType::PodTerminating, |r| r.name == daemon).is_empty());
    assert_eq!(running_per_node(&sim, "agent-"), BTreeMap::from([(0, 1), (2, 1)]));
    let (_, ds) = sim.api.etcd.daemonsets.iter().next().expect("daemonset");
    assert_eq!((ds.obj.status.desired, ds.obj.status.current, ds.obj.status.ready), (2, 2, 2));
}

/// (b) A terminated machine: its kubelet stops, the node goes Ready=Unknown after the grace period, the cloud
/// node lifecycle controller deletes it at its next pass, and PodGC collects its pods. Its pods are never
/// evicted by taints (the node is gone before the NoExecute taint).
#[test]
fn terminated_machine_node_is_deleted_by_the_cloud_controller() {
    let mut sim = sim(CLUSTER);
    let node = NodeId(2);
    let origin = sim.api.lease(node).and_then(|l| l.origin).expect("lease started");
    let at = secs(301.3);
    run_checked(&mut sim, at);
    let orphans = pods_on(&sim, node);
    sim.terminate_node(node);
    sim.terminate_node(node); // a second termination changes nothing
    assert!(sim.kubelets[node.index()].is_terminated() && !sim.kubelets[node.index()].alive);

    // The probe P from the last heartbeat, as in tests/node_failure.rs.
    let last = at.floor_to_period(origin, SimDuration::from_secs(10)).expect("renewed before");
    let probe = plus_ms(last, 6).ceil_to_period(SimTime::ZERO, SimDuration::from_secs(5));
    let node_deleted = plus_ms(probe, 55_005);
    run_checked(&mut sim, plus_ms(probe, 55_004));
    assert!(sim.api.etcd.node(node).is_some(), "not before the cloud controller's pass");
    run_checked(&mut sim, plus_ms(probe, 55_006));
    assert!(sim.api.etcd.node(node).is_none());
    assert!(sim.scheduler.cache().node(node).is_none());

    let events = finish(&mut sim);
    let of = |e: EventType| rows(&events, e, |r| r.node == "a-2");
    let terminated = of(EventType::NodeTerminated);
    assert_eq!(terminated.len(), 1, "terminated once");
    assert_eq!((terminated[0].time, terminated[0].detail.as_str()), (at, "was_running=true"));
    let not_ready = of(EventType::NodeNotReady);
    assert_eq!(not_ready.len(), 1);
    assert_eq!((not_ready[0].time, not_ready[0].detail.as_str()), (plus_ms(probe, 50_005), "ready=Unknown"));
    let tainted: Vec<(SimTime, &str)> =
        of(EventType::NodeTainted).iter().map(|r| (r.time, r.detail.as_str())).collect();
    assert_eq!(tainted, vec![(plus_ms(probe, 50_011), "node.kubernetes.io/unreachable:NoSchedule")]);
    let deleted = of(EventType::NodeDeleted);
    assert_eq!(deleted.len(), 1, "deleted once");
    assert_eq!(deleted[0].time, node_deleted);
    assert!(of(EventType::NodeRecovered).is_empty() && of(EventType::NodeReady).is_empty());
    assert!(of(EventType::PodEvicted).is_empty(), "no taint eviction: the node is gone first");

    // PodGC: quarantine from the first pass after the deletion is seen.
    let collect = pass_after(plus_ms(node_deleted, 1), 20).add(SimDuration::from_secs(40));
    assert_orphans_collected(&events, &orphans, "a-2", collect);
    let web = running_per_node(&sim, "web-");
    assert_eq!(web.values().sum::<usize>(), 6, "{web:?}");
    assert!(!web.contains_key(&2));
    assert!(events.iter().all(|r| r.event != EventType::Rejected), "no request was rejected");
}

/// A binding that races the node's deletion: the scheduler chose the node before it saw the deletion, and the
/// binding commits after it. As upstream (the binding does not check the node), the pod is bound to the deleted
/// node; PodGC's next pass starts a quarantine for it and the pass 40 s later collects it, and its ReplicaSet
/// replaces it on a node that exists.
#[test]
fn a_binding_that_races_the_deletion_is_collected_as_an_orphan() {
    // A first run finds when the first web pod's binding to some node commits (at `c`, sent 5 ms earlier).
    let mut first = sim(CLUSTER);
    first.run();
    let events = first.rec.finish().expect("events");
    let bound = rows(&events, EventType::PodScheduled, |r| r.name.starts_with("web-"))[0].clone();
    let node = NodeId(first.kubelets.iter().position(|k| *k.node().name == *bound.node).expect("node") as u32);
    // The same run, with the node deleted 6 ms before `c`: the deletion commits 1 ms before the binding, and the
    // scheduler sees it at `c`, after it sent the binding.
    let mut sim = sim(CLUSTER);
    let delete_at = SimTime(bound.time.micros() - 6_000);
    run_checked(&mut sim, delete_at);
    sim.delete_node(node);
    let events = finish(&mut sim);
    // Every pod bound to the node (its daemon pod, bound before the deletion, and the racing bindings), in
    // creation order.
    let on_node: Vec<&str> =
        rows(&events, EventType::PodScheduled, |r| r.node == bound.node).iter().map(|r| r.name.as_str()).collect();
    let orphans: Vec<String> = rows(&events, EventType::PodCreated, |r| on_node.contains(&r.name.as_str()))
        .iter()
        .map(|r| r.name.clone())
        .collect();
    let before = rows(&events, EventType::PodScheduled, |r| r.node == bound.node && r.time < bound.time).len();
    let deleted = rows(&events, EventType::NodeDeleted, |_| true);
    assert_eq!((deleted[0].time, deleted[0].detail.clone()), (plus_ms(delete_at, 5), format!("pods={before}")));
    let racing = orphans.len() - before;
    assert!(racing >= 1, "bound after the deletion: {orphans:?}");
    assert!(orphans.contains(&bound.name), "{} was bound to the deleted node: {orphans:?}", bound.name);
    let collect = pass_after(plus_ms(bound.time, 1), 20).add(SimDuration::from_secs(40));
    assert_orphans_collected(&events, &orphans, &bound.node, collect);
    let web = running_per_node(&sim, "web-");
    assert_eq!(web.values().sum::<usize>(), 6, "{web:?}");
    assert!(!web.contains_key(&node.0));
}

const TWO_ZONES: &str = r#"
[scenario]
name = "zones"
seed = 11
duration = "8m"

[[cluster.node_pools]]
name = "a"
count = 2
cpu = "4"
memory = "8Gi"
zone = "z1"

[[cluster.node_pools]]
name = "b"
count = 2
cpu = "4"
memory = "8Gi"
zone = "z2"

[[workloads.deployments]]
name = "web"
replicas = 4
template = { requests = { cpu = "500m", memory = "256Mi" } }
"#;

/// (d) Every machine of a zone is terminated: the zone goes FullDisruption when the last of its nodes is marked
/// Ready=Unknown, its nodes are deleted by the cloud controller, and the zone, left without nodes, loses its
/// state (Initial in kubesim; upstream drops it). The other zone stays Normal throughout.
#[test]
fn zone_states_after_every_node_of_a_zone_is_deleted() {
    let mut sim = sim(TWO_ZONES);
    let zone_b = [NodeId(2), NodeId(3)];
    let at = secs(200.7);
    run_checked(&mut sim, at);
    let probes: Vec<SimTime> = zone_b
        .iter()
        .map(|n| {
            let origin = sim.api.lease(*n).and_then(|l| l.origin).expect("lease");
            let last = at.floor_to_period(origin, SimDuration::from_secs(10)).expect("renewed");
            plus_ms(last, 6).ceil_to_period(SimTime::ZERO, SimDuration::from_secs(5))
        })
        .collect();
    for n in zone_b {
        sim.terminate_node(n);
    }
    assert_eq!(sim.cm.node_lifecycle.zone_counts("z2"), Some((2, 0)));
    let events = finish(&mut sim);

    for (n, probe) in zone_b.iter().zip(&probes) {
        let name = format!("b-{}", n.0 - 2);
        let deleted = rows(&events, EventType::NodeDeleted, |r| r.name == name);
        assert_eq!(deleted.len(), 1);
        assert_eq!(deleted[0].time, plus_ms(*probe, 55_005), "{name}");
        assert!(
            rows(&events, EventType::NodeTainted, |r| r.name == name && r.detail.ends_with("NoExecute")).is_empty()
        );
    }
    let changes = |zone: &str| -> Vec<(SimTime, String)> {
        rows(&events, EventType::ZoneStateChanged, |r| r.name == zone)
            .iter()
            .map(|r| (r.time, r.detail.clone()))
            .collect()
    };
    let z2 = changes("z2");
    assert_eq!(z2.len(), 2, "{z2:?}");
    assert_eq!(z2[0].0, secs(5.0));
    assert!(z2[0].1.starts_with("state=Normal"), "{z2:?}");
    let last_unknown = probes.iter().max().expect("probes").add(SimDuration::from_secs(50));
    assert_eq!(z2[1].0, last_unknown, "{z2:?}");
    assert!(z2[1].1.starts_with("state=FullDisruption"), "{z2:?}");
    let z1 = changes("z1");
    assert_eq!(z1.len(), 1, "{z1:?}");
    assert!(z1[0].1.starts_with("state=Normal"));

    let nlc = &sim.cm.node_lifecycle;
    assert_eq!(nlc.zone_state("z2"), Some(ZoneState::Initial), "a zone without nodes has no state");
    assert_eq!(nlc.zone_counts("z2"), Some((0, 0)));
    assert_eq!(nlc.zone_state("z1"), Some(ZoneState::Normal));
    assert_eq!(nlc.zone_counts("z1"), Some((2, 0)));
    assert_eq!(sim.scheduler.cache().len(), 2);
    assert_eq!(running_per_node(&sim, "web-").keys().copied().collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(running_per_node(&sim, "web-").values().sum::<usize>(), 4);
}

/// Deleting Ready nodes directly empties their zone too: no disruption on the way, the zone's state is dropped.
#[test]
fn deleting_the_ready_nodes_of_a_zone_drops_its_state() {
    let mut sim = sim(TWO_ZONES);
    run_checked(&mut sim, secs(60.0));
    assert_eq!(sim.cm.node_lifecycle.zone_state("z2"), Some(ZoneState::Normal));
    sim.delete_node(NodeId(2));
    sim.delete_node(NodeId(3));
    run_checked(&mut sim, secs(66.0));
    let nlc = &sim.cm.node_lifecycle;
    assert_eq!((nlc.zone_state("z2"), nlc.zone_counts("z2")), (Some(ZoneState::Initial), Some((0, 0))));
    assert_eq!((nlc.zone_state("z1"), nlc.zone_counts("z1")), (Some(ZoneState::Normal), Some((2, 0))));
    let events = finish(&mut sim);
    assert_eq!(rows(&events, EventType::ZoneStateChanged, |r| r.name == "z2").len(), 1, "only the first Normal");
    assert_eq!(running_per_node(&sim, "web-").values().sum::<usize>(), 4);
}

/// (e) Nothing is counted twice when nodes go: with a cluster packed so that the replacements only just fit, one
/// node deleted (its kubelet still running) and another terminated, every node that exists stays within its
/// allocatable after every event, the scheduler's cache agrees with the store, and at the end each remaining
/// node's cached requests are exactly the requests of the pods the store binds there.
#[test]
fn nothing_is_double_counted_when_nodes_go() {
    let text = CLUSTER.replace("count = 3", "count = 4").replace("replicas = 6", "replicas = 7");
    let mut sim = sim(&text);
    run_checked(&mut sim, secs(90.0));
    sim.delete_node(NodeId(0));
    run_checked(&mut sim, secs(150.2));
    sim.terminate_node(NodeId(3));
    let _ = finish(&mut sim);
    let etcd = &sim.api.etcd;
    assert!(etcd.node(NodeId(0)).is_none() && etcd.node(NodeId(3)).is_none());
    for n in [NodeId(1), NodeId(2)] {
        let mut bound = Resources::default();
        for p in sim.api.pods_on_node(n) {
            let r = &etcd.pods[*p];
            if !r.state.phase.is_terminal() {
                bound.add(&r.spec.template.requests);
            }
        }
        let info = sim.scheduler.cache().node(n).expect("cached");
        assert_eq!((info.requested.cpu_millis, info.requested.memory_bytes), (bound.cpu_millis, bound.memory_bytes));
        assert!(bound.fits_within(&info.allocatable));
    }
    // 7 web pods of 1 CPU and a 100m daemon pod per node: two 4-CPU nodes hold 6 web pods (3.1 CPU each), so
    // one stays pending; nothing is bound to the deleted nodes any more.
    let web = running_per_node(&sim, "web-");
    assert_eq!(web.values().sum::<usize>(), 6, "{web:?}");
    assert!(sim.api.pods_on_node(NodeId(0)).is_empty() && sim.api.pods_on_node(NodeId(3)).is_empty());
    let pending = etcd.pods.iter().filter(|(_, r)| r.state.node.is_none()).count();
    assert_eq!(pending, 1);
    assert_eq!(sim.rec.metrics.nodes_deleted, 2);
    assert_eq!(sim.rec.metrics.pods_created, etcd.pods.len() as u64 + sim.rec.metrics.pods_deleted);
}

mod random {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Copy, Debug)]
    enum Action {
        Delete,
        Terminate,
        /// Terminated, and deleted at once as well (the autoscaler deleting the Node it scaled down).
        TerminateAndDelete,
    }

    fn scenario(seed: u64, nodes: u32, cpu: u32, replicas: u32, job: bool, daemonset: bool) -> String {
        let mut t = format!(
            "[scenario]\nname = \"prop\"\nseed = {seed}\nduration = \"12m\"\n\n[[cluster.node_pools]]\nname = \"a\"\n\
             count = {nodes}\ncpu = \"{cpu}\"\nmemory = \"8Gi\"\nzone = \"z\"\n\n[[workloads.deployments]]\nname = \
             \"web\"\nreplicas = {replicas}\ntemplate = {{ requests = {{ cpu = \"700m\", memory = \"512Mi\" }}, \
             readiness_delay = \"3s\" }}\n"
        );
        if job {
            t.push_str(
                "\n[[workloads.jobs]]\nname = \"batch\"\ncompletions = 6\nparallelism = 3\nbackoff_limit = 6\n\
                 [workloads.jobs.template]\nrequests = { cpu = \"300m\" }\nrun = { dist = \"fixed\", value = \"70s\" }\n\
                 restart_policy = \"Never\"\n",
            );
        }
        if daemonset {
            t.push_str("\n[[workloads.daemonsets]]\nname = \"agent\"\ntemplate = { requests = { cpu = \"100m\" } }\n");
        }
        t
    }

    fn action() -> impl Strategy<Value = (u32, u32, Action)> {
        (
            10u32..400,
            0u32..6,
            prop_oneof![Just(Action::Delete), Just(Action::Terminate), Just(Action::TerminateAndDelete)],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, max_shrink_iters: 100, ..ProptestConfig::default() })]

        /// Random deletions and terminations (of any node, at any time, twice over) on small clusters keep every
        /// invariant after every event; at the end, nothing is bound to a node that no longer exists, and no
        /// node that exists is over-allocated.
        #[test]
        fn nodes_going_away_keep_every_invariant(
            seed in any::<u64>(),
            nodes in 2u32..=5,
            cpu in 2u32..=4,
            replicas in 0u32..=8,
            job in any::<bool>(),
            daemonset in any::<bool>(),
            mut actions in prop::collection::vec(action(), 1..=4),
        ) {
            let text = scenario(seed, nodes, cpu, replicas, job, daemonset);
            let mut sim = super::sim(&text);
            actions.sort_by_key(|(at, _, _)| *at);
            for (at_s, node, action) in &actions {
                run_checked(&mut sim, SimTime::from_secs(u64::from(*at_s)));
                let node = NodeId(node % nodes);
                match action {
                    Action::Delete => sim.delete_node(node),
                    Action::Terminate => sim.terminate_node(node),
                    Action::TerminateAndDelete => {
                        sim.terminate_node(node);
                        sim.delete_node(node);
                    }
                }
            }
            let _ = finish(&mut sim);
            // The last action was at least 320 s before the end: enough for NotReady (<= 55 s), the cloud
            // controller (5 s), PodGC's quarantine and pass (<= 80 s) and the replacements.
            for (id, r) in sim.api.etcd.pods.iter() {
                if let Some(n) = r.state.node {
                    prop_assert!(sim.api.etcd.node(n).is_some(), "{} ({id:?}) still bound to deleted node {}", r.spec.name, n.0);
                }
            }
            for v in sim.api.etcd.nodes.iter().flatten() {
                prop_assert!(v.obj.is_ready(), "a node left is Ready (only terminated ones go NotReady)");
            }
        }
    }
}
