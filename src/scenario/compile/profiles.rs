//! Compiling `[scheduler]` into scheduling profiles: the shorthand for the one default profile, or
//! `[[scheduler.profiles]]` in the spirit of KubeSchedulerConfiguration (a preset, disabled and enabled plugins,
//! weights, plugin arguments), validated as upstream validates its configuration.

use super::Compiler;
use crate::model::Labels;
use crate::scenario::schema::{self, Sp};
use crate::scheduler::args::{DefaultingType, ResourceSpec, ScoringStrategy, UtilizationShapePoint};
use crate::scheduler::profile::{PRESETS, ProfileConfig, TieBreak};
use crate::scheduler::registry;

/// Scoring strategies as spelled in a scenario.
const STRATEGIES: &str = "\"LeastAllocated\", \"MostAllocated\" or \"RequestedToCapacityRatio\"";

impl Compiler<'_> {
    pub(super) fn scheduler_profiles(&mut self, section: Option<&Sp<schema::SchedulerSection>>) -> Vec<ProfileConfig> {
        let Some(section) = section else { return vec![ProfileConfig::default()] };
        let sec = section.get_ref();
        let global_pct = match &sec.percentage_of_nodes_to_score {
            Some(p) => self.int_in(p, 0, 100, "percentage_of_nodes_to_score").map(|v| v as u32),
            None => None,
        };
        let global_tie = sec.tie_break.as_ref().and_then(|t| self.tie_break(t));
        if sec.profiles.is_empty() {
            let mut p = match &sec.preset {
                Some(name) => self.preset(name).unwrap_or_default(),
                None => ProfileConfig::default(),
            };
            if let Some(pct) = global_pct {
                p.percentage_of_nodes_to_score = pct;
            }
            if let Some(t) = global_tie {
                p.tie_break = t;
            }
            if let Some(strategy) = &sec.scoring_strategy
                && let Some(st) = self.strategy(strategy)
            {
                p.args.fit.strategy = st;
            }
            return vec![p];
        }
        for (key, v) in [
            ("preset", sec.preset.as_ref().map(|p| p.span())),
            ("scoring_strategy", sec.scoring_strategy.as_ref().map(|p| p.span())),
        ] {
            if let Some(span) = v {
                self.err::<()>(
                    span,
                    format!("[scheduler] {key} applies to the single default profile; with [[scheduler.profiles]], set it in each profile"),
                );
            }
        }
        let mut out: Vec<ProfileConfig> = Vec::new();
        for entry in &sec.profiles {
            let e = entry.get_ref();
            let Some(name) = self.name(&e.scheduler_name, "scheduler_name") else { continue };
            if out.iter().any(|p| p.scheduler_name == *name) {
                self.err::<()>(e.scheduler_name.span(), format!("two profiles are named {name:?}"));
                continue;
            }
            if let Some(p) = self.profile(e, global_pct, global_tie) {
                out.push(ProfileConfig { scheduler_name: name.to_string(), ..p });
            }
        }
        if out.is_empty() {
            out.push(ProfileConfig::default());
        }
        out
    }

    fn preset(&mut self, name: &Sp<String>) -> Option<ProfileConfig> {
        match ProfileConfig::preset(name.get_ref()) {
            Some(p) => Some(p),
            None => self.err(
                name.span(),
                format!("unknown preset {:?}; expected one of: {}", name.get_ref(), PRESETS.join(", ")),
            ),
        }
    }

    fn strategy(&mut self, v: &Sp<String>) -> Option<ScoringStrategy> {
        match v.get_ref().as_str() {
            "LeastAllocated" => Some(ScoringStrategy::LeastAllocated),
            "MostAllocated" => Some(ScoringStrategy::MostAllocated),
            "RequestedToCapacityRatio" => Some(ScoringStrategy::RequestedToCapacityRatio),
            other => self.err(v.span(), format!("unknown scoring_strategy {other:?}; expected {STRATEGIES}")),
        }
    }

    fn tie_break(&mut self, v: &Sp<String>) -> Option<TieBreak> {
        match TieBreak::parse(v.get_ref()) {
            Some(t) => Some(t),
            None => self
                .err(v.span(), format!("unknown tie_break {:?}; expected \"random\" or \"lowest-name\"", v.get_ref())),
        }
    }

    fn profile(
        &mut self,
        e: &schema::ProfileEntry,
        global_pct: Option<u32>,
        global_tie: Option<TieBreak>,
    ) -> Option<ProfileConfig> {
        // An unknown preset is reported; the default profile stands in so later mistakes are reported too.
        let mut p = match &e.preset {
            Some(name) => self.preset(name).unwrap_or_default(),
            None => ProfileConfig::default(),
        };
        if let Some(pct) = global_pct {
            p.percentage_of_nodes_to_score = pct;
        }
        if let Some(pct) = &e.percentage_of_nodes_to_score {
            p.percentage_of_nodes_to_score = self.int_in(pct, 0, 100, "percentage_of_nodes_to_score")? as u32;
        }
        if let Some(t) = global_tie {
            p.tie_break = t;
        }
        if let Some(t) = &e.tie_break {
            p.tie_break = self.tie_break(t)?;
        }
        for d in &e.disable {
            let name = d.get_ref();
            if name == "*" {
                p.plugins.iter_mut().for_each(|(_, w)| *w = 0);
            } else if let Some(i) = p.plugins.iter().position(|(n, _)| n == name) {
                p.plugins.remove(i);
            } else {
                let have: Vec<&str> = p.plugins.iter().map(|(n, _)| n.as_str()).collect();
                self.err::<()>(d.span(), format!("plugin {name:?} is not enabled here; enabled: {}", have.join(", ")));
            }
        }
        for en in &e.enable {
            let (name, weight) = match en.get_ref() {
                schema::EnableEntry::Name(n) => (n.clone(), 1),
                schema::EnableEntry::Weighted { name, weight } => (name.clone(), *weight),
            };
            if registry::build(&name, &p.args).is_none() {
                self.err::<()>(
                    en.span(),
                    format!("unknown plugin {name:?}; known plugins: {}", registry::known().join(", ")),
                );
                continue;
            }
            if !(0..=100).contains(&weight) {
                self.err::<()>(en.span(), format!("weight {weight} of {name} is outside 0..=100"));
                continue;
            }
            if p.plugins.iter().any(|(n, _)| *n == name) {
                self.err::<()>(en.span(), format!("plugin {name:?} is already enabled (set its weight in `weights`)"));
                continue;
            }
            p.plugins.push((name, weight));
        }
        for (name, w) in &e.weights {
            let Some(weight) = self.int_in(w, 0, 100, "weight") else { continue };
            match p.plugins.iter_mut().find(|(n, _)| n == name) {
                Some(entry) => entry.1 = weight,
                None => {
                    self.err::<()>(w.span(), format!("weights: plugin {name:?} is not enabled in this profile"));
                }
            }
        }
        if let Some(args) = &e.args {
            self.plugin_args(args, &mut p);
        }
        Some(p)
    }

    fn resource_specs(&mut self, entries: &[Sp<schema::ResourceEntry>]) -> Vec<ResourceSpec> {
        let mut out: Vec<ResourceSpec> = Vec::new();
        for r in entries {
            let e = r.get_ref();
            let weight = match &e.weight {
                Some(w) => match self.int_in(w, 1, 100, "resource weight") {
                    Some(w) => w,
                    None => continue,
                },
                None => 1,
            };
            let name = e.name.get_ref();
            if name.is_empty() {
                self.err::<()>(e.name.span(), "resource name must not be empty");
                continue;
            }
            if out.iter().any(|x| &*x.name == name) {
                self.err::<()>(e.name.span(), format!("resource {name:?} listed twice"));
                continue;
            }
            out.push(ResourceSpec::new(name, weight));
        }
        out
    }

    fn plugin_args(&mut self, args: &Sp<schema::PluginArgsEntry>, p: &mut ProfileConfig) {
        let a = args.get_ref();
        if let Some(fit) = &a.fit {
            let before = self.errors.len();
            let f = fit.get_ref();
            if let Some(st) = &f.scoring_strategy
                && let Some(st) = self.strategy(st)
            {
                p.args.fit.strategy = st;
            }
            if let Some(rs) = &f.resources {
                p.args.fit.resources = self.resource_specs(rs);
            }
            if let Some(shape) = &f.shape {
                let mut points: Vec<UtilizationShapePoint> = Vec::new();
                for pt in shape {
                    let e = pt.get_ref();
                    let (Some(u), Some(sc)) =
                        (self.int_in(&e.utilization, 0, 100, "utilization"), self.int_in(&e.score, 0, 10, "score"))
                    else {
                        continue;
                    };
                    if points.last().is_some_and(|last| last.utilization >= u) {
                        self.err::<()>(e.utilization.span(), "shape utilizations must be strictly increasing");
                        continue;
                    }
                    points.push(UtilizationShapePoint { utilization: u, score: sc });
                }
                p.args.fit.shape = points;
            }
            p.args.fit.ignored_resources = f.ignored_resources.iter().map(|r| r.get_ref().as_str().into()).collect();
            p.args.fit.ignored_resource_groups =
                f.ignored_resource_groups.iter().map(|r| r.get_ref().as_str().into()).collect();
            let rtcr = p.args.fit.strategy == ScoringStrategy::RequestedToCapacityRatio;
            if rtcr && p.args.fit.shape.is_empty() {
                self.err::<()>(fit.span(), "scoring_strategy \"RequestedToCapacityRatio\" needs a `shape` (e.g. shape = [{ utilization = 0, score = 0 }, { utilization = 100, score = 10 }])");
            }
            if !rtcr && f.shape.is_some() {
                self.err::<()>(fit.span(), "`shape` applies only to scoring_strategy \"RequestedToCapacityRatio\"");
            }
            // Upstream's own validation, for whatever the checks above did not already report.
            if self.errors.len() == before
                && let Err(e) = p.args.fit.validate()
            {
                self.err::<()>(fit.span(), format!("args.NodeResourcesFit: {e}"));
            }
        }
        if let Some(b) = &a.balanced {
            let before = self.errors.len();
            p.args.balanced.resources = self.resource_specs(&b.get_ref().resources);
            if self.errors.len() == before
                && let Err(e) = p.args.balanced.validate()
            {
                self.err::<()>(b.span(), format!("args.NodeResourcesBalancedAllocation: {e}"));
            }
        }
        if let Some(ts) = &a.topology_spread {
            let t = ts.get_ref();
            if let Some(d) = &t.defaulting_type {
                match d.get_ref().as_str() {
                    "System" => p.args.topology_spread.defaulting_type = DefaultingType::System,
                    "List" => p.args.topology_spread.defaulting_type = DefaultingType::List,
                    other => {
                        self.err::<()>(
                            d.span(),
                            format!("unknown defaulting_type {other:?}; expected \"System\" or \"List\""),
                        );
                    }
                }
            }
            if p.args.topology_spread.defaulting_type == DefaultingType::System && !t.default_constraints.is_empty() {
                self.err::<()>(ts.span(), "default_constraints need defaulting_type = \"List\"");
            }
            let mut constraints = Vec::new();
            for c in &t.default_constraints {
                if c.get_ref().selector.is_some() || !c.get_ref().match_expressions.is_empty() {
                    self.err::<()>(c.span(), "default constraints take no selector: it comes from the pod's owner");
                    continue;
                }
                if let Some(mut k) = self.spread(c, &Labels::new()) {
                    k.selector = Default::default();
                    constraints.push(k);
                }
            }
            p.args.topology_spread.default_constraints = constraints;
        }
        if let Some(ipa) = &a.inter_pod_affinity {
            let i = ipa.get_ref();
            if let Some(w) = &i.hard_pod_affinity_weight
                && let Some(w) = self.int_in(w, 0, 100, "hard_pod_affinity_weight")
            {
                p.args.inter_pod_affinity.hard_pod_affinity_weight = w as i32;
            }
            if let Some(b) = i.ignore_preferred_terms_of_existing_pods {
                p.args.inter_pod_affinity.ignore_preferred_terms_of_existing_pods = b;
            }
        }
        if let Some(pre) = &a.preemption {
            let e = pre.get_ref();
            if let Some(v) = &e.min_candidate_nodes_percentage
                && let Some(v) = self.int_in(v, 0, 100, "min_candidate_nodes_percentage")
            {
                p.args.preemption.min_candidate_nodes_percentage = v as i32;
            }
            if let Some(v) = &e.min_candidate_nodes_absolute
                && let Some(v) = self.int_in(v, 0, i64::from(i32::MAX), "min_candidate_nodes_absolute")
            {
                p.args.preemption.min_candidate_nodes_absolute = v as i32;
            }
            if p.args.preemption.min_candidate_nodes_percentage == 0
                && p.args.preemption.min_candidate_nodes_absolute == 0
            {
                self.err::<()>(
                    pre.span(),
                    "min_candidate_nodes_percentage and min_candidate_nodes_absolute cannot both be 0",
                );
            }
        }
        if let Some(na) = &a.node_affinity {
            p.args.node_affinity.added_affinity = self.node_affinity(&na.get_ref().added_affinity);
        }
        // Plugins were built with the default arguments when the preset was chosen: nothing to rebuild here,
        // the profile builds its plugins from `p.args` when the scheduler starts.
    }
}
