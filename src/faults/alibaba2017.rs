//! The machine events of the Alibaba cluster trace v2017 (`server_event.csv`, "Alibaba ClusterData201708") as a
//! fault timeline.
//!
//! Format (no header): `timestamp,machine_id,event_type,event_detail,cpus,norm_memory,norm_disk`, timestamps in
//! seconds from the trace start (0: the machine existed before). `event_type` is `add`, `remove`, `softerror`
//! or `harderror`; errors carry a detail such as `machine_fail`, `agent_check`, `daemon_check`, `disk_full` or
//! `nc_diskless`.
//!
//! The trace records when a machine failed, not when it was repaired: the replay heals each fault after a
//! repair time the scenario chooses (a duration or a distribution).

/// What happened to a machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineEventType {
    Add,
    Remove,
    SoftError,
    HardError,
}

/// One row of `server_event.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineEvent {
    /// 1-based line in the file.
    pub line: usize,
    pub time_s: i64,
    pub machine_id: u64,
    pub event_type: MachineEventType,
    pub detail: String,
}

/// A problem in the file: 1-based line and column, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The fault verb a trace event becomes by default: a failed machine crashes; a failed node agent or daemon
/// check is a kubelet that stops reporting; a full or missing disk makes the node unschedulable (as the
/// kubelet's disk-pressure taint does). `None`: the event is not a fault.
pub fn default_verb(event_type: MachineEventType, detail: &str) -> Option<&'static str> {
    match (event_type, detail) {
        (MachineEventType::Add, _) => None,
        (MachineEventType::Remove, _) => Some("node-crash"),
        (_, "agent_check" | "daemon_check") => Some("kubelet-stop"),
        (_, "disk_full" | "nc_diskless") => Some("cordon"),
        (_, _) => Some("node-crash"),
    }
}

/// Parses the whole file. Empty lines are skipped; any malformed row is an error naming its line and column.
pub fn parse(text: &str) -> Result<Vec<MachineEvent>, TraceError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let row = raw.trim_end_matches('\r');
        if row.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::with_capacity(7);
        let mut col = 1;
        for f in row.split(',') {
            fields.push((col, f));
            col += f.chars().count() + 1;
        }
        let err = |column: usize, message: String| TraceError { line, column, message };
        if fields.len() != 7 {
            return Err(err(
                1,
                format!(
                    "expected 7 comma-separated fields (timestamp,machine_id,event_type,event_detail,cpus,\
                     norm_memory,norm_disk), found {}",
                    fields.len()
                ),
            ));
        }
        let (c, t) = fields[0];
        let time_s: i64 = t.trim().parse().map_err(|_| err(c, format!("timestamp {t:?}: expected whole seconds")))?;
        let (c, m) = fields[1];
        let machine_id: u64 =
            m.trim().parse().map_err(|_| err(c, format!("machine_id {m:?}: expected a non-negative integer")))?;
        let (c, e) = fields[2];
        let event_type = match e.trim() {
            "add" => MachineEventType::Add,
            "remove" => MachineEventType::Remove,
            "softerror" => MachineEventType::SoftError,
            "harderror" => MachineEventType::HardError,
            other => {
                return Err(err(
                    c,
                    format!("event_type {other:?}: expected \"add\", \"remove\", \"softerror\" or \"harderror\""),
                ));
            }
        };
        out.push(MachineEvent { line, time_s, machine_id, event_type, detail: fields[3].1.trim().to_string() });
    }
    Ok(out)
}

/// The trace's machines in ascending id order (a machine's rank maps it to a node).
pub fn machines(events: &[MachineEvent]) -> Vec<u64> {
    let mut ids: Vec<u64> = events.iter().map(|e| e.machine_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_and_maps_details_to_verbs() {
        let text =
            "0,1,add,,64,0.69,0.1\n777,930,softerror,machine_fail,0,0,0\n\n1351,1075,softerror,agent_check,0,0,0\n";
        let ev = parse(text).unwrap();
        assert_eq!(ev.len(), 3);
        assert_eq!(
            ev[1],
            MachineEvent {
                line: 2,
                time_s: 777,
                machine_id: 930,
                event_type: MachineEventType::SoftError,
                detail: "machine_fail".into()
            }
        );
        assert_eq!(ev[2].line, 4);
        assert_eq!(machines(&ev), vec![1, 930, 1075]);
        assert_eq!(default_verb(ev[0].event_type, &ev[0].detail), None);
        assert_eq!(default_verb(ev[1].event_type, &ev[1].detail), Some("node-crash"));
        assert_eq!(default_verb(ev[2].event_type, &ev[2].detail), Some("kubelet-stop"));
        assert_eq!(default_verb(MachineEventType::SoftError, "disk_full"), Some("cordon"));
    }

    #[test]
    fn a_corrupt_row_names_its_line_and_column() {
        let cases = [
            ("0,1,add,,64,0.69,0.1\n12x,5,softerror,machine_fail,0,0,0\n", 2, 1, "timestamp"),
            ("0,1,add,,64,0.69,0.1\n12,-5,softerror,machine_fail,0,0,0\n", 2, 4, "machine_id"),
            ("0,1,explode,,64,0.69,0.1\n", 1, 5, "event_type"),
            ("0,1,add,,64\n", 1, 1, "7 comma-separated"),
        ];
        for (text, line, column, what) in cases {
            let e = parse(text).expect_err(text);
            assert_eq!((e.line, e.column), (line, column), "{text:?}: {e:?}");
            assert!(e.message.contains(what), "{text:?}: {}", e.message);
        }
    }
}
