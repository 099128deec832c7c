//! Sinks against the real programs a security team runs on the other end,
//! on loopback: Prometheus Alertmanager (Debian's), rsyslog's TLS input
//! (RFC 5425, OpenSSL driver, client certificates required), and an
//! HTTPS receiver behind a private CA that wants a client certificate,
//! reached through tinyproxy. `cargo xtask setup` installs all three.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use super::syslog::{self, SyslogSettings, SyslogTransport};
use super::tls::{client_config, TlsFiles};
use super::webhook::{self, WebhookFormat, WebhookSettings, USER_AGENT};
use super::worker::{AlertLine, SinkFilter, SinkHandle};
use crate::config::RecordFormat;

/// A program the test started, killed when the test ends however it ends.
struct Program(Child);

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(command: &mut Command) -> Program {
    let program = format!("{command:?}");
    Program(
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e} (cargo xtask setup installs it)")),
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sensor-recv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Alert `n` on its own endpoint, so a receiver that groups by labels
/// still sees `n` alerts.
fn alert(n: usize) -> AlertLine {
    let mut alert = crate::alert::tests::sample(n);
    alert.endpoint.path = format!("/api/items{n}/{{id}}");
    AlertLine::new(alert).unwrap()
}

/// A CA made for the test, a server certificate for 127.0.0.1 and a
/// client certificate, as PEM files in `dir`.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn pki(dir: &Path, name: &str) -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let write = |file: &str, text: String| {
        let path = dir.join(format!("{name}-{file}"));
        std::fs::write(&path, text).unwrap();
        path
    };
    let leaf = |cn: &str, sans: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf("receiver", vec!["127.0.0.1".into(), "localhost".into()]);
    let (client_cert, client_key) = leaf("sensor", vec!["sensor.test".into()]);
    Pki {
        ca: write("ca.pem", issuer.pem()),
        server_cert: write("server.pem", server_cert),
        server_key: write("server.key", server_key),
        client_cert: write("client.pem", client_cert),
        client_key: write("client.key", client_key),
    }
}

fn webhook_settings(url: String, format: WebhookFormat, spool: PathBuf) -> WebhookSettings {
    WebhookSettings {
        url,
        headers: Vec::new(),
        format,
        schema: RecordFormat::Native,
        resolve_after_secs: 600,
        tls: None,
        proxy: None,
        timeout: Duration::from_secs(5),
        batch_max: 10,
        batch_wait: Duration::from_millis(50),
        spool_dir: spool,
        spool_max_bytes: 1 << 20,
        retry_initial: Duration::from_millis(50),
        retry_max: Duration::from_millis(500),
        drain_timeout: Duration::from_millis(500),
    }
}

fn webhook_sink(settings: WebhookSettings) -> SinkHandle {
    SinkHandle::spawn("test".into(), SinkFilter::default(), 1000, move |q| {
        webhook::run(settings, q)
    })
    .unwrap()
}

/// The real Alertmanager: down when the alerts arrive (they are spooled
/// and retried), then up; every alert shows in its API with the labels
/// the issue names.
#[test]
fn alertmanager_gets_every_alert_with_its_labels_after_an_outage() {
    let dir = scratch("alertmanager");
    let port = free_port();
    let settings = webhook_settings(
        format!("http://127.0.0.1:{port}/api/v2/alerts"),
        WebhookFormat::Alertmanager,
        dir.join("spool"),
    );
    let sink = webhook_sink(settings);
    for n in 0..5 {
        sink.offer(&alert(n));
    }
    wait_until("failed attempts while Alertmanager is down", || {
        let s = sink.snapshot();
        s.failures > 0 && s.spooled_batches > 0
    });

    std::fs::write(
        dir.join("alertmanager.yml"),
        "route:\n  receiver: none\nreceivers:\n  - name: none\n",
    )
    .unwrap();
    let _alertmanager = start(
        Command::new("prometheus-alertmanager")
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stderr(Stdio::null()),
    );
    let api = format!("http://127.0.0.1:{port}/api/v2/alerts");
    let mut alerts: Vec<serde_json::Value> = Vec::new();
    wait_until("5 alerts in Alertmanager", || {
        alerts = ureq::get(&api)
            .call()
            .ok()
            .and_then(|r| r.into_string().ok())
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        alerts.len() == 5
    });
    let snapshot = sink.close();
    assert_eq!(
        (
            snapshot.delivered,
            snapshot.dropped,
            snapshot.spooled_batches
        ),
        (5, 0, 0)
    );
    let mut endpoints: Vec<&str> = Vec::new();
    for alert in &alerts {
        let labels = &alert["labels"];
        assert_eq!(labels["alertname"], "pii.email", "{alert}");
        assert_eq!(labels["rule"], "pii.email");
        assert_eq!(labels["category"], "sensitive_data");
        assert_eq!(
            labels["severity"],
            crate::alert::tests::sample(0).severity.as_str()
        );
        assert_eq!(labels["host"], "web-1");
        assert_eq!(labels["node"], "node-a");
        assert_eq!(alert["status"]["state"], "active", "{alert}");
        assert!(alert["annotations"]["summary"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
        endpoints.push(labels["endpoint"].as_str().unwrap());
    }
    endpoints.sort_unstable();
    assert_eq!(endpoints[0], "GET api.acme.io/api/items0/{id}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn syslog_sink(transport: SyslogTransport) -> SinkHandle {
    let settings = SyslogSettings {
        transport,
        facility: 16,
        hostname: "web-1".into(),
        schema: RecordFormat::Native,
        retry_initial: Duration::from_millis(50),
        retry_max: Duration::from_millis(500),
        drain_timeout: Duration::from_millis(500),
    };
    SinkHandle::spawn("syslog".into(), SinkFilter::default(), 1000, move |q| {
        syslog::run(settings, q)
    })
    .unwrap()
}

/// rsyslog's RFC 5425 input (OpenSSL driver) that only takes clients
/// with a certificate from its CA: every alert arrives whole, parsed as
/// RFC 5424; a sink that trusts another CA delivers nothing.
#[test]
fn syslog_over_tls_reaches_rsyslog_with_a_client_certificate() {
    let dir = scratch("rsyslog");
    let certs = pki(&dir, "syslog");
    let port = free_port();
    let received = dir.join("received.log");
    let conf = format!(
        r#"global(workDirectory="{dir}"
       DefaultNetstreamDriver="ossl"
       DefaultNetstreamDriverCAFile="{ca}"
       DefaultNetstreamDriverCertFile="{cert}"
       DefaultNetstreamDriverKeyFile="{key}")
module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1"
       StreamDriver.AuthMode="x509/certvalid")
input(type="imtcp" address="127.0.0.1" port="{port}")
template(name="fields" type="string" string="%hostname%|%app-name%|%msgid%|%msg%\n")
action(type="omfile" file="{received}" template="fields")
"#,
        dir = dir.display(),
        ca = certs.ca.display(),
        cert = certs.server_cert.display(),
        key = certs.server_key.display(),
        received = received.display(),
    );
    std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
    let _rsyslog = start(
        Command::new("rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(dir.join("rsyslog.pid"))
            .stderr(Stdio::null()),
    );
    wait_until("rsyslog listening", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });

    let address = format!("127.0.0.1:{port}");
    let trusted = client_config(TlsFiles {
        ca_file: Some(&certs.ca),
        client_cert_file: Some(&certs.client_cert),
        client_key_file: Some(&certs.client_key),
    })
    .unwrap();
    let sink = syslog_sink(SyslogTransport::Tls(address.clone(), trusted));
    let lines: Vec<AlertLine> = (0..20).map(alert).collect();
    for line in &lines {
        sink.offer(line);
    }
    let read = || std::fs::read_to_string(&received).unwrap_or_default();
    wait_until("20 messages in rsyslog's file", || {
        read().lines().count() >= 20
    });
    let snapshot = sink.close();
    assert_eq!((snapshot.delivered, snapshot.failures), (20, 0));
    let text = read();
    for (line, sent) in text.lines().zip(&lines) {
        let fields: Vec<&str> = line.splitn(4, '|').collect();
        assert_eq!(&fields[..3], ["web-1", "sensor", "pii.email"], "{line}");
        let alert: serde_json::Value = serde_json::from_str(fields[3].trim()).unwrap();
        assert_eq!(alert["id"], sent.alert.id);
    }

    // A CA the receiver's certificate is not from: nothing goes out.
    let other = pki(&dir, "other");
    let untrusting = client_config(TlsFiles {
        ca_file: Some(&other.ca),
        client_cert_file: Some(&certs.client_cert),
        client_key_file: Some(&certs.client_key),
    })
    .unwrap();
    let sink = syslog_sink(SyslogTransport::Tls(address.clone(), untrusting));
    sink.offer(&alert(99));
    wait_until("a refused handshake", || sink.snapshot().failures > 0);
    let snapshot = sink.close();
    assert_eq!((snapshot.delivered, snapshot.dropped), (0, 1));

    // No client certificate: rsyslog refuses the session.
    let anonymous = client_config(TlsFiles {
        ca_file: Some(&certs.ca),
        ..TlsFiles::default()
    })
    .unwrap();
    let sink = syslog_sink(SyslogTransport::Tls(address, anonymous));
    sink.offer(&alert(98));
    std::thread::sleep(Duration::from_millis(1500));
    sink.close();
    assert!(
        !read().contains("\"a98\""),
        "accepted without a client certificate"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A receiver behind a private CA that requires a client certificate,
/// reachable only through an HTTP proxy (tinyproxy, CONNECT): NDJSON of
/// OCSF findings arrives with the sensor's User-Agent.
#[test]
fn webhook_through_a_proxy_to_a_private_ca_with_a_client_certificate() {
    let dir = scratch("proxy");
    let pki = pki(&dir, "hook");
    let port = free_port();
    let received = dir.join("received.jsonl");
    let server = format!(
        r#"
import http.server, json, ssl
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open({received:?}, "a") as out:
            out.write(json.dumps({{"ua": self.headers["User-Agent"],
                "type": self.headers["Content-Type"], "body": body.decode()}}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", {port}), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain({cert:?}, {key:?})
context.load_verify_locations({ca:?})
context.verify_mode = ssl.CERT_REQUIRED
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#,
        received = received.display().to_string(),
        cert = pki.server_cert.display().to_string(),
        key = pki.server_key.display().to_string(),
        ca = pki.ca.display().to_string(),
    );
    let _receiver = start(
        Command::new("python3")
            .arg("-c")
            .arg(server)
            .stderr(Stdio::null()),
    );
    let proxy_port = free_port();
    let proxy_log = dir.join("tinyproxy.log");
    std::fs::write(&proxy_log, "").unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    std::fs::set_permissions(
        &proxy_log,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    std::fs::write(
        dir.join("tinyproxy.conf"),
        format!(
            "Port {proxy_port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 8\nAllow 127.0.0.1\n\
             ConnectPort {port}\nLogLevel Connect\nLogFile \"{}\"\n",
            proxy_log.display()
        ),
    )
    .unwrap();
    let _proxy = start(
        Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(dir.join("tinyproxy.conf"))
            .stderr(Stdio::null()),
    );
    wait_until("the receiver and the proxy listening", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && std::net::TcpStream::connect(("127.0.0.1", proxy_port)).is_ok()
    });

    let mut settings = webhook_settings(
        format!("https://127.0.0.1:{port}/ingest"),
        WebhookFormat::Ndjson,
        dir.join("spool"),
    );
    settings.schema = RecordFormat::Ocsf;
    settings.proxy = Some(format!("http://127.0.0.1:{proxy_port}"));
    settings.tls = Some(Arc::clone(
        &client_config(TlsFiles {
            ca_file: Some(&pki.ca),
            client_cert_file: Some(&pki.client_cert),
            client_key_file: Some(&pki.client_key),
        })
        .unwrap(),
    ));
    let sink = webhook_sink(settings);
    for n in 0..12 {
        sink.offer(&alert(n));
    }
    let requests = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&received)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let findings = |requests: &[serde_json::Value]| -> Vec<serde_json::Value> {
        requests
            .iter()
            .flat_map(|r| {
                r["body"]
                    .as_str()
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect::<Vec<serde_json::Value>>()
            })
            .collect()
    };
    wait_until("12 findings at the receiver", || {
        findings(&requests()).len() >= 12
    });
    let snapshot = sink.close();
    assert_eq!((snapshot.delivered, snapshot.dropped), (12, 0));
    let requests = requests();
    for request in &requests {
        assert_eq!(request["ua"], USER_AGENT);
        assert_eq!(request["type"], "application/x-ndjson");
    }
    let findings = findings(&requests);
    assert!(findings.iter().all(|f| f["class_uid"] == 2004));
    let mut ids: Vec<&str> = findings
        .iter()
        .map(|f| f["metadata"]["uid"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 12);
    // It went through the proxy, as a tunnel.
    let log = std::fs::read_to_string(&proxy_log).unwrap();
    assert!(log.contains("CONNECT"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The User-Agent names the sensor and its version (not ureq's).
#[test]
fn requests_name_the_sensor_as_their_user_agent() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = scratch("agent");
    let sink = webhook_sink(webhook_settings(
        format!("http://127.0.0.1:{port}/"),
        WebhookFormat::Json,
        dir.join("spool"),
    ));
    sink.offer(&alert(0));
    let (stream, _) = listener.accept().unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push(line.trim_end().to_owned());
    }
    let _ = reader
        .get_mut()
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    sink.close();
    assert!(
        head.iter()
            .any(|h| h.eq_ignore_ascii_case(&format!("user-agent: {USER_AGENT}"))),
        "{head:?}"
    );
    assert!(USER_AGENT.starts_with("sensor/"));
    let _ = std::fs::remove_dir_all(&dir);
}
