//! What a connection counts against from its first byte: the sockets not yet
//! upgraded to a WebSocket, and the connections not yet signed in, in all
//! and per client address (`limits.max_unauthenticated`,
//! `limits.max_unauthenticated_per_address`).
//!
//! The accept loop asks [`Admission::admit`] for each new socket: over its
//! address's cap, the socket is answered `503` and closed at once, before any
//! task or buffer is spent on it. At the cap in all, the oldest socket that
//! has not sent a whole request yet is closed to make room (idle or slow
//! sockets cannot keep new clients and `/readyz` out; a real client's
//! request takes milliseconds, an attacker's holds for the header timeout);
//! only when there is none (every connection not signed in is a WebSocket)
//! is the new one refused. Otherwise it gets two tickets that give their place back
//! when dropped: a [`PreUpgrade`] (dropped when the socket becomes a
//! WebSocket, or closes) and an [`Unauthenticated`] (dropped when the
//! connection signs in, or closes). The client address is the TCP peer: a
//! socket is counted before a byte of its request is read, so the sockets of
//! a trusted proxy (`server.trusted_proxies`, whose clients' addresses are
//! only in their requests) count in the total only.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio_util::sync::CancellationToken;

use crate::config::Limits;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The counters behind the tickets.
#[derive(Debug)]
pub(crate) struct Admission {
    max_unauthenticated: usize,
    max_per_address: usize,
    /// Sockets accepted and not (yet) a WebSocket.
    pre_upgrade: AtomicUsize,
    /// Connections not signed in, from their accept.
    unauthenticated: AtomicUsize,
    /// The same, per client address (an address with none has no entry).
    by_address: Mutex<HashMap<IpAddr, usize>>,
    /// The sockets not upgraded, oldest first (those gone are skipped, and
    /// swept when they are many).
    waiting: Mutex<VecDeque<Weak<Waiting>>>,
}

/// What the accept loop holds to close a socket not upgraded.
#[derive(Debug, Default)]
struct Waiting {
    evict: CancellationToken,
}

/// Why a socket was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `limits.max_unauthenticated` connections are not signed in.
    Total,
    /// `limits.max_unauthenticated_per_address` of them come from this address.
    Address,
}

impl Refused {
    /// The metric label.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Refused::Total => "unauthenticated_limit",
            Refused::Address => "unauthenticated_address_limit",
        }
    }
}

impl Admission {
    pub(crate) fn new(limits: &Limits) -> Admission {
        Admission {
            max_unauthenticated: limits.max_unauthenticated,
            max_per_address: limits.max_unauthenticated_per_address,
            pre_upgrade: AtomicUsize::new(0),
            unauthenticated: AtomicUsize::new(0),
            by_address: Mutex::new(HashMap::new()),
            waiting: Mutex::new(VecDeque::new()),
        }
    }

    /// Counts a new socket from `peer`, or refuses it. `per_address`: whether
    /// the per-address cap applies (not to a trusted proxy). At the cap in
    /// all, the oldest socket not upgraded is told to close ([`PreUpgrade::evicted`])
    /// and the new one takes its place (the count passes the cap until that
    /// socket's task has ended: by at most the sockets not upgraded); the
    /// `bool` says whether one was.
    pub(crate) fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
        per_address: bool,
    ) -> Result<((PreUpgrade, Unauthenticated), bool), Refused> {
        let mut evicted = false;
        {
            let mut by_address = lock(&self.by_address);
            let n = by_address.get(&peer).copied().unwrap_or(0);
            if per_address && n >= self.max_per_address {
                return Err(Refused::Address);
            }
            if self.unauthenticated.load(Ordering::Acquire) >= self.max_unauthenticated {
                if !self.evict_oldest() {
                    return Err(Refused::Total);
                }
                evicted = true;
            }
            *by_address.entry(peer).or_insert(0) += 1;
            // Under the lock: two accepts cannot both take the last place.
            self.unauthenticated.fetch_add(1, Ordering::AcqRel);
        }
        let pre_upgrade = self.pre_upgrade.fetch_add(1, Ordering::AcqRel) + 1;
        let waiting = Arc::new(Waiting::default());
        {
            let mut queue = lock(&self.waiting);
            queue.push_back(Arc::downgrade(&waiting));
            if queue.len() > 2 * pre_upgrade + 64 {
                queue.retain(|w| w.strong_count() > 0);
            }
        }
        Ok((
            (
                PreUpgrade {
                    admission: self.clone(),
                    waiting,
                },
                Unauthenticated {
                    admission: self.clone(),
                    peer,
                },
            ),
            evicted,
        ))
    }

    /// Tells the oldest socket not upgraded (and not told already) to close.
    fn evict_oldest(&self) -> bool {
        let mut queue = lock(&self.waiting);
        while let Some(w) = queue.pop_front() {
            if let Some(w) = w.upgrade()
                && !w.evict.is_cancelled()
            {
                w.evict.cancel();
                return true;
            }
        }
        false
    }

    /// Sockets accepted and not (yet) a WebSocket.
    pub(crate) fn pre_upgrade(&self) -> usize {
        self.pre_upgrade.load(Ordering::Acquire)
    }

    /// Connections not signed in (sockets not upgraded included).
    pub(crate) fn unauthenticated(&self) -> usize {
        self.unauthenticated.load(Ordering::Acquire)
    }
}

/// A socket's two tickets, as its HTTP requests carry them (an extension):
/// the WebSocket upgrade takes them to the connection; otherwise they stay
/// with the socket until it closes.
#[derive(Debug, Clone)]
pub(crate) struct Tickets(Arc<Mutex<Option<(PreUpgrade, Unauthenticated)>>>);

impl Tickets {
    pub(crate) fn new(tickets: (PreUpgrade, Unauthenticated)) -> Tickets {
        Tickets(Arc::new(Mutex::new(Some(tickets))))
    }

    /// The tickets, for the connection the socket becomes (once).
    pub(crate) fn take(&self) -> Option<(PreUpgrade, Unauthenticated)> {
        lock(&self.0).take()
    }
}

/// A socket that is not a WebSocket (yet): counts against
/// `limits.max_connections` beside the WebSocket connections.
#[derive(Debug)]
pub(crate) struct PreUpgrade {
    admission: Arc<Admission>,
    waiting: Arc<Waiting>,
}

impl PreUpgrade {
    /// Cancelled when the socket must close to make room for a newer one.
    pub(crate) fn evicted(&self) -> CancellationToken {
        self.waiting.evict.clone()
    }
}

impl Drop for PreUpgrade {
    fn drop(&mut self) {
        self.admission.pre_upgrade.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A connection that has not signed in.
#[derive(Debug)]
pub(crate) struct Unauthenticated {
    admission: Arc<Admission>,
    peer: IpAddr,
}

impl Drop for Unauthenticated {
    fn drop(&mut self) {
        let mut by_address = lock(&self.admission.by_address);
        if let Some(n) = by_address.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                by_address.remove(&self.peer);
            }
        }
        self.admission
            .unauthenticated
            .fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(total: usize, per_address: usize) -> Arc<Admission> {
        Arc::new(Admission::new(&Limits {
            max_unauthenticated: total,
            max_unauthenticated_per_address: per_address,
            ..Limits::default()
        }))
    }

    fn admit(a: &Arc<Admission>, ip: IpAddr) -> Result<(PreUpgrade, Unauthenticated), Refused> {
        a.admit(ip, true).map(|(t, _)| t)
    }

    #[test]
    fn caps_per_address_and_gives_places_back() {
        let a = admission(10, 2);
        let one: IpAddr = [10, 0, 0, 1].into();
        let t1 = admit(&a, one).unwrap();
        let _t2 = admit(&a, one).unwrap();
        assert_eq!(admit(&a, one).err(), Some(Refused::Address));
        assert_eq!((a.pre_upgrade(), a.unauthenticated()), (2, 2));
        // Upgraded: no longer pre-upgrade, still not signed in.
        let (pre, unauth) = t1;
        drop(pre);
        assert_eq!((a.pre_upgrade(), a.unauthenticated()), (1, 2));
        assert_eq!(admit(&a, one).err(), Some(Refused::Address));
        // Signed in: its place is free again.
        drop(unauth);
        let _t3 = admit(&a, one).unwrap();
    }

    #[test]
    fn at_the_total_cap_the_oldest_socket_not_upgraded_makes_room() {
        let a = admission(3, 10);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t1 = admit(&a, ip).unwrap();
        let t2 = admit(&a, ip).unwrap();
        let t3 = admit(&a, ip).unwrap();
        // t1 became a WebSocket (not signed in): it is not evicted.
        let (pre1, _unauth1) = t1;
        drop(pre1);
        let (t4, evicted) = a.admit(ip, true).unwrap();
        assert!(evicted);
        assert!(t2.0.evicted().is_cancelled(), "the oldest one waiting");
        assert!(!t3.0.evicted().is_cancelled());
        // Until it is gone the count passes the cap; not twice for it.
        drop(t2);
        let (t5, evicted) = a.admit(ip, true).unwrap();
        assert!(evicted);
        assert!(t3.0.evicted().is_cancelled());
        drop(t3);
        drop(t4);
        let (t6, evicted) = a.admit(ip, true).unwrap();
        assert!(!evicted, "under the cap again");
        let (t7, evicted) = a.admit(ip, true).unwrap();
        assert!(evicted);
        assert!(t5.0.evicted().is_cancelled());
        // The others became WebSockets: nothing left to evict.
        let ((pre6, _unauth6), (pre7, _unauth7)) = (t6, t7);
        drop((pre6, pre7));
        assert_eq!(a.admit(ip, true).err(), Some(Refused::Total));
    }

    #[test]
    fn a_trusted_proxy_counts_in_the_total_only() {
        let a = admission(3, 1);
        let proxy: IpAddr = [10, 0, 0, 9].into();
        let held: Vec<_> = (0..3).map(|_| a.admit(proxy, false).unwrap()).collect();
        assert!(held.iter().all(|(_, evicted)| !evicted));
    }

    #[test]
    fn an_address_with_nothing_open_has_no_entry_and_gone_sockets_are_swept() {
        let a = admission(10_000, 10_000);
        for _ in 0..1000 {
            drop(admit(&a, [10, 0, 0, 1].into()).unwrap());
        }
        assert!(a.by_address.lock().unwrap().is_empty());
        assert_eq!(a.unauthenticated(), 0);
        assert!(a.waiting.lock().unwrap().len() <= 65);
    }
}
