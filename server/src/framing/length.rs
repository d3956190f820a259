//! The `length` framing: a 4-byte big-endian length `N`, then `N` bytes; the reply is a frame
//! of the same length with the bytes in reverse order.
//!
//! # Mechanism
//!
//! The decoder is a two-state machine: collecting the 4 header bytes (kept in a fixed array,
//! so a header cut by a read boundary costs nothing), then collecting the body. A body that is
//! entirely inside one input slice is answered straight from it. A body cut by a read boundary
//! is copied into `body`, which grows as bytes arrive instead of being reserved at `N` up front:
//! a client announcing a 1 MiB frame and sending nothing more then holds a few bytes, not a
//! mebibyte. As with the line framing, `body` is replaced (not cleared) once answered, so an
//! idle connection's framer owns no heap memory.
//!
//! A header announcing more than `max_frame` bytes closes the connection at once, without a
//! reply and without reading the body. End of input inside a header or body closes without a
//! reply to that frame.

use super::{CloseReason, Decoded};

const HEADER: usize = 4;

/// Decoder for the `length` framing. See the [module docs](self).
#[derive(Debug)]
pub struct LengthFramer {
    max_frame: usize,
    header: [u8; HEADER],
    /// How many bytes of `header` have arrived; `HEADER` while collecting the body.
    header_len: u8,
    /// Announced body length of the frame being collected.
    body_len: usize,
    /// Body bytes so far, when the body straddles reads; no capacity otherwise.
    body: Vec<u8>,
    closed: bool,
}

impl LengthFramer {
    /// A decoder that accepts frame bodies of at most `max_frame` bytes.
    pub fn new(max_frame: usize) -> LengthFramer {
        LengthFramer {
            max_frame,
            header: [0; HEADER],
            header_len: 0,
            body_len: 0,
            body: Vec::new(),
            closed: false,
        }
    }

    /// Consumes all of `input`, appending the replies to every frame it completes to `out`.
    pub fn decode(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Decoded {
        let mut done = Decoded::default();
        while !input.is_empty() && !self.closed {
            let have = usize::from(self.header_len);
            if have < HEADER {
                let take = (HEADER - have).min(input.len());
                self.header[have..have + take].copy_from_slice(&input[..take]);
                input = &input[take..];
                // `take` is at most 4.
                self.header_len += take as u8;
                if usize::from(self.header_len) < HEADER {
                    break;
                }
                // u32 always fits in usize on the 32- and 64-bit Linux targets we build for.
                self.body_len = u32::from_be_bytes(self.header) as usize;
                if self.body_len > self.max_frame {
                    self.close(CloseReason::FrameTooLong, &mut done);
                    break;
                }
            }

            let missing = self.body_len - self.body.len();
            if self.body.is_empty() && input.len() >= missing {
                // The whole body is here: answer it without copying it first.
                let (body, rest) = input.split_at(missing);
                input = rest;
                self.reply(body, out, &mut done);
            } else {
                let take = missing.min(input.len());
                self.body.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.body.len() == self.body_len {
                    let body = std::mem::take(&mut self.body);
                    self.reply(&body, out, &mut done);
                }
            }
        }
        done
    }

    /// End of input: a frame in progress gets no reply; the connection closes.
    pub fn finish(&mut self, _out: &mut Vec<u8>) -> Decoded {
        let mut done = Decoded::default();
        if self.closed {
            return done;
        }
        let reason = if self.header_len > 0 {
            CloseReason::TruncatedFrame
        } else {
            CloseReason::Eof
        };
        self.close(reason, &mut done);
        done
    }

    /// Whether the framer has decided to close.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Bytes held for a frame that has not fully arrived.
    pub fn pending(&self) -> usize {
        usize::from(self.header_len) + self.body.len()
    }

    /// Heap bytes owned by the framer; zero whenever no body is half-received.
    pub fn heap_capacity(&self) -> usize {
        self.body.capacity()
    }

    fn reply(&mut self, body: &[u8], out: &mut Vec<u8>, done: &mut Decoded) {
        out.reserve(HEADER + body.len());
        out.extend_from_slice(&self.header);
        out.extend(body.iter().rev());
        done.replies += 1;
        self.header_len = 0;
        self.body_len = 0;
    }

    fn close(&mut self, reason: CloseReason, done: &mut Decoded) {
        self.closed = true;
        self.body = Vec::new();
        done.close = Some(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    fn run(max_frame: usize, chunks: &[&[u8]]) -> (Vec<u8>, Option<CloseReason>, u64) {
        let mut f = LengthFramer::new(max_frame);
        let mut out = Vec::new();
        let mut replies = 0;
        for chunk in chunks {
            let d = f.decode(chunk, &mut out);
            replies += d.replies;
            assert!(f.pending() <= HEADER + max_frame);
            if let Some(reason) = d.close {
                assert_eq!(f.heap_capacity(), 0);
                return (out, Some(reason), replies);
            }
        }
        let d = f.finish(&mut out);
        (out, d.close, replies + d.replies)
    }

    #[test]
    fn reverses_one_frame() {
        let (out, close, replies) = run(100, &[&frame(b"hello")]);
        assert_eq!(out, frame(b"olleh"));
        assert_eq!((close, replies), (Some(CloseReason::Eof), 1));
    }

    #[test]
    fn bytes_are_reversed_even_when_utf8() {
        let (out, _, _) = run(100, &[&frame("é".as_bytes())]);
        assert_eq!(out, frame(&[0xa9, 0xc3]));
    }

    #[test]
    fn zero_length_frames_are_allowed() {
        let input = [frame(b""), frame(b"ab"), frame(b"")].concat();
        let (out, _, replies) = run(100, &[&input]);
        assert_eq!(out, [frame(b""), frame(b"ba"), frame(b"")].concat());
        assert_eq!(replies, 3);
    }

    #[test]
    fn header_and_body_split_one_byte_per_read() {
        let input = [frame(b"abc"), frame(b"de")].concat();
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(100, &chunks).0, [frame(b"cba"), frame(b"ed")].concat());
    }

    #[test]
    fn frame_of_exactly_max_frame_is_fine() {
        assert_eq!(run(3, &[&frame(b"abc")]).0, frame(b"cba"));
    }

    #[test]
    fn too_long_frame_closes_without_reply_after_earlier_replies() {
        let input = [frame(b"ab"), frame(b"abcd"), frame(b"x")].concat();
        let (out, close, replies) = run(3, &[&input]);
        assert_eq!(out, frame(b"ba"));
        assert_eq!((close, replies), (Some(CloseReason::FrameTooLong), 1));
    }

    #[test]
    fn too_long_is_decided_from_the_header_alone() {
        let mut f = LengthFramer::new(1 << 20);
        let mut out = Vec::new();
        let d = f.decode(&(u32::MAX).to_be_bytes(), &mut out);
        assert_eq!(d.close, Some(CloseReason::FrameTooLong));
        assert!(out.is_empty());
        assert_eq!(f.heap_capacity(), 0);
    }

    #[test]
    fn eof_inside_a_frame_gets_no_reply() {
        let input = [frame(b"ab"), frame(b"abcd")].concat();
        let cut = &input[..input.len() - 1];
        let (out, close, _) = run(100, &[cut]);
        assert_eq!(out, frame(b"ba"));
        assert_eq!(close, Some(CloseReason::TruncatedFrame));
        let (out, close, _) = run(100, &[&[0, 0]]);
        assert!(out.is_empty());
        assert_eq!(close, Some(CloseReason::TruncatedFrame));
    }

    #[test]
    fn announced_length_is_not_reserved_up_front() {
        let mut f = LengthFramer::new(1 << 20);
        let mut out = Vec::new();
        let _ = f.decode(&[0, 0x10, 0, 0, b'a'], &mut out);
        assert!(f.heap_capacity() < 1024);
    }

    #[test]
    fn idle_framer_owns_no_memory() {
        let mut f = LengthFramer::new(100);
        let mut out = Vec::new();
        let input = frame(b"abcdef");
        let _ = f.decode(&input[..6], &mut out);
        assert!(f.heap_capacity() > 0);
        let _ = f.decode(&input[6..], &mut out);
        assert_eq!(f.heap_capacity(), 0);
        assert_eq!(out, frame(b"fedcba"));
    }

    fn model(input: &[u8], max_frame: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = input;
        while rest.len() >= HEADER {
            let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if n > max_frame || rest.len() < HEADER + n {
                break;
            }
            out.extend_from_slice(&rest[..HEADER]);
            out.extend(rest[HEADER..HEADER + n].iter().rev());
            rest = &rest[HEADER + n..];
        }
        out
    }

    fn input_strategy() -> impl Strategy<Value = Vec<u8>> {
        let good = proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| frame(&b));
        let piece = prop_oneof![
            8 => good,
            1 => proptest::collection::vec(any::<u8>(), 0..6),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_chunking_matches_the_model(
            input in input_strategy(),
            cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..20),
            max_frame in 0usize..48,
        ) {
            let chunks = crate::framing::cut_at(&input, &cuts);
            let (out, _, _) = run(max_frame, &chunks);
            prop_assert_eq!(out, model(&input, max_frame));
        }
    }
}
