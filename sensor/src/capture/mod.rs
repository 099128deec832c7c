//! Capture: turns what the kernel saw into `CaptureEvent`s. The live
//! source reads the eBPF ring buffer; a replay source (pcap) yields the same
//! events, so every later stage is the same for both.

pub mod config;
pub mod event;
pub mod heap;
pub mod inflight;
pub mod live;
pub mod mode;
pub mod payloads;
pub mod privileges;
pub mod replay;
pub mod ring;
pub mod socket;
pub mod tls;
pub mod trial;

pub use event::{CaptureEvent, ConnId, DecodeError, Direction, Role};
pub use mode::{CaptureMode, Mode};
