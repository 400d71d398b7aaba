//! The batch tasks of the Alibaba cluster trace v2017 (`batch_task.csv`, "Alibaba ClusterData201708"), read for
//! the `[[job_traces]]` replay (see [`crate::workload`] for how a task becomes a Job).
//!
//! Format: `create_timestamp,modify_timestamp,job_id,task_id,instance_num,status,plan_cpu,plan_mem`, timestamps
//! in seconds from the trace start (a few are negative: created before it). `plan_cpu` is in hundredths of a
//! core, `plan_mem` normalised so that one machine is about 0.69 (`server_event.csv`); both are empty for about
//! 9,000 tasks. An optional header line (any first line whose first field is not a number) is skipped.
//!
//! Only the 80,553 task rows are held in memory (about 40 bytes each), sorted by creation time; the 11.9 M
//! instances they describe exist only as the pods the Job controller creates.

use crate::faults::alibaba2017::TraceError;

/// A task's status at the end of the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskStatus {
    Terminated,
    Failed,
    Running,
    Waiting,
}

impl TaskStatus {
    pub fn parse(s: &str) -> Option<TaskStatus> {
        Some(match s {
            "Terminated" => TaskStatus::Terminated,
            "Failed" => TaskStatus::Failed,
            "Running" => TaskStatus::Running,
            "Waiting" => TaskStatus::Waiting,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Terminated => "Terminated",
            TaskStatus::Failed => "Failed",
            TaskStatus::Running => "Running",
            TaskStatus::Waiting => "Waiting",
        }
    }
}

/// One row of `batch_task.csv`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchTask {
    /// 1-based line in the file (keeps equal creation times in file order, and names the row in messages).
    pub line: u32,
    pub create_s: i64,
    pub end_s: i64,
    pub job_id: u32,
    pub task_id: u32,
    pub instances: u32,
    pub status: TaskStatus,
    /// Hundredths of a core per instance; `None` when the trace left it empty.
    pub plan_cpu: Option<u32>,
    /// Memory per instance on the trace's normalised scale (a machine is [`MACHINE_NORM_MEMORY`]).
    pub plan_mem: Option<f64>,
}

impl BatchTask {
    /// The task's span in the trace: creation to its last modification (the end of its last instance for a
    /// Terminated task). Zero or negative for 209 rows (208 Running tasks have end 0).
    pub fn span_s(&self) -> i64 {
        self.end_s - self.create_s
    }
}

/// A machine's memory on `plan_mem`'s scale: `server_event.csv` gives 0.69 for 1,300 of its 1,313 machines.
pub const MACHINE_NORM_MEMORY: f64 = 0.69;

/// Parses the whole file and sorts the tasks by creation time (then line). Empty lines are skipped; a malformed
/// row is an error naming its line and column.
pub fn parse(text: &str) -> Result<Vec<BatchTask>, TraceError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let row = raw.trim_end_matches('\r');
        if row.trim().is_empty() {
            continue;
        }
        let mut fields: [(usize, &str); 8] = [(0, ""); 8];
        let mut n = 0;
        let mut col = 1;
        for f in row.split(',') {
            if n < 8 {
                fields[n] = (col, f.trim());
            }
            n += 1;
            col += f.chars().count() + 1;
        }
        let err = |column: usize, message: String| TraceError { line, column, message };
        if line == 1 && fields[0].1.parse::<i64>().is_err() {
            continue; // a header
        }
        if n != 8 {
            return Err(err(
                1,
                format!(
                    "expected 8 comma-separated fields (create_timestamp,modify_timestamp,job_id,task_id,\
                     instance_num,status,plan_cpu,plan_mem), found {n}"
                ),
            ));
        }
        let int = |k: usize, what: &str| -> Result<i64, TraceError> {
            let (c, v) = fields[k];
            v.parse().map_err(|_| err(c, format!("{what} {v:?}: expected whole seconds or an integer")))
        };
        let uint = |k: usize, what: &str| -> Result<u32, TraceError> {
            let (c, v) = fields[k];
            v.parse().map_err(|_| err(c, format!("{what} {v:?}: expected a non-negative integer below 2^32")))
        };
        let create_s = int(0, "create_timestamp")?;
        let end_s = int(1, "modify_timestamp")?;
        let job_id = uint(2, "job_id")?;
        let task_id = uint(3, "task_id")?;
        let instances = uint(4, "instance_num")?;
        let (c, st) = fields[5];
        let status = TaskStatus::parse(st).ok_or_else(|| {
            err(c, format!("status {st:?}: expected \"Terminated\", \"Failed\", \"Running\" or \"Waiting\""))
        })?;
        let (c, cpu) = fields[6];
        let plan_cpu = if cpu.is_empty() {
            None
        } else {
            // Hundredths of a core; the trace writes whole numbers, sometimes as "50.0".
            let v: f64 = cpu.parse().map_err(|_| err(c, format!("plan_cpu {cpu:?}: expected hundredths of a core")))?;
            if !(v.is_finite() && v > 0.0 && v <= 1e6 && v.fract() == 0.0) {
                return Err(err(
                    c,
                    format!("plan_cpu {cpu:?}: expected a whole number of hundredths of a core, 1 to 1000000"),
                ));
            }
            Some(v as u32)
        };
        let (c, mem) = fields[7];
        let plan_mem = if mem.is_empty() {
            None
        } else {
            let v: f64 = mem.parse().map_err(|_| err(c, format!("plan_mem {mem:?}: expected a number")))?;
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(err(c, format!("plan_mem {mem:?}: expected a fraction of a machine, 0 to 1")));
            }
            Some(v)
        };
        out.push(BatchTask {
            line: line as u32,
            create_s,
            end_s,
            job_id,
            task_id,
            instances,
            status,
            plan_cpu,
            plan_mem,
        });
    }
    out.sort_by_key(|t| (t.create_s, t.line));
    Ok(out)
}

/// The median `plan_cpu` and `plan_mem` over the tasks that give them, each task weighted by its instances (what
/// a task with empty requests is given by default). `None` when no task gives them.
pub fn median_requests(tasks: &[BatchTask]) -> (Option<u32>, Option<f64>) {
    fn weighted_median<T: Copy + PartialOrd>(mut v: Vec<(T, u64)>) -> Option<T> {
        v.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        let total: u64 = v.iter().map(|x| x.1).sum();
        let mut seen = 0;
        for (x, w) in &v {
            seen += w;
            if seen * 2 >= total && total > 0 {
                return Some(*x);
            }
        }
        None
    }
    let cpu = weighted_median(tasks.iter().filter_map(|t| Some((t.plan_cpu?, u64::from(t.instances)))).collect());
    let mem = weighted_median(tasks.iter().filter_map(|t| Some((t.plan_mem?, u64::from(t.instances)))).collect());
    (cpu, mem)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "task_create_time, task_end_time, job_id, task_id,number_of_instances, status, \
                          number_of_cpus_requested_per_instance_in_the_task,normalized_memory_requested_per_instance_in_the_task";

    #[test]
    fn parses_sorts_and_skips_the_header() {
        let text = format!(
            "{HEADER}\n6459,6524,3,4,15740,Terminated,50,0.007956928\n6036,6046,4,7,393,Waiting,,\n\n\
             -5,0,9,1,2,Running,100,0.01\n"
        );
        let t = parse(&text).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!((t[0].line, t[0].create_s, t[0].end_s, t[0].status), (5, -5, 0, TaskStatus::Running));
        assert_eq!((t[1].line, t[1].plan_cpu, t[1].plan_mem), (3, None, None));
        assert_eq!((t[2].job_id, t[2].task_id, t[2].instances, t[2].plan_cpu), (3, 4, 15740, Some(50)));
        assert_eq!(t[2].span_s(), 65);
        assert_eq!(median_requests(&t), (Some(50), Some(0.007956928)));
    }

    #[test]
    fn a_corrupt_row_names_its_line_and_column() {
        let cases = [
            ("1,2,3,4,5,Terminated,50\n", 1, 1, "expected 8"),
            ("1,2,3,4,5,Terminated,50,0.1\n1,2,x,4,5,Terminated,50,0.1\n", 2, 5, "job_id \"x\""),
            ("1,2,3,4,5,Done,50,0.1\n", 1, 11, "status \"Done\""),
            ("1,2,3,4,5,Failed,0.5,0.1\n", 1, 18, "plan_cpu \"0.5\""),
            ("1,2,3,4,5,Failed,50,1.5\n", 1, 21, "plan_mem \"1.5\""),
            ("1,2,3,4,-5,Failed,50,0.1\n", 1, 9, "instance_num \"-5\""),
        ];
        for (text, line, column, msg) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.column), (line, column), "{text}: {e:?}");
            assert!(e.message.contains(msg), "{text}: {}", e.message);
        }
    }
}
