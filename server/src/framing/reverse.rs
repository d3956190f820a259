//! Reversal of a line's content.
//!
//! The protocol reverses the order of Unicode scalar values when the content is valid UTF-8
//! and the order of bytes otherwise. Reversing the bytes of valid UTF-8 would turn every
//! multi-byte character into an invalid sequence, so the two cases must be told apart; the
//! check is one pass of `str::from_utf8`, and pure ASCII (the common case) takes the plain byte
//! reversal because for it the two orders coincide.

/// Appends the reversal of `content` to `out`: by `char` if it is valid UTF-8, else by byte.
///
/// Both cases start with one bulk copy and an in-place byte reversal (which the compiler
/// vectorises). Reversing the bytes of UTF-8 text reverses the order of its characters but
/// also the bytes *inside* each multi-byte character, which now reads continuation bytes
/// first and its lead byte last; a second pass flips each such run back.
pub fn reverse_content(content: &[u8], out: &mut Vec<u8>) {
    let utf8_multibyte = !content.is_ascii() && std::str::from_utf8(content).is_ok();
    let start = out.len();
    out.extend_from_slice(content);
    let reversed = &mut out[start..];
    reversed.reverse();
    if utf8_multibyte {
        let mut i = 0;
        while i < reversed.len() {
            if reversed[i] < 0x80 {
                i += 1;
                continue;
            }
            // Valid UTF-8, reversed: continuation bytes (0b10xx_xxxx), then the lead byte.
            let mut lead = i;
            while reversed[lead] & 0xC0 == 0x80 {
                lead += 1;
            }
            reversed[i..=lead].reverse();
            i = lead + 1;
        }
    }
}

/// The reply the protocol prescribes for one line's `content`, written as plainly as possible.
///
/// This is the reference ("oracle") that every test and the benchmark's load generator check
/// replies against. It allocates and is slower than [`reverse_content`], which is what the
/// server uses; the property test below holds the two to the same answers.
///
/// ```
/// use server::framing::reversed;
/// assert_eq!(reversed("héllo".as_bytes()), "olléh".as_bytes());
/// assert_eq!(reversed(b"a\xffb"), b"b\xffa");
/// ```
pub fn reversed(content: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(content) {
        Ok(text) => text.chars().rev().collect::<String>().into_bytes(),
        Err(_) => content.iter().rev().copied().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::{reverse_content, reversed};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fast_reversal_matches_the_oracle(bytes in proptest::collection::vec(any::<u8>(), 0..64),
                                            text in "\\PC{0,32}") {
            prop_assert_eq!(rev(&bytes), reversed(&bytes));
            prop_assert_eq!(rev(text.as_bytes()), reversed(text.as_bytes()));
        }
    }

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
