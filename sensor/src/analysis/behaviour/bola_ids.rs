//! The id values of a JSON response body for `auth.bola`, read in one
//! pass without building the document: every 2xx JSON answer of a caller
//! with a principal goes through here, and a `serde_json::Value` tree of
//! it (a String per key, a Map per object) cost more than the rest of the
//! behavioural detectors together.
//!
//! Ids are the string or integer values of the fields `id`, `*_id`,
//! `*Id`, `*ID` and `*-id`, down to six levels of nesting, at most
//! `MAX_IDS` per response (taken in document order; an object's own ids
//! are all taken once it is entered), hashed by `hash`. A body that is
//! not valid JSON yields none: the whole document is still checked,
//! as the tree's parse did.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Ids taken from one response.
pub(super) const MAX_IDS: usize = 256;
/// Levels of nesting read (the top-level value is the first).
const MAX_DEPTH: u32 = 6;
/// Longest string id.
const MAX_ID_BYTES: usize = 128;

/// The hashed ids of `body`, a JSON document; none if it is not one.
pub(super) fn ids(body: &[u8], hash: &dyn Fn(&str) -> u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut parser = serde_json::Deserializer::from_slice(body);
    let walked = Walk {
        depth: MAX_DEPTH,
        hash,
        out: &mut out,
    }
    .deserialize(&mut parser)
    .and_then(|()| parser.end());
    if walked.is_err() {
        out.clear();
    }
    out
}

pub(super) fn is_id_field(name: &str) -> bool {
    name.eq_ignore_ascii_case("id")
        || name.ends_with("_id")
        || name.ends_with("Id")
        || name.ends_with("ID")
        || name.ends_with("-id")
}

/// A value whose own ids (if it is an object or an array) are collected;
/// `depth` levels are left to read, this one included.
struct Walk<'h, 'o> {
    depth: u32,
    hash: &'h dyn Fn(&str) -> u64,
    out: &'o mut Vec<u64>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.depth == 0 || self.out.len() >= MAX_IDS {
            return deserializer.deserialize_ignored_any(IgnoredAny).map(drop);
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let depth = self.depth - 1;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let walk = Walk {
                depth,
                hash: self.hash,
                out: &mut *self.out,
            };
            if is_id_field(key.as_str()) {
                map.next_value_seed(IdValue(walk))?;
            } else {
                map.next_value_seed(walk)?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let depth = self.depth - 1;
        while items
            .next_element_seed(Walk {
                depth,
                hash: self.hash,
                out: &mut *self.out,
            })?
            .is_some()
        {}
        Ok(())
    }

    // Scalars outside an id field hold no ids.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The value of an id field: a string or an integer is an id; an object
/// or an array is read for ids of its own, one level down.
struct IdValue<'h, 'o>(Walk<'h, 'o>);

impl IdValue<'_, '_> {
    fn take(self, id: &str) {
        self.0.out.push((self.0.hash)(id));
    }
}

impl<'de> DeserializeSeed<'de> for IdValue<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IdValue<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, id: &str) -> Result<(), E> {
        if !id.is_empty() && id.len() <= MAX_ID_BYTES {
            self.take(id);
        }
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, id: u64) -> Result<(), E> {
        self.take(itoa::Buffer::new().format(id));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, id: i64) -> Result<(), E> {
        self.take(itoa::Buffer::new().format(id));
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        Walk::deserialize(self.0, de::value::MapAccessDeserializer::new(map))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, items: A) -> Result<(), A::Error> {
        Walk::deserialize(self.0, de::value::SeqAccessDeserializer::new(items))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// An object's key, borrowed from the body unless it had escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl Key<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(key.into()))
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(key.to_owned().into()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// The ids as text, in the order taken.
    fn found(body: &str) -> Vec<String> {
        let seen = std::cell::RefCell::new(Vec::new());
        let hashes = ids(body.as_bytes(), &|id| {
            seen.borrow_mut().push(id.to_owned());
            seen.borrow().len() as u64
        });
        let seen = seen.into_inner();
        if hashes.is_empty() {
            // A broken document: what was hashed before the error is
            // dropped.
            return Vec::new();
        }
        assert_eq!(hashes.len(), seen.len(), "one hash per id taken");
        seen
    }

    /// What reading the whole tree finds, as this module did before:
    /// sorted, to compare with `found` whatever the order.
    fn from_tree(body: &str) -> Vec<String> {
        fn walk(value: &Value, depth: u32, out: &mut Vec<String>) {
            if depth == 0 {
                return;
            }
            match value {
                Value::Object(map) => {
                    for (k, v) in map {
                        match v {
                            Value::String(s) if is_id_field(k) => {
                                if !s.is_empty() && s.len() <= MAX_ID_BYTES {
                                    out.push(s.clone())
                                }
                            }
                            Value::Number(n) if is_id_field(k) && (n.is_u64() || n.is_i64()) => {
                                out.push(n.to_string())
                            }
                            _ => walk(v, depth - 1, out),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, depth - 1, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        if let Ok(value) = serde_json::from_str::<Value>(body) {
            walk(&value, MAX_DEPTH, &mut out);
        }
        out.sort();
        out
    }

    #[test]
    fn ids_are_what_the_whole_tree_holds() {
        let cases = [
            r#"{"id":17,"name":"a","owner_id":"u-9"}"#,
            r#"[{"id":1},{"id":2,"orderId":"o-3","items":[{"sku_id":-4}]}]"#,
            r#"{"userID":"x","request-id":"r","ID":5,"identity":"not an id","idx":7}"#,
            r#"{"id":1.5,"price_id":1e3,"n_id":null,"b_id":true,"e_id":""}"#,
            r#"{"id":{"inner_id":8,"id":[9,{"id":10}]}}"#,
            r#"{"a":{"b":{"c":{"d":{"id":"five levels down"}}}}}"#,
            r#"{"a":{"b":{"c":{"d":{"e":{"id":"six: too deep"}}}}}}"#,
            r#"{"caf\u00e9_id":"escaped key","id":"tab\tid"}"#,
            r#"{"id":18446744073709551615,"big_id":18446744073709551616}"#,
            "{\"id\":\"",
            r#"{"id":1} trailing"#,
            r#"{"id":1,}"#,
            "[]",
            "{}",
        ];
        for body in cases {
            let mut seen = found(body);
            seen.sort();
            assert_eq!(seen, from_tree(body), "{body}");
        }
    }

    #[test]
    fn ids_are_taken_in_document_order_and_not_from_broken_documents() {
        assert_eq!(found(r#"{"z_id":1,"a_id":2}"#), ["1", "2"]);
        assert_eq!(found(r#"{"id":"x"}"#), ["x"]);
        assert!(found(r#"{"id":"x"} {"id":"y"}"#).is_empty());
        assert!(found(r#"{"id":"x""#).is_empty());
        let long = "x".repeat(MAX_ID_BYTES + 1);
        assert!(found(&format!(r#"{{"id":"{long}"}}"#)).is_empty());
    }

    #[test]
    fn one_response_yields_a_bounded_number_of_ids() {
        let items: Vec<String> = (0..1000).map(|i| format!(r#"{{"id":{i}}}"#)).collect();
        let body = format!("[{}]", items.join(","));
        let seen = found(&body);
        assert_eq!(seen.len(), MAX_IDS);
        assert_eq!(seen[0], "0");
        assert_eq!(seen[MAX_IDS - 1], (MAX_IDS - 1).to_string());
    }
}
