//! Replay: reads a pcap or pcapng capture and yields the same
//! `CaptureEvent`s the live capture does, so every later stage runs
//! unchanged. Each TCP flow becomes one connection seen from its server
//! side: bytes to the server are `Ingress`, bytes to the client `Egress`.
//!
//! file (pcap, pcapng) → packet (link, IP, TCP) → flows (one per
//! connection) → stream (sequence numbers to ordered offsets).
//!
//! Everything is bounded (record size, flows, bytes held ahead of a hole)
//! and everything skipped or given up is counted in `ReplayCounters`.

mod addresses;
mod file;
mod flows;
mod packet;
mod pcap;
mod pcapng;
mod stream;

#[cfg(test)]
mod build;
#[cfg(test)]
mod tests;

pub use addresses::FlowAddresses;
pub use file::{CaptureReader, RawPacket, ReadError};
pub use flows::{FlowLimits, FlowTable};
pub use packet::{decode, Skip, TcpSegment};

/// What the replay read, skipped and gave up, for stats and the summary.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplayCounters {
    /// Packets read from the file.
    pub packets: u64,
    /// Captured bytes of those packets.
    pub captured_bytes: u64,
    /// Packets of interfaces whose link type is not supported.
    pub skipped_unknown_link: u64,
    /// Packets that are not IPv4 or IPv6.
    pub skipped_not_ip: u64,
    /// IP packets that are not TCP.
    pub skipped_not_tcp: u64,
    /// IP fragments (not reassembled).
    pub skipped_fragments: u64,
    /// Packets whose headers are corrupt or cut by the snapshot length.
    pub skipped_malformed: u64,
    /// TCP segments whose payload the snapshot length cut; the missing
    /// bytes become gaps.
    pub segments_cut_by_snaplen: u64,
    /// Segments without payload of flows not (or no longer) tracked.
    pub segments_without_flow: u64,
    /// TCP flows seen.
    pub flows: u64,
    /// Flows ended early because `max_connections` flows were open.
    pub flows_evicted_limit: u64,
    /// Flows ended after `idle_timeout_secs` of capture time without packets.
    pub flows_idle_expired: u64,
    /// Flows the pipeline did not want (port filter); their bytes are skipped.
    pub flows_filtered: u64,
    /// Segments whose bytes were all seen before.
    pub retransmitted_segments: u64,
    /// Bytes trimmed from segments that partly repeated earlier ones.
    pub overlap_bytes: u64,
    /// Segments that arrived ahead of a hole and were held.
    pub out_of_order_segments: u64,
    /// Segments placed before the start of their stream (a flow joined
    /// mid-stream, then older bytes arrived).
    pub segments_before_start: u64,
    /// Holes given up on: bytes the capture lacks, handed on as gaps.
    pub holes: u64,
    /// Bytes in those holes.
    pub hole_bytes: u64,
}

impl ReplayCounters {
    /// Packets read but not used.
    pub fn skipped_packets(&self) -> u64 {
        self.skipped_unknown_link
            + self.skipped_not_ip
            + self.skipped_not_tcp
            + self.skipped_fragments
            + self.skipped_malformed
    }

    pub fn count_skip(&mut self, skip: Skip) {
        match skip {
            Skip::UnknownLink => self.skipped_unknown_link += 1,
            Skip::NotIp => self.skipped_not_ip += 1,
            Skip::NotTcp => self.skipped_not_tcp += 1,
            Skip::Fragment => self.skipped_fragments += 1,
            Skip::Malformed(_) => self.skipped_malformed += 1,
        }
    }
}
