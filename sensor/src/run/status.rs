//! What a running sensor says about itself: the stats of its live source,
//! its metrics page, and the ready line's note when HTTPS is refused.

use crate::capture::live::{LiveCapture, LiveOptions};
use crate::capture::tls::TlsStats;
use crate::config::Config;
use crate::conntrack::kubernetes::PodIndex;
use crate::metrics::MetricsState;
use crate::metrics::Page;
use crate::session::Session;
use crate::stats::SourceStats;

/// What the ready line and `/readyz` say when the kernel refused the TLS
/// uprobes for want of privilege: HTTPS through those files is not
/// captured.
pub(super) fn https_refused(tls: &TlsStats) -> Option<String> {
    let refused = tls.files_not_attached.permission;
    (refused > 0).then(|| {
        format!(
            "HTTPS not captured: the kernel refused the TLS uprobes on {refused} \
             libraries for want of CAP_SYS_ADMIN"
        )
    })
}

pub(super) fn source_stats(capture: &LiveCapture, open_connections: usize) -> SourceStats {
    let kernel = capture.kernel_counters();
    SourceStats::live(
        capture.mode,
        &kernel,
        capture.decode_errors,
        capture.resumed,
        open_connections,
    )
}

pub(super) fn metrics_page(
    capture: &LiveCapture,
    session: &Session,
    pods: Option<&PodIndex>,
) -> String {
    let mut page = Page::default();
    session.metrics(source_stats(capture, session.connections()), &mut page);
    page.counters(
        "tls",
        serde_json::to_value(capture.tls_stats()).unwrap_or_default(),
    );
    page.family(mode_family(capture.mode));
    if let Some(pods) = pods {
        pods.metrics(&mut page);
    }
    page.render()
}

fn mode_family(mode: crate::capture::Mode) -> crate::metrics::Labelled {
    crate::metrics::Labelled {
        name: "capture_mode".to_owned(),
        help: "The kernel hooks capturing: socket (socket-layer tracepoints) or syscalls (syscall tracepoints).".to_owned(),
        kind: "gauge",
        samples: vec![(vec![("mode".to_owned(), mode.name().to_owned())], 1.0)],
    }
}

/// The capture the config asks for.
pub(super) fn live_options(config: &Config) -> LiveOptions {
    LiveOptions {
        capture_limit: config.capture.capture_limit_bytes,
        ring_bytes: config.capture.ring_buffer_bytes,
        pids: config.capture.pids.clone(),
        comms: config.capture.process_names.clone(),
        tls: config.capture.tls.clone(),
        ports: config.capture.ports.clone(),
        mode: config.capture.mode,
    }
}

/// Start-up is over: its freed memory goes back to the kernel, the ready
/// line is logged, and `/readyz` says ready (degraded when the kernel
/// refused the TLS probes).
pub(super) fn announce_ready(
    config: &Config,
    capture: &LiveCapture,
    metrics: Option<&MetricsState>,
) {
    let exchanges = config.output.exchanges.as_ref();
    let exchanges = exchanges.map(|p| format!(", exchanges to {}", p.display()));
    // What start-up parsed and scanned since capture began is freed now.
    crate::capture::heap::give_back_freed_memory();
    crate::allocations::mark_ready();
    let degraded = https_refused(&capture.tls_stats());
    let https_note = degraded.as_ref().map(|what| format!(" (degraded: {what})"));
    tracing::info!(
        "sensor ready: capturing HTTP on this host ({} mode){}; alerts to {}{}",
        capture.mode,
        https_note.unwrap_or_default(),
        config.output.alerts.display(),
        exchanges.unwrap_or_default()
    );
    if let Some(metrics) = metrics {
        if let Some(what) = degraded {
            metrics.set_degraded(what, config.capture.tls.required);
        }
        metrics.set_ready();
    }
}
