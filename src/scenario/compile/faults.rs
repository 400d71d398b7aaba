//! `[[faults]]`: verbs, targets, schedules and random processes.

use super::{Compiler, limits, node_id};
use crate::dist::Dist;
use crate::faults::{FaultSpec, FaultVerb, Pick, Recurrence, Targets};
use crate::model::labels::parse_label_selector;
use crate::model::{RunModel, s};
use crate::scenario::schema::{self, DurationSpec, Sp};
use crate::sim::NodePool;
use crate::time::{SimDuration, SimTime};
use crate::workload::Workloads;

/// Keys every verb accepts.
const COMMON: &[&str] = &["verb", "at", "every", "until", "repeat"];

/// The keys a verb accepts beyond [`COMMON`].
fn verb_keys(verb: &str) -> Option<&'static [&'static str]> {
    Some(match verb {
        "node-crash" | "kubelet-stop" | "network-partition" => {
            &["nodes", "selector", "zone", "pool", "count", "percent", "duration", "per_node"]
        }
        "zone-outage" => &["zone", "count", "percent", "duration"],
        "cordon" | "drain" => &["nodes", "selector", "zone", "pool", "count", "percent", "duration"],
        "spot-interruption" => &["nodes", "selector", "zone", "pool", "count", "percent", "notice"],
        "container-crash" => &["workload", "nodes", "selector", "zone", "pool", "count", "percent", "exit_code"],
        "oom-kill" => &["workload", "nodes", "selector", "zone", "pool", "count", "percent"],
        "registry-slow" => &["factor", "duration"],
        "apiserver-slow" | "etcd-slow" => &["extra_latency", "duration"],
        "registry-down" | "apiserver-unavailable" | "etcd-unavailable" | "scheduler-crash" => &["duration"],
        "add-nodes" => &["pool", "count"],
        "remove-nodes" => &["pool", "count", "percent", "nodes", "selector", "zone", "drain_timeout"],
        _ => return None,
    })
}

/// The keys an entry sets, with their spans (for "does not apply" errors).
fn keys_set(e: &schema::FaultEntry) -> Vec<(&'static str, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut add = |k, span: Option<std::ops::Range<usize>>| {
        if let Some(span) = span {
            out.push((k, span));
        }
    };
    add("at", e.at.as_ref().map(|v| v.span()));
    add("nodes", e.nodes.first().map(|v| v.span()));
    add("selector", e.selector.as_ref().map(|v| v.span()));
    add("zone", e.zone.as_ref().map(|v| v.span()));
    add("pool", e.pool.as_ref().map(|v| v.span()));
    add("count", e.count.as_ref().map(|v| v.span()));
    add("percent", e.percent.as_ref().map(|v| v.span()));
    add("workload", e.workload.as_ref().map(|v| v.span()));
    add("duration", e.duration.as_ref().map(|v| v.span()));
    add("every", e.every.as_ref().map(|v| v.span()));
    add("until", e.until.as_ref().map(|v| v.span()));
    add("repeat", e.repeat.as_ref().map(|v| v.span()));
    add("per_node", e.per_node.as_ref().map(|v| v.span()));
    add("extra_latency", e.extra_latency.as_ref().map(|v| v.span()));
    add("factor", e.factor.as_ref().map(|v| v.span()));
    add("exit_code", e.exit_code.as_ref().map(|v| v.span()));
    add("notice", e.notice.as_ref().map(|v| v.span()));
    add("drain_timeout", e.drain_timeout.as_ref().map(|v| v.span()));
    out
}

impl Compiler<'_> {
    /// A duration or distribution (`what`: the key, for messages). Never `forever`.
    fn fault_dist(&mut self, v: &Sp<DurationSpec>, what: &str, positive: bool) -> Option<Dist> {
        let dist = match v.get_ref() {
            DurationSpec::Text(text) => {
                Dist::Fixed(self.duration_within(&Sp::new(v.span(), text.clone()), limits::MAX_DURATION, what)?)
            }
            DurationSpec::Dist(entry) => match self.dist_entry(entry, v.span(), what)? {
                RunModel::Forever => {
                    return self.err(v.span(), format!("{what} cannot be \"forever\"; leave `{what}` out instead"));
                }
                RunModel::For(d) => d,
            },
        };
        if positive && dist == Dist::Fixed(SimDuration::ZERO) {
            return self.err(v.span(), format!("{what} must be positive"));
        }
        // A process that averages under a millisecond (e.g. a uniform 0-0) would flood the run with occurrences.
        if positive && dist.mean_s() < 0.001 {
            return self.err(v.span(), format!("{what} must average at least 1ms"));
        }
        Some(dist)
    }

    pub(super) fn faults(
        &mut self,
        faults: &[Sp<schema::FaultEntry>],
        pools: &[NodePool],
        workloads: &Workloads,
        run: Option<(SimDuration, &str)>,
    ) -> Vec<FaultSpec> {
        if faults.len() > limits::MAX_FAULTS {
            self.err::<()>(faults[0].span(), format!("{} faults; the limit is {}", faults.len(), limits::MAX_FAULTS));
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut added_nodes = 0u64;
        for f in faults {
            if let Some(spec) = self.fault(f, pools, workloads, run, &mut added_nodes) {
                out.push(spec);
            }
        }
        out
    }

    fn fault(
        &mut self,
        f: &Sp<schema::FaultEntry>,
        pools: &[NodePool],
        workloads: &Workloads,
        run: Option<(SimDuration, &str)>,
        added_nodes: &mut u64,
    ) -> Option<FaultSpec> {
        let e = f.get_ref();
        let verb_name = e.verb.get_ref().as_str();
        let Some(allowed) = verb_keys(verb_name) else {
            let names: Vec<String> = FaultVerb::NAMES.iter().map(|v| format!("{v:?}")).collect();
            return self
                .err(e.verb.span(), format!("unknown fault verb {verb_name:?}; expected one of {}", names.join(", ")));
        };
        let mut ok = true;
        for (key, span) in keys_set(e) {
            if !COMMON.contains(&key) && !allowed.contains(&key) {
                let accepted: Vec<&str> = allowed.to_vec();
                self.err::<()>(
                    span,
                    format!("`{key}` does not apply to verb {verb_name:?}; it takes {}", accepted.join(", ")),
                );
                ok = false;
            }
        }

        // Targets.
        let mut targets = Targets::default();
        for n in &e.nodes {
            match node_id(pools, n.get_ref()) {
                Some(_) => targets.names.push(s(n.get_ref())),
                None => {
                    let valid: Vec<String> = pools
                        .iter()
                        .filter(|p| p.count > 0)
                        .map(|p| match p.count {
                            1 => p.node_name(0),
                            n => format!("{}..{}", p.node_name(0), p.node_name(n - 1)),
                        })
                        .collect();
                    self.err::<()>(
                        n.span(),
                        format!("no node is named {:?}; the nodes are {}", n.get_ref(), valid.join(", ")),
                    );
                    ok = false;
                }
            }
        }
        if let Some(sel) = &e.selector {
            match parse_label_selector(sel.get_ref()) {
                Ok(parsed) => targets.selector = Some(parsed),
                Err(msg) => {
                    self.err::<()>(sel.span(), format!("selector: {msg}"));
                    ok = false;
                }
            }
        }
        if let Some(z) = &e.zone {
            let known = pools.iter().any(|p| p.template.zone().is_some_and(|pz| **pz == **z.get_ref()));
            if !known {
                let zones: std::collections::BTreeSet<&str> =
                    pools.iter().filter_map(|p| p.template.zone().map(|z| &**z)).collect();
                self.err::<()>(
                    z.span(),
                    format!(
                        "no node pool is in zone {:?}; the zones are {}",
                        z.get_ref(),
                        zones.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                );
                ok = false;
            }
            targets.zone = Some(s(z.get_ref()));
        }
        let pool = match &e.pool {
            Some(p) => match pools.iter().position(|x| &*x.name == p.get_ref().as_str()) {
                Some(i) => Some(i as u32),
                None => {
                    let names: Vec<&str> = pools.iter().map(|p| &*p.name).collect();
                    self.err::<()>(
                        p.span(),
                        format!("no node pool named {:?}; the pools are {}", p.get_ref(), names.join(", ")),
                    );
                    ok = false;
                    None
                }
            },
            None => None,
        };
        targets.pool = pool;
        if let Some(w) = &e.workload {
            let name = w.get_ref().as_str();
            let known = workloads
                .deployments
                .iter()
                .map(|d| &*d.name)
                .chain(workloads.jobs.iter().map(|j| &*j.name))
                .chain(workloads.arrivals.iter().map(|a| &*a.name))
                .chain(workloads.daemonsets.iter().map(|d| &*d.name))
                .any(|n| n == name);
            if !known {
                self.err::<()>(w.span(), format!("no workload named {name:?} in this scenario"));
                ok = false;
            }
            targets.workload = Some(s(name));
        }
        let count = e.count.as_ref().and_then(|c| self.int_in(c, 1, limits::MAX_NODES as i64, "count"));
        let percent = e.percent.as_ref().and_then(|p| self.int_in(p, 1, 100, "percent"));
        if let (Some(_), Some(p)) = (&e.count, &e.percent) {
            self.err::<()>(p.span(), "give `count` or `percent`, not both");
            ok = false;
        }
        if verb_name != "add-nodes" {
            targets.pick = count.map(|c| Pick::Count(c as u32)).or(percent.map(|p| Pick::Percent(p as u32)));
        }

        // Verb parameters.
        let need = |c: &mut Compiler, v: &Option<Sp<String>>, key: &str, example: &str| -> Option<SimDuration> {
            match v {
                Some(v) => c.duration_within(v, limits::MAX_DURATION, key),
                None => c.err(e.verb.span(), format!("verb {verb_name:?} needs `{key}`, e.g. {example:?}")),
            }
        };
        let verb = match verb_name {
            "node-crash" | "zone-outage" => Some(FaultVerb::NodeCrash),
            "kubelet-stop" => Some(FaultVerb::KubeletStop),
            "network-partition" => Some(FaultVerb::NetworkPartition),
            "cordon" => Some(FaultVerb::Cordon),
            "drain" => Some(FaultVerb::Drain),
            "spot-interruption" => match &e.notice {
                Some(n) => self.duration_within(n, limits::MAX_DURATION, "notice"),
                None => Some(SimDuration::from_secs(120)),
            }
            .map(|notice| FaultVerb::SpotInterruption { notice }),
            "container-crash" => {
                let code = match &e.exit_code {
                    Some(c) => self.int_in(c, 1, 255, "exit_code"),
                    None => Some(1),
                };
                code.map(|c| FaultVerb::ContainerCrash { exit_code: c as i32, oom: false })
            }
            "oom-kill" => Some(FaultVerb::ContainerCrash { exit_code: 137, oom: true }),
            "registry-slow" => match &e.factor {
                Some(x) if x.get_ref().is_finite() && (1.0..=1000.0).contains(x.get_ref()) => {
                    Some(FaultVerb::RegistrySlow { factor_milli: (x.get_ref() * 1000.0).round() as u32 })
                }
                Some(x) => self.err(x.span(), "factor must be between 1 and 1000 (pulls take this many times longer)"),
                None => self.err(e.verb.span(), "verb \"registry-slow\" needs `factor`, e.g. 5.0"),
            },
            "registry-down" => Some(FaultVerb::RegistryDown),
            "apiserver-slow" => need(self, &e.extra_latency, "extra_latency", "200ms")
                .map(|extra_latency| FaultVerb::ApiserverSlow { extra_latency }),
            "apiserver-unavailable" => Some(FaultVerb::ApiserverUnavailable),
            "etcd-slow" => need(self, &e.extra_latency, "extra_latency", "200ms")
                .map(|extra_latency| FaultVerb::EtcdSlow { extra_latency }),
            "etcd-unavailable" => Some(FaultVerb::EtcdUnavailable),
            "scheduler-crash" => Some(FaultVerb::SchedulerCrash),
            "add-nodes" => match (pool, count) {
                (Some(pool), Some(count)) => {
                    *added_nodes += count as u64;
                    let initial: u64 = pools.iter().map(|p| u64::from(p.count)).sum();
                    if initial + *added_nodes > limits::MAX_NODES {
                        self.err::<()>(
                            e.count.as_ref().map(|c| c.span()).unwrap_or(e.verb.span()),
                            format!(
                                "scaling up would make {} nodes; the limit is {}",
                                initial + *added_nodes,
                                limits::MAX_NODES
                            ),
                        );
                    }
                    Some(FaultVerb::AddNodes { pool, count: count as u32 })
                }
                _ if e.pool.is_none() || e.count.is_none() => {
                    self.err(e.verb.span(), "verb \"add-nodes\" needs `pool` and `count`")
                }
                _ => None,
            },
            "remove-nodes" => {
                if e.count.is_none() && e.percent.is_none() && e.nodes.is_empty() {
                    self.err::<()>(e.verb.span(), "verb \"remove-nodes\" needs `count`, `percent` or `nodes`");
                }
                match &e.drain_timeout {
                    Some(d) => self.duration_within(d, limits::MAX_DURATION, "drain_timeout"),
                    None => Some(crate::faults::apply::SCALE_DOWN_DRAIN_TIMEOUT),
                }
                .map(|drain_timeout| FaultVerb::RemoveNodes { drain_timeout })
            }
            _ => None,
        };
        if verb_name == "zone-outage" && e.zone.is_none() {
            self.err::<()>(e.verb.span(), "verb \"zone-outage\" needs `zone`");
            ok = false;
        }
        // (`zone-outage` takes only `zone`, reported above.)
        if let Some(v) = verb
            && v.targets_nodes()
            && !matches!(v, FaultVerb::RemoveNodes { .. })
            && verb_name != "zone-outage"
            && e.nodes.is_empty()
            && e.selector.is_none()
            && e.zone.is_none()
            && e.pool.is_none()
        {
            self.err::<()>(
                f.span(),
                format!("verb {verb_name:?} needs targets: `nodes`, `selector`, `zone` or `pool` (they intersect)"),
            );
            ok = false;
        }

        // When.
        let at = match &e.at {
            Some(a) => self.time_in_run(a, run, "at"),
            None => Some(SimDuration::ZERO),
        };
        let until = match &e.until {
            Some(u) => self.time_in_run(u, run, "until").map(Some),
            None => Some(None),
        };
        let repeat = match &e.repeat {
            Some(r) => self.int_in(r, 1, 1_000_000, "repeat").map(|r| Some(r as u32)),
            None => Some(None),
        };
        let duration = match &e.duration {
            Some(d) => self.fault_dist(d, "duration", false).map(Some),
            None => Some(None),
        };
        let per_node = e.per_node.as_ref().is_some_and(|p| *p.get_ref());
        let recurrence = match (&e.every, per_node) {
            (None, false) => Some(Recurrence::Once),
            (Some(every), false) => self.fault_dist(every, "every", true).map(Recurrence::Every),
            (Some(every), true) => {
                self.fault_dist(every, "every", true).map(|time_to_failure| Recurrence::PerNode { time_to_failure })
            }
            (None, true) => self.err(
                e.per_node.as_ref().map(|p| p.span()).unwrap_or(f.span()),
                "`per_node = true` needs `every` (each node's time to failure), e.g. { dist = \"exponential\", \
                 mean = \"6h\" }",
            ),
        };
        if e.repeat.is_some() && e.every.is_none() {
            self.err::<()>(e.repeat.as_ref().map(|r| r.span()).unwrap_or(f.span()), "`repeat` needs `every`");
            ok = false;
        }
        if e.until.is_some() && e.every.is_none() {
            self.err::<()>(e.until.as_ref().map(|r| r.span()).unwrap_or(f.span()), "`until` needs `every`");
            ok = false;
        }
        let (verb, at, until, repeat, duration, recurrence) = (verb?, at?, until?, repeat?, duration?, recurrence?);
        if !ok {
            return None;
        }
        Some(FaultSpec {
            verb,
            name: s(verb_name),
            at: SimTime::ZERO.add(at),
            recurrence,
            until: until.map(|u| SimTime::ZERO.add(u)),
            repeat,
            duration,
            targets,
        })
    }
}

/// The verbs a machine event may replay as.
fn trace_verb(name: &str) -> Option<FaultVerb> {
    Some(match name {
        "node-crash" => FaultVerb::NodeCrash,
        "kubelet-stop" => FaultVerb::KubeletStop,
        "network-partition" => FaultVerb::NetworkPartition,
        "cordon" => FaultVerb::Cordon,
        "drain" => FaultVerb::Drain,
        _ => return None,
    })
}

/// Largest trace file read (the Alibaba 2017 `server_event.csv` is 47 KB).
const MAX_TRACE_BYTES: u64 = 64 << 20;

impl Compiler<'_> {
    /// `[[fault_traces]]`: each trace event a one-off fault on the machine's node, healed after `repair`.
    pub(super) fn fault_traces(
        &mut self,
        traces: &[Sp<schema::FaultTraceEntry>],
        pools: &[NodePool],
        run: Option<(SimDuration, &str)>,
    ) -> Vec<FaultSpec> {
        use crate::faults::alibaba2017;
        let mut out = Vec::new();
        for t in traces {
            let e = t.get_ref();
            if e.format.get_ref() != "alibaba-2017" {
                self.err::<()>(
                    e.format.span(),
                    format!("unknown trace format {:?}; expected \"alibaba-2017\"", e.format.get_ref()),
                );
                continue;
            }
            let Some(pool) = pools.iter().position(|p| &*p.name == e.pool.get_ref().as_str()) else {
                let names: Vec<&str> = pools.iter().map(|p| &*p.name).collect();
                self.err::<()>(
                    e.pool.span(),
                    format!("no node pool named {:?}; the pools are {}", e.pool.get_ref(), names.join(", ")),
                );
                continue;
            };
            let repair = self.fault_dist(&e.repair, "repair", false);
            let offset = match &e.offset {
                Some(o) => self.duration_within(o, limits::MAX_DURATION, "offset"),
                None => Some(SimDuration::ZERO),
            };
            let mut verbs: Vec<(String, FaultVerb, String)> = Vec::new();
            for (detail, verb) in &e.verbs {
                match trace_verb(verb.get_ref()) {
                    Some(v) => verbs.push((detail.clone(), v, verb.get_ref().clone())),
                    None => {
                        self.err::<()>(
                            verb.span(),
                            format!(
                                "verb {:?} cannot replay a machine event; expected \"node-crash\", \"kubelet-stop\", \
                             \"network-partition\", \"cordon\" or \"drain\"",
                                verb.get_ref()
                            ),
                        );
                    }
                }
            }
            let (Some(repair), Some(offset)) = (repair, offset) else { continue };
            let Some((shown, text)) = self.read_data_file(&e.path, MAX_TRACE_BYTES, "trace", "") else { continue };
            let events = match alibaba2017::parse(&text) {
                Ok(ev) => ev,
                Err(err) => {
                    let message = format!("corrupt trace row: {}", err.message);
                    self.err_in_data_file(&shown, &text, err.line, err.column, message);
                    continue;
                }
            };
            let machines = alibaba2017::machines(&events);
            let p = &pools[pool];
            if machines.len() > p.count as usize {
                self.err::<()>(
                    e.pool.span(),
                    format!(
                        "the trace has {} machines but pool {:?} has {} nodes; give the pool at least {} nodes",
                        machines.len(),
                        p.name,
                        p.count,
                        machines.len()
                    ),
                );
                continue;
            }
            let end = run.map(|(d, _)| d);
            for ev in &events {
                let default = alibaba2017::default_verb(ev.event_type, &ev.detail);
                let verb = match verbs.iter().find(|(d, _, _)| *d == ev.detail) {
                    Some((_, v, name)) => Some((*v, name.as_str())),
                    None => default.and_then(|name| Some((trace_verb(name)?, name))),
                };
                let Some((verb, name)) = verb else { continue };
                // Events before the offset, or at or after the end of the run (or of any run), are not replayed.
                let Some(t) = ev.time_s.checked_sub(offset.as_secs_f64() as i64).filter(|t| *t >= 0) else {
                    continue;
                };
                let end = end.unwrap_or(limits::MAX_DURATION);
                if t as u64 >= end.micros() / 1_000_000 {
                    continue;
                }
                let at = SimDuration::from_secs(t as u64);
                let rank = machines.binary_search(&ev.machine_id).unwrap_or(0) as u32;
                let removed = ev.event_type == alibaba2017::MachineEventType::Remove;
                out.push(FaultSpec {
                    verb,
                    name: s(name),
                    at: SimTime::ZERO.add(at),
                    recurrence: Recurrence::Once,
                    until: None,
                    repeat: None,
                    duration: (!removed).then(|| repair.clone()),
                    targets: Targets { names: vec![s(p.node_name(rank))], ..Default::default() },
                });
            }
        }
        if out.len() > limits::MAX_FAULTS {
            self.err::<()>(
                traces[0].span(),
                format!("the traces make {} faults; the limit is {}", out.len(), limits::MAX_FAULTS),
            );
            out.clear();
        }
        out
    }
}
