//! The catalogue as a table: one line per endpoint, the columns a person
//! scans for (traffic, credentials, sensitive data, missing headers, who
//! serves it); `--format json` has everything else.

use std::io::{self, Write};

use super::credentials::{Credential, CredentialKind};
use super::record::EndpointRecord;
use super::security_headers::HeaderIssue;
use crate::endpoint::EndpointKey;

const HEADERS: [&str; 10] = [
    "METHOD",
    "HOST",
    "PATH",
    "REQUESTS",
    "STATUS",
    "LAST SEEN",
    "AUTH",
    "DATA",
    "HEADERS",
    "PROCESSES",
];

pub fn write(
    endpoints: &[(&EndpointKey, &EndpointRecord)],
    evicted: u64,
    out: &mut impl Write,
) -> io::Result<()> {
    let rows: Vec<[String; 10]> = endpoints.iter().map(|(k, r)| row(k, r)).collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = HEADERS.map(str::to_owned);
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    write!(out, "{} endpoints", endpoints.len())?;
    if evicted > 0 {
        write!(
            out,
            " ({evicted} less recently seen ones forgotten at the cap)"
        )?;
    }
    writeln!(out)
}

fn row(key: &EndpointKey, record: &EndpointRecord) -> [String; 10] {
    let statuses: Vec<String> = record
        .statuses
        .iter()
        .map(|s| format!("{}x{}", s.status, s.count))
        .collect();
    let last_seen = super::cli::rfc3339(record.last_seen_unix_ns);
    // Seconds are enough to read; the JSON keeps nanoseconds.
    let last_seen = last_seen
        .get(..19)
        .map_or(last_seen.clone(), |s| format!("{s}Z"));
    let data: Vec<String> = record
        .response_data
        .keys()
        .map(|rule| format!("resp:{rule}"))
        .chain(record.request_data.keys().map(|rule| format!("req:{rule}")))
        .collect();
    let processes: Vec<String> = record
        .served_by
        .iter()
        .map(|p| p.comm.clone())
        .chain(
            record
                .called_by
                .iter()
                .map(|p| format!("client:{}", p.comm)),
        )
        .collect();
    [
        key.method.clone(),
        or_dash(key.host.clone()),
        key.template.clone(),
        record.requests.to_string(),
        or_dash(statuses.join(" ")),
        last_seen,
        or_dash(
            record
                .credentials
                .iter()
                .map(credential)
                .collect::<Vec<_>>()
                .join(","),
        ),
        or_dash(data.join(",")),
        or_dash(
            record
                .header_issues
                .keys()
                .map(|i| short(*i))
                .collect::<Vec<_>>()
                .join(","),
        ),
        or_dash(processes.join(",")),
    ]
}

fn credential(c: &Credential) -> String {
    match c.kind {
        CredentialKind::Authorization => c.name.clone(),
        CredentialKind::Cookie => format!("cookie:{}", c.name),
        CredentialKind::ApiKeyHeader => format!("header:{}", c.name),
        CredentialKind::ApiKeyQuery => format!("query:{}", c.name),
    }
}

/// What is missing or wrong, in the fewest letters a person recognises.
fn short(issue: HeaderIssue) -> &'static str {
    match issue {
        HeaderIssue::MissingHsts => "no-hsts",
        HeaderIssue::MissingCsp => "no-csp",
        HeaderIssue::MissingXContentTypeOptions => "no-nosniff",
        HeaderIssue::MissingXFrameOptions => "no-frame-options",
        HeaderIssue::SensitiveDataCacheable => "cacheable-sensitive",
        HeaderIssue::CorsWildcardWithCredentials => "cors-wildcard-credentials",
    }
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "-".to_owned()
    } else {
        s
    }
}
