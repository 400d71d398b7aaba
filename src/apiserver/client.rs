//! Client-side behaviour of apiserver clients: who they are, how fast they may send (client-go's token-bucket
//! rate limiter with QPS and burst), and how they retry transient failures.

use crate::model::NodeId;
use crate::time::{SimDuration, SimTime};
use crate::timings::Timings;

/// The controllers of kube-controller-manager. Each has its own client (and rate limiter), as upstream builds
/// one client per controller from the shared `--kube-api-qps`/`--kube-api-burst` settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ctl {
    ReplicaSet,
    Deployment,
    Job,
    NodeLifecycle,
    TaintEviction,
    PodGc,
    DaemonSet,
    Disruption,
    /// cloud-controller-manager's cloud node lifecycle controller (a separate process upstream, with its own
    /// client; its `--kube-api-qps`/`--kube-api-burst` defaults, 20 / 30, are the controller manager's).
    CloudNodeLifecycle,
}

impl Ctl {
    pub const ALL: [Ctl; 9] = [
        Ctl::ReplicaSet,
        Ctl::Deployment,
        Ctl::Job,
        Ctl::NodeLifecycle,
        Ctl::TaintEviction,
        Ctl::PodGc,
        Ctl::DaemonSet,
        Ctl::Disruption,
        Ctl::CloudNodeLifecycle,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Who sent a request (for latency, rate limits, retries and routing responses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    Scheduler,
    Controller(Ctl),
    Kubelet(NodeId),
    /// The scenario's users and CI systems (creating workloads, scaling, deleting). Not rate limited.
    User,
}

/// client-go's token bucket (`flowcontrol.NewTokenBucketRateLimiter`): `burst` tokens, refilled at `qps`.
/// A request takes one token, waiting for it if none is left; waiting requests are served in order.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: SimTime,
}

impl TokenBucket {
    pub fn new(qps: f64, burst: u64) -> TokenBucket {
        let burst = (burst.max(1)) as f64;
        TokenBucket { qps: qps.max(1e-9), burst, tokens: burst, last: SimTime::ZERO }
    }

    /// Takes a token for a request issued at `now`; returns when it may be sent.
    pub fn reserve(&mut self, now: SimTime) -> SimTime {
        let t = now.max(self.last);
        let elapsed = (t.micros() - self.last.micros()) as f64 / 1e6;
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        self.last = t;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return t;
        }
        let wait_us = ((1.0 - self.tokens) / self.qps * 1e6).ceil() as u64;
        let at = SimTime(t.micros() + wait_us);
        self.tokens = 0.0;
        self.last = at;
        at
    }
}

/// How a client handles a transient failure (etcd timeout, too many requests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryPolicy {
    /// The component handles the failure itself (the scheduler requeues the pod).
    Report,
    /// Resend after `initial x 2^attempt`, capped.
    Exponential { initial: SimDuration, max: SimDuration },
}

impl RetryPolicy {
    pub fn of(client: Client) -> RetryPolicy {
        match client {
            Client::Scheduler => RetryPolicy::Report,
            // The controllers' work queues requeue a failed sync with per-item back-off 5 ms doubling to 1000 s
            // (`DefaultControllerRateLimiter`).
            Client::Controller(_) => {
                RetryPolicy::Exponential { initial: SimDuration::from_millis(5), max: SimDuration::from_secs(1000) }
            }
            // The kubelet's status manager resyncs every 10 s.
            Client::Kubelet(_) => {
                RetryPolicy::Exponential { initial: SimDuration::from_secs(10), max: SimDuration::from_secs(10) }
            }
            Client::User => {
                RetryPolicy::Exponential { initial: SimDuration::from_secs(1), max: SimDuration::from_secs(30) }
            }
        }
    }

    /// The delay before retry number `attempt` (0-based), or `None` when the failure is reported instead.
    pub fn delay(self, attempt: u32) -> Option<SimDuration> {
        match self {
            RetryPolicy::Report => None,
            RetryPolicy::Exponential { initial, max } => Some(initial.saturating_mul(1u64 << attempt.min(40)).min(max)),
        }
    }
}

/// The rate limiters of every client.
pub struct Limiters {
    scheduler: TokenBucket,
    controllers: Vec<TokenBucket>,
    kubelets: Vec<TokenBucket>,
    kubelet_template: TokenBucket,
}

impl Limiters {
    pub fn new(t: &Timings) -> Limiters {
        Limiters {
            scheduler: TokenBucket::new(t.scheduler_qps, t.scheduler_burst),
            controllers: Ctl::ALL
                .iter()
                .map(|_| TokenBucket::new(t.controller_manager_qps, t.controller_manager_burst))
                .collect(),
            kubelets: Vec::new(),
            kubelet_template: TokenBucket::new(t.kubelet_qps, t.kubelet_burst),
        }
    }

    /// Replaces `client`'s bucket with a new, full one (the client process restarted).
    pub fn reset(&mut self, client: Client, t: &Timings) {
        match client {
            Client::Scheduler => self.scheduler = TokenBucket::new(t.scheduler_qps, t.scheduler_burst),
            Client::Controller(c) => {
                self.controllers[c.index()] = TokenBucket::new(t.controller_manager_qps, t.controller_manager_burst);
            }
            Client::Kubelet(n) => {
                if let Some(b) = self.kubelets.get_mut(n.index()) {
                    *b = self.kubelet_template.clone();
                }
            }
            Client::User => {}
        }
    }

    /// When a request issued by `client` at `now` may be sent.
    pub fn reserve(&mut self, client: Client, now: SimTime) -> SimTime {
        match client {
            Client::Scheduler => self.scheduler.reserve(now),
            Client::Controller(c) => self.controllers[c.index()].reserve(now),
            Client::Kubelet(n) => {
                if self.kubelets.len() <= n.index() {
                    self.kubelets.resize(n.index() + 1, self.kubelet_template.clone());
                }
                self.kubelets[n.index()].reserve(now)
            }
            Client::User => now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_allows_burst_then_qps() {
        let mut b = TokenBucket::new(20.0, 30);
        let t0 = SimTime::from_secs(1);
        // 30 requests go at once (the burst), then one every 50 ms.
        let times: Vec<u64> = (0..33).map(|_| b.reserve(t0).micros()).collect();
        assert!(times[..30].iter().all(|t| *t == 1_000_000));
        assert_eq!(&times[30..], &[1_050_000, 1_100_000, 1_150_000]);
        // 0.5 s after the last grant, 10 tokens are back.
        let later = SimTime(1_650_000);
        let times: Vec<u64> = (0..11).map(|_| b.reserve(later).micros()).collect();
        assert!(times[..10].iter().all(|t| *t == 1_650_000), "{times:?}");
        assert_eq!(times[10], 1_700_000);
    }

    #[test]
    fn retry_delays() {
        let p = RetryPolicy::of(Client::Controller(Ctl::ReplicaSet));
        let d: Vec<u64> = (0..4).map(|a| p.delay(a).unwrap().micros()).collect();
        assert_eq!(d, vec![5_000, 10_000, 20_000, 40_000]);
        assert_eq!(p.delay(30).unwrap(), SimDuration::from_secs(1000));
        assert_eq!(RetryPolicy::of(Client::Scheduler).delay(0), None);
    }
}
