//! The connection parser: two `HalfStream`s (requests, responses) and the
//! FIFO that pairs them.
//!
//! Pairing rules, each a guarantee:
//! - A request enters the queue when its head is parsed, so a response may
//!   answer a request whose body is still arriving (100-continue, early
//!   errors); the pair is emitted once both are complete.
//! - Responses answer queued requests in order; interim 1xx responses
//!   answer nothing. A response with nothing to answer is counted and
//!   dropped.
//! - A lost request (gap, bad head) keeps a placeholder in the queue, so its
//!   response is dropped with it instead of shifting every later pair; a
//!   lost response drops the request it answered, for the same reason.
//! - After `101 Switching Protocols` or a 2xx to CONNECT the pair is
//!   emitted with `upgraded` set and both directions stop. Input after a
//!   request asking to switch is held (bounded) until its response says
//!   whether the switch happened.

use std::collections::VecDeque;

use bytes::Bytes;

use super::ambiguity::{self, Ambiguity};
use super::body::{request_framing, response_framing, wants_upgrade, BodyAcc, Framing};
use super::decode::decode_body;
use super::message::{Head, StartLine};
use super::stream::{Action, Done, Event, HalfStream, Side};
use super::{HttpCounters, HttpError, HttpLimits};
use crate::exchange::{
    Anomaly, Body, Header, HttpRequest, HttpResponse, MessageKind, MessagePair, Reading, Timings,
    WireStr,
};
use crate::reassembly::Segment;

/// Parses both directions of one connection into `MessagePair`s.
#[derive(Debug)]
pub struct HttpConnectionParser {
    request: HalfStream,
    response: HalfStream,
    pairing: Pairing,
    /// The capture record the segments being fed are slices of (see
    /// `share_input`).
    input_owner: Option<Bytes>,
}

impl HttpConnectionParser {
    pub fn new(limits: HttpLimits) -> Self {
        Self {
            request: HalfStream::new(Side::Request, limits.clone()),
            response: HalfStream::new(Side::Response, limits.clone()),
            pairing: Pairing {
                max_pending: limits.max_pending_requests.max(1),
                max_decoded: limits.max_decoded_bytes,
                pending: VecDeque::new(),
                next_id: 0,
                request_in_progress: None,
                response_in_progress: None,
                upgraded: false,
                stop_requests: false,
                resume_requests: false,
            },
            input_owner: None,
        }
    }

    /// The capture record the next segments are slices of (`None` once
    /// they are not): a head or body lying whole inside it is kept as a
    /// slice of it, not copied. A segment outside it is copied as before.
    pub fn share_input(&mut self, owner: Option<&Bytes>) {
        self.input_owner = owner.cloned();
    }

    /// Bytes of the request direction (client to server), in order.
    pub fn request_segment(
        &mut self,
        ts_ns: u64,
        seg: Segment<'_>,
        counters: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        let pairing = &mut self.pairing;
        let mut handle = |ev: Event, c: &mut HttpCounters| pairing.on_request(ev, c, out);
        match seg {
            Segment::Data(d) => {
                let owner = self.input_owner.as_ref();
                self.request.feed(ts_ns, d, owner, counters, &mut handle)
            }
            Segment::Gap(n) => self.request.gap(n, ts_ns, counters, &mut handle),
        }
        self.apply_requests_flags(ts_ns, counters, out);
    }

    /// Bytes of the response direction (server to client), in order.
    pub fn response_segment(
        &mut self,
        ts_ns: u64,
        seg: Segment<'_>,
        counters: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        let pairing = &mut self.pairing;
        let mut handle = |ev: Event, c: &mut HttpCounters| pairing.on_response(ev, c, out);
        match seg {
            Segment::Data(d) => {
                let owner = self.input_owner.as_ref();
                self.response.feed(ts_ns, d, owner, counters, &mut handle)
            }
            Segment::Gap(n) => self.response.gap(n, ts_ns, counters, &mut handle),
        }
        self.apply_requests_flags(ts_ns, counters, out);
    }

    /// The connection closed (or the caller gave up on it): completes a body
    /// delimited by close, and drops (and counts) whatever is incomplete.
    pub fn close(&mut self, ts_ns: u64, counters: &mut HttpCounters, out: &mut Vec<MessagePair>) {
        let pairing = &mut self.pairing;
        self.response
            .close(ts_ns, counters, &mut |ev: Event, c: &mut HttpCounters| {
                pairing.on_response(ev, c, out)
            });
        self.request
            .close(ts_ns, counters, &mut |ev: Event, c: &mut HttpCounters| {
                pairing.on_request(ev, c, out)
            });
        for p in self.pairing.pending.drain(..) {
            if !p.lost && p.response.is_none() {
                counters.requests_unanswered += 1;
            }
        }
        self.pairing.request_in_progress = None;
        self.pairing.response_in_progress = None;
    }

    /// True once the connection switched protocols; nothing more is parsed.
    pub fn is_upgraded(&self) -> bool {
        self.pairing.upgraded
    }

    /// Memory held (buffers, kept bodies, queued requests), for the
    /// caller's per-connection accounting.
    pub fn buffered_bytes(&self) -> usize {
        self.request.held() + self.response.held() + self.pairing.held()
    }

    /// Applies what handling a response decided for the request direction.
    fn apply_requests_flags(
        &mut self,
        ts_ns: u64,
        counters: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) {
        if self.pairing.stop_requests {
            self.request.stop(counters);
            self.response.stop(counters);
        } else if std::mem::take(&mut self.pairing.resume_requests) {
            let pairing = &mut self.pairing;
            let mut handle = |ev: Event, c: &mut HttpCounters| pairing.on_request(ev, c, out);
            self.request.resume(ts_ns, counters, &mut handle);
        }
    }
}

/// A request from the moment its head is parsed until its pair is emitted.
#[derive(Debug)]
struct Pending {
    id: u64,
    method: WireStr,
    /// The head while the body is still arriving.
    head: Option<Head>,
    request: Option<HttpRequest>,
    /// The request was lost: its response (when it comes) is dropped.
    lost: bool,
    wants_upgrade: bool,
    upgraded: bool,
    timings: Timings,
    response: Option<HttpResponse>,
    /// Malformed parts and ambiguous framing of both messages.
    anomalies: Vec<Anomaly>,
    /// The request's framing ambiguity, completed when its body ends.
    ambiguity: Option<Ambiguity>,
}

impl Pending {
    fn held(&self) -> usize {
        let req = self
            .request
            .as_ref()
            .map_or(0, |r| message_held(&r.headers, &r.trailers, &r.body));
        let res = self
            .response
            .as_ref()
            .map_or(0, |r| message_held(&r.headers, &r.trailers, &r.body));
        self.head.as_ref().map_or(0, Head::held) + req + res
    }
}

fn message_held(headers: &[Header], trailers: &[Header], body: &Body) -> usize {
    let fields: usize = headers
        .iter()
        .chain(trailers)
        .map(|h| h.name.len() + h.value.len())
        .sum();
    fields + body.raw.len() + body.tail.len()
}

/// A response whose head is parsed and whose body is arriving.
#[derive(Debug)]
struct ResponseInProgress {
    head: Head,
    start_ns: u64,
    /// The queued request it answers; `None` when there is none.
    answers: Option<u64>,
    interim: bool,
    upgrade: bool,
    anomalies: Vec<Anomaly>,
    ambiguity: Option<Ambiguity>,
}

/// How to frame a body, and what is irregular about its head.
struct Decision {
    framing: Framing,
    anomalies: Vec<Anomaly>,
    ambiguity: Option<Ambiguity>,
}

/// Fails open: a head with an ambiguous length is parsed by the reading
/// RFC 9112 prefers, one with an invalid length by `no_length`; either way
/// the body is framed and the exchange inspected, and the irregularity is
/// recorded for the alert.
fn decide(
    kind: MessageKind,
    head: &Head,
    strict: Result<Framing, HttpError>,
    no_length: Framing,
    check_ambiguity: bool,
    c: &mut HttpCounters,
) -> Decision {
    let mut anomalies = Vec::new();
    if let Some(reason) = head.malformed {
        anomalies.push(Anomaly::Malformed {
            message: kind,
            reason,
        });
    }
    let ambiguity = ambiguity::check(&head.headers, no_length).filter(|_| check_ambiguity);
    let framing = match (&ambiguity, strict) {
        (Some(a), _) => {
            c.ambiguous_framing += 1;
            a.follow
        }
        (None, Ok(framing)) => framing,
        (None, Err(e)) => {
            c.parse_errors += 1;
            anomalies.push(Anomaly::Malformed {
                message: kind,
                reason: e.reason(),
            });
            no_length
        }
    };
    Decision {
        framing,
        anomalies,
        ambiguity,
    }
}

/// The anomaly an ambiguity becomes once the followed reading's body has
/// ended, `framed_len` bytes after the head.
fn ambiguity_anomaly(kind: MessageKind, a: Ambiguity, framed_len: u64) -> Anomaly {
    let reading = |f: Framing, end: Option<u64>| match f {
        Framing::Length(n) => Reading {
            framing: "content-length",
            body_end: Some(n),
        },
        Framing::Chunked => Reading {
            framing: "chunked",
            body_end: end,
        },
        Framing::Close => Reading {
            framing: "connection close",
            body_end: end,
        },
    };
    let mut followed = reading(a.follow, Some(framed_len));
    followed.body_end = Some(framed_len);
    Anomaly::AmbiguousFraming {
        message: kind,
        shape: a.shape,
        followed,
        other: reading(a.other, None),
    }
}

#[derive(Debug)]
struct Pairing {
    max_pending: usize,
    max_decoded: usize,
    pending: VecDeque<Pending>,
    next_id: u64,
    request_in_progress: Option<u64>,
    response_in_progress: Option<ResponseInProgress>,
    upgraded: bool,
    /// The protocol switched: the request direction must stop.
    stop_requests: bool,
    /// A request asking to switch was answered without switching: the
    /// request direction may go on.
    resume_requests: bool,
}

impl Pairing {
    fn held(&self) -> usize {
        let queued: usize = self.pending.iter().map(Pending::held).sum();
        queued
            + self
                .response_in_progress
                .as_ref()
                .map_or(0, |r| r.head.held())
    }

    fn on_request(
        &mut self,
        ev: Event,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) -> Action {
        match ev {
            Event::Head(head, start_ns) => {
                let mut p = self.enqueue(head.method().clone(), start_ns, c);
                let strict = request_framing(&head.headers);
                let d = decide(
                    MessageKind::Request,
                    &head,
                    strict,
                    Framing::Length(0),
                    true,
                    c,
                );
                // A request body is never delimited by the close.
                let framing = match d.framing {
                    Framing::Close => Framing::Length(0),
                    f => f,
                };
                p.anomalies = d.anomalies;
                p.ambiguity = d.ambiguity;
                p.wants_upgrade = wants_upgrade(&p.method, &head.headers);
                p.head = Some(head);
                self.request_in_progress = Some(p.id);
                self.pending.push_back(p);
                Action::Body(framing)
            }
            Event::Complete(done) => {
                let Some(id) = self.request_in_progress.take() else {
                    return Action::Continue;
                };
                c.requests += 1;
                // Gone when dropped (and counted) while its body arrived.
                let Some(p) = self.pending.iter_mut().rev().find(|p| p.id == id) else {
                    return Action::Continue;
                };
                p.timings.request_end_ns = done.end_ns;
                if let Some(a) = p.ambiguity.take() {
                    let anomaly = ambiguity_anomaly(MessageKind::Request, a, done.framed_len);
                    p.anomalies.push(anomaly);
                }
                if let Some(reason) = done.malformed {
                    p.anomalies.push(Anomaly::Malformed {
                        message: MessageKind::Request,
                        reason,
                    });
                }
                if let Some(head) = p.head.take() {
                    p.request = Some(build_request(head, done));
                }
                let pause = p.wants_upgrade && p.response.is_none();
                self.settle(c, out);
                if pause {
                    Action::Pause
                } else {
                    Action::Continue
                }
            }
            Event::Lost => {
                let in_progress = self.request_in_progress.take();
                match in_progress.and_then(|id| self.pending.iter_mut().rev().find(|p| p.id == id))
                {
                    Some(p) => {
                        p.lost = true;
                        p.head = None;
                    }
                    None => {
                        let mut p = self.enqueue(WireStr::default(), 0, c);
                        p.lost = true;
                        self.pending.push_back(p);
                    }
                }
                self.settle(c, out);
                Action::Continue
            }
        }
    }

    fn on_response(
        &mut self,
        ev: Event,
        c: &mut HttpCounters,
        out: &mut Vec<MessagePair>,
    ) -> Action {
        match ev {
            Event::Head(head, start_ns) => {
                let status = head.status();
                if (100..200).contains(&status) && status != 101 {
                    let r = ResponseInProgress {
                        head,
                        start_ns,
                        answers: None,
                        interim: true,
                        upgrade: false,
                        anomalies: Vec::new(),
                        ambiguity: None,
                    };
                    self.response_in_progress = Some(r);
                    return Action::Body(Framing::Length(0));
                }
                let front = self.pending.front().filter(|p| p.response.is_none());
                let answers = front.map(|p| p.id);
                // Unanswerable responses are still framed, to skip them.
                let method = front.map_or("GET", |p| p.method.as_str());
                let upgrade = status == 101
                    || (method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status));
                let strict = response_framing(status, method, &head.headers);
                let bodyless = matches!(strict, Ok(Framing::Length(0)))
                    && (method.eq_ignore_ascii_case("HEAD")
                        || (100..200).contains(&status)
                        || status == 204
                        || status == 304
                        || upgrade);
                let d = decide(
                    MessageKind::Response,
                    &head,
                    strict,
                    Framing::Close,
                    !bodyless,
                    c,
                );
                let r = ResponseInProgress {
                    head,
                    start_ns,
                    answers,
                    interim: false,
                    upgrade,
                    anomalies: d.anomalies,
                    ambiguity: d.ambiguity,
                };
                self.response_in_progress = Some(r);
                Action::Body(d.framing)
            }
            Event::Complete(done) => {
                let Some(r) = self.response_in_progress.take() else {
                    return Action::Continue;
                };
                if r.interim {
                    c.interim_responses += 1;
                    return Action::Continue;
                }
                c.responses += 1;
                let end_ns = done.end_ns;
                let mut anomalies = r.anomalies;
                if let Some(a) = r.ambiguity {
                    anomalies.push(ambiguity_anomaly(MessageKind::Response, a, done.framed_len));
                }
                if let Some(reason) = done.malformed {
                    anomalies.push(Anomaly::Malformed {
                        message: MessageKind::Response,
                        reason,
                    });
                }
                let response = build_response(r.head, done);
                let entry = r
                    .answers
                    .and_then(|id| self.pending.iter_mut().find(|p| p.id == id));
                let Some(p) = entry else {
                    c.unmatched_responses += 1;
                    return if r.upgrade {
                        self.switch(c)
                    } else {
                        Action::Continue
                    };
                };
                p.response = Some(response);
                p.anomalies.extend(anomalies);
                p.timings.response_start_ns = r.start_ns;
                p.timings.response_end_ns = end_ns;
                if r.upgrade {
                    p.upgraded = true;
                    if let Some(head) = p.head.take() {
                        // Switched before its body completed: emit what we have.
                        let mut body = BodyAcc::new(0);
                        body.mark_truncated();
                        p.request = Some(build_request(
                            head,
                            Done {
                                body,
                                trailers: Vec::new(),
                                end_ns,
                                framed_len: 0,
                                malformed: None,
                            },
                        ));
                        p.timings.request_end_ns = end_ns;
                    }
                    self.settle(c, out);
                    return self.switch(c);
                }
                if p.wants_upgrade {
                    self.resume_requests = true;
                }
                self.settle(c, out);
                Action::Continue
            }
            Event::Lost => {
                let answers = match self.response_in_progress.take() {
                    Some(r) if r.interim => return Action::Continue,
                    Some(r) => r.answers,
                    None => self
                        .pending
                        .front()
                        .filter(|p| p.response.is_none())
                        .map(|p| p.id),
                };
                self.drop_request(answers, c);
                Action::Continue
            }
        }
    }

    /// A new queue entry, after making room for it.
    fn enqueue(&mut self, method: WireStr, start_ns: u64, c: &mut HttpCounters) -> Pending {
        while self.pending.len() >= self.max_pending {
            let Some(old) = self.pending.pop_front() else {
                break;
            };
            c.pending_overflow += 1;
            self.resume_requests |= old.wants_upgrade;
        }
        let id = self.next_id;
        self.next_id += 1;
        let timings = Timings {
            request_start_ns: start_ns,
            ..Timings::default()
        };
        Pending {
            id,
            method,
            head: None,
            request: None,
            lost: false,
            wants_upgrade: false,
            upgraded: false,
            timings,
            response: None,
            anomalies: Vec::new(),
            ambiguity: None,
        }
    }

    /// The response to request `id` was lost: the request goes too.
    fn drop_request(&mut self, id: Option<u64>, c: &mut HttpCounters) {
        let Some(at) = id.and_then(|id| self.pending.iter().position(|p| p.id == id)) else {
            return;
        };
        if let Some(p) = self.pending.remove(at) {
            if !p.lost {
                c.requests_unanswered += 1;
            }
            self.resume_requests |= p.wants_upgrade;
        }
    }

    fn switch(&mut self, c: &mut HttpCounters) -> Action {
        self.upgraded = true;
        self.stop_requests = true;
        c.upgrades += 1;
        Action::Stop
    }

    /// Emits (or drops, for lost requests) the pairs complete at the front.
    fn settle(&mut self, c: &mut HttpCounters, out: &mut Vec<MessagePair>) {
        while let Some(front) = self.pending.front() {
            if front.response.is_none() || (front.request.is_none() && !front.lost) {
                break;
            }
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            match (p.request, p.response) {
                (Some(mut request), Some(mut response)) if !p.lost => {
                    decode_body(&request.headers, &mut request.body, self.max_decoded, c);
                    decode_body(&response.headers, &mut response.body, self.max_decoded, c);
                    c.exchanges += 1;
                    out.push(MessagePair {
                        request,
                        response,
                        timings: p.timings,
                        upgraded: p.upgraded,
                        anomalies: p.anomalies,
                    });
                }
                _ => c.responses_to_lost_requests += 1,
            }
        }
    }
}

fn build_request(head: Head, done: Done) -> HttpRequest {
    let (method, target) = match head.start {
        StartLine::Request { method, target } => (method, target),
        StartLine::Response { .. } => (WireStr::default(), WireStr::default()),
    };
    HttpRequest {
        method,
        target,
        version: head.version,
        headers: head.headers,
        trailers: done.trailers,
        body: done.body.into_body(),
    }
}

fn build_response(head: Head, done: Done) -> HttpResponse {
    let (status, reason) = match head.start {
        StartLine::Response { status, reason } => (status, reason),
        StartLine::Request { .. } => (0, WireStr::default()),
    };
    HttpResponse {
        status,
        reason,
        version: head.version,
        headers: head.headers,
        trailers: done.trailers,
        body: done.body.into_body(),
    }
}
