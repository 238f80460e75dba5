//! The tier mover: copies assets not played lately to the cold class, and cold assets
//! that are asked for back to the hot one.
//!
//! An asset moves whole (its source and every published object). A copy is checked to
//! hold every byte before the database says the asset moved, and the copies it leaves
//! are removed only after that commit, so a mover that stops at any point loses nothing:
//! the database names a class that holds every object, and at worst a stray copy stays
//! behind. Any process with the store may run a mover (`serve` and `worker` do); holds in
//! the database keep two from moving one asset at once.

use std::future::Future;
use std::time::Duration;

use crate::db::now_ms;
use crate::{Asset, Bucket, Db, Objects, Result, StorageState};

/// When and how a mover works.
#[derive(Debug, Clone, PartialEq)]
pub struct TierSettings {
    /// Ready assets not served for this long move to the cold class; `None`: only the
    /// API moves assets.
    pub cold_after: Option<Duration>,
    /// How often to look for assets to archive.
    pub archive_every: Duration,
    /// How often to look for assets to restore.
    pub restore_every: Duration,
    /// How long a mover's hold lasts without renewal.
    pub hold: Duration,
    /// How long the hot copies of an archived asset stay after the commit, for answers
    /// already streaming from them.
    pub grace: Duration,
}

impl Default for TierSettings {
    fn default() -> Self {
        TierSettings {
            cold_after: None,
            archive_every: Duration::from_secs(3600),
            restore_every: Duration::from_secs(1),
            hold: Duration::from_secs(60),
            grace: Duration::from_secs(30),
        }
    }
}

/// Moves assets between the hot and the cold class.
#[derive(Debug, Clone)]
pub struct TierMover {
    db: Db,
    objects: Objects,
    owner: String,
    settings: TierSettings,
}

/// One object of an asset: its key, whether it is the source (or published), and its
/// size where it was listed.
struct Placed {
    key: String,
    source: bool,
    size: u64,
}

/// The objects and bytes of a list.
fn counted(placed: &[Placed]) -> (u64, u64) {
    (placed.len() as u64, placed.iter().map(|p| p.size).sum())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

impl TierMover {
    /// A mover named `owner` (unique among the processes sharing the database).
    pub fn new(db: Db, objects: Objects, owner: String, settings: TierSettings) -> TierMover {
        TierMover {
            db,
            objects,
            owner,
            settings,
        }
    }

    fn until(&self) -> i64 {
        now_ms() + millis(self.settings.hold)
    }

    /// Moves assets until `shutdown` completes: restores as they are asked for, archives
    /// every `archive_every` when `cold_after` is set, and gives back archives whose
    /// mover stopped.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut next_archive = tokio::time::Instant::now();
        loop {
            if let Err(e) = self.release_stale().await {
                tracing::warn!(error = %e, "storage tiers: stale archives");
            }
            loop {
                match self.restore_next().await {
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "storage tiers: restore");
                        break;
                    }
                }
            }
            if let Some(after) = self.settings.cold_after {
                if tokio::time::Instant::now() >= next_archive {
                    next_archive += self.settings.archive_every;
                    match self.archive_unused(after).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(archived = n, "storage tiers"),
                        Err(e) => tracing::warn!(error = %e, "storage tiers: archive"),
                    }
                }
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(self.settings.restore_every) => {}
            }
        }
    }

    /// Archives the ready assets not served for `after`; returns how many went cold.
    pub async fn archive_unused(&self, after: Duration) -> Result<usize> {
        let cutoff = now_ms() - millis(after);
        let mut archived = Vec::new();
        for id in self.db.assets_unused_since(cutoff, 100).await? {
            if !self.take_for_archive(&id).await? {
                continue;
            }
            match self.archive_copy(&id, false).await {
                Ok(Some(placed)) => archived.push(placed),
                Ok(None) => {}
                Err(e) => tracing::warn!(asset = %id, error = %e, "storage tiers: archive"),
            }
        }
        if !archived.is_empty() {
            // Answers already under way read the hot copies for a while yet.
            tokio::time::sleep(self.settings.grace).await;
        }
        for placed in &archived {
            self.remove_left(placed, false).await;
        }
        Ok(archived.len())
    }

    /// The bucket of `p` in the hot or the cold class.
    fn bucket(&self, p: &Placed, cold: bool) -> &Bucket {
        match (p.source, cold) {
            (true, false) => &self.objects.sources,
            (false, false) => &self.objects.outputs,
            (true, true) => &self.objects.cold.sources,
            (false, true) => &self.objects.cold.outputs,
        }
    }

    /// Every object of `asset`: its source (unless another asset shares it) and what was
    /// published under its prefix, listed where the asset's objects are now.
    async fn objects_of(&self, asset: &Asset, from_cold: bool) -> Result<Vec<Placed>> {
        let (hot, cold) = (&self.objects, &self.objects.cold);
        let mut placed = Vec::new();
        let sources = if from_cold {
            &cold.sources
        } else {
            &hot.sources
        };
        if self
            .db
            .other_assets_of_source(&asset.source_key, &asset.id)
            .await?
            == 0
        {
            if let Some(meta) = sources.head(&asset.source_key).await? {
                placed.push(Placed {
                    key: asset.source_key.clone(),
                    source: true,
                    size: meta.size,
                });
            }
        }
        if let Some(prefix) = &asset.output_prefix {
            let outputs = if from_cold {
                &cold.outputs
            } else {
                &hot.outputs
            };
            for (key, meta) in outputs.list(prefix).await? {
                placed.push(Placed {
                    key,
                    source: false,
                    size: meta.size,
                });
            }
        }
        Ok(placed)
    }

    /// Copies each object, renewing the hold as it goes. `false`: the hold was lost.
    async fn copy_all(&self, id: &str, placed: &[Placed], to_cold: bool) -> Result<bool> {
        // The hold is renewed while the copies run, however long one object takes; a
        // hold found lost stops the copies where they are.
        let copies = async {
            for p in placed {
                self.bucket(p, !to_cold)
                    .copy_to(&p.key, self.bucket(p, to_cold))
                    .await?;
            }
            Ok(true)
        };
        let holds = async {
            loop {
                tokio::time::sleep(self.settings.hold / 3).await;
                if !self
                    .db
                    .renew_storage_hold(id, &self.owner, self.until())
                    .await?
                {
                    return Ok(false);
                }
            }
        };
        tokio::select! {
            done = copies => done,
            lost = holds => lost,
        }
    }

    /// Removes the copies the move left behind, in the class the asset left (nothing on
    /// S3, where the objects were rewritten in place).
    async fn remove_left(&self, placed: &[Placed], from_cold: bool) {
        if self.objects.cold.in_place {
            return;
        }
        for p in placed {
            if let Err(e) = self.bucket(p, from_cold).delete(&p.key).await {
                tracing::warn!(key = %p.key, error = %e, "storage tiers: a copy left behind");
            }
        }
    }

    /// Moves one ready, hot asset to the cold class. Returns the state it is left in:
    /// `Cold`, or its state unchanged when it was not ready and hot, or `Hot` when it
    /// was served while being copied.
    pub async fn archive(&self, id: &str) -> Result<StorageState> {
        if !self.take_for_archive(id).await? {
            return Ok(self
                .db
                .asset(id)
                .await?
                .map_or(StorageState::Hot, |a| a.storage));
        }
        self.archive_held(id, false).await
    }

    /// Takes a ready, hot asset to archive it (it is `archiving` from now on); `false`
    /// when it is not ready and hot.
    pub async fn take_for_archive(&self, id: &str) -> Result<bool> {
        self.db.begin_archive(id, &self.owner, self.until()).await
    }

    /// Archives an asset [`TierMover::take_for_archive`] took: see [`TierMover::archive`].
    /// `forced` (an operator's request) archives it even when it is served meanwhile.
    pub async fn archive_held(&self, id: &str, forced: bool) -> Result<StorageState> {
        match self.archive_copy(id, forced).await? {
            Some(placed) => {
                // Answers already under way read the hot copies for a while yet.
                tokio::time::sleep(self.settings.grace).await;
                self.remove_left(&placed, false).await;
                Ok(StorageState::Cold)
            }
            None => Ok(self
                .db
                .asset(id)
                .await?
                .map_or(StorageState::Hot, |a| a.storage)),
        }
    }

    /// Copies one asset to the cold class and commits it cold; returns the objects whose
    /// hot copies are left to remove, `None` when the asset did not go cold.
    async fn archive_copy(&self, id: &str, forced: bool) -> Result<Option<Vec<Placed>>> {
        // Served since this instant, the asset stays hot (unless forced).
        let started = if forced { i64::MAX } else { now_ms() };
        let Some(asset) = self.db.asset(id).await? else {
            return Ok(None);
        };
        let placed = match self.objects_of(&asset, false).await {
            Ok(p) => p,
            Err(e) => {
                self.db.abandon_archive(id, &self.owner).await?;
                return Err(e);
            }
        };
        let state = match self.copy_all(id, &placed, true).await {
            Ok(true) => {
                self.db
                    .finish_archive(id, &self.owner, started, counted(&placed))
                    .await?
            }
            Ok(false) => None,
            Err(e) => {
                self.db.abandon_archive(id, &self.owner).await?;
                self.undo_archive(&placed).await;
                return Err(e);
            }
        };
        if state == Some(StorageState::Cold) {
            tracing::info!(asset = %id, objects = placed.len(), "archived");
            Ok(Some(placed))
        } else {
            self.undo_archive(&placed).await;
            Ok(None)
        }
    }

    /// After an archive that did not commit: on S3 the objects rewritten in the cold
    /// class go back to the hot one; locally the cold copies are removed.
    async fn undo_archive(&self, placed: &[Placed]) {
        for p in placed {
            let (hot, cold) = (self.bucket(p, false), self.bucket(p, true));
            let undone = if self.objects.cold.in_place {
                match hot.head(&p.key).await {
                    Ok(Some(_)) => cold.copy_to(&p.key, hot).await.map(drop),
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                }
            } else {
                cold.delete(&p.key).await
            };
            if let Err(e) = undone {
                tracing::warn!(key = %p.key, error = %e, "storage tiers: undoing an archive");
            }
        }
    }

    /// Gives back archives whose mover stopped, removing their cold copies.
    async fn release_stale(&self) -> Result<()> {
        for id in self.db.release_stale_archives().await? {
            tracing::warn!(asset = %id, "storage tiers: an archive left unfinished is hot again");
            if let Some(asset) = self.db.asset(&id).await? {
                let placed = self.objects_of(&asset, false).await?;
                self.undo_archive(&placed).await;
            }
        }
        Ok(())
    }

    /// Restores the next asset asked for; returns its id, `None` when none waits. A
    /// failed copy is tried again a minute later.
    pub async fn restore_next(&self) -> Result<Option<String>> {
        let Some(id) = self.db.claim_restore(&self.owner, self.until()).await? else {
            return Ok(None);
        };
        match self.restore(&id).await {
            Ok(()) => Ok(Some(id)),
            Err(e) => {
                self.db
                    .postpone_restore(&id, &self.owner, now_ms() + 60_000)
                    .await?;
                Err(e)
            }
        }
    }

    async fn restore(&self, id: &str) -> Result<()> {
        let Some(asset) = self.db.asset(id).await? else {
            return Ok(());
        };
        let placed = self.objects_of(&asset, true).await?;
        // Never hot with less than was archived: a cold copy gone missing is an error
        // the operator sees, and the restore is tried again later.
        if let Some(archived) = self.db.cold_copied(id).await? {
            let found = counted(&placed);
            if found != archived {
                return Err(crate::Error::Conflict(format!(
                    "asset {id}: the cold class holds {} objects of {} bytes, the archive copied {} of {}",
                    found.0, found.1, archived.0, archived.1
                )));
            }
        }
        if !self.copy_all(id, &placed, false).await? {
            return Ok(());
        }
        if self.db.finish_restore(id, &self.owner).await? {
            tracing::info!(asset = %id, objects = placed.len(), "restored");
            self.remove_left(&placed, true).await;
        } else if self.db.asset(id).await?.is_none() && !self.objects.cold.in_place {
            // Deleted while it was restored: the hot copies made since are nobody's.
            self.remove_left(&placed, false).await;
        }
        Ok(())
    }
}
