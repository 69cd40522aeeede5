//! Spreading the moves of many notification sessions over a window.
//!
//! When a Finesse node goes down, comes back or Switchboard restarts, every
//! session moves at the same moment: each move is an XMPP sign-in and two REST
//! reads (User, Dialogs) on the node it moves to. [`Spread`] gives each move
//! (a session's first connect, a failover, a failback) a random delay within
//! the configured window (`finesse.failover_spread`), so a node takes them
//! over the window instead of within milliseconds.
//!
//! A lone move (one agent signing in) should not wait: the delay's ceiling
//! grows with the number of moves asked for within the last window, reaching
//! the whole window at [`Spread::BURST`] moves.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The shared spreading of session moves; clones share the count.
#[derive(Debug, Clone)]
pub struct Spread {
    window: Duration,
    /// When the moves of the last window were asked for, oldest first.
    recent: Arc<Mutex<VecDeque<Instant>>>,
}

impl Spread {
    /// Moves within one window from which each waits up to the whole window.
    pub const BURST: usize = 100;

    /// Moves spread over `window` (zero: no delay).
    pub fn new(window: Duration) -> Spread {
        Spread {
            window,
            recent: Arc::new(Mutex::new(VecDeque::new())),
        }
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The delay before one more move: random in `[0, window × min(1, n /
    /// BURST)]`, with `n` the moves asked for within the last window, this one
    /// included.
    pub fn delay(&self) -> Duration {
        if self.window.is_zero() {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let n = {
            let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            while recent
                .front()
                .is_some_and(|t| now.duration_since(*t) > self.window)
            {
                recent.pop_front();
            }
            recent.push_back(now);
            recent.len()
        };
        let ceiling = self
            .window
            .mul_f64((n as f64 / Self::BURST as f64).min(1.0));
        let millis = ceiling.as_millis() as u64;
        Duration::from_millis(if millis == 0 {
            0
        } else {
            fastrand::u64(..=millis)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_move_barely_waits_and_a_burst_covers_the_window() {
        let window = Duration::from_secs(10);
        let spread = Spread::new(window);
        assert!(spread.delay() <= window / Spread::BURST as u32);
        let delays: Vec<Duration> = (0..500).map(|_| spread.delay()).collect();
        assert!(delays.iter().all(|d| *d <= window));
        let late = &delays[Spread::BURST..];
        let max = late.iter().max().copied().unwrap_or_default();
        let min = late.iter().min().copied().unwrap_or_default();
        assert!(
            max - min > window * 8 / 10,
            "a burst spreads over the window: {min:?}..{max:?}"
        );
        assert_eq!(Spread::new(Duration::ZERO).delay(), Duration::ZERO);
    }
}
