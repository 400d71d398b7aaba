//! The pod lifecycle on the node and for Jobs, with exact timelines derived from the timings.
//!
//! With default timings a request commits 5 ms after it is sent and a watch delivers 1 ms after the commit; a
//! scheduling cycle takes 1 ms; containers start 1 s after their images are present. Images are free here
//! (`image_pull_latency = "0s"` and zero-sized images), so a pod's first start is its `PodRunning` commit minus
//! the request latency, and everything after follows from the run model and the back-off rules:
//!
//! - CrashLoopBackOff (kubelet): restart at exit + 0, 10, 20, 40, 80, 160, 300, 300 s; the back-off resets when a
//!   container exits more than 600 s after its last restart;
//! - readiness: Ready `readiness_delay` after each start, not Ready from an exit to the next start;
//! - Job back-off (controller): a replacement is created 10, 20, 40, 80, 160, 320 s after the failed pod's
//!   finish time; the Job fails with BackoffLimitExceeded one batch period (1 s) after it sees the 7th failure.

use kubesim::model::{PodPhase, PodState};
use kubesim::recorder::{EventRow, EventSink, EventType};
use kubesim::run::{RunOutcome, run_in_memory};
use kubesim::scenario::Scenario;
use kubesim::sim::Sim;
use kubesim::time::{SimDuration, SimTime};
use kubesim::timings::Timings;
use std::path::Path;
use std::sync::Arc;

fn scenario(text: &str) -> Scenario {
    Scenario::from_str(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn run(text: &str) -> RunOutcome {
    run_in_memory(&scenario(text), None).expect("run")
}

/// One node, free images, and `workloads` (TOML) appended.
fn cluster(duration: &str, seed: u64, workloads: &str) -> String {
    format!(
        r#"
[scenario]
name = "t"
seed = {seed}
duration = "{duration}"
[timings]
image_pull_latency = "0s"
[images]
"app:latest" = 0
[[cluster.node_pools]]
name = "n"
count = 1
cpu = "8"
memory = "16Gi"
{workloads}
"#
    )
}

fn rows(events: &[EventRow], event: EventType) -> Vec<&EventRow> {
    events.iter().filter(|r| r.event == event).collect()
}

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

/// The value of `key=value` in a row's detail.
fn field<'a>(row: &'a EventRow, key: &str) -> &'a str {
    row.detail
        .split(' ')
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key} in {:?}", row.detail))
}

fn duration_of(text: &str) -> SimDuration {
    kubesim::time::parse_duration(text).expect("duration")
}

/// The time of the first start of the (only) pod: its `PodRunning` commit minus the request latency.
fn first_start(events: &[EventRow]) -> SimTime {
    let running = rows(events, EventType::PodRunning);
    assert_eq!(running.len(), 1, "one pod, Running once");
    SimTime(running[0].time.micros() - Timings::default().write_latency().micros())
}

#[test]
fn crash_loop_restarts_follow_the_backoff_exactly() {
    let out = run(&cluster(
        "40m",
        1,
        r#"
[[workloads.deployments]]
name = "app"
replicas = 1
template = { requests = { cpu = "100m" }, run = { dist = "fixed", value = "5s" }, failure_probability = 1.0 }
"#,
    ));
    let t = Timings::default();
    let run_time = secs(5);
    let mut exit = first_start(&out.events).add(run_time);
    let restarts = rows(&out.events, EventType::ContainerRestarted);
    let waits = [0, 10, 20, 40, 80, 160, 300, 300, 300];
    assert!(restarts.len() >= waits.len(), "{} restarts", restarts.len());
    for (k, (row, wait)) in restarts.iter().zip(waits).enumerate() {
        let restart = exit.add(secs(wait));
        assert_eq!(row.time, restart, "restart {} at exit + {wait} s", k + 1);
        assert_eq!(row.detail, format!("restart_count={} backoff_s={wait} exit_code=1", k + 1));
        exit = restart.add(t.container_start_latency).add(run_time);
    }
    // Later restarts stay at the 300 s cap, and a crash loop never fails a Deployment pod.
    assert!(restarts[waits.len()..].iter().all(|r| field(r, "backoff_s") == "300"));
    assert!(rows(&out.events, EventType::PodFailed).is_empty());
    assert_eq!(out.summary.pods["Running"], 1);
}

/// A reimplementation of the kubelet's back-off from its upstream rules, to check the simulated restarts.
#[derive(Default)]
struct BackoffModel {
    entry: Option<(SimDuration, SimTime)>,
    resets: u32,
}

impl BackoffModel {
    fn restart_at(&self, exit: SimTime) -> SimTime {
        match self.entry {
            Some((window, last)) if exit.since(last) <= secs(600) => {
                exit.add(window).min(last.add(secs(600)).add(SimDuration(1)))
            }
            _ => exit,
        }
    }
    fn next(&mut self, exit: SimTime, now: SimTime) {
        let window = match self.entry {
            Some((w, last)) if exit.since(last) <= secs(600) && now.since(last) <= secs(600) => {
                (w.saturating_mul(2)).min(secs(300))
            }
            Some(_) => {
                self.resets += 1;
                secs(10)
            }
            None => secs(10),
        };
        self.entry = Some((window, now));
    }
}

#[test]
fn backoff_resets_after_a_long_healthy_run() {
    // Each run lasts 5 s (a crash) or 11 minutes (healthy for longer than the 600 s expiry).
    let out = run(&cluster(
        "4h",
        3,
        r#"
[[workloads.deployments]]
name = "app"
replicas = 1
template = { requests = { cpu = "100m" }, run = { dist = "empirical", values = ["5s", "5s", "5s", "11m"] }, failure_probability = 1.0 }
"#,
    ));
    let start_latency = Timings::default().container_start_latency;
    let mut start = first_start(&out.events);
    let mut model = BackoffModel::default();
    let restarts = rows(&out.events, EventType::ContainerRestarted);
    assert!(restarts.len() > 20, "{} restarts", restarts.len());
    let mut long_runs = 0;
    for row in &restarts {
        // The run was 5 s or 11 min: exactly one of the two explains the observed restart time.
        let candidates: Vec<(SimTime, SimTime)> = ["5s", "11m"]
            .iter()
            .map(|r| start.add(duration_of(r)))
            .map(|exit| (exit, model.restart_at(exit)))
            .filter(|(_, at)| *at == row.time)
            .collect();
        assert_eq!(candidates.len(), 1, "restart at {} follows from a 5 s or an 11 min run", row.time);
        let (exit, at) = candidates[0];
        long_runs += u32::from(exit.since(start) > secs(600));
        assert_eq!(field(row, "backoff_s"), kubesim::time::format_secs(at.since(exit).micros()));
        model.next(exit, at);
        start = at.add(start_latency);
    }
    assert!(long_runs >= 2 && model.resets >= 2, "{long_runs} long runs, {} resets", model.resets);
    // Waits grew before a reset and started over at 0 then 10 s after it.
    let waits: Vec<&str> = restarts.iter().map(|r| field(r, "backoff_s")).collect();
    assert!(waits.contains(&"40"), "{waits:?}");
    assert!(waits.windows(2).skip(1).any(|w| w == ["0", "10"]), "a reset in {waits:?}");
}

#[test]
fn a_run_longer_than_the_expiry_always_restarts_at_once() {
    // 1 s start + 600 s run: every exit comes 601 s after the last restart, so the entry has always expired.
    let out = run(&cluster(
        "2h",
        1,
        r#"
[[workloads.deployments]]
name = "app"
replicas = 1
template = { requests = { cpu = "100m" }, run = { dist = "fixed", value = "600s" }, failure_probability = 1.0 }
"#,
    ));
    let restarts = rows(&out.events, EventType::ContainerRestarted);
    assert!(restarts.len() >= 10);
    assert!(restarts.iter().all(|r| field(r, "backoff_s") == "0"), "{restarts:?}");
}

#[test]
fn on_failure_restarts_only_failed_runs() {
    let out = run(&cluster(
        "2h",
        5,
        r#"
[[workloads.jobs]]
name = "app"
backoff_limit = 100
template = { requests = { cpu = "100m" }, run = { dist = "fixed", value = "5s" }, failure_probability = 0.7, exit_code = 3, restart_policy = "OnFailure" }
"#,
    ));
    let t = Timings::default();
    let restarts = rows(&out.events, EventType::ContainerRestarted);
    assert!(restarts.len() >= 2, "{} restarts", restarts.len());
    // Only failed runs restart (exit code 3), in place, with the back-off; the first successful run ends the pod.
    let mut exit = first_start(&out.events).add(secs(5));
    for (row, wait) in restarts.iter().zip([0, 10, 20, 40, 80, 160, 300]) {
        assert_eq!(field(row, "exit_code"), "3");
        assert_eq!(row.time, exit.add(secs(wait)));
        exit = row.time.add(t.container_start_latency).add(secs(5));
    }
    assert_eq!(rows(&out.events, EventType::PodCreated).len(), 1);
    assert!(rows(&out.events, EventType::PodFailed).is_empty());
    let succeeded = rows(&out.events, EventType::PodSucceeded);
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0].time, exit.add(t.write_latency()), "the last run succeeds");
    let complete = rows(&out.events, EventType::JobComplete);
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0].detail, "succeeded=1 failed=0");
}

#[test]
fn on_failure_job_fails_when_restarts_reach_the_backoff_limit() {
    let out = run(&cluster(
        "1h",
        1,
        r#"
[[workloads.jobs]]
name = "app"
backoff_limit = 2
template = { requests = { cpu = "100m" }, run = { dist = "fixed", value = "5s" }, failure_probability = 1.0, restart_policy = "OnFailure" }
"#,
    ));
    let t = Timings::default();
    let (lat, watch) = (t.write_latency(), t.watch_latency_controller_manager);
    let restarts = rows(&out.events, EventType::ContainerRestarted);
    assert_eq!(restarts.len(), 2, "the second restart reaches the limit");
    // The restart count 2 is reported when the container runs again; the controller sees it one watch latency
    // after the commit and syncs one batch period later: it deletes the active pod (graceful, stop latency 0).
    let reported = restarts[1].time.add(t.container_start_latency).add(lat);
    let sync = reported.add(watch).add(SimDuration::from_secs(1));
    let terminating = rows(&out.events, EventType::PodTerminating);
    assert_eq!(terminating.len(), 1);
    assert_eq!(terminating[0].time, sync.add(lat));
    // The kubelet stops the pod and removes it; the next batched sync (due since the deletion was seen) finds no
    // pod left and writes Failed.
    let deleted = rows(&out.events, EventType::PodDeleted);
    assert_eq!(deleted[0].time, terminating[0].time.add(watch).add(lat));
    let failed = rows(&out.events, EventType::JobFailed);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].time, terminating[0].time.add(watch).add(SimDuration::from_secs(1)).add(lat));
    assert_eq!(failed[0].detail, "reason=BackoffLimitExceeded succeeded=0 failed=1");
}

/// Runs a scenario keeping the simulator, to read the pods' final states.
fn run_sim(text: &str) -> (Sim, Vec<EventRow>) {
    let sc = scenario(text);
    let mut sim = Sim::new(Arc::new(sc.config.clone()), EventSink::Memory(Vec::new())).expect("sim");
    sim.run();
    let events = sim.rec.finish().expect("events");
    (sim, events)
}

fn pod_state(sim: &Sim, prefix: &str) -> PodState {
    let found: Vec<PodState> =
        sim.api.etcd.pods.iter().filter(|(_, r)| r.spec.name.starts_with(prefix)).map(|(_, r)| r.state).collect();
    assert_eq!(found.len(), 1, "one pod named {prefix}*");
    found[0]
}

#[test]
fn never_ends_failed_or_succeeded_with_the_exit_code() {
    let (sim, events) = run_sim(&cluster(
        "10m",
        1,
        r#"
[[workloads.arrivals]]
name = "bad"
interval = "1m"
max_pods = 1
template = { image = "app:latest", requests = { cpu = "100m" }, run = { dist = "fixed", value = "30s" }, failure_probability = 1.0, exit_code = 42 }
[[workloads.arrivals]]
name = "good"
interval = "1m"
max_pods = 1
template = { image = "app:latest", requests = { cpu = "100m" }, run = { dist = "fixed", value = "30s" } }
"#,
    ));
    let lat = Timings::default().write_latency();
    assert!(rows(&events, EventType::ContainerRestarted).is_empty(), "restartPolicy Never never restarts");
    let running_of = |name: &str| {
        let row = events.iter().find(|r| r.event == EventType::PodRunning && r.name == name).expect("running");
        SimTime(row.time.micros() - lat.micros())
    };
    let failed = rows(&events, EventType::PodFailed);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].detail, "reason=Error exit_code=42");
    let bad_exit = running_of("bad-0").add(secs(30));
    assert_eq!(failed[0].time, bad_exit.add(lat));
    let succeeded = rows(&events, EventType::PodSucceeded);
    assert_eq!(succeeded.len(), 1);
    let good_exit = running_of("good-0").add(secs(30));
    assert_eq!(succeeded[0].time, good_exit.add(lat));
    let bad = pod_state(&sim, "bad-");
    assert_eq!((bad.phase, bad.exit_code, bad.finished(), bad.ready), (PodPhase::Failed, 42, Some(bad_exit), false));
    let good = pod_state(&sim, "good-");
    assert_eq!((good.phase, good.exit_code, good.finished()), (PodPhase::Succeeded, 0, Some(good_exit)));
}

#[test]
fn ready_comes_exactly_readiness_delay_after_running() {
    let out = run(&cluster(
        "5m",
        1,
        r#"
[[workloads.deployments]]
name = "app"
replicas = 3
template = { requests = { cpu = "100m" }, readiness_delay = "7s" }
"#,
    ));
    let running = rows(&out.events, EventType::PodRunning);
    assert_eq!(running.len(), 3);
    for r in running {
        let ready: Vec<&EventRow> =
            out.events.iter().filter(|e| e.event == EventType::PodReady && e.name == r.name).collect();
        assert_eq!(ready.len(), 1, "{}", r.name);
        assert_eq!(ready[0].time, r.time.add(secs(7)), "{}", r.name);
    }
    // Without a delay, Running and Ready come in the same write.
    let out = run(&cluster(
        "1m",
        1,
        "[[workloads.deployments]]\nname = \"app\"\nreplicas = 1\ntemplate = { requests = { cpu = \"100m\" } }\n",
    ));
    assert_eq!(rows(&out.events, EventType::PodReady)[0].time, rows(&out.events, EventType::PodRunning)[0].time);
}

#[test]
fn restarts_reset_readiness() {
    // Runs 20 s, Ready 7 s after each start: not Ready from each exit until 7 s after the next start.
    let mut sim = Sim::new(
        Arc::new(
            scenario(&cluster(
                "20m",
                1,
                r#"
[[workloads.deployments]]
name = "app"
replicas = 1
template = { requests = { cpu = "100m" }, run = { dist = "fixed", value = "20s" }, failure_probability = 1.0, readiness_delay = "7s" }
"#,
            ))
            .config,
        ),
        EventSink::Memory(Vec::new()),
    )
    .expect("sim");
    // Every change of the pod's Ready condition in the store, with its time.
    let mut changes: Vec<(SimTime, bool)> = Vec::new();
    let mut last = false;
    while sim.step() {
        if let Some((_, r)) = sim.api.etcd.pods.iter().next()
            && r.state.ready != last
        {
            last = r.state.ready;
            changes.push((sim.now(), last));
        }
    }
    let events = sim.rec.finish().expect("events");
    let t = Timings::default();
    let lat = t.write_latency();
    let mut start = first_start(&events);
    let mut expected = Vec::new();
    for wait in [0, 10, 20, 40, 80] {
        let exit = start.add(secs(20));
        expected.push((start.add(secs(7)).add(lat), true));
        expected.push((exit.add(lat), false));
        start = exit.add(secs(wait)).add(t.container_start_latency);
    }
    assert_eq!(&changes[..expected.len()], &expected[..]);
    // A run shorter than the delay never turns Ready.
    let out = run(&cluster(
        "10m",
        1,
        r#"
[[workloads.deployments]]
name = "app"
replicas = 1
template = { requests = { cpu = "100m" }, run = { dist = "fixed", value = "5s" }, failure_probability = 1.0, readiness_delay = "7s" }
"#,
    ));
    assert!(rows(&out.events, EventType::ContainerRestarted).len() > 3);
    assert!(rows(&out.events, EventType::PodReady).is_empty());
}

#[test]
fn job_backoff_counts_from_finish_times_and_fails_after_the_seventh_failure() {
    let out = run(&cluster(
        "1h",
        1,
        r#"
[[workloads.jobs]]
name = "app"
template = { requests = { cpu = "100m" }, run = { dist = "fixed", value = "5s" }, failure_probability = 1.0 }
"#,
    ));
    let t = Timings::default();
    let (lat, watch) = (t.write_latency(), t.watch_latency_controller_manager);
    let created = rows(&out.events, EventType::PodCreated);
    let failed = rows(&out.events, EventType::PodFailed);
    assert_eq!(created.len(), 7, "backoffLimit 6: the 7th failure fails the Job");
    assert_eq!(failed.len(), 7);
    // Creation commit -> scheduler (watch, cycle, binding) -> kubelet (watch) -> start -> run: the finish time.
    let to_finish = [watch, t.scheduler_cycle, lat, watch, t.container_start_latency, secs(5)]
        .into_iter()
        .fold(SimDuration::ZERO, SimDuration::saturating_add);
    let mut finishes = Vec::new();
    for (c, f) in created.iter().zip(&failed) {
        assert_eq!(c.name, f.name);
        let finish = c.time.add(to_finish);
        assert_eq!(f.time, finish.add(lat), "{} reports its exit at once", f.name);
        finishes.push(finish);
    }
    // Each replacement is created exactly the back-off after the previous pod's finish time.
    for (k, backoff) in [10, 20, 40, 80, 160, 320].into_iter().enumerate() {
        assert_eq!(created[k + 1].time, finishes[k].add(secs(backoff)).add(lat), "replacement {}", k + 1);
    }
    // The controller sees the 7th failure one watch latency after it commits and syncs one batch period later.
    let job_failed = rows(&out.events, EventType::JobFailed);
    assert_eq!(job_failed.len(), 1);
    assert_eq!(job_failed[0].time, failed[6].time.add(watch).add(SimDuration::from_secs(1)).add(lat));
    assert_eq!(job_failed[0].detail, "reason=BackoffLimitExceeded succeeded=0 failed=7");
}

#[test]
fn job_counts_outcomes_once_even_when_pod_gc_deletes_the_pods() {
    let text = cluster(
        "1h",
        1,
        r#"
[[workloads.jobs]]
name = "app"
completions = 6
parallelism = 2
template = { requests = { cpu = "100m" }, run = { dist = "fixed", value = "30s" } }
"#,
    )
    .replace("[timings]\n", "[timings]\nterminated_pod_gc_threshold = 1\n");
    let out = run(&text);
    assert!(rows(&out.events, EventType::PodDeleted).len() >= 4, "pod GC deleted finished pods");
    let complete = rows(&out.events, EventType::JobComplete);
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0].detail, "succeeded=6 failed=0");
    assert_eq!(rows(&out.events, EventType::PodCreated).len(), 6);
}

#[test]
fn shipped_lifecycle_scenarios_show_what_they_say() {
    let crash = Scenario::load(Path::new("scenarios/crashloop.toml")).expect("crashloop");
    let a = run_in_memory(&crash, None).expect("run");
    let b = run_in_memory(&crash, None).expect("run");
    assert_eq!(a.events, b.events, "deterministic");
    assert_eq!(a.summary, b.summary);
    let restarts = rows(&a.events, EventType::ContainerRestarted);
    let first: Vec<&EventRow> = restarts.iter().copied().filter(|r| r.name == restarts[0].name).collect();
    let waits: Vec<&str> = first.iter().take(8).map(|r| field(r, "backoff_s")).collect();
    assert_eq!(waits, ["0", "10", "20", "40", "80", "160", "300", "300"]);
    assert_eq!(a.summary.pods["Running"], 9);

    let jobs = Scenario::load(Path::new("scenarios/job-backoff.toml")).expect("job-backoff");
    let a = run_in_memory(&jobs, None).expect("run");
    let b = run_in_memory(&jobs, None).expect("run");
    assert_eq!(a.events, b.events, "deterministic");
    let failed = rows(&a.events, EventType::JobFailed);
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].name.as_str(), failed[0].detail.as_str()),
        ("migrate", "reason=BackoffLimitExceeded succeeded=0 failed=7")
    );
    let complete = rows(&a.events, EventType::JobComplete);
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0].name, "etl");
    assert!(complete[0].detail.starts_with("succeeded=12 "), "{}", complete[0].detail);
    assert_ne!(complete[0].detail, "succeeded=12 failed=0", "some etl runs fail");
}

#[test]
fn bad_readiness_delay_points_at_the_value() {
    let text = cluster(
        "10m",
        1,
        "[[workloads.deployments]]\nname = \"app\"\nreplicas = 1\ntemplate = { readiness_delay = \"7 seconds\" }\n",
    );
    let err = match Scenario::from_str(&text, "t.toml") {
        Ok(_) => panic!("a bad readiness_delay must be rejected"),
        Err(e) => e.to_string(),
    };
    let line = text.lines().position(|l| l.contains("7 seconds")).expect("line") + 1;
    assert!(err.contains(&format!("t.toml:{line}:")), "{err}");
    assert!(err.contains("duration"), "{err}");
}
