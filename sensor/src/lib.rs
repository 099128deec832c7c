//! The sensor's userspace pipeline:
//! capture → conntrack → reassembly → http → (detect → alert) → sink.

pub mod alert;
pub mod analysis;
pub mod capture;
pub mod config;
pub mod conntrack;
pub mod endpoint;
pub mod exchange;
pub mod finding;
pub mod http;
pub mod metrics;
pub mod pipeline;
pub mod preflight;
pub mod reassembly;
pub mod replay;
pub mod run;
pub mod sink;
pub mod stats;
pub mod tail;

// The analysers moved under analysis/; these keep their old paths working.
pub use analysis::{behaviour, detect, inventory};
