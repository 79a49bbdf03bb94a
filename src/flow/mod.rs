//! Flow tracking: sequence arithmetic, flow keys, the per-connection close
//! state machine, and the per-shard connection table.

pub mod conn;
pub mod key;
pub mod seq;
pub mod state;
pub mod table;

pub use table::{FlowConfig, Shard};
