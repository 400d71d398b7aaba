//! Semantic checks and compilation of a parsed scenario file into a [`SimConfig`].
//!
//! Every problem is collected with its position, so one `kubesim validate` run reports all of them.

use super::diag::Diagnostic;
use super::limits;
use super::schema::{self, QuantityText, Sp};
use crate::apiserver::PriorityClass;
use crate::model::node::{REGION_LABEL, ZONE_LABEL};
use crate::model::workload::{IntOrPercent, RollingUpdate};
use crate::model::{
    ConditionStatus, Container, ExitModel, LabelSelector, Labels, Node, PodDisruptionBudget, PodTemplate,
    PreemptionPolicy, Resources, RestartPolicy, RunModel, Str, Taint, TaintEffect, Toleration, TolerationOp, s,
};
use crate::quantity::Quantity;
use crate::scheduler::profile::ProfileConfig;
use crate::sim::{NodePool, SimConfig};
use crate::time::{SimDuration, SimTime, parse_duration};
use crate::timings::Timings;
use crate::workload::{
    ActionKind, ActionSpec, ArrivalProcess, ArrivalSpec, DaemonSetSpec, DeploymentPatch, DeploymentSpec, JobSpec,
    Workloads,
};
use crate::{dist::Dist, model::NodeId};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The label kubesim puts on every node with its pool's name.
pub const POOL_LABEL: &str = "kubesim.io/pool";

mod checks;
mod constraints;
mod data_files;
mod faults;
mod fgd_target;
mod job_traces;
mod openb;
mod output;
mod profiles;

pub(crate) use checks::ChecksIn;

pub struct Compiler<'a> {
    file: &'a str,
    src: &'a str,
    pub errors: Vec<Diagnostic>,
    /// Names of the initial nodes (to check `node_name`).
    node_names: std::collections::BTreeSet<String>,
    /// The `[openb]` experiment, when the scenario is one.
    pub openb: Option<Arc<crate::openb::experiment::Experiment>>,
}

/// Which kind of workload a template belongs to (for defaults and checks).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Deployment,
    Job,
    Arrival,
    DaemonSet,
}

impl<'a> Compiler<'a> {
    pub fn new(file: &'a str, src: &'a str) -> Compiler<'a> {
        Compiler { file, src, errors: Vec::new(), node_names: Default::default(), openb: None }
    }

    fn err<T>(&mut self, span: std::ops::Range<usize>, message: impl Into<String>) -> Option<T> {
        self.errors.push(Diagnostic::at(self.file, self.src, span, message));
        None
    }

    /// The byte span in the file of `len` bytes at `offset` inside the string value `value` written at `span`.
    /// Offsets map one to one only when the file spells the value literally (no escapes); otherwise the whole
    /// value is pointed at.
    fn inner_span(
        &self,
        span: &std::ops::Range<usize>,
        value: &str,
        offset: usize,
        len: usize,
    ) -> std::ops::Range<usize> {
        let raw = self.src.get(span.clone()).unwrap_or("");
        let delim = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else if raw.starts_with('"') || raw.starts_with('\'') {
            1
        } else {
            0
        };
        let content = raw.get(delim..raw.len().saturating_sub(delim)).unwrap_or("");
        if content == value && offset <= value.len() {
            let start = span.start + delim + offset;
            start..(start + len.max(1)).min(span.start + delim + value.len()).max(start + 1)
        } else {
            span.clone()
        }
    }

    fn duration(&mut self, v: &Sp<String>) -> Option<SimDuration> {
        match parse_duration(v.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                let len = v.get_ref().len().saturating_sub(e.offset);
                let at = self.inner_span(&v.span(), v.get_ref(), e.offset, len);
                self.err(at, e.message)
            }
        }
    }

    fn duration_within(&mut self, v: &Sp<String>, max: SimDuration, what: &str) -> Option<SimDuration> {
        let d = self.duration(v)?;
        if d > max {
            return self.err(
                v.span(),
                format!(
                    "{what} {:?} exceeds the limit of {}",
                    v.get_ref(),
                    crate::time::format_secs(max.micros()) + "s"
                ),
            );
        }
        Some(d)
    }

    /// A time within the run: `run` is the scenario's duration (`None` when it was invalid: no check).
    fn time_in_run(&mut self, v: &Sp<String>, run: Option<(SimDuration, &str)>, what: &str) -> Option<SimDuration> {
        let d = self.duration_within(v, limits::MAX_DURATION, what)?;
        if let Some((end, text)) = run
            && d > end
        {
            return self
                .err(v.span(), format!("{what} {:?} is after the end of the run (duration {text:?})", v.get_ref()));
        }
        Some(d)
    }

    fn quantity(&mut self, v: &Sp<QuantityText>) -> Option<Quantity> {
        let text = &v.get_ref().0;
        match Quantity::parse(text) {
            Ok(q) if q.is_negative() => self.err(v.span(), format!("quantity {text:?} must not be negative")),
            Ok(q) => Some(q),
            Err(e) => {
                let at = self.inner_span(&v.span(), text, e.offset, text.len().saturating_sub(e.offset));
                self.err(at, e.to_string())
            }
        }
    }

    fn cpu_millis(&mut self, v: &Sp<QuantityText>) -> Option<i64> {
        let q = self.quantity(v)?;
        match q.milli_value() {
            Ok(m) if m <= limits::MAX_CPU_MILLIS => Some(m),
            Ok(_) => self.err(v.span(), format!("cpu {:?} exceeds the limit of 1,000,000 cores", v.get_ref().0)),
            Err(e) => self.err(v.span(), e.to_string()),
        }
    }

    fn units(&mut self, v: &Sp<QuantityText>) -> Option<i64> {
        let q = self.quantity(v)?;
        match q.value() {
            Ok(n) => Some(n),
            Err(e) => self.err(v.span(), e.to_string()),
        }
    }

    /// An integer or a percentage like "25%" (`intstr.IntOrString`).
    fn int_or_percent(&mut self, v: &Sp<QuantityText>, what: &str) -> Option<IntOrPercent> {
        let text = v.get_ref().0.as_str();
        let parsed = match text.strip_suffix('%') {
            Some(p) => p.parse::<i32>().ok().filter(|p| (0..=100).contains(p)).map(IntOrPercent::Percent),
            None => text.parse::<i32>().ok().filter(|n| *n >= 0).map(IntOrPercent::Int),
        };
        if parsed.is_none() {
            return self.err(
                v.span(),
                format!("{what} must be a non-negative integer or a percentage like \"25%\", got {text:?}"),
            );
        }
        parsed
    }

    fn int_in(&mut self, v: &Sp<i64>, min: i64, max: i64, what: &str) -> Option<i64> {
        let n = *v.get_ref();
        if n < min || n > max {
            return self.err(v.span(), format!("{what} must be between {min} and {max}, got {n}"));
        }
        Some(n)
    }

    fn name(&mut self, v: &Sp<String>, what: &str) -> Option<Str> {
        match crate::apiserver::validate_name(v.get_ref()) {
            Ok(()) => Some(s(v.get_ref())),
            Err(e) => self.err(v.span(), format!("{what}: {e}")),
        }
    }

    fn labels(&mut self, map: &BTreeMap<String, Sp<String>>) -> Labels {
        let mut labels = Labels::new();
        for (k, v) in map {
            if let Err(e) = validate_label(k, v.get_ref()) {
                self.err::<()>(v.span(), e);
                continue;
            }
            labels.insert(s(k), s(v.get_ref()));
        }
        labels
    }

    // ----- sections -----

    fn timings(&mut self, section: Option<&Sp<BTreeMap<String, Sp<schema::TimingValue>>>>) -> Timings {
        use crate::timings::Field;
        let mut t = Timings::default();
        let Some(section) = section else { return t };
        for (key, value) in section.get_ref() {
            let span = value.span();
            let Some(field) = t.field(key) else {
                let key_at = self.src[..span.start].rfind(key.as_str()).unwrap_or(span.start);
                self.err::<()>(
                    key_at..key_at + key.len(),
                    format!("unknown timing `{key}`, expected one of {}", Timings::KEYS.join(", ")),
                );
                continue;
            };
            let number = match value.get_ref() {
                schema::TimingValue::Integer(i) => Some(*i as f64),
                schema::TimingValue::Float(f) => Some(*f),
                schema::TimingValue::Text(_) => None,
            };
            match field {
                Field::Duration(slot) => match value.get_ref() {
                    schema::TimingValue::Text(text) => {
                        if let Some(d) = self.duration(&Sp::new(span.clone(), text.clone())) {
                            *slot = d;
                        }
                    }
                    _ => {
                        self.err::<()>(span, format!("timings.{key} is a duration: write it as a string like \"5s\""));
                    }
                },
                Field::Rate(slot) => match number {
                    Some(n) if n > 0.0 && n.is_finite() => *slot = n,
                    _ => {
                        self.err::<()>(span, format!("timings.{key} must be a positive number"));
                    }
                },
                Field::Count(slot) => match number {
                    Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 1e15 => *slot = n as u64,
                    _ => {
                        self.err::<()>(span, format!("timings.{key} must be a whole non-negative number"));
                    }
                },
                Field::Seconds(slot) => match number {
                    Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 1e12 => *slot = n as i64,
                    _ => {
                        self.err::<()>(span, format!("timings.{key} must be a whole non-negative number of seconds"));
                    }
                },
            }
        }
        if t.image_pull_bandwidth_bytes_per_s == 0 {
            self.err::<()>(section.span(), "timings.image_pull_bandwidth_bytes_per_s must be positive");
        }
        t
    }

    fn pools(&mut self, section: &schema::ClusterSection, image_sizes: &BTreeMap<Str, u64>) -> Vec<NodePool> {
        let mut pools = Vec::new();
        let mut total: i64 = 0;
        let mut names: BTreeMap<String, std::ops::Range<usize>> = BTreeMap::new();
        for (pool_index, entry) in section.node_pools.iter().enumerate() {
            let e = entry.get_ref();
            let Some(pool_name) = self.name(&e.name, "node pool name") else { continue };
            if let Some(prev) = names.insert(pool_name.to_string(), e.name.span()) {
                let line = Diagnostic::at(self.file, self.src, prev, "").line;
                self.err::<()>(
                    e.name.span(),
                    format!("duplicate node pool {pool_name:?} (first defined on line {line})"),
                );
                continue;
            }
            let count = self.int_in(&e.count, 0, limits::MAX_NODES as i64, "count");
            let cpu = self.cpu_millis(&e.cpu);
            let memory = self.units(&e.memory);
            let pods = match &e.pods {
                Some(p) => self.int_in(p, 1, limits::MAX_PODS_PER_NODE, "pods"),
                None => Some(110),
            };
            let mut allocatable = Resources::new(cpu.unwrap_or(0), memory.unwrap_or(0));
            if let Some(es) = &e.ephemeral_storage {
                allocatable.ephemeral_storage_bytes = self.units(es).unwrap_or(0);
            }
            for (name, amount) in &e.extended {
                if !name.contains('/') {
                    self.err::<()>(
                        amount.span(),
                        format!("extended resource {name:?} needs a domain prefix, like \"nvidia.com/gpu\""),
                    );
                    continue;
                }
                if let Some(v) = self.units(amount) {
                    allocatable.set_scalar(s(name), v);
                }
            }
            let mut labels = self.labels(&e.labels);
            self.pool_gpus(e, &mut allocatable, &mut labels);
            if let Some(z) = &e.zone {
                labels.insert(s(ZONE_LABEL), s(z.get_ref()));
            }
            if let Some(r) = &e.region {
                labels.insert(s(REGION_LABEL), s(r.get_ref()));
            }
            labels.insert(s(POOL_LABEL), pool_name.clone());
            let taints: Vec<Taint> = e.taints.iter().filter_map(|t| self.taint(t)).collect();
            let mut images: Vec<(Str, u64)> = Vec::new();
            for img in &e.preloaded_images {
                // Named as the runtime reports them (`:latest` added to an untagged name), like pulled images.
                let name = s(crate::model::pod::normalized_image_name(img.get_ref()));
                if name.is_empty() {
                    self.err::<()>(img.span(), "an image name must not be empty");
                    continue;
                }
                if images.iter().any(|(n, _)| *n == name) {
                    self.err::<()>(img.span(), format!("image {name:?} listed twice"));
                    continue;
                }
                let Some(size) = image_sizes.get(img.get_ref().as_str()) else {
                    self.err::<()>(
                        img.span(),
                        format!(
                            "preloaded image {name:?} has no size: add it to [images], e.g. \"{name}\" = \"500Mi\""
                        ),
                    );
                    continue;
                };
                images.push((name, *size));
            }
            let prefix = match &e.name_prefix {
                Some(p) => self.name(p, "name_prefix"),
                None => Some(pool_name.clone()),
            };
            let (Some(count), Some(pods), Some(prefix)) = (count, pods, prefix) else { continue };
            total += count;
            if total > limits::MAX_NODES as i64 {
                self.err::<()>(
                    e.count.span(),
                    format!("the cluster would have {total} nodes; the limit is {}", limits::MAX_NODES),
                );
                continue;
            }
            let template = Node {
                name: s(""),
                uid: 0,
                labels,
                taints,
                unschedulable: false,
                allocatable,
                allocatable_pods: pods,
                ready: ConditionStatus::True,
                ready_transition: SimTime::ZERO,
                pool: pool_index as u32,
                images,
            };
            pools.push(NodePool { name: pool_name, prefix, template, count: count as u32 });
        }
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        let mut dupes = Vec::new();
        for pool in &pools {
            for i in 0..pool.count {
                let name = pool.node_name(i);
                if let Some(other) = seen.insert(name.clone(), &pool.name) {
                    dupes.push(format!("node name {name:?} is produced by pools {other:?} and {:?}", pool.name));
                }
            }
        }
        if let Some(first) = dupes.first() {
            self.err::<()>(section.node_pools[0].span(), format!("{first}; set a distinct name_prefix"));
        }
        pools
    }

    fn taint(&mut self, t: &Sp<schema::TaintEntry>) -> Option<Taint> {
        let e = t.get_ref();
        let effect = match TaintEffect::parse(e.effect.get_ref()) {
            Some(eff) => eff,
            None => {
                return self.err(
                    e.effect.span(),
                    format!(
                        "unknown taint effect {:?}; expected \"NoSchedule\", \"PreferNoSchedule\" or \"NoExecute\"",
                        e.effect.get_ref()
                    ),
                );
            }
        };
        let value = e.value.clone().unwrap_or_default();
        if let Err(msg) = validate_label(e.key.get_ref(), &value) {
            return self.err(e.key.span(), msg);
        }
        Some(Taint { key: s(e.key.get_ref()), value: s(value), effect })
    }

    fn toleration(&mut self, t: &Sp<schema::TolerationEntry>) -> Option<Toleration> {
        let e = t.get_ref();
        let op = match e.operator.as_ref().map(|o| o.get_ref().as_str()) {
            None | Some("Equal") => TolerationOp::Equal,
            Some("Exists") => TolerationOp::Exists,
            Some(other) => {
                let span = e.operator.as_ref().map(|o| o.span()).unwrap_or(t.span());
                return self
                    .err(span, format!("unknown toleration operator {other:?}; expected \"Equal\" or \"Exists\""));
            }
        };
        let key = e.key.clone().unwrap_or_default();
        let value = e.value.clone().unwrap_or_default();
        if op == TolerationOp::Exists && !value.is_empty() {
            return self.err(t.span(), "a toleration with operator \"Exists\" must not have a value");
        }
        if key.is_empty() && op != TolerationOp::Exists {
            return self.err(t.span(), "a toleration without a key must use operator \"Exists\"");
        }
        let effect = match &e.effect {
            None => None,
            Some(eff) => match TaintEffect::parse(eff.get_ref()) {
                Some(x) => Some(x),
                None => {
                    return self.err(
                        eff.span(),
                        format!(
                            "unknown effect {:?}; expected \"NoSchedule\", \"PreferNoSchedule\" or \"NoExecute\"",
                            eff.get_ref()
                        ),
                    );
                }
            },
        };
        let toleration_seconds = e.toleration_seconds.as_ref().map(|v| *v.get_ref());
        if toleration_seconds.is_some() && effect != Some(TaintEffect::NoExecute) {
            let span = e.toleration_seconds.as_ref().map(|v| v.span()).unwrap_or(t.span());
            return self.err(span, "toleration_seconds only applies to tolerations with effect \"NoExecute\"");
        }
        Some(Toleration { key: s(key), op, value: s(value), effect, toleration_seconds })
    }

    fn resources(&mut self, map: &BTreeMap<String, Sp<QuantityText>>) -> (Resources, bool, bool) {
        let mut r = Resources::default();
        let (mut has_cpu, mut has_mem) = (false, false);
        for (name, v) in map {
            match name.as_str() {
                "cpu" => {
                    has_cpu = true;
                    r.cpu_millis = self.cpu_millis(v).unwrap_or(0);
                }
                "memory" => {
                    has_mem = true;
                    r.memory_bytes = self.units(v).unwrap_or(0);
                }
                "ephemeral-storage" | "ephemeral_storage" => r.ephemeral_storage_bytes = self.units(v).unwrap_or(0),
                other if other.contains('/') => {
                    let q = self.quantity(v);
                    if let Some(q) = q {
                        match (q.milli_value(), q.value()) {
                            (Ok(m), Ok(u)) if m == u * 1000 => r.set_scalar(s(other), u),
                            _ => {
                                self.err::<()>(v.span(), format!("extended resource {other:?} must be a whole number"));
                            }
                        }
                    }
                }
                other => {
                    let key_at = self.src[..v.span().start].rfind(other).unwrap_or(v.span().start);
                    self.err::<()>(
                        key_at..key_at + other.len(),
                        format!(
                            "unknown resource {other:?}; expected \"cpu\", \"memory\", \"ephemeral-storage\" or an \
                             extended resource with a domain like \"nvidia.com/gpu\""
                        ),
                    );
                }
            }
        }
        (r, has_cpu, has_mem)
    }

    fn container(
        &mut self,
        name: Str,
        image: Str,
        requests: &BTreeMap<String, Sp<QuantityText>>,
        limits_map: &BTreeMap<String, Sp<QuantityText>>,
        span: std::ops::Range<usize>,
    ) -> Container {
        let (mut req, mut has_cpu, mut has_mem) = self.resources(requests);
        let (lim, lim_cpu, lim_mem) = self.resources(limits_map);
        // Upstream defaulting: a resource with a limit but no request gets the limit as request.
        if !has_cpu && lim_cpu {
            req.cpu_millis = lim.cpu_millis;
            has_cpu = true;
        }
        if !has_mem && lim_mem {
            req.memory_bytes = lim.memory_bytes;
            has_mem = true;
        }
        if req.ephemeral_storage_bytes == 0 && lim.ephemeral_storage_bytes > 0 {
            req.ephemeral_storage_bytes = lim.ephemeral_storage_bytes;
        }
        for (n, v) in &lim.scalars {
            if req.scalar(n) == 0 {
                req.set_scalar(n.clone(), *v);
            }
        }
        let over = |r: i64, l: i64| l > 0 && r > l;
        if over(req.cpu_millis, lim.cpu_millis) || over(req.memory_bytes, lim.memory_bytes) {
            self.err::<()>(span, format!("container {name:?}: requests must not exceed limits"));
        }
        Container {
            name,
            image,
            requests: req,
            limits: lim,
            has_cpu_request: has_cpu,
            has_memory_request: has_mem,
            host_ports: Vec::new(),
        }
    }

    fn run_model(&mut self, run: &Sp<schema::RunEntry>) -> Option<RunModel> {
        self.dist_entry(run.get_ref(), run.span(), "run")
    }

    /// A duration distribution table (`run`, or a fault's `duration`/`every`); `what` names it in errors.
    pub(super) fn dist_entry(
        &mut self,
        r: &schema::RunEntry,
        span: std::ops::Range<usize>,
        what: &str,
    ) -> Option<RunModel> {
        let run = Sp::new(span, ());
        let need = |c: &mut Compiler, v: &Option<Sp<String>>, field: &str| -> Option<SimDuration> {
            match v {
                Some(v) => c.duration(v),
                None => c.err(r.dist.span(), format!("{what}.dist = {:?} needs `{field}`", r.dist.get_ref())),
            }
        };
        let dist = match r.dist.get_ref().as_str() {
            "forever" => return Some(RunModel::Forever),
            "fixed" => Dist::Fixed(need(self, &r.value, "value")?),
            "exponential" => {
                let mean = need(self, &r.mean, "mean")?;
                if mean == SimDuration::ZERO {
                    return self.err(run.span(), format!("{what}.mean must be positive"));
                }
                Dist::Exponential { mean_s: mean.as_secs_f64() }
            }
            "uniform" => {
                let (min, max) = (need(self, &r.min, "min")?, need(self, &r.max, "max")?);
                if min > max {
                    return self.err(run.span(), format!("{what}.min must not exceed {what}.max"));
                }
                Dist::Uniform { min, max }
            }
            "lognormal" => {
                let median = need(self, &r.median, "median")?;
                let sigma = match &r.sigma {
                    Some(s) if *s.get_ref() >= 0.0 && s.get_ref().is_finite() && *s.get_ref() <= 10.0 => *s.get_ref(),
                    Some(s) => return self.err(s.span(), format!("{what}.sigma must be between 0 and 10")),
                    None => return self.err(r.dist.span(), format!("{what}.dist = \"lognormal\" needs `sigma`")),
                };
                Dist::LogNormal { median_s: median.as_secs_f64(), sigma }
            }
            "empirical" => {
                let Some(values) = &r.values else {
                    return self.err(r.dist.span(), format!("{what}.dist = \"empirical\" needs `values`"));
                };
                if values.is_empty() || values.len() > limits::MAX_EMPIRICAL_VALUES {
                    return self.err(
                        run.span(),
                        format!("{what}.values needs 1 to {} durations", limits::MAX_EMPIRICAL_VALUES),
                    );
                }
                let parsed: Vec<SimDuration> = values.iter().filter_map(|v| self.duration(v)).collect();
                if parsed.len() != values.len() {
                    return None;
                }
                Dist::Empirical(Arc::from(parsed))
            }
            other => {
                return self.err(
                    r.dist.span(),
                    format!(
                        "unknown {what}.dist {other:?}; expected \"forever\", \"fixed\", \"exponential\", \"uniform\", \
                         \"lognormal\" or \"empirical\""
                    ),
                );
            }
        };
        Some(RunModel::For(dist))
    }

    /// A pool's `gpus` and `gpu_model`: allocatable `nvidia.com/gpu` and the GPU model label.
    fn pool_gpus(&mut self, e: &schema::NodePoolEntry, allocatable: &mut Resources, labels: &mut Labels) {
        use crate::model::gpu::{GPU_MODEL_LABEL, GPU_RESOURCE, MAX_GPUS_PER_NODE};
        let Some(g) = &e.gpus else {
            if let Some(m) = &e.gpu_model {
                self.err::<()>(m.span(), "gpu_model needs `gpus` (the number of GPUs per node)");
            }
            return;
        };
        if e.extended.contains_key(GPU_RESOURCE) {
            self.err::<()>(g.span(), "set either `gpus` or extended \"nvidia.com/gpu\", not both");
            return;
        }
        let Some(n) = self.int_in(g, 0, MAX_GPUS_PER_NODE as i64, "gpus") else { return };
        allocatable.set_scalar(s(GPU_RESOURCE), n);
        if let Some(m) = &e.gpu_model {
            if m.get_ref().is_empty() || m.get_ref().contains('|') {
                self.err::<()>(m.span(), "gpu_model must be one non-empty model name, like \"V100M16\"");
                return;
            }
            labels.insert(s(GPU_MODEL_LABEL), s(m.get_ref()));
        }
    }

    /// A template's `gpu_milli` and `gpu_spec`, checked against its `nvidia.com/gpu` request.
    fn template_gpus(&mut self, e: &schema::TemplateEntry, t: &mut PodTemplate) -> Option<()> {
        use crate::model::gpu::{GPU_MILLI, GPU_RESOURCE, parse_gpu_spec};
        let whole = t.requests.scalar(GPU_RESOURCE);
        if let Some(m) = &e.gpu_milli {
            let milli = self.int_in(m, 1, GPU_MILLI, "gpu_milli")?;
            if whole > 1 {
                return self
                    .err(m.span(), "gpu_milli is a share of ONE GPU: request at most nvidia.com/gpu = 1 with it");
            }
            if milli < GPU_MILLI {
                // A share is accounted per GPU, not in the node-level `nvidia.com/gpu` sum (see model::gpu).
                for c in t.containers.iter_mut().chain(t.init_containers.iter_mut()) {
                    c.requests.set_scalar(s(GPU_RESOURCE), 0);
                    c.requests.scalars.retain(|(n, a)| !(&**n == GPU_RESOURCE && *a == 0));
                }
                t.finalize();
                t.gpu_milli = milli;
            } else if whole == 0 {
                let Some(c) = t.containers.first_mut() else { return self.err(m.span(), "a pod needs a container") };
                c.requests.set_scalar(s(GPU_RESOURCE), 1);
                t.finalize();
            }
        }
        if let Some(spec) = &e.gpu_spec {
            let Some(models) = parse_gpu_spec(spec.get_ref()) else {
                return self.err(spec.span(), "gpu_spec is GPU models separated by '|', like \"V100M16|V100M32\"");
            };
            if t.gpu_demand().is_none() && !models.is_empty() {
                return self.err(spec.span(), "gpu_spec needs a GPU request (gpu_milli or nvidia.com/gpu)");
            }
            t.gpu_spec = models;
        }
        Some(())
    }

    fn template(
        &mut self,
        t: &Sp<schema::TemplateEntry>,
        workload: &Str,
        owner: Owner,
        profiles: &[ProfileConfig],
        classes: &[PriorityClass],
    ) -> Option<(PodTemplate, LabelSelector)> {
        let e = t.get_ref();
        let mut labels = self.labels(&e.labels);
        if labels.is_empty() {
            labels.insert(s("app"), workload.clone());
        }
        let selector = LabelSelector::from_labels(labels.clone());
        let shorthand = e.image.is_some() || e.requests.is_some() || e.limits.is_some();
        if shorthand && !e.containers.is_empty() {
            return self.err(
                t.span(),
                "use either `containers` or the one-container shorthand (`image`, `requests`, `limits`), not both",
            );
        }
        let default_image = || s(format!("{workload}:latest"));
        let mut containers = Vec::new();
        if e.containers.is_empty() {
            let empty = BTreeMap::new();
            let req = e.requests.as_ref().map(|r| r.get_ref()).unwrap_or(&empty);
            let lim = e.limits.as_ref().map(|r| r.get_ref()).unwrap_or(&empty);
            let image = e.image.as_ref().map(|i| s(i.get_ref())).unwrap_or_else(default_image);
            let mut c = self.container(s("main"), image, req, lim, t.span());
            c.host_ports = self.ports(&e.ports);
            containers.push(c);
        } else {
            if let Some(p) = e.ports.first() {
                return self.err(p.span(), "with `containers`, give `ports` per container");
            }
            if e.containers.len() > limits::MAX_CONTAINERS {
                return self.err(t.span(), format!("at most {} containers per pod", limits::MAX_CONTAINERS));
            }
            for c in &e.containers {
                let ce = c.get_ref();
                let image = ce.image.as_ref().map(|i| s(i.get_ref())).unwrap_or_else(default_image);
                let mut container = self.container(s(ce.name.get_ref()), image, &ce.requests, &ce.limits, c.span());
                container.host_ports = self.ports(&ce.ports);
                containers.push(container);
            }
        }
        let mut init_containers = Vec::new();
        for c in &e.init_containers {
            let ce = c.get_ref();
            let image = ce.image.as_ref().map(|i| s(i.get_ref())).unwrap_or_else(default_image);
            init_containers.push(self.container(s(ce.name.get_ref()), image, &ce.requests, &ce.limits, c.span()));
        }
        let priority = match &e.priority {
            Some(p) => self.int_in(p, -2_147_483_648, 1_000_000_000, "priority")? as i32,
            None => 0,
        };
        let priority_class_name = match &e.priority_class {
            Some(c) if e.priority.is_some() => {
                return self.err(c.span(), "set either `priority` or `priority_class`, not both");
            }
            Some(c) => {
                if !classes.iter().any(|pc| &*pc.name == c.get_ref()) {
                    let known: Vec<&str> = classes.iter().map(|pc| &*pc.name).collect();
                    return self.err(
                        c.span(),
                        format!("no PriorityClass named {:?}; defined: {}", c.get_ref(), known.join(", ")),
                    );
                }
                Some(s(c.get_ref()))
            }
            None => None,
        };
        let tolerations: Vec<Toleration> = e.tolerations.iter().filter_map(|x| self.toleration(x)).collect();
        let restart_policy = match e.restart_policy.as_ref().map(|r| (r.get_ref().as_str(), r.span())) {
            None => match owner {
                Owner::Deployment | Owner::DaemonSet => RestartPolicy::Always,
                Owner::Job | Owner::Arrival => RestartPolicy::Never,
            },
            Some(("Always", _)) => RestartPolicy::Always,
            Some(("OnFailure", _)) => RestartPolicy::OnFailure,
            Some(("Never", _)) => RestartPolicy::Never,
            Some((other, span)) => {
                return self.err(
                    span,
                    format!("unknown restart_policy {other:?}; expected \"Always\", \"OnFailure\" or \"Never\""),
                );
            }
        };
        if matches!(owner, Owner::Deployment | Owner::DaemonSet) && restart_policy != RestartPolicy::Always {
            let span = e.restart_policy.as_ref().map(|r| r.span()).unwrap_or(t.span());
            return self.err(span, "Deployment and DaemonSet pods must use restart_policy \"Always\"");
        }
        if owner == Owner::Job && restart_policy == RestartPolicy::Always {
            let span = e.restart_policy.as_ref().map(|r| r.span()).unwrap_or(t.span());
            return self.err(span, "Job pods must use restart_policy \"OnFailure\" or \"Never\"");
        }
        let termination_grace_period = match &e.termination_grace_period {
            Some(g) => self.duration_within(g, limits::MAX_DURATION, "termination_grace_period")?,
            None => SimDuration::from_secs(30),
        };
        let readiness_delay = match &e.readiness_delay {
            Some(d) => self.duration_within(d, limits::MAX_DURATION, "readiness_delay")?,
            None => SimDuration::ZERO,
        };
        let scheduler_name =
            e.scheduler_name.as_ref().map(|n| n.get_ref().clone()).unwrap_or_else(|| "default-scheduler".into());
        if !profiles.iter().any(|p| p.scheduler_name == scheduler_name) {
            let span = e.scheduler_name.as_ref().map(|n| n.span()).unwrap_or(t.span());
            return self.err(span, format!("no scheduler profile is named {scheduler_name:?}"));
        }
        let run = match &e.run {
            Some(r) => self.run_model(r)?,
            None if owner == Owner::Job => {
                return self.err(t.span(), "Job templates need `run` (how long each pod runs), e.g. run = { dist = \"fixed\", value = \"5m\" }");
            }
            None => RunModel::Forever,
        };
        let failure_probability = match &e.failure_probability {
            Some(p) if (0.0..=1.0).contains(p.get_ref()) => *p.get_ref(),
            Some(p) => return self.err(p.span(), "failure_probability must be between 0 and 1"),
            None => 0.0,
        };
        let failure_exit_code = match &e.exit_code {
            Some(c) => self.int_in(c, 1, 255, "exit_code")? as i32,
            None => 1,
        };
        let mut node_selector = Labels::new();
        for (k, v) in &e.node_selector {
            node_selector.insert(s(k), s(v.get_ref()));
        }
        if let Some(n) = &e.node_name
            && !self.node_names.contains(n.get_ref().as_str())
        {
            return self.err(n.span(), format!("node_name: no node is named {:?}", n.get_ref()));
        }
        let preemption_policy = match e.preemption_policy.as_ref().map(|p| (p.get_ref().as_str(), p.span())) {
            None | Some(("PreemptLowerPriority", _)) => PreemptionPolicy::PreemptLowerPriority,
            Some(("Never", _)) => PreemptionPolicy::Never,
            Some((other, span)) => {
                return self.err(
                    span,
                    format!("unknown preemption_policy {other:?}; expected \"PreemptLowerPriority\" or \"Never\""),
                );
            }
        };
        let node_affinity = match &e.node_affinity {
            Some(a) => self.node_affinity(a)?,
            None => Default::default(),
        };
        let pod_affinity = e.pod_affinity.as_ref().map(|a| self.pod_affinity(a)).unwrap_or_default();
        let pod_anti_affinity = e.pod_anti_affinity.as_ref().map(|a| self.pod_affinity(a)).unwrap_or_default();
        let mut topology_spread = Vec::new();
        for c in &e.topology_spread {
            topology_spread.push(self.spread(c, &labels)?);
        }
        let mut template = PodTemplate {
            labels,
            containers,
            init_containers,
            priority,
            priority_class_name,
            preemption_policy,
            node_selector,
            node_affinity,
            pod_affinity,
            pod_anti_affinity,
            topology_spread,
            node_name: e.node_name.as_ref().map(|n| s(n.get_ref())),
            tolerations,
            restart_policy,
            termination_grace_period,
            scheduler_name: s(scheduler_name),
            run,
            exit: ExitModel { failure_probability, failure_exit_code },
            readiness_delay,
            ..PodTemplate::default()
        };
        template.finalize();
        self.template_gpus(e, &mut template)?;
        Some((template, selector))
    }

    fn namespace(&mut self, ns: &Option<Sp<String>>) -> Option<Str> {
        match ns {
            Some(n) => self.name(n, "namespace"),
            None => Some(s("default")),
        }
    }

    fn workloads(
        &mut self,
        w: &schema::WorkloadsSection,
        run: Option<(SimDuration, &str)>,
        profiles: &[ProfileConfig],
        classes: &[PriorityClass],
    ) -> Workloads {
        let duration = run.map(|r| r.0).unwrap_or(limits::MAX_DURATION);
        let mut out = Workloads::default();
        let total = w.deployments.len() + w.jobs.len() + w.arrivals.len() + w.daemonsets.len();
        if total > limits::MAX_WORKLOADS {
            let span = w
                .deployments
                .first()
                .map(|d| d.span())
                .or_else(|| w.jobs.first().map(|j| j.span()))
                .or_else(|| w.arrivals.first().map(|a| a.span()))
                .unwrap_or(0..0);
            self.err::<()>(span, format!("{total} workloads; the limit is {}", limits::MAX_WORKLOADS));
            return out;
        }
        let mut names: BTreeMap<(u8, String), ()> = BTreeMap::new();
        let mut unique = |c: &mut Compiler, kind: u8, name: &Sp<String>| -> bool {
            if names.insert((kind, name.get_ref().clone()), ()).is_some() {
                c.err::<()>(name.span(), format!("duplicate workload name {:?}", name.get_ref()));
                return false;
            }
            true
        };
        for d in &w.deployments {
            let e = d.get_ref();
            if !unique(self, 0, &e.name) {
                continue;
            }
            let name = self.name(&e.name, "deployment name");
            let namespace = self.namespace(&e.namespace);
            let replicas = self.int_in(&e.replicas, 0, limits::MAX_REPLICAS, "replicas");
            let at = e.at.as_ref().map(|a| self.time_in_run(a, run, "at")).unwrap_or(Some(SimDuration::ZERO));
            let mut strategy = RollingUpdate::default();
            if let Some(v) = &e.max_surge {
                strategy.max_surge = self.int_or_percent(v, "max_surge").unwrap_or(strategy.max_surge);
            }
            if let Some(v) = &e.max_unavailable {
                strategy.max_unavailable =
                    self.int_or_percent(v, "max_unavailable").unwrap_or(strategy.max_unavailable);
            }
            let Some(name) = name else { continue };
            let tpl = self.template(&e.template, &name, Owner::Deployment, profiles, classes);
            let (Some(namespace), Some(replicas), Some(at), Some((template, selector))) =
                (namespace, replicas, at, tpl)
            else {
                continue;
            };
            out.deployments.push(DeploymentSpec {
                name,
                namespace,
                at: SimTime::ZERO.add(at),
                replicas: replicas as i32,
                selector,
                template: Arc::new(template),
                strategy,
            });
        }
        for j in &w.jobs {
            let e = j.get_ref();
            if !unique(self, 1, &e.name) {
                continue;
            }
            let name = self.name(&e.name, "job name");
            let namespace = self.namespace(&e.namespace);
            let at = e.at.as_ref().map(|a| self.time_in_run(a, run, "at")).unwrap_or(Some(SimDuration::ZERO));
            let completions = e
                .completions
                .as_ref()
                .map(|c| self.int_in(c, 1, limits::MAX_COMPLETIONS, "completions"))
                .unwrap_or(Some(1));
            let parallelism = e
                .parallelism
                .as_ref()
                .map(|c| self.int_in(c, 1, limits::MAX_PARALLELISM, "parallelism"))
                .unwrap_or(Some(1));
            let backoff_limit =
                e.backoff_limit.as_ref().map(|c| self.int_in(c, 0, 1_000_000, "backoff_limit")).unwrap_or(Some(6));
            let active_deadline = match &e.active_deadline {
                Some(d) => self.duration_within(d, limits::MAX_DURATION, "active_deadline").map(Some),
                None => Some(None),
            };
            let Some(name) = name else { continue };
            let tpl = self.template(&e.template, &name, Owner::Job, profiles, classes);
            let (
                Some(namespace),
                Some(at),
                Some(completions),
                Some(parallelism),
                Some(backoff_limit),
                Some(active_deadline),
                Some((template, _)),
            ) = (namespace, at, completions, parallelism, backoff_limit, active_deadline, tpl)
            else {
                continue;
            };
            out.jobs.push(JobSpec {
                name,
                namespace,
                at: SimTime::ZERO.add(at),
                completions: completions as i32,
                parallelism: parallelism as i32,
                backoff_limit: backoff_limit as i32,
                active_deadline,
                template: Arc::new(template),
            });
        }
        for a in &w.arrivals {
            let e = a.get_ref();
            if !unique(self, 2, &e.name) {
                continue;
            }
            let name = self.name(&e.name, "arrival name");
            let namespace = self.namespace(&e.namespace);
            let start = e.start.as_ref().map(|v| self.time_in_run(v, run, "start")).unwrap_or(Some(SimDuration::ZERO));
            let stop = match &e.stop {
                Some(v) => self.duration_within(v, limits::MAX_DURATION, "stop").map(Some),
                None => Some(None),
            };
            let max_pods = match &e.max_pods {
                Some(m) => self.int_in(m, 0, limits::MAX_ARRIVAL_PODS as i64, "max_pods").map(|v| Some(v as u64)),
                None => Some(None),
            };
            let process = match (&e.rate_per_s, &e.interval) {
                (Some(r), None) => {
                    let rate = *r.get_ref();
                    if !(rate > 0.0 && rate <= limits::MAX_ARRIVAL_RATE_PER_S) {
                        self.err(
                            r.span(),
                            format!("rate_per_s must be positive and at most {}", limits::MAX_ARRIVAL_RATE_PER_S),
                        )
                    } else {
                        Some(ArrivalProcess::Poisson { rate_per_s: rate })
                    }
                }
                (None, Some(i)) => match self.duration(i) {
                    Some(d) if d > SimDuration::ZERO => Some(ArrivalProcess::Uniform { interval: d }),
                    Some(_) => self.err(i.span(), "interval must be positive"),
                    None => None,
                },
                _ => self.err(
                    e.name.span(),
                    "an arrival process needs exactly one of `rate_per_s` (Poisson) or `interval` (fixed)",
                ),
            };
            let Some(name) = name else { continue };
            let tpl = self.template(&e.template, &name, Owner::Arrival, profiles, classes);
            let (Some(namespace), Some(start), Some(stop), Some(max_pods), Some(process), Some((template, _))) =
                (namespace, start, stop, max_pods, process, tpl)
            else {
                continue;
            };
            // Bound the number of pods a process can create in the run.
            let horizon = stop.unwrap_or(duration).min(duration).as_secs_f64() - start.as_secs_f64();
            let expected = match &process {
                ArrivalProcess::Poisson { rate_per_s } => rate_per_s * horizon.max(0.0),
                ArrivalProcess::Uniform { interval } => horizon.max(0.0) / interval.as_secs_f64(),
            };
            let expected = max_pods.map_or(expected, |m| expected.min(m as f64));
            if expected > limits::MAX_ARRIVAL_PODS as f64 {
                self.err::<()>(
                    a.span(),
                    format!(
                        "arrival process {name:?} would create about {expected:.0} pods; the limit is {} (set max_pods or stop)",
                        limits::MAX_ARRIVAL_PODS
                    ),
                );
                continue;
            }
            out.arrivals.push(ArrivalSpec {
                name,
                namespace,
                process,
                start: SimTime::ZERO.add(start),
                stop: stop.map(|s| SimTime::ZERO.add(s)),
                max_pods,
                template: Arc::new(template),
            });
        }
        for d in &w.daemonsets {
            let e = d.get_ref();
            if !unique(self, 3, &e.name) {
                continue;
            }
            let name = self.name(&e.name, "daemonset name");
            let namespace = self.namespace(&e.namespace);
            let at = e.at.as_ref().map(|a| self.time_in_run(a, run, "at")).unwrap_or(Some(SimDuration::ZERO));
            let Some(name) = name else { continue };
            let tpl = self.template(&e.template, &name, Owner::DaemonSet, profiles, classes);
            let (Some(namespace), Some(at), Some((template, selector))) = (namespace, at, tpl) else { continue };
            out.daemonsets.push(DaemonSetSpec {
                name,
                namespace,
                at: SimTime::ZERO.add(at),
                selector,
                template: Arc::new(template),
            });
        }
        out
    }

    fn priority_classes(&mut self, entries: &[Sp<schema::PriorityClassEntry>]) -> Vec<PriorityClass> {
        let mut out = PriorityClass::builtin();
        for e in entries {
            let pc = e.get_ref();
            let Some(name) = self.name(&pc.name, "priority class name") else { continue };
            if out.iter().any(|c| c.name == name) {
                self.err::<()>(pc.name.span(), format!("duplicate PriorityClass {name:?}"));
                continue;
            }
            let Some(value) = self.int_in(&pc.value, -2_147_483_648, 1_000_000_000, "value") else { continue };
            let preemption_policy = match pc.preemption_policy.as_ref().map(|p| (p.get_ref().as_str(), p.span())) {
                None | Some(("PreemptLowerPriority", _)) => PreemptionPolicy::PreemptLowerPriority,
                Some(("Never", _)) => PreemptionPolicy::Never,
                Some((other, span)) => {
                    self.err::<()>(
                        span,
                        format!("unknown preemption_policy {other:?}; expected \"PreemptLowerPriority\" or \"Never\""),
                    );
                    continue;
                }
            };
            if pc.global_default && out.iter().any(|c| c.global_default) {
                self.err::<()>(e.span(), "only one PriorityClass may be the global default");
                continue;
            }
            out.push(PriorityClass { name, value: value as i32, global_default: pc.global_default, preemption_policy });
        }
        out
    }

    fn actions(
        &mut self,
        entries: &[Sp<schema::ActionEntry>],
        w: &Workloads,
        pools: &[NodePool],
        run: Option<(SimDuration, &str)>,
    ) -> Vec<ActionSpec> {
        let mut out = Vec::new();
        for e in entries {
            let a = e.get_ref();
            let at = self.time_in_run(&a.at, run, "at");
            let verb = a.verb.get_ref().as_str();
            let needs_node = matches!(verb, "cordon" | "uncordon" | "drain");
            let kind = if needs_node {
                let Some(node) = &a.node else {
                    self.err::<()>(a.verb.span(), format!("verb {verb:?} needs `node`"));
                    continue;
                };
                let Some(id) = node_id(pools, node.get_ref()) else {
                    self.err::<()>(node.span(), format!("no node is named {:?}", node.get_ref()));
                    continue;
                };
                match verb {
                    "drain" => ActionKind::Drain { node: id },
                    _ => ActionKind::Cordon { node: id, unschedulable: verb == "cordon" },
                }
            } else {
                let Some(deployment) = &a.deployment else {
                    if matches!(verb, "set-image" | "scale") {
                        self.err::<()>(a.verb.span(), format!("verb {verb:?} needs `deployment`"));
                    } else {
                        self.err::<()>(
                            a.verb.span(),
                            format!(
                                "unknown action verb {verb:?}; expected \"set-image\", \"scale\", \"cordon\", \
                                 \"uncordon\" or \"drain\""
                            ),
                        );
                    }
                    continue;
                };
                let Some(target) = w.deployments.iter().find(|d| &*d.name == deployment.get_ref().as_str()) else {
                    let known: Vec<&str> = w.deployments.iter().map(|d| &*d.name).collect();
                    self.err::<()>(
                        deployment.span(),
                        format!(
                            "no Deployment named {:?} in this scenario; defined: {}",
                            deployment.get_ref(),
                            known.join(", ")
                        ),
                    );
                    continue;
                };
                let patch = match verb {
                    "set-image" => match &a.image {
                        Some(image) => {
                            let container = a.container.as_ref().map(|c| s(c.get_ref()));
                            if let Some(c) = &container
                                && !target.template.containers.iter().any(|x| x.name == *c)
                            {
                                self.err::<()>(
                                    a.container.as_ref().map(|c| c.span()).unwrap_or(e.span()),
                                    format!("Deployment {:?} has no container named {c:?}", deployment.get_ref()),
                                );
                                continue;
                            }
                            DeploymentPatch::SetImage { container, image: s(image.get_ref()) }
                        }
                        None => {
                            self.err::<()>(a.verb.span(), "verb \"set-image\" needs `image`");
                            continue;
                        }
                    },
                    "scale" => {
                        match a.replicas.as_ref().and_then(|r| self.int_in(r, 0, limits::MAX_REPLICAS, "replicas")) {
                            Some(r) => DeploymentPatch::Scale { replicas: r as i32 },
                            None => {
                                if a.replicas.is_none() {
                                    self.err::<()>(a.verb.span(), "verb \"scale\" needs `replicas`");
                                }
                                continue;
                            }
                        }
                    }
                    other => {
                        self.err::<()>(a.verb.span(), format!("verb {other:?} takes a `node`, not a `deployment`"));
                        continue;
                    }
                };
                let Some(namespace) = self.namespace(&a.namespace) else { continue };
                ActionKind::Patch { namespace, deployment: s(deployment.get_ref()), patch }
            };
            if let Some(at) = at {
                out.push(ActionSpec { at: SimTime::ZERO.add(at), kind });
            }
        }
        out
    }

    fn pdbs(&mut self, entries: &[Sp<schema::PdbEntry>]) -> Vec<PodDisruptionBudget> {
        let mut out: Vec<PodDisruptionBudget> = Vec::new();
        for e in entries {
            let p = e.get_ref();
            let Some(name) = self.name(&p.name, "PodDisruptionBudget name") else { continue };
            let Some(namespace) = self.namespace(&p.namespace) else { continue };
            if out.iter().any(|x| x.name == name && x.namespace == namespace) {
                self.err::<()>(p.name.span(), format!("duplicate PodDisruptionBudget {name:?}"));
                continue;
            }
            let selector = LabelSelector::from_labels(self.labels(&p.selector));
            if selector.is_empty() {
                self.err::<()>(e.span(), "a PodDisruptionBudget needs a non-empty `selector`");
                continue;
            }
            let min_available = p.min_available.as_ref().and_then(|v| self.int_or_percent(v, "min_available"));
            let max_unavailable = p.max_unavailable.as_ref().and_then(|v| self.int_or_percent(v, "max_unavailable"));
            if min_available.is_some() == max_unavailable.is_some() {
                self.err::<()>(e.span(), "set exactly one of `min_available` and `max_unavailable`");
                continue;
            }
            out.push(PodDisruptionBudget {
                name,
                namespace,
                uid: 0,
                selector,
                min_available,
                max_unavailable,
                status: Default::default(),
            });
        }
        out
    }

    /// Compiles a parsed file. Returns `None` if any error was recorded.
    pub fn compile(&mut self, file: &schema::File, seed_override: Option<u64>) -> Option<SimConfig> {
        let sc = file.scenario.get_ref();
        let name = sc.name.get_ref().clone();
        if name.is_empty() || name.len() > 100 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            self.err::<()>(sc.name.span(), "scenario name must be 1 to 100 characters of letters, digits, '-', '_' or '.' (it names the output directory)");
        }
        if let Some(ob) = &file.openb {
            return self.openb_scenario(file, ob, name, seed_override);
        }
        let Some(duration_text) = &sc.duration else {
            return self.err(file.scenario.span(), "[scenario] needs `duration` (e.g. duration = \"1h\")");
        };
        let Some(cluster) = &file.cluster else {
            return self.err(
                file.scenario.span(),
                "missing table [cluster]: a scenario needs at least one [[cluster.node_pools]] (or an [openb] experiment)",
            );
        };
        let duration = self.duration_within(duration_text, limits::MAX_DURATION, "duration");
        if duration == Some(SimDuration::ZERO) {
            self.err::<()>(duration_text.span(), "duration must be positive");
        }
        let timings = self.timings(file.timings.as_ref());
        let profiles = self.scheduler_profiles(file.scheduler.as_ref());
        let mut images = BTreeMap::new();
        for (image, size) in &file.images {
            if let Some(bytes) = self.units(size) {
                images.insert(s(image), bytes as u64);
            }
        }
        let pools = self.pools(cluster.get_ref(), &images);
        self.node_names = pools.iter().flat_map(|p| (0..p.count).map(|i| p.node_name(i))).collect();
        let run = duration.filter(|d| *d > SimDuration::ZERO).map(|d| (d, duration_text.get_ref().as_str()));
        let classes = self.priority_classes(&file.priority_classes);
        let mut workloads = self.workloads(&file.workloads, run, &profiles, &classes);
        workloads.actions = self.actions(&file.actions, &workloads, &pools, run);
        workloads.pdbs = self.pdbs(&file.pdbs);
        workloads.job_traces = self.job_traces(&file.job_traces, &pools, run);
        let mut faults = self.faults(&file.faults, &pools, &workloads, run);
        faults.extend(self.fault_traces(&file.fault_traces, &pools, run));
        let duration = duration.unwrap_or(SimDuration::from_secs(1));
        let mut profiles = profiles;
        fgd_target::fill(&mut profiles, &workloads, &pools, duration);
        let gpu_frag =
            pools.iter().any(|p| p.template.allocatable.scalar(crate::model::gpu::GPU_RESOURCE) > 0).then(|| {
                Arc::new(crate::scheduler::cache::gpu_frag::FragModel::new(&fgd_target::of(
                    &workloads, &pools, duration,
                )))
            });
        let output = self.output(file.output.as_ref(), duration, &workloads);
        if !self.errors.is_empty() {
            return None;
        }
        Some(SimConfig {
            name,
            seed: seed_override.or(sc.seed).unwrap_or(1),
            duration,
            timings,
            profiles,
            pools,
            images,
            workloads: Arc::new(workloads),
            faults,
            priority_classes: classes,
            output,
            gpu_frag,
        })
    }
}

/// The id of the initial node named `name` (nodes are numbered pool by pool).
fn node_id(pools: &[NodePool], name: &str) -> Option<NodeId> {
    let mut base = 0u32;
    for pool in pools {
        if let Some(index) =
            name.strip_prefix(&*pool.prefix).and_then(|r| r.strip_prefix('-')).and_then(|i| i.parse::<u32>().ok())
            && index < pool.count
            && pool.node_name(index) == name
        {
            return Some(NodeId(base + index));
        }
        base += pool.count;
    }
    None
}

/// Kubernetes label syntax: an optional DNS-subdomain prefix and '/', a name of at most 63 characters of
/// alphanumerics, '-', '_' and '.', starting and ending alphanumeric; values likewise (may be empty).
pub fn validate_label(key: &str, value: &str) -> Result<(), String> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 63
            && n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && n.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
    };
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && crate::apiserver::validate_name(p).is_err()
    {
        return Err(format!("label key {key:?}: the prefix must be a DNS subdomain such as \"example.com\""));
    }
    if !name_ok(name) {
        return Err(format!(
            "label key {key:?}: a name must be 1-63 characters of alphanumerics, '-', '_' or '.', starting and \
             ending with an alphanumeric"
        ));
    }
    if !value.is_empty() && !name_ok(value) {
        return Err(format!(
            "label value {value:?}: must be empty or 1-63 characters of alphanumerics, '-', '_' or '.', starting \
             and ending with an alphanumeric"
        ));
    }
    Ok(())
}
