//! `EndpointCache`: endpoint keys remembered by what they are made of
//! (the Host header, the method, the target and the server's address), so
//! an exchange to an endpoint met recently costs a comparison instead of
//! three `String`s, the host's normalising and the path's classifying.
//!
//! Direct-mapped and small: a peer that sends ever-new targets only makes
//! every exchange a miss, which costs what building the key always did
//! plus a copy of its inputs into a slot's reused buffers. Inputs longer
//! than `MAX_INPUT` are not remembered, so the slots' memory is bounded.

use std::borrow::Cow;
use std::net::SocketAddr;

use super::EndpointKey;
use crate::exchange::{header, HttpExchange, Role};

const SLOTS: usize = 64;

/// Host, method and target bytes together above which a key is built
/// every time instead of remembered.
const MAX_INPUT: usize = 512;

#[derive(Default)]
pub struct EndpointCache {
    slots: Vec<Option<Slot>>,
}

struct Slot {
    /// The Host header's value; `None` when the request had none.
    host: Option<Vec<u8>>,
    method: String,
    target: String,
    server: Option<SocketAddr>,
    key: EndpointKey,
}

/// What `EndpointKey::of` reads from an exchange.
struct Inputs<'a> {
    host: Option<&'a [u8]>,
    method: &'a str,
    target: &'a str,
    server: Option<SocketAddr>,
}

impl<'a> Inputs<'a> {
    fn of(exchange: &'a HttpExchange) -> Self {
        let conn = &exchange.connection;
        Inputs {
            host: header(&exchange.request.headers, "host"),
            method: &exchange.request.method,
            target: &exchange.request.target,
            server: match conn.role {
                Role::Server => conn.local,
                Role::Client => conn.remote,
            },
        }
    }

    fn len(&self) -> usize {
        self.host.map_or(0, <[u8]>::len) + self.method.len() + self.target.len()
    }

    /// FNV-1a: the slot only, a collision is a miss, never a wrong key.
    fn slot(&self) -> usize {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let host = self.host.unwrap_or_default();
        for &b in host
            .iter()
            .chain(self.method.as_bytes())
            .chain(self.target.as_bytes())
        {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        (hash as usize) % SLOTS
    }

    fn are(&self, slot: &Slot) -> bool {
        self.target == slot.target
            && self.host == slot.host.as_deref()
            && self.method == slot.method
            && self.server == slot.server
    }
}

impl EndpointCache {
    /// `EndpointKey::of(exchange)`, from a slot when its inputs are the
    /// same.
    pub fn key_of(&mut self, exchange: &HttpExchange) -> Cow<'_, EndpointKey> {
        let inputs = Inputs::of(exchange);
        if inputs.len() > MAX_INPUT {
            return Cow::Owned(EndpointKey::of(exchange));
        }
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, || None);
        }
        let at = inputs.slot();
        let hit = self.slots[at].as_ref().is_some_and(|s| inputs.are(s));
        if !hit {
            let key = EndpointKey::of(exchange);
            match &mut self.slots[at] {
                Some(slot) => {
                    // The buffers are reused: no allocation once warm.
                    match (&mut slot.host, inputs.host) {
                        (Some(buf), Some(host)) => {
                            buf.clear();
                            buf.extend_from_slice(host);
                        }
                        (host, new) => *host = new.map(<[u8]>::to_vec),
                    }
                    slot.method.clear();
                    slot.method.push_str(inputs.method);
                    slot.target.clear();
                    slot.target.push_str(inputs.target);
                    slot.server = inputs.server;
                    slot.key = key;
                }
                empty => {
                    *empty = Some(Slot {
                        host: inputs.host.map(<[u8]>::to_vec),
                        method: inputs.method.to_owned(),
                        target: inputs.target.to_owned(),
                        server: inputs.server,
                        key,
                    })
                }
            }
        }
        let slot = self.slots[at].as_ref().expect("filled above");
        Cow::Borrowed(&slot.key)
    }
}
