//! The fleet inventory (`[inventory] store = "postgres://..."`): every
//! sensor upserts its endpoint records, one row per (endpoint, sensor
//! host), into one PostgreSQL database, and `sensor inventory --store`
//! merges them per endpoint into the fleet's catalogue.
//!
//! Guarantees:
//! - Off the hot path: the analysis thread hands changed records over a
//!   bounded channel without waiting; a thread of its own writes them,
//!   batched, one statement per batch. When the channel is full the records
//!   stay marked and go with the next hand-over.
//! - Nothing is lost to an outage: a row holds the sensor's whole record
//!   for the endpoint, so the latest write is the truth and a retry is
//!   harmless. While the database is down the writer keeps the records it
//!   could not write (bounded, what it gives up is counted), retries with
//!   back-off and writes them when the database is back; at shutdown what
//!   is still unwritten stays in `inventory.json`, and the next start
//!   writes every record again.
//! - Zombies on the fleet's view: while it writes, the writer reads every
//!   host's versioned endpoints back (every 30 s) and the inventory judges
//!   `/v1/...` against the newest version any host serves.
//! - Migrations: numbered, applied by the sensors under an advisory lock
//!   (`migrations`).
//! - The password never reaches a log, an error or `Debug` (`url`).

mod merge;
mod migrations;
mod read;
mod url;
mod writer;

use std::time::Duration;

pub use read::{read_merged, FleetSnapshot};
pub use url::{redact_urls_in, StoreUrl};
pub use writer::{Batch, FleetWriter, StoreCounters};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// Shown with its causes: the driver's own text ("error connecting to
    /// server") leaves out why.
    #[error("{}", with_causes(.0))]
    Database(#[from] tokio_postgres::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error(
        "the database's inventory tables are at version {found}, newer than this \
         sensor's {known}: upgrade the sensor"
    )]
    SchemaTooNew { found: i32, known: i32 },
    #[error("no sensor has written an inventory to this database yet")]
    Empty,
    #[error("a record in the database is not a sensor endpoint record: {0}")]
    Record(#[from] serde_json::Error),
    #[error("cannot start the database client: {0}")]
    Runtime(#[from] std::io::Error),
}

fn with_causes(err: &tokio_postgres::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A connection to the database at `url`, its I/O driven by the current
/// tokio runtime.
async fn connect(url: &StoreUrl) -> Result<tokio_postgres::Client, FleetError> {
    let mut config: tokio_postgres::Config = url
        .secret()
        .parse()
        .expect("StoreUrl::parse checked the URL");
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("sensor");
    }
    let connecting = config.connect(tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| FleetError::Timeout(CONNECT_TIMEOUT))??;
    tokio::spawn(async move {
        // Its error reaches the client as a closed connection.
        let _ = connection.await;
    });
    Ok(client)
}
