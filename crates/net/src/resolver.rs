//! The resolver every outbound client uses: host names are looked up as usual, then each
//! address is put to the outbound policy, and only admitted addresses are connected to.
//! A name whose every address is refused fails with `Refused::Resolved`, which
//! `crate::refusal` finds in the request's error.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use openvod_access::outbound::{OutboundPolicy, Refused};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Looks names up (the system's resolver, or the fixed answers given to the builder),
/// and keeps the addresses the policy admits.
pub(crate) struct FencedResolver {
    pub(crate) policy: Arc<OutboundPolicy>,
    /// Answers given instead of a look-up, by lower-case name without a trailing dot.
    /// They pass the same check as looked-up addresses.
    pub(crate) fixed: HashMap<String, Vec<IpAddr>>,
}

impl Resolve for FencedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let policy = self.policy.clone();
        let fixed = self
            .fixed
            .get(&host.trim_end_matches('.').to_ascii_lowercase())
            .cloned();
        Box::pin(async move {
            let addresses: Vec<IpAddr> = match fixed {
                Some(addresses) => addresses,
                // The port is set by the connector from the URL.
                None => tokio::net::lookup_host((host.as_str(), 0))
                    .await?
                    .map(|socket| socket.ip())
                    .collect(),
            };
            let (mut admitted, mut refused) = (Vec::new(), Vec::new());
            for address in addresses {
                match policy.check_resolved(&host, address) {
                    Ok(()) => admitted.push(SocketAddr::new(address, 0)),
                    Err(inward) => refused.push((address, inward)),
                }
            }
            if admitted.is_empty() && !refused.is_empty() {
                return Err(Refused::Resolved { host, refused }.into());
            }
            if !refused.is_empty() {
                tracing::warn!(
                    host,
                    refused = ?refused.iter().map(|(a, _)| a).collect::<Vec<_>>(),
                    "outbound: some addresses of a host are refused; connecting to the others"
                );
            }
            let addrs: Addrs = Box::new(admitted.into_iter());
            Ok(addrs)
        })
    }
}
