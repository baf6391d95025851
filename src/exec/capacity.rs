//! Consumed capacity, summed per scope: every request [`send`](super::send) makes adds what
//! DynamoDB reports to the meter of the task it runs in. A [`Loader`](crate::Loader) scope
//! carries one ([`Loader::capacity`](crate::Loader::capacity)).

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

tokio::task_local! {
    static METER: CapacityMeter;
}

/// Read and write capacity units consumed by DynamoDB.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Capacity {
    /// Read capacity units.
    pub read_units: f64,
    /// Write capacity units.
    pub write_units: f64,
}

impl std::ops::AddAssign for Capacity {
    fn add_assign(&mut self, other: Capacity) {
        self.read_units += other.read_units;
        self.write_units += other.write_units;
    }
}

/// A running total that the requests of the futures it [measures](CapacityMeter::measure) add
/// to. Clones share the total.
#[derive(Debug, Clone, Default)]
pub(crate) struct CapacityMeter(Arc<Mutex<Capacity>>);

impl CapacityMeter {
    /// What the measured requests have consumed so far.
    pub(crate) fn total(&self) -> Capacity {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `fut` with this meter in scope (a task-local: it does not travel into a bare
    /// `tokio::spawn`).
    pub(crate) fn measure<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> {
        METER.scope(self.clone(), fut)
    }
}

/// Adds `c` to the meter in scope, if any.
pub(super) fn record(c: Capacity) {
    let _ = METER.try_with(|m| *m.0.lock().unwrap_or_else(PoisonError::into_inner) += c);
}
