//! Object storage through `object_store`: a local folder by default, any S3-compatible
//! store by configuration. Sources and outputs are separate locations (prefixes or
//! buckets), like the source and destination buckets of the reference architecture.
//! Objects are streamed in and out; nothing here holds a whole media object in memory.

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
pub use object_store::ObjectMeta;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Error, Result};

/// Where objects live.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ObjectsConfig {
    /// A folder on this machine.
    Local {
        /// Root folder; sources and outputs are sub-folders of it.
        root: PathBuf,
    },
    /// An S3-compatible store (AWS S3, Garage, MinIO, Ceph...).
    S3 {
        /// e.g. `http://127.0.0.1:3900`; empty for AWS.
        #[serde(default)]
        endpoint: Option<String>,
        /// Bucket of the sources.
        source_bucket: String,
        /// Bucket of the outputs (may be the source bucket).
        output_bucket: String,
        #[serde(default = "default_region")]
        region: String,
        access_key_id: String,
        secret_access_key: String,
        /// Path-style requests (`endpoint/bucket/key`), as most self-hosted stores want.
        #[serde(default = "yes")]
        path_style: bool,
        /// Allow plain-HTTP endpoints.
        #[serde(default)]
        allow_http: bool,
    },
}

fn default_region() -> String {
    "us-east-1".into()
}
fn yes() -> bool {
    true
}

/// One location: a store and a key prefix within it.
#[derive(Debug, Clone)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// The same store when it is a local folder, for [`Bucket::local_file`].
    local: Option<Arc<LocalFileSystem>>,
    /// The storage class objects copied in are written in (S3's cold class); `None`: the
    /// store's own.
    class: Option<ColdStorageClass>,
}

/// The source and output locations, hot and cold.
#[derive(Debug, Clone)]
pub struct Objects {
    pub sources: Bucket,
    pub outputs: Bucket,
    /// Where assets not played lately are kept.
    pub cold: ColdObjects,
}

/// The S3 storage class cold objects are written in. Only classes that read back at once
/// are offered: an object in S3 Glacier Flexible Retrieval or Deep Archive needs a
/// `RestoreObject` request and hours before it can be read, which the S3 client used
/// here cannot send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ColdStorageClass {
    /// S3 Standard-Infrequent Access.
    StandardIa,
    /// S3 One Zone-Infrequent Access.
    OnezoneIa,
    /// S3 Glacier Instant Retrieval: archive prices, read back in milliseconds.
    #[default]
    GlacierIr,
}

impl ColdStorageClass {
    /// The `x-amz-storage-class` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ColdStorageClass::StandardIa => "STANDARD_IA",
            ColdStorageClass::OnezoneIa => "ONEZONE_IA",
            ColdStorageClass::GlacierIr => "GLACIER_IR",
        }
    }
}

/// Where cold objects are kept: a folder of their own locally (`ROOT/cold`, or another
/// disk), or on S3 the same keys rewritten in a colder storage class.
#[derive(Debug, Clone)]
pub struct ColdObjects {
    pub sources: Bucket,
    pub outputs: Bucket,
    /// Whether the cold copies are the hot objects rewritten in place (S3): moving
    /// rewrites each object, and there is no hot copy to remove after.
    pub in_place: bool,
}

/// Largest accepted key.
const MAX_KEY_BYTES: usize = 1024;

/// Checks a key given by a user or derived from one: relative, no `.`/`..` or empty
/// segments, no backslashes or control characters. Anything that could address an
/// object outside its location is refused.
pub fn check_key(key: &str) -> Result<Path> {
    let bad = |reason| Error::Key {
        key: key.chars().take(200).collect(),
        reason,
    };
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(bad("must be 1 to 1024 bytes"));
    }
    if key.starts_with('/') || key.ends_with('/') {
        return Err(bad("must not start or end with '/'"));
    }
    if key.chars().any(|c| c.is_control() || c == '\\') {
        return Err(bad("must not hold control characters or backslashes"));
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(bad("must not hold empty, '.' or '..' segments"));
    }
    Path::parse(key).map_err(|_| bad("is not a valid object path"))
}

impl Objects {
    /// Opens the configured store.
    pub fn open(config: &ObjectsConfig) -> Result<Objects> {
        match config {
            ObjectsConfig::Local { root } => {
                let [sources, outputs] = local_pair(root)?;
                Ok(Objects {
                    sources,
                    outputs,
                    cold: cold_folder(&root.join("cold"))?,
                })
            }
            ObjectsConfig::S3 {
                endpoint,
                source_bucket,
                output_bucket,
                region,
                access_key_id,
                secret_access_key,
                path_style,
                allow_http,
            } => {
                let open = |bucket: &str, prefix: &str| -> Result<Bucket> {
                    let mut b = AmazonS3Builder::new()
                        .with_bucket_name(bucket)
                        .with_region(region)
                        .with_access_key_id(access_key_id)
                        .with_secret_access_key(secret_access_key)
                        .with_virtual_hosted_style_request(!path_style)
                        .with_allow_http(*allow_http);
                    if let Some(e) = endpoint.as_deref().filter(|e| !e.is_empty()) {
                        b = b.with_endpoint(e);
                    }
                    Ok(Bucket {
                        store: Arc::new(b.build()?),
                        prefix: Path::from(prefix),
                        local: None,
                        class: None,
                    })
                };
                // One bucket for both: separate prefixes.
                let (sp, op) = if source_bucket == output_bucket {
                    ("sources", "outputs")
                } else {
                    ("", "")
                };
                let (sources, outputs) = (open(source_bucket, sp)?, open(output_bucket, op)?);
                let in_class = |b: &Bucket| Bucket {
                    class: Some(ColdStorageClass::default()),
                    ..b.clone()
                };
                Ok(Objects {
                    cold: ColdObjects {
                        sources: in_class(&sources),
                        outputs: in_class(&outputs),
                        in_place: true,
                    },
                    sources,
                    outputs,
                })
            }
        }
    }

    /// Keeps cold objects in `root` (another disk, say) rather than `ROOT/cold`; for a
    /// local store only (an error on S3, whose cold objects stay where they are).
    pub fn with_cold_root(mut self, root: &FsPath) -> Result<Objects> {
        if self.cold.in_place {
            return Err(Error::Config(
                "a cold folder is for a local store; on S3 cold objects change storage class"
                    .into(),
            ));
        }
        self.cold = cold_folder(root)?;
        Ok(self)
    }

    /// Writes cold objects in `class` on S3; a local store has no classes (its cold
    /// objects are in their own folder) and is unchanged.
    pub fn with_cold_class(mut self, class: ColdStorageClass) -> Objects {
        if self.cold.in_place {
            self.cold.sources.class = Some(class);
            self.cold.outputs.class = Some(class);
        }
        self
    }
}

/// `root/sources` and `root/outputs`, each a folder store.
fn local_pair(root: &FsPath) -> Result<[Bucket; 2]> {
    let open = |sub: &str| -> Result<Bucket> {
        let dir = root.join(sub);
        std::fs::create_dir_all(&dir)?;
        let fs = Arc::new(LocalFileSystem::new_with_prefix(&dir)?.with_automatic_cleanup(true));
        Ok(Bucket {
            store: fs.clone(),
            prefix: Path::default(),
            local: Some(fs),
            class: None,
        })
    };
    Ok([open("sources")?, open("outputs")?])
}

fn cold_folder(root: &FsPath) -> Result<ColdObjects> {
    let [sources, outputs] = local_pair(root)?;
    Ok(ColdObjects {
        sources,
        outputs,
        in_place: false,
    })
}

impl Bucket {
    fn path(&self, key: &str) -> Result<Path> {
        let key = check_key(key)?;
        Ok(if self.prefix.as_ref().is_empty() {
            key
        } else {
            Path::from_iter(self.prefix.parts().chain(key.parts()))
        })
    }

    /// The file that holds `key` when this location is a local folder (`None` for S3):
    /// for a reader that reads ranges of it straight into its own buffer rather than
    /// through the store, which returns each range in a zero-filled buffer of its own.
    /// The key is checked as for every other call; the file may not exist.
    pub fn local_file(&self, key: &str) -> Result<Option<std::path::PathBuf>> {
        let Some(fs) = &self.local else {
            return Ok(None);
        };
        Ok(Some(fs.path_to_filesystem(&self.path(key)?)?))
    }

    /// The key of `path` relative to this location.
    fn key_of(&self, path: &Path) -> String {
        let full = path.as_ref();
        let prefix = self.prefix.as_ref();
        if prefix.is_empty() {
            full.to_string()
        } else {
            full.strip_prefix(prefix)
                .map(|k| k.trim_start_matches('/'))
                .unwrap_or(full)
                .to_string()
        }
    }

    /// Writes an object from a stream of chunks (multipart on S3 past a few MiB), at most
    /// `limit` bytes; returns its size. Past the limit the upload is aborted and
    /// [`Error::Conflict`] returned, and nothing is left behind; so is it when the stream
    /// fails.
    pub async fn put_stream<S, E>(&self, key: &str, body: S, limit: u64) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        match self.write_stream(key, body, limit, false).await? {
            (size, None) => Ok(size),
            (_, Some(e)) => Err(Error::Io(std::io::Error::other(e))),
        }
    }

    /// Like [`Bucket::put_stream`], but when the stream fails the bytes that did arrive
    /// are kept as the object: returns the size stored and the stream's error. An empty
    /// object is not kept.
    pub async fn put_stream_partial<S, E>(
        &self,
        key: &str,
        body: S,
        limit: u64,
    ) -> Result<(u64, Option<String>)>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        self.write_stream(key, body, limit, true).await
    }

    async fn write_stream<S, E>(
        &self,
        key: &str,
        mut body: S,
        limit: u64,
        keep_partial: bool,
    ) -> Result<(u64, Option<String>)>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = self.path(key)?;
        let mut writer = BufWriter::new(self.store.clone(), path);
        let mut size = 0u64;
        let mut failure = None;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            };
            size += chunk.len() as u64;
            if size > limit {
                let _ = writer.abort().await;
                return Err(Error::Conflict(format!(
                    "the object is larger than the limit of {limit} bytes"
                )));
            }
            if let Err(e) = writer.write_all(&chunk).await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
        }
        if failure.is_some() && (!keep_partial || size == 0) {
            let _ = writer.abort().await;
            return Ok((0, failure));
        }
        writer.shutdown().await?;
        Ok((size, failure))
    }

    /// Writes `dest` as the objects `parts` joined in order, streaming; returns its size.
    pub async fn concat(&self, dest: &str, parts: &[String]) -> Result<u64> {
        let mut writer = BufWriter::new(self.store.clone(), self.path(dest)?);
        let mut size = 0u64;
        for part in parts {
            let mut stream = Box::pin(self.get_stream(part, None).await?);
            while let Some(chunk) = stream.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = writer.abort().await;
                        return Err(e);
                    }
                };
                size += chunk.len() as u64;
                if let Err(e) = writer.write_all(&chunk).await {
                    let _ = writer.abort().await;
                    return Err(e.into());
                }
            }
        }
        writer.shutdown().await?;
        Ok(size)
    }

    /// Uploads a local file.
    pub async fn put_file(&self, key: &str, file: &FsPath) -> Result<u64> {
        let path = self.path(key)?;
        let mut src = tokio::fs::File::open(file).await?;
        let mut writer = BufWriter::new(self.store.clone(), path);
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = src.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            if let Err(e) = writer.write_all(&buf[..n]).await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
            size += n as u64;
        }
        writer.shutdown().await?;
        Ok(size)
    }

    /// Uploads every file below `dir` under `prefix/`, keeping relative paths.
    pub async fn put_dir(&self, prefix: &str, dir: &FsPath) -> Result<u64> {
        let mut total = 0;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let mut entries = tokio::fs::read_dir(&d).await?;
            while let Some(e) = entries.next_entry().await? {
                let p = e.path();
                if e.file_type().await?.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p
                        .strip_prefix(dir)
                        .map_err(|_| Error::Config("file outside the folder".into()))?;
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    total += self.put_file(&format!("{prefix}/{rel}"), &p).await?;
                }
            }
        }
        Ok(total)
    }

    /// Small objects (manifests, indexes) read whole.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<()> {
        self.store.put(&self.path(key)?, bytes.into()).await?;
        Ok(())
    }

    /// Size and identity of an object; `None` when it does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        match self.store.head(&self.path(key)?).await {
            Ok(m) => Ok(Some(m)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Bytes `range` of an object.
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        Ok(self.store.get_range(&self.path(key)?, range).await?)
    }

    /// An object as a stream of chunks.
    pub async fn get_stream(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
        let opts = object_store::GetOptions {
            range: range.map(Into::into),
            ..Default::default()
        };
        let result = self.store.get_opts(&self.path(key)?, opts).await?;
        Ok(result.into_stream().map_err(Error::from))
    }

    /// Copies an object to a local file, streaming (from a folder store, a file copy:
    /// the kernel's, rather than the store's small chunks through memory).
    pub async fn download(&self, key: &str, file: &FsPath) -> Result<u64> {
        if let Some(path) = self.local_file(key)? {
            // A missing one goes on to the store's own answer below.
            if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()) {
                return Ok(tokio::fs::copy(&path, file).await?);
            }
        }
        let mut stream = Box::pin(self.get_stream(key, None).await?);
        let mut out = tokio::fs::File::create(file).await?;
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        Ok(size)
    }

    /// Objects under `prefix` (`""` for all), with keys relative to this location.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, ObjectMeta)>> {
        let path = if prefix.is_empty() {
            self.prefix.clone()
        } else {
            self.path(prefix)?
        };
        let path = (!path.as_ref().is_empty()).then_some(path);
        let metas: Vec<ObjectMeta> = self.store.list(path.as_ref()).try_collect().await?;
        Ok(metas
            .into_iter()
            .map(|m| (self.key_of(&m.location), m))
            .collect())
    }

    /// Copies object `key` to the same key in `to`, streaming, written in `to`'s storage
    /// class; returns its size once the copy is checked to hold every byte. `to` may be
    /// this very location (an S3 object rewritten in another class): the new object
    /// replaces the old one only when it is complete.
    pub async fn copy_to(&self, key: &str, to: &Bucket) -> Result<u64> {
        let path = self.path(key)?;
        let result = self.store.get(&path).await?;
        let expected = result.meta.size;
        let mut stream = result.into_stream();
        let mut writer = BufWriter::new(to.store.clone(), to.path(key)?);
        if let Some(class) = to.class {
            writer = writer.with_attributes(object_store::Attributes::from_iter([(
                object_store::Attribute::StorageClass,
                object_store::AttributeValue::from(class.as_str()),
            )]));
        }
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e.into());
                }
            };
            size += chunk.len() as u64;
            if let Err(e) = writer.write_all(&chunk).await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
        }
        if size != expected {
            let _ = writer.abort().await;
            return Err(Error::Conflict(format!(
                "{key}: read {size} of its {expected} bytes"
            )));
        }
        writer.shutdown().await?;
        // On disk before anyone relies on it: the old copy goes once this returns.
        if let Some(file) = to.local_file(key)? {
            tokio::fs::File::open(&file).await?.sync_all().await?;
        }
        match to.head(key).await? {
            Some(m) if m.size == size => Ok(size),
            other => Err(Error::Conflict(format!(
                "{key}: the copy holds {:?} bytes, not {size}",
                other.map(|m| m.size)
            ))),
        }
    }

    /// Deletes one object; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&self.path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes every object under `prefix`; returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize> {
        let objects = self.list(prefix).await?;
        for (key, _) in &objects {
            self.delete(key).await?;
        }
        Ok(objects.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_leave_their_location() {
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "../x",
            "a//b",
            "a/./b",
            "a\\b",
            "a/",
            "a\u{0}b",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "sources/2024/movie.mov", "x y/é.mp4"] {
            assert!(check_key(good).is_ok(), "{good:?} refused");
        }
    }
}
