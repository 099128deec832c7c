//! Protocol findings: heads whose body length two HTTP implementations
//! read differently (Content-Length with Transfer-Encoding, differing
//! Content-Lengths, an obfuscated Transfer-Encoding). A proxy and the
//! server behind it disagreeing on where a request ends is how one request
//! is smuggled inside another, so the shape itself is reported, with both
//! readings' boundaries. The HTTP stage found them; this only words them.

use super::redact::Mask;
use super::rules::{Check, Scope, Spec};
use super::types::{Category, Location, Message, Part, Severity};
use crate::exchange::{Anomaly, MessageKind, Reading};

pub const AMBIGUOUS_FRAMING: &str = "protocol.ambiguous_framing";

pub const SPECS: &[Spec] = &[Spec {
    id: AMBIGUOUS_FRAMING,
    category: Category::Protocol,
    severity: Severity::High,
    description: "Ambiguous message framing (Content-Length with Transfer-Encoding, differing Content-Lengths, or an obfuscated Transfer-Encoding): a request smuggling shape",
    scope: Scope::Special,
    check: Check::None,
    mask: Mask::Verbatim,
    ..Spec::BASE
}];

/// One ambiguous head: where it was, the value to fingerprint and show
/// (the shape's name, never a header value the peer chose), and the
/// summary with both readings.
pub struct Framing {
    pub location: Location,
    pub shape: &'static str,
    pub summary: String,
}

pub fn ambiguous_framings(anomalies: &[Anomaly]) -> impl Iterator<Item = Framing> + '_ {
    anomalies.iter().filter_map(|a| match a {
        Anomaly::AmbiguousFraming {
            message,
            shape,
            followed,
            other,
        } => {
            let message_kind = match message {
                MessageKind::Request => Message::Request,
                MessageKind::Response => Message::Response,
            };
            let name = if *shape == crate::http::CONFLICTING_LENGTHS {
                "Content-Length"
            } else {
                "Transfer-Encoding"
            };
            Some(Framing {
                location: Location {
                    message: message_kind,
                    part: Part::Header,
                    name: Some(name.to_owned()),
                },
                shape,
                summary: format!(
                    "Ambiguous {} framing ({}): read by {}, the body ends {}; read by {}, it ends {}.",
                    message.as_str(),
                    shape.replace('_', " "),
                    followed.framing,
                    boundary(followed),
                    other.framing,
                    boundary(other),
                ),
            })
        }
        Anomaly::Malformed { .. } => None,
    })
}

fn boundary(r: &Reading) -> String {
    match r.body_end {
        Some(n) => format!("{n} bytes after the head"),
        None => "where that framing says (not followed)".to_owned(),
    }
}
