//! The key store: content keys in the database, sealed with the master key, created on
//! first use.

use openvod_store::{Db, KidChosenBy, StoredContentKey};

use super::{
    check_content_id, random_key, random_kid, ContentKey, KeyError, Kid, MasterKey, TrackType,
};

/// What storing a key whose KID openvod chose came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// The key is stored (now or before) under its KID.
    Stored,
    /// Another process stored a different KID for this content id and track type first;
    /// that KID is the one to use.
    TrackHasKid(Kid),
}

/// Content keys in the database, sealed with the master key.
#[derive(Debug, Clone)]
pub struct KeyStore {
    db: Db,
    master: MasterKey,
}

impl KeyStore {
    pub fn new(db: Db, master: MasterKey) -> KeyStore {
        KeyStore { db, master }
    }

    fn open_row(&self, row: &StoredContentKey) -> Result<(TrackType, ContentKey), KeyError> {
        let kid = Kid::from_hex(&row.kid).map_err(|e| KeyError::CorruptRecord {
            kid: row.kid.clone(),
            reason: e.to_string(),
        })?;
        let track_type =
            row.track_type
                .parse::<TrackType>()
                .map_err(|e| KeyError::CorruptRecord {
                    kid: row.kid.clone(),
                    reason: e.to_string(),
                })?;
        let key = self.master.open(&row.content_id, kid, &row.sealed)?;
        Ok((track_type, key))
    }

    /// The key of each track type of a content id, created on first use (a random KID
    /// and key). Two processes asking at once get the same keys: each inserts if absent,
    /// then reads back the one the database kept. One entry per distinct track type, in
    /// the order given.
    pub async fn keys_for(
        &self,
        content_id: &str,
        tracks: &[TrackType],
    ) -> Result<Vec<(TrackType, ContentKey)>, KeyError> {
        check_content_id(content_id)?;
        let mut keys: Vec<(TrackType, ContentKey)> = Vec::with_capacity(tracks.len());
        for &track in tracks {
            if keys.iter().any(|(t, _)| *t == track) {
                continue;
            }
            let row = match self
                .db
                .content_key_for_track(content_id, track.as_str())
                .await?
            {
                Some(row) => row,
                None => {
                    let key = random_key(random_kid()?)?;
                    let sealed = self.master.seal(content_id, &key)?;
                    self.db
                        .insert_content_key(
                            &key.kid.to_hex(),
                            content_id,
                            track.as_str(),
                            KidChosenBy::Openvod,
                            &sealed,
                        )
                        .await?;
                    self.db
                        .content_key_for_track(content_id, track.as_str())
                        .await?
                        .ok_or_else(|| KeyError::Vanished {
                            content_id: content_id.to_string(),
                            track_type: track,
                        })?
                }
            };
            let (_, key) = self.open_row(&row)?;
            keys.push((track, key));
        }
        Ok(keys)
    }

    /// The KID openvod chose for a content id and track type, if there is one yet.
    pub async fn kid_for(
        &self,
        content_id: &str,
        track: TrackType,
    ) -> Result<Option<Kid>, KeyError> {
        check_content_id(content_id)?;
        let row = self
            .db
            .content_key_for_track(content_id, track.as_str())
            .await?;
        row.map(|row| {
            Kid::from_hex(&row.kid).map_err(|e| KeyError::CorruptRecord {
                kid: row.kid.clone(),
                reason: e.to_string(),
            })
        })
        .transpose()
    }

    /// The key for a KID a SPEKE client chose, created on first use. A KID bound to
    /// another content id is refused; a KID already known for this content id returns
    /// its key whatever track type it was stored under.
    pub async fn key_for_kid(
        &self,
        content_id: &str,
        kid: Kid,
        track: TrackType,
    ) -> Result<ContentKey, KeyError> {
        check_content_id(content_id)?;
        let hex = kid.to_hex();
        let row = match self.db.content_key_by_kid(&hex).await? {
            Some(row) => row,
            None => {
                let key = random_key(kid)?;
                let sealed = self.master.seal(content_id, &key)?;
                self.db
                    .insert_content_key(
                        &hex,
                        content_id,
                        track.as_str(),
                        KidChosenBy::Client,
                        &sealed,
                    )
                    .await?;
                self.db
                    .content_key_by_kid(&hex)
                    .await?
                    .ok_or_else(|| KeyError::Vanished {
                        content_id: content_id.to_string(),
                        track_type: track,
                    })?
            }
        };
        if row.content_id != content_id {
            return Err(KeyError::KidTaken { kid });
        }
        self.open_row(&row).map(|(_, key)| key)
    }

    /// Stores a key whose KID openvod chose but a key provider generated (SPEKE), as the
    /// key of `track` for the content id, unless that track already has another KID.
    pub async fn store_chosen_key(
        &self,
        content_id: &str,
        track: TrackType,
        key: &ContentKey,
    ) -> Result<StoreOutcome, KeyError> {
        check_content_id(content_id)?;
        let hex = key.kid.to_hex();
        let sealed = self.master.seal(content_id, key)?;
        self.db
            .insert_content_key(
                &hex,
                content_id,
                track.as_str(),
                KidChosenBy::Openvod,
                &sealed,
            )
            .await?;
        if let Some(row) = self
            .db
            .content_key_for_track(content_id, track.as_str())
            .await?
        {
            let (_, stored) = self.open_row(&row)?;
            if stored.kid != key.kid {
                return Ok(StoreOutcome::TrackHasKid(stored.kid));
            }
            return if stored.key == key.key {
                Ok(StoreOutcome::Stored)
            } else {
                Err(KeyError::KeyMismatch { kid: key.kid })
            };
        }
        // The track has no KID of openvod's, so the insert met the KID itself: stored
        // before for a SPEKE client, or for another content id.
        let row = self
            .db
            .content_key_by_kid(&hex)
            .await?
            .ok_or_else(|| KeyError::Vanished {
                content_id: content_id.to_string(),
                track_type: track,
            })?;
        if row.content_id != content_id {
            return Err(KeyError::KidTaken { kid: key.kid });
        }
        let (_, stored) = self.open_row(&row)?;
        if stored.key == key.key {
            Ok(StoreOutcome::Stored)
        } else {
            Err(KeyError::KeyMismatch { kid: key.kid })
        }
    }

    /// The content id, track type and key a KID names (licence requests carry KIDs only).
    pub async fn key_by_kid(
        &self,
        kid: Kid,
    ) -> Result<Option<(String, TrackType, ContentKey)>, KeyError> {
        let Some(row) = self.db.content_key_by_kid(&kid.to_hex()).await? else {
            return Ok(None);
        };
        let (track, key) = self.open_row(&row)?;
        Ok(Some((row.content_id, track, key)))
    }

    /// Deletes every key of a content id; returns how many there were.
    pub async fn delete_content(&self, content_id: &str) -> Result<u64, KeyError> {
        Ok(self.db.delete_content_keys(content_id).await?)
    }
}
