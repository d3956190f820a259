//! The protocol, as pure functions over byte buffers.
//!
//! Everything the reverse protocol says about bytes lives here, and nothing here knows about
//! sockets, tasks or time. The connection handler (`conn`) reads whatever the kernel
//! has, hands the bytes to a [`Framer`], writes what the framer appended to its output buffer,
//! and closes the connection when the framer says so. Keeping the two apart lets the protocol be
//! tested exhaustively (see the property tests in each submodule) without a single socket.
//!
//! # The shape of a framer
//!
//! A framer is a push decoder: [`Framer::decode`] takes *all* of an input slice, appends the
//! replies to every request completed by it to `out`, and keeps what belongs to an unfinished
//! request in a small internal buffer. Taking all the input (rather than returning "consumed
//! n bytes") means the caller's read buffer is free again as soon as `decode` returns, so an idle
//! connection holds no read buffer at all: only the framer's pending bytes, which are empty
//! (with no capacity) whenever no request is half-received.
//!
//! When the peer shuts down its sending side the caller calls [`Framer::finish`], which answers
//! or drops the unfinished request as the framing demands.
//!
//! A framer that decided to close the connection (an `exit` line, a too-long line or frame, end
//! of input) reports it once in [`Decoded::close`] and ignores all later input, so the caller
//! only has to flush `out` and close.
//!
//! # Why the output is a `Vec<u8>` the caller owns
//!
//! Replies to everything completed by one read are appended to one buffer and written with one
//! write ("batched replies"). The buffer comes from the caller, which takes it from a per-thread
//! pool, so in steady state answering a line allocates nothing.

pub mod chunk;
pub mod length;
pub mod line;
pub mod reverse;

pub use chunk::ChunkFramer;
pub use length::LengthFramer;
pub use line::LineFramer;
pub use reverse::{reverse_content, reversed};

use std::fmt;
use std::str::FromStr;

/// Default `--max-line`: the longest line content (without terminator) the server accepts.
pub const DEFAULT_MAX_LINE: usize = 65536;
/// Default `--max-frame`: the longest frame body the `length` framing accepts (1 MiB).
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

/// Which of the three framings a server speaks (`--framing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum Framing {
    /// Lines ending in LF or CR LF; each line's content is reversed (the default).
    #[default]
    Line,
    /// 4-byte big-endian length prefix, then that many bytes, reversed byte by byte.
    Length,
    /// Whatever one read returns is reversed and written back (not really a protocol).
    Chunk,
}

impl Framing {
    /// What one answered request is called in logs and the exit summary.
    pub fn unit(self) -> &'static str {
        match self {
            Framing::Line => "lines",
            Framing::Length => "frames",
            Framing::Chunk => "chunks",
        }
    }

    /// The message a connection refused for `--max-connections` gets, if this framing has one.
    ///
    /// Only `line` has a way to say something that is not a reply; in the binary framings any
    /// bytes would be misread as a frame.
    pub fn busy_message(self) -> Option<&'static [u8]> {
        match self {
            Framing::Line => Some(b"error: server busy\n"),
            Framing::Length | Framing::Chunk => None,
        }
    }

    /// The message a connection closed for `--idle-timeout` gets, if this framing has one.
    pub fn idle_timeout_message(self) -> Option<&'static [u8]> {
        match self {
            Framing::Line => Some(b"error: idle timeout\n"),
            Framing::Length | Framing::Chunk => None,
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Framing::Line => "line",
            Framing::Length => "length",
            Framing::Chunk => "chunk",
        })
    }
}

/// The error returned when a framing name is not one of `line`, `length`, `chunk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFraming(pub String);

impl fmt::Display for UnknownFraming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown framing `{}` (expected line, length or chunk)",
            self.0
        )
    }
}

impl std::error::Error for UnknownFraming {}

impl FromStr for Framing {
    type Err = UnknownFraming;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "line" => Ok(Framing::Line),
            "length" => Ok(Framing::Length),
            "chunk" => Ok(Framing::Chunk),
            other => Err(UnknownFraming(other.to_owned())),
        }
    }
}

/// Why a framer wants the connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent a line whose content is exactly `exit`.
    Exit,
    /// A line's content exceeded `--max-line`; the error line has been appended to the output.
    LineTooLong,
    /// A frame's announced length exceeded `--max-frame`; nothing was appended.
    FrameTooLong,
    /// The input ended in the middle of a frame; that frame gets no reply.
    TruncatedFrame,
    /// The input ended cleanly (after [`Framer::finish`] answered any unterminated tail).
    Eof,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CloseReason::Exit => "exit requested",
            CloseReason::LineTooLong => "line too long",
            CloseReason::FrameTooLong => "frame too long",
            CloseReason::TruncatedFrame => "end of input inside a frame",
            CloseReason::Eof => "end of input",
        })
    }
}

/// What one call to [`Framer::decode`] or [`Framer::finish`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Decoded {
    /// How many replies were appended to the output.
    pub replies: u64,
    /// `Some` once the framer wants the connection closed, after the output is flushed.
    pub close: Option<CloseReason>,
}

/// The limits a framer enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `--max-line`: longest line content, in bytes, not counting the terminator.
    pub max_line: usize,
    /// `--max-frame`: longest frame body, in bytes.
    pub max_frame: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: DEFAULT_MAX_LINE,
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

/// One connection's decoder, for whichever framing the server speaks.
///
/// An enum rather than a trait object: the connection future stores it inline, no allocation
/// per connection, and the match is cheaper than it looks next to a system call.
#[derive(Debug)]
pub enum Framer {
    /// See [`LineFramer`].
    Line(LineFramer),
    /// See [`LengthFramer`].
    Length(LengthFramer),
    /// See [`ChunkFramer`].
    Chunk(ChunkFramer),
}

impl Framer {
    /// A fresh decoder for `framing` with `limits`.
    pub fn new(framing: Framing, limits: Limits) -> Framer {
        match framing {
            Framing::Line => Framer::Line(LineFramer::new(limits.max_line)),
            Framing::Length => Framer::Length(LengthFramer::new(limits.max_frame)),
            Framing::Chunk => Framer::Chunk(ChunkFramer::new()),
        }
    }

    /// Consumes all of `input`, appending the replies to every request it completes to `out`.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Decoded {
        match self {
            Framer::Line(f) => f.decode(input, out),
            Framer::Length(f) => f.decode(input, out),
            Framer::Chunk(f) => f.decode(input, out),
        }
    }

    /// The peer finished sending: answers or drops the unfinished request and closes.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Decoded {
        match self {
            Framer::Line(f) => f.finish(out),
            Framer::Length(f) => f.finish(out),
            Framer::Chunk(f) => f.finish(out),
        }
    }

    /// Whether the framer has decided to close (it ignores input from then on).
    pub fn is_closed(&self) -> bool {
        match self {
            Framer::Line(f) => f.is_closed(),
            Framer::Length(f) => f.is_closed(),
            Framer::Chunk(f) => f.is_closed(),
        }
    }

    /// How many input bytes are held for an unfinished request.
    pub fn pending(&self) -> usize {
        match self {
            Framer::Line(f) => f.pending(),
            Framer::Length(f) => f.pending(),
            Framer::Chunk(_) => 0,
        }
    }

    /// Bytes of heap memory the framer holds (for tests of the idle-memory promise).
    pub fn heap_capacity(&self) -> usize {
        match self {
            Framer::Line(f) => f.heap_capacity(),
            Framer::Length(f) => f.heap_capacity(),
            Framer::Chunk(_) => 0,
        }
    }
}

/// Cuts `input` at the points proptest chose: the chunking the property tests feed the
/// framers with (any number of pieces, empty ones included).
#[cfg(test)]
pub(crate) fn cut_at<'a>(input: &'a [u8], cuts: &[proptest::sample::Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
    points.push(0);
    points.push(input.len());
    points.sort_unstable();
    points.windows(2).map(|w| &input[w[0]..w[1]]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_names_round_trip() {
        for f in [Framing::Line, Framing::Length, Framing::Chunk] {
            assert_eq!(f.to_string().parse::<Framing>(), Ok(f));
        }
        assert!("lines".parse::<Framing>().is_err());
    }

    #[test]
    fn only_line_framing_has_messages() {
        assert_eq!(
            Framing::Line.busy_message(),
            Some(&b"error: server busy\n"[..])
        );
        assert_eq!(
            Framing::Line.idle_timeout_message(),
            Some(&b"error: idle timeout\n"[..])
        );
        for f in [Framing::Length, Framing::Chunk] {
            assert_eq!(f.busy_message(), None);
            assert_eq!(f.idle_timeout_message(), None);
        }
    }

    #[test]
    fn framer_dispatches_to_each_framing() {
        let mut out = Vec::new();
        let mut f = Framer::new(Framing::Line, Limits::default());
        assert_eq!(f.decode(b"ab\n", &mut out).replies, 1);
        assert_eq!(out, b"ba\n");

        out.clear();
        let mut f = Framer::new(Framing::Length, Limits::default());
        assert_eq!(f.decode(b"\0\0\0\x02ab", &mut out).replies, 1);
        assert_eq!(out, b"\0\0\0\x02ba");

        out.clear();
        let mut f = Framer::new(Framing::Chunk, Limits::default());
        assert_eq!(f.decode(b"ab\n", &mut out).replies, 1);
        assert_eq!(out, b"\nba");
        assert_eq!(f.finish(&mut out).close, Some(CloseReason::Eof));
        assert!(f.is_closed());
    }

    #[test]
    fn framer_stays_small() {
        // The framer lives inside every connection's future; keep it a few words.
        assert!(std::mem::size_of::<Framer>() <= 64);
    }
}
