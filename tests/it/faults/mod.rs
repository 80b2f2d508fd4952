//! Faults, and the service correct again afterwards, not merely alive:
//! Redis dead, hung, restarted empty or cut off from its events; instances
//! killed, stopped, restarted or with a skewed clock; and bounded chaos of
//! all of these at once, on one Redis and across areas on a Cluster.

mod chaos;
mod chaos_areas;
mod instances;
mod store;
