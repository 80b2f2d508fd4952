//! What an area holds now: the counts the dispatcher reads from a store
//! and the API reports (`areaStatus`).

/// What an area holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AreaCounts {
    /// AVAILABLE drivers (a silent one counts until the sweep takes it).
    pub available: usize,
    /// SEARCHING rides.
    pub searching: usize,
}
