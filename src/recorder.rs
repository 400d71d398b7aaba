//! The run's observer: the `events.csv` timeline and the accumulators behind `summary.json`.
//!
//! Components never format output themselves; they report what happened here. Rows are streamed to the sink as
//! they happen (a run of a million pods never holds its timeline in memory), and metrics are accumulated
//! incrementally (time-weighted allocation integrals, latency samples).

use crate::metrics::Collector;
use crate::model::Kind;
use crate::time::{SimTime, write_secs};
use std::fmt::{self, Write as _};
use std::io::{self, Write};

/// The `event` column of `events.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    // Pods (written by the apiserver when the change commits).
    PodCreated,
    PodScheduled,
    PodUnschedulable,
    PodRunning,
    PodReady,
    PodSucceeded,
    PodFailed,
    PodEvicted,
    PodDeleted,
    PodRejected,
    PodTerminating,
    /// A pod was chosen as a preemption victim (detail: the preemptor and node); written by the scheduler.
    PodPreempted,
    /// The scheduler nominated a pod to a node after preempting victims there.
    PodNominated,
    // Pods (written by the kubelet, like the events it posts upstream).
    ContainerRestarted,
    /// A container fault killed a running container (detail: reason, exit code).
    ContainerKilled,
    /// An image pull failed (registry down); the kubelet retries after the back-off in the detail.
    ImagePullBackOff,
    // Nodes.
    NodeAdded,
    NodeReady,
    NodeNotReady,
    NodeTainted,
    NodeUntainted,
    NodeFailed,
    NodeRecovered,
    NodeDrained,
    /// The machine behind a node was terminated for good (scale-down, spot interruption); written by the simulator
    /// when it happens. Its Node object stays until someone deletes it.
    NodeTerminated,
    /// The Node object was deleted (written by the apiserver when the deletion commits; `detail`: the pods still
    /// bound to it).
    NodeDeleted,
    /// A zone's state as the node lifecycle controller sees it changed (`name`: the zone).
    ZoneStateChanged,
    // Faults.
    FaultInjected,
    FaultHealed,
    // Control-plane processes (`kind` Component, `name` the component).
    /// The kube-scheduler process died (detail: what it lost).
    SchedulerCrashed,
    /// A new kube-scheduler process started and sent its informers' LIST (detail: the objects listed).
    SchedulerStarted,
    /// The new process's caches synced: it schedules again from here (detail: pods queued, nodes cached).
    SchedulerSynced,
    // Workloads.
    DeploymentCreated,
    RolloutComplete,
    ReplicaSetCreated,
    ReplicaSetScaled,
    JobCreated,
    DaemonSetCreated,
    JobComplete,
    JobFailed,
    // Apiserver.
    Rejected,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PodCreated => "PodCreated",
            EventType::PodScheduled => "PodScheduled",
            EventType::PodUnschedulable => "PodUnschedulable",
            EventType::PodRunning => "PodRunning",
            EventType::PodReady => "PodReady",
            EventType::PodSucceeded => "PodSucceeded",
            EventType::PodFailed => "PodFailed",
            EventType::PodEvicted => "PodEvicted",
            EventType::PodDeleted => "PodDeleted",
            EventType::PodRejected => "PodRejected",
            EventType::PodTerminating => "PodTerminating",
            EventType::PodPreempted => "PodPreempted",
            EventType::PodNominated => "PodNominated",
            EventType::ContainerRestarted => "ContainerRestarted",
            EventType::ContainerKilled => "ContainerKilled",
            EventType::ImagePullBackOff => "ImagePullBackOff",
            EventType::NodeAdded => "NodeAdded",
            EventType::NodeReady => "NodeReady",
            EventType::NodeNotReady => "NodeNotReady",
            EventType::NodeTainted => "NodeTainted",
            EventType::NodeUntainted => "NodeUntainted",
            EventType::NodeFailed => "NodeFailed",
            EventType::NodeRecovered => "NodeRecovered",
            EventType::NodeDrained => "NodeDrained",
            EventType::NodeTerminated => "NodeTerminated",
            EventType::NodeDeleted => "NodeDeleted",
            EventType::ZoneStateChanged => "ZoneStateChanged",
            EventType::FaultInjected => "FaultInjected",
            EventType::FaultHealed => "FaultHealed",
            EventType::SchedulerCrashed => "SchedulerCrashed",
            EventType::SchedulerStarted => "SchedulerStarted",
            EventType::SchedulerSynced => "SchedulerSynced",
            EventType::DeploymentCreated => "DeploymentCreated",
            EventType::RolloutComplete => "RolloutComplete",
            EventType::ReplicaSetCreated => "ReplicaSetCreated",
            EventType::ReplicaSetScaled => "ReplicaSetScaled",
            EventType::JobCreated => "JobCreated",
            EventType::DaemonSetCreated => "DaemonSetCreated",
            EventType::JobComplete => "JobComplete",
            EventType::JobFailed => "JobFailed",
            EventType::Rejected => "Rejected",
        }
    }
}

/// The header of `events.csv`. Later columns may be appended; these never change order.
pub const EVENTS_HEADER: &str = "time_s,event,kind,name,node,detail";

/// One recorded row, kept in memory by [`EventSink::Memory`] (tests and library users).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    pub time: SimTime,
    pub event: EventType,
    pub kind: Kind,
    pub name: String,
    pub node: String,
    pub detail: String,
}

/// Where rows go.
pub enum EventSink {
    /// Dropped (benchmarks).
    Discard,
    /// Kept in memory.
    Memory(Vec<EventRow>),
    /// Streamed as CSV.
    Csv(Box<dyn Write>),
}

/// Receives events and keeps the run's counters.
pub struct Recorder {
    /// Metric accumulators (fed by the apiserver and the scheduler).
    pub metrics: Collector,
    sink: EventSink,
    line: String,
    io_error: Option<io::Error>,
    rows: u64,
}

impl Recorder {
    pub fn new(sink: EventSink) -> Recorder {
        let mut rec =
            Recorder { metrics: Collector::default(), sink, line: String::with_capacity(256), io_error: None, rows: 0 };
        if let EventSink::Csv(w) = &mut rec.sink
            && let Err(e) = writeln!(w, "{EVENTS_HEADER}")
        {
            rec.io_error = Some(e);
        }
        rec
    }

    /// Records one event. `detail` is formatted only when the sink keeps it.
    pub fn event(
        &mut self,
        time: SimTime,
        event: EventType,
        kind: Kind,
        name: &str,
        node: &str,
        detail: fmt::Arguments,
    ) {
        self.rows += 1;
        self.metrics.on_event(time, event, name, node);
        match &mut self.sink {
            EventSink::Discard => {}
            EventSink::Memory(rows) => rows.push(EventRow {
                time,
                event,
                kind,
                name: name.to_string(),
                node: node.to_string(),
                detail: fmt::format(detail),
            }),
            EventSink::Csv(w) => {
                if self.io_error.is_some() {
                    return;
                }
                let line = &mut self.line;
                line.clear();
                write_secs(line, time.micros());
                line.push(',');
                line.push_str(event.as_str());
                line.push(',');
                line.push_str(kind.as_str());
                line.push(',');
                push_csv_field(line, name);
                line.push(',');
                push_csv_field(line, node);
                line.push(',');
                let start = line.len();
                let _ = line.write_fmt(detail);
                if needs_quoting(&line[start..]) {
                    let raw = line.split_off(start);
                    push_csv_field(line, &raw);
                }
                line.push('\n');
                if let Err(e) = w.write_all(line.as_bytes()) {
                    self.io_error = Some(e);
                }
            }
        }
    }

    /// Number of rows recorded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes the sink and returns the rows kept in memory (if any). Reports the first I/O error.
    pub fn finish(&mut self) -> io::Result<Vec<EventRow>> {
        if let Some(e) = self.io_error.take() {
            return Err(e);
        }
        match &mut self.sink {
            EventSink::Csv(w) => {
                w.flush()?;
                Ok(Vec::new())
            }
            EventSink::Memory(rows) => Ok(std::mem::take(rows)),
            EventSink::Discard => Ok(Vec::new()),
        }
    }
}

/// Whether `field` holds a comma, a quote or a line break. Eight bytes at a time: names and details of every
/// events.csv row go through here (tens of millions of rows in a trace replay).
fn needs_quoting(field: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Nonzero iff some byte of `x` is zero.
    let has_zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let special = |b: u8| matches!(b, b',' | b'"' | b'\n' | b'\r');
    let mut chunks = field.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let hits = has_zero_byte(x ^ (ONES * u64::from(b',')))
            | has_zero_byte(x ^ (ONES * u64::from(b'"')))
            | has_zero_byte(x ^ (ONES * u64::from(b'\n')))
            | has_zero_byte(x ^ (ONES * u64::from(b'\r')));
        if hits != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| special(b))
}

/// Appends `field` as an RFC 4180 CSV field (quoted only when needed).
pub fn push_csv_field(line: &mut String, field: &str) {
    if needs_quoting(field) {
        line.push('"');
        for ch in field.chars() {
            if ch == '"' {
                line.push('"');
            }
            line.push(ch);
        }
        line.push('"');
    } else {
        line.push_str(field);
    }
}

/// Shorthand for `recorder.event(..., format_args!(...))`.
#[macro_export]
macro_rules! record {
    ($rec:expr, $time:expr, $event:ident, $kind:ident, $name:expr, $node:expr) => {
        $rec.event($time, $crate::recorder::EventType::$event, $crate::model::Kind::$kind, $name, $node, format_args!(""))
    };
    ($rec:expr, $time:expr, $event:ident, $kind:ident, $name:expr, $node:expr, $($fmt:tt)+) => {
        $rec.event($time, $crate::recorder::EventType::$event, $crate::model::Kind::$kind, $name, $node, format_args!($($fmt)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn needs_quoting_finds_every_special_byte_at_every_position() {
        for len in 0..20 {
            let plain: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            assert!(!needs_quoting(&plain), "{plain:?}");
            for at in 0..len {
                for special in [',', '"', '\n', '\r'] {
                    let mut with: Vec<char> = plain.chars().collect();
                    with[at] = special;
                    let with: String = with.into_iter().collect();
                    assert!(needs_quoting(&with), "{with:?}");
                }
            }
        }
        // Bytes next to the special ones, and multi-byte characters, are not special.
        assert!(!needs_quoting("+-!#$%&'()*/.;<=>?@ é 日本 \t"));
    }

    #[test]
    fn csv_rows_are_quoted_when_needed() {
        let buf = Shared::default();
        let mut rec = Recorder::new(EventSink::Csv(Box::new(buf.clone())));
        record!(rec, SimTime(1_500_000), PodScheduled, Pod, "web-1", "node-a", "score={}", 87);
        record!(rec, SimTime(2_000_000), PodUnschedulable, Pod, "web-2", "", "0/3 nodes are available: 3 \"x\", y");
        rec.finish().unwrap();
        let text = String::from_utf8(buf.0.borrow().clone()).unwrap();
        assert_eq!(
            text,
            "time_s,event,kind,name,node,detail\n1.5,PodScheduled,Pod,web-1,node-a,score=87\n\
             2,PodUnschedulable,Pod,web-2,,\"0/3 nodes are available: 3 \"\"x\"\", y\"\n"
        );
        let mut parsed = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = parsed.records().map(|r| r.unwrap()).collect();
        assert_eq!(&rows[1][5], "0/3 nodes are available: 3 \"x\", y");
    }
}
