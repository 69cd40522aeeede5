//! What a connection counts against from its first byte: the sockets not yet
//! upgraded to a WebSocket, and the connections not yet signed in, in all
//! and per client address (`limits.max_unauthenticated`,
//! `limits.max_unauthenticated_per_address`).
//!
//! The accept loop asks [`Admission::admit`] for each new socket: over a cap,
//! the socket is answered `503` and closed at once, before any task or buffer
//! is spent on it. Otherwise it gets two tickets that give their place back
//! when dropped: a [`PreUpgrade`] (dropped when the socket becomes a
//! WebSocket, or closes) and an [`Unauthenticated`] (dropped when the
//! connection signs in, or closes). The client address is the TCP peer: a
//! socket is counted before a byte of its request is read, so the sockets of
//! a trusted proxy (`server.trusted_proxies`, whose clients' addresses are
//! only in their requests) count in the total only.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::Limits;

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
        }
    }

    /// Counts a new socket from `peer`, or refuses it. `per_address`: whether
    /// the per-address cap applies (not to a trusted proxy).
    pub(crate) fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
        per_address: bool,
    ) -> Result<(PreUpgrade, Unauthenticated), Refused> {
        {
            let mut by_address = self
                .by_address
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if self.unauthenticated.load(Ordering::Acquire) >= self.max_unauthenticated {
                return Err(Refused::Total);
            }
            let n = by_address.entry(peer).or_insert(0);
            if per_address && *n >= self.max_per_address {
                return Err(Refused::Address);
            }
            *n += 1;
            // Under the lock: two accepts cannot both take the last place.
            self.unauthenticated.fetch_add(1, Ordering::AcqRel);
        }
        self.pre_upgrade.fetch_add(1, Ordering::AcqRel);
        Ok((
            PreUpgrade {
                admission: self.clone(),
            },
            Unauthenticated {
                admission: self.clone(),
                peer,
            },
        ))
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
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// A socket that is not a WebSocket (yet): counts against
/// `limits.max_connections` beside the WebSocket connections.
#[derive(Debug)]
pub(crate) struct PreUpgrade {
    admission: Arc<Admission>,
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
        let mut by_address = self
            .admission
            .by_address
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
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

    #[test]
    fn caps_per_address_and_in_all_and_gives_places_back() {
        let a = admission(3, 2);
        let one: IpAddr = [10, 0, 0, 1].into();
        let two: IpAddr = [10, 0, 0, 2].into();
        let t1 = a.admit(one, true).unwrap();
        let _t2 = a.admit(one, true).unwrap();
        assert_eq!(a.admit(one, true).err(), Some(Refused::Address));
        let t3 = a.admit(two, true).unwrap();
        assert_eq!(a.admit(two, true).err(), Some(Refused::Total));
        assert_eq!((a.pre_upgrade(), a.unauthenticated()), (3, 3));
        // Upgraded: no longer pre-upgrade, still not signed in.
        drop(t3.0);
        assert_eq!((a.pre_upgrade(), a.unauthenticated()), (2, 3));
        // Signed in: its place is free again.
        drop(t3.1);
        let _t4 = a.admit(two, true).unwrap();
        drop(t1);
        let _t5 = a.admit(one, true).unwrap();
        assert_eq!(a.admit(one, true).err(), Some(Refused::Total));
    }

    #[test]
    fn a_trusted_proxy_counts_in_the_total_only() {
        let a = admission(3, 1);
        let proxy: IpAddr = [10, 0, 0, 9].into();
        let _t: Vec<_> = (0..3).map(|_| a.admit(proxy, false).unwrap()).collect();
        assert_eq!(a.admit(proxy, false).err(), Some(Refused::Total));
    }

    #[test]
    fn an_address_with_nothing_open_has_no_entry() {
        let a = admission(10, 10);
        let t = a.admit([10, 0, 0, 1].into(), true).unwrap();
        drop(t);
        assert!(a.by_address.lock().unwrap().is_empty());
        assert_eq!(a.unauthenticated(), 0);
    }
}
