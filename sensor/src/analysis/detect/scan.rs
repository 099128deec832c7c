//! The engine: walks the parts of one exchange, runs the rules the
//! prefilter lets through, and merges findings by rule and location.

use bytes::Bytes;
use regex::bytes::CaptureLocations;

use crate::exchange::{header, Body, Header, HttpExchange};

use super::body::{body_kind, form_pairs, BodyKind};
use super::checks;
use super::fingerprint::Hex;
use super::group_span::GroupSpan;
use super::grpc;
use super::headers;
use super::json_walk;
use super::jwt;
use super::match_set;
use super::memo::{Found, HeaderKey};
use super::place::{Name, Place};
use super::prefilter;
use super::protocol;
use super::redact::redact;
use super::rule_set::RuleSet;
use super::rules::{normalise_field, Check, Scope};
use super::scratch::Scratch;
use super::types::{Finding, Message, Part};
use super::{Allow, ContentDetector, Fold};

pub struct Scan<'d> {
    det: &'d ContentDetector,
    allow: Vec<&'d Allow>,
    /// Buffers kept by the caller between exchanges: the merge index,
    /// keyword hits, digit runs and match spans.
    scratch: &'d mut Scratch,
    active: RuleSet,
    /// Findings worded by their detector (protocol), not by the engine.
    worded: Vec<Finding>,
    /// The Host header (for JWT key URLs), read only when a JWT is judged.
    host: Option<Bytes>,
    /// While a header is read for the memo: its findings, held back.
    capture: Option<Vec<Found>>,
    /// A JWT was judged against `host`: the findings are this exchange's,
    /// not the header value's alone, and stay out of the memo.
    read_host: bool,
    /// Capture slots per rule, made when a grouped rule first runs in the
    /// exchange (none in the clean path).
    locs: Vec<Option<CaptureLocations>>,
    /// The rules the digit set ruled out for the value being read, and
    /// the set's search state (made when first needed: most exchanges
    /// have no digit run).
    missed: Option<(RuleSet, match_set::Scratch)>,
    /// Whether a version banner (by fingerprint) was already reported for
    /// the exchange's host: such a banner is dropped before its finding
    /// is built, as the analysis would drop it after.
    reported_banner: Option<&'d mut dyn FnMut(&str) -> bool>,
    /// Folds a new finding (rule id, fingerprint) into an open
    /// deduplication window, true when it did: the finding is then kept
    /// for the other detectors without its words (`Finding::folded`).
    fold: Option<&'d mut Fold<'d>>,
}

impl<'d> Scan<'d> {
    pub fn new(
        det: &'d ContentDetector,
        exchange: &HttpExchange,
        scratch: &'d mut Scratch,
    ) -> Self {
        let method = exchange.request.method.as_str();
        let path = crate::endpoint::path_of(&exchange.request.target);
        Scan {
            det,
            allow: det
                .allow
                .iter()
                .filter(|a| a.endpoint_matches(method, path))
                .collect(),
            scratch,
            active: RuleSet::new(det.rules.len()),
            worded: Vec::new(),
            host: exchange
                .request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("host"))
                .map(|h| h.value.clone()),
            capture: None,
            read_host: false,
            locs: Vec::new(),
            missed: None,
            reported_banner: None,
            fold: None,
        }
    }

    /// Drops version banners `reported` says were reported already.
    pub fn with_reported_banners(mut self, reported: &'d mut dyn FnMut(&str) -> bool) -> Self {
        self.reported_banner = Some(reported);
        self
    }

    /// Decides deduplication before a finding's words are built: `fold`
    /// is asked with each new finding's rule id and fingerprint.
    pub fn with_folding(mut self, fold: &'d mut Fold<'d>) -> Self {
        self.fold = Some(fold);
        self
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
                folded: false,
            });
        }
    }

    /// Runs the prefilter; false when no rule can fire on `text`.
    fn prefilter(&mut self, text: &[u8]) -> bool {
        self.active.clear();
        self.det.prefilter.run(text, &mut self.active)
    }

    fn text_part(&mut self, message: Message, part: Part, name: Option<&str>, text: &[u8]) {
        if text.is_empty() || !self.prefilter(text) {
            return;
        }
        let name = name.map_or(Name::None, Name::Text);
        self.value(Place::new(message, part, name), None, text);
    }

    fn pairs(&mut self, message: Message, part: Part, text: &[u8]) {
        if !self.prefilter(text) {
            return;
        }
        for (key, value) in form_pairs(text) {
            let name = String::from_utf8_lossy(&key[..key.len().min(100)]);
            let place = Place::new(message, part, Name::Text(&name));
            self.value(place, Some(&key), &value);
        }
    }

    /// Each header's findings; a header read before (same message, name,
    /// value, transport) comes from the memo.
    fn headers(&mut self, message: Message, list: &[Header], tls: bool) {
        let det = self.det;
        for h in list {
            let basic = message == Message::Request
                && !tls
                && det.basic_rule.is_some()
                && headers::names_credentials(&h.name);
            let banner = message == Message::Response
                && det.banner_rule.is_some()
                && headers::names_software(&h.name);
            let triggered = self.prefilter(&h.value);
            if !basic && !banner && !triggered {
                continue;
            }
            let key = HeaderKey {
                message,
                tls,
                name: &h.name,
                value: &h.value,
            };
            let found = match det.header_memo.get(&key) {
                Some(found) => found,
                None => {
                    let found = self.read_header(message, h, basic, banner, triggered);
                    if std::mem::take(&mut self.read_host) {
                        found.into()
                    } else {
                        det.header_memo.put(&key, found)
                    }
                }
            };
            if found.is_empty() {
                continue;
            }
            let place = Place::new(message, Part::Header, Name::Text(&h.name));
            for f in found.iter() {
                if Some(f.rule) == det.banner_rule && self.reported_banner(f) {
                    continue;
                }
                self.merge(f.rule, &place, || f.fingerprint, || f.evidence.clone());
            }
        }
    }

    /// A banner finding an allowlist does not drop, already reported for
    /// this host (the allowlist first, so a banner it drops is not counted
    /// as a repeat).
    fn reported_banner(&mut self, f: &Found) -> bool {
        let id = &self.det.rules[f.rule].id;
        let allowed = self.allow.iter().any(|a| {
            a.covers(id)
                && (a.fingerprints.is_empty()
                    || a.fingerprints.iter().any(|x| x == f.fingerprint.as_str()))
        });
        !allowed
            && self
                .reported_banner
                .as_mut()
                .is_some_and(|reported| reported(f.fingerprint.as_str()))
    }

    /// What one header yields, before allowlists.
    fn read_header(
        &mut self,
        message: Message,
        h: &Header,
        basic: bool,
        banner: bool,
        triggered: bool,
    ) -> Vec<Found> {
        let det = self.det;
        self.capture = Some(Vec::new());
        self.read_host = false;
        let place = Place::new(message, Part::Header, Name::Text(&h.name));
        if let Some(rule) = det.basic_rule.filter(|_| basic) {
            if headers::basic_credentials(&h.name, &h.value) {
                self.record(rule, &place, &h.value);
            }
        }
        if let Some(rule) = det.banner_rule.filter(|_| banner) {
            if headers::version_banner(&h.name, &h.value) {
                self.record(rule, &place, &h.value);
            }
        }
        if triggered {
            self.value(place, Some(h.name.as_bytes()), &h.value);
        }
        self.capture.take().unwrap_or_default()
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
            let place = Place::new(message, Part::Body, Name::None);
            self.value(place, None, &body.tail);
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
                    let name = String::from_utf8_lossy(&key[..key.len().min(100)]);
                    let place = Place::new(message, Part::Body, Name::Text(&name));
                    self.value(place, Some(&key), &value);
                }
            }
            BodyKind::Text => {
                let place = Place::new(message, Part::Body, Name::None);
                self.value(place, None, content);
            }
            BodyKind::Binary => {}
        }
    }

    /// gRPC: every string of every message, located by the call and the
    /// field path (`/pkg.Svc/Method $.3.1`).
    fn grpc(&mut self, message: Message, method: &str, headers: &[Header], body: &Body) {
        let content = &body.raw[..body.raw.len().min(self.det.max_inspect_bytes)];
        let cap = self.det.max_inspect_bytes;
        let det = self.det;
        let schema = det
            .grpc_schema
            .message_type(method, message == Message::Response);
        grpc::strings(headers, content, cap, schema, &mut |path, text| {
            if self.prefilter(text) {
                let name = if method.is_empty() {
                    path.render()
                } else {
                    format!("{method} {}", path.render())
                };
                let place = Place::new(message, Part::Body, Name::Text(&name));
                self.value(place, None, text);
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
        self.text_part(Message::Response, Part::Body, Some("grpc-message"), &text);
    }

    /// JSON: keyword hits and digit runs of the whole body are mapped
    /// onto the values (and keys) they fall in, so a rule runs only on
    /// values that can match it, and most values run none.
    fn json(&mut self, message: Message, content: &[u8]) {
        let mut hits = std::mem::take(&mut self.scratch.hits);
        let mut runs = std::mem::take(&mut self.scratch.runs);
        runs.clear();
        self.json_with(message, content, &mut hits, &mut runs);
        self.scratch.hits = hits;
        self.scratch.runs = runs;
    }

    /// `json`, with the buffers for the body's hits and runs.
    fn json_with(
        &mut self,
        message: Message,
        content: &[u8],
        hits: &mut Vec<(usize, usize, usize)>,
        runs: &mut Vec<(usize, usize)>,
    ) {
        let det = self.det;
        let pre = &det.prefilter;
        pre.hits(content, hits);
        if pre.wants_digits() {
            prefilter::digit_runs(content, &mut |s, e| {
                runs.push((s, e));
                true
            });
        }
        let always = pre.mark_always(&mut self.active);
        if hits.is_empty() && runs.is_empty() && !always {
            return;
        }
        // Past the last keyword start, digit run end and escape (an
        // escaped value is read for digits on its own), no value can
        // trigger a rule: the walk ends there.
        let horizon = if always {
            usize::MAX
        } else {
            [
                hits.last().map_or(0, |h| h.0 + 1),
                runs.last().map_or(0, |r| r.1),
                memchr::memrchr(b'\\', content).map_or(0, |at| at + 1),
            ]
            .into_iter()
            .max()
            .unwrap_or(0)
        };
        let mut next = 0;
        let mut next_run = 0;
        let mut dirty = true;
        json_walk::walk(content, &mut |path, value, (start, end)| {
            if dirty {
                self.active.clear();
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
                    any |= pre.mark_pattern(p, &mut self.active);
                }
                i += 1;
            }
            any |= pre.mark_always(&mut self.active);
            if pre.wants_digits() && digits_in(value, (start, end), runs, &mut next_run) {
                any |= pre.mark_digits(&mut self.active);
            }
            if any {
                dirty = true;
                let place = Place::new(message, Part::Body, Name::Path(path));
                self.value(place, path.key(), value);
            }
            end < horizon
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
    /// header, a whole text body) at `place`. `key` is its field name, if
    /// any. Kept out of line: the walk
    /// that calls it for the few values the prefilter lets through stays
    /// small.
    #[inline(never)]
    fn value(&mut self, place: Place<'_>, key: Option<&[u8]>, text: &[u8]) {
        let det = self.det;
        let (message, part) = (place.message, place.part);
        let mut norm_key: Option<String> = None;
        let mut fired = false;
        // Taken out while the rules run, and put back (nothing marks rules
        // meanwhile).
        let active = std::mem::take(&mut self.active);
        let ruled_out = self.rule_out(&active, message, part, text);
        for pass_fallback in [false, true] {
            if pass_fallback && fired {
                break;
            }
            for i in active.iter() {
                let rule = &det.rules[i];
                if rule.fallback != pass_fallback || !rule.enabled {
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
                                if let Some(r) = det.judge(i, value, text) {
                                    self.record(r, &place, value);
                                    fired = true;
                                }
                            }
                        }
                    }
                }
                let Some(re) = &rule.regex else { continue };
                if ruled_out && self.missed.as_ref().is_some_and(|(m, _)| m.contains(i)) {
                    continue;
                }
                let mut found = std::mem::take(&mut self.scratch.spans);
                found.clear();
                let plan = &det.group_span[i];
                // Asked of the regex, the group count is a call and two
                // pointer loads per value: read once at start-up.
                let grouped = det.grouped[i];
                if grouped && matches!(plan, GroupSpan::Captures) {
                    // Most values do not match: `is_match` says so by the
                    // cheapest strategy the regex has. Group 1 (the value
                    // without the context the pattern reads around it) goes
                    // into slots kept for the exchange: no `Captures` per
                    // match.
                    if !re.is_match(text) {
                        self.scratch.spans = found;
                        continue;
                    }
                    if self.locs.is_empty() {
                        self.locs = vec![None; det.rules.len()];
                    }
                    let locs = self.locs[i].get_or_insert_with(|| re.capture_locations());
                    let mut at = 0;
                    while at <= text.len() {
                        let Some(m) = re.captures_read_at(locs, text, at) else {
                            break;
                        };
                        if let Some(span) = locs.get(1).or(Some((m.start(), m.end()))) {
                            found.push(span);
                        }
                        at = if m.end() > m.start() {
                            m.end()
                        } else {
                            m.end() + 1
                        };
                    }
                } else if plan.may_need_captures() && grouped {
                    // Group 1 told from each match where one framing
                    // fits; the captures of that match where not.
                    for m in re.find_iter(text) {
                        let span = (m.start(), m.end());
                        if let Some(cut) = plan.cut(text, span) {
                            found.push(cut);
                            continue;
                        }
                        if self.locs.is_empty() {
                            self.locs = vec![None; det.rules.len()];
                        }
                        let locs = self.locs[i].get_or_insert_with(|| re.capture_locations());
                        // The search from the match's start finds that
                        // match again (nothing matched before it).
                        if re.captures_read_at(locs, text, m.start()).is_some() {
                            found.extend(locs.get(1).or(Some(span)));
                        }
                    }
                } else {
                    // No group, or group 1 told from the match's ends:
                    // found without the capture engines.
                    found.extend(re.find_iter(text).map(|m| {
                        let span = (m.start(), m.end());
                        plan.cut(text, span).unwrap_or(span)
                    }));
                }
                for &(s, e) in &found {
                    let value = &text[s..e];
                    if rule.check == Check::Jwt {
                        self.read_host = true;
                        let host = host_name(self.host.as_deref());
                        let policy = jwt::Policy {
                            max_lifetime_secs: det.jwt_max_lifetime_secs,
                            allowed_algs: &det.jwt_allowed_algs,
                            host: &host,
                        };
                        let problems = jwt::problems_with(value, &policy);
                        // A healthy token is still a finding where it
                        // should not travel: in a response body or a URL.
                        let exposed = matches!(part, Part::RequestLine | Part::Query)
                            || (message == Message::Response && part == Part::Body);
                        if problems.is_empty() && exposed && jwt::decodes(value) {
                            if let Some(&r) = det.by_id.get(jwt::EXPOSED) {
                                if det.rules[r].enabled {
                                    self.record(r, &place, value);
                                    fired = true;
                                }
                            }
                        }
                        for id in problems {
                            if let Some(&r) = det.by_id.get(id) {
                                if det.rules[r].enabled {
                                    self.record(r, &place, value);
                                    fired = true;
                                }
                            }
                        }
                    } else if let Some(r) = det.judge(i, value, text) {
                        self.record(r, &place, value);
                        fired = true;
                    }
                }
                self.scratch.spans = found;
            }
        }
        self.active = active;
    }

    /// Where two or more digit rules are to run, one pass of their set
    /// finds those with no match (into `missed`); true when it ran.
    fn rule_out(&mut self, active: &RuleSet, message: Message, part: Part, text: &[u8]) -> bool {
        let det = self.det;
        let Some(set) = &det.digit_set else {
            return false;
        };
        let running = set
            .rules()
            .iter()
            .filter(|&&r| active.contains(r) && self.applies(det.rules[r].scope, message, part))
            .count();
        if running < 2 {
            return false;
        }
        let (missed, scratch) = self
            .missed
            .get_or_insert_with(|| (RuleSet::new(det.rules.len()), set.scratch()));
        missed.clear();
        set.misses(text, scratch, missed);
        true
    }

    /// A finding of rule `rule` on `value` at `location(wildcard)`.
    fn record(&mut self, rule: usize, place: &Place<'_>, value: &[u8]) {
        let det = self.det;
        let r = &det.rules[rule];
        let fingerprint = || {
            det.key
                .fingerprint_of(|update| checks::normalise(r.check, value, update))
        };
        if let Some(found) = &mut self.capture {
            found.push(Found {
                rule,
                fingerprint: fingerprint(),
                evidence: redact(r.mask, value),
            });
            return;
        }
        self.merge(rule, place, fingerprint, || redact(r.mask, value));
    }

    /// Adds a finding unless an allowlist drops it; the same rule at the
    /// same (wildcard) location counts once more instead. The fingerprint
    /// (a keyed hash) is made only when needed: for a new finding, or for
    /// an allowlist entry that lists fingerprints; the evidence only for a
    /// new finding that does not fold into an open deduplication window.
    fn merge(
        &mut self,
        rule: usize,
        place: &Place<'_>,
        fingerprint: impl FnOnce() -> Hex,
        evidence: impl FnOnce() -> String,
    ) {
        let r = &self.det.rules[rule];
        let mut make = Some(fingerprint);
        let mut made: Option<Hex> = None;
        for a in &self.allow {
            if !a.covers(&r.id) {
                continue;
            }
            if a.fingerprints.is_empty() {
                return;
            }
            let f = made.get_or_insert_with(|| (make.take().expect("made once"))());
            if a.fingerprints.iter().any(|x| x == f.as_str()) {
                return;
            }
        }
        let mut fingerprint = move || match made {
            Some(f) => f,
            None => (make.take().expect("made once"))(),
        };
        // A banner may still be dropped as a repeat after the scan
        // (`noise`): it is folded, if at all, after that.
        let fold = self
            .fold
            .as_mut()
            .filter(|_| Some(rule) != self.det.banner_rule);
        self.scratch.merged.add(rule, place, |location| {
            let fingerprint = fingerprint();
            let folded = fold.is_some_and(|fold| fold(&r.id, fingerprint.as_str()));
            let (evidence, fingerprint) = match folded {
                true => (String::new(), String::new()),
                false => (evidence(), fingerprint.as_str().to_owned()),
            };
            Finding {
                rule: r.id.clone(),
                category: r.category,
                severity: r.severity,
                location,
                evidence,
                fingerprint,
                count: 1,
                summary: String::new(),
                folded,
            }
        });
    }

    fn finish(self) -> Vec<Finding> {
        let det = self.det;
        let worded = self.worded;
        let findings = self
            .scratch
            .merged
            .drain()
            .map(|m| {
                let mut f = m.finding;
                if !m.differs {
                    if let Some(exact) = m.exact {
                        f.location = exact;
                    }
                }
                if f.folded {
                    return f;
                }
                // Built piece by piece: `format!` took a tenth of a small
                // exchange's time.
                let what = &det.short_descriptions[m.rule];
                let mut summary = String::with_capacity(what.len() + 48);
                summary.push_str(what);
                summary.push_str(" in ");
                f.location.write_to(&mut summary);
                if f.count > 1 {
                    use std::fmt::Write as _;
                    let _ = write!(summary, " ({} occurrences).", f.count);
                } else {
                    summary.push('.');
                }
                f.summary = summary;
                f
            })
            .chain(worded)
            .collect();
        self.scratch.reset();
        findings
    }
}

/// The Host header without its port, lowercase (empty without one).
fn host_name(header: Option<&[u8]>) -> String {
    header
        .map(|h| {
            let h = String::from_utf8_lossy(h);
            h.rsplit_once(':')
                .map_or(&*h, |(host, _)| host)
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// A description up to its parenthesised details.
pub(super) fn short(description: &str) -> &str {
    description
        .split(" (")
        .next()
        .unwrap_or(description)
        .trim_end_matches('.')
}

/// Whether a JSON value holds a long digit run, from the runs of the
/// whole body (ordered, `next` the first not yet passed): a run inside
/// the value's raw span is one; a value no run touches has none (the
/// value is a stretch of the body, and its runs are pieces of the
/// body's); a run crossing its edge, or an unescaped value, is read
/// again on its own.
fn digits_in(
    value: &[u8],
    (start, end): (usize, usize),
    runs: &[(usize, usize)],
    next: &mut usize,
) -> bool {
    while *next < runs.len() && runs[*next].1 <= start {
        *next += 1;
    }
    let raw = value.len() == end - start;
    match runs.get(*next) {
        Some(&(s, e)) if s < end => {
            (raw && s >= start && e <= end) || prefilter::has_digit_run(value)
        }
        _ => !raw && prefilter::has_digit_run(value),
    }
}
