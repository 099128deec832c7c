//! HTTP/2 framing (RFC 9113 §4) of one direction: a resumable reader that
//! turns arbitrary byte pieces into frames.
//!
//! DATA payloads are streamed straight through (padding stripped), never
//! buffered; every other frame is held until complete, up to
//! `max_frame_held` bytes (larger ones are skipped and reported as such).
//! A capture gap inside a DATA payload costs only those bytes; a gap
//! anywhere else loses the framing, and the reader searches for the next
//! plausible frame header (two in a row must look valid).

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Frame header size.
pub const HEADER_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE's initial value; the resynchronising search
/// only accepts frames up to it.
const DEFAULT_MAX_FRAME: u32 = 16_384;

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

pub const FLAG_END_STREAM: u8 = 0x1;
pub const FLAG_ACK: u8 = 0x1;
pub const FLAG_END_HEADERS: u8 = 0x4;
pub const FLAG_PADDED: u8 = 0x8;
pub const FLAG_PRIORITY: u8 = 0x20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub len: u32,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl FrameHeader {
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Self {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        })
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Whether a header could start a frame, for resynchronising: a known
    /// type on the right kind of stream, no undefined flags, a sane size.
    fn plausible(b: &[u8]) -> bool {
        let Some(h) = Self::parse(b) else {
            return false;
        };
        if b[5] & 0x80 != 0 || h.len > DEFAULT_MAX_FRAME {
            return false;
        }
        let (on_stream, flags, len_ok) = match h.kind {
            DATA => (true, FLAG_END_STREAM | FLAG_PADDED, true),
            HEADERS => (
                true,
                FLAG_END_STREAM | FLAG_END_HEADERS | FLAG_PADDED | FLAG_PRIORITY,
                true,
            ),
            PRIORITY => (true, 0, h.len == 5),
            RST_STREAM => (true, 0, h.len == 4),
            SETTINGS => (false, FLAG_ACK, h.len % 6 == 0),
            PUSH_PROMISE => (true, FLAG_END_HEADERS | FLAG_PADDED, h.len >= 4),
            PING => (false, FLAG_ACK, h.len == 8),
            GOAWAY => (false, 0, h.len >= 8),
            WINDOW_UPDATE => (h.stream != 0, 0, h.len == 4),
            CONTINUATION => (true, FLAG_END_HEADERS, true),
            _ => return false,
        };
        len_ok && h.flags & !flags == 0 && on_stream == (h.stream != 0)
    }
}

/// What the reader reports, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameEvent<'a> {
    /// A complete frame other than DATA, payload as sent (padding included).
    Frame(FrameHeader, &'a [u8]),
    /// A frame too large to hold was skipped (its payload is not seen).
    Skipped(FrameHeader),
    /// Part of a DATA frame's content (padding stripped).
    Data { stream: u32, data: &'a [u8] },
    /// This many content bytes of a DATA frame went by uncaptured.
    DataGap { stream: u32, len: u64 },
    /// The DATA frame ended.
    DataEnd { stream: u32, end_stream: bool },
    /// The client preface did not match: this is not HTTP/2.
    BadPreface,
    /// A gap broke the framing; frames may have been lost.
    Lost,
    /// After `Lost`, framing was found again (`skipped` bytes searched past).
    Resynced { skipped: u64 },
}

#[derive(Debug)]
enum State {
    /// This many bytes of the client preface are still expected.
    Preface(usize),
    Header,
    /// Holding a frame's payload.
    Payload(FrameHeader),
    /// Skipping this many bytes of an oversized frame.
    Skip(u64),
    /// Inside a DATA frame: `pad` is `None` until the pad length is read.
    Data {
        header: FrameHeader,
        remaining: u64,
        pad: Option<u8>,
    },
    /// Searching for the next frame header after a gap.
    Resync {
        skipped: u64,
    },
    /// Not HTTP/2 after all: ignore everything.
    Dead,
}

#[derive(Debug)]
pub struct FrameReader {
    state: State,
    buf: Vec<u8>,
    max_frame_held: usize,
}

impl FrameReader {
    /// `preface`: this direction starts with the client preface.
    pub fn new(preface: bool, max_frame_held: usize) -> Self {
        Self {
            state: if preface {
                State::Preface(PREFACE.len())
            } else {
                State::Header
            },
            buf: Vec::new(),
            max_frame_held: max_frame_held.max(HEADER_LEN),
        }
    }

    /// Memory held.
    pub fn held(&self) -> usize {
        self.buf.capacity()
    }

    pub fn is_dead(&self) -> bool {
        matches!(self.state, State::Dead)
    }

    /// Feeds the next bytes of the direction.
    pub fn feed(&mut self, input: &[u8], on: &mut dyn FnMut(FrameEvent<'_>)) {
        if self.buf.is_empty() {
            let pos = self.run(input, on);
            if pos < input.len() && !self.is_dead() {
                self.buf.extend_from_slice(&input[pos..]);
            }
        } else {
            let mut held = std::mem::take(&mut self.buf);
            held.extend_from_slice(input);
            let pos = self.run(&held, on);
            held.drain(..pos);
            if !self.is_dead() {
                self.buf = held;
            }
        }
    }

    /// Steps through `data`; returns how much was consumed.
    fn run(&mut self, data: &[u8], on: &mut dyn FnMut(FrameEvent<'_>)) -> usize {
        let mut pos = 0;
        while pos < data.len() {
            match self.step(&data[pos..], on) {
                Some(n) => pos += n,
                None => break,
            }
        }
        pos
    }

    /// `n` bytes of the direction went by uncaptured. True when they fell
    /// inside one frame's payload whose length the reader knew (DATA
    /// content or padding, a frame being skipped): the framing is kept,
    /// and no header block can have been in them.
    pub fn gap(&mut self, n: u64, on: &mut dyn FnMut(FrameEvent<'_>)) -> bool {
        if n == 0 {
            return true;
        }
        match &mut self.state {
            State::Dead => false,
            State::Skip(left) if *left >= n => {
                *left -= n;
                if *left == 0 {
                    self.state = State::Header;
                }
                true
            }
            State::Data {
                header,
                remaining,
                pad: Some(pad),
            } if self.buf.is_empty() && *remaining >= n => {
                let content_left = remaining.saturating_sub(u64::from(*pad));
                let in_content = n.min(content_left);
                let stream = header.stream;
                let end_stream = header.has(FLAG_END_STREAM);
                *remaining -= n;
                let done = *remaining == 0;
                if in_content > 0 {
                    on(FrameEvent::DataGap {
                        stream,
                        len: in_content,
                    });
                }
                if done {
                    self.state = State::Header;
                    on(FrameEvent::DataEnd { stream, end_stream });
                }
                true
            }
            State::Resync { skipped } => {
                *skipped += n + self.buf.len() as u64;
                self.buf.clear();
                false
            }
            // A frame header, a held frame (a header block's included) or
            // a padded DATA frame's pad length went by: lost.
            _ => {
                let skipped = n + self.buf.len() as u64;
                self.buf.clear();
                self.state = State::Resync { skipped };
                on(FrameEvent::Lost);
                false
            }
        }
    }

    /// One step on `d` (never empty); `None` when more input is needed
    /// (the caller keeps `d`).
    fn step(&mut self, d: &[u8], on: &mut dyn FnMut(FrameEvent<'_>)) -> Option<usize> {
        match &mut self.state {
            State::Preface(left) => {
                let at = PREFACE.len() - *left;
                let n = (*left).min(d.len());
                if d[..n] != PREFACE[at..at + n] {
                    self.state = State::Dead;
                    on(FrameEvent::BadPreface);
                    return Some(d.len());
                }
                *left -= n;
                if *left == 0 {
                    self.state = State::Header;
                }
                Some(n)
            }
            State::Header => {
                let h = FrameHeader::parse(d)?;
                self.state = if h.kind == DATA {
                    State::Data {
                        header: h,
                        remaining: u64::from(h.len),
                        pad: (!h.has(FLAG_PADDED)).then_some(0),
                    }
                } else if h.len as usize > self.max_frame_held {
                    on(FrameEvent::Skipped(h));
                    if h.len == 0 {
                        State::Header
                    } else {
                        State::Skip(u64::from(h.len))
                    }
                } else {
                    State::Payload(h)
                };
                if let State::Data { remaining: 0, .. } = self.state {
                    self.state = State::Header;
                    on(FrameEvent::DataEnd {
                        stream: h.stream,
                        end_stream: h.has(FLAG_END_STREAM),
                    });
                }
                Some(HEADER_LEN)
            }
            State::Payload(h) => {
                let h = *h;
                let len = h.len as usize;
                if d.len() < len {
                    return None;
                }
                self.state = State::Header;
                on(FrameEvent::Frame(h, &d[..len]));
                Some(len)
            }
            State::Skip(left) => {
                let n = (*left).min(d.len() as u64);
                *left -= n;
                if *left == 0 {
                    self.state = State::Header;
                }
                Some(n as usize)
            }
            State::Data {
                header,
                remaining,
                pad,
            } => {
                let stream = header.stream;
                let end_stream = header.has(FLAG_END_STREAM);
                let Some(pad_len) = *pad else {
                    // The pad length byte is framing, not content.
                    let pad_len = d[0];
                    let left = *remaining - 1;
                    if u64::from(pad_len) > left {
                        // Padding longer than the frame: a protocol error
                        // the peer will reset; skip the rest of the frame.
                        self.state = if left == 0 {
                            State::Header
                        } else {
                            State::Skip(left)
                        };
                        on(FrameEvent::DataEnd { stream, end_stream });
                    } else if left == 0 {
                        self.state = State::Header;
                        on(FrameEvent::DataEnd { stream, end_stream });
                    } else {
                        *pad = Some(pad_len);
                        *remaining = left;
                    }
                    return Some(1);
                };
                let content_left = remaining.saturating_sub(u64::from(pad_len));
                let n = (*remaining).min(d.len() as u64) as usize;
                let content = (n as u64).min(content_left) as usize;
                *remaining -= n as u64;
                let done = *remaining == 0;
                if done {
                    self.state = State::Header;
                }
                if content > 0 {
                    on(FrameEvent::Data {
                        stream,
                        data: &d[..content],
                    });
                }
                if done {
                    on(FrameEvent::DataEnd { stream, end_stream });
                }
                Some(n)
            }
            State::Resync { skipped } => {
                // Two plausible headers in a row, the second right after the
                // first's payload; wait for enough bytes to check both.
                let mut i = 0;
                while i + HEADER_LEN <= d.len() {
                    if FrameHeader::plausible(&d[i..]) {
                        let len = FrameHeader::parse(&d[i..]).map_or(0, |h| h.len as usize);
                        let next = i + HEADER_LEN + len;
                        if next + HEADER_LEN > d.len() {
                            // Cannot confirm yet: keep from here.
                            *skipped += i as u64;
                            return if i == 0 { None } else { Some(i) };
                        }
                        if FrameHeader::plausible(&d[next..]) {
                            let skipped = *skipped + i as u64;
                            self.state = State::Header;
                            on(FrameEvent::Resynced { skipped });
                            return Some(i);
                        }
                    }
                    i += 1;
                }
                let keep = (HEADER_LEN - 1).min(d.len());
                let n = d.len() - keep;
                *skipped += n as u64;
                if n == 0 {
                    None
                } else {
                    Some(n)
                }
            }
            State::Dead => Some(d.len()),
        }
    }
}
