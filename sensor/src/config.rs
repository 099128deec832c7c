//! The sensor's configuration: one TOML file, every field optional with a
//! default that works, validated before anything starts.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::analysis::detect::config::{AllowConfig, CustomRuleConfig, DetectConfig};

mod lines;

use lines::{key_at, line_of};

/// Top level of `sensor.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub capture: CaptureConfig,
    pub limits: LimitsConfig,
    pub output: OutputConfig,
    pub metrics: MetricsConfig,
    pub sinks: crate::sink::config::SinksConfig,
    /// Content detectors: rules, severities, allowlists, custom rules.
    pub detect: DetectConfig,
    /// Deduplication, rate limits and the alerts file's minimum severity.
    pub alerts: crate::alert::config::AlertsConfig,
    /// Behavioural detectors: rate spikes, bulk responses, enumeration,
    /// brute force, error surges, unauthenticated access.
    pub behaviour: crate::analysis::behaviour::config::BehaviourConfig,
    /// Who is calling: where the principal (JWT subject, Basic user, API
    /// key, session cookie) of a request is read, per host.
    pub principal: crate::analysis::principal::config::PrincipalConfig,
    /// The catalogue of endpoints seen, and shadow/zombie API detection
    /// against a reference OpenAPI spec.
    pub inventory: crate::analysis::inventory::config::InventoryConfig,
    /// Credentials followed across exchanges: new clients, sharing,
    /// expired, revoked and handed-over tokens.
    pub credentials: crate::analysis::credentials::config::CredentialsConfig,
    /// Plaintext HTTP between hosts carrying credentials or sensitive data.
    pub transport: crate::analysis::transport::config::TransportConfig,
    /// Pod names for containerised processes, from the API server.
    pub kubernetes: crate::conntrack::kubernetes::config::KubernetesConfig,
    /// Protobuf descriptor sets naming the fields of gRPC messages.
    pub grpc: crate::analysis::detect::grpc_schema::config::GrpcConfig,
}

/// What the kernel side captures.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Bytes copied per read/write syscall; the rest is counted as missed.
    /// At most 262144.
    pub capture_limit_bytes: u32,
    /// Size of the kernel-to-agent ring buffer: a power of two, at least
    /// 65536 bytes.
    pub ring_buffer_bytes: u32,
    /// Only capture these process ids (empty: every process).
    pub pids: Vec<u32>,
    /// Only capture processes with these names (empty: every process).
    /// Names are matched on their first 15 bytes, as the kernel keeps them.
    pub process_names: Vec<String>,
    /// Only keep connections with one of these local or remote ports
    /// (empty: every port).
    pub ports: Vec<u16>,
    /// HTTPS plaintext from TLS libraries (`[capture.tls]`).
    pub tls: crate::capture::tls::config::TlsConfig,
    /// Which kernel hooks capture: `auto` (socket-layer tracepoints when
    /// the kernel has them, Linux 6.3 and later, else syscall
    /// tracepoints), `socket` or `syscalls`.
    pub mode: crate::capture::config::CaptureMode,
    /// One view of each exchange between two processes of this host that
    /// are both captured: analysed once, one record and one set of alerts
    /// naming both processes. `false`: each end's view on its own.
    pub pair_local_ends: bool,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            capture_limit_bytes: sensor_common::DEFAULT_CAPTURE_LIMIT,
            ring_buffer_bytes: sensor_common::DEFAULT_RING_BYTES,
            pids: Vec::new(),
            process_names: Vec::new(),
            ports: Vec::new(),
            tls: crate::capture::tls::config::TlsConfig::default(),
            mode: crate::capture::config::CaptureMode::Auto,
            pair_local_ends: true,
        }
    }
}

/// Bounds on everything a peer controls.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request or response head (start line plus headers).
    pub max_header_bytes: usize,
    /// Body bytes kept per message for inspection; the rest is counted.
    pub max_body_kept_bytes: usize,
    /// Largest decoded (gzip, deflate, br) body kept for inspection.
    pub max_decoded_bytes: usize,
    /// Requests waiting for their response on one connection.
    pub max_pending_requests: usize,
    /// HTTP/2 streams followed at once on one connection; when another
    /// opens, the oldest is dropped (and counted).
    pub max_streams_per_connection: usize,
    /// Bytes buffered per direction of one connection while a message is
    /// incomplete.
    pub max_buffered_bytes_per_direction: usize,
    /// Connections tracked at once; past it the least recently active is
    /// dropped (and counted).
    pub max_connections: usize,
    /// A connection idle this long is closed and forgotten.
    pub idle_timeout_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_header_bytes: 64 * 1024,
            max_body_kept_bytes: 256 * 1024,
            max_decoded_bytes: 1024 * 1024,
            max_pending_requests: 64,
            max_streams_per_connection: 256,
            max_buffered_bytes_per_direction: 128 * 1024,
            max_connections: 8192,
            idle_timeout_secs: 300,
        }
    }
}

/// Where results go. Command-line flags override these.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Alerts, one JSON object per line; `-` is stdout.
    pub alerts: PathBuf,
    /// Every HTTP exchange (metadata only), one JSON object per line;
    /// unset: not written.
    pub exchanges: Option<PathBuf>,
    /// Output files rotate once they would grow past this (0: never).
    pub rotate_bytes: u64,
    /// Rotated files kept (`alerts.jsonl.1` ... `.N`).
    pub keep_files: usize,
    /// Rotated files last written more than this many days ago are
    /// deleted, whatever `keep_files` allows (0: kept by count only).
    pub keep_days: u64,
    /// Where the sensor keeps state across restarts (sink spools).
    pub state_dir: PathBuf,
    /// `native` (the sensor's own records, `schema/*.schema.json`) or
    /// `ocsf` (alerts as OCSF Detection Findings, exchange records as OCSF
    /// HTTP Activity) for the alerts and exchanges files.
    pub format: RecordFormat,
}

/// The schema records are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordFormat {
    /// The sensor's own JSON, described by `schema/alert.schema.json` and
    /// `schema/exchange.schema.json`.
    #[default]
    Native,
    /// OCSF 1.5.0: Detection Finding (2004) and HTTP Activity (4002).
    Ocsf,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            alerts: PathBuf::from("alerts.jsonl"),
            exchanges: None,
            rotate_bytes: 100 * 1024 * 1024,
            keep_files: 5,
            keep_days: 0,
            state_dir: PathBuf::from("/var/lib/sensor"),
            format: RecordFormat::Native,
        }
    }
}

/// Prometheus metrics and health endpoints.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// `ip:port` to listen on.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:9464".to_owned(),
        }
    }
}

/// A value that cannot work: every section's validation error has this
/// shape. `line` is the line of the file that sets the key, when the
/// config came from a file that sets it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "config key `{key}`{}: {message}",
    .line.map(|n| format!(" (line {n})")).unwrap_or_default()
)]
pub struct InvalidKey {
    /// The full key: `limits.max_connections`, `sinks.webhook[0].url`.
    pub key: String,
    pub message: String,
    pub line: Option<usize>,
}

impl InvalidKey {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
            line: None,
        }
    }

    /// With the line of `text` that sets the key, if one does.
    pub fn located_in(mut self, text: &str) -> Self {
        self.line = line_of(text, &self.key);
        self
    }
}

/// Why `Config::load` refused a file. Text that is not TOML is a `Parse`
/// error; a value the schema refuses (an unknown key, a severity that is
/// none, a string where a number goes) is the `InvalidKey` that
/// `validate` would give, naming the key and its line.
fn refused(path: &Path, text: &str, err: toml::de::Error) -> ConfigError {
    // A parser's error may quote the line: never an `inventory.store`
    // password.
    let redact = crate::analysis::inventory::config::redact_store_passwords;
    let is_toml = text.parse::<toml::Table>().is_ok();
    match err
        .span()
        .filter(|_| is_toml)
        .and_then(|span| key_at(text, span.start))
    {
        Some((key, line)) => ConfigError::Invalid(InvalidKey {
            key,
            message: redact(err.message().trim()),
            line: Some(line),
        }),
        None => ConfigError::Parse {
            path: path.to_owned(),
            message: redact(&err.to_string()),
        },
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(transparent)]
    Invalid(#[from] InvalidKey),
    #[error(transparent)]
    Rules(#[from] crate::analysis::detect::config::RuleError),
}

/// Largest `limits.max_header_bytes`: 1 MiB.
pub const MAX_HEADER_BYTES: usize = 1 << 20;
/// Largest `limits.max_body_kept_bytes`: 16 MiB.
pub const MAX_BODY_KEPT_BYTES: usize = 16 << 20;
/// Largest `limits.max_decoded_bytes` and `detect.max_inspect_bytes`: 64 MiB.
pub const MAX_DECODED_BYTES: usize = 64 << 20;
/// Largest `limits.max_buffered_bytes_per_direction`: 16 MiB.
pub const MAX_BUFFERED_BYTES: usize = 16 << 20;
/// Largest `capture.ring_buffer_bytes`: 1 GiB.
pub const MAX_RING_BYTES: usize = 1 << 30;

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|err| refused(path, &text, err))?;
        config.validate().map_err(|err| match err {
            ConfigError::Invalid(invalid) => ConfigError::Invalid(invalid.located_in(&text)),
            other => other,
        })?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| Err(InvalidKey::new(key, message).into());
        let c = &self.capture;
        if c.capture_limit_bytes == 0 || c.capture_limit_bytes > sensor_common::MAX_CAPTURE_LIMIT {
            return invalid(
                "capture.capture_limit_bytes",
                "must be between 1 and 262144",
            );
        }
        if !c.ring_buffer_bytes.is_power_of_two() || c.ring_buffer_bytes < 65536 {
            return invalid(
                "capture.ring_buffer_bytes",
                "must be a power of two of at least 65536",
            );
        }
        if c.process_names.iter().any(|n| n.is_empty()) {
            return invalid("capture.process_names", "names must not be empty");
        }
        c.tls.validate()?;
        self.sinks.validate()?;
        self.alerts.validate()?;
        self.behaviour.validate()?;
        self.principal.validate()?;
        self.inventory.validate()?;
        self.credentials.validate()?;
        self.transport.validate()?;
        self.kubernetes.validate()?;
        self.detect.validate()?;
        self.grpc.validate()?;
        if self.metrics.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid("metrics.listen", "must be an ip:port address");
        }
        let l = &self.limits;
        for (key, value) in [
            ("limits.max_header_bytes", l.max_header_bytes),
            ("limits.max_pending_requests", l.max_pending_requests),
            (
                "limits.max_streams_per_connection",
                l.max_streams_per_connection,
            ),
            (
                "limits.max_buffered_bytes_per_direction",
                l.max_buffered_bytes_per_direction,
            ),
            ("limits.max_connections", l.max_connections),
        ] {
            if value == 0 {
                return invalid(key, "must be greater than 0");
            }
        }
        if l.max_buffered_bytes_per_direction < l.max_header_bytes {
            return invalid(
                "limits.max_buffered_bytes_per_direction",
                "must be at least limits.max_header_bytes, or no head of that size could be parsed",
            );
        }
        if l.idle_timeout_secs == 0 {
            return invalid("limits.idle_timeout_secs", "must be greater than 0");
        }
        // Every size has a maximum (documented in sensor.example.toml): a
        // typo must not let one connection or one body take the host's memory.
        for (key, value, max) in [
            (
                "limits.max_header_bytes",
                l.max_header_bytes,
                MAX_HEADER_BYTES,
            ),
            (
                "limits.max_body_kept_bytes",
                l.max_body_kept_bytes,
                MAX_BODY_KEPT_BYTES,
            ),
            (
                "limits.max_decoded_bytes",
                l.max_decoded_bytes,
                MAX_DECODED_BYTES,
            ),
            ("limits.max_pending_requests", l.max_pending_requests, 1024),
            (
                "limits.max_buffered_bytes_per_direction",
                l.max_buffered_bytes_per_direction,
                MAX_BUFFERED_BYTES,
            ),
            ("limits.max_connections", l.max_connections, 1_000_000),
            (
                "detect.max_inspect_bytes",
                self.detect.max_inspect_bytes,
                MAX_DECODED_BYTES,
            ),
            (
                "capture.ring_buffer_bytes",
                self.capture.ring_buffer_bytes as usize,
                MAX_RING_BYTES,
            ),
        ] {
            if value > max {
                return invalid(key, &format!("must be at most {max}, found {value}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;

    #[test]
    fn empty_file_gives_defaults() {
        let config: Config = toml::from_str("").unwrap();
        assert_eq!(config, Config::default());
        config.validate().unwrap();
    }

    #[test]
    fn shipped_example_parses() {
        let text = include_str!("../../sensor.example.toml");
        let config: Config = toml::from_str(text).unwrap();
        config.validate().unwrap();
        // The example documents the defaults: it must not drift from them.
        assert_eq!(config, Config::default());
    }

    #[test]
    fn tls_section_is_checked_like_the_rest() {
        let err = toml::from_str::<Config>("[capture.tls]\nenable = false\n").unwrap_err();
        assert!(err.to_string().contains("enable"), "{err}");
        let config: Config = toml::from_str("[capture.tls]\nenabled = false\n").unwrap();
        assert!(!config.capture.tls.enabled);
        let config: Config = toml::from_str("[capture.tls]\nexclude = [\"\"]\n").unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("capture.tls.exclude"), "{err}");
    }

    #[test]
    fn invalid_keys_are_found_on_their_line() {
        let text = "# sensor\n[capture]\nring_buffer_bytes = 1000\n\n[[sinks.webhook]]\nurl = \"https://a\"\n[[sinks.webhook]]\nurl = \"ftp://b\"\nheaders_from_file = { Authorization = \"/x\" }\n";
        for (key, line) in [
            ("capture.ring_buffer_bytes", Some(3)),
            ("sinks.webhook[0].url", Some(6)),
            ("sinks.webhook[1].url", Some(8)),
            ("sinks.webhook[1].headers_from_file.Authorization", Some(9)),
            ("limits.max_connections", None),
        ] {
            assert_eq!(line_of(text, key), line, "{key}");
        }
        let err =
            InvalidKey::new("capture.ring_buffer_bytes", "must be a power of two").located_in(text);
        assert_eq!(
            err.to_string(),
            "config key `capture.ring_buffer_bytes` (line 3): must be a power of two"
        );
    }

    #[test]
    fn output_format_is_native_or_ocsf() {
        let config: Config = toml::from_str("[output]\nformat = \"ocsf\"\n").unwrap();
        assert_eq!(config.output.format, RecordFormat::Ocsf);
        let err = toml::from_str::<Config>("[output]\nformat = \"ecs\"\n").unwrap_err();
        assert!(err.to_string().contains("native"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = toml::from_str::<Config>("[capture]\ncapture_limt_bytes = 5\n").unwrap_err();
        assert!(err.to_string().contains("capture_limt_bytes"), "{err}");
        let config: Config = toml::from_str("[capture]\nring_buffer_bytes = 1000\n").unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("capture.ring_buffer_bytes"), "{err}");
    }

    /// Writes `text` as a config file and loads it, as `run` and
    /// `check-config` do.
    fn load_text(name: &str, text: &str) -> Result<Config, ConfigError> {
        static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sensor-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}-{n}.toml"));
        std::fs::write(&path, text).unwrap();
        let loaded = Config::load(&path);
        std::fs::remove_file(&path).unwrap();
        loaded
    }

    fn invalid_key(loaded: Result<Config, ConfigError>) -> InvalidKey {
        match loaded {
            Err(ConfigError::Invalid(invalid)) => invalid,
            other => panic!("not an invalid key: {other:?}"),
        }
    }

    #[test]
    fn an_unknown_severity_is_an_invalid_key_on_its_line() {
        let text = "# sensor\n[alerts]\ndedup_window_secs = 60\nmin_severity = \"urgent\"\n";
        let err = invalid_key(load_text("urgent", text));
        assert_eq!(err.key, "alerts.min_severity");
        assert_eq!(err.line, Some(4));
        assert_eq!(
            err.to_string(),
            "config key `alerts.min_severity` (line 4): `urgent` is not a severity: must be low, medium, high or critical"
        );
    }

    #[test]
    fn every_severity_key_is_typed() {
        type Read = fn(&Config) -> Option<Severity>;
        let cases: [(&str, &str, usize, Read); 6] = [
            (
                "[alerts]\nmin_severity = \"{}\"\n",
                "alerts.min_severity",
                2,
                |c| Some(c.alerts.min_severity),
            ),
            (
                "[[sinks.webhook]]\nurl = \"http://a\"\n[[sinks.webhook]]\nurl = \"http://b\"\nmin_severity = \"{}\"\n",
                "sinks.webhook[1].min_severity",
                5,
                |c| c.sinks.webhook.get(1).map(|s| s.min_severity),
            ),
            (
                "[[sinks.syslog]]\ntransport = \"udp\"\naddress = \"127.0.0.1:514\"\nmin_severity = \"{}\"\n",
                "sinks.syslog[0].min_severity",
                4,
                |c| c.sinks.syslog.first().map(|s| s.min_severity),
            ),
            (
                "[[sinks.alertmanager]]\nurl = \"http://am:9093\"\nmin_severity = \"{}\"\n",
                "sinks.alertmanager[0].min_severity",
                3,
                |c| c.sinks.alertmanager.first().map(|s| s.min_severity),
            ),
            (
                "[detect.severity]\n\"pii.email\" = \"{}\"\n",
                "detect.severity.pii.email",
                2,
                |c| c.detect.severity.get("pii.email").copied(),
            ),
            (
                "[[detect.rules]]\nid = \"custom.x\"\ncategory = \"secret\"\nseverity = \"{}\"\ndescription = \"x\"\nregex = \"x\"\n",
                "detect.rules[0].severity",
                4,
                |c| c.detect.rules.first().map(|r| r.severity),
            ),
        ];
        for (template, key, line, read) in cases {
            // Spelt as alerts spell it, in any case, as when these were
            // strings.
            for name in ["high", "HIGH"] {
                let config = load_text("high", &template.replace("{}", name))
                    .unwrap_or_else(|e| panic!("{key}: {e}"));
                assert_eq!(read(&config), Some(Severity::High), "{key}");
            }
            let err = invalid_key(load_text("urgent", &template.replace("{}", "urgent")));
            assert_eq!((err.key.as_str(), err.line), (key, Some(line)), "{err}");
            assert!(err.message.contains("`urgent` is not a severity"), "{err}");
        }
    }

    #[test]
    fn schema_errors_name_the_key_and_syntax_errors_the_file() {
        let err = invalid_key(load_text("typo", "[capture]\n\ncapture_limt_bytes = 5\n"));
        assert_eq!(err.key, "capture.capture_limt_bytes");
        assert_eq!(err.line, Some(3));
        assert!(err.message.contains("unknown field"), "{err}");
        let err = invalid_key(load_text(
            "type",
            "[capture]\npids = [\n  1,\n  \"x\",\n]\n",
        ));
        assert_eq!(
            (err.key.as_str(), err.line),
            ("capture.pids", Some(4)),
            "{err}"
        );
        match load_text("syntax", "[capture\npids = 1\n") {
            Err(ConfigError::Parse { message, .. }) => {
                assert!(message.contains("line 1"), "{message}")
            }
            other => panic!("not a parse error: {other:?}"),
        }
        // Neither shape quotes an `inventory.store` password.
        for text in [
            "[inventory]\nstore = \"mysql://sensor:s3cret@db/fleet\"\n",
            "[inventory]\nstore = \"postgres://sensor:s3cret@db/fleet\n",
        ] {
            let err = load_text("store", text).unwrap_err().to_string();
            assert!(err.contains("line 2") && !err.contains("s3cret"), "{err}");
        }
    }
}
