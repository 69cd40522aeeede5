//! End-to-end latency histograms, one pair per worker thread.
//!
//! Two clocks are kept apart ([`Clock`]): from the moment the load tool
//! caused the event (its send time), and, for Switchboard, from the
//! notification's creation in the simulator (the event's `stateChangeTime`).
//! Every client task records into the histograms of the thread it runs on,
//! once per read of its socket ([`Batch`]), behind a mutex only that thread
//! takes while the run lasts (uncontended);
//! [`take`] merges and clears them all once the clients have stopped. This
//! keeps the hot path free of shared writes and the memory at one pair of
//! histograms per thread instead of one per client.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};

use hdrhistogram::Histogram;

/// The highest latency recorded, in microseconds (one hour); larger values
/// are recorded as this.
pub const MAX_US: u64 = 3_600_000_000;

/// Where a latency is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// From the load tool's send (the driver's PUT, or the NATS publish).
    Sent = 0,
    /// From the notification's creation (Switchboard: the simulator's
    /// `stateChangeTime`, millisecond resolution).
    Created = 1,
}

/// One thread's histograms, indexed by [`Clock`].
type Pair = [Histogram<u64>; 2];

/// The registry of every thread's histograms.
static ALL: Mutex<Vec<Arc<Mutex<Pair>>>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: RefCell<Option<Arc<Mutex<Pair>>>> = const { RefCell::new(None) };
}

/// A histogram for latencies in microseconds, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3)
        .expect("constant bounds: low >= 1, high >= 2 * low, 3 significant digits")
}

/// Runs `f` on this thread's histograms (made and registered on first use).
fn with_local(f: impl FnOnce(&mut Pair)) {
    LOCAL.with(|cell| {
        let mut slot = cell.borrow_mut();
        let h = slot.get_or_insert_with(|| {
            let h = Arc::new(Mutex::new([new_histogram(), new_histogram()]));
            ALL.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(h.clone());
            h
        });
        f(&mut h.lock().unwrap_or_else(PoisonError::into_inner));
    });
}

/// The latencies of one read of a client's socket, recorded together: one
/// access to the thread's histograms per read instead of one or two per
/// frame (a read carries a dozen or more frames under load). The buffers are
/// kept between reads.
#[derive(Debug, Default)]
pub struct Batch {
    sent: Vec<u64>,
    created: Vec<u64>,
}

impl Batch {
    /// Adds one latency measured from `clock`, in microseconds.
    pub fn push(&mut self, clock: Clock, us: u64) {
        match clock {
            Clock::Sent => self.sent.push(us),
            Clock::Created => self.created.push(us),
        }
    }

    /// Records what was added into this thread's histograms, and empties the
    /// batch.
    pub fn record(&mut self) {
        if self.sent.is_empty() && self.created.is_empty() {
            return;
        }
        with_local(|pair| {
            for (h, values) in pair.iter_mut().zip([&self.sent, &self.created]) {
                for &us in values {
                    h.saturating_record(us.clamp(1, MAX_US));
                }
            }
        });
        self.sent.clear();
        self.created.clear();
    }
}

/// Every thread's latencies since the last call, merged, per [`Clock`]
/// (`[sent, created]`); the histograms are cleared.
pub fn take() -> [Histogram<u64>; 2] {
    let mut total = [new_histogram(), new_histogram()];
    for h in ALL.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        let mut h = h.lock().unwrap_or_else(PoisonError::into_inner);
        for (t, h) in total.iter_mut().zip(h.iter_mut()) {
            // Same bounds on both sides: adding cannot fail.
            let _ = t.add(&*h);
            h.reset();
        }
    }
    total
}

/// Microseconds since the Unix epoch of an RFC 3339 UTC time as the
/// simulator and Finesse write it (`2026-11-24T13:05:09.123Z`; the fraction
/// may have 0 to 9 digits), or `None` when it is not one.
pub fn rfc3339_unix_micros(t: &str) -> Option<u64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let d = b.get(r)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0u64, |v, &c| v * 10 + u64::from(c - b'0')))
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let frac = &b[19..b.len() - 1];
    let micros = match frac.split_first() {
        None => 0,
        Some((b'.', digits)) if (1..=9).contains(&digits.len()) => {
            let n = num(20..20 + digits.len())?;
            let scale = 10u64.pow(digits.len() as u32);
            n * 1_000_000 / scale
        }
        Some(_) => return None,
    };
    // Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's
    // `days_from_civil`).
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(((days * 24 + hh) * 60 + mm) * 60_000_000 + ss * 1_000_000 + micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[test]
    fn rfc3339_times_are_read_as_the_standard_library_counts_them() {
        // Times the simulator writes, from 1970 to 2100, against a known
        // formatter (humantime, as the simulator uses).
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ms = x % 4_102_444_800_000;
            let t = UNIX_EPOCH + Duration::from_millis(ms);
            let text = humantime::format_rfc3339_millis(t).to_string();
            assert_eq!(rfc3339_unix_micros(&text), Some(ms * 1_000), "{text}");
            let secs = humantime::format_rfc3339_seconds(t).to_string();
            assert_eq!(
                rfc3339_unix_micros(&secs),
                Some(ms / 1_000 * 1_000_000),
                "{secs}"
            );
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let text = humantime::format_rfc3339_micros(UNIX_EPOCH + now).to_string();
        assert_eq!(rfc3339_unix_micros(&text), Some(now.as_micros() as u64));
    }

    #[test]
    fn other_text_is_refused() {
        for t in [
            "",
            "2026-11-24",
            "2026-11-24T13:05:09.123",
            "2026-11-24T13:05:09.123+01:00",
            "2026-13-24T13:05:09.123Z",
            "2026-11-24T24:05:09Z",
            "2026-11-24T13:05:09.Z",
            "2026-11-24T13:05:09,123Z",
            "2026-11-24T13:05:09.1234567890Z",
            "2026-1a-24T13:05:09Z",
        ] {
            assert_eq!(rfc3339_unix_micros(t), None, "{t}");
        }
    }
}
