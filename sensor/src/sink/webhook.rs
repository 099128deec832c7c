//! Webhook sink: alerts POSTed as JSON batches (or as Slack-compatible
//! messages), TLS verified by rustls, with custom headers, timeouts,
//! retries with exponential backoff, and a disk spool so that while the
//! receiver is down nothing is lost (up to the spool's size).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::spool::Spool;
use super::worker::{AlertLine, SinkCounters, SinkQueue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// A JSON array of alert objects.
    Json,
    /// `{"text": ...}`, one readable line per alert.
    Slack,
}

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: String,
    /// Resolved header values (from the config, a file or the environment).
    pub headers: Vec<(String, String)>,
    pub format: WebhookFormat,
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
    let agent = ureq::AgentBuilder::new().timeout(settings.timeout).build();
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
    let body = body_of(batch, settings.format);
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
    agent: ureq::Agent,
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
        let mut request = self
            .agent
            .post(&self.settings.url)
            .set("Content-Type", "application/json");
        for (name, value) in &self.settings.headers {
            request = request.set(name, value);
        }
        match request.send_bytes(&body) {
            Ok(_) => {
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
                        describe(&err)
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

fn describe(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Status(code, _) => format!("HTTP status {code}"),
        ureq::Error::Transport(t) => format!("{:?}", t.kind()),
    }
}

fn body_of(batch: &[AlertLine], format: WebhookFormat) -> Vec<u8> {
    match format {
        WebhookFormat::Json => {
            let mut body =
                Vec::with_capacity(batch.iter().map(|l| l.json.len() + 1).sum::<usize>() + 2);
            body.push(b'[');
            for (i, line) in batch.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(line.json.as_bytes());
            }
            body.push(b']');
            body
        }
        WebhookFormat::Slack => {
            let text: Vec<String> = batch
                .iter()
                .map(|line| {
                    serde_json::from_str::<serde_json::Value>(&line.json)
                        .map(|alert| crate::alert::render::render(&alert, false))
                        .unwrap_or_else(|_| line.rule.to_string())
                })
                .collect();
            serde_json::to_vec(&serde_json::json!({ "text": text.join("\n") }))
                .expect("a JSON object serialises")
        }
    }
}

fn count_alerts(body: &[u8], format: WebhookFormat) -> u64 {
    match format {
        WebhookFormat::Json => serde_json::from_slice::<Vec<serde_json::Value>>(body)
            .map(|v| v.len() as u64)
            .unwrap_or(0),
        WebhookFormat::Slack => serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["text"].as_str().map(|t| t.lines().count() as u64))
            .unwrap_or(0),
    }
}
