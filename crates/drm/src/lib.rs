//! Content keys for openvod's encrypted packaging (ISO/IEC 23001-7 Common Encryption).
//!
//! - `keys`: making keys, and the key store: keys sealed with a master key (AES-256-GCM)
//!   in the database, created on first use. KIDs, keys and track types themselves are
//!   `openvod_media`'s vocabulary, re-exported.
//! - `pssh`: DRM system IDs and `pssh` boxes for Widevine, PlayReady and W3C ClearKey.
//! - `signaling`: what a packager writes per key and DRM system (pssh, DASH, HLS).
//! - `cpix`: CPIX 2.3 documents as SPEKE v2.0 uses them.
//! - `speke`: a SPEKE v2.0 client, and openvod's answer as a SPEKE key provider.
//! - `provider`: where a packaging job gets its keys (built in, or SPEKE).
//! - `clearkey`: W3C EME Clear Key licence requests and responses.
//! - `packaging`: the protected copies of a presentation (keys, IVs, signalling).
//!
//! No key is ever logged: `ContentKey`'s `Debug` prints the KID only, and errors name
//! KIDs, content ids and URLs, never key bytes.

pub mod clearkey;
pub mod cpix;
pub mod keys;
pub mod packaging;
pub mod provider;
pub mod pssh;
pub mod signaling;
pub mod speke;

pub use clearkey::{
    license_response, parse_license_request, ClearKeyError, LicenseRequest, SessionType,
};
pub use cpix::{CpixError, CpixRequest, CpixResponse, RequestedKey};
pub use keys::{
    random_key, random_kid, ContentKey, KeyError, KeyScope, KeyStore, Kid, MasterKey, ParseIdError,
    Scheme, StoreOutcome, TrackType,
};
pub use provider::{KeyProvider, ProviderError, ProviderKeys};
pub use pssh::{pssh_box, DrmSystem, PsshError};
pub use signaling::{signaling_for, DrmSignaling, SignalingError};
pub use speke::{answer_speke, check_speke_version, SpekeClient, SpekeError};
