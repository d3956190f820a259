//! The `line` framing: LF or CR LF terminated lines, each answered with its reversal.
//!
//! # Mechanism
//!
//! Most lines arrive whole inside one read, so [`LineFramer::decode`] answers them straight out
//! of the caller's input slice (found with `memchr`) without copying them anywhere. Only a line
//! cut by a read boundary is copied into `partial`, and only its bytes so far; when its LF
//! arrives the line is answered from `partial`, which is then *replaced* by an empty `Vec`
//! rather than cleared. That costs one allocation per line that straddles reads, and buys the
//! promise that matters at ten thousand connections: an idle connection's framer owns no heap
//! memory at all.
//!
//! # Limits
//!
//! The content of a line (without its terminator) may be at most `max_line` bytes. The check
//! is made as bytes arrive, not when the LF finally comes, so `partial` never holds more than
//! `max_line + 1` bytes: the one extra byte is a trailing CR, which may turn out to be part of
//! a CR LF terminator rather than content. Detecting the violation early is also what lets the
//! connection stop reading a multi-gigabyte "line" after 64 KiB.
//!
//! # End of input
//!
//! An unterminated tail is a line like any other: it is answered with its reversal (without a
//! terminator, as it had none), it may be `exit`, and it may be too long. A CR at the end of a
//! tail is content, since no LF follows it.

use super::reverse::reverse_content;
use super::{CloseReason, Decoded};

/// What the client must send to have the connection closed.
const EXIT: &[u8] = b"exit";

/// Decoder for the `line` framing. See the [module docs](self).
#[derive(Debug)]
pub struct LineFramer {
    max_line: usize,
    /// Bytes of a line whose LF has not arrived yet; no capacity when there are none.
    partial: Vec<u8>,
    closed: bool,
}

/// What to do with one complete line.
enum Line {
    Reply,
    Exit,
    TooLong,
}

impl LineFramer {
    /// A decoder that accepts line contents of at most `max_line` bytes.
    pub fn new(max_line: usize) -> LineFramer {
        LineFramer {
            max_line,
            partial: Vec::new(),
            closed: false,
        }
    }

    // ANCHOR: decode
    /// Consumes all of `input`, appending the replies to every line it completes to `out`.
    pub fn decode(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Decoded {
        let mut done = Decoded::default();
        if self.closed {
            return done;
        }

        if !self.partial.is_empty() {
            match memchr::memchr(b'\n', input) {
                None => {
                    self.buffer_tail(input, out, &mut done);
                    return done;
                }
                Some(lf) => {
                    let (head, rest) = input.split_at(lf + 1);
                    input = rest;
                    // Judge the length before copying: a too-long line is not worth buffering.
                    let cr = if lf > 0 {
                        head[lf - 1] == b'\r'
                    } else {
                        self.partial.last() == Some(&b'\r')
                    };
                    let content_len = self.partial.len() + lf - usize::from(cr);
                    if content_len > self.max_line {
                        self.too_long(out, &mut done);
                        return done;
                    }
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(head);
                    if !self.answer(&line, out, &mut done) {
                        return done;
                    }
                }
            }
        }

        while let Some(lf) = memchr::memchr(b'\n', input) {
            let (line, rest) = input.split_at(lf + 1);
            input = rest;
            if !self.answer(line, out, &mut done) {
                return done;
            }
        }

        self.buffer_tail(input, out, &mut done);
        done
    }
    // ANCHOR_END: decode

    /// End of input: answers a non-empty unterminated tail, then closes.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Decoded {
        let mut done = Decoded::default();
        if self.closed {
            return done;
        }
        let tail = std::mem::take(&mut self.partial);
        if !tail.is_empty() {
            match self.classify(&tail) {
                Line::TooLong => {
                    self.too_long(out, &mut done);
                    return done;
                }
                Line::Exit => {
                    self.close(CloseReason::Exit, &mut done);
                    return done;
                }
                Line::Reply => {
                    reverse_content(&tail, out);
                    done.replies += 1;
                }
            }
        }
        self.close(CloseReason::Eof, &mut done);
        done
    }

    /// Whether the framer has decided to close.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Bytes held for a line whose LF has not arrived.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Heap bytes owned by the framer; zero whenever no line is half-received.
    pub fn heap_capacity(&self) -> usize {
        self.partial.capacity()
    }

    /// Answers one line including its LF; returns false if the connection is to be closed.
    fn answer(&mut self, line: &[u8], out: &mut Vec<u8>, done: &mut Decoded) -> bool {
        let terminator_len = if line.ends_with(b"\r\n") { 2 } else { 1 };
        let (content, terminator) = line.split_at(line.len() - terminator_len);
        match self.classify(content) {
            Line::Reply => {
                reverse_content(content, out);
                out.extend_from_slice(terminator);
                done.replies += 1;
                true
            }
            Line::Exit => {
                self.close(CloseReason::Exit, done);
                false
            }
            Line::TooLong => {
                self.too_long(out, done);
                false
            }
        }
    }

    fn classify(&self, content: &[u8]) -> Line {
        if content.len() > self.max_line {
            Line::TooLong
        } else if content == EXIT {
            Line::Exit
        } else {
            Line::Reply
        }
    }

    // ANCHOR: buffer_tail
    /// Keeps the bytes after the last LF, unless they already prove the line too long.
    fn buffer_tail(&mut self, tail: &[u8], out: &mut Vec<u8>, done: &mut Decoded) {
        if tail.is_empty() {
            return;
        }
        let held = self.partial.len() + tail.len();
        // `held` bytes with no LF yet: all of them are content, except a final CR that a
        // following LF would turn into a terminator.
        let ends_in_cr = tail.last() == Some(&b'\r');
        let least_content = held - usize::from(ends_in_cr);
        if least_content > self.max_line {
            self.too_long(out, done);
            return;
        }
        self.partial.extend_from_slice(tail);
    }
    // ANCHOR_END: buffer_tail

    fn too_long(&mut self, out: &mut Vec<u8>, done: &mut Decoded) {
        use std::io::Write;
        // Writing into a Vec cannot fail.
        let _ = writeln!(out, "error: line longer than {} bytes", self.max_line);
        self.close(CloseReason::LineTooLong, done);
    }

    // ANCHOR: close
    fn close(&mut self, reason: CloseReason, done: &mut Decoded) {
        self.closed = true;
        self.partial = Vec::new();
        done.close = Some(reason);
    }
    // ANCHOR_END: close
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `chunks` one after the other, then finishes (unless closed before), like a
    /// connection would; returns the output and the close reason.
    fn run(max_line: usize, chunks: &[&[u8]]) -> (Vec<u8>, Option<CloseReason>, u64) {
        let mut f = LineFramer::new(max_line);
        let mut out = Vec::new();
        let mut replies = 0;
        for chunk in chunks {
            let d = f.decode(chunk, &mut out);
            replies += d.replies;
            assert!(
                f.pending() <= max_line + 1,
                "buffered more than max_line + 1"
            );
            if let Some(reason) = d.close {
                assert!(f.is_closed());
                assert_eq!(f.heap_capacity(), 0);
                return (out, Some(reason), replies);
            }
        }
        let d = f.finish(&mut out);
        replies += d.replies;
        assert_eq!(f.heap_capacity(), 0);
        (out, d.close, replies)
    }

    fn whole(input: &[u8]) -> (Vec<u8>, Option<CloseReason>, u64) {
        run(65536, &[input])
    }

    #[test]
    fn reverses_ascii_lines() {
        assert_eq!(whole(b"hello\n").0, b"olleh\n");
        assert_eq!(whole(b"hello\nworld\n").0, b"olleh\ndlrow\n");
    }

    #[test]
    fn reverses_utf8_by_char_and_invalid_by_byte() {
        assert_eq!(whole("héllo\n".as_bytes()).0, "olléh\n".as_bytes());
        assert_eq!(whole(b"a\xff\xfeb\n").0, b"b\xfe\xffa\n");
    }

    #[test]
    fn keeps_each_lines_terminator() {
        assert_eq!(whole(b"ab\r\ncd\nef\r\n").0, b"ba\r\ndc\nfe\r\n");
    }

    #[test]
    fn lone_cr_is_content() {
        assert_eq!(whole(b"a\rb\n").0, b"b\ra\n");
        assert_eq!(whole(b"\r\r\n").0, b"\r\r\n");
    }

    #[test]
    fn empty_lines_get_empty_lines() {
        assert_eq!(whole(b"\n\r\n\n").0, b"\n\r\n\n");
        let (out, close, replies) = whole(b"\n\n\n");
        assert_eq!(
            (out, close, replies),
            (b"\n\n\n".to_vec(), Some(CloseReason::Eof), 3)
        );
    }

    #[test]
    fn crlf_split_between_reads() {
        assert_eq!(run(100, &[b"ab\r", b"\ncd\r", b"\n"]).0, b"ba\r\ndc\r\n");
        assert_eq!(run(100, &[b"ab", b"\r", b"\n"]).0, b"ba\r\n");
    }

    #[test]
    fn a_line_one_byte_per_read() {
        let input = "héllo wörld\r\n".as_bytes();
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(100, &chunks).0, "dlröw olléh\r\n".as_bytes());
    }

    #[test]
    fn many_lines_in_one_read_are_answered_in_order() {
        let input: Vec<u8> = (0..1000)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let expected: Vec<u8> = (0..1000)
            .flat_map(|i| {
                let mut s: Vec<u8> = format!("{i}").into_bytes();
                s.reverse();
                s.push(b'\n');
                s
            })
            .collect();
        let (out, _, replies) = whole(&input);
        assert_eq!(out, expected);
        assert_eq!(replies, 1000);
    }

    #[test]
    fn exit_closes_after_earlier_replies_and_discards_the_rest() {
        let (out, close, replies) = whole(b"ab\nexit\ncd\n");
        assert_eq!(out, b"ba\n");
        assert_eq!(close, Some(CloseReason::Exit));
        assert_eq!(replies, 1);
        assert_eq!(whole(b"exit\r\n").1, Some(CloseReason::Exit));
        // Only exactly `exit`:
        assert_eq!(whole(b"exit \n").0, b" tixe\n");
        assert_eq!(whole(b"EXIT\n").0, b"TIXE\n");
    }

    // ANCHOR: exit_split_across_reads
    #[test]
    fn exit_split_across_reads() {
        let (out, close, _) = run(100, &[b"a\nex", b"it", b"\nb\n"]);
        assert_eq!(out, b"a\n");
        assert_eq!(close, Some(CloseReason::Exit));
    }
    // ANCHOR_END: exit_split_across_reads

    #[test]
    fn input_after_close_is_ignored() {
        let mut f = LineFramer::new(10);
        let mut out = Vec::new();
        assert_eq!(f.decode(b"exit\n", &mut out).close, Some(CloseReason::Exit));
        assert_eq!(f.decode(b"more\n", &mut out), Decoded::default());
        assert_eq!(f.finish(&mut out), Decoded::default());
        assert!(out.is_empty());
    }

    #[test]
    fn too_long_line_gets_error_after_earlier_replies() {
        let (out, close, replies) = run(4, &[b"ab\nabcde\nzz\n"]);
        assert_eq!(out, b"ba\nerror: line longer than 4 bytes\n");
        assert_eq!(close, Some(CloseReason::LineTooLong));
        assert_eq!(replies, 1);
    }

    #[test]
    fn line_of_exactly_max_line_is_fine_with_either_terminator() {
        assert_eq!(run(4, &[b"abcd\n"]).0, b"dcba\n");
        assert_eq!(run(4, &[b"abcd\r\n"]).0, b"dcba\r\n");
        // The CR is held back (max_line + 1 bytes) until the LF shows it is a terminator.
        assert_eq!(run(4, &[b"abcd\r", b"\n"]).0, b"dcba\r\n");
        assert_eq!(run(4, &[b"ab", b"cd", b"\r", b"\n"]).0, b"dcba\r\n");
    }

    #[test]
    fn too_long_is_detected_before_the_lf_arrives() {
        let mut f = LineFramer::new(4);
        let mut out = Vec::new();
        assert_eq!(f.decode(b"abcd", &mut out).close, None);
        let d = f.decode(b"e", &mut out);
        assert_eq!(d.close, Some(CloseReason::LineTooLong));
        assert_eq!(out, b"error: line longer than 4 bytes\n");
        // A CR that is followed by content is content.
        let (out, close, _) = run(4, &[b"abcd\r", b"x"]);
        assert_eq!(close, Some(CloseReason::LineTooLong));
        assert_eq!(out, b"error: line longer than 4 bytes\n");
    }

    #[test]
    fn never_buffers_more_than_max_line_plus_cr() {
        let mut f = LineFramer::new(65536);
        let mut out = Vec::new();
        let chunk = [b'x'; 1000];
        for _ in 0..65 {
            assert_eq!(f.decode(&chunk, &mut out).close, None);
        }
        assert_eq!(f.pending(), 65000);
        assert_eq!(
            f.decode(&chunk, &mut out).close,
            Some(CloseReason::LineTooLong)
        );
        assert_eq!(f.pending(), 0);
        assert_eq!(out, b"error: line longer than 65536 bytes\n");
    }

    #[test]
    fn eof_answers_unterminated_tail_without_terminator() {
        assert_eq!(whole(b"abc"), (b"cba".to_vec(), Some(CloseReason::Eof), 1));
        assert_eq!(whole(b"x\nabc").0, b"x\ncba");
        // A CR with no LF after it is content.
        assert_eq!(whole(b"abc\r").0, b"\rcba");
        // An `exit` tail closes without a reply; a too-long tail gets the error.
        assert_eq!(
            whole(b"a\nexit"),
            (b"a\n".to_vec(), Some(CloseReason::Exit), 1)
        );
        assert_eq!(run(2, &[b"ab\r"]).0, b"error: line longer than 2 bytes\n");
    }

    #[test]
    fn eof_with_nothing_pending_sends_nothing() {
        assert_eq!(whole(b""), (Vec::new(), Some(CloseReason::Eof), 0));
        assert_eq!(whole(b"a\n").0, b"a\n");
    }

    #[test]
    fn idle_framer_owns_no_memory() {
        let mut f = LineFramer::new(100);
        let mut out = Vec::new();
        let _ = f.decode(b"half a li", &mut out);
        assert!(f.heap_capacity() > 0);
        let _ = f.decode(b"ne\n", &mut out);
        assert_eq!(f.heap_capacity(), 0);
        assert_eq!(out, b"enil a flah\n");
    }

    /// The reference model: the whole input at once, the protocol read literally.
    fn model(input: &[u8], max_line: usize) -> Vec<u8> {
        fn reverse(content: &[u8]) -> Vec<u8> {
            match std::str::from_utf8(content) {
                Ok(s) => s.chars().rev().collect::<String>().into_bytes(),
                Err(_) => content.iter().rev().copied().collect(),
            }
        }
        let mut out = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let (content, terminator, next): (&[u8], &[u8], &[u8]) =
                match rest.iter().position(|&b| b == b'\n') {
                    Some(i) if i > 0 && rest[i - 1] == b'\r' => {
                        (&rest[..i - 1], b"\r\n", &rest[i + 1..])
                    }
                    Some(i) => (&rest[..i], b"\n", &rest[i + 1..]),
                    None => (rest, b"", &[]),
                };
            if content.len() > max_line {
                out.extend_from_slice(
                    format!("error: line longer than {max_line} bytes\n").as_bytes(),
                );
                break;
            }
            if content == b"exit" {
                break;
            }
            out.extend(reverse(content));
            out.extend_from_slice(terminator);
            rest = next;
        }
        out
    }

    /// Input built from pieces that exercise every rule: multi-byte characters (whose bytes a
    /// chunk boundary may split), invalid bytes, CR, LF, CR LF and `exit`.
    fn input_strategy() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            4 => proptest::sample::select(vec![b'a', b'b', b'z', b' ']).prop_map(|b| vec![b]),
            2 => Just(b"\n".to_vec()),
            1 => Just(b"\r\n".to_vec()),
            1 => Just(b"\r".to_vec()),
            1 => Just("é".as_bytes().to_vec()),
            1 => Just("🦀".as_bytes().to_vec()),
            1 => Just(vec![0xff]),
            1 => Just(vec![0xc3]),
            1 => Just(b"exit".to_vec()),
            1 => Just(b"exit\n".to_vec()),
        ];
        proptest::collection::vec(piece, 0..60).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        // ANCHOR: any_chunking
        #[test]
        fn any_chunking_matches_the_model(
            input in input_strategy(),
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..20),
            max_line in 0usize..24,
        ) {
            let chunks = crate::framing::cut_at(&input, &cuts);
            let (out, _, _) = run(max_line, &chunks);
            prop_assert_eq!(out, model(&input, max_line));
        }
        // ANCHOR_END: any_chunking

        #[test]
        fn one_byte_at_a_time_matches_the_model(input in input_strategy(), max_line in 0usize..24) {
            let chunks: Vec<&[u8]> = input.chunks(1).collect();
            let (out, _, _) = run(max_line, &chunks);
            prop_assert_eq!(out, model(&input, max_line));
        }
    }
}
