//! `[steering]`: the CDNs (pathways) manifests are offered through, read and checked
//! once into the server's `SteeringConfig`.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Multi-CDN content steering (file only): `[[steering.pathways]] id = "cdn-a"`,
/// `base = "https://cdn-a.example.com"`, optional `weight`. With two or more pathways,
/// multivariant playlists and MPDs offer every pathway and players ask
/// `/steer/{id}/hls.json` or `dash.json` which to prefer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SteeringSection {
    pub pathways: Vec<PathwayEntry>,
    /// How long players keep a steering answer.
    pub ttl_seconds: u64,
    /// Probed on every pathway's base; a pathway whose probe fails goes last.
    pub health_path: String,
    pub health_every_seconds: u64,
}

impl Default for SteeringSection {
    fn default() -> Self {
        SteeringSection {
            pathways: Vec::new(),
            ttl_seconds: 60,
            health_path: "/healthz".into(),
            health_every_seconds: 10,
        }
    }
}

/// One CDN in front of the origins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathwayEntry {
    pub id: String,
    pub base: String,
    #[serde(default = "one")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

impl SteeringSection {
    /// The steering the server runs with, checked: ids unique and safe, bases plain
    /// `http(s)://host[:port]`, weights and times above zero.
    pub fn parsed(&self) -> Result<openvod_server::steering::SteeringConfig> {
        let mut pathways: Vec<openvod_server::steering::Pathway> = Vec::new();
        for p in &self.pathways {
            let id = openvod_media::steering::PathwayId::parse(&p.id).with_context(|| {
                format!(
                    "config: steering pathway id {:?} must be 1 to 32 of A-Z a-z 0-9 . _ -",
                    p.id
                )
            })?;
            if pathways.iter().any(|q| q.id == id) {
                bail!("config: steering pathway {id} is given twice");
            }
            let url = url::Url::parse(&p.base)
                .with_context(|| format!("config: steering pathway {id}: base {:?}", p.base))?;
            if !matches!(url.scheme(), "http" | "https")
                || url.host_str().is_none()
                || url.path() != "/"
                || url.query().is_some()
                || !url.username().is_empty()
            {
                bail!("config: steering pathway {id}: base must be http(s)://host[:port] alone, got {:?}", p.base);
            }
            if p.weight == 0 {
                bail!("config: steering pathway {id}: weight must be at least 1");
            }
            pathways.push(openvod_server::steering::Pathway {
                id,
                base: p.base.trim_end_matches('/').to_string(),
                weight: p.weight,
            });
        }
        if self.ttl_seconds == 0
            || self.health_every_seconds == 0
            || !self.health_path.starts_with('/')
        {
            bail!("config: steering ttl_seconds and health_every_seconds must be at least 1, and health_path must start with /");
        }
        Ok(openvod_server::steering::SteeringConfig {
            pathways,
            ttl: std::time::Duration::from_secs(self.ttl_seconds),
            health_path: self.health_path.clone(),
            health_every: std::time::Duration::from_secs(self.health_every_seconds),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::config::Config;

    #[test]
    fn steering_pathways_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("openvod.toml");
        let with = |pathways: &str| {
            std::fs::write(&file, format!("[steering]\n{pathways}")).unwrap();
            Config::load(Some(&file), &HashMap::new())
        };
        let ok = with(
            "[[steering.pathways]]\nid = \"cdn-a\"\nbase = \"https://a.example\"\n\
             [[steering.pathways]]\nid = \"cdn-b\"\nbase = \"http://127.0.0.1:9000/\"\nweight = 3\n",
        )
        .unwrap();
        let parsed = ok.steering.parsed().unwrap();
        assert_eq!(parsed.pathways[1].base, "http://127.0.0.1:9000");
        assert_eq!(parsed.pathways[1].weight, 3);
        for (bad, why) in [
            ("[[steering.pathways]]\nid = \"a b\"\nbase = \"https://a.example\"\n", "1 to 32"),
            ("[[steering.pathways]]\nid = \"a\"\nbase = \"https://a.example/cdn\"\n", "alone"),
            ("[[steering.pathways]]\nid = \"a\"\nbase = \"ftp://a.example\"\n", "alone"),
            ("[[steering.pathways]]\nid = \"a\"\nbase = \"https://a.example\"\n[[steering.pathways]]\nid = \"a\"\nbase = \"https://b.example\"\n", "twice"),
            ("[[steering.pathways]]\nid = \"a\"\nbase = \"https://a.example\"\nweight = 0\n", "weight"),
        ] {
            let err = with(bad).unwrap_err();
            assert!(format!("{err:#}").contains(why), "{bad}: {err:#}");
        }
    }
}
