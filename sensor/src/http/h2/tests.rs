//! HTTP/2 from byte streams: frames built here (HPACK by the same crate's
//! encoder, with its dynamic table, as a real peer would), fed in pieces.

use super::frame::*;
use super::*;
use crate::exchange::header;
use crate::http::ConnectionParser;

/// One peer's frame writer with its own HPACK encoder.
struct Peer {
    hpack: loona_hpack::Encoder<'static>,
}

impl Peer {
    fn new() -> Self {
        Self {
            hpack: loona_hpack::Encoder::new(),
        }
    }

    fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        self.hpack
            .encode(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut f = len.to_be_bytes()[1..].to_vec();
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn settings() -> Vec<u8> {
    frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100])
}

fn request(peer: &mut Peer, stream: u32, method: &str, path: &str, end: bool) -> Vec<u8> {
    let block = peer.block(&[
        (":method", method),
        (":scheme", "http"),
        (":authority", "api.test:8080"),
        (":path", path),
        ("user-agent", "t/1"),
    ]);
    let flags = FLAG_END_HEADERS | if end { FLAG_END_STREAM } else { 0 };
    frame(HEADERS, flags, stream, &block)
}

fn response(peer: &mut Peer, stream: u32, status: &str, ctype: &str) -> Vec<u8> {
    let block = peer.block(&[(":status", status), ("content-type", ctype)]);
    frame(HEADERS, FLAG_END_HEADERS, stream, &block)
}

fn data(stream: u32, body: &[u8], end: bool) -> Vec<u8> {
    frame(DATA, if end { FLAG_END_STREAM } else { 0 }, stream, body)
}

struct Conn {
    parser: H2ConnectionParser,
    counters: HttpCounters,
    out: Vec<MessagePair>,
}

impl Conn {
    fn new() -> Self {
        let mut counters = HttpCounters::default();
        Self {
            parser: H2ConnectionParser::new(HttpLimits::default(), 8, &mut counters),
            counters,
            out: Vec::new(),
        }
    }

    fn client(&mut self, bytes: &[u8]) {
        self.parser
            .request_segment(1, Segment::Data(bytes), &mut self.counters, &mut self.out);
    }

    fn server(&mut self, bytes: &[u8]) {
        self.parser
            .response_segment(2, Segment::Data(bytes), &mut self.counters, &mut self.out);
    }

    fn client_gap(&mut self, n: u64) {
        self.parser
            .request_segment(1, Segment::Gap(n), &mut self.counters, &mut self.out);
    }

    fn server_gap(&mut self, n: u64) {
        self.parser
            .response_segment(3, Segment::Gap(n), &mut self.counters, &mut self.out);
    }
}

fn summary(p: &MessagePair) -> (String, String, u16, Vec<u8>, u64) {
    (
        p.request.method.to_string(),
        p.request.target.to_string(),
        p.response.status,
        p.response.body.raw.to_vec(),
        p.response.body.wire_len,
    )
}

#[test]
fn one_stream_fed_a_byte_at_a_time() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut client = PREFACE.to_vec();
    client.extend(settings());
    client.extend(request(&mut c, 1, "GET", "/users/7?x=1", true));
    let mut server = settings();
    server.extend(response(&mut s, 1, "200", "application/json"));
    server.extend(data(1, b"{\"id\":", false));
    server.extend(data(1, b"7}", true));
    let mut conn = Conn::new();
    for b in &client {
        conn.client(std::slice::from_ref(b));
    }
    for b in &server {
        conn.server(std::slice::from_ref(b));
    }
    assert_eq!(conn.out.len(), 1);
    let p = &conn.out[0];
    assert_eq!(
        summary(p),
        (
            "GET".into(),
            "/users/7?x=1".into(),
            200,
            b"{\"id\":7}".to_vec(),
            8
        )
    );
    assert_eq!(p.request.version, VERSION);
    assert_eq!(
        header(&p.request.headers, "host"),
        Some(&b"api.test:8080"[..])
    );
    assert_eq!(header(&p.request.headers, "user-agent"), Some(&b"t/1"[..]));
    assert_eq!(
        header(&p.response.headers, "content-type"),
        Some(&b"application/json"[..])
    );
    assert!(!p.response.body.truncated);
    assert_eq!(conn.counters.exchanges, 1);
    assert_eq!(conn.counters.h2.header_blocks_undecodable, 0);
}

#[test]
fn continuation_frames_make_one_block() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let block = c.block(&[
        (":method", "POST"),
        (":scheme", "https"),
        (":authority", "a"),
        (":path", "/submit"),
        ("x-long", &"v".repeat(300)),
    ]);
    let (a, rest) = block.split_at(10);
    let (b, d) = rest.split_at(100);
    let mut client = PREFACE.to_vec();
    client.extend(frame(HEADERS, 0, 1, a));
    client.extend(frame(CONTINUATION, 0, 1, b));
    client.extend(frame(CONTINUATION, FLAG_END_HEADERS, 1, d));
    client.extend(data(1, b"name=x", true));
    let mut conn = Conn::new();
    conn.client(&client);
    let mut server = response(&mut s, 1, "201", "text/plain");
    server.extend(data(1, b"", true));
    conn.server(&server);
    assert_eq!(conn.out.len(), 1);
    let p = &conn.out[0];
    assert_eq!(p.request.method, "POST");
    assert_eq!(p.request.target, "/submit");
    assert_eq!(&p.request.body.raw[..], b"name=x");
    assert_eq!(
        header(&p.request.headers, "x-long").map(<[u8]>::len),
        Some(300)
    );
    assert_eq!(p.response.status, 201);
    assert_eq!(p.response.body.wire_len, 0);
}

#[test]
fn padding_and_priority_are_not_content() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let block = c.block(&[(":method", "GET"), (":path", "/p"), (":scheme", "http")]);
    // HEADERS with 3 bytes of padding and a priority field.
    let mut payload = vec![3];
    payload.extend([0x80, 0, 0, 0, 16]);
    payload.extend(&block);
    payload.extend([0, 0, 0]);
    let mut client = PREFACE.to_vec();
    client.extend(frame(
        HEADERS,
        FLAG_END_HEADERS | FLAG_END_STREAM | FLAG_PADDED | FLAG_PRIORITY,
        1,
        &payload,
    ));
    let mut conn = Conn::new();
    conn.client(&client);
    let mut server = response(&mut s, 1, "200", "text/plain");
    // DATA with 5 bytes of padding, split mid-padding.
    let mut body = vec![5];
    body.extend(b"hello");
    body.extend([0; 5]);
    let padded = frame(DATA, FLAG_END_STREAM | FLAG_PADDED, 1, &body);
    server.extend(&padded[..padded.len() - 2]);
    conn.server(&server);
    conn.server(&padded[padded.len() - 2..]);
    assert_eq!(conn.out.len(), 1);
    let p = &conn.out[0];
    assert_eq!(p.request.target, "/p");
    assert_eq!(&p.response.body.raw[..], b"hello");
    assert_eq!(p.response.body.wire_len, 5);
}

#[test]
fn interleaved_streams_pair_by_id() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut client = PREFACE.to_vec();
    for (id, path) in [(1, "/a"), (3, "/b"), (5, "/c")] {
        client.extend(request(&mut c, id, "GET", path, true));
    }
    let mut conn = Conn::new();
    conn.client(&client);
    // Responses in reverse order, DATA frames interleaved.
    let mut server = Vec::new();
    for id in [5, 3, 1] {
        server.extend(response(&mut s, id, "200", "text/plain"));
    }
    for round in 0..3 {
        for (id, name) in [(1, "a"), (3, "b"), (5, "c")] {
            server.extend(data(id, name.as_bytes(), round == 2 && id != 3));
        }
    }
    server.extend(data(3, b"", true));
    conn.server(&server);
    let got: Vec<(String, Vec<u8>)> = conn
        .out
        .iter()
        .map(|p| (p.request.target.to_string(), p.response.body.raw.to_vec()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/a".into(), b"aaa".to_vec()),
            ("/c".into(), b"ccc".to_vec()),
            ("/b".into(), b"bbb".to_vec()),
        ]
    );
}

#[test]
fn a_gap_mid_header_block_makes_later_blocks_undecodable() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut client = PREFACE.to_vec();
    client.extend(request(&mut c, 1, "GET", "/one", true));
    client.extend(request(&mut c, 3, "GET", "/two", true));
    let mut conn = Conn::new();
    conn.client(&client);
    // Stream 1's response block spans HEADERS + CONTINUATION; a gap hits
    // the CONTINUATION. The encoder's table now holds entries the sensor
    // never saw.
    let block = s.block(&[
        (":status", "200"),
        ("content-type", "application/json"),
        ("x-session", "abcdef0123456789"),
    ]);
    let (a, b) = block.split_at(8);
    let mut first = frame(HEADERS, 0, 1, a);
    let cont = frame(CONTINUATION, FLAG_END_HEADERS, 1, b);
    first.extend(&cont[..12]);
    conn.server(&first);
    conn.server_gap((cont.len() - 12) as u64);
    let mut rest = data(1, b"{}", true);
    // Stream 3's head refers to the table entries lost in the gap.
    rest.extend(response(&mut s, 3, "200", "application/json"));
    rest.extend(data(3, b"{\"ssn\":\"078-05-1120\"}", true));
    conn.server(&rest);
    assert_eq!(conn.counters.h2.framing_lost, 1);
    assert_eq!(conn.counters.h2.header_blocks_undecodable, 1);
    // Stream 1's head never completed: no exchange. Stream 3 is one, with
    // its request intact, no guessed status or headers, and its body.
    assert_eq!(conn.out.len(), 1);
    let p = &conn.out[0];
    assert_eq!(p.request.target, "/two");
    assert_eq!(p.response.status, 0);
    assert!(p.response.headers.is_empty());
    assert_eq!(&p.response.body.raw[..], b"{\"ssn\":\"078-05-1120\"}");
    assert_eq!(p.response.body.wire_len, 21);
    assert_eq!(conn.counters.h2.exchanges_undecodable, 1);
}

#[test]
fn a_gap_inside_data_costs_only_those_bytes() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut client = PREFACE.to_vec();
    client.extend(request(&mut c, 1, "GET", "/big", true));
    let mut conn = Conn::new();
    conn.client(&client);
    let body = vec![b'x'; 1000];
    let d = data(1, &body, true);
    let mut server = response(&mut s, 1, "200", "text/plain");
    server.extend(&d[..9 + 100]);
    conn.server(&server);
    conn.server_gap(800);
    conn.server(&d[9 + 900..]);
    // The next response still decodes: the table was never at risk.
    conn.client(&request(&mut c, 3, "GET", "/small", true));
    let mut more = response(&mut s, 3, "404", "text/plain");
    more.extend(data(3, b"no", true));
    conn.server(&more);
    assert_eq!(conn.out.len(), 2);
    assert_eq!(conn.out[0].response.body.wire_len, 1000);
    assert_eq!(conn.out[0].response.body.raw.len(), 200);
    assert!(conn.out[0].response.body.truncated);
    assert_eq!(conn.out[1].response.status, 404);
    assert_eq!(conn.counters.h2.framing_lost, 0);
}

/// A DATA frame with `pad` bytes of padding.
fn padded_data(stream: u32, body: &[u8], pad: u8, end: bool) -> Vec<u8> {
    let mut payload = vec![pad];
    payload.extend_from_slice(body);
    payload.extend(std::iter::repeat_n(0, usize::from(pad)));
    let flags = FLAG_PADDED | if end { FLAG_END_STREAM } else { 0 };
    frame(DATA, flags, stream, &payload)
}

/// Gaps inside DATA payloads, wherever they fall in them (content, the
/// padding, up to the frame's last byte; either direction; streams
/// interleaved), keep framing and both HPACK tables: every later head,
/// encoded against the peers' dynamic tables, decodes.
#[test]
fn gaps_inside_data_keep_every_later_head_decodable() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut conn = Conn::new();
    let mut client = PREFACE.to_vec();
    client.extend(request(&mut c, 1, "POST", "/upload", false));
    client.extend(request(&mut c, 3, "GET", "/a", true));
    conn.client(&client);
    // Stream 1's request body: 600 bytes, 200 in the middle lost.
    let upload = data(1, &[b'u'; 600], true);
    conn.client(&upload[..9 + 100]);
    conn.client_gap(200);
    conn.client(&upload[9 + 300..]);
    // Responses interleaved: stream 3's padded DATA loses part of its
    // padding, stream 1's DATA its last 50 bytes (to the frame's end).
    let mut server = response(&mut s, 3, "200", "application/json");
    server.extend(response(&mut s, 1, "201", "application/json"));
    let padded = padded_data(3, b"{\"ok\":true}", 20, true);
    server.extend(&padded[..padded.len() - 15]);
    conn.server(&server);
    conn.server_gap(15);
    let reply = data(1, &[b'r'; 300], true);
    conn.server(&reply[..reply.len() - 50]);
    conn.server_gap(50);
    // A later stream: both heads refer to entries the earlier ones added.
    conn.client(&request(&mut c, 5, "GET", "/later", true));
    let mut later = response(&mut s, 5, "404", "application/json");
    later.extend(data(5, b"{}", true));
    conn.server(&later);

    let h2 = &conn.counters.h2;
    assert_eq!((h2.gaps_kept_in_sync, h2.gap_bytes_kept_in_sync), (3, 265));
    assert_eq!(h2.framing_lost, 0);
    assert_eq!(h2.header_blocks_undecodable, 0);
    assert_eq!(conn.out.len(), 3);
    let by_path = |p: &str| {
        conn.out
            .iter()
            .find(|e| e.request.target == p)
            .unwrap_or_else(|| panic!("no exchange for {p}"))
    };
    // Only padding was lost: the body is whole.
    let a = by_path("/a");
    assert_eq!(a.response.status, 200);
    assert_eq!(&a.response.body.raw[..], b"{\"ok\":true}");
    assert_eq!(a.response.body.wire_len, 11);
    assert!(!a.response.body.truncated);
    let upload = by_path("/upload");
    assert_eq!(upload.request.method, "POST");
    assert_eq!(upload.response.status, 201);
    assert_eq!(
        (upload.request.body.wire_len, upload.request.body.raw.len()),
        (600, 400)
    );
    assert!(upload.request.body.truncated);
    assert_eq!(
        (
            upload.response.body.wire_len,
            upload.response.body.raw.len()
        ),
        (300, 250)
    );
    let later = by_path("/later");
    assert_eq!(later.request.method, "GET");
    assert_eq!(later.response.status, 404);
    assert_eq!(
        header(&later.response.headers, "content-type").map(<[u8]>::to_vec),
        Some(b"application/json".to_vec())
    );
}

/// A gap that covers a header block (here a whole HEADERS frame, starting
/// on a frame boundary, so the framing itself resumes at the right byte)
/// still loses that direction's HPACK table: later heads of the direction
/// are undecodable, never guessed; the other direction's still decode.
#[test]
fn a_gap_across_headers_makes_later_heads_of_its_direction_undecodable() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut conn = Conn::new();
    let mut client = PREFACE.to_vec();
    client.extend(request(&mut c, 1, "GET", "/one", true));
    client.extend(request(&mut c, 3, "GET", "/two", true));
    conn.client(&client);
    let mut first = response(&mut s, 1, "200", "application/json");
    first.extend(data(1, b"{}", true));
    conn.server(&first);
    // Stream 3's response head adds a header to the server's table.
    let lost = frame(
        HEADERS,
        FLAG_END_HEADERS,
        3,
        &s.block(&[(":status", "200"), ("x-trace", "f00d")]),
    );
    conn.server_gap(lost.len() as u64);
    let mut rest = data(3, b"[]", true);
    conn.client(&request(&mut c, 5, "GET", "/three", true));
    let block = s.block(&[(":status", "200"), ("x-trace", "f00d")]);
    rest.extend(frame(HEADERS, FLAG_END_HEADERS, 5, &block));
    rest.extend(data(5, b"{\"ssn\":\"078-05-1120\"}", true));
    conn.server(&rest);

    let h2 = &conn.counters.h2;
    assert_eq!(h2.gaps_kept_in_sync, 0);
    assert_eq!(h2.framing_lost, 1);
    assert_eq!(h2.header_blocks_undecodable, 1);
    let three = conn
        .out
        .iter()
        .find(|e| e.request.target == "/three")
        .expect("stream 5 is an exchange");
    assert_eq!(three.request.method, "GET");
    assert_eq!(three.response.status, 0);
    assert!(three.response.headers.is_empty());
    assert_eq!(&three.response.body.raw[..], b"{\"ssn\":\"078-05-1120\"}");
    assert_eq!(conn.out[0].request.target, "/one");
    assert_eq!(conn.out[0].response.status, 200);
}

#[test]
fn trailers_and_interim_heads() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut client = PREFACE.to_vec();
    client.extend(request(&mut c, 1, "POST", "/pkg.Svc/Get", false));
    client.extend(data(1, b"\0\0\0\0\0", true));
    let mut conn = Conn::new();
    conn.client(&client);
    let interim = s.block(&[(":status", "100")]);
    let mut server = frame(HEADERS, FLAG_END_HEADERS, 1, &interim);
    server.extend(response(&mut s, 1, "200", "application/grpc"));
    server.extend(data(1, b"\0\0\0\0\0", false));
    let trailers = s.block(&[("grpc-status", "13"), ("grpc-message", "boom")]);
    server.extend(frame(
        HEADERS,
        FLAG_END_HEADERS | FLAG_END_STREAM,
        1,
        &trailers,
    ));
    conn.server(&server);
    assert_eq!(conn.out.len(), 1);
    let p = &conn.out[0];
    assert_eq!(p.response.status, 200);
    assert_eq!(
        header(&p.response.trailers, "grpc-status"),
        Some(&b"13"[..])
    );
    assert_eq!(p.request.body.wire_len, 5);
    assert_eq!(conn.counters.interim_responses, 1);
}

#[test]
fn streams_over_the_limit_are_counted_not_followed() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut client = PREFACE.to_vec();
    for i in 0..10 {
        client.extend(request(&mut c, 1 + 2 * i, "GET", &format!("/{i}"), true));
    }
    let mut conn = Conn::new();
    conn.client(&client);
    let mut server = Vec::new();
    for i in 0..10 {
        server.extend(response(&mut s, 1 + 2 * i, "200", "text/plain"));
        server.extend(data(1 + 2 * i, b"ok", true));
    }
    conn.server(&server);
    // The two oldest gave way; their responses find no stream.
    let first = conn.out.first().map(|p| p.request.target.clone());
    assert_eq!(conn.out.len(), 8);
    assert_eq!(first.as_deref(), Some("/2"));
    assert_eq!(conn.counters.h2.streams_over_limit, 2);
    assert_eq!(conn.counters.h2.frames_without_stream, 4);
    // The skipped streams' blocks were still decoded: later ones are fine.
    assert_eq!(conn.counters.h2.header_blocks_undecodable, 0);
}

#[test]
fn pushed_streams_and_resets() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut client = PREFACE.to_vec();
    client.extend(request(&mut c, 1, "GET", "/index.html", true));
    client.extend(request(&mut c, 3, "GET", "/slow", true));
    let mut conn = Conn::new();
    conn.client(&client);
    let promised = s.block(&[
        (":method", "GET"),
        (":path", "/style.css"),
        (":authority", "a"),
        (":scheme", "http"),
    ]);
    let mut push = 2u32.to_be_bytes().to_vec();
    push.extend(&promised);
    let mut server = frame(PUSH_PROMISE, FLAG_END_HEADERS, 1, &push);
    server.extend(response(&mut s, 1, "200", "text/html"));
    server.extend(data(1, b"<html>", true));
    server.extend(response(&mut s, 2, "200", "text/css"));
    server.extend(data(2, b"a{}", true));
    server.extend(frame(RST_STREAM, 0, 3, &[0, 0, 0, 8]));
    conn.server(&server);
    let got: Vec<&str> = conn.out.iter().map(|p| p.request.target.as_str()).collect();
    assert_eq!(got, vec!["/index.html", "/style.css"]);
    assert_eq!(conn.counters.h2.pushed_streams, 1);
    assert_eq!(conn.counters.h2.streams_reset, 1);
}

#[test]
fn garbage_after_the_preface_never_panics() {
    let mut conn = Conn::new();
    let mut bytes = PREFACE.to_vec();
    let mut x = 0x1234_5678u32;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.push(x as u8);
    }
    for piece in bytes.chunks(777) {
        conn.client(piece);
        conn.server(piece);
        conn.server_gap(3);
    }
    conn.parser.close(9, &mut conn.counters, &mut conn.out);
    assert!(conn.parser.buffered_bytes() < 200_000);
}

/// Both directions through `ConnectionParser`, which picks HTTP/2.
fn dispatch(client: &[&[u8]], server_first: &[u8], server: &[u8]) -> (Vec<MessagePair>, bool) {
    let mut p = ConnectionParser::new(HttpLimits::default(), 64);
    let mut counters = HttpCounters::default();
    let mut out = Vec::new();
    p.response_segment(1, Segment::Data(server_first), &mut counters, &mut out);
    for (i, piece) in client.iter().enumerate() {
        p.request_segment(2, Segment::Data(piece), &mut counters, &mut out);
        if i == 0 {
            p.response_segment(3, Segment::Data(server), &mut counters, &mut out);
        }
    }
    (out, p.is_http2())
}

#[test]
fn server_settings_before_the_preface_are_held() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let mut client = PREFACE.to_vec();
    client.extend(request(&mut c, 1, "GET", "/x", true));
    let mut server = response(&mut s, 1, "200", "text/plain");
    server.extend(data(1, b"hi", true));
    let (out, h2) = dispatch(&[&client], &settings(), &server);
    assert!(h2);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0].response.body.raw[..], b"hi");
}

#[test]
fn upgrade_h2c_continues_as_http2() {
    let (mut c, mut s) = (Peer::new(), Peer::new());
    let upgrade = b"GET /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n";
    let mut client2 = PREFACE.to_vec();
    client2.extend(settings());
    client2.extend(request(&mut c, 3, "GET", "/after", true));
    let mut server =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".to_vec();
    server.extend(settings());
    server.extend(response(&mut s, 1, "200", "text/plain"));
    server.extend(data(1, b"upgraded", true));
    let mut p = ConnectionParser::new(HttpLimits::default(), 64);
    let mut counters = HttpCounters::default();
    let mut out = Vec::new();
    p.request_segment(1, Segment::Data(upgrade), &mut counters, &mut out);
    p.response_segment(2, Segment::Data(&server), &mut counters, &mut out);
    p.request_segment(3, Segment::Data(&client2), &mut counters, &mut out);
    let mut more = response(&mut s, 3, "200", "text/plain");
    more.extend(data(3, b"second", true));
    p.response_segment(4, Segment::Data(&more), &mut counters, &mut out);
    assert!(p.is_http2());
    let got: Vec<(&str, u8, &[u8])> = out
        .iter()
        .map(|p| {
            (
                p.request.target.as_str(),
                p.response.version,
                &p.response.body.raw[..],
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![("/up", 2, &b"upgraded"[..]), ("/after", 2, &b"second"[..])]
    );
    assert_eq!(counters.h2.upgrades_h2c, 1);
    assert_eq!(counters.exchanges, 2);
}

#[test]
fn http1_is_unchanged_by_the_dispatch() {
    let mut p = ConnectionParser::new(HttpLimits::default(), 64);
    let mut counters = HttpCounters::default();
    let mut out = Vec::new();
    p.request_segment(
        1,
        Segment::Data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        &mut counters,
        &mut out,
    );
    p.response_segment(
        2,
        Segment::Data(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        &mut counters,
        &mut out,
    );
    assert!(!p.is_http2());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].request.version, 1);
}
