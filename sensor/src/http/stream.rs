//! One direction of a connection: a resumable state machine that finds
//! message heads, frames bodies, and resynchronises after garbage or gaps.
//! It knows nothing of pairing: it reports `Event`s and the connection
//! parser answers each with an `Action` (the body framing of a head, for
//! instance, depends on the request a response answers).
//!
//! Only an incomplete element (head, chunk-size line, trailers, a few bytes
//! of a possible message start, or input held while an upgrade is pending)
//! is buffered, each under its own limit and all under
//! `max_buffered_bytes`. Each step either consumes input, changes state
//! towards consuming it, or waits, so a feed is linear in its input.

use bytes::Bytes;

use super::body::{BodyAcc, Framing};
use super::chunked::{ChunkStep, ChunkedDecoder};
use super::message::{find_head_end, parse_request, parse_response, Head};
use super::salvage::salvage;
use super::start::{
    plausible_start, request_line_start, request_start, response_start, status_line_start,
    StartMatch,
};
use super::{HttpCounters, HttpError, HttpLimits};
use crate::exchange::Header;

/// Steps in a row without consuming input before the stream is forced on.
const MAX_STALLS: u32 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Request,
    Response,
}

/// What a direction reports to the connection parser.
#[derive(Debug)]
pub(crate) enum Event {
    /// A head was parsed (with the time its first byte arrived). The
    /// answer must be `Action::Body`.
    Head(Head, u64),
    /// The message whose head was last reported is complete.
    Complete(Done),
    /// The message in progress, or the one whose first bytes were just
    /// lost, is gone; the direction is resynchronising.
    Lost,
}

#[derive(Debug)]
pub(crate) struct Done {
    pub body: BodyAcc,
    pub trailers: Vec<Header>,
    pub end_ns: u64,
    /// Bytes the body took on the wire, chunk framing and gaps included.
    pub framed_len: u64,
    /// The body's framing broke: it is emitted as far as it got.
    pub malformed: Option<&'static str>,
}

/// The connection parser's answer to an event.
#[derive(Debug)]
pub(crate) enum Action {
    Continue,
    /// Frame the body of the head just reported.
    Body(Framing),
    /// Hold further input until `resume` (an upgrade may follow).
    Pause,
    /// Stop parsing for good (the protocol switched).
    Stop,
}

#[derive(Debug)]
enum State {
    /// Searching for a line that starts a message.
    Resync,
    /// Expecting a head.
    Head,
    /// A head was reported; waiting for its framing.
    AwaitFraming,
    Body(BodyFraming, BodyAcc),
    Paused,
    /// The protocol switched: bytes are counted and ignored.
    Stopped,
    /// The connection closed: nothing more is expected.
    Closed,
}

#[derive(Debug)]
enum BodyFraming {
    Length(u64),
    Chunked(ChunkedDecoder),
    Close,
}

enum Step {
    /// Consumed this many bytes (possibly none, after a state change).
    Consumed(usize),
    /// Nothing more can be done before more input.
    NeedMore,
    Event(usize, Event),
}

#[derive(Debug)]
pub(crate) struct HalfStream {
    side: Side,
    limits: HttpLimits,
    state: State,
    /// Unconsumed input: always the beginning of an incomplete element.
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for the end of a head.
    scanned: usize,
    /// When the first byte of the head being received arrived.
    head_start_ns: Option<u64>,
    /// The next byte begins a line (stream start, after a newline or a gap).
    line_start: bool,
    /// The next byte failed to start a message: the search begins after it,
    /// so the same bytes are never tried twice.
    skip_first: bool,
    /// Input was dropped while paused: resume by resynchronising.
    lost_while_paused: bool,
    /// A head over the limit was reported from its first bytes: the rest
    /// of it is skipped up to its blank line before the body.
    skipping_head: bool,
    /// Line-end bytes seen in a row while skipping ("\n", "\n\r").
    skip_newlines: u8,
    /// Bytes of the body in progress on the wire (framing included).
    body_framed: u64,
}

impl HalfStream {
    pub(crate) fn new(side: Side, limits: HttpLimits) -> Self {
        Self {
            side,
            limits,
            // A stream may start anywhere (a connection joined mid-way), so
            // the first message is searched for, not assumed.
            state: State::Resync,
            buf: Vec::new(),
            scanned: 0,
            head_start_ns: None,
            line_start: true,
            skip_first: false,
            lost_while_paused: false,
            skipping_head: false,
            skip_newlines: 0,
            body_framed: 0,
        }
    }

    /// Memory held by this direction.
    pub(crate) fn held(&self) -> usize {
        let body = match &self.state {
            State::Body(_, acc) => acc.held(),
            _ => 0,
        };
        self.buf.capacity() + body
    }

    /// Parses `input`; `owner` is the capture record it is a slice of, if
    /// known, so that what is kept of it can be a slice too.
    pub(crate) fn feed<H>(
        &mut self,
        ts: u64,
        input: &[u8],
        owner: Option<&Bytes>,
        c: &mut HttpCounters,
        handle: &mut H,
    ) where
        H: FnMut(Event, &mut HttpCounters) -> Action,
    {
        let mut held = std::mem::take(&mut self.buf);
        let from_held = !held.is_empty();
        // Held bytes are this stream's own: what is kept of them is copied.
        let owner = if from_held { None } else { owner };
        if from_held {
            held.extend_from_slice(input);
        }
        let data: &[u8] = if from_held { &held } else { input };
        let mut pos = 0;
        let mut stalls = 0;
        loop {
            let rest = &data[pos..];
            let (n, mut event) = match self.step(rest, ts, owner, c) {
                Step::NeedMore => break,
                Step::Consumed(n) => (n, None),
                Step::Event(n, e) => (n, Some(e)),
            };
            pos += n.min(rest.len());
            // Every state change without input leads to one that consumes
            // within a few steps; should that ever fail, peer bytes must
            // not spin the sensor, so drop them instead.
            stalls = if n == 0 { stalls + 1 } else { 0 };
            if stalls > MAX_STALLS && event.is_none() {
                stalls = 0;
                event = Some(self.lose(HttpError::Head(httparse::Error::Token), c));
            }
            if let Some(event) = event {
                let action = handle(event, c);
                self.apply(action, c);
            }
        }
        let rest_len = data.len() - pos;
        if from_held {
            held.drain(..pos);
        } else {
            held.clear();
            held.extend_from_slice(&input[pos..]);
        }
        self.buf = held;
        if rest_len > self.limits.max_buffered_bytes {
            // Every state bounds what it waits for; this catches limits
            // configured inconsistently, and input held while paused.
            c.buffer_limit_drops += rest_len as u64;
            self.buf.clear();
            if matches!(self.state, State::Paused) {
                self.lost_while_paused = true;
            } else {
                let event = self.lose(HttpError::TooLarge, c);
                handle(event, c);
            }
        }
        // Give back the memory a burst left behind.
        if self.buf.capacity() > 2 * self.buf.len() + 4096 {
            self.buf.shrink_to(self.buf.len());
        }
    }

    /// `n` bytes of this direction went by uncaptured.
    pub(crate) fn gap<H>(&mut self, n: u64, ts: u64, c: &mut HttpCounters, handle: &mut H)
    where
        H: FnMut(Event, &mut HttpCounters) -> Action,
    {
        if n == 0 {
            return;
        }
        if std::mem::take(&mut self.skipping_head) {
            // The rest of an oversized head, or its body: unknowable now.
            c.resync_skipped_bytes += self.buf.len() as u64;
            self.buf.clear();
            let event = self.lose(HttpError::Gap, c);
            handle(event, c);
            return;
        }
        if let State::Body(..) = self.state {
            self.body_framed += n;
        }
        match &mut self.state {
            State::Stopped => {
                c.upgraded_bytes_ignored += n;
                return;
            }
            State::Closed => return,
            State::Paused => {
                self.buf.clear();
                self.lost_while_paused = true;
                return;
            }
            State::Resync => {
                // Still searching; the bytes after a gap may well start a
                // message.
                c.resync_skipped_bytes += self.buf.len() as u64;
                self.buf.clear();
                self.line_start = true;
                self.skip_first = false;
                return;
            }
            State::Body(BodyFraming::Close, body) => {
                body.gap(n, c);
                return;
            }
            State::Body(BodyFraming::Length(left), body) => {
                let inside = n.min(*left);
                body.gap(inside, c);
                *left -= inside;
                if *left == 0 {
                    let event = self.complete(Vec::new(), ts);
                    let action = handle(event, c);
                    self.apply(action, c);
                }
                if n > inside {
                    // The rest swallowed the start of whatever followed.
                    self.gap(n - inside, ts, c, handle);
                }
                return;
            }
            State::Body(BodyFraming::Chunked(dec), body) => {
                // Held bytes (a size line, trailers) cannot join those
                // after the gap; the decoder searches for its framing.
                c.resync_skipped_bytes += self.buf.len() as u64;
                self.buf.clear();
                dec.gap(n, body, c);
                return;
            }
            State::Head | State::AwaitFraming => {}
        }
        // Bytes held from before the gap cannot join those after it.
        c.resync_skipped_bytes += self.buf.len() as u64;
        self.buf.clear();
        let event = self.lose(HttpError::Gap, c);
        handle(event, c);
    }

    /// Ends a `Pause`: parses the input held meanwhile.
    pub(crate) fn resume<H>(&mut self, ts: u64, c: &mut HttpCounters, handle: &mut H)
    where
        H: FnMut(Event, &mut HttpCounters) -> Action,
    {
        if !matches!(self.state, State::Paused) {
            return;
        }
        self.state = State::Head;
        if std::mem::take(&mut self.lost_while_paused) {
            c.resyncs += 1;
            self.state = State::Resync;
            self.line_start = true;
            self.skip_first = false;
        }
        self.feed(ts, &[], None, c, handle);
    }

    /// Stops parsing for good (the protocol switched); input held so far
    /// belongs to the new protocol and is counted as ignored.
    pub(crate) fn stop(&mut self, c: &mut HttpCounters) {
        if !matches!(self.state, State::Closed | State::Stopped) {
            c.upgraded_bytes_ignored += self.buf.len() as u64;
            self.state = State::Stopped;
        }
        self.buf = Vec::new();
    }

    /// The connection closed: a close-delimited body completes; anything
    /// else in progress is counted as incomplete. Further input is ignored.
    pub(crate) fn close<H>(&mut self, ts: u64, c: &mut HttpCounters, handle: &mut H)
    where
        H: FnMut(Event, &mut HttpCounters) -> Action,
    {
        match &mut self.state {
            _ if self.skipping_head => c.incomplete_at_close += 1,
            State::Body(BodyFraming::Close, _) => {
                let event = self.complete(Vec::new(), ts);
                handle(event, c);
            }
            State::Body(_, body) => {
                // Fail open: what arrived of the body is still inspected,
                // as a truncated message.
                c.incomplete_at_close += 1;
                body.mark_truncated();
                let event = self.complete(Vec::new(), ts);
                handle(event, c);
            }
            State::AwaitFraming => c.incomplete_at_close += 1,
            State::Head if !self.buf.is_empty() => c.incomplete_at_close += 1,
            _ => {}
        }
        self.state = State::Closed;
        self.buf = Vec::new();
    }

    fn apply(&mut self, action: Action, c: &mut HttpCounters) {
        match action {
            Action::Continue => {}
            Action::Body(framing) => {
                if matches!(self.state, State::AwaitFraming) {
                    let framing = match framing {
                        Framing::Length(n) => BodyFraming::Length(n),
                        Framing::Chunked => BodyFraming::Chunked(ChunkedDecoder::new(self.side)),
                        Framing::Close => BodyFraming::Close,
                    };
                    self.state = State::Body(framing, BodyAcc::new(self.limits.max_body_kept));
                }
            }
            Action::Pause => {
                if matches!(self.state, State::Head) {
                    self.state = State::Paused;
                }
            }
            Action::Stop => self.stop(c),
        }
    }

    fn step(&mut self, input: &[u8], ts: u64, owner: Option<&Bytes>, c: &mut HttpCounters) -> Step {
        if self.skipping_head {
            return self.skip_head(input);
        }
        match &mut self.state {
            State::Resync => self.resync(input, c),
            State::Head => self.head(input, ts, owner, c),
            State::AwaitFraming | State::Paused | State::Closed => Step::NeedMore,
            State::Stopped => {
                if input.is_empty() {
                    return Step::NeedMore;
                }
                c.upgraded_bytes_ignored += input.len() as u64;
                Step::Consumed(input.len())
            }
            State::Body(BodyFraming::Length(left), body) => {
                let take = (*left).min(input.len() as u64) as usize;
                body.data_in(&input[..take], owner, c);
                *left -= take as u64;
                self.body_framed += take as u64;
                match (*left, take) {
                    (0, _) => Step::Event(take, self.complete(Vec::new(), ts)),
                    (_, 0) => Step::NeedMore,
                    _ => Step::Consumed(take),
                }
            }
            State::Body(BodyFraming::Close, body) => {
                if input.is_empty() {
                    return Step::NeedMore;
                }
                body.data_in(input, owner, c);
                self.body_framed += input.len() as u64;
                Step::Consumed(input.len())
            }
            State::Body(BodyFraming::Chunked(dec), body) => {
                match dec.step(input, body, self.limits.max_header_bytes, c) {
                    Ok(ChunkStep::Consumed(n)) => {
                        self.body_framed += n as u64;
                        Step::Consumed(n)
                    }
                    Ok(ChunkStep::NeedMore) => Step::NeedMore,
                    Ok(ChunkStep::Done(n, trailers)) => {
                        self.body_framed += n as u64;
                        Step::Event(n, self.complete(trailers, ts))
                    }
                    Ok(ChunkStep::Ended(n)) => {
                        // The next message began: the body ended unseen.
                        self.body_framed += n as u64;
                        Step::Event(n, self.complete(Vec::new(), ts))
                    }
                    Err(e) => Step::Event(0, self.fail_body(e, ts, c)),
                }
            }
        }
    }

    /// Skips to the next message start of this side: a line that starts
    /// like one, or (since a lost body is rarely followed by a newline) a
    /// stricter pattern anywhere after a non-alphanumeric byte.
    fn resync(&mut self, input: &[u8], c: &mut HttpCounters) -> Step {
        let from = usize::from(self.skip_first);
        if input.len() <= from {
            return Step::NeedMore;
        }
        self.skip_first = false;
        for i in from..input.len() {
            let line = if i == 0 {
                self.line_start
            } else {
                input[i - 1] == b'\n'
            };
            let found = match (line, self.side) {
                (true, Side::Request) => request_start(&input[i..]),
                (true, Side::Response) => response_start(&input[i..]),
                (false, _) if i > 0 && input[i - 1].is_ascii_alphanumeric() => StartMatch::No,
                (false, Side::Request) => request_line_start(&input[i..]),
                (false, Side::Response) => status_line_start(&input[i..]),
            };
            match found {
                StartMatch::No => {}
                StartMatch::Yes => {
                    c.resync_skipped_bytes += i as u64;
                    self.state = State::Head;
                    self.scanned = 0;
                    return Step::Consumed(i);
                }
                StartMatch::NeedMore => {
                    // Keep the possible start (a few bytes) for later.
                    c.resync_skipped_bytes += i as u64;
                    self.line_start = line;
                    return if i == 0 {
                        Step::NeedMore
                    } else {
                        Step::Consumed(i)
                    };
                }
            }
        }
        c.resync_skipped_bytes += input.len() as u64;
        self.line_start = input.last() == Some(&b'\n');
        Step::Consumed(input.len())
    }

    fn head(&mut self, input: &[u8], ts: u64, owner: Option<&Bytes>, c: &mut HttpCounters) -> Step {
        // Empty lines before a message are allowed (RFC 9112 §2.2).
        let blank = input
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if blank > 0 {
            return Step::Consumed(blank);
        }
        if input.is_empty() {
            return Step::NeedMore;
        }
        if !plausible_start(self.side, input) {
            // Fail fast on bytes that cannot start a message, rather than
            // buffering up to the head limit waiting for a blank line.
            return Step::Event(0, self.lose(HttpError::Head(httparse::Error::Token), c));
        }
        let start_ns = *self.head_start_ns.get_or_insert(ts);
        let max = self.limits.max_header_bytes;
        let end = match find_head_end(input, self.scanned) {
            Some(end) if end <= max => end,
            None if input.len() <= max => {
                self.scanned = input.len();
                return Step::NeedMore;
            }
            _ => {
                // Too large to hold: read what the limit kept, skip the
                // rest of the head, and frame the body from what was read.
                let prefix = &input[..max.min(input.len())];
                let reason = HttpError::TooLarge.reason();
                let Some(head) = salvage(self.side, prefix, reason) else {
                    return Step::Event(0, self.lose(HttpError::TooLarge, c));
                };
                c.header_limit_drops += 1;
                c.salvaged_heads += 1;
                self.skipping_head = true;
                self.skip_newlines = 0;
                return Step::Event(0, self.reported(head, start_ns));
            }
        };
        let parsed = match self.side {
            Side::Request => parse_request(&input[..end], owner),
            Side::Response => parse_response(&input[..end], owner),
        };
        match parsed {
            Ok(head) => Step::Event(head.wire_len, self.reported(head, start_ns)),
            Err(e) => match salvage(self.side, &input[..end], e.reason()) {
                Some(head) => {
                    c.parse_errors += 1;
                    c.salvaged_heads += 1;
                    Step::Event(end, self.reported(head, start_ns))
                }
                None => Step::Event(0, self.lose(e, c)),
            },
        }
    }

    /// A head is ready to report: wait for its framing.
    fn reported(&mut self, head: Head, start_ns: u64) -> Event {
        self.state = State::AwaitFraming;
        self.scanned = 0;
        self.head_start_ns = None;
        self.body_framed = 0;
        Event::Head(head, start_ns)
    }

    /// Consumes the rest of an oversized head, through its blank line,
    /// without holding any of it.
    fn skip_head(&mut self, input: &[u8]) -> Step {
        if input.is_empty() {
            return Step::NeedMore;
        }
        for (i, &b) in input.iter().enumerate() {
            self.skip_newlines = match (self.skip_newlines, b) {
                (1, b'\n') | (2, b'\n') => {
                    self.skipping_head = false;
                    self.skip_newlines = 0;
                    return Step::Consumed(i + 1);
                }
                (_, b'\n') => 1,
                (1, b'\r') => 2,
                _ => 0,
            };
        }
        Step::Consumed(input.len())
    }

    /// The body's framing broke: the message is emitted as far as it got
    /// (truncated, malformed) and the direction resynchronises.
    fn fail_body(&mut self, e: HttpError, ts: u64, c: &mut HttpCounters) -> Event {
        let mut event = self.complete(Vec::new(), ts);
        if let Event::Complete(done) = &mut event {
            done.body.mark_truncated();
            done.malformed = Some(e.reason());
        }
        c.partial_bodies += 1;
        let _ = self.lose(e, c);
        event
    }

    /// Ends the body in progress.
    fn complete(&mut self, trailers: Vec<Header>, ts: u64) -> Event {
        let body = match std::mem::replace(&mut self.state, State::Head) {
            State::Body(_, body) => body,
            _ => BodyAcc::new(0),
        };
        self.scanned = 0;
        Event::Complete(Done {
            body,
            trailers,
            end_ns: ts,
            framed_len: std::mem::take(&mut self.body_framed),
            malformed: None,
        })
    }

    /// Drops the message in progress and starts searching for the next.
    fn lose(&mut self, e: HttpError, c: &mut HttpCounters) -> Event {
        match e {
            HttpError::Gap => c.gap_lost_messages += 1,
            HttpError::TooLarge => c.header_limit_drops += 1,
            _ => c.parse_errors += 1,
        }
        c.resyncs += 1;
        self.state = State::Resync;
        self.scanned = 0;
        self.head_start_ns = None;
        self.skipping_head = false;
        self.body_framed = 0;
        // After a gap the next byte may start a message; after bad bytes
        // the search starts on the next line, so the same bytes are never
        // tried twice.
        self.line_start = e == HttpError::Gap;
        self.skip_first = !self.line_start;
        Event::Lost
    }
}
