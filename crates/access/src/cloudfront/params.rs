//! Finding CloudFront's signing parameters in a query string or in cookies, and removing
//! them from a query string.

use super::Denied;

pub(crate) const EXPIRES: &str = "Expires";
pub(crate) const POLICY: &str = "Policy";
pub(crate) const SIGNATURE: &str = "Signature";
pub(crate) const KEY_PAIR_ID: &str = "Key-Pair-Id";
pub(crate) const HASH_ALGORITHM: &str = "Hash-Algorithm";

/// CloudFront names the cookies after the query parameters with this prefix.
const COOKIE_PREFIX: &str = "CloudFront-";

/// The query parameters CloudFront reserves for signed URLs. Names are compared exactly
/// (case-sensitive, not percent-decoded): a spelling such as `expires` or `Expir%65s` is
/// an ordinary parameter that stays part of the resource URL, so it can only make a
/// signature fail, never stand in for a signing value.
/// The query parameters a signed URL adds (CloudFront's names).
pub const SIGNING_NAMES: [&str; 5] = [EXPIRES, POLICY, SIGNATURE, KEY_PAIR_ID, HASH_ALGORITHM];

/// Bounds on raw values, checked before anything is decoded. A policy is at most 4 KiB of
/// JSON, so at most 5464 base64 characters; an RSA-4096 signature is 684 characters; an
/// epoch second fits 20 digits.
const MAX_POLICY_VALUE_LEN: usize = 5464;
const MAX_SIGNATURE_VALUE_LEN: usize = 700;
const MAX_EXPIRES_VALUE_LEN: usize = 20;
const MAX_KEY_PAIR_ID_VALUE_LEN: usize = 128;
const MAX_HASH_ALGORITHM_VALUE_LEN: usize = 16;

/// The signing values of one request, as found in its query string or in its cookies.
/// Values are kept as text here; [`super::TrustedKeys::verify`] decides what they mean.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningParams {
    pub(crate) expires: Option<String>,
    pub(crate) policy: Option<String>,
    pub(crate) signature: Option<String>,
    pub(crate) key_pair_id: Option<String>,
    pub(crate) hash_algorithm: Option<String>,
}

impl SigningParams {
    /// Finds `Expires`, `Policy`, `Signature`, `Key-Pair-Id` and `Hash-Algorithm` in a raw
    /// query string (without the leading `?`). Values are percent-decoded (`+` stays `+`:
    /// none of CloudFront's values contain a space, and `+` is not in its base64
    /// alphabet anyway). A name given twice is refused: the origin, a cache in front of it
    /// and CloudFront could each pick a different one.
    pub fn from_query(query: &str) -> Result<SigningParams, Denied> {
        let mut params = SigningParams::default();
        for pair in query.split('&') {
            let (name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            if let Some(slot) = params.slot(name) {
                let max_len = max_value_len(name);
                if raw_value.len() > max_len.saturating_mul(3) {
                    return Err(Denied::Malformed("signing parameter too long"));
                }
                let value = percent_decode(raw_value).ok_or(Denied::Malformed(
                    "signing parameter is not valid percent-encoding",
                ))?;
                store(slot, value, max_len)?;
            }
        }
        Ok(params)
    }

    /// Finds the `CloudFront-*` cookies in a `Cookie` request header (`a=b; c=d`).
    pub fn from_cookie_header(header: &str) -> Result<SigningParams, Denied> {
        SigningParams::from_cookies(
            header
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .map(|(name, value)| (name.trim(), value.trim())),
        )
    }

    /// Finds `CloudFront-Expires`, `CloudFront-Policy`, `CloudFront-Signature`,
    /// `CloudFront-Key-Pair-Id` and `CloudFront-Hash-Algorithm` among (name, value)
    /// cookie pairs. Cookie values are not percent-encoded (CloudFront's values need no
    /// encoding); a value in double quotes, which RFC 6265 allows, is unquoted. A cookie
    /// sent twice (for example for two paths) is refused, for the same reason as a
    /// repeated query parameter.
    pub fn from_cookies<'a>(
        cookies: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<SigningParams, Denied> {
        let mut params = SigningParams::default();
        for (name, value) in cookies {
            let Some(name) = name.strip_prefix(COOKIE_PREFIX) else {
                continue;
            };
            if let Some(slot) = params.slot(name) {
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                store(slot, value.to_owned(), max_value_len(name))?;
            }
        }
        Ok(params)
    }

    /// Whether no signing value at all was found.
    pub fn is_empty(&self) -> bool {
        self.expires.is_none()
            && self.policy.is_none()
            && self.signature.is_none()
            && self.key_pair_id.is_none()
            && self.hash_algorithm.is_none()
    }

    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        match name {
            EXPIRES => Some(&mut self.expires),
            POLICY => Some(&mut self.policy),
            SIGNATURE => Some(&mut self.signature),
            KEY_PAIR_ID => Some(&mut self.key_pair_id),
            HASH_ALGORITHM => Some(&mut self.hash_algorithm),
            _ => None,
        }
    }
}

fn max_value_len(name: &str) -> usize {
    match name {
        POLICY => MAX_POLICY_VALUE_LEN,
        SIGNATURE => MAX_SIGNATURE_VALUE_LEN,
        EXPIRES => MAX_EXPIRES_VALUE_LEN,
        KEY_PAIR_ID => MAX_KEY_PAIR_ID_VALUE_LEN,
        _ => MAX_HASH_ALGORITHM_VALUE_LEN,
    }
}

fn store(slot: &mut Option<String>, value: String, max_len: usize) -> Result<(), Denied> {
    if slot.is_some() {
        return Err(Denied::Malformed("signing parameter given more than once"));
    }
    if value.is_empty() {
        return Err(Denied::Malformed("empty signing parameter"));
    }
    if value.len() > max_len {
        return Err(Denied::Malformed("signing parameter too long"));
    }
    *slot = Some(value);
    Ok(())
}

/// Returns `query` without CloudFront's signing parameters, every other parameter kept
/// byte for byte and in order. This is the query of the resource URL a signature covers,
/// and the one to build cache keys from, so that cached objects are shared between
/// viewers and a cache key never holds a signature.
pub fn strip_signing_params(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
            !SIGNING_NAMES.contains(&name)
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes `%XX` escapes; `None` for a truncated or non-hex escape or for bytes that are
/// not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = hex_value(*bytes.get(i + 1)?)?;
            let low = hex_value(*bytes.get(i + 2)?)?;
            decoded.push(high << 4 | low);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_signing_params_among_others() {
        let params = SigningParams::from_query(
            "color=red&Expires=100&Signature=ab~c-_&Key-Pair-Id=K1&size=m&Hash-Algorithm=SHA256",
        )
        .expect("well formed");
        assert_eq!(params.expires.as_deref(), Some("100"));
        assert_eq!(params.signature.as_deref(), Some("ab~c-_"));
        assert_eq!(params.key_pair_id.as_deref(), Some("K1"));
        assert_eq!(params.hash_algorithm.as_deref(), Some("SHA256"));
        assert_eq!(params.policy, None);
    }

    #[test]
    fn percent_decodes_values_but_not_names() {
        let params = SigningParams::from_query("Signature=ab%7Ec&Key%2DPair-Id=K1").expect("ok");
        assert_eq!(params.signature.as_deref(), Some("ab~c"));
        assert_eq!(params.key_pair_id, None);
        assert!(SigningParams::from_query("Signature=ab%7").is_err());
        assert!(SigningParams::from_query("Signature=ab%zz").is_err());
    }

    #[test]
    fn refuses_repeated_empty_and_oversized_values() {
        assert_eq!(
            SigningParams::from_query("Expires=1&Expires=2"),
            Err(Denied::Malformed("signing parameter given more than once"))
        );
        assert_eq!(
            SigningParams::from_query("Signature="),
            Err(Denied::Malformed("empty signing parameter"))
        );
        assert_eq!(
            SigningParams::from_query("Signature"),
            Err(Denied::Malformed("empty signing parameter"))
        );
        let long = format!("Expires={}", "1".repeat(21));
        assert_eq!(
            SigningParams::from_query(&long),
            Err(Denied::Malformed("signing parameter too long"))
        );
        let huge = format!("Policy={}", "%41".repeat(10_000));
        assert_eq!(
            SigningParams::from_query(&huge),
            Err(Denied::Malformed("signing parameter too long"))
        );
    }

    #[test]
    fn no_signing_params_is_empty() {
        assert!(SigningParams::from_query("").expect("ok").is_empty());
        assert!(SigningParams::from_query("a=1&b").expect("ok").is_empty());
        assert!(SigningParams::from_query("expires=1&signature=x")
            .expect("ok")
            .is_empty());
    }

    #[test]
    fn reads_cookie_header() {
        let params = SigningParams::from_cookie_header(
            "session=1; CloudFront-Policy=eyJ~; CloudFront-Signature=\"s-_\";CloudFront-Key-Pair-Id=K2 ",
        )
        .expect("well formed");
        assert_eq!(params.policy.as_deref(), Some("eyJ~"));
        assert_eq!(params.signature.as_deref(), Some("s-_"));
        assert_eq!(params.key_pair_id.as_deref(), Some("K2"));
        assert_eq!(params.expires, None);
        assert!(
            SigningParams::from_cookie_header("CloudFront-Expires=1; CloudFront-Expires=2")
                .is_err()
        );
        assert!(SigningParams::from_cookie_header("Expires=1; other=2")
            .expect("ok")
            .is_empty());
    }

    #[test]
    fn strip_keeps_everything_else_in_order() {
        assert_eq!(
            strip_signing_params(
                "b=2&Policy=p&a=1&Signature=s&Key-Pair-Id=k&Expires=3&Hash-Algorithm=SHA256&c=%41+x&&d"
            ),
            "b=2&a=1&c=%41+x&&d"
        );
        assert_eq!(
            strip_signing_params("Expires=1&Signature=s&Key-Pair-Id=k"),
            ""
        );
        assert_eq!(
            strip_signing_params("expires=1&Key%2DPair-Id=k"),
            "expires=1&Key%2DPair-Id=k"
        );
        assert_eq!(strip_signing_params(""), "");
    }
}
