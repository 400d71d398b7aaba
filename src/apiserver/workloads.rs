//! Workload handlers: ReplicaSets, Deployments and Jobs.

use super::{ApiError, ApiServer, Io, validation};
use crate::etcd::WorkloadKind;
use crate::model::workload::{DaemonSetStatus, DeploymentStatus, JobCondition, PdbStatus, ReplicaSetStatus};
use crate::model::{
    DaemonSet, DaemonSetId, Deployment, DeploymentId, Job, JobId, PdbId, PodDisruptionBudget, ReplicaSet, ReplicaSetId,
};
use crate::record;
use crate::workload::DeploymentPatch;
use std::sync::Arc;

fn check_rv(expected: Option<u64>, current: u64) -> Result<(), ApiError> {
    match expected {
        Some(rv) if rv != current => Err(ApiError::Conflict("the object has been modified".into())),
        _ => Ok(()),
    }
}

impl ApiServer {
    pub(super) fn create_replicaset(&mut self, rs: &ReplicaSet, io: &mut Io) -> Result<(), ApiError> {
        validation::replicaset(rs).map_err(ApiError::Invalid)?;
        if self.etcd.workload_name_taken(WorkloadKind::ReplicaSet, &rs.namespace, &rs.name) {
            return Err(ApiError::AlreadyExists);
        }
        let mut rs = rs.clone();
        rs.uid = self.uid();
        rs.created = io.now;
        record!(io.rec, io.now, ReplicaSetCreated, ReplicaSet, &rs.name, "", "replicas={}", rs.replicas);
        let (_, change) = self.etcd.create_replicaset(rs);
        self.fanout(change, io);
        Ok(())
    }

    pub(super) fn scale_replicaset(
        &mut self,
        id: ReplicaSetId,
        replicas: i32,
        rv: Option<u64>,
        io: &mut Io,
    ) -> Result<(), ApiError> {
        let cur = self.etcd.replicasets.get(id).ok_or(ApiError::NotFound)?;
        check_rv(rv, cur.resource_version)?;
        if replicas < 0 {
            return Err(ApiError::Invalid(format!("spec.replicas: must be >= 0, got {replicas}")));
        }
        let mut rs = (*cur.obj).clone();
        if rs.replicas == replicas {
            return Ok(());
        }
        record!(io.rec, io.now, ReplicaSetScaled, ReplicaSet, &rs.name, "", "replicas={}->{}", rs.replicas, replicas);
        rs.replicas = replicas;
        let change = self.etcd.update_replicaset(id, rs).ok_or(ApiError::NotFound)?;
        self.fanout(change, io);
        Ok(())
    }

    pub(super) fn replicaset_status(
        &mut self,
        id: ReplicaSetId,
        status: ReplicaSetStatus,
        rv: Option<u64>,
        io: &mut Io,
    ) -> Result<(), ApiError> {
        let cur = self.etcd.replicasets.get(id).ok_or(ApiError::NotFound)?;
        check_rv(rv, cur.resource_version)?;
        if cur.obj.status == status {
            return Ok(());
        }
        let mut rs = (*cur.obj).clone();
        rs.status = status;
        let change = self.etcd.update_replicaset(id, rs).ok_or(ApiError::NotFound)?;
        self.fanout(change, io);
        Ok(())
    }

    pub(super) fn create_deployment(&mut self, d: &Deployment, io: &mut Io) -> Result<(), ApiError> {
        validation::deployment(d).map_err(ApiError::Invalid)?;
        if self.etcd.workload_name_taken(WorkloadKind::Deployment, &d.namespace, &d.name) {
            return Err(ApiError::AlreadyExists);
        }
        let mut d = d.clone();
        d.uid = self.uid();
        d.created = io.now;
        record!(io.rec, io.now, DeploymentCreated, Deployment, &d.name, "", "replicas={}", d.replicas);
        let (_, change) = self.etcd.create_deployment(d);
        self.fanout(change, io);
        Ok(())
    }

    /// A user's update of a Deployment's spec (a new template or replica count).
    pub(super) fn update_deployment(
        &mut self,
        id: DeploymentId,
        d: &Deployment,
        rv: Option<u64>,
        io: &mut Io,
    ) -> Result<(), ApiError> {
        let cur = self.etcd.deployments.get(id).ok_or(ApiError::NotFound)?;
        check_rv(rv, cur.resource_version)?;
        validation::deployment(d).map_err(ApiError::Invalid)?;
        let mut d = d.clone();
        d.uid = cur.obj.uid;
        d.created = cur.obj.created;
        d.status = cur.obj.status;
        let spec_changed = d.replicas != cur.obj.replicas
            || d.strategy != cur.obj.strategy
            || !Arc::ptr_eq(&d.template, &cur.obj.template);
        if !spec_changed {
            return Ok(());
        }
        d.generation = cur.obj.generation + 1;
        let change = self.etcd.update_deployment(id, d).ok_or(ApiError::NotFound)?;
        self.fanout(change, io);
        Ok(())
    }

    /// A user's patch by name: a new image (a new template, so a rollout) or a new replica count.
    pub(super) fn patch_deployment(
        &mut self,
        namespace: &str,
        name: &str,
        patch: &DeploymentPatch,
        io: &mut Io,
    ) -> Result<(), ApiError> {
        let (id, cur) = self
            .etcd
            .deployments
            .iter()
            .find(|(_, v)| &*v.obj.name == name && &*v.obj.namespace == namespace)
            .map(|(id, v)| (id, v.obj.clone()))
            .ok_or(ApiError::NotFound)?;
        let mut d = (*cur).clone();
        match patch {
            DeploymentPatch::Scale { replicas } => d.replicas = *replicas,
            DeploymentPatch::SetImage { container, image } => {
                let mut t = (*d.template).clone();
                let mut found = false;
                for c in t.containers.iter_mut() {
                    if container.as_ref().is_none_or(|n| *n == c.name) {
                        c.image = image.clone();
                        found = true;
                    }
                }
                if !found {
                    return Err(ApiError::Invalid(format!("no container named {container:?} in deployment {name}")));
                }
                d.template = Arc::new(t);
            }
        }
        self.update_deployment(id, &d, None, io)
    }

    pub(super) fn deployment_status(
        &mut self,
        id: DeploymentId,
        status: DeploymentStatus,
        rv: Option<u64>,
        io: &mut Io,
    ) -> Result<(), ApiError> {
        let cur = self.etcd.deployments.get(id).ok_or(ApiError::NotFound)?;
        check_rv(rv, cur.resource_version)?;
        if cur.obj.status == status {
            return Ok(());
        }
        let mut d = (*cur.obj).clone();
        if status.complete && (!d.status.complete || d.status.observed_generation != status.observed_generation) {
            record!(
                io.rec,
                io.now,
                RolloutComplete,
                Deployment,
                &d.name,
                "",
                "generation={} replicas={}",
                status.observed_generation,
                status.available_replicas
            );
        }
        d.status = status;
        let change = self.etcd.update_deployment(id, d).ok_or(ApiError::NotFound)?;
        self.fanout(change, io);
        Ok(())
    }

    pub(super) fn create_daemonset(&mut self, ds: &DaemonSet, io: &mut Io) -> Result<(), ApiError> {
        validation::daemonset(ds).map_err(ApiError::Invalid)?;
        if self.etcd.workload_name_taken(WorkloadKind::DaemonSet, &ds.namespace, &ds.name) {
            return Err(ApiError::AlreadyExists);
        }
        let mut ds = ds.clone();
        ds.uid = self.uid();
        ds.created = io.now;
        record!(io.rec, io.now, DaemonSetCreated, DaemonSet, &ds.name, "");
        let (_, change) = self.etcd.create_daemonset(ds);
        self.fanout(change, io);
        Ok(())
    }

    pub(super) fn daemonset_status(
        &mut self,
        id: DaemonSetId,
        status: DaemonSetStatus,
        rv: Option<u64>,
        io: &mut Io,
    ) -> Result<(), ApiError> {
        let cur = self.etcd.daemonsets.get(id).ok_or(ApiError::NotFound)?;
        check_rv(rv, cur.resource_version)?;
        if cur.obj.status == status {
            return Ok(());
        }
        let mut ds = (*cur.obj).clone();
        ds.status = status;
        let change = self.etcd.update_daemonset(id, ds).ok_or(ApiError::NotFound)?;
        self.fanout(change, io);
        Ok(())
    }

    pub(super) fn create_pdb(&mut self, pdb: &PodDisruptionBudget, io: &mut Io) -> Result<(), ApiError> {
        validation::pdb(pdb).map_err(ApiError::Invalid)?;
        if self.etcd.workload_name_taken(WorkloadKind::Pdb, &pdb.namespace, &pdb.name) {
            return Err(ApiError::AlreadyExists);
        }
        let mut pdb = pdb.clone();
        pdb.uid = self.uid();
        let (_, change) = self.etcd.create_pdb(pdb);
        self.fanout(change, io);
        Ok(())
    }

    pub(super) fn pdb_status(
        &mut self,
        id: PdbId,
        status: PdbStatus,
        rv: Option<u64>,
        io: &mut Io,
    ) -> Result<(), ApiError> {
        let cur = self.etcd.pdbs.get(id).ok_or(ApiError::NotFound)?;
        check_rv(rv, cur.resource_version)?;
        if cur.obj.status == status {
            return Ok(());
        }
        let mut pdb = (*cur.obj).clone();
        pdb.status = status;
        let change = self.etcd.update_pdb(id, pdb).ok_or(ApiError::NotFound)?;
        self.fanout(change, io);
        Ok(())
    }

    pub(super) fn create_job(&mut self, job: &Job, io: &mut Io) -> Result<(), ApiError> {
        validation::job(job).map_err(ApiError::Invalid)?;
        if self.etcd.workload_name_taken(WorkloadKind::Job, &job.namespace, &job.name) {
            return Err(ApiError::AlreadyExists);
        }
        let mut job = job.clone();
        job.uid = self.uid();
        job.created = io.now;
        let (completions, parallelism) = (job.completions, job.parallelism);
        record!(io.rec, io.now, JobCreated, Job, &job.name, "", "completions={completions} parallelism={parallelism}");
        let (_, change) = self.etcd.create_job(job);
        self.fanout(change, io);
        Ok(())
    }

    pub(super) fn update_job(&mut self, id: JobId, job: &Job, rv: Option<u64>, io: &mut Io) -> Result<(), ApiError> {
        let cur = self.etcd.jobs.get(id).ok_or(ApiError::NotFound)?;
        check_rv(rv, cur.resource_version)?;
        let was = cur.obj.status.condition;
        if job.status.condition != was {
            let s = &job.status;
            match s.condition {
                Some(JobCondition::Complete) => record!(
                    io.rec,
                    io.now,
                    JobComplete,
                    Job,
                    &job.name,
                    "",
                    "succeeded={} failed={}",
                    s.succeeded,
                    s.failed
                ),
                Some(JobCondition::Failed(reason)) => record!(
                    io.rec,
                    io.now,
                    JobFailed,
                    Job,
                    &job.name,
                    "",
                    "reason={} succeeded={} failed={}",
                    reason.as_str(),
                    s.succeeded,
                    s.failed
                ),
                None => {}
            }
        }
        let change = self.etcd.update_job(id, job.clone()).ok_or(ApiError::NotFound)?;
        self.fanout(change, io);
        Ok(())
    }
}
