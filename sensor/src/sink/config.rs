//! `[[sinks.webhook]]` and `[[sinks.syslog]]`: remote alert destinations,
//! several at once, each with its own filter. Validated at start-up like
//! the rest of the config: a header file that cannot be read or an
//! environment variable that is not set is an error naming the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::syslog::{SyslogSettings, SyslogTransport};
use super::webhook::{WebhookFormat, WebhookSettings};
use super::worker::{SinkFilter, SinkHandle};
use crate::finding::Severity;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SinksConfig {
    pub webhook: Vec<WebhookSinkConfig>,
    pub syslog: Vec<SyslogSinkConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookSinkConfig {
    /// Names the sink in logs and metrics [default: webhook-N].
    pub name: Option<String>,
    /// `https://...` (certificates verified) or `http://...`.
    pub url: String,
    /// `json` (an array of alerts) or `slack` (`{"text": ...}`).
    #[serde(default = "default_format")]
    pub format: String,
    #[serde(default = "default_severity")]
    pub min_severity: String,
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

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyslogSinkConfig {
    pub name: Option<String>,
    /// `udp`, `tcp` or `unix`.
    pub transport: String,
    /// `host:port`, or a socket path for `unix` (for example `/dev/log`).
    pub address: String,
    /// `local0` ... `local7`, `user`, `daemon`, `auth`, `security`.
    #[serde(default = "default_facility")]
    pub facility: String,
    #[serde(default = "default_severity")]
    pub min_severity: String,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
}

fn default_format() -> String {
    "json".into()
}
fn default_severity() -> String {
    "low".into()
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
fn default_facility() -> String {
    "local0".into()
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
            let key = |k: &str| format!("sinks.webhook[{i}].{k}");
            if !(sink.url.starts_with("https://") || sink.url.starts_with("http://")) {
                return Err(error(key("url"), "must start with https:// or http://"));
            }
            webhook_format(&sink.format)
                .ok_or_else(|| error(key("format"), "must be json or slack"))?;
            sink.min_severity
                .parse::<Severity>()
                .map_err(|_| error(key("min_severity"), "must be low, medium, high or critical"))?;
            if sink.batch_max == 0 || sink.queue_capacity == 0 || sink.timeout_secs == 0 {
                return Err(error(
                    key("batch_max"),
                    "batch_max, queue_capacity and timeout_secs must be greater than 0",
                ));
            }
            resolve_headers(sink, i)?;
        }
        for (i, sink) in self.syslog.iter().enumerate() {
            let key = |k: &str| format!("sinks.syslog[{i}].{k}");
            syslog_transport(&sink.transport, &sink.address)
                .map_err(|m| error(key("address"), m))?;
            facility_number(&sink.facility)
                .ok_or_else(|| error(key("facility"), "unknown facility"))?;
            sink.min_severity
                .parse::<Severity>()
                .map_err(|_| error(key("min_severity"), "must be low, medium, high or critical"))?;
        }
        Ok(())
    }

    /// Starts every configured sink on its own thread.
    pub fn start(&self, state_dir: &Path) -> Result<Vec<SinkHandle>, SinkConfigError> {
        self.validate()?;
        let mut sinks = Vec::new();
        for (i, sink) in self.webhook.iter().enumerate() {
            let name = sink.name.clone().unwrap_or_else(|| format!("webhook-{i}"));
            let settings = WebhookSettings {
                url: sink.url.clone(),
                headers: resolve_headers(sink, i)?,
                format: webhook_format(&sink.format).expect("validated"),
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
            let filter = filter(&sink.min_severity, &sink.categories);
            let handle = SinkHandle::spawn(name, filter, sink.queue_capacity, move |queue| {
                super::webhook::run(settings, queue)
            })
            .map_err(|e| error(format!("sinks.webhook[{i}]"), e.to_string()))?;
            sinks.push(handle);
        }
        for (i, sink) in self.syslog.iter().enumerate() {
            let name = sink.name.clone().unwrap_or_else(|| format!("syslog-{i}"));
            let settings = SyslogSettings {
                transport: syslog_transport(&sink.transport, &sink.address).expect("validated"),
                facility: facility_number(&sink.facility).expect("validated"),
                hostname: hostname(),
                retry_initial: Duration::from_millis(200),
                retry_max: Duration::from_secs(30),
                drain_timeout: Duration::from_secs(5),
            };
            let filter = filter(&sink.min_severity, &sink.categories);
            let handle = SinkHandle::spawn(name, filter, sink.queue_capacity, move |queue| {
                super::syslog::run(settings, queue)
            })
            .map_err(|e| error(format!("sinks.syslog[{i}]"), e.to_string()))?;
            sinks.push(handle);
        }
        Ok(sinks)
    }
}

fn filter(min_severity: &str, categories: &[String]) -> SinkFilter {
    SinkFilter {
        min_severity: min_severity.parse().map_or(0, Severity::rank),
        categories: categories.to_vec(),
    }
}

fn webhook_format(name: &str) -> Option<WebhookFormat> {
    match name {
        "json" => Some(WebhookFormat::Json),
        "slack" => Some(WebhookFormat::Slack),
        _ => None,
    }
}

fn syslog_transport(transport: &str, address: &str) -> Result<SyslogTransport, String> {
    let socket_address = || {
        use std::net::ToSocketAddrs as _;
        address
            .to_socket_addrs()
            .map(|_| address.to_owned())
            .map_err(|e| format!("`{address}` is not a host:port address ({e})"))
    };
    match transport {
        "udp" => socket_address().map(SyslogTransport::Udp),
        "tcp" => socket_address().map(SyslogTransport::Tcp),
        "unix" => Ok(SyslogTransport::Unix(PathBuf::from(address))),
        other => Err(format!("transport `{other}` must be udp, tcp or unix")),
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
    i: usize,
) -> Result<Vec<(String, String)>, SinkConfigError> {
    let mut headers: Vec<(String, String)> = sink
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, var) in &sink.headers_from_env {
        let value = std::env::var(var).map_err(|_| {
            error(
                format!("sinks.webhook[{i}].headers_from_env.{name}"),
                format!("environment variable {var} is not set"),
            )
        })?;
        headers.push((name.clone(), value));
    }
    for (name, path) in &sink.headers_from_file {
        let value = std::fs::read_to_string(path).map_err(|e| {
            error(
                format!("sinks.webhook[{i}].headers_from_file.{name}"),
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
            [[syslog]]
            transport = "udp"
            address = "127.0.0.1:514"
            facility = "local3"
            "#,
        )
        .unwrap();
        good.validate().unwrap();

        let cases: &[(&str, &str)] = &[
            ("[[webhook]]\nurl = \"ftp://x\"", "sinks.webhook[0].url"),
            ("[[webhook]]\nurl = \"http://x\"\nformat = \"xml\"", "sinks.webhook[0].format"),
            ("[[webhook]]\nurl = \"http://x\"\nmin_severity = \"urgent\"", "sinks.webhook[0].min_severity"),
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
            resolve_headers(&sink, 0).unwrap(),
            [("Authorization".to_owned(), "Bearer abc".to_owned())]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
