use super::*;

/// An owned segment, to compare what was emitted.
#[derive(Debug, PartialEq, Eq)]
enum Seg {
    D(&'static str),
    G(u64),
}

/// (stream_offset, data, syscall_offset, syscall_len)
type In = (u64, &'static str, u64, u64);

fn run(chunks: &[In], flush: bool) -> (Vec<Seg>, StreamReassembler) {
    let mut r = StreamReassembler::new();
    let mut got: Vec<Seg> = Vec::new();
    let mut sink = |s: Segment<'_>| match s {
        Segment::Data(d) => {
            let text = String::from_utf8(d.to_vec()).expect("test data is UTF-8");
            got.push(Seg::D(Box::leak(text.into_boxed_str())));
        }
        Segment::Gap(n) => got.push(Seg::G(n)),
    };
    for &(stream_offset, data, syscall_offset, syscall_len) in chunks {
        let chunk = Chunk {
            stream_offset,
            data: data.as_bytes(),
            syscall_offset,
            syscall_len,
        };
        r.push(chunk, &mut sink);
    }
    if flush {
        r.flush_tail(&mut sink);
    }
    (got, r)
}

#[test]
fn segments_table() {
    use Seg::{D, G};
    let cases: &[(&str, &[In], bool, &[Seg])] = &[
        (
            "in order",
            &[(0, "abc", 0, 3), (3, "de", 3, 2)],
            false,
            &[D("abc"), D("de")],
        ),
        (
            "joined mid-stream is no gap",
            &[(1000, "abc", 1000, 3)],
            false,
            &[D("abc")],
        ),
        (
            "lost chunk between",
            &[(0, "ab", 0, 2), (5, "f", 5, 1)],
            false,
            &[D("ab"), G(3), D("f")],
        ),
        (
            "syscall tail uncaptured, emitted lazily",
            &[(0, "ab", 0, 10), (10, "z", 10, 1)],
            false,
            &[D("ab"), G(8), D("z")],
        ),
        (
            "syscall tail flushed",
            &[(0, "ab", 0, 10)],
            true,
            &[D("ab"), G(8)],
        ),
        (
            "syscall in several chunks",
            &[(0, "ab", 0, 4), (2, "cd", 0, 4)],
            true,
            &[D("ab"), D("cd")],
        ),
        (
            "zero-byte chunk is a gap at once",
            &[(0, "ab", 0, 2), (2, "", 2, 100), (102, "x", 102, 1)],
            false,
            &[D("ab"), G(100), D("x")],
        ),
        (
            "zero-byte chunk first",
            &[(7, "", 7, 5), (12, "x", 12, 1)],
            false,
            &[G(5), D("x")],
        ),
        (
            "duplicate dropped",
            &[(0, "abc", 0, 3), (0, "abc", 0, 3)],
            false,
            &[D("abc")],
        ),
        (
            "overlap trimmed",
            &[(0, "abc", 0, 3), (1, "bcde", 1, 4)],
            false,
            &[D("abc"), D("de")],
        ),
        (
            "late bytes after a gap stay a gap",
            &[(0, "a", 0, 1), (3, "d", 3, 1), (1, "bc", 1, 2)],
            false,
            &[D("a"), G(2), D("d")],
        ),
        (
            "flush with nothing missing",
            &[(0, "abc", 0, 3)],
            true,
            &[D("abc")],
        ),
        ("flush before any chunk", &[], true, &[]),
        (
            "empty chunk of empty syscall",
            &[(0, "a", 0, 1), (1, "", 1, 0)],
            true,
            &[D("a")],
        ),
        (
            "huge offsets saturate",
            &[(u64::MAX - 1, "a", u64::MAX - 1, u64::MAX)],
            true,
            &[D("a")],
        ),
    ];
    for (name, chunks, flush, want) in cases {
        let (got, _) = run(chunks, *flush);
        assert_eq!(&got, want, "case {name}");
    }
}

#[test]
fn counters_table() {
    // (name, chunks, flush, gaps, gap_bytes, late_chunks, overlap_bytes, data_bytes, next)
    type Case = (
        &'static str,
        &'static [In],
        bool,
        u64,
        u64,
        u64,
        u64,
        u64,
        Option<u64>,
    );
    let cases: &[Case] = &[
        ("nothing", &[], false, 0, 0, 0, 0, 0, None),
        (
            "in order",
            &[(5, "abc", 5, 3)],
            false,
            0,
            0,
            0,
            0,
            3,
            Some(8),
        ),
        (
            "gap",
            &[(0, "a", 0, 1), (4, "b", 4, 1)],
            false,
            1,
            3,
            0,
            0,
            2,
            Some(5),
        ),
        (
            "overlap",
            &[(0, "abc", 0, 3), (2, "cd", 2, 2)],
            false,
            0,
            0,
            1,
            1,
            4,
            Some(4),
        ),
        (
            "duplicate",
            &[(0, "ab", 0, 2), (0, "ab", 0, 2)],
            false,
            0,
            0,
            1,
            2,
            2,
            Some(2),
        ),
        ("tail", &[(0, "ab", 0, 6)], true, 1, 4, 0, 0, 2, Some(6)),
    ];
    for (name, chunks, flush, gaps, gap_bytes, late, overlap, data, next) in cases {
        let (_, r) = run(chunks, *flush);
        let c = r.counters();
        assert_eq!(
            (
                c.gaps,
                c.gap_bytes,
                c.late_chunks,
                c.overlap_bytes,
                c.data_bytes,
                r.next_offset()
            ),
            (*gaps, *gap_bytes, *late, *overlap, *data, *next),
            "case {name}"
        );
        assert_eq!(c.chunks, chunks.len() as u64, "case {name}");
    }
}

#[test]
fn every_offset_reported_once() {
    // Whatever the chunks, data plus gap bytes equal the stream's extent.
    let chunks: &[In] = &[
        (10, "ab", 10, 5),
        (16, "c", 15, 3),
        (12, "zz", 10, 5),
        (30, "", 30, 4),
        (40, "q", 40, 9),
    ];
    let (got, r) = run(chunks, true);
    let total: u64 = got
        .iter()
        .map(|s| match s {
            Seg::D(d) => d.len() as u64,
            Seg::G(n) => *n,
        })
        .sum();
    assert_eq!(Some(10 + total), r.next_offset());
    assert_eq!(r.next_offset(), Some(49));
}
