//! What an operator runs and watches: `/metrics` with every listed series,
//! `/health`, the dashboard, Redis deployments (prefixes, managed Redis
//! with TLS, a Redis that cannot be used), upgrading the key layout, and
//! the simulator; starting with a road network (`--roads`), and the
//! dashboard's road base map (`GET /roads`).

mod deployment;
mod health;
mod migrate;
mod road_map;
mod roads;
mod simulate;
