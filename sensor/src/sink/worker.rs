//! Alert delivery off the capture path: each remote sink (webhook, syslog)
//! runs on its own thread behind a bounded queue. The capture loop only
//! ever does a non-blocking `offer`; when a sink falls behind, its queue
//! fills and further alerts for it are counted as dropped, never waited on.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde::Serialize;

use crate::alert::Alert;
use crate::config::RecordFormat;
use crate::finding::Severity;

/// One alert as the sinks receive it: its native JSON line (serialised
/// once for every sink that takes it), the alert itself for the sinks that
/// render it otherwise, and what filters need without parsing it again.
#[derive(Debug, Clone)]
pub struct AlertLine {
    pub json: Arc<str>,
    pub alert: Arc<Alert>,
    pub severity: Severity,
    pub category: Arc<str>,
    pub rule: Arc<str>,
}

impl AlertLine {
    pub fn new(alert: Alert) -> serde_json::Result<Self> {
        Ok(Self {
            json: serde_json::to_string(&alert)?.into(),
            severity: alert.severity,
            category: alert.category.as_str().into(),
            rule: alert.rule.as_str().into(),
            alert: Arc::new(alert),
        })
    }

    /// The alert as one JSON object in `format`.
    pub fn render(&self, format: RecordFormat) -> std::borrow::Cow<'_, str> {
        match format {
            RecordFormat::Native => std::borrow::Cow::Borrowed(&self.json),
            RecordFormat::Ocsf => {
                std::borrow::Cow::Owned(super::ocsf::detection_finding(&self.alert).to_string())
            }
        }
    }
}

/// Which alerts a sink takes.
#[derive(Debug, Clone)]
pub struct SinkFilter {
    pub min_severity: Severity,
    /// Empty: every category.
    pub categories: Vec<String>,
}

impl Default for SinkFilter {
    /// Every alert.
    fn default() -> Self {
        Self {
            min_severity: Severity::Low,
            categories: Vec::new(),
        }
    }
}

impl SinkFilter {
    pub fn accepts(&self, line: &AlertLine) -> bool {
        line.severity >= self.min_severity
            && (self.categories.is_empty() || self.categories.iter().any(|c| **c == *line.category))
    }
}

/// What a sink did, for metrics and the exit summary.
#[derive(Debug, Default)]
pub struct SinkCounters {
    /// Alerts waiting in the queue now.
    pub queued: AtomicU64,
    pub delivered: AtomicU64,
    /// Alerts refused because the queue was full.
    pub queue_overflow: AtomicU64,
    /// Failed delivery attempts (each is retried unless noted).
    pub failures: AtomicU64,
    pub retries: AtomicU64,
    /// Alerts lost for good: spool over its size, or a receiver that
    /// cannot be reached when the sink has no spool.
    pub dropped: AtomicU64,
    /// Batches on disk waiting for the receiver.
    pub spooled_batches: AtomicU64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SinkSnapshot {
    pub name: String,
    pub queued: u64,
    pub delivered: u64,
    pub queue_overflow: u64,
    pub failures: u64,
    pub retries: u64,
    pub dropped: u64,
    pub spooled_batches: u64,
}

impl SinkCounters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn snapshot(&self, name: &str) -> SinkSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SinkSnapshot {
            name: name.to_owned(),
            queued: get(&self.queued),
            delivered: get(&self.delivered),
            queue_overflow: get(&self.queue_overflow),
            failures: get(&self.failures),
            retries: get(&self.retries),
            dropped: get(&self.dropped),
            spooled_batches: get(&self.spooled_batches),
        }
    }
}

/// The receiving end a sink thread reads from.
pub struct SinkQueue {
    rx: Receiver<AlertLine>,
    counters: Arc<SinkCounters>,
    closing: Arc<AtomicBool>,
}

impl SinkQueue {
    /// Waits up to `timeout` for the next alert; `Err` once the sensor is
    /// shutting down and the queue is empty.
    pub fn next(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Option<AlertLine>, mpsc::RecvTimeoutError> {
        match self.rx.recv_timeout(timeout) {
            Ok(line) => {
                self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                Ok(Some(line))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(err) => Err(err),
        }
    }

    pub fn counters(&self) -> &SinkCounters {
        &self.counters
    }

    /// The sensor is shutting down: finish up within the sink's drain time.
    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }
}

pub struct SinkHandle {
    name: String,
    filter: SinkFilter,
    tx: Option<SyncSender<AlertLine>>,
    counters: Arc<SinkCounters>,
    closing: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SinkHandle {
    /// Starts `body` on its own thread with a queue of `capacity` alerts.
    pub fn spawn(
        name: String,
        filter: SinkFilter,
        capacity: usize,
        body: impl FnOnce(SinkQueue) + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        let counters = Arc::new(SinkCounters::default());
        let closing = Arc::new(AtomicBool::new(false));
        let queue = SinkQueue {
            rx,
            counters: Arc::clone(&counters),
            closing: Arc::clone(&closing),
        };
        let thread = std::thread::Builder::new()
            .name(format!("sink {name}"))
            .spawn(move || body(queue))?;
        Ok(Self {
            name,
            filter,
            tx: Some(tx),
            counters,
            closing,
            thread: Some(thread),
        })
    }

    /// Hands an alert to the sink without ever blocking.
    pub fn offer(&self, line: &AlertLine) {
        if !self.filter.accepts(line) {
            return;
        }
        let Some(tx) = &self.tx else { return };
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(err) = tx.try_send(line.clone()) {
            self.counters.queued.fetch_sub(1, Ordering::Relaxed);
            match err {
                TrySendError::Full(_) => SinkCounters::add(&self.counters.queue_overflow, 1),
                TrySendError::Disconnected(_) => SinkCounters::add(&self.counters.dropped, 1),
            }
        }
    }

    pub fn snapshot(&self) -> SinkSnapshot {
        self.counters.snapshot(&self.name)
    }

    /// Closes the queue and waits for the sink to finish what it holds
    /// (each sink bounds how long that takes).
    pub fn close(mut self) -> SinkSnapshot {
        self.closing.store(true, Ordering::Relaxed);
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn line(severity: Severity, category: &str) -> AlertLine {
        AlertLine {
            severity,
            category: Arc::from(category),
            ..crate::alert::tests::line(0)
        }
    }

    #[test]
    fn a_stuck_sink_never_blocks_and_counts_overflow() {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let sink = SinkHandle::spawn("stuck".into(), SinkFilter::default(), 2, move |queue| {
            let _ = release_rx.recv();
            while queue.next(Duration::from_millis(10)).is_ok() {}
        })
        .unwrap();
        for _ in 0..10 {
            sink.offer(&line(Severity::Low, "secret"));
        }
        let snap = sink.snapshot();
        assert_eq!((snap.queued, snap.queue_overflow), (2, 8));
        release_tx.send(()).unwrap();
        let snap = sink.close();
        assert_eq!(snap.queued, 0);
    }

    #[test]
    fn filters_by_severity_and_category() {
        let filter = SinkFilter {
            min_severity: Severity::High,
            categories: vec!["secret".into()],
        };
        assert!(filter.accepts(&line(Severity::High, "secret")));
        assert!(!filter.accepts(&line(Severity::Medium, "secret")));
        assert!(!filter.accepts(&line(Severity::Critical, "verbose_error")));
    }
}
