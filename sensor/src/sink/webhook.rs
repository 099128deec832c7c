//! Webhook sink: alerts POSTed in batches (a JSON array, NDJSON, Splunk
//! HEC, Elasticsearch `_bulk`, Slack, or Alertmanager alerts: `body.rs`),
//! TLS verified by rustls against the system's roots or the sink's own CA,
//! optionally with a client certificate and through an HTTP proxy, with
//! custom headers, timeouts, retries with exponential backoff, and a disk
//! spool so that while the receiver is down nothing is lost (up to the
//! spool's size). The Alertmanager sink is this worker with its own body.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::body::WebhookFormat;
use super::body::{body_of, bulk_reply_ok, count_alerts, BodyOptions};
use super::spool::Spool;
use super::worker::{AlertLine, SinkCounters, SinkQueue};
use crate::config::RecordFormat;

/// `User-Agent` of every request: the sensor and its version.
pub const USER_AGENT: &str = concat!("sensor/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: String,
    /// Resolved header values (from the config, a file or the environment).
    pub headers: Vec<(String, String)>,
    pub format: WebhookFormat,
    /// Native records or OCSF, for the formats that carry records.
    pub schema: RecordFormat,
    /// Alertmanager: seconds after its last occurrence an alert resolves.
    pub resolve_after_secs: u64,
    /// The sink's own TLS settings (CA, client certificate); None: the
    /// Mozilla roots, no client certificate.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// `http://host:port` of an HTTP proxy (CONNECT for https URLs).
    pub proxy: Option<String>,
    pub timeout: Duration,
    pub batch_max: usize,
    /// How long a partial batch waits for more alerts.
    pub batch_wait: Duration,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// At shutdown, how long to keep trying to deliver what is spooled
    /// (what is left stays spooled for the next start).
    pub drain_timeout: Duration,
}

/// The sink thread's body.
pub fn run(settings: WebhookSettings, queue: SinkQueue) {
    let mut spool = match Spool::open(&settings.spool_dir, settings.spool_max_bytes) {
        Ok(spool) => spool,
        Err(err) => {
            tracing::error!(
                "webhook {}: cannot open spool {}: {err}; alerts for this sink are dropped",
                settings.url,
                settings.spool_dir.display()
            );
            while let Ok(line) = queue.next(Duration::from_secs(1)) {
                if line.is_some() {
                    SinkCounters::add(&queue.counters().dropped, 1);
                }
            }
            return;
        }
    };
    // Validated at start-up: only a proxy URL ureq refuses fails here.
    // Then nothing is sent (never around the proxy): batches stay spooled.
    let agent = agent(&settings)
        .map_err(|err| {
            tracing::error!(
                "webhook {}: {err}; alerts for this sink stay spooled",
                settings.url
            );
        })
        .ok();
    let mut sender = Sender {
        settings: &settings,
        agent,
        backoff: settings.retry_initial,
        next_attempt: Instant::now(),
        failing: false,
    };
    let counters = queue.counters();
    counters
        .spooled_batches
        .store(spool.len() as u64, Ordering::Relaxed);
    let mut batch: Vec<AlertLine> = Vec::new();
    let mut batch_started = Instant::now();
    let mut closing = false;
    loop {
        let wait = if batch.is_empty() {
            Duration::from_millis(200)
        } else {
            settings
                .batch_wait
                .saturating_sub(batch_started.elapsed())
                .max(Duration::from_millis(1))
        };
        match queue.next(wait) {
            Ok(Some(line)) => {
                if batch.is_empty() {
                    batch_started = Instant::now();
                }
                batch.push(line);
            }
            Ok(None) => {}
            Err(_) => closing = true,
        }
        let full = batch.len() >= settings.batch_max;
        let due = !batch.is_empty() && batch_started.elapsed() >= settings.batch_wait;
        if full || due || (closing && !batch.is_empty()) {
            spool_batch(&mut spool, &settings, &mut batch, counters);
        }
        if closing {
            let deadline = Instant::now() + settings.drain_timeout;
            while !spool.is_empty() && Instant::now() < deadline {
                if !sender.deliver_oldest(&mut spool, counters) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            if !spool.is_empty() {
                tracing::warn!(
                    "webhook {}: {} batches still spooled at shutdown; they are sent on the next start",
                    settings.url,
                    spool.len()
                );
            }
            return;
        }
        while !spool.is_empty() && sender.deliver_oldest(&mut spool, counters) {}
    }
}

fn spool_batch(
    spool: &mut Spool,
    settings: &WebhookSettings,
    batch: &mut Vec<AlertLine>,
    counters: &SinkCounters,
) {
    let body = body_of(
        batch,
        &BodyOptions {
            format: settings.format,
            schema: settings.schema,
            resolve_after_secs: settings.resolve_after_secs,
        },
    );
    let before = spool.dropped_batches;
    match spool.push(&body) {
        Ok(()) => {
            // The spool dropped whole batches to stay under its size.
            let lost = spool.dropped_batches - before;
            if lost > 0 {
                SinkCounters::add(&counters.dropped, lost);
                tracing::warn!(
                    "webhook {}: spool full, dropped {lost} oldest batches",
                    settings.url
                );
            }
        }
        Err(err) => {
            SinkCounters::add(&counters.dropped, batch.len() as u64);
            tracing::error!("webhook {}: cannot spool a batch: {err}", settings.url);
        }
    }
    counters
        .spooled_batches
        .store(spool.len() as u64, Ordering::Relaxed);
    batch.clear();
}

struct Sender<'a> {
    settings: &'a WebhookSettings,
    /// None when the client could not be built: nothing is sent.
    agent: Option<ureq::Agent>,
    backoff: Duration,
    next_attempt: Instant,
    failing: bool,
}

impl Sender<'_> {
    /// Tries the oldest spooled batch if the backoff allows; true when it
    /// was delivered.
    fn deliver_oldest(&mut self, spool: &mut Spool, counters: &SinkCounters) -> bool {
        if Instant::now() < self.next_attempt {
            return false;
        }
        let Some(agent) = &self.agent else {
            return false;
        };
        let Some(body) = spool.oldest() else {
            return false;
        };
        let body = match body {
            Ok(body) => body,
            Err(err) => {
                tracing::error!(
                    "webhook {}: unreadable spooled batch dropped: {err}",
                    self.settings.url
                );
                let _ = spool.acknowledge_oldest();
                SinkCounters::add(&counters.dropped, 1);
                return true;
            }
        };
        let alerts = count_alerts(&body, self.settings.format);
        let mut request = agent
            .post(&self.settings.url)
            .set("Content-Type", self.settings.format.content_type());
        for (name, value) in &self.settings.headers {
            request = request.set(name, value);
        }
        let result = match request.send_bytes(&body) {
            Err(err) => Err(describe(&err)),
            Ok(response) if self.settings.format == WebhookFormat::ElasticsearchBulk => {
                // `_bulk` answers 200 even when documents failed.
                let mut reply = Vec::new();
                let read = response.into_reader().take(4 << 20).read_to_end(&mut reply);
                if read.is_ok() && bulk_reply_ok(&reply) {
                    Ok(())
                } else {
                    Err("Elasticsearch refused documents of the batch".to_owned())
                }
            }
            Ok(_) => Ok(()),
        };
        match result {
            Ok(()) => {
                let _ = spool.acknowledge_oldest();
                counters
                    .spooled_batches
                    .store(spool.len() as u64, Ordering::Relaxed);
                SinkCounters::add(&counters.delivered, alerts);
                if self.failing {
                    tracing::info!("webhook {}: receiver is back", self.settings.url);
                }
                self.failing = false;
                self.backoff = self.settings.retry_initial;
                true
            }
            Err(err) => {
                SinkCounters::add(&counters.failures, 1);
                SinkCounters::add(&counters.retries, 1);
                if !self.failing {
                    // Only the error kind: a receiver's reply could echo
                    // what it was sent.
                    tracing::warn!(
                        "webhook {}: delivery failed ({}); retrying with backoff, alerts are spooled",
                        self.settings.url,
                        err
                    );
                }
                self.failing = true;
                self.next_attempt = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(self.settings.retry_max);
                false
            }
        }
    }
}

/// The sink's HTTP client: its user agent, timeout, TLS and proxy.
fn agent(settings: &WebhookSettings) -> Result<ureq::Agent, String> {
    let mut builder = ureq::AgentBuilder::new()
        .timeout(settings.timeout)
        .user_agent(USER_AGENT);
    if let Some(tls) = &settings.tls {
        builder = builder.tls_config(Arc::clone(tls));
    }
    if let Some(proxy) = &settings.proxy {
        let proxy = ureq::Proxy::new(proxy).map_err(|e| format!("proxy {proxy}: {e}"))?;
        builder = builder.proxy(proxy);
    }
    Ok(builder.build())
}

fn describe(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Status(code, _) => format!("HTTP status {code}"),
        ureq::Error::Transport(t) => format!("{:?}", t.kind()),
    }
}
