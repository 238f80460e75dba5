//! CloudFront's URL-safe variant of base64.
//!
//! CloudFront does not use RFC 4648's URL-safe alphabet: it takes standard base64 and
//! replaces `+` with `-`, `=` with `_` and `/` with `~` (the OpenSSL example of the
//! CloudFront developer guide, private-content-linux-openssl; botocore's
//! `CloudFrontSigner._url_b64encode` does the same). All three replacements are unreserved URL characters, so the result
//! goes into a query string or a cookie without percent-encoding.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// Standard alphabet. Decoding accepts the value with or without its padding: CloudFront's
/// own documentation shows policies without the trailing `_`, and the signature decides
/// whether the bytes are the ones that were signed, not the padding.
const STANDARD_LENIENT_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes bytes the way CloudFront expects `Policy` and `Signature` values.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD_LENIENT_PADDING
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            other => other,
        })
        .collect()
}

/// Decodes a CloudFront base64 value. Characters of the standard alphabet that CloudFront
/// replaces (`+`, `=`, `/`) are refused, so that one value has one spelling.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut standard = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '-' => standard.push('+'),
            '_' => standard.push('='),
            '~' => standard.push('/'),
            '+' | '=' | '/' => return None,
            other => standard.push(other),
        }
    }
    STANDARD_LENIENT_PADDING.decode(standard).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_cloudfront_replacements() {
        // 0xfb 0xff encodes to "+/8=" in standard base64: every replaced character at once.
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode([0xfb, 0xff]),
            "+/8="
        );
        assert_eq!(encode(&[0xfb, 0xff]), "-~8_");
        assert_eq!(decode("-~8_"), Some(vec![0xfb, 0xff]));
    }

    #[test]
    fn decodes_without_padding() {
        assert_eq!(decode("-~8"), Some(vec![0xfb, 0xff]));
    }

    #[test]
    fn refuses_standard_alphabet_specials_and_garbage() {
        assert_eq!(decode("+/8="), None);
        assert_eq!(decode("ab!c"), None);
        assert_eq!(decode("a"), None);
    }

    #[test]
    fn round_trips_every_byte_value() {
        let bytes: Vec<u8> = (0..=255).collect();
        let encoded = encode(&bytes);
        assert!(encoded
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~')));
        assert_eq!(decode(&encoded), Some(bytes));
    }
}
