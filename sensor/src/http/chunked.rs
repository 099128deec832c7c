//! Chunked transfer coding (RFC 9112 §7.1): chunk-size lines (extensions
//! ignored), chunk data, and the trailer section. Resumable at any byte:
//! it consumes what it can and asks for more when a line is incomplete.
//!
//! A capture gap that is not inside chunk data (a large write whose tail
//! the capture limit cut, ring buffer loss) does not lose the body: the
//! decoder searches for the next chunk-size line that starts a line, or for
//! the next message start (the body then ended unseen), and keeps what it
//! skips as body bytes, so they are still inspected. Until one whole chunk
//! has framed correctly again, a framing error sends it back to searching.

use super::body::BodyAcc;
use super::message::{find_head_end, parse_trailers};
use super::start::{request_line_start, status_line_start, StartMatch};
use super::stream::Side;
use super::{HttpCounters, HttpError};
use crate::exchange::Header;

/// Longest chunk-size line (with extensions) we wait for.
const MAX_SIZE_LINE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: trailer fields up to a blank line.
    Trailers,
    /// After a gap: searching for a chunk-size line or a message start;
    /// true when the next byte starts a line.
    Resync(bool),
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ChunkStep {
    /// Consumed this many bytes (at least one).
    Consumed(usize),
    /// The input holds only an incomplete line: call again with more.
    NeedMore,
    /// The body ended after this many bytes, with these trailers.
    Done(usize, Vec<Header>),
    /// While resynchronising, a message start was found after this many
    /// bytes: the body ended unseen (truncated).
    Ended(usize),
}

#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// Bytes of an incomplete trailer section already searched.
    scanned: usize,
    /// Whose messages these are (what a message start looks like).
    side: Side,
    /// Framing was found again after a gap but no chunk has been verified
    /// since: an error means "keep searching", not "malformed".
    unverified: bool,
}

impl ChunkedDecoder {
    pub(crate) fn new(side: Side) -> Self {
        Self {
            state: State::Size,
            scanned: 0,
            side,
            unverified: false,
        }
    }

    /// Decodes like `step_framed`; while the framing is unverified after a
    /// gap, an error goes back to searching instead.
    pub(crate) fn step(
        &mut self,
        input: &[u8],
        body: &mut BodyAcc,
        max_trailer_bytes: usize,
        counters: &mut HttpCounters,
    ) -> Result<ChunkStep, HttpError> {
        match self.step_framed(input, body, max_trailer_bytes, counters) {
            Err(_) if self.unverified => {
                // The "size line" found was body data after all: search on
                // from the next line.
                self.state = State::Resync(false);
                self.scanned = 0;
                Ok(ChunkStep::Consumed(0))
            }
            other => other,
        }
    }

    /// Decodes from the start of `input` (which begins where the previous
    /// call stopped consuming), feeding chunk data to `body`.
    fn step_framed(
        &mut self,
        input: &[u8],
        body: &mut BodyAcc,
        max_trailer_bytes: usize,
        counters: &mut HttpCounters,
    ) -> Result<ChunkStep, HttpError> {
        if input.is_empty() {
            return Ok(ChunkStep::NeedMore);
        }
        match self.state {
            State::Size => {
                let Some(nl) = input.iter().position(|&b| b == b'\n') else {
                    return if input.len() > MAX_SIZE_LINE {
                        Err(HttpError::ChunkSize)
                    } else {
                        Ok(ChunkStep::NeedMore)
                    };
                };
                let size = parse_size_line(&input[..nl])?;
                self.state = if size == 0 {
                    State::Trailers
                } else {
                    State::Data(size)
                };
                Ok(ChunkStep::Consumed(nl + 1))
            }
            State::Data(left) => {
                let take = left.min(input.len() as u64) as usize;
                body.data(&input[..take], counters);
                self.state = if left == take as u64 {
                    State::DataEnd
                } else {
                    State::Data(left - take as u64)
                };
                Ok(ChunkStep::Consumed(take))
            }
            State::DataEnd => match crlf(input) {
                Some(0) => Ok(ChunkStep::NeedMore),
                Some(n) => {
                    self.state = State::Size;
                    self.unverified = false;
                    Ok(ChunkStep::Consumed(n))
                }
                None => Err(HttpError::ChunkEnd),
            },
            State::Resync(line_start) => Ok(self.resync(input, line_start, body, counters)),
            State::Trailers => {
                match crlf(input) {
                    Some(0) => return Ok(ChunkStep::NeedMore),
                    Some(n) => return Ok(ChunkStep::Done(n, Vec::new())),
                    None => {}
                }
                match find_head_end(input, self.scanned) {
                    Some(end) if end <= max_trailer_bytes => {
                        let (n, trailers) = parse_trailers(&input[..end])?;
                        Ok(ChunkStep::Done(n, trailers))
                    }
                    Some(_) => Err(HttpError::TooLarge),
                    None if input.len() > max_trailer_bytes => Err(HttpError::TooLarge),
                    None => {
                        self.scanned = input.len();
                        Ok(ChunkStep::NeedMore)
                    }
                }
            }
        }
    }

    /// `n` bytes went by uncaptured. Inside chunk data the sizes are still
    /// known, so the gap only costs body bytes; anywhere else the framing
    /// is searched for again.
    pub(crate) fn gap(&mut self, n: u64, body: &mut BodyAcc, counters: &mut HttpCounters) {
        body.gap(n, counters);
        self.state = match self.state {
            State::Data(left) if n < left => State::Data(left - n),
            State::Data(left) if n == left => State::DataEnd,
            // Whatever follows a gap may start a line (a write boundary).
            _ => {
                self.unverified = true;
                self.scanned = 0;
                State::Resync(true)
            }
        };
    }

    /// Searches `input` for a chunk-size line or a message start at the
    /// beginning of a line. Skipped bytes are kept as body bytes.
    fn resync(
        &mut self,
        input: &[u8],
        line_start: bool,
        body: &mut BodyAcc,
        counters: &mut HttpCounters,
    ) -> ChunkStep {
        let skip = |n: usize, body: &mut BodyAcc, counters: &mut HttpCounters| {
            body.data(&input[..n], counters);
            counters.chunk_resync_skipped_bytes += n as u64;
        };
        for i in 0..input.len() {
            let at_line = if i == 0 {
                line_start
            } else {
                input[i - 1] == b'\n'
            };
            if !at_line {
                continue;
            }
            let rest = &input[i..];
            let start = match self.side {
                Side::Request => request_line_start(rest),
                Side::Response => status_line_start(rest),
            };
            let found = match (chunk_line(rest), start) {
                (_, StartMatch::Yes) => {
                    skip(i, body, counters);
                    body.mark_truncated();
                    return ChunkStep::Ended(i);
                }
                (LineMatch::Yes(size, len), _) => Some((size, len)),
                (LineMatch::NeedMore, _) | (_, StartMatch::NeedMore) => None,
                (LineMatch::No, StartMatch::No) => continue,
            };
            let Some((size, len)) = found else {
                // Possibly a start split across segments: keep it.
                if i == 0 {
                    return ChunkStep::NeedMore;
                }
                skip(i, body, counters);
                self.state = State::Resync(true);
                return ChunkStep::Consumed(i);
            };
            skip(i, body, counters);
            counters.chunk_resyncs += 1;
            self.state = if size == 0 {
                State::Trailers
            } else {
                State::Data(size)
            };
            return ChunkStep::Consumed(i + len);
        }
        skip(input.len(), body, counters);
        self.state = State::Resync(input.last() == Some(&b'\n'));
        ChunkStep::Consumed(input.len())
    }
}

/// Whether `b` starts with a strict chunk-size line (hex digits, optional
/// extensions, CRLF), for resynchronising: its size and length.
#[derive(Debug, PartialEq, Eq)]
enum LineMatch {
    Yes(u64, usize),
    No,
    NeedMore,
}

fn chunk_line(b: &[u8]) -> LineMatch {
    let digits = b
        .iter()
        .take(17)
        .take_while(|x| x.is_ascii_hexdigit())
        .count();
    if digits == 0 || digits > 16 {
        return LineMatch::No;
    }
    let line_end = b.iter().take(MAX_SIZE_LINE).position(|&x| x == b'\n');
    let Some(nl) = line_end else {
        let plausible = b[digits..]
            .iter()
            .all(|&x| x == b';' || x == b'\r' || x.is_ascii_graphic() || x == b' ');
        return if b.len() < MAX_SIZE_LINE && plausible {
            LineMatch::NeedMore
        } else {
            LineMatch::No
        };
    };
    let line = &b[..nl];
    let Some(line) = line.strip_suffix(b"\r") else {
        return LineMatch::No;
    };
    let ext = &line[digits..];
    if !ext.is_empty() && (ext[0] != b';' || ext.iter().any(u8::is_ascii_control)) {
        return LineMatch::No;
    }
    match parse_size_line(line) {
        Ok(size) => LineMatch::Yes(size, nl + 1),
        Err(_) => LineMatch::No,
    }
}

/// Length of a line ending at the start of `b`: `Some(2)` for CRLF,
/// `Some(1)` for a bare LF, `Some(0)` when a lone CR needs one more byte,
/// `None` when `b` does not start with a line ending.
fn crlf(b: &[u8]) -> Option<usize> {
    match b {
        [b'\n', ..] => Some(1),
        [b'\r', b'\n', ..] => Some(2),
        [b'\r'] => Some(0),
        _ => None,
    }
}

/// `1a;ext=v\r` → 26. Extensions are ignored; a size that overflows u64 or
/// a line without hex digits is an error.
fn parse_size_line(line: &[u8]) -> Result<u64, HttpError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 16 {
        return Err(HttpError::ChunkSize);
    }
    let rest = line[digits..].trim_ascii_start();
    if !rest.is_empty() && rest[0] != b';' {
        return Err(HttpError::ChunkSize);
    }
    let hex = std::str::from_utf8(&line[..digits]).map_err(|_| HttpError::ChunkSize)?;
    u64::from_str_radix(hex, 16).map_err(|_| HttpError::ChunkSize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_line_table() {
        let cases: &[(&str, Result<u64, HttpError>)] = &[
            ("0", Ok(0)),
            ("1a\r", Ok(26)),
            ("FF;name=value\r", Ok(255)),
            ("10 ; ext\r", Ok(16)),
            ("ffffffffffffffff", Ok(u64::MAX)),
            ("10000000000000000", Err(HttpError::ChunkSize)),
            ("", Err(HttpError::ChunkSize)),
            ("\r", Err(HttpError::ChunkSize)),
            ("zz\r", Err(HttpError::ChunkSize)),
            ("-1\r", Err(HttpError::ChunkSize)),
            ("1 2\r", Err(HttpError::ChunkSize)),
        ];
        for (line, want) in cases {
            assert_eq!(&parse_size_line(line.as_bytes()), want, "{line:?}");
        }
    }

    /// Decodes `wire` fed in pieces of `step` bytes, keeping unconsumed
    /// bytes like the stream does; returns (body, trailer names, consumed).
    fn decode(wire: &str, step: usize) -> Result<(String, Vec<String>, usize), HttpError> {
        let mut dec = ChunkedDecoder::new(Side::Response);
        let mut body = BodyAcc::new(1 << 20);
        let mut counters = HttpCounters::default();
        let (mut pending, mut consumed) = (Vec::new(), 0);
        for piece in wire.as_bytes().chunks(step.max(1)) {
            pending.extend_from_slice(piece);
            loop {
                match dec.step(&pending, &mut body, 1024, &mut counters)? {
                    ChunkStep::Consumed(n) => {
                        pending.drain(..n);
                        consumed += n;
                    }
                    ChunkStep::NeedMore => break,
                    ChunkStep::Ended(_) => return Err(HttpError::Gap),
                    ChunkStep::Done(n, trailers) => {
                        let raw = body.into_body().raw;
                        let names = trailers.into_iter().map(|h| h.name.into()).collect();
                        return Ok((
                            String::from_utf8_lossy(&raw).into_owned(),
                            names,
                            consumed + n,
                        ));
                    }
                }
            }
        }
        Err(HttpError::Gap) // ran out of input: stands for "incomplete" here
    }

    #[test]
    fn decode_table() {
        type Case = (
            &'static str,
            Result<(&'static str, &'static [&'static str]), HttpError>,
        );
        let cases: &[Case] = &[
            ("0\r\n\r\n", Ok(("", &[]))),
            ("3\r\nabc\r\n0\r\n\r\n", Ok(("abc", &[]))),
            ("3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", Ok(("abcde", &[]))),
            ("3\nabc\n0\n\n", Ok(("abc", &[]))),
            (
                "3\r\nabc\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n",
                Ok(("abc", &["X-Sum", "Y"])),
            ),
            ("3\r\nabcX\r\n0\r\n\r\n", Err(HttpError::ChunkEnd)),
            ("q\r\n", Err(HttpError::ChunkSize)),
            (
                "3\r\nabc\r\n0\r\nbad trailer\r\n\r\n",
                Err(HttpError::Head(httparse::Error::HeaderName)),
            ),
            ("3\r\nabc\r\n", Err(HttpError::Gap)),
        ];
        for (wire, want) in cases {
            for step in [1, 2, 7, wire.len()] {
                let got = decode(wire, step);
                let got = got.as_ref().map(|(b, t, n)| {
                    (
                        b.as_str(),
                        t.iter().map(String::as_str).collect::<Vec<_>>(),
                        *n,
                    )
                });
                let want = want.as_ref().map(|(b, t)| (*b, t.to_vec(), wire.len()));
                assert_eq!(got, want, "{wire:?} in pieces of {step}");
            }
        }
    }

    #[test]
    fn size_line_and_trailers_are_bounded() {
        let long = format!("1;{}", "e".repeat(MAX_SIZE_LINE + 1));
        assert_eq!(decode(&long, 100), Err(HttpError::ChunkSize));
        let trailers = format!("0\r\nX: {}\r\n\r\n", "v".repeat(2000));
        assert_eq!(decode(&trailers, 100), Err(HttpError::TooLarge));
    }

    #[test]
    fn gap_inside_chunk_data_is_absorbed() {
        let mut dec = ChunkedDecoder::new(Side::Response);
        let mut body = BodyAcc::new(100);
        let mut c = HttpCounters::default();
        assert_eq!(
            dec.step(b"a\r\n", &mut body, 100, &mut c),
            Ok(ChunkStep::Consumed(3))
        );
        dec.gap(4, &mut body, &mut c);
        dec.gap(6, &mut body, &mut c);
        assert_eq!(dec.state, State::DataEnd);
        assert_eq!(
            dec.step(b"\r\n0\r\n\r\n", &mut body, 100, &mut c),
            Ok(ChunkStep::Consumed(2))
        );
        assert_eq!(body.into_body().wire_len, 10);
        assert_eq!(c.gap_bytes_in_body, 10);
    }

    /// Feeds `pieces` (None: a gap of that many bytes) and returns the kept
    /// body (prefix and tail) and how the body ended.
    fn after_gaps(pieces: &[(Option<&str>, u64)]) -> (String, String, Option<ChunkStep>) {
        let mut dec = ChunkedDecoder::new(Side::Response);
        let mut body = BodyAcc::new(1 << 10);
        let mut c = HttpCounters::default();
        let mut pending = Vec::new();
        let mut end = None;
        'feed: for (piece, gap) in pieces {
            match piece {
                Some(p) => pending.extend_from_slice(p.as_bytes()),
                None => {
                    pending.clear();
                    dec.gap(*gap, &mut body, &mut c);
                    continue;
                }
            }
            loop {
                match dec.step(&pending, &mut body, 1024, &mut c) {
                    Ok(ChunkStep::Consumed(n)) => {
                        pending.drain(..n);
                    }
                    Ok(ChunkStep::NeedMore) => break,
                    Ok(other) => {
                        end = Some(other);
                        break 'feed;
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }
        let b = body.into_body();
        (
            String::from_utf8_lossy(&b.raw).into_owned(),
            String::from_utf8_lossy(&b.tail).into_owned(),
            end,
        )
    }

    #[test]
    fn gap_across_chunks_resynchronises() {
        // (pieces, kept body, how it ended)
        type Case = (
            &'static [(Option<&'static str>, u64)],
            &'static str,
            Option<ChunkStep>,
        );
        let cases: &[Case] = &[
            // A write cut by the capture limit: the rest of its chunk and
            // the CRLF are a gap; the next write starts with a size line.
            (
                &[
                    (Some("5\r\nab"), 0),
                    (None, 5),
                    (Some("6\r\nsecret\r\n0\r\n\r\n"), 0),
                ],
                "absecret",
                Some(ChunkStep::Done(2, Vec::new())),
            ),
            // A gap that lands mid-data: skipped text is kept, the next
            // size line after a CRLF is found.
            (
                &[
                    (Some("5\r\nab"), 0),
                    (None, 9),
                    (Some("xyz\r\n3\r\nkey\r\n0\r\n\r\n"), 0),
                ],
                "abxyz\r\nkey",
                Some(ChunkStep::Done(2, Vec::new())),
            ),
            // A false size line (hex text in the body) does not verify.
            (
                &[
                    (None, 3),
                    (Some("a\r\nnot a chunk end"), 0),
                    (Some("\r\n2\r\nok\r\n0\r\n\r\n"), 0),
                ],
                "not a chunk end\r\nok",
                Some(ChunkStep::Done(2, Vec::new())),
            ),
            // The next response starts: the body ended unseen.
            (
                &[
                    (Some("5\r\nab"), 0),
                    (None, 50),
                    (Some("tail\r\nHTTP/1.1 200 OK\r\n"), 0),
                ],
                "abtail\r\n",
                Some(ChunkStep::Ended(6)),
            ),
        ];
        for (pieces, want_body, want_end) in cases {
            let (raw, _, end) = after_gaps(pieces);
            assert_eq!((raw.as_str(), &end), (*want_body, want_end), "{pieces:?}");
        }
    }

    #[test]
    fn chunk_line_table() {
        let cases: &[(&str, LineMatch)] = &[
            ("1a\r\nxx", LineMatch::Yes(26, 4)),
            ("1a;n=v\r\n", LineMatch::Yes(26, 8)),
            ("1a\n", LineMatch::No),
            ("1a", LineMatch::NeedMore),
            ("zz\r\n", LineMatch::No),
            ("12 apples\r\n", LineMatch::No),
        ];
        for (b, want) in cases {
            assert_eq!(&chunk_line(b.as_bytes()), want, "{b:?}");
        }
    }
}
