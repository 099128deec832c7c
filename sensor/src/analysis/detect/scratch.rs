//! The buffers one scan fills and empties (keyword hits, digit runs,
//! match spans, the merge index), kept by the caller between exchanges:
//! an exchange with findings then allocates none of them again, and a
//! clean one, which fills none, pays nothing for them. A buffer a
//! findings-heavy document grew is let go after its scan (dropped, not
//! shrunk: shrinking copies).

use super::merge_index::MergeIndex;

/// Entries a kept buffer may hold room for.
const MAX_KEPT: usize = 1024;

#[derive(Default)]
pub struct Scratch {
    /// Keyword hits of a JSON body: (start, end, pattern).
    pub(super) hits: Vec<(usize, usize, usize)>,
    /// Digit runs of a JSON body.
    pub(super) runs: Vec<(usize, usize)>,
    /// Match spans of the rule being run.
    pub(super) spans: Vec<(usize, usize)>,
    pub(super) merged: MergeIndex,
}

impl Scratch {
    /// Emptied for the next scan, and bounded.
    pub(super) fn reset(&mut self) {
        fn bound<T>(v: &mut Vec<T>) {
            if v.capacity() > MAX_KEPT {
                *v = Vec::new();
            } else {
                v.clear();
            }
        }
        bound(&mut self.hits);
        bound(&mut self.runs);
        bound(&mut self.spans);
        self.merged.clear(MAX_KEPT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_set_is_empty_and_bounded() {
        let mut s = Scratch::default();
        s.hits.extend((0..5000).map(|i| (i, i + 1, 0)));
        s.runs.push((1, 2));
        s.spans.push((3, 4));
        s.reset();
        assert!(s.hits.is_empty() && s.runs.is_empty() && s.spans.is_empty());
        assert_eq!(s.hits.capacity(), 0, "let go");
        assert!(s.runs.capacity() >= 1, "kept, not made anew");
    }
}
