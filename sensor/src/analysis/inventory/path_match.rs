//! Matching an observed path template (`/users/{id}`, `/users/me`) against
//! an OpenAPI path (`/users/{userId}`). A spec parameter matches any one
//! segment, or any non-empty run inside one (`{id}.png`, `report-{date}`);
//! a spec literal matches only the same literal, never an observed
//! placeholder, because the spec then documents one fixed resource and not
//! the family the traffic shows.

/// One segment of a spec path, compiled once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentPattern {
    Literal(String),
    /// Literal bytes and parameters; matched like a glob.
    Template(Vec<Token>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Byte(u8),
    /// Exactly one byte (the first byte of a parameter).
    One,
    /// Any run of bytes, empty included (the rest of a parameter).
    Any,
}

impl SegmentPattern {
    pub fn compile(segment: &str) -> SegmentPattern {
        if !segment.contains('{') {
            return SegmentPattern::Literal(segment.to_owned());
        }
        let bytes = segment.as_bytes();
        let mut tokens = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let close = (bytes[i] == b'{')
                .then(|| bytes[i..].iter().position(|&b| b == b'}'))
                .flatten();
            match close {
                // `{name}`: a parameter takes at least one byte.
                Some(len) => {
                    tokens.extend([Token::One, Token::Any]);
                    i += len + 1;
                }
                None => {
                    tokens.push(Token::Byte(bytes[i]));
                    i += 1;
                }
            }
        }
        SegmentPattern::Template(tokens)
    }

    pub fn is_literal(&self) -> bool {
        matches!(self, SegmentPattern::Literal(_))
    }

    pub fn matches(&self, observed: &str) -> bool {
        match self {
            SegmentPattern::Literal(literal) => literal == observed,
            SegmentPattern::Template(tokens) => glob(tokens, observed.as_bytes()),
        }
    }
}

/// The segments of a path after the leading `/`, without a trailing empty
/// one: `/users/` and `/users` are the same resource to a router.
pub fn segments(path: &str) -> Vec<&str> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed.split('/').collect()
}

/// Wildcard matching with one backtrack point: linear in practice and
/// O(pattern × text) at worst, whatever a client puts in a path.
fn glob(pattern: &[Token], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Any) => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(Token::One) => {
                p += 1;
                t += 1;
            }
            Some(Token::Byte(b)) if *b == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, start)) => {
                    p = star + 1;
                    t = start + 1;
                    backtrack = Some((star, start + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|token| *token == Token::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_segments() {
        for (pattern, observed, want) in [
            ("users", "users", true),
            ("users", "Users", false),
            ("users", "{id}", false),
            ("{userId}", "{id}", true),
            ("{userId}", "4711", true),
            ("{userId}", "me", true),
            ("{userId}", "", false),
            ("{id}.png", "{id}.png", true),
            ("{id}.png", "{id}.jpg", false),
            ("{id}.png", ".png", false),
            ("report-{date}", "report-{date}", true),
            ("report-{date}", "report-", false),
            ("{a}-{b}", "x-y-z", true),
            ("{a}-{b}", "xyz", false),
            ("{unclosed", "{unclosed", true),
            ("{unclosed", "x", false),
        ] {
            assert_eq!(
                SegmentPattern::compile(pattern).matches(observed),
                want,
                "{pattern} vs {observed}"
            );
        }
    }

    #[test]
    fn segments_ignore_leading_and_trailing_slashes() {
        assert_eq!(segments("/"), Vec::<&str>::new());
        assert_eq!(segments(""), Vec::<&str>::new());
        assert_eq!(segments("/users/"), ["users"]);
        assert_eq!(segments("/users/{id}/orders"), ["users", "{id}", "orders"]);
    }
}
