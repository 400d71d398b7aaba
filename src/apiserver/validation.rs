//! Validation of objects at the apiserver, after the rules of `pkg/apis/*/validation` that matter here.
//! Scenario files are validated much earlier (with file positions); these checks guard objects that components
//! create during a run, so a bug or a bad controller input shows up as a `Rejected` event, not a corrupt store.

use crate::model::{DaemonSet, Deployment, Job, Node, PodDisruptionBudget, PodTemplate, ReplicaSet, Resources};

/// A DNS-1123 subdomain: lowercase alphanumerics, '-' and '.', starting and ending alphanumeric, at most 253.
pub fn dns_subdomain(name: &str) -> Result<(), String> {
    let ok_edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.is_empty() || name.len() > 253 {
        return Err(format!("name {name:?}: must be 1 to 253 characters"));
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        || !ok_edge(name.chars().next())
        || !ok_edge(name.chars().last())
    {
        return Err(format!(
            "name {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' \
             or '.', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

fn resources_non_negative(what: &str, r: &Resources) -> Result<(), String> {
    if r.is_non_negative() { Ok(()) } else { Err(format!("{what}: quantities must be non-negative")) }
}

pub fn pod_template(t: &PodTemplate) -> Result<(), String> {
    if t.containers.is_empty() {
        return Err("spec.containers: Required value: a pod needs at least one container".into());
    }
    for (i, c) in t.init_containers.iter().chain(t.containers.iter()).enumerate() {
        resources_non_negative(&format!("containers[{i}].resources.requests"), &c.requests)?;
        resources_non_negative(&format!("containers[{i}].resources.limits"), &c.limits)?;
        let over = |req: i64, lim: i64| lim > 0 && req > lim;
        if over(c.requests.cpu_millis, c.limits.cpu_millis)
            || over(c.requests.memory_bytes, c.limits.memory_bytes)
            || over(c.requests.ephemeral_storage_bytes, c.limits.ephemeral_storage_bytes)
        {
            return Err(format!("containers[{i}] ({}): requests must be less than or equal to limits", c.name));
        }
        // Extended resources cannot be overcommitted: request must equal limit when both are set.
        for (name, req) in &c.requests.scalars {
            let lim = c.limits.scalar(name);
            if lim != 0 && lim != *req {
                return Err(format!("containers[{i}] ({}): {name} request must equal its limit", c.name));
            }
        }
    }
    Ok(())
}

pub fn pod(name: &str, t: &PodTemplate) -> Result<(), String> {
    dns_subdomain(name)?;
    pod_template(t)
}

pub fn node(n: &Node) -> Result<(), String> {
    dns_subdomain(&n.name)?;
    resources_non_negative("status.allocatable", &n.allocatable)?;
    if n.allocatable_pods < 0 {
        return Err("status.allocatable.pods: must be non-negative".into());
    }
    Ok(())
}

pub fn replicaset(rs: &ReplicaSet) -> Result<(), String> {
    dns_subdomain(&rs.name)?;
    if rs.replicas < 0 {
        return Err("spec.replicas: must be greater than or equal to 0".into());
    }
    if !rs.selector.matches(&rs.template.labels) {
        return Err("spec.template.metadata.labels: `selector` does not match template `labels`".into());
    }
    pod_template(&rs.template)
}

pub fn deployment(d: &Deployment) -> Result<(), String> {
    dns_subdomain(&d.name)?;
    if d.replicas < 0 {
        return Err("spec.replicas: must be greater than or equal to 0".into());
    }
    if !d.selector.matches(&d.template.labels) {
        return Err("spec.template.metadata.labels: `selector` does not match template `labels`".into());
    }
    pod_template(&d.template)
}

pub fn daemonset(ds: &DaemonSet) -> Result<(), String> {
    dns_subdomain(&ds.name)?;
    if !ds.selector.matches(&ds.template.labels) {
        return Err("spec.template.metadata.labels: `selector` does not match template `labels`".into());
    }
    if ds.template.restart_policy != crate::model::RestartPolicy::Always {
        return Err("spec.template.spec.restartPolicy: Unsupported value: only \"Always\" is supported".into());
    }
    pod_template(&ds.template)
}

pub fn pdb(p: &PodDisruptionBudget) -> Result<(), String> {
    dns_subdomain(&p.name)?;
    if p.min_available.is_some() == p.max_unavailable.is_some() {
        return Err("spec: exactly one of minAvailable and maxUnavailable must be set".into());
    }
    Ok(())
}

pub fn job(j: &Job) -> Result<(), String> {
    dns_subdomain(&j.name)?;
    if j.completions < 0 || j.parallelism < 0 || j.backoff_limit < 0 {
        return Err("spec: completions, parallelism and backoffLimit must be non-negative".into());
    }
    if j.template.restart_policy == crate::model::RestartPolicy::Always {
        return Err("spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \
                    \"OnFailure\", \"Never\""
            .into());
    }
    pod_template(&j.template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "web-1", "a.b-c", "0abc"] {
            assert!(dns_subdomain(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a b", &"x".repeat(254)] {
            assert!(dns_subdomain(bad).is_err(), "{bad}");
        }
    }
}
