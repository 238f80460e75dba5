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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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
    /// The mover's name; each move holds its asset under this name and a number of its
    /// own, so that no two moves share a hold.
    name: String,
    moves: Arc<AtomicU64>,
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
    /// A mover named `name` (unique among the processes sharing the database).
    pub fn new(db: Db, objects: Objects, name: String, settings: TierSettings) -> TierMover {
        TierMover {
            db,
            objects,
            name,
            moves: Arc::new(AtomicU64::new(0)),
            settings,
        }
    }

    /// The owner of a new move's hold.
    fn owner(&self) -> String {
        format!(
            "{}/{}",
            self.name,
            self.moves.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn until(&self) -> i64 {
        now_ms() + millis(self.settings.hold)
    }

    /// Moves assets until `shutdown` completes: restores as they are asked for, archives
    /// every `archive_every` when `cold_after` is set, and takes over archives whose
    /// mover stopped.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut next_archive = tokio::time::Instant::now();
        let mut next_release = tokio::time::Instant::now();
        loop {
            // A stale hold is at least `hold` old: looking once a `hold` is enough, and
            // spares the database a write every `restore_every`.
            if tokio::time::Instant::now() >= next_release {
                next_release += self.settings.hold;
                if let Err(e) = self.release_stale().await {
                    tracing::warn!(error = %e, "storage tiers: stale archives");
                }
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
    /// Each one's hot copies are removed `grace` later, in a task of its own.
    pub async fn archive_unused(&self, after: Duration) -> Result<usize> {
        let cutoff = now_ms() - millis(after);
        let mut n = 0;
        for id in self.db.assets_unused_since(cutoff, 100).await? {
            let Some(owner) = self.take_for_archive(&id).await? else {
                continue;
            };
            match self.archive_copy(&id, &owner, false).await {
                Ok(Some(placed)) => {
                    n += 1;
                    let mover = self.clone();
                    tokio::spawn(async move { mover.clean_up_archive(&id, &owner, placed).await });
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(asset = %id, error = %e, "storage tiers: archive"),
            }
        }
        Ok(n)
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
    async fn copy_all(
        &self,
        id: &str,
        owner: &str,
        placed: &[Placed],
        to_cold: bool,
    ) -> Result<bool> {
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
                if !self.db.renew_storage_hold(id, owner, self.until()).await? {
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
        let Some(owner) = self.take_for_archive(id).await? else {
            return Ok(self
                .db
                .asset(id)
                .await?
                .map_or(StorageState::Hot, |a| a.storage));
        };
        self.archive_held(id, &owner, false).await
    }

    /// Takes a ready, hot asset that no move holds to archive it (it is `archiving` from
    /// now on); returns the hold's owner, `None` when it cannot be taken.
    pub async fn take_for_archive(&self, id: &str) -> Result<Option<String>> {
        let owner = self.owner();
        Ok(self
            .db
            .begin_archive(id, &owner, self.until())
            .await?
            .then_some(owner))
    }

    /// Archives an asset [`TierMover::take_for_archive`] took under `owner`: see
    /// [`TierMover::archive`]. `forced` (an operator's request) archives it even when it
    /// is served meanwhile.
    pub async fn archive_held(&self, id: &str, owner: &str, forced: bool) -> Result<StorageState> {
        match self.archive_copy(id, owner, forced).await? {
            Some(placed) => {
                self.clean_up_archive(id, owner, placed).await;
                Ok(StorageState::Cold)
            }
            None => Ok(self
                .db
                .asset(id)
                .await?
                .map_or(StorageState::Hot, |a| a.storage)),
        }
    }

    /// After an archive committed: `grace` later, while the hold is still the archive's,
    /// the hot copies go, then the hold. A restore waits for the hold, so it never
    /// copies back objects this is about to remove.
    async fn clean_up_archive(&self, id: &str, owner: &str, placed: Vec<Placed>) {
        // Answers already under way read the hot copies for a while yet.
        tokio::time::sleep(self.settings.grace).await;
        match self.db.renew_storage_hold(id, owner, self.until()).await {
            Ok(true) => self.remove_left(&placed, false).await,
            Ok(false) => {
                tracing::warn!(asset = %id, "storage tiers: the hold ended before the hot copies were removed");
                return;
            }
            Err(e) => {
                tracing::warn!(asset = %id, error = %e, "storage tiers: removing the hot copies");
                return;
            }
        }
        if let Err(e) = self.db.release_storage_hold(id, owner).await {
            tracing::warn!(asset = %id, error = %e, "storage tiers: releasing a hold");
        }
    }

    /// Copies one asset held by `owner` to the cold class and commits it cold, still
    /// held; returns the objects whose hot copies are left to remove, `None` when the
    /// asset did not go cold (and every cold copy this made is gone again).
    async fn archive_copy(
        &self,
        id: &str,
        owner: &str,
        forced: bool,
    ) -> Result<Option<Vec<Placed>>> {
        // Served since this instant, the asset stays hot (unless forced). The origin adds
        // what it served to the database every few seconds: the look goes back that far.
        let started = if forced {
            i64::MAX
        } else {
            now_ms() - SERVED_LAG_MS
        };
        let Some(asset) = self.db.asset(id).await? else {
            return Ok(None);
        };
        let placed = match self.objects_of(&asset, false).await {
            Ok(p) => p,
            Err(e) => {
                self.db.abandon_archive(id, owner).await?;
                return Err(e);
            }
        };
        let outcome = match self.copy_all(id, owner, &placed, true).await {
            Ok(true) => {
                let hold_until = now_ms() + millis(self.settings.grace + self.settings.hold);
                self.db
                    .finish_archive(id, owner, started, counted(&placed), hold_until)
                    .await
            }
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(Some(StorageState::Cold)) => {
                tracing::info!(asset = %id, objects = placed.len(), "archived");
                Ok(Some(placed))
            }
            // Served meanwhile: the archive gave the asset back, still ours to undo.
            Ok(Some(_)) => {
                self.undo_archive(&placed).await;
                Ok(None)
            }
            // The hold was lost: whoever took it over undoes; a deleted asset's copies
            // are nobody's.
            Ok(None) => {
                self.remove_if_deleted(id, &placed).await;
                Ok(None)
            }
            Err(e) => {
                if self.db.abandon_archive(id, owner).await? {
                    self.undo_archive(&placed).await;
                } else {
                    self.remove_if_deleted(id, &placed).await;
                }
                Err(e)
            }
        }
    }

    /// Removes the cold copies of an asset deleted while it was archived (locally; on S3
    /// the deletion removed the very objects).
    async fn remove_if_deleted(&self, id: &str, placed: &[Placed]) {
        if !self.objects.cold.in_place && matches!(self.db.asset(id).await, Ok(None)) {
            self.remove_left(placed, true).await;
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

    /// Takes over the archives whose mover stopped (their hold expired), undoes their
    /// copies under the new hold and gives them back hot.
    async fn release_stale(&self) -> Result<()> {
        let owner = self.owner();
        for id in self.db.take_stale_archives(&owner, self.until()).await? {
            tracing::warn!(asset = %id, "storage tiers: an archive left unfinished goes back to hot");
            let undone = match self.db.asset(&id).await? {
                Some(asset) => match self.objects_of(&asset, false).await {
                    Ok(placed) => {
                        self.undo_archive(&placed).await;
                        true
                    }
                    Err(e) => {
                        tracing::warn!(asset = %id, error = %e, "storage tiers: undoing an archive");
                        false
                    }
                },
                None => false,
            };
            // Left held when the undo could not list its objects: taken over again later.
            if undone {
                self.db.abandon_archive(&id, &owner).await?;
            }
        }
        Ok(())
    }

    /// Restores the next asset asked for; returns its id, `None` when none waits. A
    /// failed copy is tried again a minute later.
    pub async fn restore_next(&self) -> Result<Option<String>> {
        let owner = self.owner();
        let Some(id) = self.db.claim_restore(&owner, self.until()).await? else {
            return Ok(None);
        };
        match self.restore(&id, &owner).await {
            Ok(()) => Ok(Some(id)),
            Err(e) => {
                self.db
                    .postpone_restore(&id, &owner, now_ms() + 60_000)
                    .await?;
                Err(e)
            }
        }
    }

    async fn restore(&self, id: &str, owner: &str) -> Result<()> {
        let Some(asset) = self.db.asset(id).await? else {
            return Ok(());
        };
        let placed = self.objects_of(&asset, true).await?;
        // Never hot with less than was archived: a cold copy gone missing is an error
        // the operator sees, and the restore is tried again later. (A stray left by an
        // earlier move may make more.)
        if let Some(archived) = self.db.cold_copied(id).await? {
            let found = counted(&placed);
            if found.0 < archived.0 || found.1 < archived.1 {
                return Err(crate::Error::Conflict(format!(
                    "asset {id}: the cold class holds {} objects of {} bytes, the archive copied {} of {}",
                    found.0, found.1, archived.0, archived.1
                )));
            }
        }
        if !self.copy_all(id, owner, &placed, false).await? {
            return Ok(());
        }
        if self.db.finish_restore(id, owner, self.until()).await? {
            tracing::info!(asset = %id, objects = placed.len(), "restored");
            // Still held: no archive starts until the cold copies are gone.
            self.remove_left(&placed, true).await;
            self.db.release_storage_hold(id, owner).await?;
        } else if self.db.asset(id).await?.is_none() && !self.objects.cold.in_place {
            // Deleted while it was restored: the hot copies made since are nobody's.
            self.remove_left(&placed, false).await;
        }
        Ok(())
    }
}

/// How far back an archive looks for what the origins served (they add it to the
/// database every few seconds).
const SERVED_LAG_MS: i64 = 15_000;
