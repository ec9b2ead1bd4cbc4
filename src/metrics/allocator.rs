//! What the allocator holds, from jemalloc's own statistics (the binary's global allocator):
//! `allocated` (bytes the program holds), `active` (pages those live in), `resident` (what the
//! allocator keeps in RAM, freed pages not yet returned included), `retained` (address space
//! kept for reuse, not in RAM). Read at each `/metrics` scrape; RSS above `resident` is code,
//! stacks and the other libraries' memory. Where jemalloc is not the allocator (the test
//! binaries), the figures describe jemalloc's own, nearly empty heap.

use tikv_jemalloc_ctl::{epoch, stats};

/// One reading, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocatorBytes {
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
    pub retained: u64,
}

impl AllocatorBytes {
    /// Reads the statistics now (`None` if jemalloc refuses, which it does not in practice).
    pub fn read() -> Option<Self> {
        // The statistics are a snapshot taken at the last epoch advance.
        epoch::advance().ok()?;
        let bytes = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        Some(Self {
            allocated: bytes(stats::allocated::read().ok()?),
            active: bytes(stats::active::read().ok()?),
            resident: bytes(stats::resident::read().ok()?),
            retained: bytes(stats::retained::read().ok()?),
        })
    }

    /// (kind label, bytes) of each figure.
    pub fn kinds(&self) -> [(&'static str, u64); 4] {
        [
            ("allocated", self.allocated),
            ("active", self.active),
            ("resident", self.resident),
            ("retained", self.retained),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_is_ordered_as_jemalloc_defines_it() {
        let r = AllocatorBytes::read().expect("jemalloc statistics");
        assert!(r.allocated <= r.active, "{r:?}");
        assert!(r.active <= r.resident || r.resident == 0, "{r:?}");
        assert_eq!(r.kinds()[0], ("allocated", r.allocated));
    }
}
