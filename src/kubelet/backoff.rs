//! CrashLoopBackOff: when the kubelet may restart a container that exited, exactly as upstream v1.34 decides it.
//!
//! Upstream keeps one `flowcontrol.Backoff` entry per container (`window`, `lastUpdate`), created with
//! `NewBackOff(10 s, 300 s)` and no jitter (`pkg/kubelet/kubelet.go`, `NewMainKubelet`). On every pod sync,
//! `doBackOff` (`pkg/kubelet/kuberuntime/kuberuntime_manager.go`) takes the `FinishedAt` of the container's
//! latest exit and:
//!
//! - with no entry, or an *expired* one, restarts the container at once and calls `Next`, which creates the
//!   entry with a 10 s window (so the first crash restarts immediately, issue #133472);
//! - otherwise, while `now - FinishedAt < window`, leaves it in `CrashLoopBackOff`; once the window has passed
//!   it restarts the container and `Next` doubles the window, capped at 300 s.
//!
//! `Next` stamps `lastUpdate = now`, the moment of the restart. An entry is *expired* when the container's exit
//! came more than 600 s after that restart: the kubelet replaces client-go's default rule (`2 x max` since the
//! last update) by its own `HasExpiredFunc`, `eventTime - lastUpdate > 600 s` (the same 600 s with the default
//! maximum). The kubelet's housekeeping also garbage-collects entries whose `lastUpdate` is more than 600 s old
//! (`backOff.GC()` in `HandlePodCleanups`), which ends a long wait early: a container that ran 400 s and then
//! waits 300 s is restarted when its entry is collected, 600 s after its previous restart.

use crate::time::{SimDuration, SimTime};

/// `initialCrashLoopBackOff`: the first window, 10 s.
pub const INITIAL: SimDuration = SimDuration::from_secs(10);
/// `MaxContainerBackOff`: the cap of the window, 300 s.
pub const MAX: SimDuration = SimDuration::from_secs(300);
/// The kubelet's `HasExpiredFunc`: an entry expires when more than 600 s passed since its last update.
pub const EXPIRY: SimDuration = SimDuration::from_secs(600);

/// The back-off entry of one container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    window: SimDuration,
    last_update: SimTime,
}

/// One container's CrashLoopBackOff state (upstream's per-container `flowcontrol.Backoff` entry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashLoopBackOff {
    entry: Option<Entry>,
}

/// `hasExpired(eventTime, lastUpdate)` with the kubelet's rule.
fn expired(event: SimTime, last_update: SimTime) -> bool {
    event.since(last_update) > EXPIRY
}

impl CrashLoopBackOff {
    /// When the kubelet restarts a container that exited at `finished_at` (it notices the exit at once).
    ///
    /// The end of the window, or the moment housekeeping collects the entry if that comes first: the first
    /// microsecond at which more than 600 s have passed since the last update.
    pub fn restart_at(&self, finished_at: SimTime) -> SimTime {
        match self.entry {
            None => finished_at,
            Some(e) if expired(finished_at, e.last_update) => finished_at,
            Some(e) => {
                let window_end = finished_at.add(e.window);
                let collected = e.last_update.add(EXPIRY).add(SimDuration(1));
                window_end.min(collected)
            }
        }
    }

    /// `Next`, called when the container that exited at `finished_at` is restarted at `now`: a new entry with
    /// the initial window if there was none (or it expired, or was collected), else the window doubled.
    pub fn next(&mut self, finished_at: SimTime, now: SimTime) {
        let window = match self.entry {
            Some(e) if !expired(finished_at, e.last_update) && !expired(now, e.last_update) => {
                e.window.saturating_mul(2).min(MAX)
            }
            _ => INITIAL,
        };
        self.entry = Some(Entry { window, last_update: now });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> SimTime {
        SimTime::from_secs(secs)
    }

    /// A container that runs `run_s` after each (instant) start: the waits before successive restarts.
    fn waits(run_s: u64, n: usize) -> Vec<u64> {
        let mut b = CrashLoopBackOff::default();
        let mut now = s(0);
        let mut out = Vec::new();
        for _ in 0..n {
            let exit = now.add(SimDuration::from_secs(run_s));
            let at = b.restart_at(exit);
            out.push(at.since(exit).micros());
            b.next(exit, at);
            now = at;
        }
        out
    }

    #[test]
    fn first_restart_is_immediate_then_doubles_to_the_cap() {
        let secs: Vec<u64> = waits(5, 9).iter().map(|us| us / 1_000_000).collect();
        assert_eq!(secs, vec![0, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn a_run_longer_than_600_s_resets_the_back_off() {
        let mut b = CrashLoopBackOff::default();
        // Crash loop up to a 40 s window.
        let mut now = s(0);
        for _ in 0..4 {
            let exit = now.add(SimDuration::from_secs(1));
            let at = b.restart_at(exit);
            b.next(exit, at);
            now = at;
        }
        // Exactly 600 s after the restart is not "more than 600 s": the entry still holds (an 80 s window), but
        // housekeeping collects it a microsecond later, which ends the wait.
        let exit = now.add(EXPIRY);
        assert_eq!(b.restart_at(exit), exit.add(SimDuration(1)));
        // 600 s and a microsecond: expired, restart at once, then 10 s again.
        let exit = now.add(EXPIRY).add(SimDuration(1));
        assert_eq!(b.restart_at(exit), exit);
        b.next(exit, exit);
        let exit2 = exit.add(SimDuration::from_secs(1));
        assert_eq!(b.restart_at(exit2), exit2.add(INITIAL));
    }

    #[test]
    fn housekeeping_collects_an_entry_during_a_long_wait() {
        // Windows grow to 300 s with quick crashes; then a 400 s run: its 300 s wait would end 701 s after the
        // last restart, but the entry is collected after 600 s (and the next crash starts over at 10 s).
        let mut b = CrashLoopBackOff::default();
        let mut now = s(0);
        for _ in 0..7 {
            let exit = now.add(SimDuration::from_secs(1));
            let at = b.restart_at(exit);
            b.next(exit, at);
            now = at;
        }
        let exit = now.add(SimDuration::from_secs(400));
        let at = b.restart_at(exit);
        assert_eq!(at, now.add(EXPIRY).add(SimDuration(1)));
        b.next(exit, at);
        let exit2 = at.add(SimDuration::from_secs(1));
        assert_eq!(b.restart_at(exit2), exit2.add(INITIAL));
    }
}
