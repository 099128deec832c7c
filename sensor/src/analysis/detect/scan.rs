//! The engine: walks the parts of one exchange, runs the rules the
//! prefilter lets through, and merges findings by rule and location.

use std::collections::HashMap;

use crate::exchange::{header, Body, Header, HttpExchange};

use super::body::{body_kind, form_pairs, BodyKind};
use super::checks;
use super::grpc;
use super::headers;
use super::json_walk;
use super::jwt;
use super::protocol;
use super::redact::redact;
use super::rules::{normalise_field, Check, Scope};
use super::types::{Finding, Location, Message, Part};
use super::{Allow, ContentDetector};

struct Merged {
    finding: Finding,
    exact: Location,
    differs: bool,
    rule: usize,
}

pub struct Scan<'d> {
    det: &'d ContentDetector,
    allow: Vec<&'d Allow>,
    merged: Vec<Merged>,
    index: HashMap<(usize, Location), usize>,
    active: Vec<bool>,
    /// Findings worded by their detector (protocol), not by the engine.
    worded: Vec<Finding>,
    /// The Host header without its port (for JWT key URLs).
    host: String,
}

impl<'d> Scan<'d> {
    pub fn new(det: &'d ContentDetector, exchange: &HttpExchange) -> Self {
        let method = exchange.request.method.as_str();
        let path = crate::endpoint::path_of(&exchange.request.target);
        Scan {
            det,
            allow: det
                .allow
                .iter()
                .filter(|a| a.endpoint_matches(method, path))
                .collect(),
            merged: Vec::new(),
            index: HashMap::new(),
            active: vec![false; det.rules.len()],
            worded: Vec::new(),
            host: header(&exchange.request.headers, "host")
                .map(|h| {
                    let h = String::from_utf8_lossy(h);
                    h.rsplit_once(':')
                        .map_or(&*h, |(host, _)| host)
                        .to_ascii_lowercase()
                })
                .unwrap_or_default(),
        }
    }

    pub fn run(mut self, exchange: &HttpExchange) -> Vec<Finding> {
        let target = exchange.request.target.as_bytes();
        let (path, query) = match target.iter().position(|&b| b == b'?') {
            Some(q) => (&target[..q], Some(&target[q + 1..])),
            None => (target, None),
        };
        self.text_part(Message::Request, Part::RequestLine, None, path);
        if let Some(query) = query {
            self.pairs(Message::Request, Part::Query, query);
        }
        let tls = exchange.connection.tls;
        self.headers(Message::Request, &exchange.request.headers, tls);
        self.headers(Message::Response, &exchange.response.headers, tls);
        self.headers(Message::Response, &exchange.response.trailers, tls);
        if grpc::is_grpc(&exchange.request.headers) || grpc::is_grpc(&exchange.response.headers) {
            let method = String::from_utf8_lossy(path).into_owned();
            let q = &exchange.request;
            self.grpc(Message::Request, &method, &q.headers, &q.body);
            self.grpc_response(&method, exchange);
            return self.finish();
        }
        self.body(
            Message::Request,
            &exchange.request.headers,
            &exchange.request.body,
        );
        self.body(
            Message::Response,
            &exchange.response.headers,
            &exchange.response.body,
        );
        self.protocol(exchange);
        self.finish()
    }

    /// Ambiguous framing the HTTP stage found, one finding per head.
    fn protocol(&mut self, exchange: &HttpExchange) {
        let Some(rule) = self.det.framing_rule else {
            return;
        };
        let r = &self.det.rules[rule];
        for f in protocol::ambiguous_framings(&exchange.anomalies) {
            let fingerprint = self.det.key.fingerprint(f.shape.as_bytes());
            if self.allow.iter().any(|a| a.drops(&r.id, &fingerprint)) {
                continue;
            }
            self.worded.push(Finding {
                rule: r.id.clone(),
                category: r.category,
                severity: r.severity,
                location: f.location,
                evidence: f.shape.to_owned(),
                fingerprint,
                count: 1,
                summary: f.summary,
            });
        }
    }

    /// Runs the prefilter; false when no rule can fire on `text`.
    fn prefilter(&mut self, text: &[u8]) -> bool {
        self.active.iter_mut().for_each(|a| *a = false);
        self.det.prefilter.run(text, &mut self.active)
    }

    fn text_part(&mut self, message: Message, part: Part, name: Option<String>, text: &[u8]) {
        if text.is_empty() || !self.prefilter(text) {
            return;
        }
        self.value(message, part, None, text, &|_| Location {
            message,
            part,
            name: name.clone(),
        });
    }

    fn pairs(&mut self, message: Message, part: Part, text: &[u8]) {
        if !self.prefilter(text) {
            return;
        }
        for (key, value) in form_pairs(text) {
            let name = String::from_utf8_lossy(&key[..key.len().min(100)]).into_owned();
            self.value(message, part, Some(&key), &value, &|_| Location {
                message,
                part,
                name: Some(name.clone()),
            });
        }
    }

    fn headers(&mut self, message: Message, list: &[Header], tls: bool) {
        for h in list {
            let location = || Location {
                message,
                part: Part::Header,
                name: Some(h.name.clone()),
            };
            if message == Message::Request && !tls && headers::basic_credentials(&h.name, &h.value)
            {
                if let Some(rule) = self.det.basic_rule {
                    self.record(rule, location(), location(), &h.value);
                }
            }
            if message == Message::Response && headers::version_banner(&h.name, &h.value) {
                if let Some(rule) = self.det.banner_rule {
                    self.record(rule, location(), location(), &h.value);
                }
            }
            if self.prefilter(&h.value) {
                self.value(
                    message,
                    Part::Header,
                    Some(h.name.as_bytes()),
                    &h.value,
                    &|_| location(),
                );
            }
        }
    }

    fn body(&mut self, message: Message, headers: &[Header], body: &Body) {
        let content = body.content();
        let content = &content[..content.len().min(self.det.max_inspect_bytes)];
        if content.is_empty() {
            return;
        }
        if !body.tail.is_empty() && self.prefilter(&body.tail) {
            // The end of a body longer than the kept prefix (or seen after
            // a gap): not parseable on its own, so read as text.
            self.value(message, Part::Body, None, &body.tail, &|_| Location {
                message,
                part: Part::Body,
                name: None,
            });
        }
        let kind = body_kind(header(headers, "content-type"), content);
        if kind == BodyKind::Json {
            return self.json(message, content);
        }
        if kind == BodyKind::Binary || !self.prefilter(content) {
            return;
        }
        match kind {
            BodyKind::Json => self.json(message, content),
            BodyKind::Form => {
                for (key, value) in form_pairs(content) {
                    let name = String::from_utf8_lossy(&key[..key.len().min(100)]).into_owned();
                    self.value(message, Part::Body, Some(&key), &value, &|_| Location {
                        message,
                        part: Part::Body,
                        name: Some(name.clone()),
                    });
                }
            }
            BodyKind::Text => self.value(message, Part::Body, None, content, &|_| Location {
                message,
                part: Part::Body,
                name: None,
            }),
            BodyKind::Binary => {}
        }
    }

    /// gRPC: every string of every message, located by the call and the
    /// field path (`/pkg.Svc/Method $.3.1`).
    fn grpc(&mut self, message: Message, method: &str, headers: &[Header], body: &Body) {
        let content = &body.raw[..body.raw.len().min(self.det.max_inspect_bytes)];
        let cap = self.det.max_inspect_bytes;
        grpc::strings(headers, content, cap, &mut |path, text| {
            if self.prefilter(text) {
                let name = if method.is_empty() {
                    path.render()
                } else {
                    format!("{method} {}", path.render())
                };
                self.value(message, Part::Body, None, text, &|_| Location {
                    message,
                    part: Part::Body,
                    name: Some(name.clone()),
                });
            }
        });
    }

    /// The response's messages, and a failed call's `grpc-message` read as
    /// an error text (stack traces and the like are verbose errors).
    fn grpc_response(&mut self, method: &str, exchange: &HttpExchange) {
        let r = &exchange.response;
        self.grpc(Message::Response, method, &r.headers, &r.body);
        if exchange.grpc_status().unwrap_or(0) == 0 {
            return;
        }
        let text = header(&r.trailers, "grpc-message")
            .or_else(|| header(&r.headers, "grpc-message"))
            .map(grpc::decode_message)
            .unwrap_or_default();
        self.text_part(
            Message::Response,
            Part::Body,
            Some("grpc-message".to_owned()),
            &text,
        );
    }

    /// JSON: keyword hits of the whole body are mapped onto the values
    /// (and keys) they fall in, so a rule runs only on values that can
    /// match it, and most values run none.
    fn json(&mut self, message: Message, content: &[u8]) {
        let mut hits = Vec::new();
        self.det.prefilter.hits(content, &mut hits);
        if hits.is_empty()
            && !self
                .det
                .prefilter
                .mark_unconditional(content, &mut self.active)
        {
            return;
        }
        let mut next = 0;
        let mut dirty = true;
        json_walk::walk(content, &mut |path, value, (start, end)| {
            if dirty {
                self.active.iter_mut().for_each(|a| *a = false);
                dirty = false;
            }
            let from = path.key_span().map_or(start, |(s, _)| s);
            while next < hits.len() && hits[next].0 + 1 < from {
                next += 1;
            }
            let mut any = false;
            let mut i = next;
            while i < hits.len() && hits[i].0 < end {
                let (s, e, p) = hits[i];
                // `ks - 1`: keywords may include the key's opening quote (`"pin`).
                let in_key = path
                    .key_span()
                    .is_some_and(|(ks, ke)| s + 1 >= ks && e <= ke);
                if in_key || (s >= start && e <= end) {
                    any |= self.det.prefilter.mark_pattern(p, &mut self.active);
                }
                i += 1;
            }
            any |= self
                .det
                .prefilter
                .mark_unconditional(value, &mut self.active);
            if any {
                dirty = true;
                self.value(message, Part::Body, path.key(), value, &|wildcard| {
                    Location {
                        message,
                        part: Part::Body,
                        name: Some(path.render(wildcard)),
                    }
                });
            }
        });
    }

    fn applies(&self, scope: Scope, message: Message, part: Part) -> bool {
        let response_body = message == Message::Response && part == Part::Body;
        match scope {
            Scope::Anywhere => true,
            Scope::Pii => {
                response_body
                    || (self.det.pii_in_requests
                        && message == Message::Request
                        && matches!(part, Part::Body | Part::Query))
            }
            Scope::ResponseBody => response_body,
            Scope::Special => false,
            Scope::Request => message == Message::Request,
            Scope::Response => message == Message::Response,
        }
    }

    /// Runs the active rules on one value (a JSON value, a parameter, a
    /// header, a whole text body). `key` is its field name, if any;
    /// `location(wildcard)` builds where it is.
    fn value(
        &mut self,
        message: Message,
        part: Part,
        key: Option<&[u8]>,
        text: &[u8],
        location: &dyn Fn(bool) -> Location,
    ) {
        let det = self.det;
        let mut norm_key: Option<String> = None;
        let mut fired = false;
        for pass_fallback in [false, true] {
            if pass_fallback && fired {
                break;
            }
            for (i, rule) in det.rules.iter().enumerate() {
                if !self.active[i] || rule.fallback != pass_fallback || !rule.enabled {
                    continue;
                }
                if !self.applies(rule.scope, message, part) {
                    continue;
                }
                if !rule.fields.is_empty() {
                    if let Some(key) = key {
                        let k = norm_key.get_or_insert_with(|| normalise_field(key));
                        if rule.fields.iter().any(|f| f.matches(k)) {
                            let value = match &rule.field_regex {
                                Some(re) => re.find(text).map(|m| m.as_bytes()),
                                None => Some(text.trim_ascii()),
                            };
                            if let Some(value) = value {
                                if checks::passes(rule.check, value, text, det.report_examples) {
                                    self.record(i, location(false), location(true), value);
                                    fired = true;
                                }
                            }
                        }
                    }
                }
                let Some(re) = &rule.regex else { continue };
                let grouped = re.captures_len() > 1;
                let mut found: Vec<(usize, usize)> = Vec::new();
                if grouped {
                    for caps in re.captures_iter(text) {
                        if let Some(m) = caps.get(1).or_else(|| caps.get(0)) {
                            found.push((m.start(), m.end()));
                        }
                    }
                } else {
                    found.extend(re.find_iter(text).map(|m| (m.start(), m.end())));
                }
                for (s, e) in found {
                    let value = &text[s..e];
                    if rule.check == Check::Jwt {
                        let policy = jwt::Policy {
                            max_lifetime_secs: det.jwt_max_lifetime_secs,
                            allowed_algs: &det.jwt_allowed_algs,
                            host: &self.host,
                        };
                        let problems = jwt::problems_with(value, &policy);
                        for id in problems {
                            if let Some(&r) = det.by_id.get(id) {
                                if det.rules[r].enabled {
                                    self.record(r, location(false), location(true), value);
                                    fired = true;
                                }
                            }
                        }
                    } else if checks::passes(rule.check, value, text, det.report_examples) {
                        self.record(i, location(false), location(true), value);
                        fired = true;
                    }
                }
            }
        }
    }

    fn record(&mut self, rule: usize, exact: Location, wildcard: Location, value: &[u8]) {
        let r = &self.det.rules[rule];
        let fingerprint = self.det.key.fingerprint(&checks::normalise(r.check, value));
        if self.allow.iter().any(|a| a.drops(&r.id, &fingerprint)) {
            return;
        }
        let key = (rule, wildcard);
        if let Some(&at) = self.index.get(&key) {
            let m = &mut self.merged[at];
            m.finding.count = m.finding.count.saturating_add(1);
            m.differs |= m.exact != exact;
            return;
        }
        self.index.insert(key.clone(), self.merged.len());
        self.merged.push(Merged {
            finding: Finding {
                rule: r.id.clone(),
                category: r.category,
                severity: r.severity,
                location: key.1,
                evidence: redact(r.mask, value),
                fingerprint,
                count: 1,
                summary: String::new(),
            },
            exact,
            differs: false,
            rule,
        });
    }

    fn finish(self) -> Vec<Finding> {
        let det = self.det;
        let worded = self.worded;
        self.merged
            .into_iter()
            .map(|m| {
                let mut f = m.finding;
                if !m.differs {
                    f.location = m.exact;
                }
                let what = short(&det.rules[m.rule].description);
                f.summary = if f.count > 1 {
                    format!("{what} in {} ({} occurrences).", f.location, f.count)
                } else {
                    format!("{what} in {}.", f.location)
                };
                f
            })
            .chain(worded)
            .collect()
    }
}

/// A description up to its parenthesised details.
fn short(description: &str) -> &str {
    description
        .split(" (")
        .next()
        .unwrap_or(description)
        .trim_end_matches('.')
}
