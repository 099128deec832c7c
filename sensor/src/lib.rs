//! The sensor's userspace pipeline:
//! capture → conntrack → reassembly → http → (detect → alert) → sink.

pub mod alert;
pub mod analysis;
pub mod behaviour;
pub mod capture;
pub mod config;
pub mod conntrack;
pub mod detect;
pub mod endpoint;
pub mod exchange;
pub mod http;
pub mod inventory;
pub mod metrics;
pub mod pipeline;
pub mod reassembly;
pub mod replay;
pub mod run;
pub mod sink;
pub mod stats;
pub mod tail;
