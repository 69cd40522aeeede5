//! The sign-in throttle: failed sign-ins counted per (user name, client
//! address) and per account, so that a guesser is slowed and then refused
//! without touching anyone else, and so that the broker never lets through
//! enough wrong passwords for Finesse to lock the account.
//!
//! - Each failure of a (user name, address) pair delays that pair's next
//!   attempt by `sign_in_failure_delay` more; after
//!   `sign_in_failures_before_lockout` failures the pair is refused for
//!   `sign_in_lockout`. Token sign-ins, which name no user before they are
//!   verified, count under the address alone.
//! - Each account (user name, from any address) is refused for
//!   `sign_in_lockout` after `sign_in_account_failures` failures, a number
//!   kept below Finesse's own lockout.
//! - The lockout is checked after the delay, and an attempt in progress
//!   counts as a failure until it ends: however many guesses arrive at once,
//!   no more reach Finesse than the failures still allowed. Attempts beyond
//!   that wait for the ones in progress (a success lets them through).
//! - A success forgets that pair's and that account's failures only.
//! - Failures older than the lockout are forgotten; the sweep drops them,
//!   and each table holds at most [`MAX_ENTRIES`] entries: when full, those
//!   holding no lockout and no attempt in progress go first, and if only
//!   lockouts are left, a new key is not tracked until room is freed (its
//!   attempt goes ahead rather than refusing people who never failed).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::config::Limits;

/// Entries per table at most (pairs, accounts).
pub const MAX_ENTRIES: usize = 100_000;

/// Longest user name kept as a key, in bytes (longer ones are cut).
const MAX_KEY_BYTES: usize = 128;

/// How long an attempt waits for the attempts in progress on its keys
/// before it is refused.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// A pair's key: the user name (lower case, cut) or none for a token, and
/// the client address.
type PairKey = (Option<Box<str>>, IpAddr);

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    in_flight: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

impl Failures {
    fn new(now: Instant) -> Failures {
        Failures {
            count: 0,
            in_flight: 0,
            last: now,
            locked_until: None,
        }
    }

    /// Whether nothing about it needs keeping at `now`.
    fn stale(&self, now: Instant, lockout: Duration) -> bool {
        self.in_flight == 0
            && self.locked_until.is_none_or(|t| t <= now)
            && now.saturating_duration_since(self.last) > lockout
    }

    /// Forgets an ended lockout or old failures.
    fn refresh(&mut self, now: Instant, lockout: Duration) {
        if self.locked_until.is_some_and(|t| t <= now)
            || (self.locked_until.is_none() && now.saturating_duration_since(self.last) > lockout)
        {
            self.count = 0;
            self.locked_until = None;
        }
    }
}

#[derive(Debug, Default)]
struct Tables {
    pairs: HashMap<PairKey, Failures>,
    accounts: HashMap<Box<str>, Failures>,
}

/// Why an attempt is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// This user name from this address (or this address's tokens) is locked out.
    Pair(Duration),
    /// The account is locked out, from every address.
    Account(Duration),
    /// Attempts in progress on the same keys did not end in time.
    Busy,
}

/// The sign-in throttle (one per gateway).
#[derive(Debug)]
pub struct Throttle {
    limits: Limits,
    tables: Mutex<Tables>,
    ended: Notify,
}

/// An admitted sign-in attempt: counts as a failure until it ends. Dropped
/// without [`Attempt::failed`] or [`Attempt::succeeded`] (Finesse could not
/// be asked), it counts as neither.
#[derive(Debug)]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    pair: PairKey,
    account: Option<Box<str>>,
    done: bool,
}

fn user_key(user: &str) -> Box<str> {
    let lower = user.trim().to_lowercase();
    let mut end = lower.len().min(MAX_KEY_BYTES);
    while !lower.is_char_boundary(end) {
        end -= 1;
    }
    lower[..end].into()
}

impl Throttle {
    /// A throttle with these limits.
    pub fn new(limits: Limits) -> Throttle {
        Throttle {
            limits,
            tables: Mutex::new(Tables::default()),
            ended: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits the pair's delay, then admits the attempt or refuses it.
    /// `user` is the user name of a password sign-in, `None` for a token.
    pub async fn admit(&self, user: Option<&str>, client: IpAddr) -> Result<Attempt<'_>, Refused> {
        let pair: PairKey = (user.map(user_key), client);
        let account = user.map(user_key);
        let delay = {
            let tables = self.lock();
            tables.pairs.get(&pair).map_or(Duration::ZERO, |f| {
                let mut f = *f;
                f.refresh(Instant::now(), self.limits.sign_in_lockout);
                self.limits.sign_in_failure_delay * f.count
            })
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            match self.try_admit(&pair, account.as_deref()) {
                Ok(true) => {
                    return Ok(Attempt {
                        throttle: self,
                        pair,
                        account,
                        done: false,
                    });
                }
                Ok(false) => {}
                Err(refused) => return Err(refused),
            }
            tokio::select! {
                () = &mut ended => {}
                () = tokio::time::sleep_until(deadline) => return Err(Refused::Busy),
            }
        }
    }

    /// Ok(true): admitted (counted in flight); Ok(false): wait for an
    /// attempt in progress; Err: refused.
    fn try_admit(&self, pair: &PairKey, account: Option<&str>) -> Result<bool, Refused> {
        let now = Instant::now();
        let lockout = self.limits.sign_in_lockout;
        let pair_limit = self.limits.sign_in_failures_before_lockout.max(1);
        let account_limit = self.limits.sign_in_account_failures.max(1);
        let mut tables = self.lock();
        let tables = &mut *tables;
        let mut p = tables.pairs.get(pair).copied();
        if let Some(f) = &mut p {
            f.refresh(now, lockout);
            if let Some(until) = f.locked_until {
                return Err(Refused::Pair(until - now));
            }
        }
        let mut a = account.and_then(|k| tables.accounts.get(k).copied());
        if let Some(f) = &mut a {
            f.refresh(now, lockout);
            if let Some(until) = f.locked_until {
                return Err(Refused::Account(until - now));
            }
        }
        let room =
            |f: &Option<Failures>, limit: u32| f.is_none_or(|f| f.count + f.in_flight < limit);
        if !room(&p, pair_limit) || !room(&a, account_limit) {
            return Ok(false);
        }
        // A table full of lockouts (a flood of invented names) tracks no new
        // key until the sweep frees room: the attempt goes ahead untracked
        // rather than refusing people who never failed.
        if make_room(&mut tables.pairs, pair, now, lockout) {
            let mut p = p.unwrap_or_else(|| Failures::new(now));
            p.in_flight += 1;
            tables.pairs.insert(pair.clone(), p);
        } else {
            tracing::debug!(
                "sign-in throttle: the table is full of lockouts; a new key is not tracked"
            );
        }
        if let Some(k) = account {
            if make_room(&mut tables.accounts, k, now, lockout) {
                let mut a = a.unwrap_or_else(|| Failures::new(now));
                a.in_flight += 1;
                tables.accounts.insert(k.into(), a);
            } else {
                tracing::debug!(
                    "sign-in throttle: the account table is full of lockouts; a new account is not tracked"
                );
            }
        }
        Ok(true)
    }

    fn end(&self, attempt: &mut Attempt<'_>, failed: bool) -> bool {
        if attempt.done {
            return false;
        }
        attempt.done = true;
        let now = Instant::now();
        let mut locked = false;
        {
            let mut tables = self.lock();
            let tables = &mut *tables;
            let mut record = |f: &mut Failures, limit: u32| {
                f.in_flight = f.in_flight.saturating_sub(1);
                if failed {
                    f.count += 1;
                    f.last = now;
                    if f.count >= limit.max(1) && f.locked_until.is_none() {
                        f.locked_until = Some(now + self.limits.sign_in_lockout);
                        locked = true;
                    }
                }
            };
            if let Some(f) = tables.pairs.get_mut(&attempt.pair) {
                record(f, self.limits.sign_in_failures_before_lockout);
            }
            if let Some(f) = attempt
                .account
                .as_deref()
                .and_then(|k| tables.accounts.get_mut(k))
            {
                record(f, self.limits.sign_in_account_failures);
            }
        }
        self.ended.notify_waiters();
        locked
    }

    fn succeed(&self, attempt: &mut Attempt<'_>) {
        if attempt.done {
            return;
        }
        attempt.done = true;
        {
            let mut tables = self.lock();
            let tables = &mut *tables;
            let clear = |f: &mut Failures| {
                f.in_flight = f.in_flight.saturating_sub(1);
                f.count = 0;
                f.locked_until = None;
            };
            if let Some(f) = tables.pairs.get_mut(&attempt.pair) {
                clear(f);
            }
            if let Some(f) = attempt
                .account
                .as_deref()
                .and_then(|k| tables.accounts.get_mut(k))
            {
                clear(f);
            }
        }
        self.ended.notify_waiters();
    }

    /// Drops what no longer holds a failure, a lockout or an attempt.
    pub fn sweep(&self, now: Instant) {
        let lockout = self.limits.sign_in_lockout;
        let mut tables = self.lock();
        tables.pairs.retain(|_, f| !f.stale(now, lockout));
        tables.accounts.retain(|_, f| !f.stale(now, lockout));
    }

    /// Entries held: (pairs, accounts).
    pub fn entries(&self) -> (usize, usize) {
        let tables = self.lock();
        (tables.pairs.len(), tables.accounts.len())
    }
}

/// Makes room for `key` in a full table; false if it cannot.
fn make_room<K, Q>(
    table: &mut HashMap<K, Failures>,
    key: &Q,
    now: Instant,
    lockout: Duration,
) -> bool
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    if table.len() < MAX_ENTRIES || table.contains_key(key) {
        return true;
    }
    table.retain(|_, f| !f.stale(now, lockout));
    if table.len() >= MAX_ENTRIES {
        // Forget failures that hold no lockout and no attempt first.
        table.retain(|_, f| f.in_flight > 0 || f.locked_until.is_some_and(|t| t > now));
    }
    table.len() < MAX_ENTRIES
}

impl Attempt<'_> {
    /// The credentials were wrong; true if this locked the pair or the account.
    pub fn failed(mut self) -> bool {
        let throttle = self.throttle;
        throttle.end(&mut self, true)
    }

    /// The credentials were right: forgets this pair's and this account's failures.
    pub fn succeeded(mut self) {
        let throttle = self.throttle;
        throttle.succeed(&mut self);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let throttle = self.throttle;
        throttle.end(self, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(pair: u32, account: u32) -> Throttle {
        Throttle::new(Limits {
            sign_in_failures_before_lockout: pair,
            sign_in_account_failures: account,
            sign_in_failure_delay: Duration::ZERO,
            ..Limits::default()
        })
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[tokio::test]
    async fn an_account_is_locked_from_every_address_and_a_success_clears_only_its_own_keys() {
        let t = throttle(10, 3);
        assert!(!t.admit(Some("Victim"), A).await.expect("admitted").failed());
        assert!(!t.admit(Some("victim"), B).await.expect("admitted").failed());
        assert!(
            t.admit(Some("victim"), A).await.expect("admitted").failed(),
            "the third failure locks the account"
        );
        assert!(matches!(
            t.admit(Some("victim"), B).await,
            Err(Refused::Account(_))
        ));
        // Another user on the same address is not touched, and its success
        // does not lift the victim's lockout.
        t.admit(Some("mallory"), A)
            .await
            .expect("admitted")
            .succeeded();
        assert!(matches!(
            t.admit(Some("VICTIM"), A).await,
            Err(Refused::Account(_))
        ));
    }

    #[tokio::test]
    async fn attempts_in_progress_count_so_a_burst_gets_no_more_than_the_failures_left() {
        let t = throttle(10, 3);
        t.admit(Some("u"), A).await.expect("admitted").failed();
        let first = t.admit(Some("u"), A).await.expect("admitted");
        let second = t.admit(Some("u"), A).await.expect("admitted");
        // A third waits for those in progress; when they fail, it is refused.
        let (refused, ends) = tokio::join!(t.admit(Some("u"), A), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            (first.failed(), second.failed())
        });
        assert!(matches!(refused, Err(Refused::Account(_))), "{refused:?}");
        assert_eq!(ends, (false, true));
    }

    #[tokio::test]
    async fn a_waiting_attempt_goes_ahead_when_the_one_in_progress_succeeds() {
        let t = throttle(10, 1);
        let first = t.admit(Some("u"), A).await.expect("admitted");
        let (second, ()) = tokio::join!(t.admit(Some("u"), A), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            first.succeeded();
        });
        assert!(second.is_ok());
    }

    #[tokio::test]
    async fn the_tables_stay_bounded_and_a_lockout_outlives_a_flood_of_names() {
        let t = throttle(10, 1);
        assert!(t.admit(Some("victim"), A).await.expect("admitted").failed());
        for i in 0..MAX_ENTRIES + 10 {
            t.admit(Some(&format!("invented-{i}")), B)
                .await
                .expect("admitted")
                .failed();
        }
        let (pairs, accounts) = t.entries();
        assert!(
            pairs <= MAX_ENTRIES && accounts <= MAX_ENTRIES,
            "{pairs} {accounts}"
        );
        // Full of lockouts: someone who never failed is still let through.
        t.admit(Some("newcomer"), A)
            .await
            .expect("admitted untracked")
            .succeeded();
        assert!(matches!(
            t.admit(Some("victim"), A).await,
            Err(Refused::Account(_))
        ));
    }

    #[test]
    fn the_sweep_drops_old_failures() {
        let t = throttle(10, 3);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(async {
            t.admit(Some("u"), A).await.expect("admitted").failed();
            t.admit(None, B).await.expect("admitted").failed();
        });
        assert_eq!(t.entries(), (2, 1));
        t.sweep(Instant::now());
        assert_eq!(t.entries(), (2, 1), "recent failures stay");
        t.sweep(Instant::now() + Limits::default().sign_in_lockout + Duration::from_secs(1));
        assert_eq!(t.entries(), (0, 0));
    }
}
