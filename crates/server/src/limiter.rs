//! Brute-force protection for password logins: failures are counted per client
//! address and per user name; too many within a window lock that address or name out
//! for a while, and a locked-out attempt is refused before any password is checked
//! (`429` with `Retry-After`).
//!
//! State is per process. On several nodes each node limits on its own, which still
//! bounds guessing to a small multiple of the single-node rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed within [`WINDOW`] before a lockout.
pub const MAX_FAILURES: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(300);
pub const LOCKOUT: Duration = Duration::from_secs(60);
/// Entries kept at most; beyond it, stale entries are dropped first.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

#[derive(Default)]
pub struct LoginLimiter {
    entries: Mutex<HashMap<String, Entry>>,
}

impl LoginLimiter {
    /// How long `keys` must still wait, if any of them is locked out.
    pub fn locked(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .filter_map(|k| entries.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| {
                now.duration_since(e.window_start) < WINDOW
                    || e.locked_until.is_some_and(|u| u > now)
            });
            if entries.len() >= MAX_ENTRIES {
                // Under a flood of distinct keys, forget the oldest half rather than grow.
                let mut starts: Vec<Instant> = entries.values().map(|e| e.window_start).collect();
                starts.sort();
                let cut = starts[starts.len() / 2];
                entries.retain(|_, e| e.window_start >= cut);
            }
        }
        for k in keys {
            let e = entries.entry(k.clone()).or_insert(Entry {
                failures: 0,
                window_start: now,
                locked_until: None,
            });
            if now.duration_since(e.window_start) >= WINDOW {
                *e = Entry {
                    failures: 0,
                    window_start: now,
                    locked_until: None,
                };
            }
            e.failures += 1;
            if e.failures >= MAX_FAILURES {
                e.locked_until = Some(now + LOCKOUT);
                e.failures = 0;
                e.window_start = now;
            }
        }
    }

    /// A successful login clears the user's count (not the address's).
    pub fn succeeded(&self, user_key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(user_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_too_many_failures() {
        let l = LoginLimiter::default();
        let keys = vec!["ip:1.2.3.4".to_owned(), "user:alice".to_owned()];
        for _ in 0..MAX_FAILURES - 1 {
            l.failed(&keys);
            assert!(l.locked(&keys).is_none());
        }
        l.failed(&keys);
        let wait = l.locked(&keys).expect("locked");
        assert!(wait <= LOCKOUT && wait > LOCKOUT - Duration::from_secs(2));
        // The same user from elsewhere is locked too; another user from elsewhere is not.
        assert!(l
            .locked(&["ip:5.6.7.8".into(), "user:alice".into()])
            .is_some());
        assert!(l
            .locked(&["ip:5.6.7.8".into(), "user:bob".into()])
            .is_none());
    }
}
