//! Syslog sink for SIEMs: each alert as one RFC 5424 message, its JSON
//! (native or OCSF) as the message text, over UDP, TCP (octet-counting
//! framing, RFC 6587), TLS (RFC 5425: the same framing inside TLS, the
//! receiver's certificate verified) or a local unix datagram socket. TCP reconnects with backoff; an alert that
//! cannot be sent is retried until it is, while the queue in front of the
//! sink absorbs (and counts) what arrives meanwhile.

use std::io::Write as _;
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::worker::{AlertLine, SinkCounters, SinkQueue};
use crate::config::RecordFormat;
use crate::finding::Severity;
use crate::timestamp;

#[derive(Debug, Clone)]
pub enum SyslogTransport {
    Udp(String),
    Tcp(String),
    /// `host:port` and the TLS settings (trusted CA, client certificate).
    Tls(String, Arc<rustls::ClientConfig>),
    Unix(PathBuf),
}

impl PartialEq for SyslogTransport {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Udp(a), Self::Udp(b))
            | (Self::Tcp(a), Self::Tcp(b))
            | (Self::Tls(a, _), Self::Tls(b, _)) => a == b,
            (Self::Unix(a), Self::Unix(b)) => a == b,
            _ => false,
        }
    }
}

impl std::fmt::Display for SyslogTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Udp(a) => write!(f, "udp://{a}"),
            Self::Tcp(a) => write!(f, "tcp://{a}"),
            Self::Tls(a, _) => write!(f, "tls://{a}"),
            Self::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SyslogSettings {
    pub transport: SyslogTransport,
    /// Syslog facility number (16 = local0).
    pub facility: u8,
    pub hostname: String,
    /// Native alerts or OCSF Detection Findings as the message text.
    pub schema: RecordFormat,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// At shutdown, how long an unsendable alert is retried.
    pub drain_timeout: Duration,
}

/// RFC 5424 severity for an alert severity.
fn syslog_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Critical => 2, // critical
        Severity::High => 3,     // error
        Severity::Medium => 4,   // warning
        Severity::Low => 5,      // notice
    }
}

/// `<PRI>1 TIMESTAMP HOSTNAME sensor PROCID MSGID - MSG`.
pub fn format_message(
    line: &AlertLine,
    schema: RecordFormat,
    facility: u8,
    hostname: &str,
    timestamp: &str,
) -> String {
    let pri = u16::from(facility) * 8 + u16::from(syslog_severity(line.severity));
    // MSGID: printable ASCII, at most 32 characters.
    let msgid: String = line
        .rule
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    let msgid = if msgid.is_empty() {
        "-".to_owned()
    } else {
        msgid
    };
    format!(
        "<{pri}>1 {timestamp} {hostname} sensor {} {msgid} - {}",
        std::process::id(),
        line.render(schema)
    )
}

enum Connection {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Unix(UnixDatagram),
}

impl Connection {
    fn open(transport: &SyslogTransport) -> std::io::Result<Self> {
        Ok(match transport {
            SyslogTransport::Udp(addr) => {
                let socket = UdpSocket::bind(if addr.starts_with('[') {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                })?;
                socket.connect(addr)?;
                Connection::Udp(socket)
            }
            SyslogTransport::Tcp(addr) => {
                let stream = TcpStream::connect(addr)?;
                stream.set_write_timeout(Some(Duration::from_secs(5)))?;
                Connection::Tcp(stream)
            }
            SyslogTransport::Tls(addr, config) => {
                let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                let tls = rustls::ClientConnection::new(Arc::clone(config), name)
                    .map_err(std::io::Error::other)?;
                let stream = TcpStream::connect(addr)?;
                stream.set_write_timeout(Some(Duration::from_secs(5)))?;
                stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                let mut stream = rustls::StreamOwned::new(tls, stream);
                // The handshake now, so a receiver that refuses us (an
                // untrusted certificate) fails the send, not a later one.
                while stream.conn.is_handshaking() {
                    stream.conn.complete_io(&mut stream.sock)?;
                }
                Connection::Tls(Box::new(stream))
            }
            SyslogTransport::Unix(path) => {
                let socket = UnixDatagram::unbound()?;
                socket.connect(path)?;
                Connection::Unix(socket)
            }
        })
    }

    fn send(&mut self, message: &str) -> std::io::Result<()> {
        match self {
            Connection::Udp(socket) => socket.send(message.as_bytes()).map(|_| ()),
            Connection::Unix(socket) => socket.send(message.as_bytes()).map(|_| ()),
            Connection::Tcp(stream) => {
                stream.write_all(format!("{} {message}", message.len()).as_bytes())
            }
            // RFC 5425: MSG-LEN SP SYSLOG-MSG, as over TCP.
            Connection::Tls(stream) => {
                stream.write_all(format!("{} {message}", message.len()).as_bytes())?;
                stream.flush()
            }
        }
    }
}

/// The sink thread's body.
pub fn run(settings: SyslogSettings, queue: SinkQueue) {
    let counters = queue.counters();
    let mut connection: Option<Connection> = None;
    let mut backoff = settings.retry_initial;
    let mut failing = false;
    let mut closing_since: Option<Instant> = None;
    let mut pending: Option<String> = None;
    loop {
        if pending.is_none() {
            match queue.next(Duration::from_millis(200)) {
                Ok(Some(line)) => {
                    // The syslog NILVALUE when the clock is out of range.
                    let now = Some(timestamp::rfc3339(timestamp::now_unix_ns()))
                        .filter(|t| !t.is_empty())
                        .unwrap_or_else(|| "-".into());
                    pending = Some(format_message(
                        &line,
                        settings.schema,
                        settings.facility,
                        &settings.hostname,
                        &now,
                    ));
                }
                Ok(None) => continue,
                Err(_) => return,
            }
        }
        let Some(message) = &pending else { continue };
        let sent = match &mut connection {
            Some(conn) => conn.send(message),
            None => Connection::open(&settings.transport).and_then(|mut conn| {
                let result = conn.send(message);
                connection = Some(conn);
                result
            }),
        };
        match sent {
            Ok(()) => {
                SinkCounters::add(&counters.delivered, 1);
                pending = None;
                backoff = settings.retry_initial;
                if failing {
                    tracing::info!("syslog {}: receiver is back", settings.transport);
                    failing = false;
                }
            }
            Err(err) => {
                connection = None;
                SinkCounters::add(&counters.failures, 1);
                SinkCounters::add(&counters.retries, 1);
                if !failing {
                    tracing::warn!(
                        "syslog {}: send failed ({}); retrying with backoff",
                        settings.transport,
                        err
                    );
                    failing = true;
                }
                // Shutting down: give up on the receiver after a while.
                if queue.closing() {
                    let since = *closing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > settings.drain_timeout {
                        let mut lost = 1;
                        while let Ok(line) = queue.next(Duration::ZERO) {
                            lost += u64::from(line.is_some());
                        }
                        SinkCounters::add(&counters.dropped, lost);
                        tracing::warn!(
                            "syslog {}: receiver unreachable at shutdown, {lost} alerts not sent",
                            settings.transport
                        );
                        return;
                    }
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(settings.retry_max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn rfc5424_message() {
        let line = AlertLine {
            json: Arc::from("{\"rule\":\"secret.aws\"}"),
            severity: Severity::Critical,
            category: Arc::from("secret"),
            rule: Arc::from("secret.aws key"),
            ..crate::alert::tests::line(0)
        };
        let message = format_message(
            &line,
            RecordFormat::Native,
            16,
            "host1",
            "2026-11-23T08:00:00Z",
        );
        assert_eq!(
            message,
            format!(
                "<130>1 2026-11-23T08:00:00Z host1 sensor {} secret.awskey - {{\"rule\":\"secret.aws\"}}",
                std::process::id()
            )
        );
    }
}
