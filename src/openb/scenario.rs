//! An openb node and pod list as a simulated scenario (`kubesim import --openb NODES PODS`): the same cluster
//! and pods through the whole control plane, where faults, timings and other workloads can be added.
//!
//! Identical nodes (CPU, memory, GPUs, model) become one node pool; pods of one shape (CPU, memory, GPU demand,
//! GPU models) become one Deployment with as many replicas, created at time 0. The trace's creation and deletion
//! times are not used: the published lists are a snapshot (at most 56 of the default list's pods overlap in
//! time), which is why the paper's experiment ignores them too. Nodes hold up to 1001 pods, as in the authors'
//! node files; the profile is the `fgd` preset (its target workload is then the Deployments' shapes).

use super::{OpenbNode, OpenbPod};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A name from parts: lowercase letters, digits and '-'.
fn dns(s: &str) -> String {
    let mut out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').chars().take(63).collect()
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The scenario text.
pub fn to_toml(nodes: &[OpenbNode], pods: &[OpenbPod], name: &str, duration: &str, sources: &str) -> String {
    let mut pools: BTreeMap<(u32, String, i64, i64), u32> = BTreeMap::new();
    for n in nodes {
        *pools.entry((n.gpus, n.model.to_string(), n.cpu_millis, n.memory_mib)).or_insert(0) += 1;
    }
    let mut shapes: BTreeMap<(i64, i64, u32, i64, String), u32> = BTreeMap::new();
    for p in pods {
        let spec = p.gpu_spec.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("|");
        *shapes.entry((p.cpu_millis, p.memory_mib, p.gpu.count, p.gpu.milli, spec)).or_insert(0) += 1;
    }
    let mut s = String::new();
    let _ =
        writeln!(s, "# {name}: an openb node and pod list as a simulated cluster (kubesim import --openb {sources}).");
    let _ = writeln!(s, "#");
    let _ = writeln!(
        s,
        "# {} nodes in {} pools; {} pods as {} Deployments (one per pod shape), created at time 0.",
        nodes.len(),
        pools.len(),
        pods.len(),
        shapes.len()
    );
    let _ = writeln!(
        s,
        "# Data: Alibaba cluster-trace-gpu-v2023 (Weng et al., USENIX ATC 2023); cite them when you use it.\n"
    );
    let _ = writeln!(s, "[scenario]\nname = {}\nseed = 1\nduration = {}\n", quote(name), quote(duration));
    let _ = writeln!(
        s,
        "[scheduler]\npreset = \"fgd\"   # or random, dot-prod, gpu-clustering, gpu-packing, gpu-best-fit, default\n"
    );
    for ((gpus, model, cpu, mem), count) in &pools {
        let pool = if *gpus > 0 {
            dns(&format!("g{gpus}-{model}-c{}", cpu / 1000))
        } else {
            dns(&format!("cpu-c{}", cpu / 1000))
        };
        let _ = writeln!(s, "[[cluster.node_pools]]\nname = {}\ncount = {count}", quote(&pool));
        let _ = writeln!(s, "cpu = \"{cpu}m\"\nmemory = \"{mem}Mi\"\npods = 1001");
        if *gpus > 0 {
            let _ = writeln!(s, "gpus = {gpus}\ngpu_model = {}", quote(model));
        }
        s.push('\n');
    }
    for (i, ((cpu, mem, count, milli, spec), replicas)) in shapes.iter().enumerate() {
        let gpu = match count {
            0 => String::new(),
            1 if *milli < 1000 => format!("-share{milli}"),
            n => format!("-gpu{n}"),
        };
        let name = dns(&format!("s{i}-c{cpu}m-mem{mem}mi{gpu}"));
        let mut requests = format!("cpu = \"{cpu}m\", memory = \"{mem}Mi\"");
        if *count > 0 && *milli >= 1000 {
            let _ = write!(requests, ", \"nvidia.com/gpu\" = \"{count}\"");
        }
        let mut template = format!("requests = {{ {requests} }}");
        if *count == 1 && *milli < 1000 {
            let _ = write!(template, ", gpu_milli = {milli}");
        }
        if !spec.is_empty() {
            let _ = write!(template, ", gpu_spec = {}", quote(spec));
        }
        let _ = writeln!(
            s,
            "[[workloads.deployments]]\nname = {}\nreplicas = {replicas}\ntemplate = {{ {template} }}\n",
            quote(&name)
        );
    }
    s
}
