//! Brute-force protection for password logins: failures are counted per client
//! address and per user name; too many within a window lock that address or name out
//! for a while, and a locked-out attempt is refused before any password is checked
//! (`429` with `Retry-After`).
//!
//! An attempt is counted *before* its password is checked: [`LoginLimiter::reserve`]
//! takes a place for it under every key it touches, and attempts still being checked
//! count against the limit like failures, so a burst of simultaneous guesses gets no
//! more checks than a sequence of them. A reservation that ends in success frees its
//! place and clears the user's count; one that ends in failure becomes a failure; one
//! dropped unresolved (a busy server, a client gone) frees its place.
//!
//! State is per process. On several nodes each node limits on its own, which still
//! bounds guessing to a small multiple of the single-node rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed within [`WINDOW`] before a lockout, by default.
pub const MAX_FAILURES: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(300);
/// How long a lockout lasts, by default.
pub const LOCKOUT: Duration = Duration::from_secs(60);
/// How long a caller refused because its limit is taken by attempts still being
/// checked is asked to wait.
const IN_FLIGHT_RETRY: Duration = Duration::from_secs(1);
/// Entries kept at most; beyond it, stale entries are dropped first.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    /// Attempts reserved and not yet resolved.
    in_flight: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

impl Entry {
    fn new(now: Instant) -> Entry {
        Entry {
            failures: 0,
            in_flight: 0,
            window_start: now,
            locked_until: None,
        }
    }

    /// Starts a new window when the current one is over (attempts in flight stay).
    fn roll_window(&mut self, now: Instant) {
        if now.duration_since(self.window_start) >= WINDOW {
            *self = Entry {
                in_flight: self.in_flight,
                ..Entry::new(now)
            };
        }
    }
}

pub struct LoginLimiter {
    entries: Mutex<HashMap<String, Entry>>,
    max_failures: u32,
    lockout: Duration,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(MAX_FAILURES, LOCKOUT)
    }
}

/// A place taken for one attempt under each of its keys; resolve it with
/// [`Attempt::failed`] or [`Attempt::succeeded`], or drop it to give the place back.
#[must_use]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    keys: Vec<String>,
}

impl LoginLimiter {
    /// `max_failures` (at least 1) within [`WINDOW`] lock a key out for `lockout`.
    pub fn new(max_failures: u32, lockout: Duration) -> LoginLimiter {
        LoginLimiter {
            entries: Mutex::new(HashMap::new()),
            max_failures: max_failures.max(1),
            lockout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long `keys` must still wait, if any of them is locked out.
    pub fn locked(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let entries = self.lock();
        keys.iter()
            .filter_map(|k| entries.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Takes a place for one attempt under every key, or says how long to wait: a key
    /// is locked out, or its failures and the attempts still in flight already reach
    /// the limit.
    pub fn reserve(&self, keys: &[String]) -> Result<Attempt<'_>, Duration> {
        let now = Instant::now();
        let mut entries = self.lock();
        let mut wait: Option<Duration> = None;
        for k in keys {
            let Some(e) = entries.get_mut(k) else {
                continue;
            };
            if let Some(until) = e.locked_until.filter(|u| *u > now) {
                wait = wait.max(Some(until - now));
                continue;
            }
            e.roll_window(now);
            if e.failures + e.in_flight >= self.max_failures {
                wait = wait.max(Some(IN_FLIGHT_RETRY));
            }
        }
        if let Some(wait) = wait {
            return Err(wait);
        }
        make_room(&mut entries, now);
        for k in keys {
            entries
                .entry(k.clone())
                .or_insert_with(|| Entry::new(now))
                .in_flight += 1;
        }
        Ok(Attempt {
            limiter: self,
            keys: keys.to_vec(),
        })
    }

    fn count_failure(&self, e: &mut Entry, now: Instant) {
        e.roll_window(now);
        e.failures += 1;
        if e.failures >= self.max_failures {
            e.locked_until = Some(now + self.lockout);
            e.failures = 0;
            e.window_start = now;
        }
    }

    /// A successful login clears the user's count (not the address's).
    pub fn succeeded(&self, user_key: &str) {
        self.lock().remove(user_key);
    }

    fn release(&self, keys: &[String], failed: bool) {
        let now = Instant::now();
        let mut entries = self.lock();
        for k in keys {
            let Some(e) = entries.get_mut(k) else {
                continue;
            };
            e.in_flight = e.in_flight.saturating_sub(1);
            if failed {
                self.count_failure(e, now);
            }
        }
    }
}

/// Keeps the table bounded: stale entries go first; under a flood of distinct keys,
/// the oldest half. Entries with attempts in flight stay.
fn make_room(entries: &mut HashMap<String, Entry>, now: Instant) {
    if entries.len() < MAX_ENTRIES {
        return;
    }
    entries.retain(|_, e| {
        e.in_flight > 0
            || now.duration_since(e.window_start) < WINDOW
            || e.locked_until.is_some_and(|u| u > now)
    });
    if entries.len() >= MAX_ENTRIES {
        let mut starts: Vec<Instant> = entries.values().map(|e| e.window_start).collect();
        starts.sort();
        let cut = starts[starts.len() / 2];
        entries.retain(|_, e| e.in_flight > 0 || e.window_start >= cut);
    }
}

impl Attempt<'_> {
    /// The credentials were wrong: the place becomes a failure under every key.
    pub fn failed(mut self) {
        let keys = std::mem::take(&mut self.keys);
        self.limiter.release(&keys, true);
    }

    /// The credentials were right: the place is freed and `user_key`'s count cleared.
    pub fn succeeded(mut self, user_key: &str) {
        let keys = std::mem::take(&mut self.keys);
        self.limiter.release(&keys, false);
        self.limiter.succeeded(user_key);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.keys.is_empty() {
            self.limiter.release(&self.keys, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ip: &str, user: &str) -> Vec<String> {
        vec![format!("ip:{ip}"), format!("user:{user}")]
    }

    #[test]
    fn locks_after_too_many_failures() {
        let l = LoginLimiter::default();
        let keys = keys("1.2.3.4", "alice");
        for _ in 0..MAX_FAILURES - 1 {
            l.reserve(&keys).unwrap().failed();
            assert!(l.locked(&keys).is_none());
        }
        l.reserve(&keys).unwrap().failed();
        let wait = l.locked(&keys).expect("locked");
        assert!(wait <= LOCKOUT && wait > LOCKOUT - Duration::from_secs(2));
        // The same user from elsewhere is locked too; another user from elsewhere is not.
        assert!(l.locked(&self::keys("5.6.7.8", "alice")).is_some());
        assert!(l.locked(&self::keys("5.6.7.8", "bob")).is_none());
    }

    #[test]
    fn attempts_in_flight_count_against_the_limit() {
        let l = LoginLimiter::default();
        let k = keys("1.2.3.4", "alice");
        let held: Vec<Attempt> = (0..MAX_FAILURES)
            .map(|_| l.reserve(&k).expect("a place"))
            .collect();
        // All places taken by attempts still being checked: the next waits.
        assert_eq!(l.reserve(&k).err(), Some(IN_FLIGHT_RETRY));
        assert!(l.reserve(&keys("5.6.7.8", "alice")).is_err());
        assert!(l.reserve(&keys("5.6.7.8", "bob")).is_ok());
        // They all fail: locked out for the whole lockout.
        for a in held {
            a.failed();
        }
        assert!(l.reserve(&k).err().is_some_and(|w| w > IN_FLIGHT_RETRY));
    }

    #[test]
    fn dropped_and_successful_attempts_give_their_place_back() {
        let l = LoginLimiter::new(2, LOCKOUT);
        let k = keys("1.2.3.4", "alice");
        for _ in 0..10 {
            drop(l.reserve(&k).expect("a place"));
        }
        l.reserve(&k).unwrap().failed();
        l.reserve(&k).unwrap().succeeded("user:alice");
        // The success cleared the user's count but not the address's.
        l.reserve(&k).unwrap().failed();
        assert!(l.locked(&k).is_some());
        assert!(l.locked(&keys("5.6.7.8", "alice")).is_none());
    }
}
