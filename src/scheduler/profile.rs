//! A scheduling profile: the plugins enabled for pods with a given `schedulerName`, per extension point.

use super::args::PluginArgs;
use super::framework::Plugin;
use super::registry;
use crate::model::Str;

/// What a scenario asks of a profile.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileConfig {
    pub scheduler_name: String,
    /// `percentageOfNodesToScore`; 0 selects upstream's adaptive default.
    pub percentage_of_nodes_to_score: u32,
    /// Plugins with their score weights, in order.
    pub plugins: Vec<(String, i64)>,
    pub args: PluginArgs,
    /// How `selectHost` breaks ties between the top-scoring nodes.
    pub tie_break: TieBreak,
}

/// How `selectHost` picks among the nodes with the highest total score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TieBreak {
    /// Uniformly, with the scheduler's seeded tie-break stream (upstream's reservoir sampling; the default).
    #[default]
    Random,
    /// The node with the lexicographically smallest name: the FGD paper's simulator, whose vendored
    /// `selectHost` does this (its experiments then give nodes a random rank prefix per seed).
    LowestName,
}

impl TieBreak {
    pub fn parse(s: &str) -> Option<TieBreak> {
        match s {
            "random" => Some(TieBreak::Random),
            "lowest-name" => Some(TieBreak::LowestName),
            _ => None,
        }
    }
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            scheduler_name: "default-scheduler".to_string(),
            percentage_of_nodes_to_score: 0,
            plugins: registry::DEFAULT_PROFILE.iter().map(|(n, w)| (n.to_string(), *w)).collect(),
            args: PluginArgs::default(),
            tie_break: TieBreak::Random,
        }
    }
}

/// Names accepted by [`ProfileConfig::preset`], in documentation order (for error messages and `--help`).
pub const PRESETS: &[&str] = &[
    "default",
    "binpack",
    "random",
    "first-fit",
    "best-fit",
    "spread",
    "dot-prod",
    "gpu-clustering",
    "gpu-packing",
    "gpu-best-fit",
    "fgd",
];

impl ProfileConfig {
    /// A named profile:
    /// - `default`: upstream's default profile ([`registry::DEFAULT_PROFILE`], LeastAllocated, adaptive
    ///   `percentageOfNodesToScore`);
    /// - `binpack`: the same with NodeResourcesFit's `MostAllocated` strategy (upstream's bin-packing setup);
    /// - `random`, `first-fit`, `best-fit`, `spread`: a research policy (the Random, FirstFit, BestFit or
    ///   Spread score plugin) on top of the default profile's QueueSort, PreFilter/Filter, PostFilter
    ///   (preemption) and Bind plugins, with every default plugin's score weight set to 0 (so none of them
    ///   scores), the policy plugin alone scoring with weight 1, and `percentageOfNodesToScore` 100 so that
    ///   every feasible node is a candidate.
    /// - `dot-prod`, `gpu-clustering`, `gpu-packing`, `gpu-best-fit`, `fgd`: the GPU-sharing policies of the FGD
    ///   paper (the DotProd, GpuClustering, GpuPacking, GpuBestFit or FGD plugin), set up the same way. With
    ///   `random` they are the paper's six policies.
    ///
    /// Built from [`registry::DEFAULT_PROFILE`], so plugins added there are part of every preset. `None` for
    /// names not in [`PRESETS`].
    pub fn preset(name: &str) -> Option<ProfileConfig> {
        let policy = match name {
            "default" => return Some(ProfileConfig::default()),
            "binpack" => {
                let mut cfg = ProfileConfig::default();
                cfg.args.fit.strategy = super::args::ScoringStrategy::MostAllocated;
                return Some(cfg);
            }
            "random" => "Random",
            "first-fit" => "FirstFit",
            "best-fit" => "BestFit",
            "spread" => "Spread",
            "dot-prod" => "DotProd",
            "gpu-clustering" => "GpuClustering",
            "gpu-packing" => "GpuPacking",
            "gpu-best-fit" => "GpuBestFit",
            "fgd" => "FGD",
            _ => return None,
        };
        let mut plugins: Vec<(String, i64)> =
            registry::DEFAULT_PROFILE.iter().map(|(n, _)| (n.to_string(), 0)).collect();
        plugins.push((policy.to_string(), 1));
        Some(ProfileConfig { percentage_of_nodes_to_score: 100, plugins, ..ProfileConfig::default() })
    }
}

/// A built profile.
pub struct Profile {
    pub scheduler_name: Str,
    pub percentage_of_nodes_to_score: u32,
    pub tie_break: TieBreak,
    pub plugins: Vec<Box<dyn Plugin>>,
    pub pre_filter: Vec<usize>,
    pub filter: Vec<usize>,
    pub post_filter: Vec<usize>,
    pub pre_score: Vec<usize>,
    /// (plugin index, weight)
    pub score: Vec<(usize, i64)>,
    /// Reserve plugins, in order.
    pub reserve: Vec<usize>,
    /// The QueueSort plugin (exactly one).
    pub queue_sort: usize,
    /// The first Bind plugin.
    pub bind: usize,
}

/// Most plugins a profile may hold (rejector sets are 64-bit masks).
pub const MAX_PLUGINS: usize = 64;

impl Profile {
    /// The QueueSort key of a pod (higher pops first).
    pub fn sort_key(&self, pod: &crate::model::PodSpec) -> i64 {
        self.plugins[self.queue_sort].as_queue_sort().map(|q| q.key(pod)).unwrap_or(0)
    }

    pub fn build(cfg: &ProfileConfig) -> Result<Profile, String> {
        let mut p = Profile {
            scheduler_name: Str::from(cfg.scheduler_name.as_str()),
            percentage_of_nodes_to_score: cfg.percentage_of_nodes_to_score,
            tie_break: cfg.tie_break,
            plugins: Vec::new(),
            pre_filter: Vec::new(),
            filter: Vec::new(),
            post_filter: Vec::new(),
            pre_score: Vec::new(),
            score: Vec::new(),
            reserve: Vec::new(),
            queue_sort: usize::MAX,
            bind: usize::MAX,
        };
        for (name, weight) in &cfg.plugins {
            let plugin = registry::build(name, &cfg.args)
                .ok_or_else(|| format!("unknown plugin {name:?}; known plugins: {}", registry::known().join(", ")))?;
            p.add(plugin, *weight)?;
        }
        if p.queue_sort == usize::MAX {
            return Err("a profile needs a QueueSort plugin (PrioritySort)".into());
        }
        if p.bind == usize::MAX {
            return Err("a profile needs a Bind plugin (DefaultBinder)".into());
        }
        Ok(p)
    }

    /// Appends a plugin with its score weight (0: not scored). `build` adds the registry's plugins this way; a
    /// library user or a test can add a plugin of its own that is not in the registry.
    pub fn add(&mut self, plugin: Box<dyn Plugin>, weight: i64) -> Result<(), String> {
        let name = plugin.name();
        if self.plugins.len() >= MAX_PLUGINS {
            return Err(format!("a profile holds at most {MAX_PLUGINS} plugins"));
        }
        if self.plugins.iter().any(|q| q.name() == name) {
            return Err(format!("plugin {name} is enabled twice"));
        }
        if plugin.as_queue_sort().is_some() && self.queue_sort != usize::MAX {
            return Err(format!(
                "only one QueueSort plugin may be enabled, but both {} and {name} are",
                self.plugins[self.queue_sort].name()
            ));
        }
        let i = self.plugins.len();
        if plugin.as_pre_filter().is_some() {
            self.pre_filter.push(i);
        }
        if plugin.as_filter().is_some() {
            self.filter.push(i);
        }
        if plugin.as_post_filter().is_some() {
            self.post_filter.push(i);
        }
        if plugin.as_queue_sort().is_some() {
            self.queue_sort = i;
        }
        if plugin.as_reserve().is_some() {
            self.reserve.push(i);
        }
        if plugin.as_bind().is_some() && self.bind == usize::MAX {
            self.bind = i;
        }
        if plugin.as_pre_score().is_some() && weight > 0 {
            self.pre_score.push(i);
        }
        if plugin.as_score().is_some() && weight > 0 {
            self.score.push((i, weight));
        }
        self.plugins.push(plugin);
        Ok(())
    }
}

/// Upstream `numFeasibleNodesToFind`: how many feasible nodes to look for before scoring.
pub fn num_feasible_nodes_to_find(percentage: u32, num_all_nodes: usize, has_score_plugins: bool) -> usize {
    const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
    const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: i64 = 5;
    if !has_score_plugins {
        return 1;
    }
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND || percentage >= 100 {
        return num_all_nodes;
    }
    let mut pct = i64::from(percentage);
    if pct == 0 {
        pct = (50 - num_all_nodes as i64 / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    }
    let n = num_all_nodes as i64 * pct / 100;
    (n.max(MIN_FEASIBLE_NODES_TO_FIND as i64)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn num_feasible_nodes_table() {
        // The upstream test table (schedule_one_test.go) plus larger sizes.
        assert_eq!(num_feasible_nodes_to_find(0, 10, true), 10);
        assert_eq!(num_feasible_nodes_to_find(0, 1000, true), 420);
        assert_eq!(num_feasible_nodes_to_find(40, 1000, true), 400);
        assert_eq!(num_feasible_nodes_to_find(0, 6000, true), 300);
        assert_eq!(num_feasible_nodes_to_find(40, 6000, true), 2400);
        assert_eq!(num_feasible_nodes_to_find(0, 5000, true), 500);
        assert_eq!(num_feasible_nodes_to_find(0, 100, true), 100);
        assert_eq!(num_feasible_nodes_to_find(0, 150, true), 100);
        assert_eq!(num_feasible_nodes_to_find(0, 5000, false), 1);
    }

    #[test]
    fn default_profile_builds() {
        let p = Profile::build(&ProfileConfig::default()).unwrap();
        let names = |ids: &[usize]| ids.iter().map(|&i| p.plugins[i].name()).collect::<Vec<_>>();
        assert_eq!(
            names(&p.filter),
            vec![
                "NodeUnschedulable",
                "NodeName",
                "TaintToleration",
                "NodeAffinity",
                "NodePorts",
                "NodeResourcesFit",
                "PodTopologySpread",
                "InterPodAffinity",
                "GpuShare"
            ]
        );
        assert_eq!(
            names(&p.pre_filter),
            vec!["NodeAffinity", "NodePorts", "PodTopologySpread", "InterPodAffinity", "GpuShare"]
        );
        assert_eq!(names(&p.post_filter), vec!["DefaultPreemption"]);
        assert_eq!(p.plugins[p.queue_sort].name(), "PrioritySort");
        assert_eq!(p.plugins[p.bind].name(), "DefaultBinder");
        let scored: Vec<(&str, i64)> = p.score.iter().map(|&(i, w)| (p.plugins[i].name(), w)).collect();
        assert_eq!(
            scored,
            vec![
                ("TaintToleration", 3),
                ("NodeAffinity", 2),
                ("NodeResourcesFit", 1),
                ("PodTopologySpread", 2),
                ("InterPodAffinity", 2),
                ("NodeResourcesBalancedAllocation", 1),
                ("ImageLocality", 1)
            ]
        );
        assert_eq!(
            names(&p.pre_score),
            vec![
                "TaintToleration",
                "NodeAffinity",
                "NodeResourcesFit",
                "PodTopologySpread",
                "InterPodAffinity",
                "NodeResourcesBalancedAllocation",
                "ImageLocality"
            ]
        );
        let bad = ProfileConfig { plugins: vec![("Nope".into(), 1)], ..Default::default() };
        assert!(Profile::build(&bad).err().unwrap_or_default().contains("unknown plugin \"Nope\""));
    }

    #[test]
    fn presets_keep_the_default_filters_and_score_with_one_plugin() {
        let default = Profile::build(&ProfileConfig::default()).unwrap();
        let names = |p: &Profile, idx: &[usize]| idx.iter().map(|&i| p.plugins[i].name()).collect::<Vec<_>>();
        for &name in PRESETS {
            let cfg = ProfileConfig::preset(name).unwrap_or_else(|| panic!("preset {name}"));
            let p = Profile::build(&cfg).unwrap_or_else(|e| panic!("preset {name}: {e}"));
            // Every plugin of the default profile is there, whatever DEFAULT_PROFILE holds.
            for (plugin, _) in registry::DEFAULT_PROFILE {
                assert!(cfg.plugins.iter().any(|(n, _)| n == plugin), "{name} lacks {plugin}");
            }
            assert_eq!(names(&p, &p.pre_filter), names(&default, &default.pre_filter), "{name}");
            assert_eq!(names(&p, &p.filter), names(&default, &default.filter), "{name}");
            assert_eq!(names(&p, &p.post_filter), names(&default, &default.post_filter), "{name}");
            assert_eq!(p.plugins[p.queue_sort].name(), "PrioritySort");
            assert_eq!(p.plugins[p.bind].name(), "DefaultBinder");
            let scoring: Vec<(&str, i64)> = p.score.iter().map(|&(i, w)| (p.plugins[i].name(), w)).collect();
            let policy = match name {
                "default" | "binpack" => {
                    let expected: Vec<(&str, i64)> =
                        default.score.iter().map(|&(i, w)| (default.plugins[i].name(), w)).collect();
                    assert_eq!(scoring, expected, "{name}");
                    assert_eq!(cfg.percentage_of_nodes_to_score, 0);
                    let strategy = if name == "binpack" { "MostAllocated" } else { "LeastAllocated" };
                    assert_eq!(cfg.args.fit.strategy.as_str(), strategy);
                    continue;
                }
                "random" => "Random",
                "first-fit" => "FirstFit",
                "best-fit" => "BestFit",
                "spread" => "Spread",
                "dot-prod" => "DotProd",
                "gpu-clustering" => "GpuClustering",
                "gpu-packing" => "GpuPacking",
                "gpu-best-fit" => "GpuBestFit",
                "fgd" => "FGD",
                other => panic!("untested preset {other}"),
            };
            assert_eq!(scoring, vec![(policy, 1)], "{name}");
            assert!(p.pre_score.is_empty(), "{name}: no default plugin may pre-score");
            assert_eq!(cfg.percentage_of_nodes_to_score, 100);
            assert_eq!(cfg.args, ProfileConfig::default().args);
        }
        assert!(ProfileConfig::preset("nope").is_none());
    }
}
