//! # kubesim
//!
//! A deterministic discrete-event simulator of a Kubernetes cluster: a simulated clock drives a virtual etcd and
//! apiserver, a kube-scheduler, a kube-controller-manager and one kubelet per node with fake containers, so that
//! failures can be injected and scheduling policies measured reproducibly, far faster than real time.
//!
//! ## How a pod flows (the seed document's spine)
//!
//! 1. A user (the scenario [`workload::Driver`]) or a controller sends a request to the [`apiserver`], which
//!    validates and admits it and writes it to [`etcd`]; every write bumps the global revision.
//! 2. The [`scheduler`] learns of the unscheduled pod through its watch, filters and scores nodes with its
//!    plugins, and binds the pod through the apiserver.
//! 3. The chosen node's [`kubelet`] learns of the binding through its own watch, pulls images, starts the
//!    containers and reports the pod `Running`, later `Succeeded` or `Failed`.
//! 4. The [`controllers`] watch everything and repair: ReplicaSets replace pods, the node lifecycle controller
//!    marks silent nodes NotReady and taints them, the taint eviction controller evicts their pods.
//!
//! ## Determinism
//!
//! One clock, one queue ([`engine::EventQueue`], ordered by time then sequence number); one seeded ChaCha8
//! stream per subsystem ([`rng`]); no hash-map iteration reaches an output. Same scenario, seed and version give
//! byte-identical outputs.
//!
//! ```
//! use kubesim::scenario::Scenario;
//! let text = r#"
//! [scenario]
//! name = "tiny"
//! duration = "2m"
//! [[cluster.node_pools]]
//! name = "pool"
//! count = 2
//! cpu = "4"
//! memory = "8Gi"
//! [[workloads.deployments]]
//! name = "web"
//! replicas = 3
//! template = { requests = { cpu = "500m", memory = "256Mi" } }
//! "#;
//! let scenario = Scenario::from_str(text, "tiny.toml").unwrap();
//! let result = kubesim::run::run_in_memory(&scenario, None).unwrap();
//! assert_eq!(result.summary.pods.get("Running"), Some(&3));
//! ```

/// Prints a line on stdout, ignoring a closed pipe (`kubesim ... | head` must not panic).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// [`say!`] without the newline.
macro_rules! say_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

pub mod apiserver;
pub mod batch2017;
pub mod bench;
pub mod bench_plot;
pub mod check;
pub mod cli;
pub mod controllers;
pub mod dist;
pub mod engine;
pub mod etcd;
pub mod faults;
pub mod import;
pub mod invariants;
pub mod jobtrace;
pub mod kubelet;
pub mod metrics;
pub mod model;
pub mod openb;
pub mod plot;
pub mod quantity;
pub mod recorder;
pub mod report;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod scheduler;
pub mod sim;
pub mod sweep;
pub mod time;
pub mod timings;
pub mod workload;
