//! The values detectors produce: categories, severities, where a finding
//! was seen, and the finding itself. None of them holds a raw sensitive
//! value, so deriving `Debug` and `Serialize` is safe.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    SensitiveData,
    Secret,
    VerboseError,
    /// Traffic volume far from an endpoint's or client's learned baseline
    /// (rate spikes, bulk responses, enumeration, error surges).
    AbnormalVolume,
    /// Authentication problems: brute force, credential stuffing,
    /// unauthenticated access to sensitive data, credentials in URLs.
    Auth,
    /// Endpoint inventory events (new, undocumented or changed endpoints).
    Inventory,
    /// How the traffic travels: credentials or sensitive data over
    /// plaintext HTTP between hosts.
    Transport,
    /// HTTP itself used against its readers: heads whose body length two
    /// implementations read differently (request smuggling shapes).
    Protocol,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 6] = [
        Category::SensitiveData,
        Category::Secret,
        Category::VerboseError,
        Category::AbnormalVolume,
        Category::Auth,
        Category::Inventory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::SensitiveData => "sensitive_data",
            Category::Secret => "secret",
            Category::VerboseError => "verbose_error",
            Category::AbnormalVolume => "abnormal_volume",
            Category::Auth => "auth",
            Category::Inventory => "inventory",
            Category::Transport => "transport",
            Category::Protocol => "protocol",
        }
    }
}

/// How bad a finding is, lowest first. Config files spell it as alerts
/// do (`low` ... `critical`), in any case (`Deserialize` goes through
/// `FromStr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// 0 for low up to 3 for critical: the order filters compare.
    pub fn rank(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A severity name that is none of low, medium, high or critical.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a severity: must be low, medium, high or critical")]
pub struct UnknownSeverity(pub String);

impl std::str::FromStr for Severity {
    type Err = UnknownSeverity;

    /// As config files and `sensor tail --min-severity` spell it, in any
    /// case.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownSeverity(name.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Severity {
    /// As `FromStr` reads it: an unknown name is an error that says which
    /// names there are.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Which message of the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    Request,
    Response,
}

/// Which part of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The request line (method and target, path segments included).
    RequestLine,
    Header,
    /// A query-string parameter; `name` is the parameter.
    Query,
    /// The body; `name` is a JSON path (`$.users[3].ssn`), a form field,
    /// or absent for text bodies.
    Body,
}

/// Where a finding was seen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Location {
    pub message: Message,
    pub part: Part,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (message, part) = self.words();
        write!(f, "{message} {part}")?;
        if let Some(name) = &self.name {
            write!(f, " {name}")?;
        }
        Ok(())
    }
}

impl Location {
    /// The message and the part as Display names them.
    fn words(&self) -> (&'static str, &'static str) {
        let message = match self.message {
            Message::Request => "request",
            Message::Response => "response",
        };
        let part = match self.part {
            Part::RequestLine => "request line",
            Part::Header => "header",
            Part::Query => "query parameter",
            Part::Body => "body",
        };
        (message, part)
    }

    /// What Display shows, appended to `out` without the formatting
    /// machinery (summaries are built for every finding).
    pub fn write_to(&self, out: &mut String) {
        let (message, part) = self.words();
        out.push_str(message);
        out.push(' ');
        out.push_str(part);
        if let Some(name) = &self.name {
            out.push(' ');
            out.push_str(name);
        }
    }
}

/// One rule firing on one exchange: already redacted, ready for an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: String,
    pub category: Category,
    pub severity: Severity,
    pub location: Location,
    /// The value masked so it identifies its kind, never the value.
    pub evidence: String,
    /// Keyed hash (HMAC-SHA256, 128 bits, hex) of the normalised value of
    /// the first occurrence.
    pub fingerprint: String,
    /// Occurrences of this rule at this location in the exchange.
    pub count: u32,
    pub summary: String,
    /// Already counted in an open deduplication window, decided before
    /// its words were built: `evidence`, `fingerprint` and `summary` are
    /// empty and no alert is built for it. The other detectors still read
    /// it (rule, category, location, count).
    #[serde(skip)]
    pub folded: bool,
}

/// A built-in rule as `sensor rules` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub id: &'static str,
    pub category: Category,
    pub severity: Severity,
    pub description: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_read_as_config_files_spell_them() {
        for (text, want) in [
            ("\"low\"", Ok(Severity::Low)),
            ("\"High\"", Ok(Severity::High)),
            ("\"CRITICAL\"", Ok(Severity::Critical)),
            ("\"urgent\"", Err("`urgent` is not a severity")),
            ("3", Err("invalid type")),
        ] {
            let got = serde_json::from_str::<Severity>(text).map_err(|e| e.to_string());
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: {got:?}, wanted {want:?}"),
            }
        }
    }
}
