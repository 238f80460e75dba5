//! What a worker needs to know.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use openvod_transcode::integrity::IntegrityPolicy;
use openvod_transcode::JobTemplate;
use serde::{Deserialize, Serialize};

/// Checks run on every source before it is transcoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationPolicy {
    /// Longest accepted source in seconds (0: no limit).
    pub max_duration_seconds: f64,
    /// Largest accepted picture (0: no limit).
    pub max_width: u32,
    pub max_height: u32,
    /// Accepted video codecs by ffprobe name, e.g. ["h264", "hevc", "prores"] (empty: any).
    pub video_codecs: Vec<String>,
    /// Publish a source whose decoding stopped early or reported errors, with a warning
    /// on the asset, instead of failing it.
    pub allow_damaged_sources: bool,
    /// Share of its declared duration every source stream must decode, 0 < share <= 1.
    pub min_decoded_share: f64,
    /// Error messages from the source's decoders and demuxer tolerated before the source
    /// counts as damaged (ffmpeg prints one to a few per damaged frame).
    pub max_decode_errors: u64,
}

impl Default for ValidationPolicy {
    fn default() -> Self {
        let integrity = IntegrityPolicy::default();
        ValidationPolicy {
            max_duration_seconds: 6.0 * 3600.0,
            max_width: 7680,
            max_height: 4320,
            video_codecs: Vec::new(),
            allow_damaged_sources: integrity.allow_damaged,
            min_decoded_share: integrity.min_decoded_share,
            max_decode_errors: integrity.max_decode_errors,
        }
    }
}

impl ValidationPolicy {
    /// Checks the values that have a range.
    pub fn check(&self) -> Result<(), String> {
        if !(self.min_decoded_share > 0.0 && self.min_decoded_share <= 1.0) {
            return Err(format!(
                "policy.min_decoded_share must be above 0 and at most 1 (got {})",
                self.min_decoded_share
            ));
        }
        Ok(())
    }

    /// The decode integrity part, as the transcoder takes it.
    pub fn integrity(&self) -> IntegrityPolicy {
        IntegrityPolicy {
            allow_damaged: self.allow_damaged_sources,
            min_decoded_share: self.min_decoded_share,
            max_decode_errors: self.max_decode_errors,
        }
    }
}

/// Settings of the workers.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Names this worker in leases, logs and the fleet.
    pub worker_id: String,
    /// The machine, as the fleet shows it.
    pub host: String,
    /// Where the worker's process answers `/healthz` and `/metrics`, as the fleet shows it.
    pub listen: Option<String>,
    /// Local scratch space (sources and renditions being worked on).
    pub work_dir: PathBuf,
    /// How long a claimed task stays ours without a heartbeat.
    pub lease: Duration,
    /// How often the lease is renewed (well under `lease`).
    pub heartbeat: Duration,
    /// How long an idle worker waits before looking for work again.
    pub poll_interval: Duration,
    /// How this worker takes previews: first (a lone worker), last (beside preview
    /// workers), or only (a preview worker).
    pub previews: openvod_store::Previews,
    /// Runs of a stage before its asset fails.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled at each further attempt, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub policy: ValidationPolicy,
    /// Templates by name; an asset names the one it is transcoded with.
    pub templates: HashMap<String, JobTemplate>,
    /// The key store (keys sealed under the configured master key); templates with
    /// `[protection]` need it.
    pub key_store: Option<openvod_drm::KeyStore>,
    /// `Authorization` value sent to SPEKE key providers (e.g. `Bearer ...`).
    pub speke_authorization: Option<String>,
    /// Where SPEKE requests may go (`[outbound] allow`); the default admits no
    /// loopback, private or link-local address.
    pub outbound: openvod_net::OutboundPolicy,
}

impl PipelineConfig {
    /// Defaults for a worker scratching in `work_dir`, with the built-in template.
    pub fn new(worker_id: impl Into<String>, work_dir: impl Into<PathBuf>) -> PipelineConfig {
        let mut templates = HashMap::new();
        templates.insert("default".to_string(), JobTemplate::default_ladder());
        PipelineConfig {
            worker_id: worker_id.into(),
            host: host_name(),
            listen: None,
            work_dir: work_dir.into(),
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            previews: openvod_store::Previews::First,
            max_attempts: 3,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
            policy: ValidationPolicy::default(),
            templates,
            key_store: None,
            speke_authorization: None,
            outbound: openvod_net::OutboundPolicy::default(),
        }
    }

    /// Exponential backoff after failed attempt `attempt` (1-based).
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.retry_base.saturating_mul(factor).min(self.retry_max)
    }
}

/// This machine's name: `HOSTNAME` where the shell exported it, else the kernel's
/// (`/proc/sys/kernel/hostname`), else "local".
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".into())
}
