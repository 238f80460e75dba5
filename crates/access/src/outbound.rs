//! The outbound fence: where openvod may send requests on a user's behalf (webhook
//! receivers, SPEKE key providers) without letting a user aim them at the machine itself,
//! the cloud metadata service or the private network (server-side request forgery).
//!
//! An address is *inward* when it belongs to one of the special-purpose ranges of the
//! IANA IPv4 and IPv6 registries (RFC 6890) that never name a host on the public
//! internet: loopback, private, link-local, unique-local, shared, multicast and the
//! like ([`inward`]). IPv6 forms that carry an IPv4 address (IPv4-mapped, the deprecated
//! IPv4-compatible form, NAT64's well-known prefix and 6to4) are judged by the IPv4
//! address they carry, since a dual-stack socket or a translator delivers them there.
//!
//! An [`OutboundPolicy`] refuses inward addresses unless its allow-list
//! ([`AllowEntry`]) admits them. It judges in two places, both needed:
//!
//! - [`OutboundPolicy::check_url`], on the URL alone, at registration and again before
//!   every request: the scheme (http or https), an address written in the URL (which is
//!   connected to without any lookup), and the port of an admitted host name.
//! - [`OutboundPolicy::check_resolved`], on each address a host name resolves to, when
//!   the connection is made. A name's answer can change at any time (DNS rebinding), so
//!   only the address actually connected to can be judged; a look-up at registration
//!   would prove nothing about the next request.
//!
//! This module decides; it does no I/O. `openvod-net` resolves and connects.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use crate::cloudfront::IpCidr;

/// Longest outbound URL accepted; it also bounds the work of parsing one.
pub const MAX_URL_LEN: usize = 2048;

/// Longest allow-list entry: a 253-byte host name, a colon and a port, with room to spare.
const MAX_ALLOW_ENTRY_LEN: usize = 300;

/// Why an address is not on the public internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// `0.0.0.0/8` ("this network"; Linux connects `0.0.0.0` to the local host) and `::`.
    Unspecified,
    /// `127.0.0.0/8` and `::1`.
    Loopback,
    /// RFC 1918 networks, and NAT64's local-use prefix (RFC 8215).
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT (RFC 6598).
    SharedAddressSpace,
    /// `169.254.0.0/16` (cloud metadata services live at 169.254.169.254) and `fe80::/10`.
    LinkLocal,
    /// `fc00::/7` (RFC 4193).
    UniqueLocal,
    /// `fec0::/10`, deprecated by RFC 3879 but still routed inside some networks.
    SiteLocal,
    /// `224.0.0.0/4` and `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Ranges reserved for protocols, benchmarks and future use (`192.0.0.0/24`,
    /// `198.18.0.0/15`, `240.0.0.0/4`, the IPv6 discard prefix `100::/64`).
    Reserved,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressClass::Unspecified => "unspecified",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::SharedAddressSpace => "shared address space (carrier-grade NAT)",
            AddressClass::LinkLocal => "link-local",
            AddressClass::UniqueLocal => "unique-local",
            AddressClass::SiteLocal => "site-local",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Reserved => "reserved",
        })
    }
}

/// How an IPv6 address carries the IPv4 address it is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:a.b.c.d` (RFC 4291 2.5.5.2).
    Ipv4Mapped,
    /// `::a.b.c.d` (RFC 4291 2.5.5.1, deprecated).
    Ipv4Compatible,
    /// `64:ff9b::a.b.c.d`, NAT64's well-known prefix (RFC 6052).
    Nat64,
    /// `2002:AABB:CCDD::/48`, 6to4 (RFC 3056).
    SixToFour,
}

impl fmt::Display for Embedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Embedding::Ipv4Mapped => "IPv4-mapped",
            Embedding::Ipv4Compatible => "IPv4-compatible",
            Embedding::Nat64 => "NAT64",
            Embedding::SixToFour => "6to4",
        })
    }
}

/// An inward address: its class, the range that says so, and, for an IPv6 address
/// judged by the IPv4 address it carries, how it carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inward {
    pub class: AddressClass,
    pub range: IpCidr,
    pub embedding: Option<(Embedding, Ipv4Addr)>,
}

impl fmt::Display for Inward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.class, self.range)?;
        if let Some((embedding, v4)) = self.embedding {
            write!(f, ", as the {embedding} form of {v4}")?;
        }
        f.write_str(")")
    }
}

/// A range of the tables below; checked when the program is compiled.
const fn range(network: IpAddr, prefix_len: u8) -> IpCidr {
    match IpCidr::new(network, prefix_len) {
        Some(range) => range,
        None => panic!("prefix longer than the address"),
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix_len: u8) -> IpCidr {
    range(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), prefix_len)
}

const fn v6(bits: u128, prefix_len: u8) -> IpCidr {
    range(IpAddr::V6(Ipv6Addr::from_bits(bits)), prefix_len)
}

/// The IPv4 ranges that are not the public internet (IANA IPv4 Special-Purpose Address
/// Registry), narrowest first where they nest. The documentation ranges (TEST-NET) are
/// left out: nothing answers there.
const INWARD_V4: [(IpCidr, AddressClass); 12] = [
    (v4(0, 0, 0, 0, 8), AddressClass::Unspecified),
    (v4(127, 0, 0, 0, 8), AddressClass::Loopback),
    (v4(10, 0, 0, 0, 8), AddressClass::Private),
    (v4(172, 16, 0, 0, 12), AddressClass::Private),
    (v4(192, 168, 0, 0, 16), AddressClass::Private),
    (v4(100, 64, 0, 0, 10), AddressClass::SharedAddressSpace),
    (v4(169, 254, 0, 0, 16), AddressClass::LinkLocal),
    (v4(192, 0, 0, 0, 24), AddressClass::Reserved),
    (v4(198, 18, 0, 0, 15), AddressClass::Reserved),
    (v4(224, 0, 0, 0, 4), AddressClass::Multicast),
    (v4(255, 255, 255, 255, 32), AddressClass::Broadcast),
    (v4(240, 0, 0, 0, 4), AddressClass::Reserved),
];

/// The IPv6 ranges that are not the public internet (IANA IPv6 Special-Purpose Address
/// Registry), apart from the forms that carry an IPv4 address (see `embedded_v4`).
const INWARD_V6: [(IpCidr, AddressClass); 8] = [
    (v6(0, 128), AddressClass::Unspecified),
    (v6(1, 128), AddressClass::Loopback),
    (v6(0xfe80 << 112, 10), AddressClass::LinkLocal),
    (v6(0xfec0 << 112, 10), AddressClass::SiteLocal),
    (v6(0xfc00 << 112, 7), AddressClass::UniqueLocal),
    (v6(0xff00 << 112, 8), AddressClass::Multicast),
    (v6(0x0100 << 112, 64), AddressClass::Reserved),
    (v6(0x0064_ff9b_0001 << 80, 48), AddressClass::Private),
];

/// The IPv4 address an IPv6 address carries, for the forms that deliver to it.
fn embedded_v4(address: Ipv6Addr) -> Option<(Embedding, Ipv4Addr)> {
    let bits = address.to_bits();
    let low = Ipv4Addr::from_bits(bits as u32);
    match bits >> 32 {
        0xffff => return Some((Embedding::Ipv4Mapped, low)),
        // `::` and `::1` are themselves (the IPv6 table judges them), not IPv4 addresses.
        0 if bits > 1 => return Some((Embedding::Ipv4Compatible, low)),
        0x0064_ff9b_0000_0000_0000_0000 => return Some((Embedding::Nat64, low)),
        _ => {}
    }
    (bits >> 112 == 0x2002).then(|| {
        (
            Embedding::SixToFour,
            Ipv4Addr::from_bits((bits >> 80) as u32),
        )
    })
}

fn inward_v4(address: Ipv4Addr) -> Option<Inward> {
    INWARD_V4
        .iter()
        .find(|(range, _)| range.contains(IpAddr::V4(address)))
        .map(|&(range, class)| Inward {
            class,
            range,
            embedding: None,
        })
}

/// Whether `address` is off the public internet, and why. `None`: a public address.
pub fn inward(address: IpAddr) -> Option<Inward> {
    match address {
        IpAddr::V4(v4) => inward_v4(v4),
        IpAddr::V6(v6) => {
            if let Some((embedding, v4)) = embedded_v4(v6) {
                return inward_v4(v4).map(|found| Inward {
                    embedding: Some((embedding, v4)),
                    ..found
                });
            }
            INWARD_V6
                .iter()
                .find(|(range, _)| range.contains(IpAddr::V6(v6)))
                .map(|&(range, class)| Inward {
                    class,
                    range,
                    embedding: None,
                })
        }
    }
}

/// One entry of the allow-list (`[outbound] allow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowEntry {
    /// `10.1.0.0/16`, `fd00::/8`, or one address (`127.0.0.1`, `::1`): these addresses,
    /// on any port, whether a URL names them or a host name resolves to them.
    Range(IpCidr),
    /// `127.0.0.1:8443`, `[::1]:8443`: a URL naming this address and port. (A name that
    /// resolves to it needs its own entry: when a name is resolved its port is not known.)
    Socket(SocketAddr),
    /// `speke.internal`, `speke.internal:8443`: this host name, whatever it resolves to;
    /// with a port, on that port only.
    Host { name: String, port: Option<u16> },
}

/// Why an allow-list entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbound.allow entry {entry:?}: {reason}")]
pub struct AllowError {
    pub entry: String,
    pub reason: &'static str,
}

impl FromStr for AllowEntry {
    type Err = AllowError;

    fn from_str(text: &str) -> Result<AllowEntry, AllowError> {
        let error = |reason| AllowError {
            entry: text.chars().take(80).collect(),
            reason,
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(error("empty"));
        }
        if text.len() > MAX_ALLOW_ENTRY_LEN {
            return Err(error("too long"));
        }
        if text.contains('/') {
            return IpCidr::from_str(text)
                .map(AllowEntry::Range)
                .map_err(|_| error("not a CIDR range (address/length)"));
        }
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        if let Ok(address) = IpAddr::from_str(bare) {
            let full = if address.is_ipv4() { 32 } else { 128 };
            return IpCidr::new(address, full)
                .map(AllowEntry::Range)
                .ok_or_else(|| error("not an address"));
        }
        if let Ok(socket) = SocketAddr::from_str(text) {
            if socket.port() == 0 {
                return Err(error("port 0 is not a port"));
            }
            return Ok(AllowEntry::Socket(socket));
        }
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => {
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|&p| p != 0 && !port.starts_with('+'))
                    .ok_or_else(|| error("the port must be a number from 1 to 65535"))?;
                (host, Some(port))
            }
            None => (text, None),
        };
        let name = match url::Host::parse(host) {
            Ok(url::Host::Domain(name)) => normalized_name(&name),
            Ok(_) => {
                return Err(error(
                    "write an address in full (a.b.c.d, or [v6]:port with a port)",
                ))
            }
            Err(_) => return Err(error("not a CIDR range, an address or a host[:port]")),
        };
        let valid_label = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if name.len() > 253 || !name.split('.').all(valid_label) {
            return Err(error("not a host name"));
        }
        // Without the trailing dots kept it from reading as one, a name can be an address
        // ("126.." is 0.0.0.126 to a URL parser once its dots are dropped): such an entry
        // would name a host no URL reaches by name, and display as something else.
        if !matches!(url::Host::parse(&name), Ok(url::Host::Domain(_))) {
            return Err(error(
                "write an address in full (a.b.c.d, or [v6]:port with a port)",
            ));
        }
        Ok(AllowEntry::Host { name, port })
    }
}

impl fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowEntry::Range(range) => write!(f, "{range}"),
            AllowEntry::Socket(socket) => write!(f, "{socket}"),
            AllowEntry::Host { name, port: None } => f.write_str(name),
            AllowEntry::Host {
                name,
                port: Some(port),
            } => write!(f, "{name}:{port}"),
        }
    }
}

/// A host name as it is compared: lower case (`url` already lowers and IDNA-encodes
/// it), without the trailing dot of a fully qualified name.
fn normalized_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Why an outbound URL or address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the URL is longer than {MAX_URL_LEN} bytes")]
    TooLong,
    #[error("not a valid URL: {0}")]
    InvalidUrl(String),
    #[error("scheme {0:?} is not allowed: only http:// and https:// URLs are")]
    Scheme(String),
    #[error("{address} is {inward}, which is refused unless [outbound] allow admits it")]
    Address { address: IpAddr, inward: Inward },
    #[error(
        "{host} is admitted by [outbound] allow on port {} only, not {port}",
        join(allowed)
    )]
    Port {
        host: String,
        port: u16,
        allowed: Vec<u16>,
    },
    #[error(
        "{host} resolves only to addresses that are refused unless [outbound] allow admits them: {}",
        join(refused.iter().map(|(address, inward)| format!("{address} is {inward}")))
    )]
    Resolved {
        host: String,
        refused: Vec<(IpAddr, Inward)>,
    },
}

impl Refused {
    /// Whether the URL itself is malformed (rather than well-formed but pointing where
    /// openvod does not send requests).
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            Refused::TooLong | Refused::InvalidUrl(_) | Refused::Scheme(_)
        )
    }
}

fn join<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which outbound URLs and addresses are allowed: every public address, and the inward
/// ones the allow-list admits. The default admits no inward address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    allow: Vec<AllowEntry>,
}

impl OutboundPolicy {
    /// Reads the allow-list entries, each a CIDR range, an address, an address with a
    /// port, or a host name with or without a port.
    pub fn new<I, S>(entries: I) -> Result<OutboundPolicy, AllowError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let allow = entries
            .into_iter()
            .map(|entry| entry.as_ref().parse())
            .collect::<Result<_, _>>()?;
        Ok(OutboundPolicy { allow })
    }

    /// The allow-list.
    pub fn allow(&self) -> &[AllowEntry] {
        &self.allow
    }

    /// Checks what the URL alone says: an http or https URL of bounded length whose
    /// address, when it is written in the URL, is public or admitted, and whose host
    /// name, when the allow-list admits it on some ports only, uses one of them. A host
    /// name is otherwise judged by its addresses when it is resolved
    /// ([`OutboundPolicy::check_resolved`]). Returns the parsed URL.
    pub fn check_url(&self, text: &str) -> Result<url::Url, Refused> {
        if text.len() > MAX_URL_LEN {
            return Err(Refused::TooLong);
        }
        let url = url::Url::parse(text).map_err(|e| Refused::InvalidUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused::Scheme(url.scheme().chars().take(32).collect()));
        }
        // Both schemes have a default port, so a URL of either always has a port.
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Refused::InvalidUrl("no port".into()))?;
        match url.host() {
            None => Err(Refused::InvalidUrl("no host".into())),
            Some(url::Host::Domain(name)) => self.check_name_port(name, port).map(|()| url),
            Some(url::Host::Ipv4(v4)) => self.check_literal(IpAddr::V4(v4), port).map(|()| url),
            Some(url::Host::Ipv6(v6)) => self.check_literal(IpAddr::V6(v6), port).map(|()| url),
        }
    }

    /// Checks one address that host name `host` resolved to, as the connection is made.
    /// A host name the allow-list names is admitted whatever it resolves to (its port was
    /// checked with the URL); otherwise the address must be public or in an admitted range.
    pub fn check_resolved(&self, host: &str, address: IpAddr) -> Result<(), Inward> {
        let name = normalized_name(host);
        if self.names_host(&name) || self.admits_range(address) {
            return Ok(());
        }
        inward(address).map_or(Ok(()), Err)
    }

    fn names_host(&self, name: &str) -> bool {
        self.allow
            .iter()
            .any(|entry| matches!(entry, AllowEntry::Host { name: n, .. } if n == name))
    }

    fn admits_range(&self, address: IpAddr) -> bool {
        self.allow
            .iter()
            .any(|entry| matches!(entry, AllowEntry::Range(range) if range.contains(address)))
    }

    /// An address written in the URL: it is connected to without a look-up, so this is
    /// its only check.
    fn check_literal(&self, address: IpAddr, port: u16) -> Result<(), Refused> {
        let canonical = address.to_canonical();
        let socket_admitted = self.allow.iter().any(|entry| {
            matches!(entry, AllowEntry::Socket(s)
                if s.ip().to_canonical() == canonical && s.port() == port)
        });
        if socket_admitted || self.admits_range(address) {
            return Ok(());
        }
        match inward(address) {
            Some(inward) => Err(Refused::Address { address, inward }),
            None => Ok(()),
        }
    }

    /// A host name the allow-list names with ports is admitted on those ports only; the
    /// resolver admits a named host whatever it resolves to, so the port is held here.
    fn check_name_port(&self, name: &str, port: u16) -> Result<(), Refused> {
        let name = normalized_name(name);
        let mut allowed = Vec::new();
        for entry in &self.allow {
            if let AllowEntry::Host { name: n, port: p } = entry {
                if *n == name {
                    match p {
                        None => return Ok(()),
                        Some(p) if *p == port => return Ok(()),
                        Some(p) => allowed.push(*p),
                    }
                }
            }
        }
        if allowed.is_empty() {
            Ok(())
        } else {
            Err(Refused::Port {
                host: name,
                port,
                allowed,
            })
        }
    }
}

#[cfg(test)]
mod tests;
