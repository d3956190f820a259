//! Reversal of a line's content.
//!
//! The protocol reverses the order of Unicode scalar values when the content is valid UTF-8
//! and the order of bytes otherwise. Reversing the bytes of valid UTF-8 would turn every
//! multi-byte character into an invalid sequence, so the two cases must be told apart; the
//! check is one pass of `str::from_utf8`, and pure ASCII (the common case) takes the plain byte
//! reversal because for it the two orders coincide.

/// Appends the reversal of `content` to `out`: by `char` if it is valid UTF-8, else by byte.
pub fn reverse_content(content: &[u8], out: &mut Vec<u8>) {
    if content.is_ascii() {
        out.extend(content.iter().rev());
        return;
    }
    match std::str::from_utf8(content) {
        Ok(text) => {
            out.reserve(content.len());
            let mut scratch = [0u8; 4];
            for c in text.chars().rev() {
                out.extend_from_slice(c.encode_utf8(&mut scratch).as_bytes());
            }
        }
        Err(_) => out.extend(content.iter().rev()),
    }
}

#[cfg(test)]
mod tests {
    use super::reverse_content;

    fn rev(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        reverse_content(input, &mut out);
        out
    }

    #[test]
    fn ascii_is_reversed_by_byte() {
        assert_eq!(rev(b"hello"), b"olleh");
        assert_eq!(rev(b""), b"");
        assert_eq!(rev(b"a"), b"a");
    }

    #[test]
    fn utf8_is_reversed_by_char() {
        assert_eq!(rev("héllo".as_bytes()), "olléh".as_bytes());
        assert_eq!(rev("日本語".as_bytes()), "語本日".as_bytes());
        assert_eq!(rev("a🦀b".as_bytes()), "b🦀a".as_bytes());
    }

    #[test]
    fn invalid_utf8_is_reversed_by_byte() {
        assert_eq!(rev(b"a\xffb"), b"b\xffa");
        // A valid multi-byte character next to an invalid byte: the whole line is "not UTF-8",
        // so even the valid character's bytes are reversed.
        let mut input = "é".as_bytes().to_vec();
        input.push(0xff);
        assert_eq!(rev(&input), [0xff, 0xa9, 0xc3]);
    }

    #[test]
    fn appends_without_clearing() {
        let mut out = b"x".to_vec();
        reverse_content(b"ab", &mut out);
        assert_eq!(out, b"xba");
    }
}
