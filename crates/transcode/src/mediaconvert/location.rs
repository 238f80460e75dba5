//! Locations of the job: `s3://bucket/key` URLs mapped to local folders by
//! [`LocationMap`]s (`--map s3://bucket=DIR`), or local paths taken as they are. Keys
//! with `.` or `..` segments are refused so that a job cannot point outside its folder.

use std::path::PathBuf;

use super::values::{err, quoted};
use super::Importer;
use crate::{Error, Result};

/// Where an S3 bucket of the job lives on this machine: `--map s3://bucket=DIR`.
///
/// `s3://bucket/a/b.mp4` is read from `DIR/a/b.mp4`, and a `Destination` of
/// `s3://bucket/out/` is written to the folder `DIR/out`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationMap {
    pub bucket: String,
    pub dir: PathBuf,
}

impl LocationMap {
    /// Parses `s3://bucket=DIR`. Only whole buckets are mapped (no prefixes): the prefix of
    /// each S3 URL is kept under `DIR`, so one map serves every key of the bucket.
    pub fn parse(arg: &str) -> Result<LocationMap> {
        let bad = |why: &str| {
            Error::MediaConvert(format!(
                "--map {}: {why}; expected s3://BUCKET=DIR",
                quoted(arg)
            ))
        };
        let rest = arg
            .strip_prefix("s3://")
            .ok_or_else(|| bad("does not start with s3://"))?;
        let (bucket, dir) = rest.split_once('=').ok_or_else(|| bad("has no '=DIR'"))?;
        let bucket = bucket.strip_suffix('/').unwrap_or(bucket);
        if bucket.contains('/') {
            return Err(bad(
                "maps a prefix; map the whole bucket (keys keep their prefix under DIR)",
            ));
        }
        if !valid_bucket(bucket) {
            return Err(bad("the bucket name is not a valid S3 bucket name"));
        }
        if dir.is_empty() || dir.contains('\0') {
            return Err(bad("the folder is empty or invalid"));
        }
        Ok(LocationMap {
            bucket: bucket.to_string(),
            dir: PathBuf::from(dir),
        })
    }
}

/// S3 bucket names: 3-63 of `a-z 0-9 . -` today; older us-east-1 buckets may be up to 255
/// characters with capitals and `_`, so those are allowed too.
fn valid_bucket(b: &str) -> bool {
    (1..=255).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

/// Whether a location names a file to read or a folder to write.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Target {
    Input,
    Destination,
}

impl Importer<'_> {
    /// Maps `s3://bucket/key` through the `--map`s, or takes a local path as it is.
    /// MediaConvert itself accepts only S3 and HTTP(S) locations; local paths are allowed
    /// so that a job can be pointed at local files without inventing a bucket.
    ///
    /// A `Destination` is always a folder: `s3://b/out/` and `s3://b/out/movie` map to
    /// `DIR/out` and `DIR/out/movie` (MediaConvert would use `movie` as the base name of
    /// the manifests in `out/`; openvod names its files itself).
    pub(super) fn locate(&self, url: &str, path: &str, target: Target) -> Result<PathBuf> {
        if url.is_empty() || url.contains('\0') {
            return Err(err(path, format!("{} is not a location", quoted(url))));
        }
        if target == Target::Destination && url.contains('$') {
            return Err(err(
                path,
                format!(
                    "{}: format identifiers ($dt$, $fn$, ...) \
                    are not supported; give a plain folder",
                    quoted(url)
                ),
            ));
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            if url.contains("://") {
                return Err(err(
                    path,
                    format!(
                        "{} is not supported: use s3:// locations (mapped with \
                         --map s3://BUCKET=DIR) or local paths{}",
                        quoted(url),
                        if target == Target::Input {
                            "; download HTTP(S) inputs first"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            return Ok(PathBuf::from(url));
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if !valid_bucket(bucket) {
            return Err(err(
                path,
                format!(
                    "{}: {} is not an S3 bucket name",
                    quoted(url),
                    quoted(bucket)
                ),
            ));
        }
        let Some(map) = self.maps.iter().find(|m| m.bucket == bucket) else {
            return Err(err(
                path,
                format!(
                    "bucket {bucket} is not mapped to a local folder: pass --map s3://{bucket}=DIR"
                ),
            ));
        };
        if target == Target::Input && (key.is_empty() || key.ends_with('/')) {
            return Err(err(
                path,
                format!("{} names a folder, not a file", quoted(url)),
            ));
        }
        let mut local = map.dir.clone();
        for part in key.split('/').filter(|p| !p.is_empty()) {
            if part == "." || part == ".." {
                return Err(err(
                    path,
                    format!(
                        "{}: keys with . or .. segments are not \
                        supported (they would leave the mapped folder)",
                        quoted(url)
                    ),
                ));
            }
            local.push(part);
        }
        Ok(local)
    }
}
