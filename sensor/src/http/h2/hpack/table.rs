//! HPACK's indexing tables (RFC 7541 §2.3): the static table every
//! connection shares and one direction's dynamic table. Entries hold their
//! name and value as shared bytes, so that a field sent by reference (as
//! most are once a connection is warm) becomes a header without a copy.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::exchange::HeaderName;

/// RFC 7541 Appendix A, index 1 first.
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// What every entry costs beyond its name and value (§4.1).
const ENTRY_OVERHEAD: usize = 32;

/// A table entry. `name_len` counts the name as sent (one that is not
/// UTF-8 is kept converted), as the table's size accounting must.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: HeaderName,
    pub value: Bytes,
    pub name_len: usize,
}

impl Entry {
    /// Bytes of the name and value as sent.
    pub fn field_len(&self) -> usize {
        self.name_len + self.value.len()
    }

    fn size(&self) -> usize {
        self.field_len() + ENTRY_OVERHEAD
    }
}

/// One direction's dynamic table, newest entry first.
#[derive(Debug)]
pub struct DynamicTable {
    entries: VecDeque<Entry>,
    size: usize,
    max_size: usize,
}

impl DynamicTable {
    pub fn new(max_size: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            size: 0,
            max_size,
        }
    }

    /// The entry at `index` (1-based, static entries first, §2.3.3).
    pub fn get(&self, index: usize) -> Option<Entry> {
        match index {
            0 => None,
            1..=61 => {
                let (name, value) = STATIC[index - 1];
                Some(Entry {
                    name: HeaderName::from_static(name),
                    value: Bytes::from_static(value.as_bytes()),
                    name_len: name.len(),
                })
            }
            _ => self.entries.get(index - 62).cloned(),
        }
    }

    /// Adds `entry`, evicting the oldest to make room; one larger than
    /// the table empties it (§4.4).
    pub fn insert(&mut self, entry: Entry) {
        let size = entry.size();
        if size > self.max_size {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max_size - size);
        self.size += size;
        self.entries.push_front(entry);
    }

    /// A dynamic table size update (§6.3).
    pub fn resize(&mut self, max_size: usize) {
        self.max_size = max_size;
        self.evict_to(max_size);
    }

    fn evict_to(&mut self, size: usize) {
        while self.size > size {
            match self.entries.pop_back() {
                Some(e) => self.size -= e.size(),
                None => break,
            }
        }
    }
}
