//! Connection-level behaviour as data: byte streams in, pairs and counters
//! out. Every scripted case also runs with its data fed one byte at a time,
//! which must not change the outcome.

use super::*;
use crate::exchange::MessagePair;
use crate::reassembly::Segment;

#[derive(Debug, Clone, Copy)]
enum Op {
    Req(&'static [u8]),
    Res(&'static [u8]),
    ReqGap(u64),
    ResGap(u64),
    Close,
}
use Op::*;

struct Run {
    pairs: Vec<MessagePair>,
    counters: HttpCounters,
    parser: HttpConnectionParser,
}

/// Runs `ops` (timestamp = 10 * op index); `bytewise` splits data ops.
fn run_with(limits: HttpLimits, ops: &[Op], bytewise: bool) -> Run {
    run_fed(limits, ops, bytewise, false)
}

/// `run_with`; with `shared`, each piece arrives in a capture record of
/// its own that the parser may keep slices of (as the pipeline feeds it).
fn run_fed(limits: HttpLimits, ops: &[Op], bytewise: bool, shared: bool) -> Run {
    let mut parser = HttpConnectionParser::new(limits);
    let mut counters = HttpCounters::default();
    let mut pairs = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let ts = 10 * i as u64;
        let (c, out) = (&mut counters, &mut pairs);
        let pieces = |s: &'static [u8]| -> Vec<&'static [u8]> {
            if bytewise {
                s.chunks(1).collect()
            } else {
                vec![s]
            }
        };
        let mut feed = |p: &[u8], request: bool| {
            let record = bytes::Bytes::copy_from_slice(p);
            parser.share_input(shared.then_some(&record));
            if request {
                parser.request_segment(ts, Segment::Data(&record), c, out);
            } else {
                parser.response_segment(ts, Segment::Data(&record), c, out);
            }
            parser.share_input(None);
        };
        match *op {
            Req(s) => pieces(s).into_iter().for_each(|p| feed(p, true)),
            Res(s) => pieces(s).into_iter().for_each(|p| feed(p, false)),
            ReqGap(n) => parser.request_segment(ts, Segment::Gap(n), c, out),
            ResGap(n) => parser.response_segment(ts, Segment::Gap(n), c, out),
            Close => parser.close(ts, c, out),
        }
    }
    Run {
        pairs,
        counters,
        parser,
    }
}

/// One line per pair: `METHOD target -> status req=<body>/<wire> res=<content>/<wire>`,
/// with `!` after a truncated body, ` up` when upgraded, ` partial:<message>`
/// per malformed message and ` ambiguous:<shape>:<followed>@<end>/<other>@<end>`.
fn summary(p: &MessagePair) -> String {
    use crate::exchange::Anomaly;
    let anomalies: String = p
        .anomalies
        .iter()
        .map(|a| match a {
            Anomaly::Malformed { message, .. } => format!(" partial:{}", message.as_str()),
            Anomaly::AmbiguousFraming {
                shape,
                followed,
                other,
                ..
            } => {
                let end = |e: Option<u64>| e.map_or("?".to_owned(), |n| n.to_string());
                format!(
                    " ambiguous:{shape}:{}@{}/{}@{}",
                    followed.framing,
                    end(followed.body_end),
                    other.framing,
                    end(other.body_end)
                )
            }
        })
        .collect();
    let body = |b: &crate::exchange::Body| {
        format!(
            "{}/{}{}",
            String::from_utf8_lossy(b.content()),
            b.wire_len,
            if b.truncated { "!" } else { "" }
        )
    };
    format!(
        "{} {} -> {} req={} res={}{}{anomalies}",
        p.request.method,
        p.request.target,
        p.response.status,
        body(&p.request.body),
        body(&p.response.body),
        if p.upgraded { " up" } else { "" }
    )
}

fn counter(c: &HttpCounters, name: &str) -> u64 {
    let v = serde_json::to_value(c).expect("counters serialise");
    v.get(name)
        .and_then(|x| x.as_u64())
        .unwrap_or_else(|| panic!("no counter {name}"))
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const OK5: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

type Case = (
    &'static str,
    &'static [Op],
    &'static [&'static str],
    &'static [(&'static str, u64)],
);

const CASES: &[Case] = &[
    ("simple", &[Req(GET), Res(OK5)], &["GET / -> 200 req=/0 res=hello/5"], &[("exchanges", 1), ("requests", 1)]),
    (
        "keep-alive",
        &[Req(GET), Res(OK5), Req(b"GET /2 HTTP/1.1\r\n\r\n"), Res(b"HTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n")],
        &["GET / -> 200 req=/0 res=hello/5", "GET /2 -> 404 req=/0 res=/0"],
        &[("exchanges", 2)],
    ),
    (
        "pipelined",
        &[
            Req(b"GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\n\r\n"),
            Res(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nb"),
            Res(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc"),
        ],
        &["GET /a -> 200 req=/0 res=a/1", "POST /b -> 201 req=xyz/3 res=b/1", "GET /c -> 200 req=/0 res=c/1"],
        &[("requests", 3), ("responses", 3)],
    ),
    (
        "chunked both ways",
        &[
            Req(b"POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\n\r\n"),
            Res(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n"),
        ],
        &["POST /u -> 200 req=wiki/4 res=hello!/6"],
        &[],
    ),
    (
        "HEAD has no body",
        &[Req(b"HEAD / HTTP/1.1\r\n\r\n"), Res(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"), Req(GET), Res(OK5)],
        &["HEAD / -> 200 req=/0 res=/0", "GET / -> 200 req=/0 res=hello/5"],
        &[],
    ),
    (
        "204 and 304 have no body",
        &[
            Req(GET),
            Req(GET),
            Res(b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\nHTTP/1.1 304 NM\r\nContent-Length: 7\r\n\r\n"),
        ],
        &["GET / -> 204 req=/0 res=/0", "GET / -> 304 req=/0 res=/0"],
        &[],
    ),
    (
        "100-continue",
        &[
            Req(b"PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"),
            Res(b"HTTP/1.1 100 Continue\r\n\r\n"),
            Req(b"data"),
            Res(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
        ],
        &["PUT /f -> 201 req=data/4 res=ok/2"],
        &[("interim_responses", 1), ("responses", 1)],
    ),
    (
        "early hints",
        &[Req(GET), Res(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"), Res(OK5)],
        &["GET / -> 200 req=/0 res=hello/5"],
        &[("interim_responses", 1)],
    ),
    (
        "response before request body ends",
        &[
            Req(b"POST /big HTTP/1.1\r\nContent-Length: 6\r\n\r\nabc"),
            Res(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n"),
            Req(b"def"),
        ],
        &["POST /big -> 413 req=abcdef/6 res=/0"],
        &[],
    ),
    (
        "close-delimited",
        &[Req(GET), Res(b"HTTP/1.1 200 OK\r\n\r\nall of"), Res(b" it"), Close],
        &["GET / -> 200 req=/0 res=all of it/9"],
        &[("incomplete_at_close", 0)],
    ),
    (
        "HTTP/1.0 defaults",
        &[Req(b"GET /old HTTP/1.0\r\n\r\n"), Res(b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody"), Close],
        &["GET /old -> 200 req=/0 res=body/4"],
        &[],
    ),
    (
        "101 switching protocols",
        &[
            Req(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello"),
            Res(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi"),
            Req(b"\x81\x03abc"),
            ReqGap(10),
            Res(b"GET / HTTP/1.1\r\n\r\n"),
            Close,
        ],
        &["GET /ws -> 101 req=/0 res=/0 up"],
        &[("upgrades", 1), ("parse_errors", 0), ("resyncs", 0), ("requests_unanswered", 0), ("upgraded_bytes_ignored", 44)],
    ),
    (
        "CONNECT tunnel",
        &[
            Req(b"CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n"),
            Res(b"HTTP/1.1 200 Connection established\r\n\r\n"),
            Req(b"\x16\x03\x01binary"),
            Res(b"\x16\x03\x03binary"),
        ],
        &["CONNECT db:5432 -> 200 req=/0 res=/0 up"],
        &[("upgrades", 1), ("parse_errors", 0)],
    ),
    (
        "upgrade refused",
        &[
            Req(b"GET /ws HTTP/1.1\r\nUpgrade: h2c\r\n\r\nGET /next HTTP/1.1\r\n\r\n"),
            Res(OK5),
            Res(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nn"),
        ],
        &["GET /ws -> 200 req=/0 res=hello/5", "GET /next -> 200 req=/0 res=n/1"],
        &[("upgrades", 0)],
    ),
    (
        "conflicting content-length",
        &[
            Req(GET),
            Req(GET),
            Res(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"),
            Res(OK5),
        ],
        &[
            "GET / -> 200 req=/0 res=hello/5 ambiguous:conflicting_content_length:content-length@5/content-length@6",
            "GET / -> 200 req=/0 res=hello/5",
        ],
        &[("ambiguous_framing", 1), ("parse_errors", 0)],
    ),
    (
        "invalid request content-length is read as no body",
        &[Req(b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\nGET /b HTTP/1.1\r\n\r\n"), Res(OK5), Res(OK5)],
        &["POST / -> 200 req=/0 res=hello/5 partial:request", "GET /b -> 200 req=/0 res=hello/5"],
        &[("parse_errors", 1), ("responses_to_lost_requests", 0)],
    ),
    (
        "raw 0xFF in the path still pairs",
        &[Req(b"GET /lookup/\xff/1 HTTP/1.1\r\nHost: x\r\n\r\n"), Res(OK5)],
        &["GET /lookup/\u{fffd}/1 -> 200 req=/0 res=hello/5 partial:request"],
        &[("salvaged_heads", 1)],
    ),
    (
        "malformed response head is read as far as it goes",
        &[Req(GET), Res(b"HTTP/1.1 200 OK\r\nX-Bad\x01: 1\r\nContent-Length: 5\r\n\r\nhello"), Req(GET), Res(OK5)],
        &["GET / -> 200 req=/0 res=hello/5 partial:response", "GET / -> 200 req=/0 res=hello/5"],
        &[("salvaged_heads", 1)],
    ),
    (
        "bad chunk line after a chunk emits what came",
        &[Req(GET), Res(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecret\r\nZZZ\r\n"), Close],
        &["GET / -> 200 req=/0 res=secret/6! partial:response"],
        &[("partial_bodies", 1)],
    ),
    (
        "content-length and transfer-encoding",
        &[
            Req(b"POST / HTTP/1.1\r\nContent-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLEDGET /x HTTP/1.1\r\n\r\n"),
            Res(OK5),
            Res(OK5),
        ],
        &[
            "POST / -> 200 req=/0 res=hello/5 ambiguous:content_length_and_transfer_encoding:chunked@5/content-length@13",
            "SMUGGLEDGET /x -> 200 req=/0 res=hello/5",
        ],
        &[("ambiguous_framing", 1)],
    ),
    (
        "transfer-encoding with a space before the colon",
        &[Req(b"POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"), Res(OK5)],
        &["POST / -> 200 req=/0 res=hello/5 partial:request ambiguous:obfuscated_transfer_encoding:chunked@5/content-length@3"],
        &[("ambiguous_framing", 1), ("salvaged_heads", 1)],
    ),
    (
        "garbage then a request",
        &[Req(b"\x16\x03\x01\x02junk\r\nmore junk\nGET / HTTP/1.1\r\n\r\n"), Res(OK5)],
        &["GET / -> 200 req=/0 res=hello/5"],
        &[("resync_skipped_bytes", 20), ("parse_errors", 0)],
    ),
    (
        "joined mid-body",
        &[Req(b"ody of an earlier request\r\nGET / HTTP/1.1\r\n\r\n"), Res(b"rest\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")],
        &["GET / -> 200 req=/0 res=hello/5"],
        &[("parse_errors", 0), ("unmatched_responses", 0)],
    ),
    (
        "gap inside content-length body",
        &[Req(GET), Res(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhead"), ResGap(90), Res(b"tail56"), Req(GET), Res(OK5)],
        &["GET / -> 200 req=/0 res=headtail56/100!", "GET / -> 200 req=/0 res=hello/5"],
        &[("gap_bytes_in_body", 90), ("gap_lost_messages", 0)],
    ),
    (
        "sendfile body",
        &[Req(GET), Res(b"HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n"), ResGap(5_000_000), Req(GET), Res(OK5)],
        &["GET / -> 200 req=/0 res=/5000000!", "GET / -> 200 req=/0 res=hello/5"],
        &[],
    ),
    (
        "gap past the body end loses the next response",
        &[Req(GET), Req(GET), Req(GET), Res(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"), ResGap(20), Res(b"tail\r\n"), Res(OK5)],
        &["GET / -> 200 req=/0 res=ab/4!", "GET / -> 200 req=/0 res=hello/5"],
        &[("gap_lost_messages", 1), ("requests_unanswered", 1)],
    ),
    (
        "gap inside chunk data is absorbed",
        &[Req(GET), Res(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nab"), ResGap(6), Res(b"ij\r\n0\r\n\r\n")],
        &["GET / -> 200 req=/0 res=abij/10!"],
        &[("gap_lost_messages", 0)],
    ),
    (
        "gap across chunk framing ends at the next response",
        &[Req(GET), Req(GET), Res(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab"), ResGap(9), Res(b"junk\r\n"), Res(OK5)],
        &["GET / -> 200 req=/0 res=abjunk\r\n/17!", "GET / -> 200 req=/0 res=hello/5"],
        &[("gap_lost_messages", 0), ("requests_unanswered", 0)],
    ),
    (
        "gap across chunk framing finds the next chunk",
        &[
            Req(GET),
            Res(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nfirst"),
            ResGap(13),
            Res(b"6\r\nsecret\r\n0\r\n\r\n"),
        ],
        &["GET / -> 200 req=/0 res=firstsecret/24!"],
        &[("gap_lost_messages", 0), ("chunk_resyncs", 1)],
    ),
    (
        "gap in response head",
        &[Req(GET), Req(GET), Res(b"HTTP/1.1 200 OK\r\nContent-"), ResGap(30), Res(b"gth: 5\r\n\r\nhello"), Res(OK5)],
        &["GET / -> 200 req=/0 res=hello/5"],
        &[("gap_lost_messages", 1), ("requests_unanswered", 1), ("unmatched_responses", 0)],
    ),
    (
        "lost request keeps its place",
        &[Req(GET), ReqGap(40), Req(b"GET /3 HTTP/1.1\r\n\r\n"), Res(OK5), Res(OK5), Res(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3")],
        &["GET / -> 200 req=/0 res=hello/5", "GET /3 -> 200 req=/0 res=3/1"],
        &[("gap_lost_messages", 1), ("responses_to_lost_requests", 1)],
    ),
    (
        "gap in close-delimited body",
        &[Req(GET), Res(b"HTTP/1.1 200 OK\r\n\r\nab"), ResGap(3), Res(b"f"), Close],
        &["GET / -> 200 req=/0 res=abf/6!"],
        &[],
    ),
    ("unmatched response", &[Res(OK5), Req(GET), Res(OK5)], &["GET / -> 200 req=/0 res=hello/5"], &[("unmatched_responses", 1)]),
    (
        "unanswered at close",
        &[Req(GET), Req(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc"), Close],
        &[],
        &[("requests_unanswered", 2), ("incomplete_at_close", 1), ("requests", 2)],
    ),
    (
        "gzip decoded",
        &[Req(GET), Res(GZ_HELLO)],
        &["GET / -> 200 req=/0 res=hello/25"],
        &[("decode_errors", 0)],
    ),
];

#[test]
fn scripted_cases() {
    for (name, ops, want, counters) in CASES {
        for (bytewise, shared) in [(false, false), (true, false), (false, true), (true, true)] {
            let run = run_fed(HttpLimits::default(), ops, bytewise, shared);
            let got: Vec<String> = run.pairs.iter().map(summary).collect();
            assert_eq!(
                &got, want,
                "case {name:?} (bytewise: {bytewise}, shared: {shared}) {:?}",
                run.counters
            );
            for (counter_name, value) in *counters {
                assert_eq!(
                    counter(&run.counters, counter_name),
                    *value,
                    "case {name:?} counter {counter_name} (bytewise: {bytewise}, shared: {shared}): {:?}",
                    run.counters
                );
            }
            assert_eq!(run.counters.exchanges, want.len() as u64, "case {name:?}");
        }
    }
}

#[test]
fn trailers_and_headers_are_kept() {
    let ops = [Req(GET), Res(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Id: 7\r\n\r\n1\r\na\r\n0\r\nX-Sum: abc\r\n\r\n")];
    let run = run_with(HttpLimits::default(), &ops, false);
    let res = &run.pairs[0].response;
    assert_eq!(
        crate::exchange::header(&res.headers, "x-id"),
        Some(&b"7"[..])
    );
    assert_eq!(res.trailers.len(), 1);
    assert_eq!(
        (res.trailers[0].name.as_str(), &res.trailers[0].value[..]),
        ("X-Sum", &b"abc"[..])
    );
    assert_eq!(run.pairs[0].request.headers[0].name, "Host");
}

#[test]
fn timings_follow_first_and_last_bytes() {
    let ops = [
        Req(b"GET / HT"),
        Req(b"TP/1.1\r\n\r\n"),
        Res(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\na"),
        Res(b"b"),
    ];
    let run = run_with(HttpLimits::default(), &ops, false);
    let t = run.pairs[0].timings;
    assert_eq!(
        (
            t.request_start_ns,
            t.request_end_ns,
            t.response_start_ns,
            t.response_end_ns
        ),
        (0, 10, 20, 30)
    );
}

const GZ_HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 25\r\n\r\n\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9\x07\x00\x86\xa6\x10\x36\x05\x00\x00\x00";

#[test]
fn limits_table() {
    let small = HttpLimits {
        max_header_bytes: 64,
        max_body_kept: 4,
        max_decoded_bytes: 3,
        max_pending_requests: 2,
        max_buffered_bytes: 128,
    };
    let keep_all = HttpLimits {
        max_body_kept: 100,
        ..small.clone()
    };
    let big_head: &'static [u8] = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(100))
        .into_bytes()
        .leak();
    let upgrade_then_flood: &'static [u8] =
        [&b"GET /ws HTTP/1.1\r\nUpgrade: x\r\n\r\n"[..], &[b'z'; 200]]
            .concat()
            .leak();
    type LimitCase<'a> = (
        &'a str,
        &'a HttpLimits,
        Vec<Op>,
        Vec<&'a str>,
        Vec<(&'a str, u64)>,
    );
    let cases: Vec<LimitCase> = vec![
        (
            "body kept prefix",
            &small,
            vec![Req(GET), Res(OK5)],
            vec!["GET / -> 200 req=/0 res=hell/5!"],
            vec![("body_bytes_not_kept", 1)],
        ),
        (
            "pending overflow drops the oldest",
            &small,
            vec![
                Req(b"GET /1 HTTP/1.1\r\n\r\n"),
                Req(b"GET /2 HTTP/1.1\r\n\r\n"),
                Req(b"GET /3 HTTP/1.1\r\n\r\n"),
                Res(OK5),
            ],
            vec!["GET /2 -> 200 req=/0 res=hell/5!"],
            vec![("pending_overflow", 1)],
        ),
        (
            "decode capped",
            &keep_all,
            vec![Req(GET), Res(GZ_HELLO)],
            vec!["GET / -> 200 req=/0 res=hel/25"],
            vec![("decode_capped", 1)],
        ),
        (
            "truncated gzip gives what decodes",
            &small,
            vec![Req(GET), Res(GZ_HELLO)],
            vec!["GET / -> 200 req=/0 res=\u{1f}\u{fffd}\u{8}\u{0}/25!"],
            vec![("decode_errors", 1)],
        ),
        (
            "head over the limit",
            &small,
            vec![Req(big_head), Req(GET), Res(OK5)],
            vec!["GET / -> 200 req=/0 res=hell/5! partial:request"],
            vec![("header_limit_drops", 1), ("salvaged_heads", 1)],
        ),
        (
            "held input while an upgrade is pending is bounded",
            &small,
            vec![Req(upgrade_then_flood), Res(OK5), Req(GET), Res(OK5)],
            vec![
                "GET /ws -> 200 req=/0 res=hell/5!",
                "GET / -> 200 req=/0 res=hell/5!",
            ],
            vec![("buffer_limit_drops", 200), ("upgrades", 0)],
        ),
    ];
    for (name, limits, ops, want, counters) in cases {
        let run = run_with(limits.clone(), &ops, false);
        let got: Vec<String> = run.pairs.iter().map(summary).collect();
        assert_eq!(got, want, "case {name:?}");
        for (counter_name, value) in counters {
            assert_eq!(
                counter(&run.counters, counter_name),
                value,
                "case {name:?} counter {counter_name}: {:?}",
                run.counters
            );
        }
        assert!(
            run.parser.buffered_bytes() <= 2 * 4096 + 2 * 128,
            "case {name:?}"
        );
    }
}

#[test]
fn garbage_is_bounded() {
    let limits = HttpLimits {
        max_buffered_bytes: 1024,
        max_header_bytes: 512,
        ..HttpLimits::default()
    };
    let mut parser = HttpConnectionParser::new(limits);
    let (mut c, mut out) = (HttpCounters::default(), Vec::new());
    // A long line that never ends, and a request that starts but never ends.
    for _ in 0..1000 {
        parser.request_segment(0, Segment::Data(&[b'x'; 100]), &mut c, &mut out);
        parser.response_segment(
            0,
            Segment::Data(b"HTTP/1.1 200 OK\r\nX: yyyyyyyyyyyyyyyyyyyyyyyyy\r\n"),
            &mut c,
            &mut out,
        );
        assert!(
            parser.buffered_bytes() <= 2 * 4096 + 2 * 1024,
            "{}",
            parser.buffered_bytes()
        );
    }
    assert!(c.header_limit_drops > 0);
    assert!(out.is_empty());
}

#[test]
fn start_detection_table() {
    let cases: &[(&str, bool, bool)] = &[
        ("GET / HTTP/1.1", true, false),
        ("OPTIONS * HTTP/1.1", true, false),
        ("CONNECT h:1 HTTP/1.1", true, false),
        ("GETX / HTTP/1.1", false, false),
        ("get / HTTP/1.1", false, false),
        ("GET", false, false),
        ("HTTP/1.1 200 OK", false, true),
        ("HTTP/1.0 200 OK", false, true),
        ("HTTP/2 200", false, false),
        ("", false, false),
    ];
    for (b, req, res) in cases {
        assert_eq!(
            (
                looks_like_request_start(b.as_bytes()),
                looks_like_response_start(b.as_bytes())
            ),
            (*req, *res),
            "{b:?}"
        );
    }
}

#[test]
fn after_close_input_is_ignored() {
    let run = run_with(
        HttpLimits::default(),
        &[Req(GET), Close, Res(OK5), Req(GET)],
        false,
    );
    assert!(run.pairs.is_empty());
    assert_eq!(run.counters.requests_unanswered, 1);
    assert_eq!(run.counters.unmatched_responses, 0);
}

#[test]
fn heads_and_whole_bodies_are_slices_of_their_capture_record() {
    let mut parser = HttpConnectionParser::new(HttpLimits::default());
    let mut c = HttpCounters::default();
    let mut out = Vec::new();
    // A name that is not among the common ones, which are static.
    let request = bytes::Bytes::from_static(b"GET /a HTTP/1.1\r\nX-Tenant: x\r\n\r\n");
    let response = bytes::Bytes::copy_from_slice(OK5);
    parser.share_input(Some(&request));
    parser.request_segment(0, Segment::Data(&request), &mut c, &mut out);
    parser.share_input(Some(&response));
    parser.response_segment(1, Segment::Data(&response), &mut c, &mut out);
    parser.share_input(None);
    let inside = |record: &bytes::Bytes, part: &[u8]| {
        let at = part.as_ptr() as usize;
        let start = record.as_ptr() as usize;
        at >= start && at + part.len() <= start + record.len()
    };
    let pair = &out[0];
    assert!(inside(&request, pair.request.headers[0].name.as_bytes()));
    assert!(inside(&request, &pair.request.headers[0].value));
    assert!(inside(&response, &pair.response.headers[0].value));
    assert_eq!(&pair.response.body.raw[..], b"hello");
    assert!(inside(&response, &pair.response.body.raw));
    // Without the record named, the same bytes are copied.
    let mut parser = HttpConnectionParser::new(HttpLimits::default());
    let mut out = Vec::new();
    parser.request_segment(0, Segment::Data(&request), &mut c, &mut out);
    parser.response_segment(1, Segment::Data(&response), &mut c, &mut out);
    assert!(!inside(&response, &out[0].response.body.raw));
    assert!(!inside(&response, &out[0].response.headers[0].value));
}
