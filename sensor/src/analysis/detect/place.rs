//! Where a value lies in an exchange. Its name (a header, a parameter, a
//! JSON path) is written only when a finding needs it, into a buffer the
//! caller keeps: a document full of findings would otherwise build two
//! strings per occurrence to merge it with the ones before.

use super::json_walk::JsonPath;
use super::types::{Location, Message, Part};

/// The name of the value's place, as it is at hand.
#[derive(Clone, Copy)]
pub enum Name<'a> {
    None,
    Text(&'a str),
    /// Rendered on demand; with `wildcard`, array indices as `[*]`.
    Path(&'a JsonPath<'a>),
}

#[derive(Clone, Copy)]
pub struct Place<'a> {
    pub message: Message,
    pub part: Part,
    pub name: Name<'a>,
}

impl<'a> Place<'a> {
    pub fn new(message: Message, part: Part, name: Name<'a>) -> Self {
        Place {
            message,
            part,
            name,
        }
    }

    /// Appends the name (`wildcard`: indices as `[*]`) to `out`; false
    /// when the place has none.
    pub fn write_name(&self, wildcard: bool, out: &mut String) -> bool {
        match self.name {
            Name::None => false,
            Name::Text(text) => {
                out.push_str(text);
                true
            }
            Name::Path(path) => {
                path.render_into(wildcard, out);
                true
            }
        }
    }

    /// Whether the exact name may differ from the wildcard one.
    pub fn has_index(&self) -> bool {
        matches!(self.name, Name::Path(path) if path.has_index())
    }

    pub fn location(&self, wildcard: bool) -> Location {
        let mut name = String::new();
        let named = self.write_name(wildcard, &mut name);
        Location {
            message: self.message,
            part: self.part,
            name: named.then_some(name),
        }
    }
}
