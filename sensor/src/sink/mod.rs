//! Where results leave the sensor. Every writer here is bounded by the
//! process's own buffers and never blocks capture for longer than a write.

pub mod exchange_record;
pub mod jsonl;

pub use exchange_record::ExchangeRecord;
pub use jsonl::JsonLines;
