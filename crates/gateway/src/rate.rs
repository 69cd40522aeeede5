//! The rate limit on commands that reach Finesse: a token bucket per
//! connection and one per user over all its connections
//! (`limits.commands_per_second` / `command_burst`,
//! `limits.user_commands_per_second` / `user_command_burst`), and the count
//! of each user's signed-in connections (`limits.max_connections_per_user`).
//!
//! A command takes one token from its connection's bucket and one from its
//! user's; when either is empty the command is refused (ResponseType 11)
//! without reaching Finesse, and neither bucket is charged.

use std::sync::Mutex;
use std::time::Instant;

use dashmap::DashMap;

/// A token bucket: `burst` tokens at most, refilled at `rate` per second.
#[derive(Debug)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: u32, burst: u32) -> Bucket {
        let burst = f64::from(burst.max(1));
        Bucket {
            rate: f64::from(rate),
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
    }

    /// Whether a token is there (refilled up to `now`).
    fn has_token(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    fn take(&mut self) {
        self.tokens -= 1.0;
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let ok = self.has_token(now);
        if ok {
            self.take();
        }
        ok
    }
}

/// One user's connections and command bucket.
#[derive(Debug)]
struct UserEntry {
    connections: usize,
    bucket: Bucket,
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// The connection's bucket is empty.
    Connection,
    /// The user's bucket is empty.
    User,
}

/// The users' buckets and connection counts.
#[derive(Debug)]
pub struct Users {
    rate: u32,
    burst: u32,
    max_connections: usize,
    by_user: DashMap<String, Mutex<UserEntry>>,
}

impl Users {
    /// Users with `rate`/`burst` commands each and `max_connections` each.
    pub fn new(rate: u32, burst: u32, max_connections: usize) -> Users {
        Users {
            rate,
            burst,
            max_connections,
            by_user: DashMap::new(),
        }
    }

    /// Counts a new signed-in connection of `user`; false (and not counted)
    /// when the user already has the most allowed.
    pub fn join(&self, user: &str) -> bool {
        let entry = self.by_user.entry(user.to_owned()).or_insert_with(|| {
            Mutex::new(UserEntry {
                connections: 0,
                bucket: Bucket::new(self.rate, self.burst),
            })
        });
        let mut e = entry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if e.connections >= self.max_connections {
            return false;
        }
        e.connections += 1;
        true
    }

    /// Counts a connection of `user` gone; the user's entry goes with its
    /// last connection.
    pub fn leave(&self, user: &str) {
        self.by_user.remove_if(user, |_, e| {
            let mut e = e.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            e.connections = e.connections.saturating_sub(1);
            e.connections == 0
        });
    }

    /// Takes a token from the connection's bucket and the user's, or neither.
    pub fn admit(&self, user: &str, connection: &Mutex<Bucket>) -> Result<(), Limited> {
        let now = Instant::now();
        let mut conn = connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !conn.has_token(now) {
            return Err(Limited::Connection);
        }
        if let Some(entry) = self.by_user.get(user) {
            let mut e = entry
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !e.bucket.try_take(now) {
                return Err(Limited::User);
            }
        }
        conn.take();
        Ok(())
    }

    /// Signed-in connections of `user`.
    pub fn connections(&self, user: &str) -> usize {
        self.by_user.get(user).map_or(0, |e| {
            e.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .connections
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_gives_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut b = Bucket::new(5, 10);
        b.at = start;
        assert_eq!((0..20).filter(|_| b.try_take(start)).count(), 10);
        // 1 s later: 5 more, not 6.
        let later = start + Duration::from_secs(1);
        assert_eq!((0..20).filter(|_| b.try_take(later)).count(), 5);
        // A long pause refills no more than the burst.
        let much_later = later + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| b.try_take(much_later)).count(), 10);
    }

    #[test]
    fn the_user_bucket_is_shared_and_a_refusal_charges_nothing() {
        let users = Users::new(0, 3, 2);
        assert!(users.join("u"));
        assert!(users.join("u"));
        assert!(!users.join("u"), "a third connection is over the cap");
        let a = Mutex::new(Bucket::new(0, 2));
        let b = Mutex::new(Bucket::new(0, 2));
        assert_eq!(users.admit("u", &a), Ok(()));
        assert_eq!(users.admit("u", &b), Ok(()));
        assert_eq!(users.admit("u", &a), Ok(()));
        assert_eq!(users.admit("u", &b), Err(Limited::User));
        assert_eq!(users.admit("u", &a), Err(Limited::Connection));
        // b was not charged by its refusal: it still has a token.
        assert!(b.lock().unwrap().has_token(Instant::now()));
        users.leave("u");
        assert_eq!(users.connections("u"), 1);
        users.leave("u");
        assert_eq!(users.connections("u"), 0);
        assert!(users.join("u"), "the count starts again");
    }
}
