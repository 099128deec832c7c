//! nginx on loopback for the tests that need a real production server:
//! one worker, static files from a directory, `sendfile` on or off.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct Nginx {
    child: Child,
    pub port: u16,
    /// Files served from here.
    pub root: PathBuf,
}

impl Nginx {
    /// Starts nginx in `dir` serving `dir/www` on a free loopback port, and
    /// waits until it answers.
    pub fn start(dir: &Path, sendfile: bool) -> Nginx {
        let root = dir.join("www");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        std::fs::write(root.join("ready"), b"ok").unwrap();
        let port = crate::free_port();
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
                 events {{ worker_connections 4096; }}\n\
                 http {{\n  access_log off;\n  sendfile {sf};\n  server_tokens off;\n  \
                 default_type application/json;\n  client_body_temp_path {d}/tmp;\n  \
                 proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  \
                 scgi_temp_path {d}/tmp;\n  server {{\n    listen 127.0.0.1:{port} backlog=4096;\n    \
                 root {d}/www;\n  }}\n}}\n",
                d = dir.display(),
                sf = if sendfile { "on" } else { "off" },
            ),
        )
        .unwrap();
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir)
            .spawn()
            .expect("starting nginx (cargo xtask setup installs it)");
        let nginx = Nginx { child, port, root };
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = format!("http://127.0.0.1:{port}/ready");
        while !Command::new("curl")
            .args(["-sf", "-o", "/dev/null", &url])
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(Instant::now() < deadline, "nginx did not answer on {url}");
            std::thread::sleep(Duration::from_millis(100));
        }
        nginx
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not kill(): the master then stops its worker too.
        // SAFETY: signalling a child we own that has not been reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}
