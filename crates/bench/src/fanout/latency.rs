//! End-to-end latency histograms, one per worker thread.
//!
//! Every client task records into the histogram of the thread it runs on,
//! behind a mutex only that thread takes while the run lasts (uncontended);
//! [`take`] merges and clears them all once the clients have stopped. This
//! keeps the hot path free of shared writes and the memory at one histogram
//! per thread instead of one per client.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};

use hdrhistogram::Histogram;

/// The highest latency recorded, in microseconds (one hour); larger values
/// are recorded as this.
pub const MAX_US: u64 = 3_600_000_000;

/// The registry of every thread's histogram.
static ALL: Mutex<Vec<Arc<Mutex<Histogram<u64>>>>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: RefCell<Option<Arc<Mutex<Histogram<u64>>>>> = const { RefCell::new(None) };
}

/// A histogram for latencies in microseconds, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3)
        .expect("constant bounds: low >= 1, high >= 2 * low, 3 significant digits")
}

/// Records one latency, in microseconds, into this thread's histogram.
pub fn record(us: u64) {
    LOCAL.with(|cell| {
        let mut slot = cell.borrow_mut();
        let h = slot.get_or_insert_with(|| {
            let h = Arc::new(Mutex::new(new_histogram()));
            ALL.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(h.clone());
            h
        });
        h.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .saturating_record(us.clamp(1, MAX_US));
    });
}

/// Every thread's latencies since the last call, merged; the histograms are
/// cleared.
pub fn take() -> Histogram<u64> {
    let mut total = new_histogram();
    for h in ALL.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        let mut h = h.lock().unwrap_or_else(PoisonError::into_inner);
        // Same bounds on both sides: adding cannot fail.
        let _ = total.add(&*h);
        h.reset();
    }
    total
}
