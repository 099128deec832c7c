//! The writer thread: takes batches of changed endpoint records from the
//! analysis thread, keeps the latest record per endpoint until the
//! database has it, and writes them in batches with one statement each.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_postgres::Client;

use super::super::record::EndpointRecord;
use super::super::versions::VersionIndex;
use super::{connect, migrations, FleetError, StoreUrl};
use crate::endpoint::EndpointKey;

/// Batches queued between the analysis thread and the writer; past it the
/// analysis keeps its records marked for the next hand-over.
const CHANNEL_BATCHES: usize = 4;
/// Rows per statement.
const ROWS_PER_WRITE: usize = 500;
/// How long one batch may take before the connection is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Retry delays after a failure: doubling from the first to the last. A
/// failed attempt costs one connection attempt, so the last stays short:
/// the records are written within seconds of the database's return.
const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(5);
/// How often, while it writes, the writer reads the fleet's versioned
/// endpoints back for the zombie judgement.
const VERSIONS_REFRESH: Duration = Duration::from_secs(30);

/// Changed endpoint records, the whole record each.
#[derive(Debug, Default)]
pub struct Batch {
    pub endpoints: Vec<(EndpointKey, EndpointRecord)>,
    /// The sensor's endpoints forgotten at the cap, over its lifetime.
    pub evicted: u64,
}

enum Message {
    Batch(Batch),
    /// Write what is left, giving up at the instant.
    Finish(Instant),
}

/// What the writer did, for `--stats` and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreCounters {
    /// Endpoint rows written (a row is written again each time it changes).
    pub rows_written: u64,
    /// Failed attempts to connect, migrate or write; each is retried.
    pub write_errors: u64,
    /// Rows that a failed attempt could not write (they are retried).
    pub rows_failed: u64,
    /// Rows waiting for the database now.
    pub rows_pending: u64,
    /// Rows given up because too many were waiting (they stay in
    /// inventory.json and are written again after a restart).
    pub rows_dropped: u64,
}

#[derive(Default)]
struct Shared {
    rows_written: AtomicU64,
    write_errors: AtomicU64,
    rows_failed: AtomicU64,
    rows_pending: AtomicU64,
    rows_dropped: AtomicU64,
}

/// The analysis thread's handle on the writer.
pub struct FleetWriter {
    sender: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
    url: StoreUrl,
    /// The fleet's API versions, as the writer last read them.
    versions: std::sync::mpsc::Receiver<VersionIndex>,
}

impl std::fmt::Debug for FleetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetWriter")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl FleetWriter {
    /// Starts the writer thread for the database at `url`, writing as
    /// `sensor_host`, keeping at most `max_pending` unwritten rows. Does
    /// not wait for the database: it may be down.
    pub fn start(
        url: StoreUrl,
        sensor_host: String,
        max_pending: usize,
    ) -> Result<FleetWriter, FleetError> {
        let (sender, receiver) = mpsc::channel(CHANNEL_BATCHES);
        let (versions_out, versions) = std::sync::mpsc::sync_channel(1);
        let shared = Arc::new(Shared::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let state = Writer {
            url: url.clone(),
            sensor_host,
            max_pending: max_pending.max(1),
            shared: shared.clone(),
            pending: HashMap::new(),
            evicted: None,
            client: None,
            failing: false,
            versions_out,
            versions_read: None,
        };
        let thread = std::thread::Builder::new()
            .name("inventory-store".into())
            .spawn(move || runtime.block_on(state.run(receiver)))?;
        Ok(FleetWriter {
            sender,
            shared,
            thread: Some(thread),
            url,
            versions,
        })
    }

    /// The fleet's versioned endpoints, when the writer has read them
    /// since the last call.
    pub fn take_fleet_versions(&self) -> Option<VersionIndex> {
        self.versions.try_iter().last()
    }

    /// True when a batch handed over now would be taken: the caller builds
    /// the batch (cloning records) only then.
    pub fn has_room(&self) -> bool {
        self.sender.capacity() > 0
    }

    /// Hands `batch` over without waiting; gives it back when the queue is
    /// full or the writer is gone.
    pub fn try_hand_over(&self, batch: Batch) -> Result<(), Batch> {
        self.sender
            .try_send(Message::Batch(batch))
            .map_err(|err| match err {
                mpsc::error::TrySendError::Full(Message::Batch(b))
                | mpsc::error::TrySendError::Closed(Message::Batch(b)) => b,
                _ => unreachable!("only a batch was sent"),
            })
    }

    pub fn counters(&self) -> StoreCounters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StoreCounters {
            rows_written: get(&self.shared.rows_written),
            write_errors: get(&self.shared.write_errors),
            rows_failed: get(&self.shared.rows_failed),
            rows_pending: get(&self.shared.rows_pending),
            rows_dropped: get(&self.shared.rows_dropped),
        }
    }

    /// Asks the writer to write what it holds and waits for it, at most
    /// `within` (shutdown). What it could not write stays in
    /// inventory.json for the next start.
    pub fn finish(&mut self, within: Duration) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + within;
        let mut message = Message::Finish(deadline);
        // The queue may be full of batches the writer is still taking.
        loop {
            match self.sender.try_send(message) {
                Ok(()) => break,
                Err(mpsc::error::TrySendError::Full(m)) if Instant::now() < deadline => {
                    message = m;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(_) => return,
            }
        }
        while !thread.is_finished() && Instant::now() < deadline + Duration::from_millis(200) {
            std::thread::sleep(Duration::from_millis(10));
        }
        if thread.is_finished() {
            let _ = thread.join();
        }
    }
}

struct Writer {
    url: StoreUrl,
    sensor_host: String,
    max_pending: usize,
    shared: Arc<Shared>,
    /// The latest record of each endpoint the database does not have yet.
    pending: HashMap<EndpointKey, EndpointRecord>,
    /// The sensor's evicted count, when the database does not have it yet.
    evicted: Option<u64>,
    client: Option<Client>,
    /// The last attempt failed (the log says so once per outage).
    failing: bool,
    versions_out: std::sync::mpsc::SyncSender<VersionIndex>,
    versions_read: Option<Instant>,
}

impl Writer {
    async fn run(mut self, mut receiver: mpsc::Receiver<Message>) {
        let mut retry = FIRST_RETRY;
        let mut next_attempt = Instant::now();
        let mut finish_by: Option<Instant> = None;
        loop {
            let wait = if self.has_work() {
                next_attempt.saturating_duration_since(Instant::now())
            } else {
                Duration::from_secs(3600)
            };
            let first = match finish_by {
                Some(_) => None,
                None => match tokio::time::timeout(wait, receiver.recv()).await {
                    Ok(Some(message)) => Some(message),
                    // The analysis is gone without a word: write what is left.
                    Ok(None) => {
                        finish_by = Some(Instant::now() + Duration::from_secs(1));
                        None
                    }
                    Err(_) => None,
                },
            };
            let mut messages: Vec<Message> = first.into_iter().collect();
            while let Ok(more) = receiver.try_recv() {
                messages.push(more);
            }
            for message in messages {
                match message {
                    Message::Batch(batch) => self.absorb(batch),
                    Message::Finish(deadline) => finish_by = Some(deadline),
                }
            }
            let due = Instant::now() >= next_attempt || finish_by.is_some();
            if self.has_work() && due {
                let limit = finish_by.map_or(WRITE_TIMEOUT, |d| {
                    d.saturating_duration_since(Instant::now())
                        .min(WRITE_TIMEOUT)
                });
                let result = match tokio::time::timeout(limit, self.write_pending()).await {
                    Ok(result) => result,
                    Err(_) => Err(FleetError::Timeout(limit)),
                };
                match result {
                    Ok(()) => {
                        if self.failing {
                            tracing::info!(
                                "inventory store {}: writing again",
                                self.url.redacted()
                            );
                        }
                        self.failing = false;
                        retry = FIRST_RETRY;
                    }
                    Err(err) => {
                        self.shared.write_errors.fetch_add(1, Ordering::Relaxed);
                        self.shared
                            .rows_failed
                            .fetch_add(self.pending.len() as u64, Ordering::Relaxed);
                        if !self.failing {
                            tracing::warn!(
                                "inventory store {}: {err}; the sensor keeps its local \
                                 inventory and retries (sensor_inventory_store_rows_pending \
                                 shows what waits)",
                                self.url.redacted()
                            );
                        }
                        self.failing = true;
                        self.client = None;
                        next_attempt = Instant::now() + retry;
                        retry = (retry * 2).min(LAST_RETRY);
                    }
                }
            }
            if let Some(deadline) = finish_by {
                if !self.has_work() || Instant::now() >= deadline {
                    break;
                }
                let pause = next_attempt.min(deadline);
                tokio::time::sleep_until(pause.into()).await;
            }
        }
        if self.has_work() {
            tracing::warn!(
                "inventory store {}: {} endpoint records not written at shutdown; \
                 inventory.json keeps them and the next start writes them",
                self.url.redacted(),
                self.pending.len()
            );
        }
    }

    fn has_work(&self) -> bool {
        !self.pending.is_empty() || self.evicted.is_some()
    }

    fn absorb(&mut self, batch: Batch) {
        self.evicted = Some(batch.evicted);
        for (key, record) in batch.endpoints {
            if self.pending.len() >= self.max_pending && !self.pending.contains_key(&key) {
                self.shared.rows_dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.pending.insert(key, record);
        }
        self.publish_pending();
    }

    fn publish_pending(&self) {
        self.shared
            .rows_pending
            .store(self.pending.len() as u64, Ordering::Relaxed);
    }

    /// Connects (and migrates) when needed, then writes every pending row.
    async fn write_pending(&mut self) -> Result<(), FleetError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            let mut client = connect(&self.url).await?;
            let applied = migrations::apply(&mut client).await?;
            if !applied.is_empty() {
                tracing::info!(
                    "inventory store {}: applied migrations {applied:?}",
                    self.url.redacted()
                );
            }
            self.client = Some(client);
        }
        let client = self.client.as_mut().expect("connected above");
        while !self.pending.is_empty() {
            let keys: Vec<EndpointKey> =
                self.pending.keys().take(ROWS_PER_WRITE).cloned().collect();
            let rows: Vec<(&EndpointKey, &EndpointRecord)> =
                keys.iter().map(|k| (k, &self.pending[k])).collect();
            upsert(client, &self.sensor_host, &rows, self.evicted).await?;
            for key in &keys {
                self.pending.remove(key);
            }
            self.evicted = None;
            self.shared
                .rows_written
                .fetch_add(keys.len() as u64, Ordering::Relaxed);
            self.shared
                .rows_pending
                .store(self.pending.len() as u64, Ordering::Relaxed);
        }
        if let Some(evicted) = self.evicted {
            upsert(client, &self.sensor_host, &[], Some(evicted)).await?;
            self.evicted = None;
        }
        if self
            .versions_read
            .is_none_or(|at| at.elapsed() >= VERSIONS_REFRESH)
        {
            let versions = fleet_versions(client, self.max_pending).await?;
            self.versions_read = Some(Instant::now());
            // Full: the analysis has not taken the last one yet; the next
            // refresh brings it up to date.
            let _ = self.versions_out.try_send(versions);
        }
        Ok(())
    }
}

/// Every sensor's versioned endpoints (at most `limit`), for the zombie
/// judgement on the fleet's view: a `/v1/...` this host serves is a
/// zombie when any host serves the resource under a newer version.
async fn fleet_versions(client: &Client, limit: usize) -> Result<VersionIndex, FleetError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT DISTINCT host, template FROM sensor_inventory_endpoints
             WHERE template ~ '/[vV][0-9]' LIMIT $1",
            &[&limit],
        )
        .await?;
    let mut versions = VersionIndex::default();
    for row in rows {
        versions.insert(row.get(0), row.get(1));
    }
    Ok(versions)
}

/// Writes `rows` as this sensor's, and its evicted count, in one
/// transaction: one statement for all the rows.
async fn upsert(
    client: &mut Client,
    sensor_host: &str,
    rows: &[(&EndpointKey, &EndpointRecord)],
    evicted: Option<u64>,
) -> Result<(), FleetError> {
    let mut hosts = Vec::with_capacity(rows.len());
    let mut methods = Vec::with_capacity(rows.len());
    let mut templates = Vec::with_capacity(rows.len());
    let mut first_seen = Vec::with_capacity(rows.len());
    let mut last_seen = Vec::with_capacity(rows.len());
    let mut requests = Vec::with_capacity(rows.len());
    let mut records = Vec::with_capacity(rows.len());
    for (key, record) in rows {
        hosts.push(key.host.as_str());
        methods.push(key.method.as_str());
        templates.push(key.template.as_str());
        first_seen.push(record.first_seen_unix_ns);
        last_seen.push(record.last_seen_unix_ns);
        requests.push(i64::try_from(record.requests).unwrap_or(i64::MAX));
        records.push(serde_json::to_string(record)?);
    }
    let tx = client.transaction().await?;
    if !rows.is_empty() {
        tx.execute(
            "INSERT INTO sensor_inventory_endpoints AS t
                 (sensor_host, host, method, template, first_seen_unix_ns,
                  last_seen_unix_ns, requests, record, updated_at)
             SELECT $1, h, m, p, f, l, r, j::jsonb, now()
             FROM unnest($2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[],
                         $7::int8[], $8::text[]) AS u(h, m, p, f, l, r, j)
             ON CONFLICT (host, method, template, sensor_host) DO UPDATE SET
                 first_seen_unix_ns = excluded.first_seen_unix_ns,
                 last_seen_unix_ns = excluded.last_seen_unix_ns,
                 requests = excluded.requests,
                 record = excluded.record,
                 updated_at = now()",
            &[
                &sensor_host,
                &hosts,
                &methods,
                &templates,
                &first_seen,
                &last_seen,
                &requests,
                &records,
            ],
        )
        .await?;
    }
    if let Some(evicted) = evicted {
        let evicted = i64::try_from(evicted).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO sensor_inventory_sensors (sensor_host, sensor_version, evicted, updated_at)
             VALUES ($1, $2, $3, now())
             ON CONFLICT (sensor_host) DO UPDATE SET
                 sensor_version = excluded.sensor_version,
                 evicted = excluded.evicted,
                 updated_at = now()",
            &[&sensor_host, &env!("CARGO_PKG_VERSION"), &evicted],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
