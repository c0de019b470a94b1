//! The persistence cron, on shard 0 (Redis's serverCron part for RDB):
//! `save <seconds> <changes>` rules, BGSAVE SCHEDULE, and the save a
//! SIGTERM/SIGINT asks for before the process exits.
//!
//! It ticks every 100 ms (a timer: an idle node stays idle) and looks at
//! the change counters once a second, only when rules are set.

use super::{background, status};
use crate::config::keys as conf;
use crate::persist::host::{NodeState, ShardData, ShardHost};
use crate::sys::clock::unix_ms;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

/// After a failed BGSAVE, rules wait this long before trying again
/// (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const RETRY_DELAY_SECS: u64 = 5;
const TICK: Duration = Duration::from_millis(100);

/// `save` as (seconds, changes) pairs; empty when saving is off.
pub fn parse_rules(text: &str) -> Vec<(u64, u64)> {
    let nums: Vec<u64> = text
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    nums.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// Whether `save` rules are configured.
pub fn rules_set<S: NodeState + ?Sized>(shared: &S) -> bool {
    shared.read_config(|c| !c.text(conf::SAVE).trim().is_empty())
}

/// The rule a BGSAVE should start for, if any: enough changes, enough
/// time since the last save, and not within the retry delay of a
/// failed attempt.
pub fn rule_due(
    rules: &[(u64, u64)],
    changes: u64,
    now_secs: u64,
    lastsave_secs: u64,
    last_try_secs: u64,
    last_ok: bool,
) -> Option<(u64, u64)> {
    let may_retry = last_ok || now_secs.saturating_sub(last_try_secs) > RETRY_DELAY_SECS;
    rules.iter().copied().find(|&(secs, min_changes)| {
        changes >= min_changes && now_secs.saturating_sub(lastsave_secs) > secs && may_retry
    })
}

/// A save requested from outside the shards (the signal thread, a
/// shutdown that waited for its replicas), with where to report whether
/// it succeeded.
static EXIT_SAVE: Mutex<Option<mpsc::Sender<bool>>> = Mutex::new(None);
static EXIT_SAVE_PENDING: AtomicBool = AtomicBool::new(false);

/// From a thread outside the shards: has shard 0 save the RDB (waiting
/// for a running snapshot first) and blocks until it has. False when the
/// save failed; the caller decides whether to exit anyway (FORCE).
pub fn save_for_exit() -> bool {
    let (tx, rx) = mpsc::channel();
    *EXIT_SAVE.lock().unwrap() = Some(tx);
    EXIT_SAVE_PENDING.store(true, Ordering::Release);
    rx.recv().unwrap_or(false)
}

/// Waits until no snapshot runs (SHUTDOWN and the exit save write the
/// file themselves, as Redis's shutdown replaces a running child).
pub async fn wait_no_snapshot() {
    while status::snapshot_running() {
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
}

/// The cron; spawned on shard 0 only.
pub async fn cron<H: ShardHost>(rt: Rc<H>) {
    let mut ticks = 0u64;
    loop {
        glommio::timer::sleep(TICK).await;
        ticks += 1;
        if EXIT_SAVE_PENDING.swap(false, Ordering::AcqRel) {
            wait_no_snapshot().await;
            let ok = crate::persist::blocking_save::save_all(&rt).await;
            if let Some(tx) = EXIT_SAVE.lock().unwrap().take() {
                let _ = tx.send(ok);
            }
            continue;
        }
        if status::snapshot_running() {
            continue;
        }
        if status::take_scheduled() {
            background::start_bgsave(&rt);
            continue;
        }
        if !ticks.is_multiple_of(10) {
            continue;
        }
        let rules = parse_rules(&rt.node().read_config(|c| c.text(conf::SAVE)));
        if rules.is_empty() {
            continue;
        }
        let changes: u64 = H::run_on_all(&rt, |rt| rt.dirty()).await.iter().sum();
        let now = unix_ms() / 1000;
        let due = rule_due(
            &rules,
            changes,
            now,
            rt.node().lastsave_unix().load(Ordering::Relaxed),
            status::last_bgsave_try_secs(),
            status::last_bgsave_ok(),
        );
        if let Some((secs, _)) = due {
            crate::notice!("{changes} changes in {secs} seconds. Saving...");
            background::start_bgsave(&rt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_in_pairs() {
        assert_eq!(parse_rules(""), vec![]);
        assert_eq!(parse_rules("3600 1 300 100"), vec![(3600, 1), (300, 100)]);
    }

    #[test]
    fn a_rule_needs_changes_and_time() {
        let rules = [(60, 10), (1, 1000)];
        // 10 changes, 61 s since the last save: the first rule.
        assert_eq!(rule_due(&rules, 10, 1061, 1000, 0, true), Some((60, 10)));
        // Not enough time for the first, not enough changes for the second.
        assert_eq!(rule_due(&rules, 10, 1030, 1000, 0, true), None);
        assert_eq!(rule_due(&rules, 1000, 1002, 1000, 0, true), Some((1, 1000)));
    }

    #[test]
    fn a_failed_save_is_retried_after_the_delay() {
        let rules = [(1, 1)];
        assert_eq!(rule_due(&rules, 5, 1010, 1000, 1008, false), None);
        assert_eq!(rule_due(&rules, 5, 1010, 1000, 1004, false), Some((1, 1)));
    }
}
