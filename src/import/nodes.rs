//! Nodes to node pools.
//!
//! Nodes with the same allocatable resources, labels (except `kubernetes.io/hostname`), zone, region, taints and
//! cordon state form one pool, in the order their first node appears in the input. A pool is named after its
//! instance type (`node.kubernetes.io/instance-type`, else `pool`), then its zone, then `-cordoned` if its nodes
//! are unschedulable; a name already taken gets `-2`, `-3`, ... Node names become `<pool>-<index>` (kubesim names
//! nodes itself), and [`NodesOut::renamed`] maps the original names to the new ones so that pods pinned to a
//! node (`nodeName`, a hostname selector) follow it.

use super::emit::{ActionOut, PoolOut, TaintOut};
use super::yaml::{ResourceMap, Sp};
use super::{ImportError, Item, Origin, Warnings};
use crate::quantity::Quantity;
use std::collections::BTreeMap;

const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const REGION_LABEL: &str = "topology.kubernetes.io/region";
const INSTANCE_TYPE_LABELS: [&str; 2] = ["node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type"];
/// Labels the simulator sets on every node itself.
const SIMULATOR_LABELS: [&str; 4] = [HOSTNAME_LABEL, ZONE_LABEL, REGION_LABEL, "kubesim.io/pool"];
/// Taints the node controllers add from node state; kubesim's controllers add them the same way.
const CONDITION_TAINT_PREFIX: &str = "node.kubernetes.io/";
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
/// Longest pool name (node names add `-<index>`; Kubernetes names stay under 63 characters).
const POOL_NAME_CHARS_MAX: usize = 50;

/// The cluster part of the scenario.
#[derive(Debug, Default)]
pub struct NodesOut {
    pub pools: Vec<PoolOut>,
    /// `cordon` actions at 0s for the nodes that were unschedulable.
    pub actions: Vec<ActionOut>,
    /// Original node name -> simulated node name.
    pub renamed: BTreeMap<String, String>,
}

struct Group {
    pool: PoolOut,
    cordoned: bool,
    members: Vec<String>,
}

pub fn import(items: &[Item], w: &mut Warnings) -> Result<NodesOut, ImportError> {
    let mut groups: Vec<Group> = Vec::new();
    let mut by_shape: BTreeMap<String, usize> = BTreeMap::new();
    for item in items.iter().filter(|i| i.origin.kind == "Node") {
        let (pool, cordoned) = node_shape(item, w)?;
        // The Debug text of the shape is a faithful key: every field takes part, maps print sorted.
        let key = format!("{pool:?}/{cordoned}");
        let index = *by_shape.entry(key).or_insert_with(|| {
            groups.push(Group { pool, cordoned, members: Vec::new() });
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(index) {
            g.members.push(item.origin.name.clone());
        }
    }
    let mut out = NodesOut::default();
    let mut taken: BTreeMap<String, ()> = BTreeMap::new();
    for g in groups {
        let mut pool = g.pool;
        pool.name = unique_name(&base_name(&pool, g.cordoned), &mut taken);
        pool.count = g.members.len() as i64;
        for (i, original) in g.members.iter().enumerate() {
            let node = format!("{}-{i}", pool.name);
            if g.cordoned {
                out.actions.push(ActionOut { verb: "cordon".into(), at: "0s".into(), node: node.clone() });
            }
            out.renamed.insert(original.clone(), node);
        }
        out.pools.push(pool);
    }
    Ok(out)
}

/// One node as a pool of one (unnamed), and whether it is cordoned.
fn node_shape(item: &Item, w: &mut Warnings) -> Result<(PoolOut, bool), ImportError> {
    let o = &item.origin;
    let obj = &item.object;
    let status = obj.status.as_ref();
    let resources = status.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()));
    let Some(resources) = resources else {
        return Err(ImportError(format!("{}: no status.allocatable or status.capacity", o.at(0))));
    };
    let mut pool = PoolOut::default();
    resources_into(o, resources, &mut pool, w)?;
    let mut labels = obj.metadata.labels.clone().unwrap_or_default();
    pool.zone = labels.get(ZONE_LABEL).cloned();
    pool.region = labels.get(REGION_LABEL).cloned();
    for l in SIMULATOR_LABELS {
        labels.remove(l);
    }
    pool.labels = labels;
    let spec = obj.spec.as_ref().map(|s| &s.value);
    let cordoned = spec.and_then(|s| s.unschedulable).unwrap_or(false);
    for t in spec.and_then(|s| s.taints.as_ref()).into_iter().flatten() {
        let line = t.referenced.line();
        let t = &t.value;
        if t.key == UNSCHEDULABLE_TAINT {
            if !cordoned {
                w.field(o, line, "taint node.kubernetes.io/unschedulable without spec.unschedulable: dropped");
            }
            continue;
        }
        if t.key.starts_with(CONDITION_TAINT_PREFIX) {
            w.field(o, line, format!("taint {} comes from node conditions, which kubesim simulates: dropped", t.key));
            continue;
        }
        pool.taints.push(TaintOut { key: t.key.clone(), value: t.value.clone(), effect: t.effect.clone() });
    }
    Ok((pool, cordoned))
}

/// Fills cpu, memory, pods, ephemeral storage and extended resources from `status.allocatable`.
fn resources_into(o: &Origin, r: &Sp<ResourceMap>, pool: &mut PoolOut, w: &mut Warnings) -> Result<(), ImportError> {
    for (name, q) in &r.value {
        let text = quantity(o, name, q)?;
        match name.as_str() {
            "cpu" => pool.cpu = text,
            "memory" => pool.memory = text,
            "ephemeral-storage" => pool.ephemeral_storage = Some(text),
            "pods" => {
                let n = Quantity::parse(&text).and_then(|q| q.value()).unwrap_or(-1);
                if n < 1 {
                    return Err(ImportError(format!(
                        "{}: pods must be a positive integer, not {text:?}",
                        o.at(q.referenced.line())
                    )));
                }
                pool.pods = Some(n);
            }
            n if n.contains('/') => {
                pool.extended.insert(n.to_string(), text);
            }
            n if n.starts_with("hugepages-") && Quantity::parse(&text).is_ok_and(|q| q.is_zero()) => {}
            n => w.field(o, q.referenced.line(), format!("resource {n} = {text:?} is not modeled: ignored")),
        }
    }
    for (name, value) in [("cpu", &pool.cpu), ("memory", &pool.memory)] {
        if value.is_empty() {
            return Err(ImportError(format!("{}: status.allocatable has no {name}", o.at(r.referenced.line()))));
        }
    }
    Ok(())
}

/// The quantity text, checked with the scenario compiler's parser.
pub fn quantity(o: &Origin, name: &str, q: &Sp<String>) -> Result<String, ImportError> {
    let text = q.value.trim().to_string();
    match Quantity::parse(&text) {
        Ok(_) => Ok(text),
        Err(e) => Err(ImportError(format!("{}: {name}: {e}", o.at(q.referenced.line())))),
    }
}

fn base_name(pool: &PoolOut, cordoned: bool) -> String {
    let instance = INSTANCE_TYPE_LABELS.iter().find_map(|l| pool.labels.get(*l)).map(String::as_str).unwrap_or("pool");
    let mut name = sanitize(instance);
    if let Some(zone) = &pool.zone {
        name = format!("{name}-{}", sanitize(zone));
    }
    name.truncate(POOL_NAME_CHARS_MAX);
    let mut name = name.trim_end_matches('-').to_string();
    if cordoned {
        name.push_str("-cordoned");
    }
    name
}

/// Lower case letters, digits and `-` (a valid name part for any input).
fn sanitize(s: &str) -> String {
    let s: String = s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "pool".to_string() } else { s }
}

fn unique_name(base: &str, taken: &mut BTreeMap<String, ()>) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while taken.contains_key(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(name.clone(), ());
    name
}
