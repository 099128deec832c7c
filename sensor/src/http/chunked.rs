//! Chunked transfer coding (RFC 9112 §7.1): chunk-size lines (extensions
//! ignored), chunk data, and the trailer section. Resumable at any byte:
//! it consumes what it can and asks for more when a line is incomplete.

use super::body::BodyAcc;
use super::message::{find_head_end, parse_trailers};
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
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ChunkStep {
    /// Consumed this many bytes (at least one).
    Consumed(usize),
    /// The input holds only an incomplete line: call again with more.
    NeedMore,
    /// The body ended after this many bytes, with these trailers.
    Done(usize, Vec<Header>),
}

#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// Bytes of an incomplete trailer section already searched.
    scanned: usize,
}

impl ChunkedDecoder {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Size,
            scanned: 0,
        }
    }

    /// Decodes from the start of `input` (which begins where the previous
    /// call stopped consuming), feeding chunk data to `body`.
    pub(crate) fn step(
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
                    Ok(ChunkStep::Consumed(n))
                }
                None => Err(HttpError::ChunkEnd),
            },
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
    /// is lost.
    pub(crate) fn gap(
        &mut self,
        n: u64,
        body: &mut BodyAcc,
        counters: &mut HttpCounters,
    ) -> Result<(), HttpError> {
        match self.state {
            State::Data(left) if n <= left => {
                body.gap(n, counters);
                self.state = if n == left {
                    State::DataEnd
                } else {
                    State::Data(left - n)
                };
                Ok(())
            }
            _ => Err(HttpError::Gap),
        }
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
        let mut dec = ChunkedDecoder::new();
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
                    ChunkStep::Done(n, trailers) => {
                        let raw = body.into_body().raw;
                        let names = trailers.into_iter().map(|h| h.name).collect();
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
        let mut dec = ChunkedDecoder::new();
        let mut body = BodyAcc::new(100);
        let mut c = HttpCounters::default();
        assert_eq!(
            dec.step(b"a\r\n", &mut body, 100, &mut c),
            Ok(ChunkStep::Consumed(3))
        );
        assert_eq!(dec.gap(4, &mut body, &mut c), Ok(()));
        assert_eq!(dec.gap(7, &mut body, &mut c), Err(HttpError::Gap));
        assert_eq!(dec.gap(6, &mut body, &mut c), Ok(()));
        assert_eq!(dec.gap(1, &mut body, &mut c), Err(HttpError::Gap));
        assert_eq!(
            dec.step(b"\r\n0\r\n\r\n", &mut body, 100, &mut c),
            Ok(ChunkStep::Consumed(2))
        );
        assert_eq!(body.into_body().wire_len, 10);
        assert_eq!(c.gap_bytes_in_body, 10);
    }
}
