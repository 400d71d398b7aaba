//! Zone states of the node lifecycle controller, with exact times (upstream `handleDisruption`).
//!
//! Default timings throughout: a node whose machine dies at T has its last Lease renewal R in (T - 10 s, T]
//! (its seeded heartbeat phase); the controller sees it 6 ms after it is sent, so the probe P is the first 5 s
//! pass at or after R + 6 ms. The pass P + 50 writes Ready=Unknown (committed 5 ms later) and counts the node
//! as not ready in its zone; the pass P + 55 queues it for the NoExecute taint, which the tainter applies on the
//! next 100 ms tick its zone's token bucket allows (committed 5 ms later). The taint eviction controller sees
//! the taint 1 ms after it commits and evicts 300 s later (the eviction commits 5 ms after that).
//!
//! Zone states: FullDisruption when no counted node is Ready, PartialDisruption when more than 2 and at least
//! 55% are not, Normal otherwise. Tainting rate: 0.1/s in Normal and in FullDisruption of some zones; in
//! PartialDisruption 0.01/s if the zone has more than 50 nodes, else none; none anywhere while every zone is
//! in FullDisruption.

use kubesim::model::NodeId;
use kubesim::recorder::{EventRow, EventSink, EventType};
use kubesim::run::{RunOutcome, run_in_memory};
use kubesim::scenario::Scenario;
use kubesim::sim::Sim;
use kubesim::time::{SimDuration, SimTime};
use std::sync::Arc;

fn scenario(text: &str) -> Scenario {
    Scenario::from_str(text, "zones.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn secs(s: f64) -> SimTime {
    SimTime((s * 1e6).round() as u64)
}

fn ms(ms: u64) -> SimDuration {
    SimDuration::from_millis(ms)
}

/// `["p-0", "p-1", ...]` for a fault's `nodes` list.
fn names(prefix: &str, range: std::ops::Range<usize>) -> String {
    let list: Vec<String> = range.map(|i| format!("\"{prefix}-{i}\"")).collect();
    format!("[{}]", list.join(", "))
}

/// The probe P of each named node if its machine dies at `crash` (from its seeded heartbeat phase).
fn probes(sc: &Scenario, nodes: &[String], crash: SimTime) -> Vec<SimTime> {
    let sim = Sim::new(Arc::new(sc.config.clone()), EventSink::Discard).expect("sim");
    nodes
        .iter()
        .map(|name| {
            let id = sim.kubelets.iter().position(|k| &*k.node().name == name).expect("node exists");
            let origin = sim.api.lease(NodeId(id as u32)).and_then(|l| l.origin).expect("lease started");
            let last = crash.floor_to_period(origin, SimDuration::from_secs(10)).expect("renewed before the crash");
            last.add(ms(6)).ceil_to_period(SimTime::ZERO, SimDuration::from_secs(5))
        })
        .collect()
}

fn node_list(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}-{i}")).collect()
}

fn rows(out: &RunOutcome, event: EventType, pred: impl Fn(&EventRow) -> bool) -> Vec<&EventRow> {
    out.events.iter().filter(|r| r.event == event && pred(r)).collect()
}

fn no_execute_taints<'a>(out: &'a RunOutcome, prefix: &str) -> Vec<&'a EventRow> {
    rows(out, EventType::NodeTainted, |r| r.node.starts_with(prefix) && r.detail.ends_with(":NoExecute"))
}

fn zone_changes(out: &RunOutcome, zone: &str) -> Vec<(SimTime, String)> {
    rows(out, EventType::ZoneStateChanged, |r| r.name == zone).iter().map(|r| (r.time, r.detail.clone())).collect()
}

fn pool(name: &str, count: usize, zone: Option<&str>, extra: &str) -> String {
    let zone = zone.map(|z| format!("zone = \"{z}\"\n")).unwrap_or_default();
    format!(
        "[[cluster.node_pools]]\nname = \"{name}\"\ncount = {count}\ncpu = \"4\"\nmemory = \"16Gi\"\n{zone}{extra}\n"
    )
}

fn header(duration: &str) -> String {
    format!("[scenario]\nname = \"zones\"\nduration = \"{duration}\"\n\n")
}

fn deployment(name: &str, replicas: usize) -> String {
    format!(
        "[[workloads.deployments]]\nname = \"{name}\"\nreplicas = {replicas}\n\
         template = {{ requests = {{ cpu = \"500m\", memory = \"256Mi\" }} }}\n\n"
    )
}

fn crash(at: &str, nodes: &str, duration: Option<&str>) -> String {
    let duration = duration.map(|d| format!("duration = \"{d}\"\n")).unwrap_or_default();
    format!("[[faults]]\nverb = \"node-crash\"\nat = \"{at}\"\nnodes = {nodes}\n{duration}\n")
}

/// The spread of probes must stay within one pass for the zone to change state before any crashed node's
/// NoExecute tick (the earliest-flipped nodes are queued one pass after their flip). This holds unless some
/// node renewed its Lease within 6 ms before the crash, which the seeds used here avoid; checked explicitly.
fn assert_one_pass_spread(p: &[SimTime]) {
    let (lo, hi) = (p.iter().min().unwrap(), p.iter().max().unwrap());
    assert!(hi.since(*lo) <= SimDuration::from_secs(5), "probes {p:?} span more than one pass");
}

#[test]
fn normal_zone_taints_one_node_per_10s() {
    // 3 of 10 nodes (30%, under the 55% threshold) die at once: the zone stays Normal and the 0.1/s bucket
    // (burst 1) spaces the NoExecute taints exactly 10 s apart.
    let text = header("15m")
        + &pool("a", 10, Some("zone-a"), "")
        + &deployment("web", 30)
        + &crash("60s", &names("a", 0..3), None);
    let sc = scenario(&text);
    let p = probes(&sc, &node_list("a", 0..3), SimTime::from_secs(60));
    let first = *p.iter().min().unwrap();
    let out = run_in_memory(&sc, None).expect("run");

    let taints: Vec<SimTime> = no_execute_taints(&out, "a-").iter().map(|r| r.time).collect();
    let expected: Vec<SimTime> = (0..3).map(|k| first.add(ms(55_105)).add(SimDuration::from_secs(10 * k))).collect();
    assert_eq!(taints, expected, "probes {p:?}");
    // Each crashed node's pods are evicted 300 s after its taint is seen.
    for (row, at) in no_execute_taints(&out, "a-").iter().zip(&expected) {
        let evicted = rows(&out, EventType::PodEvicted, |r| r.node == row.node);
        assert!(!evicted.is_empty(), "{} had pods", row.node);
        assert!(evicted.iter().all(|r| r.time == at.add(ms(300_006))), "{}", row.node);
    }
    // The zone was Normal from the first pass and never changed.
    assert_eq!(zone_changes(&out, "zone-a"), vec![(SimTime::from_secs(5), "state=Normal not_ready=0 total=10".into())]);
}

#[test]
fn partial_disruption_stops_tainting_in_a_small_zone() {
    // 4 of 5 nodes of zone-a (80% > 55%, more than 2) die: PartialDisruption with 5 <= 50 nodes stops the
    // tainting, so nothing is evicted there. In zone-b one node of 5 dies: Normal, tainted and evicted as usual.
    // At 20m a-0 and a-1 come back: 2 not ready of 5 is Normal again, and the two nodes still down are tainted
    // from a drained bucket (the stopped limiter had no token): 10 s and 20 s after that pass.
    let text = header("30m")
        + &pool("a", 5, Some("zone-a"), "")
        + &pool("b", 5, Some("zone-b"), "")
        + &deployment("web", 30)
        + &crash("60s", &names("a", 0..2), Some("19m"))
        + &crash("60s", &names("a", 2..4), None)
        + &crash("60s", "[\"b-0\"]", None);
    let sc = scenario(&text);
    let pa = probes(&sc, &node_list("a", 0..4), SimTime::from_secs(60));
    assert_one_pass_spread(&pa);
    let pb = probes(&sc, &["b-0".to_string()], SimTime::from_secs(60))[0];
    let out = run_in_memory(&sc, None).expect("run");

    let not_ready = rows(&out, EventType::NodeNotReady, |r| r.node.starts_with("a-"));
    assert_eq!(not_ready.len(), 4, "the crashed nodes still go NotReady");
    // The zone turns PartialDisruption at the pass where its third node goes NotReady, and Normal at the pass
    // after a-0 and a-1 post Ready=True (committed at 1200.005).
    let mut sorted = pa.clone();
    sorted.sort();
    let partial_at = sorted[2].add(SimDuration::from_secs(50));
    let normal_again = SimTime::from_secs(1205);
    assert_eq!(
        zone_changes(&out, "zone-a"),
        vec![
            (SimTime::from_secs(5), "state=Normal not_ready=0 total=5".into()),
            (partial_at, "state=PartialDisruption not_ready=4 total=5".into()),
            (normal_again, "state=Normal not_ready=2 total=5".into()),
        ]
    );
    // No NoExecute taint and no eviction in zone-a while it was partially disrupted; then the drained bucket.
    let a_taints: Vec<&EventRow> = no_execute_taints(&out, "a-");
    let times: Vec<SimTime> = a_taints.iter().map(|r| r.time).collect();
    assert_eq!(times, vec![secs(1215.005), secs(1225.005)]);
    let mut tainted: Vec<&str> = a_taints.iter().map(|r| r.node.as_str()).collect();
    tainted.sort();
    assert_eq!(tainted, ["a-2", "a-3"]);
    let a_evicted = rows(&out, EventType::PodEvicted, |r| r.node.starts_with("a-"));
    assert!(!a_evicted.is_empty());
    assert!(a_evicted.iter().all(|r| r.time == secs(1515.011) || r.time == secs(1525.011)), "{a_evicted:?}");

    // zone-b is unaffected: one node down is Normal, so b-0 follows the usual timeline.
    assert_eq!(zone_changes(&out, "zone-b"), vec![(SimTime::from_secs(5), "state=Normal not_ready=0 total=5".into())]);
    let b_taints: Vec<SimTime> = no_execute_taints(&out, "b-").iter().map(|r| r.time).collect();
    assert_eq!(b_taints, vec![pb.add(ms(55_105))]);
    let evicted = rows(&out, EventType::PodEvicted, |r| r.node == "b-0");
    assert!(!evicted.is_empty());
    assert!(evicted.iter().all(|r| r.time == pb.add(ms(355_111))));
}

#[test]
fn partial_disruption_in_a_large_zone_taints_at_the_secondary_rate() {
    // 34 of 60 nodes (57%) die: PartialDisruption in a zone of more than 50 nodes keeps tainting at 0.01/s.
    // The bucket still held its token when the rate changed, so the first taint comes on the first tick; the
    // next ones 100 s apart. The controller's client rate limit (20 QPS, burst 30) is lifted here: with default
    // limits the 34 Ready=Unknown writes, their pods' Ready=False and the 34 NoSchedule taints queue the first
    // NoExecute request by about 0.4 s (as they would upstream, where they share one client).
    let text = header("12m")
        + "[timings]\ncontroller_manager_qps = 10000\ncontroller_manager_burst = 10000\n\n"
        + &pool("a", 60, Some("zone-a"), "")
        + &deployment("web", 60)
        + &crash("60s", &names("a", 0..34), None);
    let sc = scenario(&text);
    let p = probes(&sc, &node_list("a", 0..34), SimTime::from_secs(60));
    assert_one_pass_spread(&p);
    let first = *p.iter().min().unwrap();
    let out = run_in_memory(&sc, None).expect("run");

    let taints: Vec<SimTime> = no_execute_taints(&out, "a-").iter().map(|r| r.time).collect();
    let end = SimTime::from_secs(720);
    let expected: Vec<SimTime> =
        (0..).map(|k| first.add(ms(55_105)).add(SimDuration::from_secs(100 * k))).take_while(|t| *t <= end).collect();
    assert!(expected.len() >= 5);
    assert_eq!(taints, expected, "probes {p:?}");
    // The state changed when at least 33 of the 60 (55%) were counted not ready.
    let changes = zone_changes(&out, "zone-a");
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes[1].1.starts_with("state=PartialDisruption not_ready=") && changes[1].1.ends_with(" total=60"));
    assert!(changes[1].0 <= first.add(SimDuration::from_secs(55)));
}

/// Two zones of 3 nodes, plus `x-0`: a node of zone-a labelled `node.kubernetes.io/exclude-disruption`, which
/// the zone states leave out (it stays up while the others are down).
fn two_zones_with_excluded_node(faults: &str) -> Scenario {
    let text = header("25m")
        + &pool("a", 3, Some("zone-a"), "")
        + &pool("b", 3, Some("zone-b"), "")
        + &pool("x", 1, Some("zone-a"), "labels = { \"node.kubernetes.io/exclude-disruption\" = \"\" }\n")
        + &deployment("web", 12)
        + faults;
    scenario(&text)
}

#[test]
fn full_disruption_of_all_zones_stops_tainting_then_gives_a_fresh_grace_period() {
    // Every counted node dies at 60 s: every zone is in FullDisruption, so the controller assumes it is the one
    // cut off: no NoExecute taint, no eviction. a-0 comes back at 600 s: the next pass leaves that mode, gives
    // every node a fresh 50 s grace, and restarts tainting with drained buckets (first token 10 s later).
    let faults = crash("60s", &names("a", 0..1), Some("540s"))
        + &crash("60s", &names("a", 1..3), None)
        + &crash("60s", &names("b", 0..3), None)
        + &crash("580s", "[\"x-0\"]", None);
    let sc = two_zones_with_excluded_node(&faults);
    let mut down = node_list("a", 0..3);
    down.extend(node_list("b", 0..3));
    let p = probes(&sc, &down, SimTime::from_secs(60));
    assert_one_pass_spread(&p);
    let all_down_pass = p.iter().max().unwrap().add(SimDuration::from_secs(50));
    let px = probes(&sc, &["x-0".to_string()], SimTime::from_secs(580))[0];
    let out = run_in_memory(&sc, None).expect("run");

    // Both zones turn FullDisruption by the pass where the last node goes NotReady (a zone may get there one
    // pass earlier), and leave it at 605 s (a-0's Ready=True committed at 600.005 and counted at the next pass).
    let exit = SimTime::from_secs(605);
    let a = zone_changes(&out, "zone-a");
    let b = zone_changes(&out, "zone-b");
    for changes in [&a, &b] {
        assert!(changes[1].0 <= all_down_pass && changes[1].1 == "state=FullDisruption not_ready=3 total=3");
    }
    assert_eq!(a.len(), 3, "{a:?}");
    assert_eq!(a[2], (exit, "state=Normal not_ready=2 total=3".into()));
    assert_eq!(b.len(), 2, "zone-b stays FullDisruption: {b:?}");

    // Nothing was tainted NoExecute or evicted while all zones were down.
    let early_taints: Vec<&EventRow> =
        rows(&out, EventType::NodeTainted, |r| r.detail.ends_with(":NoExecute") && r.time < exit);
    assert!(early_taints.is_empty(), "{early_taints:?}");
    assert!(rows(&out, EventType::PodEvicted, |r| r.time < exit.add(SimDuration::from_secs(300))).is_empty());

    // x-0 died at 580 s with a probe P; it would have gone NotReady at P + 50. The fresh grace at 605 s delays
    // that to 655 s.
    assert!(px.add(SimDuration::from_secs(50)) < SimTime::from_secs(655));
    let x_not_ready = rows(&out, EventType::NodeNotReady, |r| r.node == "x-0");
    assert_eq!(x_not_ready.len(), 1);
    assert_eq!(x_not_ready[0].time, secs(655.005));

    // Tainting resumes at 0.1/s per zone from drained buckets: the first token 10 s after the exit pass.
    // zone-a (Normal) taints its two down nodes, then x-0 on the first tick after the pass that queues it (660).
    let a: Vec<SimTime> =
        no_execute_taints(&out, "a-").iter().chain(no_execute_taints(&out, "x-").iter()).map(|r| r.time).collect();
    let mut a_sorted = a.clone();
    a_sorted.sort();
    assert_eq!(a_sorted, vec![secs(615.005), secs(625.005), secs(660.105)]);
    // zone-b (FullDisruption while zone-a is not) taints at the normal rate too.
    let b: Vec<SimTime> = no_execute_taints(&out, "b-").iter().map(|r| r.time).collect();
    assert_eq!(b, vec![secs(615.005), secs(625.005), secs(635.005)]);
    // And their pods are evicted 300 s after each taint is seen.
    for row in no_execute_taints(&out, "b-") {
        let evicted = rows(&out, EventType::PodEvicted, |r| r.node == row.node);
        assert!(evicted.iter().all(|r| r.time == row.time.add(ms(300_006))), "{}", row.node);
    }
}

#[test]
fn entering_full_disruption_of_all_zones_removes_no_execute_taints() {
    // zone-a dies first: FullDisruption of one zone only keeps the normal rate, so its nodes are tainted 10 s
    // apart. When zone-b dies too (x-0 is excluded and does not count), every zone is fully disrupted: the
    // controller removes the NoExecute taints from every node and the pending evictions are cancelled.
    let faults = crash("60s", &names("a", 0..3), None) + &crash("200s", &names("b", 0..3), None);
    let sc = two_zones_with_excluded_node(&faults);
    let pa = probes(&sc, &node_list("a", 0..3), SimTime::from_secs(60));
    assert_one_pass_spread(&pa);
    let pb = probes(&sc, &node_list("b", 0..3), SimTime::from_secs(200));
    assert_one_pass_spread(&pb);
    let out = run_in_memory(&sc, None).expect("run");

    let a_full = pa.iter().max().unwrap().add(SimDuration::from_secs(50));
    let all_full = pb.iter().max().unwrap().add(SimDuration::from_secs(50));
    let changes = zone_changes(&out, "zone-a");
    assert_eq!(changes[1], (a_full, "state=FullDisruption not_ready=3 total=3".into()));
    assert_eq!(changes.len(), 2, "zone-a stays FullDisruption: {changes:?}");
    assert_eq!(zone_changes(&out, "zone-b")[1], (all_full, "state=FullDisruption not_ready=3 total=3".into()));

    // zone-a's nodes were tainted 10 s apart from the first tick after the pass that queued them...
    let first = *pa.iter().min().unwrap();
    let taints: Vec<SimTime> = no_execute_taints(&out, "a-").iter().map(|r| r.time).collect();
    let expected: Vec<SimTime> = (0..3).map(|k| first.add(ms(55_105)).add(SimDuration::from_secs(10 * k))).collect();
    assert_eq!(taints, expected);
    // ...and all three taints were removed by the pass that saw every zone down (committed 5 ms later).
    let removed: Vec<&EventRow> =
        rows(&out, EventType::NodeUntainted, |r| r.node.starts_with("a-") && r.detail.ends_with(":NoExecute"));
    assert_eq!(removed.len(), 3);
    assert!(removed.iter().all(|r| r.time == all_full.add(ms(5))));
    assert!(no_execute_taints(&out, "b-").is_empty());
    assert!(all_full.add(ms(6)) < expected[0].add(ms(300_006)), "the taints go before the first eviction is due");
    assert!(rows(&out, EventType::PodEvicted, |_| true).is_empty(), "evictions cancelled");
    assert_eq!(out.summary.metrics["evictions"], 0);
}

#[test]
fn single_node_cluster_is_never_tainted_no_execute() {
    // The only node dies: its zone (the whole cluster, no zone label) is in FullDisruption, and so is every
    // zone. The node goes NotReady and gets the NoSchedule taint, but never the NoExecute one.
    let text = header("30m") + &pool("solo", 1, None, "") + &deployment("web", 2) + &crash("60s", "[\"solo-0\"]", None);
    let sc = scenario(&text);
    let p = probes(&sc, &["solo-0".to_string()], SimTime::from_secs(60))[0];
    let out = run_in_memory(&sc, None).expect("run");

    let nr = rows(&out, EventType::NodeNotReady, |r| r.node == "solo-0");
    assert_eq!(nr.len(), 1);
    assert_eq!(nr[0].time, p.add(ms(50_005)));
    let tainted: Vec<(SimTime, &str)> = rows(&out, EventType::NodeTainted, |r| r.node == "solo-0")
        .iter()
        .map(|r| (r.time, r.detail.as_str()))
        .collect();
    assert_eq!(tainted, vec![(p.add(ms(50_011)), "node.kubernetes.io/unreachable:NoSchedule")]);
    assert_eq!(
        zone_changes(&out, ""),
        vec![
            (SimTime::from_secs(5), "state=Normal not_ready=0 total=1".into()),
            (p.add(SimDuration::from_secs(50)), "state=FullDisruption not_ready=1 total=1".into()),
        ]
    );
    assert_eq!(out.summary.metrics["evictions"], 0);
    assert_eq!(out.summary.metrics["nodes_not_ready_at_end"], 1);
}

/// `scenarios/zone-outage.toml` does what its header says.
#[test]
fn zone_outage_scenario_taints_the_lost_zone_at_the_normal_rate() {
    let sc = Scenario::load(std::path::Path::new("scenarios/zone-outage.toml")).expect("scenario loads");
    let out = run_in_memory(&sc, None).expect("run");
    let c = zone_changes(&out, "zone-c");
    let states: Vec<&str> = c.iter().map(|(_, d)| d.split(' ').next().unwrap()).collect();
    assert_eq!(states, ["state=Normal", "state=FullDisruption", "state=Normal"], "{c:?}");
    assert_eq!(c[1].1, "state=FullDisruption not_ready=10 total=10");
    assert_eq!(c[2].0, SimTime::from_secs(2405), "Normal at the pass after the kubelets post Ready");
    for zone in ["zone-a", "zone-b"] {
        assert_eq!(zone_changes(&out, zone).len(), 1, "{zone} stays Normal");
    }
    let taints: Vec<SimTime> = no_execute_taints(&out, "zone-c-").iter().map(|r| r.time).collect();
    assert_eq!(taints.len(), 10);
    for pair in taints[1..].windows(2) {
        assert_eq!(pair[1].since(pair[0]), SimDuration::from_secs(10), "{taints:?}");
    }
    assert!(taints[1].since(taints[0]) <= SimDuration::from_secs(10), "{taints:?}");
    let evictions = out.summary.metrics["evictions"].as_u64().expect("count");
    assert!(evictions > 0);
    assert_eq!(rows(&out, EventType::PodEvicted, |r| r.node.starts_with("zone-c-")).len() as u64, evictions);
    let unschedulable = out.summary.metrics["pods_unschedulable"].as_u64().expect("count");
    assert!(unschedulable > 0, "the surviving zones cannot hold everything");
    assert_eq!(out.summary.metrics["pods_pending_at_end"], 0);
    assert_eq!(out.summary.metrics["nodes_not_ready_at_end"], 0);
}
