//! Several instances sharing one store: a Redis they all use (a ride
//! searched on one and followed, cancelled or matched through another, no
//! driver assigned twice, live maps across them) and a Redis Cluster (areas
//! on different nodes, a driver crossing between them, failovers).

mod one_redis;
mod redis_cluster;
