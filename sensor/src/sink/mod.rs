//! Where results leave the sensor. Every writer here is bounded by the
//! process's own buffers and never blocks capture for longer than a write.

pub mod alerts_file;
pub mod body;
pub mod chain;
pub mod config;
pub mod exchange_json;
pub mod exchange_record;
pub mod jsonl;
mod metrics;
pub mod ocsf;
pub mod outputs;
pub mod spool;
pub mod syslog;
pub mod tls;
pub mod verify;
pub mod webhook;
pub mod worker;

pub use exchange_record::ExchangeRecord;
pub use jsonl::JsonLines;
pub use outputs::{write_stats, OutputError, Outputs};

#[cfg(test)]
mod delivery_tests;
#[cfg(test)]
mod receiver_tests;
