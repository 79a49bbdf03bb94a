//! Flow tracking: flow keys, the close model (the per-endpoint state
//! machine, Linux's retransmission model
//! and the connection it tracks), and the per-shard connection
//! table.

pub mod attempt;
pub mod compact;
pub mod conn;
pub mod history;
pub mod key;
pub mod retrans;
pub mod spare;
pub mod state;
pub mod table;
pub mod wheel;

pub use table::{FlowConfig, Shard};
