//! `openvod sign-url`: CloudFront-compatible signed URLs and cookies from the command
//! line, for scripts and for checking a setup by hand.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use openvod_access::{HashAlgorithm, Policy, UrlSigner};

#[derive(Args)]
pub struct SignArgs {
    /// The URL to sign, e.g. https://cdn.example.com/play/ID/master.m3u8.
    pub url: String,
    /// The key pair id the origin (or CloudFront) trusts for this key.
    #[arg(long)]
    pub key_pair_id: String,
    /// RSA private key, PEM (PKCS#1 or PKCS#8).
    #[arg(long)]
    pub private_key: PathBuf,
    /// Canned policy: valid until this time (epoch seconds, or +SECONDS from now).
    #[arg(long, conflicts_with = "policy")]
    pub expires: Option<String>,
    /// Custom policy: a CloudFront policy JSON file (Resource may hold wildcards).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Sign with SHA-256 instead of SHA-1 (adds Hash-Algorithm=SHA256).
    #[arg(long)]
    pub sha256: bool,
    /// Print the signed cookies as well, as JSON.
    #[arg(long)]
    pub json: bool,
}

fn expiry(text: &str) -> Result<u64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let value = match text.strip_prefix('+') {
        Some(rel) => now + rel.parse::<u64>().context("--expires +SECONDS")?,
        None => text
            .parse::<u64>()
            .context("--expires: epoch seconds or +SECONDS")?,
    };
    if value <= now {
        bail!("--expires {text} is in the past");
    }
    Ok(value)
}

pub fn sign_url(args: SignArgs) -> Result<()> {
    let pem = std::fs::read_to_string(&args.private_key)
        .with_context(|| args.private_key.display().to_string())?;
    let hash = if args.sha256 {
        HashAlgorithm::Sha256
    } else {
        HashAlgorithm::Sha1
    };
    let signer = UrlSigner::from_pem(&args.key_pair_id, &pem, hash)
        .with_context(|| format!("{}", args.private_key.display()))?;
    let (url, cookies) = match (&args.expires, &args.policy) {
        (Some(e), None) => {
            let expires = expiry(e)?;
            (
                signer.signed_url_canned(&args.url, expires)?,
                signer.signed_cookies_canned(&args.url, expires)?,
            )
        }
        (None, Some(file)) => {
            let text = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
            let policy = Policy::from_json(&text)
                .with_context(|| format!("{}: not a CloudFront policy", file.display()))?;
            (
                signer.signed_url_custom(&args.url, &policy)?,
                signer.signed_cookies(&policy)?,
            )
        }
        _ => bail!("give --expires (a canned policy) or --policy FILE (a custom policy)"),
    };
    if args.json {
        let cookies: serde_json::Map<String, serde_json::Value> = cookies
            .into_iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "url": url, "cookies": cookies }))?
        );
    } else {
        println!("{url}");
    }
    Ok(())
}
