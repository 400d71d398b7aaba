//! **ImageLocality** (score, weight 1 in the default profile): prefers nodes that already hold the pod's container
//! images, since a pull can take longer than everything else in a pod's start; damped by how widely each image
//! is spread, so that a popular image does not herd every pod onto the few nodes that pulled it first.
//!
//! For each init and regular container whose image (with `:latest` appended when untagged) the node reports in
//! `status.images`, the image contributes `int64(size * (nodesWithImage / totalNodes))`; the sum is clamped to
//! [23 MiB, 1000 MiB × number of containers] and mapped linearly onto 0-100 (upstream `calculatePriority`). Images
//! are what kubelets report after pulling them (at most 50 per node, largest first), so locality builds up as
//! pods run. No normalization.
//!
//! The per-image spread (how many nodes list the image) is kept by the scheduler's cache as nodes come, go and
//! report; PreScore resolves the pod's images against it once, so Score only looks the names up on the node.

use crate::model::normalized_image_name;
use crate::scheduler::cache::NodeInfo;
use crate::scheduler::framework::{CycleState, MAX_NODE_SCORE, NodeList, Plugin, PodCtx, PreResult, PreScore, Score};

const MIB: i64 = 1024 * 1024;
/// Upstream `minThreshold`: images smaller than this in total score 0.
pub const MIN_THRESHOLD_BYTES: i64 = 23 * MIB;
/// Upstream `maxContainerThreshold`: per container, images beyond this in total score 100.
pub const MAX_CONTAINER_THRESHOLD_BYTES: i64 = 1000 * MIB;

#[derive(Default)]
pub struct ImageLocality;

/// PreScore state: for each container (init first) whose image some node has, the normalized image name and
/// its spread-scaled size; and the number of containers.
#[derive(Clone, Default)]
struct PodImages {
    /// The pod's images that some node has: interned id and scaled score.
    images: Vec<(u32, i64)>,
    containers: i64,
    /// Every node in the cache has every one of those images (or there are none): every node scores the same.
    everywhere: bool,
}

/// Upstream `scaledImageScore`: the size scaled by the fraction of nodes that have the image (float64, as upstream).
pub fn scaled_image_score(size_bytes: u64, num_nodes: u32, total_nodes: usize) -> i64 {
    let spread = f64::from(num_nodes) / total_nodes as f64;
    (size_bytes as f64 * spread) as i64
}

/// Upstream `calculatePriority`.
pub fn calculate_priority(sum_scores: i64, num_containers: i64) -> i64 {
    let max_threshold = MAX_CONTAINER_THRESHOLD_BYTES * num_containers;
    let sum = if sum_scores < MIN_THRESHOLD_BYTES {
        MIN_THRESHOLD_BYTES
    } else if sum_scores > max_threshold {
        max_threshold
    } else {
        sum_scores
    };
    MAX_NODE_SCORE * (sum - MIN_THRESHOLD_BYTES) / (max_threshold - MIN_THRESHOLD_BYTES)
}

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        "ImageLocality"
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl PreScore for ImageLocality {
    fn pre_score(&self, state: &mut CycleState, pod: &PodCtx, feasible: NodeList) -> PreResult {
        let t = &pod.spec.template;
        let cache = feasible.cache;
        let slot = state.slot::<PodImages>();
        slot.images.clear();
        slot.containers = (t.init_containers.len() + t.containers.len()) as i64;
        slot.everywhere = true;
        for image in t.images() {
            let name = normalized_image_name(image);
            if let Some(st) = cache.image_state(&name) {
                slot.images.push((st.id, scaled_image_score(st.size_bytes, st.num_nodes, cache.len())));
                // `num_nodes` counts the nodes in the cache that list the image (each once).
                slot.everywhere &= st.num_nodes as usize == cache.len();
            }
        }
        PreResult::Proceed
    }
}

impl PodImages {
    /// Upstream `Score` on one node.
    fn score(&self, node: &NodeInfo) -> i64 {
        let on_node = &node.image_ids;
        let sum: i64 = self.images.iter().filter(|(id, _)| on_node.binary_search(id).is_ok()).map(|(_, s)| *s).sum();
        calculate_priority(sum, self.containers)
    }
}

impl Score for ImageLocality {
    fn score(&self, state: &CycleState, _: &PodCtx, node: &NodeInfo) -> i64 {
        let Some(pod) = state.get::<PodImages>() else { return 0 };
        pod.score(node)
    }

    fn score_nodes(&self, state: &CycleState, _: &PodCtx, nodes: NodeList, out: &mut Vec<i64>) {
        match state.get::<PodImages>() {
            // Each of the pod's images is on every node or on none: every node scores what one with all of them
            // does (see `uniform`, which lets the cycle skip this outside traces).
            Some(pod) if pod.everywhere => {
                let sum = pod.images.iter().map(|(_, s)| s).sum();
                out.extend(std::iter::repeat_n(calculate_priority(sum, pod.containers), nodes.len()));
            }
            Some(pod) => out.extend(nodes.iter().map(|n| pod.score(n))),
            None => out.extend(std::iter::repeat_n(0, nodes.len())),
        }
    }

    /// The pod's images are on every node or on none (or PreScore did not run): one score for all.
    fn uniform(&self, state: &CycleState, _: &PodCtx, _: NodeList) -> bool {
        state.get::<PodImages>().is_none_or(|pod| pod.everywhere)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NodeId, PodId, PodSpec, s};
    use crate::scheduler::cache::Cache;
    use crate::scheduler::plugins::testutil::*;

    const MB: u64 = 1024 * 1024;

    fn images_node(name: &str, images: &[(&str, u64)]) -> NodeInfo {
        let mut n = node_info(name, 4000, 8 * GI);
        for (image, size) in images {
            add_image(&mut n, image, size * MB);
        }
        n
    }
    fn with_images(init: &[&str], regular: &[&str]) -> PodSpec {
        pod_spec(0, 0, |t| {
            t.containers.clear();
            for i in regular {
                let mut c = container(0, 0);
                c.image = s(i);
                t.containers.push(c);
            }
            for i in init {
                let mut c = container(0, 0);
                c.image = s(i);
                t.init_containers.push(c);
            }
        })
    }

    /// Upstream `TestImageLocalityPriority` (image_locality_test.go, the per-container thresholds version).
    #[test]
    fn score_table() {
        let node_40_300_2000 = [("gcr.io/40:latest", 40), ("gcr.io/300:latest", 300), ("gcr.io/2000:latest", 2000)];
        let node_250_10 = [("gcr.io/250:latest", 250), ("gcr.io/10:latest", 10)];
        let node_600_40_900 = [("gcr.io/600:latest", 600), ("gcr.io/40:latest", 40), ("gcr.io/900:latest", 900)];
        let node_300_600_900 = [("gcr.io/300:latest", 300), ("gcr.io/600:latest", 600), ("gcr.io/900:latest", 900)];
        let node_4000_30 = [("gcr.io/4000:latest", 4000), ("gcr.io/30:latest", 30)];
        let node_20_30_40 = [("gcr.io/20:latest", 20), ("gcr.io/30:latest", 30), ("gcr.io/40:latest", 40)];
        let run = |pod: &PodSpec, nodes: &[&[(&str, u64)]]| {
            let infos: Vec<NodeInfo> =
                nodes.iter().enumerate().map(|(i, imgs)| images_node(&format!("node{i}"), imgs)).collect();
            scores_in(&ImageLocality, pod, &cache_of(&infos))
        };
        // 250M/2 spread: 100 * (125M - 23M) / (2000M - 23M) = 5.
        assert_eq!(
            run(&with_images(&[], &["gcr.io/40", "gcr.io/250"]), &[&node_40_300_2000, &node_250_10]),
            Some(vec![0, 5])
        );
        // (40M + 300M)/2 -> 7.
        assert_eq!(
            run(&with_images(&[], &["gcr.io/40", "gcr.io/300"]), &[&node_40_300_2000, &node_250_10]),
            Some(vec![7, 0])
        );
        // 4000M/2 exceeds 2 x 1000M: 100.
        assert_eq!(
            run(&with_images(&[], &["gcr.io/10", "gcr.io/4000"]), &[&node_4000_30, &node_250_10]),
            Some(vec![100, 0])
        );
        // 4000M/3 -> 66, with a node without images.
        assert_eq!(
            run(&with_images(&[], &["gcr.io/10", "gcr.io/4000"]), &[&node_4000_30, &node_250_10, &[]]),
            Some(vec![66, 0, 0])
        );
        // 600M*2/3 + 900M*2/3 -> 32; plus 300M/3 -> 36.
        assert_eq!(
            run(
                &with_images(&[], &["gcr.io/300", "gcr.io/600", "gcr.io/900"]),
                &[&node_600_40_900, &node_300_600_900, &[]]
            ),
            Some(vec![32, 36, 0])
        );
        // 30M + 40M/2 -> 1; 30M alone -> 0.
        assert_eq!(
            run(&with_images(&[], &["gcr.io/30", "gcr.io/40"]), &[&node_20_30_40, &node_4000_30]),
            Some(vec![1, 0])
        );
        // Init containers count: 300M/2 -> 6.
        assert_eq!(
            run(&with_images(&["gcr.io/300"], &["gcr.io/30"]), &[&node_40_300_2000, &node_20_30_40]),
            Some(vec![6, 0])
        );
    }

    #[test]
    fn tagged_names_match_as_given() {
        let n = images_node("n", &[("repo/app:v2", 800)]);
        let cache = cache_of(&[n, images_node("m", &[])]);
        // 800M/2 = 400M of 1000M for one container: 100 * (400 - 23) / 977 = 38.
        assert_eq!(scores_in(&ImageLocality, &with_images(&[], &["repo/app:v2"]), &cache), Some(vec![38, 0]));
        // An untagged reference means :latest, which the node does not have.
        assert_eq!(scores_in(&ImageLocality, &with_images(&[], &["repo/app"]), &cache), Some(vec![0, 0]));
    }

    #[test]
    fn uniform_when_the_pods_images_are_on_every_node_or_none() {
        let pod = with_images(&[], &["repo/app:v2"]);
        let uniform = |cache: &Cache| {
            let ids: Vec<NodeId> = cache.nodes().map(|n| n.id).collect();
            let ctx = PodCtx::new(PodId::default(), &pod);
            let mut state = CycleState::default();
            ImageLocality.pre_score(&mut state, &ctx, NodeList { cache, ids: &ids });
            ImageLocality.uniform(&state, &ctx, NodeList { cache, ids: &ids })
        };
        let on = |name: &str| images_node(name, &[("repo/app:v2", 800)]);
        // On both nodes: both score 100 * (800 - 23) / 977 = 79, and the plugin says so before scoring.
        let both = cache_of(&[on("n"), on("m")]);
        assert!(uniform(&both));
        assert_eq!(scores_in(&ImageLocality, &pod, &both), Some(vec![79, 79]));
        // On one node of two: not uniform.
        let one = cache_of(&[on("n"), images_node("m", &[("other:1", 800)])]);
        assert!(!uniform(&one));
        // On none: uniform (0 everywhere).
        assert!(uniform(&cache_of(&[images_node("n", &[]), images_node("m", &[("other:1", 9)])])));
    }

    #[test]
    fn priority_bounds() {
        assert_eq!(calculate_priority(0, 1), 0);
        assert_eq!(calculate_priority(MAX_CONTAINER_THRESHOLD_BYTES, 1), 100);
        assert_eq!(calculate_priority(10 * MAX_CONTAINER_THRESHOLD_BYTES, 2), 100);
        assert_eq!(scaled_image_score(300 * MB, 1, 3), 104_857_600);
    }
}
