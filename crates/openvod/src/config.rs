//! `openvod.toml`: every key has a default, and every key can be set by an environment
//! variable `OPENVOD_<KEY>` or `OPENVOD_<SECTION>_<KEY>` (upper case), which wins over
//! the file. `openvod.toml.example` at the top of the repository lists them all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

mod steering;
mod tiers;
use serde::{Deserialize, Serialize};
pub use steering::SteeringSection;
pub use tiers::TiersSection;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: String,
    /// TLS certificate chain and private key (PEM) to serve HTTPS on `listen`; empty:
    /// plain HTTP (TLS terminated in front, e.g. by a CDN or load balancer).
    pub tls_cert_file: PathBuf,
    pub tls_key_file: PathBuf,
    /// With TLS: a second, plain HTTP address whose requests are redirected to HTTPS.
    pub http_redirect_listen: String,
    /// Folder for the defaults below (database, objects, scratch space).
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; empty: `sqlite://DATA_DIR/openvod.db`.
    pub database_url: String,
    pub log_format: LogFormat,
    pub store: StoreSection,
    pub upload: UploadSection,
    pub worker: WorkerSection,
    pub policy: openvod_pipeline::ValidationPolicy,
    pub watch: WatchSection,
    pub drm: DrmSection,
    pub access: AccessSection,
    pub origin: OriginSection,
    pub cost: CostSection,
    pub outbound: OutboundSection,
    pub steering: SteeringSection,
    pub tiers: TiersSection,
    /// Webhooks registered at start (file only): `[[webhooks]] url = "..."`, optional
    /// `secret` and `events`. More can be added with `POST /v1/webhooks`.
    pub webhooks: Vec<WebhookEntry>,
    /// Extra templates by name: `name = "path/to/template.toml"`. A `default` entry
    /// replaces the built-in default ladder.
    pub templates: HashMap<String, PathBuf>,
}

/// The origin's packaging on request and its shield.
/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where objects are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// A folder (`root`, or `data_dir/objects`).
    Local,
    /// Any S3-compatible store.
    S3,
}

/// What an asset's recorded work and bytes are priced at: the operator's own rates (the
/// fields of `openvod_cost::OwnRates`), and the price book of the AWS side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CostSection {
    pub vcpu_hour_usd: f64,
    pub storage_gb_month_usd: f64,
    /// Bytes in the cold class (`[tiers]`), per GB-month.
    pub cold_storage_gb_month_usd: f64,
    pub egress_gb_usd: f64,
    /// A price book (TOML, as `openvod cost prices` prints); empty: the built-in one.
    pub price_book: PathBuf,
}

impl Default for CostSection {
    fn default() -> Self {
        let r = openvod_cost::OwnRates::default();
        CostSection {
            vcpu_hour_usd: r.vcpu_hour_usd,
            storage_gb_month_usd: r.storage_gb_month_usd,
            cold_storage_gb_month_usd: r.cold_storage_gb_month_usd,
            egress_gb_usd: r.egress_gb_usd,
            price_book: PathBuf::new(),
        }
    }
}

impl CostSection {
    pub fn rates(&self) -> openvod_cost::OwnRates {
        openvod_cost::OwnRates {
            vcpu_hour_usd: self.vcpu_hour_usd,
            storage_gb_month_usd: self.storage_gb_month_usd,
            cold_storage_gb_month_usd: self.cold_storage_gb_month_usd,
            egress_gb_usd: self.egress_gb_usd,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OriginSection {
    /// Bytes of generated manifests and segments kept in memory.
    pub cache_bytes: u64,
    /// Largest segment generated in memory; a larger one is answered with 502.
    pub max_object_bytes: u64,
    /// A store read slower than this fails the request with 504.
    pub store_timeout_seconds: u64,
}

impl Default for OriginSection {
    fn default() -> Self {
        OriginSection {
            cache_bytes: 256 << 20,
            max_object_bytes: 64 << 20,
            store_timeout_seconds: 10,
        }
    }
}

/// Where requests to user-given URLs (webhooks, SPEKE key providers) may go.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundSection {
    /// Loopback, private, link-local and other non-public addresses admitted anyway:
    /// CIDR ranges or addresses ("10.1.0.0/16", "127.0.0.1"), an address and port
    /// ("127.0.0.1:8443", "[::1]:8443"), or a host name with or without a port
    /// ("speke.internal:8443"), admitted whatever it resolves to.
    pub allow: Vec<String>,
}

/// Content keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DrmSection {
    /// The key that seals content keys at rest: 64 hex digits or base64 of 32 bytes.
    /// Empty: no key store (templates with `[protection]` fail). Prefer the variable
    /// `OPENVOD_DRM_MASTER_KEY` or `master_key_file` to writing it here.
    pub master_key: String,
    /// A file holding the master key.
    pub master_key_file: PathBuf,
    /// `Authorization` header value sent to SPEKE key providers (templates with
    /// `key_provider = "speke"`), e.g. "Bearer TOKEN" for openvod's own /speke/v2.
    pub speke_authorization: String,
}

/// Who may use the control API and play signed assets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessSection {
    /// Bearer tokens of the control API. Empty: the API is open (say so loudly).
    pub admin_tokens: Vec<String>,
    /// Secret (32 bytes or more) that signs upload tokens; empty disables them.
    pub upload_token_secret: String,
    pub upload_token_seconds: u64,
    /// Playback access of assets that set none.
    pub default_playback: openvod_server::access::Playback,
    /// `scheme://host` of playback URLs as viewers see them (e.g. the CDN).
    pub public_url: String,
    /// Trusted CloudFront public keys: "KEY_PAIR_ID=path/to/public.pem" each.
    pub trusted_keys: Vec<String>,
    /// Private key and key pair id used by `POST /v1/sign`.
    pub signing_key_file: PathBuf,
    pub signing_key_pair_id: String,
}

impl Default for DrmSection {
    fn default() -> Self {
        DrmSection {
            master_key: String::new(),
            master_key_file: PathBuf::new(),
            speke_authorization: String::new(),
        }
    }
}

impl Default for AccessSection {
    fn default() -> Self {
        AccessSection {
            admin_tokens: Vec::new(),
            upload_token_secret: String::new(),
            upload_token_seconds: 3600,
            default_playback: openvod_server::access::Playback::Public,
            public_url: String::new(),
            trusted_keys: Vec::new(),
            signing_key_file: PathBuf::new(),
            signing_key_pair_id: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    pub kind: StoreKind,
    /// local: root folder; empty: `DATA_DIR/objects`.
    pub root: PathBuf,
    /// s3: endpoint URL (empty for AWS), buckets, region, credentials.
    pub endpoint: String,
    pub source_bucket: String,
    pub output_bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub path_style: bool,
    pub allow_http: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadSection {
    /// Largest accepted upload in bytes (413 above).
    pub max_bytes: u64,
    /// Whether deleting an asset also deletes its source object.
    pub delete_sources: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSection {
    /// Workers in this process (`serve` and `worker`); 0 in `serve` runs no worker.
    pub concurrency: u32,
    /// Workers that take only previews, beside those (where `concurrency` > 0), so that
    /// a new upload plays within seconds even while the others encode ladders.
    pub preview_workers: u32,
    /// Where `openvod worker` answers `/healthz`, `/readyz` and `/metrics`; port 0 (the
    /// default) picks a free one, which the worker prints and records in the fleet, so
    /// that any number of workers start beside `serve` from one configuration.
    pub listen: String,
    /// Scratch space; empty: `DATA_DIR/work`.
    pub work_dir: PathBuf,
    pub lease_seconds: u64,
    pub heartbeat_seconds: u64,
    pub max_attempts: u32,
    pub retry_base_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEntry {
    pub url: String,
    /// Signing secret; empty: a random one.
    #[serde(default)]
    pub secret: String,
    /// Event kinds; absent: created, progress, ready and failed.
    #[serde(default)]
    pub events: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchSection {
    /// Whether `serve` imports new objects under `prefix` of the source location.
    pub enabled: bool,
    pub prefix: String,
    /// Seconds between listings.
    pub interval_seconds: u64,
    /// Objects younger than this are left for a later pass (copies still in progress).
    pub settle_seconds: u64,
    /// Template of the imported assets.
    pub template: String,
}

impl Default for WatchSection {
    fn default() -> Self {
        WatchSection {
            enabled: true,
            prefix: "watch".into(),
            interval_seconds: 10,
            settle_seconds: 10,
            template: "default".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            tls_cert_file: PathBuf::new(),
            tls_key_file: PathBuf::new(),
            http_redirect_listen: String::new(),
            data_dir: PathBuf::from("data"),
            database_url: String::new(),
            log_format: LogFormat::Text,
            store: StoreSection::default(),
            upload: UploadSection::default(),
            worker: WorkerSection::default(),
            policy: openvod_pipeline::ValidationPolicy::default(),
            watch: WatchSection::default(),
            drm: DrmSection::default(),
            access: AccessSection::default(),
            origin: OriginSection::default(),
            cost: CostSection::default(),
            outbound: OutboundSection::default(),
            steering: SteeringSection::default(),
            tiers: TiersSection::default(),
            webhooks: Vec::new(),
            templates: HashMap::new(),
        }
    }
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            kind: StoreKind::Local,
            root: PathBuf::new(),
            endpoint: String::new(),
            source_bucket: String::new(),
            output_bucket: String::new(),
            region: "us-east-1".into(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            path_style: true,
            allow_http: false,
        }
    }
}

impl Default for UploadSection {
    fn default() -> Self {
        UploadSection {
            max_bytes: 20 << 30,
            delete_sources: false,
        }
    }
}

impl Default for WorkerSection {
    fn default() -> Self {
        WorkerSection {
            concurrency: 1,
            preview_workers: 1,
            listen: "127.0.0.1:0".into(),
            work_dir: PathBuf::new(),
            lease_seconds: 60,
            heartbeat_seconds: 10,
            max_attempts: 3,
            retry_base_seconds: 5,
        }
    }
}

const SECTIONS: [&str; 10] = [
    "store", "upload", "worker", "policy", "watch", "drm", "access", "origin", "outbound", "cost",
];

impl Config {
    /// Reads the file (when given), then applies `OPENVOD_*` variables from `env`.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Config> {
        let mut table: toml::Table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("config {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("config {}", path.display()))?
            }
            None => toml::Table::new(),
        };
        let defaults = toml::Table::try_from(Config::default()).context("default config")?;
        let mut vars: Vec<(&String, &String)> = env
            .iter()
            .filter(|(k, _)| k.starts_with("OPENVOD_"))
            .collect();
        vars.sort();
        for (name, value) in vars {
            let key = name["OPENVOD_".len()..].to_ascii_lowercase();
            let (section, field) = match SECTIONS.iter().find(|s| key.starts_with(&format!("{s}_")))
            {
                Some(s) => (Some(*s), &key[s.len() + 1..]),
                None => (None, key.as_str()),
            };
            // Only keys the configuration has: other OPENVOD_ variables are not ours.
            let default = match section {
                Some(s) => defaults
                    .get(s)
                    .and_then(|t| t.as_table())
                    .and_then(|t| t.get(field)),
                None => defaults.get(field).filter(|v| !v.is_table()),
            };
            let Some(default) = default else { continue };
            if key == "webhooks" {
                continue;
            }
            let parsed = parse_like(default, value).with_context(|| format!("{name}={value:?}"))?;
            match section {
                Some(s) => {
                    let entry = table
                        .entry(s)
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                    let Some(t) = entry.as_table_mut() else {
                        bail!("config: [{s}] is not a section")
                    };
                    t.insert(field.to_string(), parsed);
                }
                None => {
                    table.insert(field.to_string(), parsed);
                }
            }
        }
        let config: Config = toml::Value::Table(table).try_into().context("config")?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        self.steering.parsed()?;
        self.tiers.settings()?;
        self.cost
            .rates()
            .check()
            .map_err(|e| anyhow::anyhow!("config: {e}"))?;
        if self.worker.lease_seconds == 0
            || self.worker.heartbeat_seconds == 0
            || self.worker.heartbeat_seconds * 2 > self.worker.lease_seconds
        {
            bail!("config: worker.heartbeat_seconds must be at most half of worker.lease_seconds");
        }
        if self.tls_cert_file.as_os_str().is_empty() != self.tls_key_file.as_os_str().is_empty() {
            bail!("config: give both tls_cert_file and tls_key_file, or neither");
        }
        if !self.http_redirect_listen.is_empty() && self.tls_cert_file.as_os_str().is_empty() {
            bail!("config: http_redirect_listen redirects to HTTPS, which needs tls_cert_file");
        }
        self.policy
            .check()
            .map_err(|e| anyhow::anyhow!("config: {e}"))?;
        Ok(())
    }

    /// The key store's master key, when one is configured.
    pub fn master_key(&self) -> Result<Option<openvod_drm::MasterKey>> {
        let text = if !self.drm.master_key.is_empty() {
            self.drm.master_key.clone()
        } else if !self.drm.master_key_file.as_os_str().is_empty() {
            std::fs::read_to_string(&self.drm.master_key_file).with_context(|| {
                format!("drm.master_key_file {}", self.drm.master_key_file.display())
            })?
        } else {
            return Ok(None);
        };
        openvod_drm::MasterKey::parse(text.trim())
            .map(Some)
            .map_err(|e| anyhow::anyhow!("config: drm.master_key: {e}"))
    }

    /// The outbound policy (`[outbound] allow`), read once.
    pub fn outbound(&self) -> Result<openvod_access::OutboundPolicy> {
        openvod_access::OutboundPolicy::new(&self.outbound.allow)
            .map_err(|e| anyhow::anyhow!("config: {e}"))
    }

    /// The access settings of the HTTP side.
    pub fn access(&self) -> Result<openvod_server::access::AccessConfig> {
        use openvod_server::access::AccessConfig;
        let a = &self.access;
        let mut out = AccessConfig {
            admin_tokens: openvod_access::AdminTokens::new(&a.admin_tokens)
                .map_err(|e| anyhow::anyhow!("config: access.admin_tokens: {e}"))?,
            upload_tokens: None,
            upload_token_seconds: a.upload_token_seconds.max(1),
            trusted_keys: openvod_access::TrustedKeys::new(),
            default_playback: a.default_playback,
            public_url: (!a.public_url.is_empty()).then(|| a.public_url.clone()),
            signer: None,
        };
        if !a.upload_token_secret.is_empty() {
            out.upload_tokens = Some(
                openvod_access::UploadTokenKey::new(a.upload_token_secret.as_bytes())
                    .map_err(|e| anyhow::anyhow!("config: access.upload_token_secret: {e}"))?,
            );
        }
        for entry in &a.trusted_keys {
            let (id, path) = entry.split_once('=').with_context(|| {
                format!("config: access.trusted_keys: {entry:?} is not KEY_PAIR_ID=path")
            })?;
            let pem = std::fs::read_to_string(path.trim())
                .with_context(|| format!("config: access.trusted_keys: {path}"))?;
            out.trusted_keys
                .insert_pem(id.trim(), &pem)
                .map_err(|e| anyhow::anyhow!("config: access.trusted_keys {id}: {e}"))?;
        }
        if !a.signing_key_file.as_os_str().is_empty() {
            let pem = std::fs::read_to_string(&a.signing_key_file).with_context(|| {
                format!(
                    "config: access.signing_key_file {}",
                    a.signing_key_file.display()
                )
            })?;
            out.signer = Some(
                openvod_access::UrlSigner::from_pem(
                    &a.signing_key_pair_id,
                    &pem,
                    openvod_access::HashAlgorithm::Sha1,
                )
                .map_err(|e| anyhow::anyhow!("config: access.signing_key_file: {e}"))?,
            );
        }
        Ok(out)
    }

    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("openvod.db").display())
        } else {
            self.database_url.clone()
        }
    }

    pub fn objects(&self) -> openvod_store::ObjectsConfig {
        let s = &self.store;
        if s.kind == StoreKind::S3 {
            openvod_store::ObjectsConfig::S3 {
                endpoint: (!s.endpoint.is_empty()).then(|| s.endpoint.clone()),
                source_bucket: s.source_bucket.clone(),
                output_bucket: if s.output_bucket.is_empty() {
                    s.source_bucket.clone()
                } else {
                    s.output_bucket.clone()
                },
                region: s.region.clone(),
                access_key_id: s.access_key_id.clone(),
                secret_access_key: s.secret_access_key.clone(),
                path_style: s.path_style,
                allow_http: s.allow_http,
            }
        } else {
            let root = if s.root.as_os_str().is_empty() {
                self.data_dir.join("objects")
            } else {
                s.root.clone()
            };
            openvod_store::ObjectsConfig::Local { root }
        }
    }

    pub fn work_dir(&self) -> PathBuf {
        if self.worker.work_dir.as_os_str().is_empty() {
            self.data_dir.join("work")
        } else {
            self.worker.work_dir.clone()
        }
    }

    /// The built-in templates plus the configured ones, by name. A template whose SPEKE
    /// key provider `outbound` refuses is an error here, at start.
    pub fn templates(
        &self,
        outbound: &openvod_access::OutboundPolicy,
    ) -> Result<HashMap<String, openvod_transcode::JobTemplate>> {
        let mut out = HashMap::new();
        out.insert(
            "default".to_string(),
            openvod_transcode::JobTemplate::default_ladder(),
        );
        for (name, path) in &self.templates {
            let t = openvod_transcode::JobTemplate::load(&path.to_string_lossy())?;
            let speke_url = t.protection.as_ref().and_then(|p| match &p.key_provider {
                openvod_media::KeyProviderSettings::Speke { url } => Some(url.as_str()),
                openvod_media::KeyProviderSettings::Builtin => None,
            });
            if let Some(url) = speke_url {
                // The URL itself is left out of the message: it may carry a credential.
                outbound.check_url(url).map_err(|e| {
                    anyhow::anyhow!(
                        "template {name:?} ({}): protection.speke_url: {e}",
                        path.display()
                    )
                })?;
            }
            out.insert(name.clone(), t);
        }
        Ok(out)
    }
}

/// Parses an environment value as the same TOML type as the key's default.
fn parse_like(default: &toml::Value, value: &str) -> Result<toml::Value> {
    Ok(match default {
        toml::Value::String(_) => toml::Value::String(value.to_string()),
        toml::Value::Integer(_) => {
            toml::Value::Integer(value.trim().parse().context("an integer")?)
        }
        toml::Value::Float(_) => toml::Value::Float(value.trim().parse().context("a number")?),
        toml::Value::Boolean(_) => toml::Value::Boolean(match value.trim() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => bail!("true or false"),
        }),
        toml::Value::Array(_) => toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.into()))
                .collect(),
        ),
        _ => bail!("cannot be set from the environment"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_file() {
        let c = Config::load(None, &HashMap::new()).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.database_url(), "sqlite://data/openvod.db");
        assert!(
            matches!(c.objects(), openvod_store::ObjectsConfig::Local { root } if root == Path::new("data/objects"))
        );
    }

    #[test]
    fn environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("openvod.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\n[worker]\nconcurrency = 4\n[store]\nkind = \"s3\"\nsource_bucket = \"src\"\n").unwrap();
        let vars = env(&[
            ("OPENVOD_WORKER_CONCURRENCY", "2"),
            ("OPENVOD_STORE_OUTPUT_BUCKET", "out"),
            ("OPENVOD_POLICY_VIDEO_CODECS", "h264, hevc"),
            ("OPENVOD_BIN", "/not/a/config/key"),
        ]);
        let c = Config::load(Some(&file), &vars).unwrap();
        assert_eq!(
            (c.listen.as_str(), c.worker.concurrency),
            ("0.0.0.0:9000", 2)
        );
        assert_eq!(
            (
                c.store.source_bucket.as_str(),
                c.store.output_bucket.as_str()
            ),
            ("src", "out")
        );
        assert_eq!(c.policy.video_codecs, vec!["h264", "hevc"]);
        let bad = env(&[("OPENVOD_WORKER_CONCURRENCY", "many")]);
        let err = Config::load(None, &bad).unwrap_err();
        assert!(
            format!("{err:#}").contains("OPENVOD_WORKER_CONCURRENCY"),
            "{err:#}"
        );
    }

    #[test]
    fn the_example_file_lists_the_defaults() {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openvod.toml.example");
        let c = Config::load(Some(Path::new(example)), &HashMap::new()).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn the_outbound_allow_list_is_read_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("openvod.toml");
        std::fs::write(
            &file,
            "[outbound]\nallow = [\"127.0.0.1/32\", \"speke.internal:8443\"]\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), &HashMap::new()).unwrap();
        let shown: Vec<String> = c
            .outbound()
            .unwrap()
            .allow()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["127.0.0.1/32", "speke.internal:8443"]);
        let vars = env(&[("OPENVOD_OUTBOUND_ALLOW", "10.0.0.0/8, [::1]:9000")]);
        let c = Config::load(Some(&file), &vars).unwrap();
        assert_eq!(c.outbound().unwrap().allow().len(), 2);
        let bad = env(&[("OPENVOD_OUTBOUND_ALLOW", "10.0.0.0/99")]);
        let err = Config::load(None, &bad).unwrap().outbound().unwrap_err();
        assert!(
            format!("{err:#}").contains("outbound.allow entry \"10.0.0.0/99\""),
            "{err:#}"
        );
    }

    #[test]
    fn a_template_whose_key_provider_is_refused_fails_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let template = dir.path().join("speke.toml");
        let text = include_str!("../../transcode/templates/default.toml").replace(
            "name = \"default\"",
            "name = \"speke\"",
        ) + "\n[protection]\nkey_provider = \"speke\"\nspeke_url = \"http://169.254.169.254/latest/meta-data/\"\n";
        std::fs::write(&template, text).unwrap();
        let file = dir.path().join("openvod.toml");
        std::fs::write(
            &file,
            format!("[templates]\nspeke = \"{}\"\n", template.display()),
        )
        .unwrap();
        let c = Config::load(Some(&file), &HashMap::new()).unwrap();
        let err = c.templates(&c.outbound().unwrap()).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.starts_with("template \"speke\"")
                && text.contains("protection.speke_url: 169.254.169.254 is link-local"),
            "{text}"
        );
        assert!(!text.contains("meta-data"), "{text}");
        let admitted = openvod_access::OutboundPolicy::new(["169.254.169.254"]).unwrap();
        assert!(c.templates(&admitted).unwrap().contains_key("speke"));
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("openvod.toml");
        std::fs::write(&file, "listne = \"x\"\n").unwrap();
        let err = Config::load(Some(&file), &HashMap::new()).unwrap_err();
        assert!(format!("{err:#}").contains("listne"), "{err:#}");
    }
}
