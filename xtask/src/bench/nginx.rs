//! The server under load: nginx with one plain HTTP and one HTTPS listener
//! on loopback, serving a 1 KiB JSON document, with a self-signed
//! certificate made for the run.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

pub struct Nginx {
    child: Child,
}

impl Nginx {
    pub fn start(dir: &Path, port: u16, tls_port: u16, banner_port: u16) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("www"))?;
        std::fs::write(dir.join("www/data.json"), json_document(1024))?;
        certificate(dir)?;
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, conf_text(dir, port, tls_port, banner_port))?;
        let child = Command::new("nginx")
            .args([
                "-c",
                conf.to_str().context("path")?,
                "-p",
                dir.to_str().context("path")?,
            ])
            .spawn()
            .context("starting nginx")?;
        Ok(Self { child })
    }

    /// CPU seconds (user and system) nginx's master and workers used so far.
    pub fn cpu_seconds(&self) -> f64 {
        let master = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
            .unwrap_or_default();
        std::iter::once(master)
            .chain(children.split_whitespace().filter_map(|p| p.parse().ok()))
            .map(process_cpu_seconds)
            .sum()
    }

    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM, not kill(): the master then stops its workers too.
            // SAFETY: signalling a child we own that has not been reaped.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let _ = self.child.wait();
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

/// User plus system CPU seconds of process `pid` (0 when it is gone).
pub fn process_cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) as f64 / hz
}

/// cert.pem and key.pem in `dir`, for 127.0.0.1, valid one day.
fn certificate(dir: &Path) -> anyhow::Result<()> {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .context("running openssl (cargo xtask setup installs it)")?;
    if !out.status.success() {
        bail!(
            "openssl req failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn json_document(size: usize) -> String {
    let mut doc = String::from("{\"items\":[");
    let mut i = 0;
    while doc.len() < size - 64 {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(&format!(
            "{{\"id\":{i},\"name\":\"item-{i}\",\"price\":{}.99}}",
            i * 3 + 1
        ));
        i += 1;
    }
    doc.push_str("],\"page\":1}");
    while doc.len() < size {
        doc.insert(doc.len() - 1, ' ');
    }
    doc
}

fn conf_text(dir: &Path, port: u16, tls_port: u16, banner_port: u16) -> String {
    format!(
        "worker_processes 1;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  # API servers write their bodies; sendfile would hide them from any socket-level sensor.\n  sendfile off;\n  \
         # Clean traffic: with its version in `Server`, every response would be an alert.\n  \
         server_tokens off;\n  keepalive_requests 1000000;\n  \
         client_body_temp_path {dir}/tmp;\n  proxy_temp_path {dir}/tmp;\n  fastcgi_temp_path {dir}/tmp;\n  uwsgi_temp_path {dir}/tmp;\n  scgi_temp_path {dir}/tmp;\n  \
         default_type application/json;\n  server {{\n    listen 127.0.0.1:{port};\n    root {dir}/www;\n  }}\n  \
         server {{\n    listen 127.0.0.1:{tls_port} ssl;\n    ssl_certificate {dir}/cert.pem;\n    ssl_certificate_key {dir}/key.pem;\n    root {dir}/www;\n  }}\n  \
         # nginx's default: its version in `Server` on every response.\n  \
         server {{\n    listen 127.0.0.1:{banner_port};\n    server_tokens on;\n    root {dir}/www;\n  }}\n}}\n",
        dir = dir.display()
    )
}

/// Waits until `url` answers (curl, the certificate not verified).
pub fn wait_until_serving(url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if Command::new("curl")
            .args(["-skf", "-o", "/dev/null", url])
            .status()
            .is_ok_and(|s| s.success())
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nginx did not answer on {url}")
}
