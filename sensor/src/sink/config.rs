//! `[[sinks.webhook]]`, `[[sinks.syslog]]` and `[[sinks.alertmanager]]`:
//! remote alert destinations, several at once, each with its own filter. Validated at start-up like
//! the rest of the config: a header file that cannot be read or an
//! environment variable that is not set is an error naming the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::syslog::{SyslogSettings, SyslogTransport};
use super::tls::{client_config, TlsFiles};
use super::webhook::{WebhookFormat, WebhookSettings};
use super::worker::{SinkFilter, SinkHandle};
use crate::config::RecordFormat;
use crate::finding::Severity;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SinksConfig {
    pub webhook: Vec<WebhookSinkConfig>,
    pub syslog: Vec<SyslogSinkConfig>,
    pub alertmanager: Vec<AlertmanagerSinkConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookSinkConfig {
    /// Names the sink in logs and metrics [default: webhook-N].
    pub name: Option<String>,
    /// `https://...` (certificates verified) or `http://...`.
    pub url: String,
    /// `json` (an array of alerts), `ndjson` (one per line), `splunk_hec`
    /// (HTTP Event Collector events), `elasticsearch_bulk` (a `_bulk`
    /// request) or `slack` (`{"text": ...}`).
    #[serde(default = "default_format")]
    pub format: String,
    /// `native` or `ocsf`: the schema of each alert in the body (not for
    /// `slack`).
    #[serde(default)]
    pub schema: RecordFormat,
    /// PEM file of the CA to trust for an `https` URL instead of the
    /// Mozilla roots (a receiver behind a private CA).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (chain) for a receiver that asks for one.
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of `client_cert_file`.
    pub client_key_file: Option<PathBuf>,
    /// `http://host:port` of an HTTP proxy to go through.
    pub proxy: Option<String>,
    /// Lowest severity sent: low, medium, high or critical.
    #[serde(default = "default_severity")]
    pub min_severity: Severity,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Header name to the environment variable holding its value.
    #[serde(default)]
    pub headers_from_env: BTreeMap<String, String>,
    /// Header name to a file holding its value (trailing newline dropped).
    #[serde(default)]
    pub headers_from_file: BTreeMap<String, PathBuf>,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    #[serde(default = "default_batch_max")]
    pub batch_max: usize,
    #[serde(default = "default_batch_wait_ms")]
    pub batch_wait_ms: u64,
    /// [default: `<output.state_dir>/spool/<name>`]
    pub spool_dir: Option<PathBuf>,
    #[serde(default = "default_spool_max_bytes")]
    pub spool_max_bytes: u64,
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    #[serde(default = "default_retry_max_secs")]
    pub retry_max_secs: u64,
}

/// Prometheus Alertmanager: alerts POSTed to `<url>/api/v2/alerts`, with
/// the webhook's delivery (batches, spool, retries, counters).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSinkConfig {
    /// Names the sink in logs and metrics [default: alertmanager-N].
    pub name: Option<String>,
    /// Alertmanager's base URL (`http://alertmanager:9093`).
    pub url: String,
    /// Lowest severity sent: low, medium, high or critical.
    #[serde(default = "default_severity")]
    pub min_severity: Severity,
    #[serde(default)]
    pub categories: Vec<String>,
    /// Seconds after an alert's last occurrence Alertmanager resolves it
    /// (`endsAt`); a repeat extends it.
    #[serde(default = "default_resolve_after_secs")]
    pub resolve_after_secs: u64,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub headers_from_env: BTreeMap<String, String>,
    #[serde(default)]
    pub headers_from_file: BTreeMap<String, PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    pub proxy: Option<String>,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    #[serde(default = "default_batch_max")]
    pub batch_max: usize,
    #[serde(default = "default_batch_wait_ms")]
    pub batch_wait_ms: u64,
    /// [default: `<output.state_dir>/spool/<name>`]
    pub spool_dir: Option<PathBuf>,
    #[serde(default = "default_spool_max_bytes")]
    pub spool_max_bytes: u64,
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    #[serde(default = "default_retry_max_secs")]
    pub retry_max_secs: u64,
}

impl AlertmanagerSinkConfig {
    /// The webhook this sink is: its API endpoint, and the same delivery.
    fn as_webhook(&self) -> WebhookSinkConfig {
        WebhookSinkConfig {
            name: self.name.clone(),
            url: format!("{}/api/v2/alerts", self.url.trim_end_matches('/')),
            format: default_format(),
            schema: RecordFormat::Native,
            ca_file: self.ca_file.clone(),
            client_cert_file: self.client_cert_file.clone(),
            client_key_file: self.client_key_file.clone(),
            proxy: self.proxy.clone(),
            min_severity: self.min_severity,
            categories: self.categories.clone(),
            headers: self.headers.clone(),
            headers_from_env: self.headers_from_env.clone(),
            headers_from_file: self.headers_from_file.clone(),
            timeout_secs: self.timeout_secs,
            batch_max: self.batch_max,
            batch_wait_ms: self.batch_wait_ms,
            spool_dir: self.spool_dir.clone(),
            spool_max_bytes: self.spool_max_bytes,
            queue_capacity: self.queue_capacity,
            retry_max_secs: self.retry_max_secs,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyslogSinkConfig {
    pub name: Option<String>,
    /// `udp`, `tcp`, `tls` (RFC 5425) or `unix`.
    pub transport: String,
    /// `host:port`, or a socket path for `unix` (for example `/dev/log`).
    pub address: String,
    /// `native` or `ocsf`: the schema of the alert JSON in each message.
    #[serde(default)]
    pub schema: RecordFormat,
    /// `tls`: PEM file of the CA to trust instead of the Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// `tls`: PEM client certificate for a receiver that asks for one.
    pub client_cert_file: Option<PathBuf>,
    /// `tls`: PEM private key of `client_cert_file`.
    pub client_key_file: Option<PathBuf>,
    /// `local0` ... `local7`, `user`, `daemon`, `auth`, `security`.
    #[serde(default = "default_facility")]
    pub facility: String,
    /// Lowest severity sent: low, medium, high or critical.
    #[serde(default = "default_severity")]
    pub min_severity: Severity,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
}

fn default_format() -> String {
    "json".into()
}
fn default_severity() -> Severity {
    Severity::Low
}
fn default_timeout_secs() -> u64 {
    10
}
fn default_batch_max() -> usize {
    100
}
fn default_batch_wait_ms() -> u64 {
    1000
}
fn default_spool_max_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_queue_capacity() -> usize {
    10_000
}
fn default_retry_max_secs() -> u64 {
    60
}
fn default_resolve_after_secs() -> u64 {
    300
}
fn default_facility() -> String {
    "local0".into()
}

// Every size and time a sink takes has a maximum, so a typo cannot ask
// for unbounded memory or disk (the README lists them).
const MAX_QUEUE: u64 = 1_000_000;
const MAX_BATCH: u64 = 10_000;
const MAX_BATCH_WAIT_MS: u64 = 60_000;
const MAX_SPOOL_BYTES: u64 = 16 << 30;
const MAX_TIMEOUT_SECS: u64 = 300;
const MAX_RETRY_SECS: u64 = 3_600;
const MAX_RESOLVE_AFTER_SECS: u64 = 7 * 24 * 3_600;

fn within(key: String, value: u64, min: u64, max: u64) -> Result<(), SinkConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(error(key, format!("must be between {min} and {max}")))
    }
}

/// A sink config that cannot work, with the key that says why.
pub type SinkConfigError = crate::config::InvalidKey;

fn error(key: String, message: impl Into<String>) -> SinkConfigError {
    SinkConfigError::new(key, message)
}

impl SinksConfig {
    /// Everything `start` would find wrong, found now.
    pub fn validate(&self) -> Result<(), SinkConfigError> {
        for (i, sink) in self.webhook.iter().enumerate() {
            let format = WebhookFormat::from_name(&sink.format).ok_or_else(|| {
                error(
                    format!("sinks.webhook[{i}].format"),
                    "must be json, ndjson, splunk_hec, elasticsearch_bulk or slack",
                )
            })?;
            if sink.schema == RecordFormat::Ocsf && !format.carries_records() {
                return Err(error(
                    format!("sinks.webhook[{i}].schema"),
                    "ocsf needs a format that carries records (json, ndjson, splunk_hec, elasticsearch_bulk)",
                ));
            }
            validate_http(sink, &format!("sinks.webhook[{i}]"))?;
        }
        for (i, sink) in self.alertmanager.iter().enumerate() {
            validate_http(&sink.as_webhook(), &format!("sinks.alertmanager[{i}]"))?;
            within(
                format!("sinks.alertmanager[{i}].resolve_after_secs"),
                sink.resolve_after_secs,
                1,
                MAX_RESOLVE_AFTER_SECS,
            )?;
        }
        for (i, sink) in self.syslog.iter().enumerate() {
            let key = |k: &str| format!("sinks.syslog[{i}].{k}");
            syslog_transport(sink, &format!("sinks.syslog[{i}]"))?;
            facility_number(&sink.facility)
                .ok_or_else(|| error(key("facility"), "unknown facility"))?;
            within(
                key("queue_capacity"),
                sink.queue_capacity as u64,
                1,
                MAX_QUEUE,
            )?;
        }
        Ok(())
    }

    /// Starts every configured sink on its own thread.
    pub fn start(&self, state_dir: &Path) -> Result<Vec<SinkHandle>, SinkConfigError> {
        self.validate()?;
        let mut sinks = Vec::new();
        let webhooks = self.webhook.iter().enumerate().map(|(i, sink)| {
            let format = WebhookFormat::from_name(&sink.format).expect("validated");
            (
                format!("sinks.webhook[{i}]"),
                format!("webhook-{i}"),
                sink.clone(),
                format,
                0,
            )
        });
        let alertmanagers = self.alertmanager.iter().enumerate().map(|(i, sink)| {
            (
                format!("sinks.alertmanager[{i}]"),
                format!("alertmanager-{i}"),
                sink.as_webhook(),
                WebhookFormat::Alertmanager,
                sink.resolve_after_secs,
            )
        });
        for (key, default_name, sink, format, resolve_after_secs) in webhooks.chain(alertmanagers) {
            let name = sink.name.clone().unwrap_or(default_name);
            let settings = WebhookSettings {
                url: sink.url.clone(),
                headers: resolve_headers(&sink, &key)?,
                format,
                schema: sink.schema,
                resolve_after_secs,
                tls: tls_of(&sink, &key)?,
                proxy: sink.proxy.clone(),
                timeout: Duration::from_secs(sink.timeout_secs),
                batch_max: sink.batch_max,
                batch_wait: Duration::from_millis(sink.batch_wait_ms),
                spool_dir: sink
                    .spool_dir
                    .clone()
                    .unwrap_or_else(|| state_dir.join("spool").join(&name)),
                spool_max_bytes: sink.spool_max_bytes,
                retry_initial: Duration::from_millis(500),
                retry_max: Duration::from_secs(sink.retry_max_secs.max(1)),
                drain_timeout: Duration::from_secs(5),
            };
            let filter = filter(sink.min_severity, &sink.categories);
            let handle = SinkHandle::spawn(name, filter, sink.queue_capacity, move |queue| {
                super::webhook::run(settings, queue)
            })
            .map_err(|e| error(key, e.to_string()))?;
            sinks.push(handle);
        }
        for (i, sink) in self.syslog.iter().enumerate() {
            let name = sink.name.clone().unwrap_or_else(|| format!("syslog-{i}"));
            let settings = SyslogSettings {
                transport: syslog_transport(sink, &format!("sinks.syslog[{i}]"))?,
                facility: facility_number(&sink.facility).expect("validated"),
                schema: sink.schema,
                hostname: hostname(),
                retry_initial: Duration::from_millis(200),
                retry_max: Duration::from_secs(30),
                drain_timeout: Duration::from_secs(5),
            };
            let filter = filter(sink.min_severity, &sink.categories);
            let handle = SinkHandle::spawn(name, filter, sink.queue_capacity, move |queue| {
                super::syslog::run(settings, queue)
            })
            .map_err(|e| error(format!("sinks.syslog[{i}]"), e.to_string()))?;
            sinks.push(handle);
        }
        Ok(sinks)
    }
}

fn filter(min_severity: Severity, categories: &[String]) -> SinkFilter {
    SinkFilter {
        min_severity,
        categories: categories.to_vec(),
    }
}

/// What every HTTP sink checks: URL, filter, sizes, headers, TLS files,
/// proxy. `at` is the sink's key (`sinks.webhook[0]`).
fn validate_http(sink: &WebhookSinkConfig, at: &str) -> Result<(), SinkConfigError> {
    let key = |k: &str| format!("{at}.{k}");
    if !(sink.url.starts_with("https://") || sink.url.starts_with("http://")) {
        return Err(error(key("url"), "must start with https:// or http://"));
    }
    within(key("timeout_secs"), sink.timeout_secs, 1, MAX_TIMEOUT_SECS)?;
    within(key("batch_max"), sink.batch_max as u64, 1, MAX_BATCH)?;
    within(
        key("batch_wait_ms"),
        sink.batch_wait_ms,
        0,
        MAX_BATCH_WAIT_MS,
    )?;
    within(
        key("spool_max_bytes"),
        sink.spool_max_bytes,
        0,
        MAX_SPOOL_BYTES,
    )?;
    within(
        key("queue_capacity"),
        sink.queue_capacity as u64,
        1,
        MAX_QUEUE,
    )?;
    within(
        key("retry_max_secs"),
        sink.retry_max_secs,
        1,
        MAX_RETRY_SECS,
    )?;
    resolve_headers(sink, at)?;
    tls_of(sink, at)?;
    if let Some(proxy) = &sink.proxy {
        if !proxy.starts_with("http://") {
            return Err(error(key("proxy"), "must be an http://host:port proxy URL"));
        }
        ureq::Proxy::new(proxy).map_err(|e| error(key("proxy"), e.to_string()))?;
    }
    Ok(())
}

/// The sink's own TLS configuration, when it sets any TLS file.
fn tls_of(
    sink: &WebhookSinkConfig,
    at: &str,
) -> Result<Option<std::sync::Arc<rustls::ClientConfig>>, SinkConfigError> {
    let files = TlsFiles {
        ca_file: sink.ca_file.as_deref(),
        client_cert_file: sink.client_cert_file.as_deref(),
        client_key_file: sink.client_key_file.as_deref(),
    };
    if files.ca_file.is_none()
        && files.client_cert_file.is_none()
        && files.client_key_file.is_none()
    {
        return Ok(None);
    }
    client_config(files)
        .map(Some)
        .map_err(|(k, message)| error(format!("{at}.{k}"), message))
}

fn syslog_transport(sink: &SyslogSinkConfig, at: &str) -> Result<SyslogTransport, SinkConfigError> {
    let address = &sink.address;
    let socket_address = || {
        use std::net::ToSocketAddrs as _;
        address
            .to_socket_addrs()
            .map(|_| address.to_owned())
            .map_err(|e| {
                error(
                    format!("{at}.address"),
                    format!("`{address}` is not a host:port address ({e})"),
                )
            })
    };
    let tls_files = TlsFiles {
        ca_file: sink.ca_file.as_deref(),
        client_cert_file: sink.client_cert_file.as_deref(),
        client_key_file: sink.client_key_file.as_deref(),
    };
    let has_tls_files = tls_files.ca_file.is_some()
        || tls_files.client_cert_file.is_some()
        || tls_files.client_key_file.is_some();
    if has_tls_files && sink.transport != "tls" {
        return Err(error(
            format!("{at}.transport"),
            "ca_file and the client certificate need transport = \"tls\"",
        ));
    }
    match sink.transport.as_str() {
        "udp" => socket_address().map(SyslogTransport::Udp),
        "tcp" => socket_address().map(SyslogTransport::Tcp),
        "tls" => {
            let address = socket_address()?;
            let config = client_config(tls_files)
                .map_err(|(k, message)| error(format!("{at}.{k}"), message))?;
            Ok(SyslogTransport::Tls(address, config))
        }
        "unix" => Ok(SyslogTransport::Unix(PathBuf::from(address))),
        other => Err(error(
            format!("{at}.address"),
            format!("transport `{other}` must be udp, tcp, tls or unix"),
        )),
    }
}

fn facility_number(name: &str) -> Option<u8> {
    Some(match name {
        "user" => 1,
        "daemon" => 3,
        "auth" => 4,
        "security" => 13,
        _ => {
            let n: u8 = name.strip_prefix("local")?.parse().ok()?;
            if n > 7 {
                return None;
            }
            16 + n
        }
    })
}

/// Header values from the config, the environment and files.
fn resolve_headers(
    sink: &WebhookSinkConfig,
    at: &str,
) -> Result<Vec<(String, String)>, SinkConfigError> {
    let mut headers: Vec<(String, String)> = sink
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, var) in &sink.headers_from_env {
        let value = std::env::var(var).map_err(|_| {
            error(
                format!("{at}.headers_from_env.{name}"),
                format!("environment variable {var} is not set"),
            )
        })?;
        headers.push((name.clone(), value));
    }
    for (name, path) in &sink.headers_from_file {
        let value = std::fs::read_to_string(path).map_err(|e| {
            error(
                format!("{at}.headers_from_file.{name}"),
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        headers.push((
            name.clone(),
            value.trim_end_matches(['\n', '\r']).to_owned(),
        ));
    }
    Ok(headers)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SinksConfig, String> {
        toml::from_str::<SinksConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn good_and_bad_sinks() {
        let good = parse(
            r#"
            [[webhook]]
            url = "https://hooks.example/alerts"
            format = "slack"
            min_severity = "high"
            headers = { "X-Team" = "sec" }
            [[webhook]]
            url = "https://hec.example:8088/services/collector/event"
            format = "splunk_hec"
            schema = "ocsf"
            proxy = "http://proxy.internal:3128"
            [[webhook]]
            url = "https://es.example:9200/sensor-alerts/_bulk"
            format = "elasticsearch_bulk"
            [[webhook]]
            url = "https://collector.example/ingest"
            format = "ndjson"
            [[syslog]]
            transport = "udp"
            address = "127.0.0.1:514"
            facility = "local3"
            [[syslog]]
            transport = "tls"
            address = "127.0.0.1:6514"
            schema = "ocsf"
            [[alertmanager]]
            url = "http://127.0.0.1:9093/"
            min_severity = "high"
            "#,
        )
        .unwrap();
        good.validate().unwrap();
        assert_eq!(
            good.alertmanager[0].as_webhook().url,
            "http://127.0.0.1:9093/api/v2/alerts"
        );

        let cases: &[(&str, &str)] = &[
            ("[[webhook]]\nurl = \"ftp://x\"", "sinks.webhook[0].url"),
            ("[[webhook]]\nurl = \"http://x\"\nformat = \"xml\"", "sinks.webhook[0].format"),
            (
                "[[webhook]]\nurl = \"http://x\"\nheaders_from_file = { Authorization = \"/nonexistent/token\" }",
                "sinks.webhook[0].headers_from_file.Authorization",
            ),
            (
                "[[webhook]]\nurl = \"http://x\"\nheaders_from_env = { Authorization = \"SENSOR_TEST_UNSET_VARIABLE\" }",
                "sinks.webhook[0].headers_from_env.Authorization",
            ),
            ("[[syslog]]\ntransport = \"smtp\"\naddress = \"x:1\"", "sinks.syslog[0].address"),
            ("[[syslog]]\ntransport = \"udp\"\naddress = \"nocolon\"", "sinks.syslog[0].address"),
            ("[[syslog]]\ntransport = \"udp\"\naddress = \"127.0.0.1:514\"\nfacility = \"local9\"", "sinks.syslog[0].facility"),
            ("[[webhook]]\nurl = \"http://x\"\nformat = \"slack\"\nschema = \"ocsf\"", "sinks.webhook[0].schema"),
            ("[[webhook]]\nurl = \"http://x\"\nproxy = \"socks5://p:1080\"", "sinks.webhook[0].proxy"),
            ("[[webhook]]\nurl = \"https://x\"\nca_file = \"/nonexistent/ca.pem\"", "sinks.webhook[0].ca_file"),
            ("[[webhook]]\nurl = \"https://x\"\nclient_cert_file = \"/nonexistent/c.pem\"", "sinks.webhook[0].client_key_file"),
            ("[[syslog]]\ntransport = \"tls\"\naddress = \"127.0.0.1:6514\"\nca_file = \"/nonexistent/ca.pem\"", "sinks.syslog[0].ca_file"),
            ("[[syslog]]\ntransport = \"udp\"\naddress = \"127.0.0.1:514\"\nca_file = \"/etc/hostname\"", "sinks.syslog[0].transport"),
            ("[[alertmanager]]\nurl = \"am:9093\"", "sinks.alertmanager[0].url"),
            ("[[alertmanager]]\nurl = \"http://am:9093\"\nresolve_after_secs = 0", "sinks.alertmanager[0].resolve_after_secs"),
            ("[[webhook]]\nurl = \"http://x\"\nqueue_capacity = 99999999999999", "sinks.webhook[0].queue_capacity"),
            ("[[webhook]]\nurl = \"http://x\"\nqueue_capacity = 0", "sinks.webhook[0].queue_capacity"),
            ("[[webhook]]\nurl = \"http://x\"\nspool_max_bytes = 99999999999999", "sinks.webhook[0].spool_max_bytes"),
            ("[[webhook]]\nurl = \"http://x\"\nbatch_max = 1000000", "sinks.webhook[0].batch_max"),
            ("[[webhook]]\nurl = \"http://x\"\nbatch_wait_ms = 86400000", "sinks.webhook[0].batch_wait_ms"),
            ("[[webhook]]\nurl = \"http://x\"\ntimeout_secs = 0", "sinks.webhook[0].timeout_secs"),
            ("[[webhook]]\nurl = \"http://x\"\nretry_max_secs = 86400", "sinks.webhook[0].retry_max_secs"),
            ("[[alertmanager]]\nurl = \"http://am:9093\"\nspool_max_bytes = 99999999999999", "sinks.alertmanager[0].spool_max_bytes"),
            ("[[syslog]]\ntransport = \"udp\"\naddress = \"127.0.0.1:514\"\nqueue_capacity = 99999999999", "sinks.syslog[0].queue_capacity"),
        ];
        for (text, key) in cases {
            let err = parse(text).unwrap().validate().unwrap_err();
            assert_eq!(err.key, *key, "{text}");
        }
        assert!(parse("[[webhook]]\nurl = \"http://x\"\nbogus = 1").is_err());
    }

    #[test]
    fn headers_come_from_files() {
        let dir = std::env::temp_dir().join(format!("sensor-sinkcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = dir.join("token");
        std::fs::write(&token, "Bearer abc\n").unwrap();
        let sink = WebhookSinkConfig {
            headers_from_file: BTreeMap::from([("Authorization".to_owned(), token)]),
            ..parse("[[webhook]]\nurl = \"http://x\"").unwrap().webhook[0].clone()
        };
        assert_eq!(
            resolve_headers(&sink, "sinks.webhook[0]").unwrap(),
            [("Authorization".to_owned(), "Bearer abc".to_owned())]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
