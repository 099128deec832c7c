//! What the behavioural detectors read off one exchange, computed once.

use crate::analysis::principal::Principal;
use crate::endpoint::{path_params, EndpointKey};
use crate::exchange::HttpExchange;

use super::baseline::minute_of;
use super::client::{ClientKey, Keys};

pub(crate) struct Observation<'a> {
    pub exchange: &'a HttpExchange,
    pub endpoint: &'a EndpointKey,
    /// Keyed hash of `endpoint`.
    pub endpoint_id: u64,
    pub client: ClientKey,
    /// Who is calling, when the request says.
    pub principal: Option<&'a Principal>,
    /// Keyed hash of `client`.
    pub client_id: u64,
    pub now_unix_ns: i128,
    pub minute: i64,
}

impl<'a> Observation<'a> {
    pub(crate) fn new(
        exchange: &'a HttpExchange,
        endpoint: &'a EndpointKey,
        principal: Option<&'a Principal>,
        keys: &Keys,
        now_unix_ns: i128,
    ) -> Self {
        let client = ClientKey::of(exchange, principal);
        Self {
            principal,
            endpoint_id: keys.hash(endpoint),
            client_id: keys.hash(&client),
            endpoint,
            client,
            exchange,
            now_unix_ns,
            minute: minute_of(now_unix_ns),
        }
    }

    pub(crate) fn status(&self) -> u16 {
        self.exchange.response.status
    }

    /// Keyed hash of the path's identifier values taken together (for
    /// `/users/{id}/orders/{id}`, the pair), or None when the path has none.
    /// The raw values are not kept.
    pub(crate) fn ids_hash(&self, keys: &Keys) -> Option<u64> {
        let params = path_params(&self.exchange.request.target);
        if params.is_empty() {
            return None;
        }
        let values: Vec<&str> = params.iter().map(|(_, value)| *value).collect();
        Some(keys.hash(&values))
    }
}
