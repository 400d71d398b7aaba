//! Compiling an `[openb]` scenario: the FGD paper's experiment on an openb node and pod list. It has no
//! simulated time, cluster or workloads of its own: only `[scenario]` (name, seed), `[scheduler]` (one profile),
//! `[openb]` and `[[checks]]` apply.

use super::Compiler;
use crate::openb::experiment::Experiment;
use crate::openb::{OpenbNode, OpenbPod, parse_nodes, parse_pods};
use crate::scenario::schema::{self, Sp};
use crate::sim::SimConfig;
use crate::time::SimDuration;
use std::sync::Arc;

/// Largest node or pod list read (the openb lists are under 1 MB).
const MAX_LIST_BYTES: u64 = 256 << 20;

/// Default target GPU demand, as a multiple of the cluster's GPUs (the paper's 130%).
pub const DEFAULT_TUNE_RATIO: f64 = 1.3;

impl Compiler<'_> {
    pub(super) fn openb_scenario(
        &mut self,
        file: &schema::File,
        ob: &Sp<schema::OpenbSection>,
        name: String,
        seed_override: Option<u64>,
    ) -> Option<SimConfig> {
        let sc = file.scenario.get_ref();
        let why = "an [openb] experiment runs on its own node and pod lists, with no simulated time";
        let reject = |c: &mut Self, span: Option<std::ops::Range<usize>>, what: &str| {
            if let Some(span) = span {
                c.err::<()>(span, format!("{what} does not apply here: {why}"));
            }
        };
        reject(self, sc.duration.as_ref().map(|d| d.span()), "duration");
        reject(self, file.cluster.as_ref().map(|c| c.span()), "[cluster]");
        reject(self, file.timings.as_ref().map(|c| c.span()), "[timings]");
        reject(self, file.output.as_ref().map(|c| c.span()), "[output]");
        let w = &file.workloads;
        for span in w.deployments.first().map(|e| e.span()).into_iter().chain(w.jobs.first().map(|e| e.span())) {
            reject(self, Some(span), "[workloads]");
        }
        for span in w.arrivals.first().map(|e| e.span()).into_iter().chain(w.daemonsets.first().map(|e| e.span())) {
            reject(self, Some(span), "[workloads]");
        }
        reject(self, file.faults.first().map(|e| e.span()), "[[faults]]");
        reject(self, file.fault_traces.first().map(|e| e.span()), "[[fault_traces]]");
        reject(self, file.job_traces.first().map(|e| e.span()), "[[job_traces]]");
        reject(self, file.actions.first().map(|e| e.span()), "[[actions]]");
        reject(self, file.priority_classes.first().map(|e| e.span()), "[[priority_classes]]");
        reject(self, file.pdbs.first().map(|e| e.span()), "[[pdbs]]");

        let profiles = self.scheduler_profiles(file.scheduler.as_ref());
        if profiles.len() > 1
            && let Some(s) = &file.scheduler
        {
            self.err::<()>(s.span(), "an [openb] experiment schedules with one profile");
        }
        let e = ob.get_ref();
        let tune_ratio = match &e.tune_ratio {
            Some(r) if !(r.get_ref().is_finite() && *r.get_ref() > 0.0 && *r.get_ref() <= 100.0) => {
                return self.err(r.span(), format!("tune_ratio must be in (0, 100], found {}", r.get_ref()));
            }
            Some(r) => *r.get_ref(),
            None => DEFAULT_TUNE_RATIO,
        };
        let subsample = match &e.subsample {
            Some(r) if !(r.get_ref().is_finite() && *r.get_ref() > 0.0 && *r.get_ref() <= 1.0) => {
                return self.err(r.span(), format!("subsample must be in (0, 1], found {}", r.get_ref()));
            }
            Some(r) => *r.get_ref(),
            None => 1.0,
        };
        let nodes = self.openb_list(&e.nodes, parse_nodes);
        let pods = self.openb_list(&e.pods, parse_pods);
        let (mut nodes, mut pods) = (nodes?, pods?);
        if nodes.iter().all(|n| n.gpus == 0) {
            return self.err(e.nodes.span(), "the node list has no GPU node");
        }
        if pods.is_empty() {
            return self.err(e.pods.span(), "the pod list is empty");
        }
        if subsample < 1.0 {
            nodes = evenly(nodes, subsample, |n: &OpenbNode| n.name.clone());
            pods = evenly(pods, subsample, |p: &OpenbPod| p.name.clone());
        }
        if !self.errors.is_empty() {
            return None;
        }
        let profile = profiles.into_iter().next().unwrap_or_default();
        self.openb = Some(Arc::new(Experiment { nodes, pods, tune_ratio, profile: profile.clone() }));
        Some(SimConfig {
            name,
            seed: seed_override.or(sc.seed).unwrap_or(1),
            duration: SimDuration::from_secs(1),
            timings: Default::default(),
            profiles: vec![profile],
            pools: Vec::new(),
            images: Default::default(),
            workloads: Default::default(),
            faults: Vec::new(),
            priority_classes: Vec::new(),
            output: crate::metrics::sample::OutputConfig {
                sample_interval: SimDuration::from_secs(1),
                reference_pod: Default::default(),
                placements: false,
                pods: false,
            },
            gpu_frag: None,
        })
    }

    /// Reads and parses a list named relative to the scenario file; a parse error points at the CSV line.
    fn openb_list<T>(&mut self, path: &Sp<String>, parse: fn(&str, &str) -> Result<Vec<T>, String>) -> Option<Vec<T>> {
        let (shown, text) = self.read_data_file(path, MAX_LIST_BYTES, "list", "")?;
        match parse(&text, &shown) {
            Ok(v) => Some(v),
            Err(msg) => {
                // "file:line: message" -> a diagnostic on that line of the list.
                let rest = msg.strip_prefix(&shown).and_then(|r| r.strip_prefix(':')).unwrap_or(&msg);
                let (line, message) = match rest.split_once(": ") {
                    Some((l, m)) if l.parse::<usize>().is_ok() => (l.parse::<usize>().unwrap_or(1), m.to_string()),
                    _ => (1, rest.to_string()),
                };
                self.err_in_data_file(&shown, &text, line, 1, message);
                None
            }
        }
    }
}

/// Keeps ⌈share · n⌉ items evenly spaced in name order (the first always), in their original order.
fn evenly<T, K: Ord>(items: Vec<T>, share: f64, key: impl Fn(&T) -> K) -> Vec<T> {
    let n = items.len();
    let keep = ((share * n as f64).ceil() as usize).clamp(1, n.max(1));
    let mut by_name: Vec<usize> = (0..n).collect();
    by_name.sort_by_key(|&i| key(&items[i]));
    let mut chosen = vec![false; n];
    for k in 0..keep {
        chosen[by_name[k * n / keep]] = true;
    }
    items.into_iter().zip(chosen).filter_map(|(x, c)| c.then_some(x)).collect()
}
