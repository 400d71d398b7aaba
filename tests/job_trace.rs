//! `[[job_traces]]`: the Alibaba 2017 batch replay on the committed excerpt (584 task rows). Streaming (pods
//! alive at once stay far below the pods the run creates), conservation of instances, determinism, the
//! modelling choices, and errors that name the trace file, line and column.

use kubesim::model::PodPhase;
use kubesim::recorder::EventSink;
use kubesim::run::{run_in_memory, summarize};
use kubesim::scenario::Scenario;
use kubesim::sim::Sim;
use kubesim::time::SimDuration;
use std::path::Path;
use std::sync::Arc;

fn excerpt() -> Scenario {
    Scenario::load(Path::new("scenarios/alibaba-2017-batch-excerpt.toml")).expect("excerpt scenario")
}

fn metric(s: &kubesim::run::Summary, k: &str) -> f64 {
    s.metrics.get(k).and_then(|v| v.as_f64()).unwrap_or_else(|| panic!("metric {k} missing"))
}

#[test]
fn instances_are_conserved_and_the_summary_adds_up() {
    let out = run_in_memory(&excerpt(), None).expect("run");
    let s = &out.summary;
    let submitted = metric(s, "trace.instances_submitted");
    let completed = metric(s, "trace.instances_completed");
    let failed = metric(s, "trace.pods_failed");
    let pending = metric(s, "trace.pods_pending_at_end");
    let running = metric(s, "trace.pods_running_at_end");
    // 584 rows: 53 Waiting and 2 Running tasks whose end is 0 (no span) skipped.
    assert_eq!(metric(s, "trace.tasks_submitted") + metric(s, "trace.tasks_skipped"), 584.0);
    assert_eq!(submitted, 7340.0);
    // No faults: every pod the Jobs created either completed or is still pending or running at the end, and
    // every instance has its pod (parallelism = completions).
    assert_eq!(failed, 0.0);
    assert_eq!(metric(s, "pods_created"), submitted);
    assert_eq!(completed + pending + running, submitted);
    assert_eq!(metric(s, "trace.instances_unfinished"), pending + running);
    let share = metric(s, "trace.instances_completed_share");
    assert!((share - completed / submitted).abs() < 1e-6);
    assert!(metric(s, "trace.work_completed_share") <= 1.0);
    let (p50, p99, max) = (
        metric(s, "trace.queueing_delay_p50_s"),
        metric(s, "trace.queueing_delay_p99_s"),
        metric(s, "trace.queueing_delay_max_s"),
    );
    // Creation to Running includes the 1 s container start.
    assert!(1.0 <= p50 && p50 <= p99 && p99 <= max, "{p50} {p99} {max}");
}

#[test]
fn finished_pods_are_streamed_away_and_everything_completes() {
    let mut sc = excerpt();
    // Long enough for the longest task of the excerpt (7.1 hours, from 10 minutes in).
    sc.config.duration = SimDuration::from_secs(9 * 3600);
    let threshold = 200;
    sc.config.timings.terminated_pod_gc_threshold = threshold;
    let mut sim = Sim::new(Arc::new(sc.config), EventSink::Discard).expect("sim");
    let (mut peak_pods, mut peak_jobs, mut peak_terminal) = (0usize, 0usize, 0usize);
    let mut n = 0u64;
    while sim.step() {
        n += 1;
        if n.is_multiple_of(50) {
            let pods = &sim.api.etcd.pods;
            peak_pods = peak_pods.max(pods.len());
            peak_terminal = peak_terminal.max(pods.iter().filter(|(_, r)| r.state.phase.is_terminal()).count());
            peak_jobs = peak_jobs.max(sim.api.etcd.jobs.len());
        }
    }
    let s = summarize(&mut sim);
    let submitted = metric(&s, "trace.instances_submitted");
    assert_eq!(metric(&s, "trace.instances_completed"), submitted, "every instance completes");
    assert_eq!(metric(&s, "trace.work_completed_share"), 1.0);
    assert_eq!(metric(&s, "trace.pods_pending_at_end") + metric(&s, "trace.pods_running_at_end"), 0.0);
    // PodGC keeps at most about the threshold of finished pods (it deletes the excess every 20 s).
    assert!(metric(&s, "pods_deleted") >= submitted - threshold as f64 - 1.0);
    eprintln!("peak pods {peak_pods}, terminal {peak_terminal}, jobs {peak_jobs}");
    assert!(peak_terminal as u64 <= threshold + 1_000, "terminal pods peaked at {peak_terminal}");
    assert!((peak_pods as f64) < submitted / 2.0, "pods alive at once peaked at {peak_pods} of {submitted}");
    assert!(peak_jobs <= 529);
    let left: u64 = sim.api.etcd.pods.iter().filter(|(_, r)| r.state.phase != PodPhase::Succeeded).count() as u64;
    assert_eq!(left, 0);
}

#[test]
fn the_replay_is_deterministic_and_seeds_only_move_pod_names() {
    let a = run_in_memory(&excerpt(), None).expect("run");
    let b = run_in_memory(&excerpt(), None).expect("run");
    assert_eq!(a.events, b.events);
    assert_eq!(serde_json::to_string(&a.summary).unwrap(), serde_json::to_string(&b.summary).unwrap());
}

fn with_trace(test: &str, scenario_extra: &str, trace: &str) -> Result<Scenario, String> {
    let dir = std::env::temp_dir().join(format!("kubesim-jobtrace-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tasks.csv"), trace).unwrap();
    let text = format!(
        "[scenario]\nname = \"t\"\nduration = \"1h\"\n[[cluster.node_pools]]\nname = \"m\"\ncount = 2\ncpu = \"64\"\n\
         memory = \"69Gi\"\n[[job_traces]]\nformat = \"alibaba-2017\"\npath = \"tasks.csv\"\npool = \"m\"\n{scenario_extra}\n"
    );
    let path = dir.join("s.toml");
    std::fs::write(&path, text).unwrap();
    let r = Scenario::load(&path).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    r
}

#[test]
fn requests_run_times_and_statuses_follow_the_documented_model() {
    let trace = "h,e,j,t,n,s,c,m\n10,70,1,1,3,Terminated,250,0.069\n-5,15,1,2,1,Failed,,\n20,0,2,1,1,Running,50,0.01\n\
                 30,90,2,2,4,Waiting,50,0.01\n40,100,3,1,0,Terminated,50,0.01\n";
    let sc = with_trace("model", "run_fraction = 0.5", trace).expect("compiles");
    let t = &sc.config.workloads.job_traces[0];
    assert_eq!(t.tasks.len(), 2);
    let (a, b) = (&t.tasks[0], &t.tasks[1]);
    // Created before the trace started: at 0, with its whole span; empty requests get the medians.
    assert_eq!((a.job_name(), a.at.micros(), a.run.micros()), ("j1-t2".to_string(), 0, 10_000_000));
    // The medians weigh each task of the file by its instances: 50 (5 instances) against 250 (3).
    assert_eq!((a.cpu_millis, t.filled), (500, 1));
    assert_eq!((b.at.micros(), b.run.micros(), b.instances, b.cpu_millis), (10_000_000, 30_000_000, 3, 2500));
    // 0.069 of a machine whose memory is 0.69 on the trace's scale: a tenth of the pool's 69Gi.
    assert_eq!(b.memory_bytes, ((69u64 << 30).div_ceil(10)) as i64);
    assert_eq!((t.skipped.status, t.skipped.no_span, t.skipped.no_instances, t.skipped.missing_requests), (1, 1, 1, 0));
    let sc = with_trace("waiting", "statuses = [\"Waiting\"]\nmissing_requests = \"skip\"", trace).expect("compiles");
    assert_eq!(sc.config.workloads.job_traces[0].tasks.len(), 1);
    let sc = with_trace("skip", "missing_requests = \"skip\"", trace).expect("compiles");
    assert_eq!(sc.config.workloads.job_traces[0].skipped.missing_requests, 1);
}

#[test]
fn errors_name_the_trace_file_line_and_column() {
    let e = with_trace("corrupt", "", "1,2,3,4,5,Terminated,50,0.1\n1,2,3,4,five,Terminated,50,0.1\n").unwrap_err();
    assert!(e.contains("tasks.csv:2:9"), "{e}");
    assert!(e.contains("instance_num \"five\""), "{e}");
    let e = with_trace("status", "statuses = [\"Done\"]", "").unwrap_err();
    assert!(e.contains("s.toml:") && e.contains("unknown task status \"Done\""), "{e}");
    let e = with_trace("fraction", "run_fraction = 2.0", "").unwrap_err();
    assert!(e.contains("run_fraction must be greater than 0 and at most 1"), "{e}");
    let dir = std::env::temp_dir().join(format!("kubesim-jobtrace-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = "[scenario]\nname = \"t\"\nduration = \"1h\"\n[[cluster.node_pools]]\nname = \"m\"\ncount = 1\ncpu = \"64\"\n\
                memory = \"1Gi\"\n[[job_traces]]\nformat = \"alibaba-2017\"\npath = \"nope.csv\"\npool = \"m\"\n";
    let e = Scenario::from_str(text, &dir.join("s.toml").display().to_string()).unwrap_err().to_string();
    assert!(e.contains("s.toml:11:") && e.contains("cannot read trace") && e.contains("alibaba/clusterdata"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
