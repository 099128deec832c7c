//! `sensor inventory`: prints the catalogue a running (or stopped) sensor
//! saved in its state directory, or with `--store` the fleet's catalogue
//! merged from the PostgreSQL database the sensors share, as a table, as
//! JSON, or as an OpenAPI 3.0 document of the observed API. It only reads:
//! an unusable file is reported, never moved or rewritten, and a database
//! is never migrated.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use super::fleet::StoreUrl;
use super::record::EndpointRecord;
use super::{fleet, openapi, store, table};
use crate::endpoint::EndpointKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InventoryFormat {
    /// One line per endpoint, for people.
    Table,
    /// Every field of every endpoint, times as RFC 3339.
    Json,
    /// An OpenAPI 3.0 document of the observed API.
    Openapi,
}

/// Writes the inventory saved in `state_dir` to `out` in `format`.
pub fn print(
    state_dir: &Path,
    format: InventoryFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let path = state_dir.join(store::FILE_NAME);
    let snapshot = store::read(&path)?.with_context(|| {
        format!(
            "no inventory at {} yet: a sensor with this state directory writes it \
             every [inventory] save_interval_secs while it sees traffic, and at shutdown",
            path.display()
        )
    })?;
    let mut endpoints: Vec<(&EndpointKey, &EndpointRecord)> =
        snapshot.endpoints.iter().map(|(k, r)| (k, r)).collect();
    endpoints.sort_by(|a, b| a.0.cmp(b.0));
    render(&endpoints, None, snapshot.evicted, format, out)
}

/// Writes the fleet's inventory, merged from the database at `url`, to
/// `out` in `format`. The JSON names the sensor hosts that saw each
/// endpoint (`sensors`).
pub fn print_fleet(
    url: &StoreUrl,
    format: InventoryFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let snapshot = fleet::read_merged(url)
        .with_context(|| format!("reading the fleet inventory from {url}"))?;
    let endpoints: Vec<(&EndpointKey, &EndpointRecord)> =
        snapshot.endpoints.iter().map(|(k, r, _)| (k, r)).collect();
    let sensors: Vec<&[String]> = snapshot
        .endpoints
        .iter()
        .map(|(_, _, s)| s.as_slice())
        .collect();
    render(&endpoints, Some(&sensors), snapshot.evicted, format, out)
}

/// `endpoints` (sorted) in `format`; `sensors`, one entry per endpoint,
/// for a fleet's inventory.
fn render(
    endpoints: &[(&EndpointKey, &EndpointRecord)],
    sensors: Option<&[&[String]]>,
    evicted: u64,
    format: InventoryFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    match format {
        InventoryFormat::Table => table::write(endpoints, evicted, out)?,
        InventoryFormat::Json => {
            let report = JsonReport {
                evicted,
                endpoints: endpoints
                    .iter()
                    .enumerate()
                    .map(|(i, (key, record))| JsonEndpoint {
                        host: &key.host,
                        method: &key.method,
                        template: &key.template,
                        first_seen: rfc3339(record.first_seen_unix_ns),
                        last_seen: rfc3339(record.last_seen_unix_ns),
                        sensors: sensors.map(|s| s[i]),
                        record,
                    })
                    .collect(),
            };
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        InventoryFormat::Openapi => {
            serde_json::to_writer_pretty(&mut *out, &openapi::document(endpoints))?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

#[derive(Serialize)]
struct JsonReport<'a> {
    /// Endpoints forgotten at the cap over the catalogue's lifetime.
    evicted: u64,
    endpoints: Vec<JsonEndpoint<'a>>,
}

#[derive(Serialize)]
struct JsonEndpoint<'a> {
    host: &'a str,
    method: &'a str,
    template: &'a str,
    first_seen: String,
    last_seen: String,
    /// The sensor hosts that saw the endpoint (a fleet's inventory only).
    #[serde(skip_serializing_if = "Option::is_none")]
    sensors: Option<&'a [String]>,
    #[serde(flatten)]
    record: &'a EndpointRecord,
}

/// The inventory's i64 Unix nanoseconds as RFC 3339 (empty when out of
/// range).
pub(super) fn rfc3339(unix_ns: i64) -> String {
    crate::timestamp::rfc3339(i128::from(unix_ns))
}
