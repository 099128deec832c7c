//! `secret.jwt_weak_secret`: HMAC-signed JWTs (HS256/384/512) whose secret
//! is a well-known weak one, so anyone can forge tokens the service
//! accepts. Tokens come from `Authorization: Bearer` headers and response
//! bodies; each distinct signing key (issuer or host, key id, algorithm)
//! is tried once against the bundled list (`weak_secrets.txt`, public
//! wordlists, sources in its header).
//!
//! Off the hot path: `offer` only decodes the token's header and queues
//! it (at most `MAX_PENDING` keys wait; more are counted and dropped);
//! `work` tries at most `budget` secrets per call, and the session calls
//! it on its periodic tick, so one tick costs at most `budget` HMACs of a
//! token (2,000 by default) whatever the traffic. A found
//! secret is a finding; the secret itself is never shown, logged or kept
//! past the check.

mod wordlist;

use std::collections::{HashSet, VecDeque};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::{Sha256, Sha384, Sha512};

use crate::analysis::detect::jwt::WEAK_SECRET;
use crate::analysis::detect::{Category, FingerprintKey, Severity};
use crate::analysis::principal::Principal;
use crate::endpoint::EndpointKey;
use crate::exchange::{Body, HttpExchange};
use crate::finding::{Finding, Location, Message, Part};

/// Keys waiting to be tried.
const MAX_PENDING: usize = 64;
/// Distinct keys remembered as tried; past it the set starts over (a key
/// may then be tried a second time, never reported twice per episode of
/// the alert deduplication).
const MAX_SEEN: usize = 10_000;
/// Secrets tried per tick by default.
pub const DEFAULT_BUDGET: usize = 2_000;
/// Longest token considered.
const MAX_TOKEN: usize = 8192;
/// Response body bytes searched for tokens.
const MAX_BODY_SCAN: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Hs256,
    Hs384,
    Hs512,
}

impl Alg {
    fn of(name: &str) -> Option<Alg> {
        match name {
            "HS256" => Some(Alg::Hs256),
            "HS384" => Some(Alg::Hs384),
            "HS512" => Some(Alg::Hs512),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Alg::Hs256 => "HS256",
            Alg::Hs384 => "HS384",
            Alg::Hs512 => "HS512",
        }
    }

    fn signs(self, secret: &[u8], input: &[u8], signature: &[u8]) -> bool {
        fn check<M: Mac + hmac::digest::KeyInit>(secret: &[u8], input: &[u8], sig: &[u8]) -> bool {
            let Ok(mut mac) = <M as Mac>::new_from_slice(secret) else {
                return false;
            };
            mac.update(input);
            mac.verify_slice(sig).is_ok()
        }
        match self {
            Alg::Hs256 => check::<Hmac<Sha256>>(secret, input, signature),
            Alg::Hs384 => check::<Hmac<Sha384>>(secret, input, signature),
            Alg::Hs512 => check::<Hmac<Sha512>>(secret, input, signature),
        }
    }
}

/// One signing key to try, with where its token was seen.
struct Job {
    alg: Alg,
    /// `header.payload` as sent.
    signing_input: Vec<u8>,
    signature: Vec<u8>,
    /// Index of the next secret to try.
    next: usize,
    identity: Vec<u8>,
    location: Location,
    /// The exchange without bodies or headers (the token stays out).
    exchange: HttpExchange,
    endpoint: EndpointKey,
    principal: Option<Principal>,
}

/// A weak secret found: the finding and the exchange its token was seen in.
pub struct WeakToken {
    pub finding: Finding,
    pub exchange: HttpExchange,
    pub endpoint: EndpointKey,
    pub principal: Option<Principal>,
}

/// What the checker did, for `--stats` and the metrics. Counts only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WeakJwtCounters {
    /// Distinct signing keys queued for a check.
    pub keys_queued: u64,
    /// Keys checked against the whole list without a match.
    pub keys_strong: u64,
    /// Keys whose secret was on the list.
    pub keys_weak: u64,
    /// Keys not checked because `MAX_PENDING` were already waiting.
    pub keys_dropped: u64,
    /// Secrets tried.
    pub attempts: u64,
}

pub struct WeakJwtChecker {
    secrets: Vec<&'static [u8]>,
    key: FingerprintKey,
    severity: Severity,
    seen: HashSet<u64>,
    queue: VecDeque<Job>,
    counters: WeakJwtCounters,
}

impl WeakJwtChecker {
    /// `severity` is the rule's, as configured.
    pub fn new(key: FingerprintKey, severity: Severity) -> Self {
        Self {
            secrets: wordlist::secrets(),
            key,
            severity,
            seen: HashSet::new(),
            queue: VecDeque::new(),
            counters: WeakJwtCounters::default(),
        }
    }

    pub fn counters(&self) -> WeakJwtCounters {
        self.counters.clone()
    }

    /// Keys waiting for `work`.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Queues the HMAC tokens of one exchange whose key was not tried yet.
    pub fn offer(
        &mut self,
        exchange: &HttpExchange,
        endpoint: &EndpointKey,
        principal: Option<&Principal>,
    ) {
        for h in &exchange.request.headers {
            if h.name.eq_ignore_ascii_case("authorization") {
                let value = h.value.trim_ascii();
                if value.len() > 7 && value[..7].eq_ignore_ascii_case(b"bearer ") {
                    let location = Location {
                        message: Message::Request,
                        part: Part::Header,
                        name: Some(h.name.to_string()),
                    };
                    self.consider(
                        value[7..].trim_ascii(),
                        location,
                        exchange,
                        endpoint,
                        principal,
                    );
                }
            }
        }
        let body = exchange.response.body.content();
        let body = &body[..body.len().min(MAX_BODY_SCAN)];
        let mut from = 0;
        while let Some(at) = memchr::memmem::find(&body[from..], b"eyJ") {
            let start = from + at;
            let len = body[start..]
                .iter()
                .take(MAX_TOKEN + 1)
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                .count();
            let location = Location {
                message: Message::Response,
                part: Part::Body,
                name: None,
            };
            self.consider(
                &body[start..start + len],
                location,
                exchange,
                endpoint,
                principal,
            );
            from = start + len.max(3);
        }
    }

    fn consider(
        &mut self,
        token: &[u8],
        location: Location,
        exchange: &HttpExchange,
        endpoint: &EndpointKey,
        principal: Option<&Principal>,
    ) {
        if token.len() > MAX_TOKEN {
            return;
        }
        let mut parts = token.splitn(3, |&b| b == b'.');
        let (Some(header), Some(payload), Some(signature)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        let Some(header) = decode_json(header) else {
            return;
        };
        let Some(alg) = header.get("alg").and_then(Value::as_str).and_then(Alg::of) else {
            return;
        };
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return;
        };
        if signature.is_empty() {
            return;
        }
        let issuer = decode_json(payload)
            .and_then(|claims| claims.get("iss").and_then(Value::as_str).map(str::to_owned));
        // Tokens of one key share issuer (else the host), key id and alg.
        let kid = header.get("kid").and_then(Value::as_str).unwrap_or("");
        let scope = issuer.as_deref().unwrap_or(&endpoint.host);
        let identity = format!("{}\0{scope}\0{kid}", alg.name()).into_bytes();
        let hash = hash_of(&identity);
        if self.seen.contains(&hash) {
            return;
        }
        if self.queue.len() >= MAX_PENDING {
            self.counters.keys_dropped += 1;
            return;
        }
        if self.seen.len() >= MAX_SEEN {
            self.seen.clear();
        }
        self.seen.insert(hash);
        self.counters.keys_queued += 1;
        let dot = header_len(token);
        self.queue.push_back(Job {
            alg,
            signing_input: token[..dot].to_vec(),
            signature,
            next: 0,
            identity,
            location,
            exchange: stripped(exchange),
            endpoint: endpoint.clone(),
            principal: principal.cloned(),
        });
    }

    /// Tries at most `budget` secrets, oldest key first; returns the keys
    /// found weak.
    pub fn work(&mut self, budget: usize) -> Vec<WeakToken> {
        let mut out = Vec::new();
        let mut left = budget;
        while left > 0 {
            let Some(job) = self.queue.front_mut() else {
                break;
            };
            let end = (job.next + left).min(self.secrets.len());
            let mut found = false;
            for secret in &self.secrets[job.next..end] {
                if job.alg.signs(secret, &job.signing_input, &job.signature) {
                    found = true;
                    break;
                }
            }
            let tried = end - job.next;
            self.counters.attempts += tried as u64;
            left -= tried;
            job.next = end;
            if found {
                let job = self.queue.pop_front().expect("front exists");
                self.counters.keys_weak += 1;
                out.push(self.report(job));
            } else if job.next >= self.secrets.len() {
                self.queue.pop_front();
                self.counters.keys_strong += 1;
            }
        }
        out
    }

    /// Every waiting key tried (shutdown, end of a replay).
    pub fn drain(&mut self) -> Vec<WeakToken> {
        self.work(usize::MAX)
    }

    fn report(&self, job: Job) -> WeakToken {
        let alg = job.alg.name();
        let finding = Finding {
            rule: WEAK_SECRET.to_owned(),
            category: Category::Secret,
            severity: self.severity,
            summary: format!(
                "JWT signed with a well-known weak secret in {}: {alg} tokens of this key can be forged by anyone (the secret is on public wordlists; not shown). Expected a random key of at least 256 bits.",
                job.location
            ),
            evidence: format!("{alg} signature verified with a listed secret (hidden)"),
            fingerprint: self.key.fingerprint(&[b"jwt weak secret\0".as_slice(), &job.identity].concat()),
            location: job.location,
            count: 1,
            folded: false,
        };
        WeakToken {
            finding,
            exchange: job.exchange,
            endpoint: job.endpoint,
            principal: job.principal,
        }
    }
}

/// Bytes of `header.payload`.
fn header_len(token: &[u8]) -> usize {
    token
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'.')
        .nth(1)
        .map_or(token.len(), |(i, _)| i)
}

fn decode_json(part: &[u8]) -> Option<Value> {
    let part = part.strip_suffix(b"=").unwrap_or(part);
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn hash_of(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// The exchange as an alert needs it: connection, request line, status.
/// Bodies and headers (the token among them) are dropped.
fn stripped(exchange: &HttpExchange) -> HttpExchange {
    let mut x = exchange.clone();
    x.request
        .headers
        .retain(|h| h.name.eq_ignore_ascii_case("host"));
    x.response.headers.clear();
    x.request.body = Body::default();
    x.response.body = Body::default();
    x
}

#[cfg(test)]
mod tests;
