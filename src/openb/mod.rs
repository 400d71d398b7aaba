//! The Alibaba GPU trace of the FGD paper ("openb", cluster-trace-gpu-v2023): its node and pod lists.
//!
//! Node list header `sn,cpu_milli,memory_mib,gpu,model`; pod list header
//! `name,cpu_milli,memory_mib,num_gpu,gpu_milli,...` (extra columns such as `gpu_spec`, `qos` and times are
//! optional; times are ignored, as in the paper's experiments). Columns are found by name, so the `multigpuNN`
//! files with fewer columns parse too. Units: CPU in millicores, memory in MiB, `gpu_milli` per GPU.
//!
//! A pod's GPU request follows the authors' simulator: `num_gpu = 0` means no GPU (its `gpu_milli` ignored);
//! `num_gpu = 1, gpu_milli < 1000` a share of one GPU; otherwise `num_gpu` whole GPUs (`gpu_milli` clamped to
//! 1000). A pod with several partial GPUs cannot be expressed (kubesim's shares are of ONE GPU) and is an error;
//! no file of the trace has one. Errors name the file and line; nothing here panics on bad input.

pub mod curve;
pub mod experiment;
pub mod output;
pub mod plot;
pub mod scenario;

use crate::model::Str;
use crate::model::gpu::{GPU_MILLI, GpuDemand, MAX_GPUS_PER_NODE, parse_gpu_spec};

/// One node of a node list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenbNode {
    pub name: Str,
    pub cpu_millis: i64,
    pub memory_mib: i64,
    pub gpus: u32,
    /// GPU model, e.g. `V100M16` (empty for CPU-only nodes).
    pub model: Str,
}

/// One pod of a pod list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenbPod {
    pub name: Str,
    pub cpu_millis: i64,
    pub memory_mib: i64,
    pub gpu: GpuDemand,
    /// GPU models the pod may use (empty = any), sorted.
    pub gpu_spec: Vec<Str>,
}

impl OpenbPod {
    /// The pod's task type for the fragmentation measure (memory is not part of it).
    pub fn task_type(&self) -> crate::scheduler::cache::gpu_frag::TaskType {
        crate::scheduler::cache::gpu_frag::TaskType {
            cpu_millis: self.cpu_millis,
            gpu: self.gpu,
            gpu_spec: self.gpu_spec.clone(),
        }
    }
}

/// The columns of a CSV header, by name.
struct Header<'a> {
    names: Vec<&'a str>,
}

impl<'a> Header<'a> {
    fn col(&self, name: &str, file: &str) -> Result<usize, String> {
        self.names.iter().position(|n| *n == name).ok_or_else(|| format!("{file}:1: no column {name:?}"))
    }
}

/// Rows after the header: (1-based line number, fields). Empty lines are skipped.
fn rows<'a>(text: &'a str, file: &str) -> Result<(Header<'a>, impl Iterator<Item = (usize, Vec<&'a str>)>), String> {
    let mut lines = text.lines().enumerate();
    let header = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((_, l)) => break l,
            None => return Err(format!("{file}:1: empty file")),
        }
    };
    let names = header.trim_start_matches('\u{feff}').split(',').map(str::trim).collect();
    let body = lines.filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i + 1, l.split(',').map(str::trim).collect()));
    Ok((Header { names }, body))
}

fn field<'a>(f: &[&'a str], i: usize, file: &str, line: usize) -> Result<&'a str, String> {
    f.get(i).copied().ok_or_else(|| format!("{file}:{line}: expected at least {} fields, found {}", i + 1, f.len()))
}

fn int(f: &[&str], i: usize, name: &str, max: i64, file: &str, line: usize) -> Result<i64, String> {
    let v = field(f, i, file, line)?;
    match v.parse::<i64>() {
        Ok(n) if (0..=max).contains(&n) => Ok(n),
        _ => Err(format!("{file}:{line}: {name} must be a whole number in 0..={max}, found {v:?}")),
    }
}

const MAX_CPU_MILLIS: i64 = 1 << 40;
const MAX_MEMORY_MIB: i64 = 1 << 40;

/// Parses a node list.
pub fn parse_nodes(text: &str, file: &str) -> Result<Vec<OpenbNode>, String> {
    let (h, body) = rows(text, file)?;
    let (sn, cpu, mem, gpu, model) = (
        h.col("sn", file)?,
        h.col("cpu_milli", file)?,
        h.col("memory_mib", file)?,
        h.col("gpu", file)?,
        h.col("model", file)?,
    );
    let mut out = Vec::new();
    for (line, f) in body {
        let name = field(&f, sn, file, line)?;
        if name.is_empty() {
            return Err(format!("{file}:{line}: empty node name"));
        }
        let gpus = int(&f, gpu, "gpu", MAX_GPUS_PER_NODE as i64, file, line)? as u32;
        let model = f.get(model).copied().unwrap_or("");
        if gpus > 0 && (model.is_empty() || model.contains('|')) {
            return Err(format!("{file}:{line}: a node with GPUs needs one GPU model, found {model:?}"));
        }
        out.push(OpenbNode {
            name: Str::from(name),
            cpu_millis: int(&f, cpu, "cpu_milli", MAX_CPU_MILLIS, file, line)?,
            memory_mib: int(&f, mem, "memory_mib", MAX_MEMORY_MIB, file, line)?,
            gpus,
            model: Str::from(if gpus > 0 { model } else { "" }),
        });
    }
    Ok(out)
}

/// Parses a pod list.
pub fn parse_pods(text: &str, file: &str) -> Result<Vec<OpenbPod>, String> {
    let (h, body) = rows(text, file)?;
    let (name_c, cpu, mem, num, milli) = (
        h.col("name", file)?,
        h.col("cpu_milli", file)?,
        h.col("memory_mib", file)?,
        h.col("num_gpu", file)?,
        h.col("gpu_milli", file)?,
    );
    let spec_c = h.col("gpu_spec", file).ok();
    let mut out = Vec::new();
    for (line, f) in body {
        let name = field(&f, name_c, file, line)?;
        let num_gpu = int(&f, num, "num_gpu", MAX_GPUS_PER_NODE as i64, file, line)? as u32;
        let gpu_milli = int(&f, milli, "gpu_milli", i64::MAX, file, line)?.min(GPU_MILLI);
        let gpu = match num_gpu {
            0 => GpuDemand::default(),
            _ if gpu_milli == 0 => return Err(format!("{file}:{line}: num_gpu {num_gpu} with gpu_milli 0")),
            1 => GpuDemand { count: 1, milli: gpu_milli },
            n if gpu_milli == GPU_MILLI => GpuDemand { count: n, milli: GPU_MILLI },
            n => {
                return Err(format!(
                    "{file}:{line}: {n} GPUs of {gpu_milli} milli each: a share must be of ONE GPU (num_gpu = 1)"
                ));
            }
        };
        let spec_text = spec_c.and_then(|c| f.get(c).copied()).unwrap_or("");
        let Some(gpu_spec) = parse_gpu_spec(spec_text) else {
            return Err(format!("{file}:{line}: gpu_spec {spec_text:?} is not models separated by '|'"));
        };
        out.push(OpenbPod {
            name: Str::from(name),
            cpu_millis: int(&f, cpu, "cpu_milli", MAX_CPU_MILLIS, file, line)?,
            memory_mib: int(&f, mem, "memory_mib", MAX_MEMORY_MIB, file, line)?,
            gpu,
            gpu_spec: if gpu.is_none() { Vec::new() } else { gpu_spec },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nodes_and_pods_by_column_name() {
        let nodes =
            parse_nodes("sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,32000,1024,0,\n", "n.csv");
        let nodes = nodes.unwrap_or_default();
        assert_eq!(nodes.len(), 2);
        assert_eq!((nodes[0].gpus, &*nodes[0].model), (2, "P100"));
        assert_eq!((nodes[1].gpus, &*nodes[1].model), (0, ""));
        let pods = parse_pods(
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np0,1000,10,1,460,\np1,0,0,8,1000,V100M32|V100M16\np2,4000,1,0,0,\n",
            "p.csv",
        )
        .unwrap_or_default();
        assert_eq!(pods[0].gpu, GpuDemand { count: 1, milli: 460 });
        assert_eq!(pods[1].gpu, GpuDemand { count: 8, milli: 1000 });
        assert_eq!(pods[1].gpu_spec.len(), 2);
        assert!(pods[2].gpu.is_none());
        // The multigpu files have only five columns.
        let short = parse_pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,2,1000\n", "m.csv");
        assert_eq!(short.map(|p| p[0].gpu.count), Ok(2));
    }

    #[test]
    fn bad_input_is_an_error_with_its_line() {
        let e = parse_nodes("sn,cpu_milli,memory_mib,gpu,model\nn0,x,1,1,T4\n", "n.csv");
        assert!(e.is_err_and(|e| e.starts_with("n.csv:2:") && e.contains("cpu_milli")));
        let e = parse_nodes("sn,cpu_milli,memory_mib,gpu\n", "n.csv");
        assert!(e.is_err_and(|e| e.contains("\"model\"")));
        let e = parse_pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,2,500\n", "p.csv");
        assert!(e.is_err_and(|e| e.starts_with("p.csv:2:") && e.contains("ONE GPU")));
        let e = parse_pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1\n", "p.csv");
        assert!(e.is_err_and(|e| e.starts_with("p.csv:2:")));
        assert!(parse_pods("", "p.csv").is_err());
    }

    /// The shipped lists match the trace README's counts.
    #[test]
    fn shipped_default_lists_match_the_trace_readme() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/data/openb/");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}{f}")).unwrap_or_default();
        let nodes = parse_nodes(&read("openb_node_list_gpu_node.csv"), "nodes").unwrap_or_default();
        assert_eq!(nodes.len(), 1213);
        assert_eq!(nodes.iter().map(|n| n.gpus).sum::<u32>(), 6212);
        assert_eq!(nodes.iter().map(|n| n.cpu_millis).sum::<i64>(), 107_018_000);
        let pods = parse_pods(&read("openb_pod_list_default.csv"), "pods").unwrap_or_default();
        assert_eq!(pods.len(), 8152);
        let by = |n: u32| pods.iter().filter(|p| p.gpu.count == n).count();
        assert_eq!((by(0), by(1), by(2), by(4), by(8)), (1088, 6989, 16, 15, 44));
        assert_eq!(pods.iter().filter(|p| p.gpu.is_share()).count(), 3078);
        assert!(pods.iter().all(|p| p.gpu_spec.is_empty()));
        // The FGD target workload built from it: probabilities sum to 1.
        let w = crate::scheduler::cache::gpu_frag::TargetWorkload::from_types(pods.iter().map(OpenbPod::task_type));
        assert!(!w.types.is_empty() && w.types.len() < pods.len());
        assert!((w.types.iter().map(|(_, p)| p).sum::<f64>() - 1.0).abs() < 1e-9);
    }
}
