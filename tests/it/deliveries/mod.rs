//! Delivery through faults, on Redis and Redis Cluster: the instance that
//! delivers SIGKILLed mid-batch, a primary killed mid-delivery, two
//! instances changing one area's rides at once. Every event of the log
//! reaches the sink, each area's in log order; re-sends repeat the same ids.

mod failover;
mod handover;
mod receiver;
