//! Starting the service: the configuration, the store it names, the
//! dispatcher's settings and the token verifier, the handlers' state, and
//! the [`Application`] that binds, serves and shuts down; and the commands
//! that talk to a running service ([`redeliver`]).
//!
//! This is the top layer: it may name every layer below (domain, telemetry,
//! auth, store, dispatch, api, http) and none of them names it.

mod application;
mod assembly;
pub mod batch_config;
pub mod config;
pub mod devices_config;
mod endpoint;
mod error;
pub mod events_config;
pub mod mqtt_config;
pub mod nats_sink;
pub mod persisted;
pub mod redeliver;
pub mod roads_config;
mod settings;
pub mod store;

pub use application::{run, shutdown_signal, Application};
pub use config::Config;
pub use error::StartError;
pub use persisted::own_manifest_json;
pub use store::migrate;
