//! HTTPS server and client for the rustls end-to-end test
//! (tests/e2e/rustls_tls.rs): rustls over std's TCP, HTTP/1.1, JSON with a
//! planted key. Usage:
//!   rustls-https server ADDR CERT KEY   prints `listening`, serves until killed
//!   rustls-https tokio-server ADDR CERT KEY   the same on tokio-rustls
//!   rustls-https client URL             waits for a line on stdin, POSTs,
//!                                       prints `STATUS BODY_LENGTH`

// ring's provider without post-quantum key exchange is all the test needs.
#![allow(deprecated)]

use std::io::{BufRead, IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme, StreamOwned};

const PATH: &str = "/v1/accounts/42";
/// The response, with the planted secret (an AWS access key id the sensor
/// must alert on) and `HISTORY` bytes of history: longer than rustls's
/// outgoing buffer limit (64 KiB), so its write is taken in parts.
const RESPONSE_START: &str =
    r#"{"id":42,"owner":"rustls","aws_key_id":"AKIAZ7QW3RTLXJ5RUSTL","history":""#;
const HISTORY: usize = 100_000;
const REQUEST: &str = r#"{"note":"rotate the key","requested_by":"rustls-client"}"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("server") => server(&args[2], &args[3], &args[4]),
        Some("tokio-server") => tokio_server(&args[2], &args[3], &args[4]),
        Some("client") => client(&args[2]),
        _ => {
            eprintln!("usage: rustls-https server|tokio-server ADDR CERT KEY | client URL");
            std::process::exit(2);
        }
    }
}

fn server_config(cert: &str, key: &str) -> rustls::ServerConfig {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("certificate file")
        .map(|c| c.expect("certificate"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).expect("key file");
    rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate")
}

fn server(addr: &str, cert: &str, key: &str) {
    let config = Arc::new(server_config(cert, key));
    let listener = TcpListener::bind(addr).expect("bind");
    println!("listening");
    std::io::stdout().flush().unwrap();
    for sock in listener.incoming() {
        let Ok(sock) = sock else { continue };
        let config = config.clone();
        std::thread::spawn(move || {
            let conn = rustls::ServerConnection::new(config).unwrap();
            let mut stream = StreamOwned::new(conn, sock);
            if let Err(e) = serve(&mut stream) {
                eprintln!("connection: {e}");
            }
        });
    }
}

/// One request, one response, then close_notify.
fn serve(stream: &mut StreamOwned<rustls::ServerConnection, TcpStream>) -> std::io::Result<()> {
    let (head, _) = read_message(stream)?;
    let (response_head, body) = response(&head);
    stream.write_all(response_head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.conn.send_close_notify();
    stream.flush()
}

/// The response to a request whose head is `head`: its head and body.
fn response(head: &str) -> (String, String) {
    let status = if head.starts_with(&format!("POST {PATH} ")) {
        "200 OK"
    } else {
        "404 Not Found"
    };
    let body = format!("{RESPONSE_START}{}\"}}", "x".repeat(HISTORY));
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    (head, body)
}

/// `server` on tokio-rustls (0.26, which reads through
/// `Reader::into_first_chunk` and `consume`) and tokio's multi-threaded
/// runtime: tasks move between worker threads. The response goes out in
/// one vectored write, then what it did not take, as hyper writes.
fn tokio_server(addr: &str, cert: &str, key: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = Arc::new(server_config(cert, key));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_io()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        println!("listening");
        std::io::stdout().flush().unwrap();
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut got = Vec::new();
                let mut chunk = [0u8; 4096];
                let head = loop {
                    if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        break String::from_utf8_lossy(&got[..at]).into_owned();
                    }
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&chunk[..n]),
                    }
                };
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while got.len() < head.len() + 4 + length {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&chunk[..n]),
                    }
                }
                let (response_head, body) = response(&head);
                let slices = [
                    IoSlice::new(response_head.as_bytes()),
                    IoSlice::new(body.as_bytes()),
                ];
                let Ok(taken) = tls.write_vectored(&slices).await else {
                    return;
                };
                let all = [response_head.as_bytes(), body.as_bytes()].concat();
                if tls.write_all(&all[taken..]).await.is_ok() {
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
}

fn client(url: &str) {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    let rest = url.strip_prefix("https://").expect("https URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.split(':').next().unwrap().to_owned();
    let provider = Arc::new(ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        // The test's certificate is self-signed.
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(authority).expect("connect");
    let mut stream = StreamOwned::new(conn, sock);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        REQUEST.len()
    );
    // Head and body in one vectored write (`Writer::write_vectored`, as
    // hyper writes through tokio-rustls); the server answers with `write`.
    let slices = [
        IoSlice::new(head.as_bytes()),
        IoSlice::new(REQUEST.as_bytes()),
    ];
    // `StreamOwned` writes only the first slice; `Stream` forwards them all.
    let written = rustls::Stream::new(&mut stream.conn, &mut stream.sock)
        .write_vectored(&slices)
        .expect("write");
    assert_eq!(
        written,
        head.len() + REQUEST.len(),
        "a short vectored write"
    );
    stream.flush().expect("flush");
    let (head, body) = read_message(&mut stream).expect("response");
    let status = head.split(' ').nth(1).unwrap_or("?").to_owned();
    println!("{status} {}", body.len());
}

/// Reads one HTTP/1.1 message with a Content-Length body.
fn read_message(stream: &mut impl Read) -> std::io::Result<(String, Vec<u8>)> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&got[..end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = got[end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((head, body))
}

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
