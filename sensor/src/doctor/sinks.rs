//! Whether each configured sink's receiver answers a TCP connection (its
//! proxy's, when it has one). Only host and port are shown: a URL may
//! carry credentials.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::Check;
use crate::config::Config;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub fn checks(config: &Config) -> Vec<Check> {
    let sinks = &config.sinks;
    let mut out = Vec::new();
    for (i, s) in sinks.webhook.iter().enumerate() {
        let name = label("webhook", s.name.as_deref(), i);
        out.push(reach(&name, s.proxy.as_deref().unwrap_or(&s.url)));
    }
    for (i, s) in sinks.alertmanager.iter().enumerate() {
        let name = label("alertmanager", s.name.as_deref(), i);
        out.push(reach(&name, s.proxy.as_deref().unwrap_or(&s.url)));
    }
    for (i, s) in sinks.syslog.iter().enumerate() {
        let name = label("syslog", s.name.as_deref(), i);
        out.push(match s.transport.as_str() {
            "udp" => Check::unknown(name, format!("{}: UDP has no answer to check", s.address)),
            "unix" => match std::fs::metadata(&s.address) {
                Ok(_) => Check::pass(name, format!("{} exists", s.address)),
                Err(err) => Check::fail(
                    name,
                    format!("{}: {err}", s.address),
                    "start the local syslog daemon, or fix `address`",
                ),
            },
            _ => connect(name, &s.address),
        });
    }
    out
}

fn label(kind: &str, name: Option<&str>, index: usize) -> String {
    match name {
        Some(name) => format!("sink {kind} {name}"),
        None => format!("sink {kind} #{}", index + 1),
    }
}

/// `http(s)://[user@]host[:port]/...` -> `host:port`.
fn authority(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let host_port = rest.split(['/', '?', '#']).next()?;
    let host_port = host_port.rsplit('@').next()?;
    if host_port.is_empty() {
        return None;
    }
    let has_port = match host_port.rfind(':') {
        Some(i) => !host_port[i..].contains(']'),
        None => false,
    };
    Some(if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    })
}

fn reach(name: &str, url: &str) -> Check {
    match authority(url) {
        Some(address) => connect(name.to_owned(), &address),
        None => Check::fail(name.to_owned(), "its URL has no http(s) host", "fix `url`"),
    }
}

fn connect(name: String, address: &str) -> Check {
    let addrs = match address.to_socket_addrs() {
        Ok(addrs) => addrs.collect::<Vec<_>>(),
        Err(err) => {
            return Check::fail(
                name,
                format!("{address} does not resolve: {err}"),
                "fix the host name, or this host's DNS",
            )
        }
    };
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(_) => return Check::pass(name, format!("{address} accepts connections")),
            Err(err) => last = Some(err),
        }
    }
    let why = last.map_or_else(|| "no address".to_owned(), |e| e.to_string());
    Check::fail(
        name,
        format!("{address} does not accept connections: {why}"),
        "start the receiver or open the network path; alerts wait in the sink's spool meanwhile",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_and_port_without_credentials() {
        for (url, want) in [
            (
                "https://hooks.example.com/x?y=1",
                Some("hooks.example.com:443"),
            ),
            (
                "http://user:secret@10.0.0.1:8080/path",
                Some("10.0.0.1:8080"),
            ),
            ("http://[::1]/x", Some("[::1]:80")),
            ("http://[::1]:9/x", Some("[::1]:9")),
            ("ftp://x", None),
            ("http://", None),
        ] {
            assert_eq!(authority(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn a_listening_receiver_passes_and_a_closed_port_fails() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap().to_string();
        assert_eq!(
            connect("s".into(), &open).status,
            super::super::Status::Pass
        );
        drop(listener);
        let closed = connect("s".into(), &open);
        assert_eq!(closed.status, super::super::Status::Fail);
    }
}
