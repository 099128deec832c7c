//! Metrics and health over HTTP, for Prometheus and for liveness probes:
//! `GET /metrics` (text exposition), `GET /healthz` (the capture loop is
//! turning) and `GET /readyz` (every probe is attached).
//!
//! The capture loop publishes a rendered page into `MetricsState` on its
//! regular tick; the server only hands out the latest page, so a slow or
//! hostile scraper never touches capture.

mod page;
mod render;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

pub use page::Page;
pub use render::{render, Labelled};

/// The capture loop is considered stuck after this long without a publish.
const STALE_AFTER: Duration = Duration::from_secs(10);
/// A scraper gets this long to send its request line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes of request read; anything longer is refused.
const MAX_REQUEST: usize = 4096;

#[derive(Debug, Default)]
struct Published {
    page: String,
    at: Option<Instant>,
    ready: bool,
}

/// Shared between the capture loop (writer) and the server (reader).
#[derive(Debug, Clone, Default)]
pub struct MetricsState {
    inner: Arc<Mutex<Published>>,
}

impl MetricsState {
    pub fn publish(&self, page: String) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.page = page;
        inner.at = Some(Instant::now());
    }

    pub fn set_ready(&self) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).ready = true;
    }

    fn snapshot(&self) -> (String, bool, bool) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let live = inner.at.is_some_and(|at| at.elapsed() < STALE_AFTER);
        (inner.page.clone(), live, inner.ready)
    }
}

/// Binds the listener (a taken port fails start-up) and serves it on this
/// runtime; None when metrics are off.
pub async fn start(config: &crate::config::MetricsConfig) -> std::io::Result<Option<MetricsState>> {
    if !config.enabled {
        return Ok(None);
    }
    let listener = bind(&config.listen).await?;
    let state = MetricsState::default();
    tokio::spawn(serve(listener, state.clone()));
    tracing::info!("metrics on http://{}/metrics", config.listen);
    Ok(Some(state))
}

/// Binds the listener (so a taken port fails start-up, not later).
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves until the task is dropped.
pub async fn serve(listener: TcpListener, state: MetricsState) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &state)).await;
        });
    }
}

async fn answer(mut stream: TcpStream, state: &MetricsState) -> std::io::Result<()> {
    let mut request = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && !request.ends_with(b"\n\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
        if request.len() > MAX_REQUEST {
            respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "",
            )
            .await?;
            // Closing with unread input would reset the connection and could
            // discard the answer before the client reads it.
            let mut drained = 0;
            while drained < 16 * MAX_REQUEST {
                match stream.read(&mut buf).await? {
                    0 => break,
                    n => drained += n,
                }
            }
            return Ok(());
        }
    }
    let line = request.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, "405 Method Not Allowed", "text/plain", "").await;
    }
    let (page, live, ready) = state.snapshot();
    let (status, kind, body) = match target {
        "/metrics" => ("200 OK", "text/plain; version=0.0.4", page),
        "/healthz" if live => ("200 OK", "text/plain", "ok\n".to_owned()),
        "/healthz" => (
            "503 Service Unavailable",
            "text/plain",
            "capture loop stalled\n".to_owned(),
        ),
        "/readyz" if ready => ("200 OK", "text/plain", "ready\n".to_owned()),
        "/readyz" => (
            "503 Service Unavailable",
            "text/plain",
            "starting\n".to_owned(),
        ),
        _ => ("404 Not Found", "text/plain", String::new()),
    };
    let body = if method == "HEAD" {
        String::new()
    } else {
        body
    };
    respond(&mut stream, status, kind, &body).await
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    kind: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(port: u16, request: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_metrics_health_and_readiness() {
        let listener = bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = MetricsState::default();
        tokio::spawn(serve(listener, state.clone()));

        let get_path = |p: &str| format!("GET {p} HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(get(port, &get_path("/healthz"))
            .await
            .starts_with("HTTP/1.1 503"));
        assert!(get(port, &get_path("/readyz"))
            .await
            .starts_with("HTTP/1.1 503"));
        state.publish("sensor_up_total 1\n".into());
        state.set_ready();
        assert!(get(port, &get_path("/healthz"))
            .await
            .starts_with("HTTP/1.1 200"));
        assert!(get(port, &get_path("/readyz"))
            .await
            .starts_with("HTTP/1.1 200"));
        let metrics = get(port, &get_path("/metrics")).await;
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        assert!(
            metrics.ends_with("\r\n\r\nsensor_up_total 1\n"),
            "{metrics}"
        );
        assert!(get(port, &get_path("/nope"))
            .await
            .starts_with("HTTP/1.1 404"));
        assert!(get(port, "POST /metrics HTTP/1.1\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 405"));
        let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(8000));
        assert!(get(port, &huge).await.starts_with("HTTP/1.1 431"));
    }
}
