//! Policy statements: building them byte for byte as botocore does, and reading the
//! custom policies that come back in requests.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::Deserialize;

use super::wildcard;

/// CloudFront limits a policy to one statement; this crate also bounds its size. A policy
/// is carried in a query string or a cookie (browsers keep about 4 KiB per cookie), so a
/// larger one could not be used anyway, and the bound caps the JSON parser's input.
pub const MAX_POLICY_BYTES: usize = 4096;

/// Longest accepted `AWS:SourceIp` text: an IPv6 address in its longest form (45 characters
/// with an embedded IPv4 address) plus `/128`.
const MAX_SOURCE_IP_LEN: usize = 64;

/// Why a policy could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy resource is empty")]
    EmptyResource,
    #[error("{0}")]
    Invalid(String),
    #[error("source IP {0:?} is not an IPv4 or IPv6 address or CIDR range")]
    InvalidSourceIp(String),
    #[error("the policy is valid from {not_before}, not before it expires at {not_after}")]
    EmptyValidity { not_before: u64, not_after: u64 },
}

/// The statement of a CloudFront policy: which URLs, until when, from when, from where.
///
/// A canned policy is the special case with only `Resource` and `DateLessThan`, where
/// `Resource` is the exact URL; it is signed the same way but travels as `Expires` instead
/// of `Policy` (see [`super::UrlSigner::signed_url_canned`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    resource: String,
    not_after: u64,
    not_before: Option<u64>,
    source_ip: Option<SourceIp>,
}

/// The `AWS:SourceIp` condition: the text as it is written into the policy, and what it
/// means.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceIp {
    text: String,
    range: IpCidr,
}

impl Policy {
    /// The statement a canned policy stands for: exactly `url`, until `expires` (epoch
    /// seconds, exclusive).
    pub fn canned(url: &str, expires: u64) -> Policy {
        Policy {
            resource: url.to_owned(),
            not_after: expires,
            not_before: None,
            source_ip: None,
        }
    }

    /// A custom policy: `resource` may contain the wildcards `*` and `?`; access is allowed
    /// while `not_before <= now < not_after`, and, when `source_ip` is given (an address or
    /// a CIDR range, IPv4 or IPv6), only from there.
    pub fn custom(
        resource: &str,
        not_after: u64,
        not_before: Option<u64>,
        source_ip: Option<&str>,
    ) -> Result<Policy, PolicyError> {
        if resource.is_empty() {
            return Err(PolicyError::EmptyResource);
        }
        if let Some(not_before) = not_before {
            if not_before >= not_after {
                return Err(PolicyError::EmptyValidity {
                    not_before,
                    not_after,
                });
            }
        }
        let source_ip = source_ip
            .map(|text| {
                let range = IpCidr::from_str(text)
                    .map_err(|_| PolicyError::InvalidSourceIp(truncated(text)))?;
                // botocore appends "/32" to an address given without a length; the same is
                // written here so that both produce the same bytes. For an IPv6 address the
                // host length is /128 (botocore would write /32, a far wider range).
                let text = if text.contains('/') {
                    text.to_owned()
                } else {
                    format!("{text}/{}", range.prefix_len)
                };
                Ok(SourceIp { text, range })
            })
            .transpose()?;
        Ok(Policy {
            resource: resource.to_owned(),
            not_after,
            not_before,
            source_ip,
        })
    }

    /// The URL or wildcard pattern this policy covers.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// `DateLessThan`: access is refused from this epoch second on.
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// `DateGreaterThan`: access is refused before this epoch second.
    pub fn not_before(&self) -> Option<u64> {
        self.not_before
    }

    /// `IpAddress`: the only client addresses allowed.
    pub fn source_ip(&self) -> Option<IpCidr> {
        self.source_ip.as_ref().map(|source_ip| source_ip.range)
    }

    /// Whether the resource contains `*` or `?`, i.e. whether one signature can serve
    /// several URLs.
    pub fn has_wildcard(&self) -> bool {
        wildcard::has_wildcard(&self.resource)
    }

    /// Whether this policy has only the conditions a canned policy can express.
    pub fn is_canned_shape(&self) -> bool {
        self.not_before.is_none() && self.source_ip.is_none()
    }

    /// The policy JSON exactly as botocore's `CloudFrontSigner.build_policy` writes it:
    /// Python's `json.dumps(..., separators=(',', ':'))` over `Resource` then `Condition`
    /// with `DateLessThan`, `IpAddress`, `DateGreaterThan` in that order. With only
    /// `DateLessThan` this is also, byte for byte, the canned policy CloudFront
    /// reconstructs from a URL and its `Expires` value, which is why the order matters.
    pub fn to_json(&self) -> String {
        let mut json = String::with_capacity(self.resource.len() + 96);
        json.push_str(r#"{"Statement":[{"Resource":"#);
        push_python_json_string(&mut json, &self.resource);
        json.push_str(r#","Condition":{"DateLessThan":{"AWS:EpochTime":"#);
        // Writing into a String cannot fail.
        let _ = write!(json, "{}}}", self.not_after);
        if let Some(source_ip) = &self.source_ip {
            json.push_str(r#","IpAddress":{"AWS:SourceIp":"#);
            push_python_json_string(&mut json, &source_ip.text);
            json.push('}');
        }
        if let Some(not_before) = self.not_before {
            let _ = write!(
                json,
                r#","DateGreaterThan":{{"AWS:EpochTime":{not_before}}}"#
            );
        }
        json.push_str("}}]}");
        json
    }

    /// Reads a custom policy that came with a request (after its signature verified).
    ///
    /// Unknown members and conditions are refused rather than ignored: a condition this
    /// crate does not know would otherwise be silently dropped and the policy would grant
    /// more than its signer meant. A missing `Resource` is refused too: CloudFront would
    /// read it as "every file of every distribution that trusts the key", which openvod
    /// never issues.
    /// Reads a policy document written by hand (for `openvod sign-url --policy`), with
    /// the same checks as one that came with a request.
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        Policy::from_signed_json(text.as_bytes())
            .map_err(|why| PolicyError::Invalid(why.to_string()))
    }

    pub(crate) fn from_signed_json(bytes: &[u8]) -> Result<Policy, &'static str> {
        if bytes.len() > MAX_POLICY_BYTES {
            return Err("policy longer than 4 KiB");
        }
        let document: PolicyDocument =
            serde_json::from_slice(bytes).map_err(|_| "policy is not a valid policy document")?;
        let [statement] = <[Statement; 1]>::try_from(document.statement)
            .map_err(|_| "policy must have exactly one statement")?;
        let resource = statement.resource.ok_or("policy has no Resource")?;
        if resource.is_empty() {
            return Err("policy Resource is empty");
        }
        let condition = statement.condition;
        let source_ip = condition
            .ip_address
            .map(|ip| {
                IpCidr::from_str(&ip.source_ip)
                    .map(|range| SourceIp {
                        text: ip.source_ip,
                        range,
                    })
                    .map_err(|_| "policy AWS:SourceIp is not an IP address or CIDR range")
            })
            .transpose()?;
        Ok(Policy {
            resource,
            not_after: condition.date_less_than.epoch_time,
            not_before: condition.date_greater_than.map(|date| date.epoch_time),
            source_ip,
        })
    }
}

/// Writes `text` as a JSON string the way Python's `json.dumps` does with its default
/// `ensure_ascii=True`: `"` and `\` escaped, `\b \f \n \r \t` by their short escapes, and
/// every other character outside printable ASCII as `\uXXXX` (lowercase hex, UTF-16
/// surrogate pairs above U+FFFF). Signatures are over bytes, so a canned policy only
/// verifies if it is rebuilt with exactly the escaping the signer used.
fn push_python_json_string(json: &mut String, text: &str) {
    json.push('"');
    for c in text.chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '\n' => json.push_str("\\n"),
            '\r' => json.push_str("\\r"),
            '\t' => json.push_str("\\t"),
            '\u{8}' => json.push_str("\\b"),
            '\u{c}' => json.push_str("\\f"),
            ' '..='~' => json.push(c),
            other => {
                let mut units = [0u16; 2];
                for unit in other.encode_utf16(&mut units) {
                    let _ = write!(json, "\\u{unit:04x}");
                }
            }
        }
    }
    json.push('"');
}

fn truncated(text: &str) -> String {
    text.chars().take(MAX_SOURCE_IP_LEN).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDocument {
    #[serde(rename = "Statement")]
    statement: Vec<Statement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Statement {
    #[serde(rename = "Resource")]
    resource: Option<String>,
    #[serde(rename = "Condition")]
    condition: Condition,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Condition {
    /// Required by CloudFront in every policy.
    #[serde(rename = "DateLessThan")]
    date_less_than: EpochTime,
    #[serde(rename = "DateGreaterThan")]
    date_greater_than: Option<EpochTime>,
    #[serde(rename = "IpAddress")]
    ip_address: Option<IpAddressCondition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EpochTime {
    #[serde(rename = "AWS:EpochTime")]
    epoch_time: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IpAddressCondition {
    /// CloudFront takes a single address or range here, not a list.
    #[serde(rename = "AWS:SourceIp")]
    source_ip: String,
}

/// An IPv4 or IPv6 network in CIDR notation, as in a policy's `AWS:SourceIp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpCidr {
    network: IpAddr,
    prefix_len: u8,
}

impl IpCidr {
    /// The range of `prefix_len` leading bits of `network` (host bits are cleared);
    /// `None` when the length is longer than the address. A `const fn`, so fixed ranges
    /// can be tables checked when the program is compiled.
    pub const fn new(network: IpAddr, prefix_len: u8) -> Option<IpCidr> {
        let network = match network {
            IpAddr::V4(v4) if prefix_len <= 32 => {
                IpAddr::V4(Ipv4Addr::from_bits(masked_v4(v4.to_bits(), prefix_len)))
            }
            IpAddr::V6(v6) if prefix_len <= 128 => {
                IpAddr::V6(Ipv6Addr::from_bits(masked_v6(v6.to_bits(), prefix_len)))
            }
            _ => return None,
        };
        Some(IpCidr {
            network,
            prefix_len,
        })
    }

    /// The network address (host bits cleared) and the prefix length.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `address` is inside this range. An IPv4-mapped IPv6 address (as a
    /// dual-stack socket reports an IPv4 client) counts as the IPv4 address it carries.
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                masked_v4(u32::from(address), self.prefix_len) == u32::from(network)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                masked_v6(u128::from(address), self.prefix_len) == u128::from(network)
            }
            _ => false,
        }
    }
}

/// Parses `a.b.c.d/nn`, `x:y::z/nn`, or a bare address (the whole address, /32 or /128).
/// Host bits below the prefix are allowed and cleared, as CIDR matching ignores them.
impl FromStr for IpCidr {
    type Err = PolicyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || PolicyError::InvalidSourceIp(truncated(text));
        if text.len() > MAX_SOURCE_IP_LEN {
            return Err(invalid());
        }
        let (address, prefix_len) = match text.split_once('/') {
            Some((address, prefix_len)) => (address, Some(prefix_len)),
            None => (text, None),
        };
        let address = IpAddr::from_str(address).map_err(|_| invalid())?;
        let max_len = if address.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix_len {
            None => max_len,
            Some(digits) => {
                // Digits only: `u8::from_str` would also take a leading `+`.
                if digits.is_empty()
                    || digits.len() > 3
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(invalid());
                }
                digits.parse::<u8>().map_err(|_| invalid())?
            }
        };
        if prefix_len > max_len {
            return Err(invalid());
        }
        IpCidr::new(address, prefix_len).ok_or_else(invalid)
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

const fn masked_v4(address: u32, prefix_len: u8) -> u32 {
    // checked_shl: a shift by the full width (prefix 0) would overflow.
    match u32::MAX.checked_shl(32 - prefix_len as u32) {
        Some(mask) => address & mask,
        None => 0,
    }
}

const fn masked_v6(address: u128, prefix_len: u8) -> u128 {
    match u128::MAX.checked_shl(128 - prefix_len as u32) {
        Some(mask) => address & mask,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_policy_json_is_the_documented_form() {
        let policy = Policy::canned(
            "https://d111111abcdef8.cloudfront.net/image.jpg",
            1767290400,
        );
        assert_eq!(
            policy.to_json(),
            r#"{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/image.jpg","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}"#
        );
    }

    #[test]
    fn custom_policy_json_has_botocore_condition_order() {
        let policy = Policy::custom("https://h/play/a/*", 200, Some(100), Some("192.0.2.7"))
            .expect("valid policy");
        assert_eq!(
            policy.to_json(),
            r#"{"Statement":[{"Resource":"https://h/play/a/*","Condition":{"DateLessThan":{"AWS:EpochTime":200},"IpAddress":{"AWS:SourceIp":"192.0.2.7/32"},"DateGreaterThan":{"AWS:EpochTime":100}}}]}"#
        );
    }

    #[test]
    fn json_strings_are_escaped_like_python_ensure_ascii() {
        let mut json = String::new();
        push_python_json_string(&mut json, "a\"b\\c/d\n\t\u{1}\u{7f}é😀");
        assert_eq!(json, r#""a\"b\\c/d\n\t\u0001\u007f\u00e9\ud83d\ude00""#);
    }

    #[test]
    fn signed_json_round_trips() {
        let policy = Policy::custom("https://h/*", 200, Some(100), Some("2001:db8::/32"))
            .expect("valid policy");
        let parsed = Policy::from_signed_json(policy.to_json().as_bytes()).expect("parses");
        assert_eq!(parsed, policy);
    }

    #[test]
    fn signed_json_with_whitespace_parses() {
        let json = "{ \r\n \"Statement\": [ { \"Resource\": \"https://h/a\", \"Condition\": {\r\n \"DateLessThan\": { \"AWS:EpochTime\": 5 } } } ] }";
        let parsed = Policy::from_signed_json(json.as_bytes()).expect("parses");
        assert_eq!(parsed, Policy::canned("https://h/a", 5));
    }

    #[test]
    fn signed_json_refuses_what_it_cannot_honour() {
        let refused = [
            r#"{"Statement":[{"Resource":"https://h/a","Condition":{}}]}"#,
            r#"{"Statement":[{"Condition":{"DateLessThan":{"AWS:EpochTime":5}}}]}"#,
            r#"{"Statement":[]}"#,
            r#"{"Statement":[{"Resource":"a","Condition":{"DateLessThan":{"AWS:EpochTime":5}}},{"Resource":"b","Condition":{"DateLessThan":{"AWS:EpochTime":5}}}]}"#,
            r#"{"Statement":[{"Resource":"a","Condition":{"DateLessThan":{"AWS:EpochTime":5},"NotIpAddress":{"AWS:SourceIp":"1.2.3.4/32"}}}]}"#,
            r#"{"Statement":[{"Resource":"a","Condition":{"DateLessThan":{"AWS:EpochTime":-5}}}]}"#,
            r#"{"Statement":[{"Resource":"a","Condition":{"DateLessThan":{"AWS:EpochTime":"5"}}}]}"#,
            r#"{"Statement":[{"Resource":"a","Condition":{"DateLessThan":{"AWS:EpochTime":5},"IpAddress":{"AWS:SourceIp":["1.2.3.4/32"]}}}]}"#,
            r#"{"Statement":[{"Resource":"a","Condition":{"DateLessThan":{"AWS:EpochTime":5},"IpAddress":{"AWS:SourceIp":"1.2.3.4/33"}}}]}"#,
            r#"{"Statement":[{"Resource":"a","Resource":"b","Condition":{"DateLessThan":{"AWS:EpochTime":5}}}]}"#,
            "not json",
        ];
        for json in refused {
            assert!(Policy::from_signed_json(json.as_bytes()).is_err(), "{json}");
        }
        let oversized = format!(
            r#"{{"Statement":[{{"Resource":"{}","Condition":{{"DateLessThan":{{"AWS:EpochTime":5}}}}}}]}}"#,
            "a".repeat(MAX_POLICY_BYTES)
        );
        assert_eq!(
            Policy::from_signed_json(oversized.as_bytes()),
            Err("policy longer than 4 KiB")
        );
    }

    #[test]
    fn custom_policy_validates_its_inputs() {
        assert_eq!(
            Policy::custom("", 5, None, None),
            Err(PolicyError::EmptyResource)
        );
        assert!(matches!(
            Policy::custom("a", 5, Some(5), None),
            Err(PolicyError::EmptyValidity { .. })
        ));
        assert!(matches!(
            Policy::custom("a", 5, None, Some("example.com")),
            Err(PolicyError::InvalidSourceIp(_))
        ));
        let v6 = Policy::custom("a", 5, None, Some("2001:db8::1")).expect("valid");
        assert!(v6.to_json().contains(r#""AWS:SourceIp":"2001:db8::1/128""#));
    }

    #[test]
    fn cidr_contains() {
        let v4: IpCidr = "192.0.2.77/24".parse().expect("valid");
        assert_eq!(v4.to_string(), "192.0.2.0/24");
        assert!(v4.contains("192.0.2.1".parse().expect("ip")));
        assert!(v4.contains("::ffff:192.0.2.200".parse().expect("ip")));
        assert!(!v4.contains("192.0.3.1".parse().expect("ip")));
        assert!(!v4.contains("2001:db8::1".parse().expect("ip")));

        let v6: IpCidr = "2001:db8:aa::/48".parse().expect("valid");
        assert!(v6.contains("2001:db8:aa:1::5".parse().expect("ip")));
        assert!(!v6.contains("2001:db8:ab::5".parse().expect("ip")));

        let everyone: IpCidr = "0.0.0.0/0".parse().expect("valid");
        assert!(everyone.contains("203.0.113.9".parse().expect("ip")));

        let host: IpCidr = "203.0.113.9".parse().expect("valid");
        assert_eq!(host.prefix_len(), 32);
        assert!(!host.contains("203.0.113.10".parse().expect("ip")));

        for bad in [
            "1.2.3.4/",
            "1.2.3.4/+8",
            "1.2.3.4/33",
            "::/129",
            "1.2.3/8",
            "01.2.3.4/8",
        ] {
            assert!(bad.parse::<IpCidr>().is_err(), "{bad}");
        }
    }
}
