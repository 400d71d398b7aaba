//! What each fault verb does to the simulated components, and the scheduling of occurrences and heals.

use super::runtime::{Draw, FaultRuntime, Instance, NodeCondition, SharedKind};
use super::{FaultEvent, FaultSpec, FaultVerb, Recurrence, targets};
use crate::controllers::ControllerManager;
use crate::kubelet::{Kubelet, Link, Registry};
use crate::model::{NodeId, OwnerRef, PodId, Str};
use crate::record;
use crate::rng::{SimRng, Stream};
use crate::scheduler::Scheduler;
use crate::sim::{Ctx, Event, SimConfig};
use crate::time::{SimDuration, SimTime};
use crate::workload::Driver;
use std::fmt::Write as _;
use std::sync::Arc;

/// How long the cluster autoscaler lets a scale-down drain run before it terminates the machine anyway
/// (`--max-graceful-termination-sec`, 600 s).
pub const SCALE_DOWN_DRAIN_TIMEOUT: SimDuration = SimDuration::from_secs(600);
/// How often a scale-down checks whether its drained node is empty.
pub const SCALE_DOWN_CHECK_PERIOD: SimDuration = SimDuration::from_secs(5);

/// The components a fault may touch.
pub struct World<'a> {
    pub cfg: &'a SimConfig,
    pub kubelets: &'a mut Vec<Kubelet>,
    pub cm: &'a mut ControllerManager,
    pub scheduler: &'a mut Scheduler,
    pub driver: &'a mut Driver,
    pub pool_sizes: &'a mut [u32],
    pub registry: &'a mut Registry,
    pub rt: &'a mut FaultRuntime,
}

/// Schedules the first occurrence of every fault.
pub fn boot(cfg: &SimConfig, ctx: &mut Ctx) {
    for (i, f) in cfg.faults.iter().enumerate() {
        ctx.queue.push(f.at, Event::Fault(FaultEvent::Occur { spec: i as u32, n: 0 }));
    }
}

/// True when occurrence `n` of `s` may no longer happen at `now`.
fn over(s: &FaultSpec, now: SimTime, n: u32) -> bool {
    s.until.is_some_and(|u| now >= u) || s.repeat.is_some_and(|r| n >= r)
}

pub fn handle(w: &mut World, ev: FaultEvent, ctx: &mut Ctx) {
    match ev {
        FaultEvent::Occur { spec, n } => {
            let cfg = w.cfg;
            let Some(s) = cfg.faults.get(spec as usize) else { return };
            if over(s, ctx.now, n) {
                return;
            }
            match &s.recurrence {
                Recurrence::PerNode { time_to_failure } => {
                    // Each target fails on its own clock.
                    for node in targets::nodes(&s.targets, w.kubelets, w.rt, spec, 0) {
                        let mut rng = w.rt.rng(Draw::Interval, spec, Some(node.0), 0);
                        let at = ctx.now.add(time_to_failure.sample(&mut rng));
                        ctx.queue.push(at, Event::Fault(FaultEvent::NodeFail { spec, node: node.0, n: 0 }));
                    }
                }
                Recurrence::Once => inject(w, spec, n, None, ctx),
                Recurrence::Every(interval) => {
                    inject(w, spec, n, None, ctx);
                    let mut rng = w.rt.rng(Draw::Interval, spec, None, n);
                    let next = ctx.now.add(interval.sample(&mut rng).max(SimDuration(1)));
                    ctx.queue.push(next, Event::Fault(FaultEvent::Occur { spec, n: n + 1 }));
                }
            }
        }
        FaultEvent::NodeFail { spec, node, n } => {
            let cfg = w.cfg;
            let Some(s) = cfg.faults.get(spec as usize) else { return };
            if over(s, ctx.now, n) || w.rt.nodes.get(node as usize).is_none_or(|f| f.gone) {
                return;
            }
            inject(w, spec, n, Some(node), ctx);
        }
        FaultEvent::Heal(id) => heal(w, id, ctx),
        FaultEvent::Terminate { instance, node } => {
            let cfg = w.cfg;
            let Some(inst) = w.rt.instances.get(instance as usize) else { return };
            let s = &cfg.faults[inst.spec as usize];
            let id = NodeId(node);
            if let FaultVerb::RemoveNodes { drain_timeout } = s.verb {
                // The autoscaler waits for the drained node to empty (DaemonSet pods aside), at most its timeout.
                let started = inst.started;
                let busy = !w.driver.drain_finished(id)
                    || !ctx
                        .api
                        .list_pods_on_node(id, |spec, state| {
                            !matches!(spec.owner, Some(OwnerRef::DaemonSet(_))) && !state.phase.is_terminal()
                        })
                        .is_empty();
                if busy && ctx.now < started.add(drain_timeout) {
                    let at = ctx.now.add(SCALE_DOWN_CHECK_PERIOD);
                    ctx.queue.push(at, Event::Fault(FaultEvent::Terminate { instance, node }));
                    return;
                }
            }
            terminate(w, id, ctx);
        }
    }
}

/// The shared service a verb hits, as event details name it.
fn service(verb: FaultVerb) -> Option<&'static str> {
    match verb {
        FaultVerb::RegistrySlow { .. } | FaultVerb::RegistryDown => Some("registry"),
        FaultVerb::ApiserverSlow { .. } | FaultVerb::ApiserverUnavailable => Some("kube-apiserver"),
        FaultVerb::EtcdSlow { .. } | FaultVerb::EtcdUnavailable => Some("etcd"),
        FaultVerb::SchedulerCrash => Some("kube-scheduler"),
        _ => None,
    }
}

/// Names of nodes, space-separated, for event details.
fn node_names(kubelets: &[Kubelet], nodes: &[NodeId]) -> String {
    let mut out = String::new();
    for n in nodes {
        if let Some(k) = kubelets.get(n.index()) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&k.node().name);
        }
    }
    out
}

/// One occurrence: resolve targets, record it, apply it, schedule its heal.
fn inject(w: &mut World, spec: u32, n: u32, node: Option<u32>, ctx: &mut Ctx) {
    let cfg = w.cfg;
    let s = &cfg.faults[spec as usize];
    let nodes = match node {
        Some(x) => vec![NodeId(x)],
        None if s.verb.targets_nodes() => targets::nodes(&s.targets, w.kubelets, w.rt, spec, n),
        None => Vec::new(),
    };
    let pods = match s.verb {
        FaultVerb::ContainerCrash { .. } => targets::pods(&s.targets, w.kubelets, w.rt, spec, n),
        _ => Vec::new(),
    };
    let duration = if s.verb.heals() { w.rt.duration(s, spec, node, n) } else { None };
    let id = w.rt.instances.len() as u32;
    let heal_at = duration.map_or(SimTime::MAX, |d| ctx.now.add(d));
    let process = node.map(|x| (x, n));
    w.rt.instances.push(Instance { spec, nodes: nodes.clone(), started: ctx.now, heal_at, healed: false, process });

    let verb = &*s.name;
    let mut detail = format!("verb={verb} targets=");
    match s.verb {
        _ if s.verb.targets_nodes() => detail.push_str(&node_names(w.kubelets, &nodes)),
        FaultVerb::ContainerCrash { .. } => {
            for (i, (node, pod)) in pods.iter().enumerate() {
                let name = w.kubelets[node.index()].running_pods().find(|(p, _)| p == pod).map(|(_, s)| s.name.clone());
                if i > 0 {
                    detail.push(' ');
                }
                detail.push_str(name.as_deref().unwrap_or("?"));
            }
        }
        _ if service(s.verb).is_some() => detail.push_str(service(s.verb).unwrap_or_default()),
        FaultVerb::AddNodes { pool, .. } => detail.push_str(&w.cfg.pools[pool as usize].name),
        _ => {}
    }
    if let Some(d) = duration {
        let _ = write!(detail, " duration_s={}", crate::time::format_secs(d.micros()));
    }
    if let FaultVerb::SpotInterruption { notice } = s.verb {
        let _ = write!(detail, " notice_s={}", crate::time::format_secs(notice.micros()));
    }
    record!(ctx.rec, ctx.now, FaultInjected, Fault, verb, "", "{detail}");

    effect(w, id, true, &nodes, &pods, ctx);
    if let Some(d) = duration {
        ctx.queue.push(ctx.now.add(d), Event::Fault(FaultEvent::Heal(id)));
    }
}

fn heal(w: &mut World, id: u32, ctx: &mut Ctx) {
    let Some(inst) = w.rt.instances.get_mut(id as usize) else { return };
    if inst.healed {
        return;
    }
    inst.healed = true;
    let (spec, nodes, process) = (inst.spec, inst.nodes.clone(), inst.process);
    let cfg = w.cfg;
    let s = &cfg.faults[spec as usize];
    let verb = &*s.name;
    let names = match s.verb {
        _ if s.verb.targets_nodes() => node_names(w.kubelets, &nodes),
        _ => service(s.verb).unwrap_or_default().to_string(),
    };
    record!(ctx.rec, ctx.now, FaultHealed, Fault, verb, "", "verb={verb} targets={names}");
    effect(w, id, false, &nodes, &[], ctx);
    // A per-node process: the repaired node fails again after its next time to failure.
    if let (Some((node, n)), Recurrence::PerNode { time_to_failure }) = (process, &s.recurrence) {
        let mut rng = w.rt.rng(Draw::Interval, spec, Some(node), n + 1);
        let at = ctx.now.add(time_to_failure.sample(&mut rng));
        ctx.queue.push(at, Event::Fault(FaultEvent::NodeFail { spec, node, n: n + 1 }));
    }
}

/// Applies (`inject`) or undoes an instance's effect.
fn effect(w: &mut World, id: u32, inject: bool, nodes: &[NodeId], pods: &[(NodeId, PodId)], ctx: &mut Ctx) {
    let spec = w.rt.instances[id as usize].spec;
    let cfg = w.cfg;
    let s = &cfg.faults[spec as usize];
    let delta = |c: &mut u32| {
        if inject {
            *c += 1;
        } else {
            *c = c.saturating_sub(1);
        }
    };
    match s.verb {
        FaultVerb::NodeCrash | FaultVerb::KubeletStop | FaultVerb::NetworkPartition => {
            for node in nodes {
                let Some(f) = w.rt.nodes.get_mut(node.index()) else { continue };
                let before = f.condition();
                match s.verb {
                    FaultVerb::NodeCrash => delta(&mut f.crash),
                    FaultVerb::KubeletStop => delta(&mut f.stop),
                    _ => delta(&mut f.partition),
                }
                let after = f.condition();
                transition(w, *node, before, after, &s.name, ctx);
            }
        }
        FaultVerb::Cordon | FaultVerb::Drain => {
            for node in nodes.iter().filter(|n| !w.rt.nodes[n.index()].gone) {
                if inject && s.verb == FaultVerb::Drain {
                    w.driver.drain(*node, ctx);
                } else {
                    w.driver.cordon(*node, inject, ctx);
                }
            }
        }
        FaultVerb::SpotInterruption { notice } => {
            // The termination handler cordons and drains during the notice; then the machine goes away.
            for node in nodes {
                w.rt.nodes[node.index()].doomed = true;
                w.driver.drain(*node, ctx);
                let at = ctx.now.add(notice);
                ctx.queue.push(at, Event::Fault(FaultEvent::Terminate { instance: id, node: node.0 }));
            }
        }
        FaultVerb::RemoveNodes { .. } => {
            for node in nodes {
                w.rt.nodes[node.index()].doomed = true;
                w.driver.drain(*node, ctx);
                let at = ctx.now.add(SCALE_DOWN_CHECK_PERIOD);
                ctx.queue.push(at, Event::Fault(FaultEvent::Terminate { instance: id, node: node.0 }));
            }
        }
        FaultVerb::ContainerCrash { exit_code, oom } => {
            for (node, pod) in pods {
                if let Some(k) = w.kubelets.get_mut(node.index()) {
                    k.kill_container(*pod, exit_code, oom, ctx);
                }
            }
        }
        FaultVerb::RegistrySlow { .. }
        | FaultVerb::RegistryDown
        | FaultVerb::ApiserverSlow { .. }
        | FaultVerb::ApiserverUnavailable
        | FaultVerb::EtcdSlow { .. }
        | FaultVerb::EtcdUnavailable => {
            let kind = shared_kind(s.verb);
            if inject {
                w.rt.active.push((kind, id));
            } else {
                w.rt.deactivate(id);
            }
            recompute_shared(w, ctx);
        }
        FaultVerb::SchedulerCrash => {
            let was_down = w.rt.active_of(SharedKind::Scheduler).next().is_some();
            if inject {
                w.rt.active.push((SharedKind::Scheduler, id));
            } else {
                w.rt.deactivate(id);
            }
            let down = w.rt.active_of(SharedKind::Scheduler).next().is_some();
            if down && !was_down {
                w.scheduler.crash(ctx);
            } else if !down && was_down {
                w.scheduler.restart(ctx);
            }
        }
        FaultVerb::AddNodes { pool, count } if inject => {
            // New machines boot and their kubelets register, continuing the pool's indexes.
            let p = &cfg.pools[pool as usize];
            let interval = cfg.timings.lease_renew_interval;
            for _ in 0..count {
                let id = NodeId(w.kubelets.len() as u32);
                let index = w.pool_sizes[pool as usize];
                w.pool_sizes[pool as usize] += 1;
                let mut k = Kubelet::new(id, Arc::new(p.node(index)), cfg.seed);
                let phase = SimRng::keyed(cfg.seed, Stream::Kubelet, u64::from(id.0)).below(interval.micros().max(1));
                k.boot(ctx, SimDuration(phase));
                w.kubelets.push(k);
                w.rt.nodes.push(super::runtime::NodeFaults { pool, ..Default::default() });
            }
        }
        FaultVerb::AddNodes { .. } => {}
    }
}

fn shared_kind(verb: FaultVerb) -> SharedKind {
    match verb {
        FaultVerb::RegistrySlow { .. } => SharedKind::RegistrySlow,
        FaultVerb::RegistryDown => SharedKind::RegistryDown,
        FaultVerb::ApiserverSlow { .. } => SharedKind::ApiserverSlow,
        FaultVerb::ApiserverUnavailable => SharedKind::ApiserverDown,
        FaultVerb::EtcdSlow { .. } => SharedKind::EtcdSlow,
        FaultVerb::EtcdUnavailable => SharedKind::EtcdDown,
        _ => SharedKind::Scheduler,
    }
}

/// Shared-service health from the active instances: the worst slowdown, and down until the last outage heals.
fn recompute_shared(w: &mut World, ctx: &mut Ctx) {
    let faults = &w.cfg.faults;
    let verb_of = |i: &Instance| faults[i.spec as usize].verb;
    let rt = &*w.rt;
    let worst = |kind| {
        rt.active_of(kind)
            .map(|i| match verb_of(i) {
                FaultVerb::ApiserverSlow { extra_latency } | FaultVerb::EtcdSlow { extra_latency } => extra_latency,
                _ => SimDuration::ZERO,
            })
            .max()
            .unwrap_or(SimDuration::ZERO)
    };
    let down_until = |kind| rt.active_of(kind).map(|i| i.heal_at).max();
    w.registry.slow_factor_milli = rt
        .active_of(SharedKind::RegistrySlow)
        .map(|i| match verb_of(i) {
            FaultVerb::RegistrySlow { factor_milli } => factor_milli,
            _ => 1000,
        })
        .max()
        .unwrap_or(1000);
    w.registry.down = rt.active_of(SharedKind::RegistryDown).next().is_some();
    ctx.api.health.extra_latency = worst(SharedKind::ApiserverSlow);
    ctx.api.health.unavailable_until = down_until(SharedKind::ApiserverDown);
    ctx.api.etcd.health.extra_write_latency = worst(SharedKind::EtcdSlow);
    ctx.api.etcd.health.unavailable_until = down_until(SharedKind::EtcdDown);
}

/// A node's condition changed: bring its kubelet there.
fn transition(w: &mut World, node: NodeId, before: NodeCondition, after: NodeCondition, verb: &Str, ctx: &mut Ctx) {
    use NodeCondition::*;
    if before == after || before == Gone {
        return;
    }
    let Some(k) = w.kubelets.get_mut(node.index()) else { return };
    let name = k.node().name.clone();
    let offline = |c| match c {
        Hung => Some(Link::Hung),
        Partitioned => Some(Link::Partitioned),
        _ => None,
    };
    match after {
        Crashed | Gone => {
            if let Some(last) = k.crash(ctx) {
                w.cm.lease_stopped(node, last, ctx);
            }
            record!(ctx.rec, ctx.now, NodeFailed, Node, &name, &name, "verb={verb}");
        }
        Healthy if before == Crashed => {
            k.restart(ctx);
            record!(ctx.rec, ctx.now, NodeRecovered, Node, &name, &name, "verb={verb}");
        }
        Healthy => k.reconnect(ctx),
        Hung | Partitioned => {
            if before == Crashed {
                k.restart(ctx);
                record!(ctx.rec, ctx.now, NodeRecovered, Node, &name, &name, "verb={verb}");
            }
            if let Some(link) = offline(after)
                && let Some(last) = k.go_offline(link, ctx)
            {
                w.cm.lease_stopped(node, last, ctx);
            }
        }
    }
}

/// A machine terminated for good (spot interruption, scale-down): no later fault touches it.
fn terminate(w: &mut World, node: NodeId, ctx: &mut Ctx) {
    let Some(f) = w.rt.nodes.get_mut(node.index()) else { return };
    f.gone = true;
    if let Some(k) = w.kubelets.get_mut(node.index()) {
        terminate_machine(k, w.cm, ctx);
    }
}

/// Terminates `k`'s machine (`NodeTerminated`): its kubelet stops for good; the node lifecycle controller notices
/// the missing heartbeats and the cloud node lifecycle controller then deletes the Node (see
/// [`ControllerManager::instance_terminated`]). Terminating twice changes nothing.
pub fn terminate_machine(k: &mut Kubelet, cm: &mut ControllerManager, ctx: &mut Ctx) {
    if k.is_terminated() {
        return;
    }
    let was_running = k.alive;
    let last = k.terminate(ctx);
    let node = k.node_id;
    let name = k.node().name.clone();
    record!(ctx.rec, ctx.now, NodeTerminated, Node, &name, &name, "was_running={was_running}");
    if let Some(last) = last {
        cm.lease_stopped(node, last, ctx);
    }
    cm.instance_terminated(node, ctx);
}
