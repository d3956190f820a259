//! The `line` framing of the reverse protocol (see `server/PROTOCOL.md`), as a pure
//! function over byte buffers. Used by `raw_epoll_server`, `tokio_server` and, as the reference
//! model, by the load generator that checks every reply.

/// What the connection should do after [`process_lines`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Keep reading.
    Continue,
    /// Flush what was produced, then close (an `exit` line, or a too-long line whose error
    /// message has already been appended to the output).
    Close,
}

/// Default `--max-line` of the protocol.
pub const MAX_LINE: usize = 65536;

/// Appends `content` reversed to `out`: by `char`s when it is valid UTF-8, else by bytes.
///
/// The comparison servers use the `server` crate's own reversal, so the benchmark compares
/// runtimes, not reversal code.
pub fn reverse_into(content: &[u8], out: &mut Vec<u8>) {
    server::framing::reverse_content(content, out);
}

/// The error line sent for a too-long line.
pub fn too_long_message(max_line: usize) -> String {
    format!("error: line longer than {max_line} bytes\n")
}

/// Answers every complete line in `input`, appending the replies to `out`.
///
/// Returns how many bytes of `input` were consumed (complete lines; all of it on
/// [`Action::Close`]) and what to do next. The unconsumed rest is an incomplete line that the
/// caller keeps until more bytes arrive.
pub fn process_lines(input: &[u8], out: &mut Vec<u8>, max_line: usize) -> (usize, Action) {
    let mut start = 0;
    while let Some(pos) = find_lf(&input[start..]) {
        let lf = start + pos;
        let (content, term): (&[u8], &[u8]) = if lf > start && input[lf - 1] == b'\r' {
            (&input[start..lf - 1], b"\r\n")
        } else {
            (&input[start..lf], b"\n")
        };
        if content.len() > max_line {
            out.extend_from_slice(too_long_message(max_line).as_bytes());
            return (input.len(), Action::Close);
        }
        if content == b"exit" {
            return (input.len(), Action::Close);
        }
        reverse_into(content, out);
        out.extend_from_slice(term);
        start = lf + 1;
    }
    let rest = &input[start..];
    // A trailing CR may still turn out to be part of a CR LF terminator.
    let too_long =
        rest.len() > max_line + 1 || (rest.len() == max_line + 1 && rest[max_line] != b'\r');
    if too_long {
        out.extend_from_slice(too_long_message(max_line).as_bytes());
        return (input.len(), Action::Close);
    }
    (start, Action::Continue)
}

/// End of input: the reply to a non-empty unterminated tail (its reversal, no terminator).
pub fn finish_tail(tail: &[u8], out: &mut Vec<u8>) {
    if !tail.is_empty() {
        reverse_into(tail, out);
    }
}

#[inline]
fn find_lf(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(s: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        reverse_into(s, &mut v);
        v
    }

    use server::framing::reversed as model;

    #[test]
    fn reversal() {
        assert_eq!(rev(b"hello"), b"olleh");
        assert_eq!(rev("héllo".as_bytes()), "olléh".as_bytes());
        assert_eq!(rev("a漢😀b".as_bytes()), "b😀漢a".as_bytes());
        assert_eq!(rev(b"\xff\xfeab"), b"ba\xfe\xff");
        assert_eq!(rev(b""), b"");
        let mut x: u32 = 7;
        for _ in 0..2000 {
            let mut s = Vec::new();
            for _ in 0..(x % 13) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                match x % 5 {
                    0 => s.extend_from_slice("é".as_bytes()),
                    1 => s.extend_from_slice("😀".as_bytes()),
                    2 => s.push(0xC3),
                    _ => s.push(b'a' + (x % 26) as u8),
                }
            }
            assert_eq!(rev(&s), model(&s), "{s:?}");
        }
    }

    #[test]
    fn lines() {
        let mut out = Vec::new();
        let (n, a) = process_lines(b"abc\r\nxy\n\npart", &mut out, MAX_LINE);
        assert_eq!((n, a), (9, Action::Continue));
        assert_eq!(out, b"cba\r\nyx\n\n");
        out.clear();
        let (n, a) = process_lines(b"ab\nexit\nzz\n", &mut out, MAX_LINE);
        assert_eq!((n, a), (11, Action::Close));
        assert_eq!(out, b"ba\n");
        out.clear();
        let (_, a) = process_lines(b"ok\n123456", &mut out, 4);
        assert_eq!(a, Action::Close);
        assert_eq!(out, b"ko\nerror: line longer than 4 bytes\n");
        out.clear();
        assert_eq!(process_lines(b"1234\r", &mut out, 4), (0, Action::Continue));
    }
}
