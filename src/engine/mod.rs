//! The discrete-event engine: one clock, one queue.
//!
//! Every state change in a run happens inside the handler of one event popped from one [`EventQueue`], in
//! `(time, sequence number)` order. Events scheduled for the same instant run in the order they were scheduled
//! (FIFO), which makes the run a pure function of the scenario and seed. There are no threads and no wall clock
//! inside a run.

mod queue;

pub use queue::EventQueue;
