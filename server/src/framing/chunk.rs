//! The `chunk` framing: whatever one read returns is reversed byte by byte and sent back.
//!
//! This is what the original C++ epoll sample did. It is stateless, so it needs no buffer of
//! its own, and it is not a protocol: the same bytes sent by the client can come back in
//! different orders depending on how TCP happened to cut them into reads. It is kept to show
//! why framing matters and to compare throughput with the sample.

use super::{CloseReason, Decoded};

/// Decoder for the `chunk` framing. See the [module docs](self).
#[derive(Debug, Default)]
pub struct ChunkFramer {
    closed: bool,
}

impl ChunkFramer {
    /// A new decoder.
    pub fn new() -> ChunkFramer {
        ChunkFramer::default()
    }

    // ANCHOR: decode
    /// Appends `input` reversed byte by byte to `out` (one reply per non-empty read).
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Decoded {
        if self.closed || input.is_empty() {
            return Decoded::default();
        }
        out.extend(input.iter().rev());
        Decoded {
            replies: 1,
            close: None,
        }
    }
    // ANCHOR_END: decode

    /// End of input: nothing is pending, so only closes.
    pub fn finish(&mut self, _out: &mut Vec<u8>) -> Decoded {
        if self.closed {
            return Decoded::default();
        }
        self.closed = true;
        Decoded {
            replies: 0,
            close: Some(CloseReason::Eof),
        }
    }

    /// Whether end of input was seen.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_read_is_reversed_on_its_own() {
        let mut f = ChunkFramer::new();
        let mut out = Vec::new();
        assert_eq!(f.decode(b"hello\n", &mut out).replies, 1);
        assert_eq!(out, b"\nolleh");
        out.clear();
        // The same bytes cut differently come back differently: not a protocol.
        let _ = f.decode(b"hel", &mut out);
        let _ = f.decode(b"lo\n", &mut out);
        assert_eq!(out, b"leh\nol");
    }

    #[test]
    fn bytes_not_chars_and_no_limits() {
        let mut f = ChunkFramer::new();
        let mut out = Vec::new();
        let big = vec![b'x'; 1 << 20];
        let _ = f.decode(&big, &mut out);
        assert_eq!(out.len(), 1 << 20);
        out.clear();
        let _ = f.decode("é".as_bytes(), &mut out);
        assert_eq!(out, [0xa9, 0xc3]);
        out.clear();
        // `exit` is just bytes here.
        assert_eq!(f.decode(b"exit\n", &mut out).close, None);
    }

    #[test]
    fn empty_read_is_no_reply_and_eof_closes() {
        let mut f = ChunkFramer::new();
        let mut out = Vec::new();
        assert_eq!(f.decode(b"", &mut out), Decoded::default());
        assert_eq!(f.finish(&mut out).close, Some(CloseReason::Eof));
        assert!(f.is_closed());
        assert_eq!(f.decode(b"ab", &mut out), Decoded::default());
        assert!(out.is_empty());
    }
}
