//! Remote sinks against real receivers on loopback: a webhook receiver that
//! goes down and comes back, a sensor restart with a spool on disk, and
//! syslog over UDP and TCP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::syslog::{self, SyslogSettings, SyslogTransport};
use super::webhook::{self, WebhookFormat, WebhookSettings};
use super::worker::{AlertLine, SinkFilter, SinkHandle};

fn alert(n: usize) -> AlertLine {
    crate::alert::tests::line(n)
}

/// A minimal HTTP receiver: records each POST body, answers 200.
struct Receiver {
    port: u16,
    stop: Arc<std::sync::atomic::AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16, bodies: Arc<Mutex<Vec<String>>>) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (b, s) = (Arc::clone(&bodies), Arc::clone(&stop));
        let open = Arc::new(Mutex::new(Vec::new()));
        let o = Arc::clone(&open);
        let thread = std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        o.lock().unwrap().push(stream.try_clone().unwrap());
                        let b = Arc::clone(&b);
                        std::thread::spawn(move || serve(stream, &b));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Receiver {
            port,
            stop,
            open,
            thread: Some(thread),
        }
    }

    /// Down for real: no more accepts, and kept-alive connections cut.
    fn stop(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn serve(stream: TcpStream, bodies: &Mutex<Vec<String>>) {
    stream.set_nonblocking(false).unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        bodies
            .lock()
            .unwrap()
            .push(String::from_utf8(body).unwrap());
        let _ = reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }
}

fn ids(bodies: &Mutex<Vec<String>>) -> Vec<String> {
    let mut ids: Vec<String> = bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| serde_json::from_str::<Vec<serde_json::Value>>(b).unwrap())
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    let mut ids: Vec<String> = range.map(|n| format!("a{n}")).collect();
    ids.sort();
    ids
}

fn settings(port: u16, spool: PathBuf) -> WebhookSettings {
    WebhookSettings {
        url: format!("http://127.0.0.1:{port}/alerts"),
        headers: vec![("Authorization".into(), "Bearer test".into())],
        format: WebhookFormat::Json,
        schema: crate::config::RecordFormat::Native,
        resolve_after_secs: 300,
        tls: None,
        proxy: None,
        timeout: Duration::from_secs(2),
        batch_max: 10,
        batch_wait: Duration::from_millis(50),
        spool_dir: spool,
        spool_max_bytes: 1 << 20,
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        drain_timeout: Duration::from_millis(300),
    }
}

fn spool_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sensor-sink-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn webhook_sink(settings: WebhookSettings) -> SinkHandle {
    SinkHandle::spawn("webhook".into(), SinkFilter::default(), 1000, move |q| {
        webhook::run(settings, q)
    })
    .unwrap()
}

#[test]
fn webhook_receiver_down_then_back_loses_nothing() {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::start(0, Arc::clone(&bodies));
    let port = receiver.port;
    let sink = webhook_sink(settings(port, spool_dir("outage")));
    for n in 0..30 {
        sink.offer(&alert(n));
    }
    wait_until("the first 30 alerts", || ids(&bodies).len() == 30);
    receiver.stop();
    for n in 30..100 {
        sink.offer(&alert(n));
    }
    // Give the sink time to fail and back off while the receiver is down.
    std::thread::sleep(Duration::from_millis(400));
    assert!(sink.snapshot().failures > 0, "{:?}", sink.snapshot());
    assert!(sink.snapshot().spooled_batches > 0, "{:?}", sink.snapshot());
    let receiver = Receiver::start(port, Arc::clone(&bodies));
    wait_until("all 100 alerts", || ids(&bodies).len() >= 100);
    let snapshot = sink.close();
    receiver.stop();
    assert_eq!(ids(&bodies), expected(0..100));
    assert_eq!((snapshot.delivered, snapshot.dropped), (100, 0));
    assert_eq!(snapshot.spooled_batches, 0);
}

#[test]
fn spooled_alerts_are_sent_after_a_restart() {
    let spool = spool_dir("restart");
    // Nothing listens on this port (bound then released).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sink = webhook_sink(settings(port, spool.clone()));
    for n in 0..25 {
        sink.offer(&alert(n));
    }
    let snapshot = sink.close();
    assert_eq!(snapshot.delivered, 0);
    assert!(snapshot.spooled_batches >= 3, "{snapshot:?}");

    let bodies = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::start(port, Arc::clone(&bodies));
    let sink = webhook_sink(settings(port, spool.clone()));
    wait_until("the spooled alerts", || ids(&bodies).len() >= 25);
    sink.close();
    receiver.stop();
    assert_eq!(ids(&bodies), expected(0..25));
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
}

fn syslog_settings(transport: SyslogTransport) -> SyslogSettings {
    SyslogSettings {
        transport,
        facility: 16,
        hostname: "testhost".into(),
        schema: crate::config::RecordFormat::Native,
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        drain_timeout: Duration::from_millis(300),
    }
}

fn syslog_sink(settings: SyslogSettings) -> SinkHandle {
    SinkHandle::spawn("syslog".into(), SinkFilter::default(), 1000, move |q| {
        syslog::run(settings, q)
    })
    .unwrap()
}

#[test]
fn syslog_over_udp_and_tcp_gets_every_alert() {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let sink = syslog_sink(syslog_settings(SyslogTransport::Udp(
        udp.local_addr().unwrap().to_string(),
    )));
    for n in 0..20 {
        sink.offer(&alert(n));
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while got.len() < 20 {
        let n = udp.recv(&mut buf).expect("a syslog datagram");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    sink.close();
    // local0 (16) * 8 + the syslog severity of the alert's.
    let pri = 128 + [5, 4, 3, 2][alert(0).severity.rank()];
    assert!(got[0].starts_with(&format!("<{pri}>1 ")), "{}", got[0]);
    assert!(got
        .iter()
        .all(|m| m.contains(" testhost sensor ") && m.ends_with('}')));

    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let sink = syslog_sink(syslog_settings(SyslogTransport::Tcp(
        tcp.local_addr().unwrap().to_string(),
    )));
    for n in 0..20 {
        sink.offer(&alert(n));
    }
    let (stream, _) = tcp.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut messages = Vec::new();
    while messages.len() < 20 {
        // Octet counting: "<length> <message>".
        let mut length = Vec::new();
        reader.read_until(b' ', &mut length).unwrap();
        let length: usize = String::from_utf8_lossy(&length).trim().parse().unwrap();
        let mut message = vec![0u8; length];
        reader.read_exact(&mut message).unwrap();
        messages.push(String::from_utf8(message).unwrap());
    }
    let snapshot = sink.close();
    assert_eq!(snapshot.delivered, 20);
    for (n, message) in messages.iter().enumerate() {
        assert!(message.ends_with(&*alert(n).json), "{message}");
    }
}
