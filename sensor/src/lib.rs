//! The sensor's userspace pipeline:
//! capture → conntrack → reassembly → http → analysis → sink, wired by
//! `session` (the import order is checked by `cargo xtask layers`).

pub mod alert;
pub mod allocations;
pub mod analysis;
pub mod capture;
pub mod clock;
pub mod config;
pub mod conntrack;
pub mod doctor;
pub mod endpoint;
pub mod exchange;
pub mod finding;
pub mod glob;
pub mod http;
pub mod metrics;
pub mod origin;
pub mod pairing;
pub mod pipeline;
pub mod preflight;
pub mod reassembly;
pub mod replay;
pub mod run;
pub mod session;
pub mod sink;
pub mod stats;
pub mod tags;
pub mod tail;
pub mod timestamp;
pub mod wire_str;
