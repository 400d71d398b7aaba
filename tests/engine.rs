//! Event ordering: the queue pops in (time, insertion) order under any interleaving of pushes and pops, and a
//! whole run's timeline never goes back.

use kubesim::engine::EventQueue;
use kubesim::time::SimTime;
use proptest::prelude::*;

proptest! {
    #[test]
    fn pops_in_time_then_fifo_order(ops in prop::collection::vec((any::<bool>(), 0u64..50), 1..400)) {
        let mut q: EventQueue<u64> = EventQueue::new();
        let mut next_id = 0u64;
        // Model: every pushed (time, id); ids increase with insertion.
        let mut model: Vec<(u64, u64)> = Vec::new();
        let mut last = (0u64, 0u64);
        for (push, delay) in ops {
            if push || q.is_empty() {
                let t = q.now().micros() + delay;
                q.push(SimTime(t), next_id);
                model.push((t, next_id));
                next_id += 1;
            } else {
                let (t, id) = q.pop().expect("non-empty");
                let expected = *model.iter().min().expect("model non-empty");
                prop_assert_eq!((t.micros(), id), expected);
                prop_assert!((t.micros(), id) >= last);
                last = (t.micros(), id);
                model.retain(|e| *e != expected);
            }
        }
    }
}

#[test]
fn a_runs_timeline_never_goes_back() {
    let scenario = kubesim::scenario::Scenario::load(std::path::Path::new("scenarios/node-failure.toml")).unwrap();
    let out = kubesim::run::run_in_memory(&scenario, None).unwrap();
    assert!(out.events.len() > 1000);
    for pair in out.events.windows(2) {
        assert!(pair[0].time <= pair[1].time, "{:?} then {:?}", pair[0], pair[1]);
    }
}
