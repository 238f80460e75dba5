//! The key store over a temporary SQLite database: keys made once per content and track
//! type (also under a race), sealed at rest, found by KID, refused to a wrong master key.

use std::collections::HashSet;

use openvod_drm::{
    ContentKey, DrmSystem, KeyError, KeyProvider, KeyScope, KeyStore, Kid, MasterKey,
    ProviderError, Scheme, SignalingError, StoreOutcome, TrackType,
};
use openvod_store::Db;

async fn db(dir: &tempfile::TempDir) -> Db {
    Db::connect(&format!("sqlite://{}/meta.db", dir.path().display()))
        .await
        .unwrap()
}

fn master(byte: u8) -> MasterKey {
    MasterKey::from_bytes(&[byte; 32])
}

const TRACKS: [TrackType; 3] = [TrackType::Audio, TrackType::Sd, TrackType::Hd];

#[tokio::test]
async fn keys_are_made_once_per_content_and_track_type() {
    let dir = tempfile::tempdir().unwrap();
    let store = KeyStore::new(db(&dir).await, master(1));
    let first = store.keys_for("asset-1", &TRACKS).await.unwrap();
    assert_eq!(
        first.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        TRACKS.to_vec()
    );
    let kids: HashSet<Kid> = first.iter().map(|(_, k)| k.kid).collect();
    assert_eq!(kids.len(), 3, "a KID per track type");
    let keys: HashSet<[u8; 16]> = first.iter().map(|(_, k)| k.key).collect();
    assert_eq!(keys.len(), 3, "a key per track type");

    let again = store
        .keys_for("asset-1", &[TrackType::Hd, TrackType::Audio, TrackType::Hd])
        .await
        .unwrap();
    assert_eq!(again.len(), 2, "one entry per distinct track type");
    assert_eq!(again[0], first[2]);
    assert_eq!(again[1], first[0]);

    let other = store.keys_for("asset-2", &TRACKS).await.unwrap();
    for ((_, a), (_, b)) in first.iter().zip(&other) {
        assert_ne!(a.kid, b.kid);
        assert_ne!(a.key, b.key);
    }

    let (content, track, key) = store.key_by_kid(first[1].1.kid).await.unwrap().unwrap();
    assert_eq!(
        (content.as_str(), track, &key),
        ("asset-1", TrackType::Sd, &first[1].1)
    );
    assert!(store.key_by_kid(Kid([9; 16])).await.unwrap().is_none());
    assert!(matches!(
        store.keys_for("", &TRACKS).await,
        Err(KeyError::InvalidContentId(_))
    ));
}

#[tokio::test]
async fn the_database_holds_sealed_keys_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(&dir).await;
    let store = KeyStore::new(db.clone(), master(1));
    for (_, key) in store.keys_for("asset-1", &TRACKS).await.unwrap() {
        let row = db
            .content_key_by_kid(&key.kid.to_hex())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.sealed.len(), 12 + 16 + 16);
        assert!(!row.sealed.windows(16).any(|w| w == key.key));
        let opened = master(1).open("asset-1", key.kid, &row.sealed).unwrap();
        assert_eq!(opened, key);
    }
}

#[tokio::test]
async fn a_wrong_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(&dir).await;
    let right = KeyStore::new(db.clone(), master(1));
    let keys = right.keys_for("asset-1", &TRACKS).await.unwrap();
    let wrong = KeyStore::new(db, master(2));
    let err = wrong.keys_for("asset-1", &TRACKS).await.unwrap_err();
    assert!(matches!(err, KeyError::Open { .. }), "{err}");
    assert!(err.to_string().contains("wrong master key"), "{err}");
    let err = wrong.key_by_kid(keys[0].1.kid).await.unwrap_err();
    assert!(
        matches!(err, KeyError::Open { kid } if kid == keys[0].1.kid),
        "{err}"
    );
}

#[tokio::test]
async fn racing_processes_get_identical_keys() {
    let dir = tempfile::tempdir().unwrap();
    // Two pools on one file, as two processes would have.
    let a = KeyStore::new(db(&dir).await, master(1));
    let b = KeyStore::new(db(&dir).await, master(1));
    for round in 0..20 {
        let content = format!("race-{round}");
        let (ka, kb) = tokio::join!(a.keys_for(&content, &TRACKS), b.keys_for(&content, &TRACKS));
        let (ka, kb) = (ka.unwrap(), kb.unwrap());
        assert_eq!(ka, kb, "round {round}");
        assert_eq!(a.keys_for(&content, &TRACKS).await.unwrap(), ka);
    }
    let spawned: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { store.keys_for("crowd", &TRACKS).await.unwrap() })
        })
        .collect();
    let mut results = Vec::new();
    for task in spawned {
        results.push(task.await.unwrap());
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test]
async fn keys_for_client_chosen_kids_stay_with_their_content() {
    let dir = tempfile::tempdir().unwrap();
    let store = KeyStore::new(db(&dir).await, master(1));
    let kid = Kid([0x5a; 16]);
    let key = store
        .key_for_kid("asset-1", kid, TrackType::Uhd)
        .await
        .unwrap();
    assert_eq!(key.kid, kid);
    assert_eq!(
        store
            .key_for_kid("asset-1", kid, TrackType::Hd)
            .await
            .unwrap(),
        key,
        "the same key, whatever track type is asked"
    );
    let err = store
        .key_for_kid("asset-2", kid, TrackType::Uhd)
        .await
        .unwrap_err();
    assert!(matches!(err, KeyError::KidTaken { .. }), "{err}");
    assert!(err.is_client_error());
    assert_eq!(
        store.key_by_kid(kid).await.unwrap(),
        Some(("asset-1".to_string(), TrackType::Uhd, key.clone()))
    );
    // A client's KID does not become the content's own key for that track type.
    assert_eq!(
        store.kid_for("asset-1", TrackType::Uhd).await.unwrap(),
        None
    );

    assert_eq!(store.delete_content("asset-1").await.unwrap(), 1);
    assert!(store.key_by_kid(kid).await.unwrap().is_none());
    let fresh = store
        .key_for_kid("asset-2", kid, TrackType::Uhd)
        .await
        .unwrap();
    assert_ne!(fresh.key, key.key, "a deleted key is not brought back");
}

#[tokio::test]
async fn the_builtin_provider_signals_every_system() {
    let dir = tempfile::tempdir().unwrap();
    let store = KeyStore::new(db(&dir).await, master(1));
    let provider = KeyProvider::Builtin(store.clone());
    let systems = [
        DrmSystem::Widevine,
        DrmSystem::PlayReady,
        DrmSystem::FairPlay,
    ];
    let keys = provider
        .content_keys(
            "asset-1",
            &TRACKS,
            KeyScope::PerTrackType,
            Scheme::Cbcs,
            &systems,
        )
        .await
        .unwrap();
    assert_eq!(keys.keys.len(), 3);
    assert_eq!(keys.kids().len(), 3);
    assert_eq!(keys.signaling.len(), 9);
    for kid in keys.kids() {
        for system in systems {
            let s = keys.signaling_for(kid, system).unwrap();
            assert_eq!(s.pssh.is_some(), system != DrmSystem::FairPlay);
        }
    }
    assert_eq!(
        keys.keys,
        store.keys_for("asset-1", &TRACKS).await.unwrap(),
        "the store's keys"
    );

    let single = provider
        .content_keys("asset-1", &TRACKS, KeyScope::Single, Scheme::Cbcs, &systems)
        .await
        .unwrap();
    assert_eq!(single.kids().len(), 1);
    assert_eq!(
        single.key_for(TrackType::Audio),
        single.key_for(TrackType::Sd)
    );
    assert_eq!(single.key_for(TrackType::Hd), keys.key_for(TrackType::Hd));
    assert_eq!(single.signaling.len(), 3);

    let err = provider
        .content_keys(
            "asset-3",
            &TRACKS,
            KeyScope::PerTrackType,
            Scheme::Cenc,
            &systems,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::Signaling(SignalingError::FairPlayNeedsCbcs(_))
        ),
        "{err}"
    );
    assert_eq!(
        store.kid_for("asset-3", TrackType::Hd).await.unwrap(),
        None,
        "nothing made"
    );
}

#[tokio::test]
async fn provider_keys_keep_the_first_kid_of_each_track() {
    let dir = tempfile::tempdir().unwrap();
    let store = KeyStore::new(db(&dir).await, master(1));
    let a = ContentKey {
        kid: Kid([0xa1; 16]),
        key: [1; 16],
    };
    let b = ContentKey {
        kid: Kid([0xb2; 16]),
        key: [2; 16],
    };
    assert_eq!(
        store
            .store_chosen_key("asset-1", TrackType::Hd, &a)
            .await
            .unwrap(),
        StoreOutcome::Stored
    );
    assert_eq!(
        store
            .store_chosen_key("asset-1", TrackType::Hd, &a)
            .await
            .unwrap(),
        StoreOutcome::Stored,
        "storing the same key again is fine"
    );
    assert_eq!(
        store
            .store_chosen_key("asset-1", TrackType::Hd, &b)
            .await
            .unwrap(),
        StoreOutcome::TrackHasKid(a.kid),
        "a racer's KID is reported, not stored"
    );
    assert!(store.key_by_kid(b.kid).await.unwrap().is_none());
    let changed = ContentKey {
        key: [3; 16],
        ..a.clone()
    };
    assert!(matches!(
        store
            .store_chosen_key("asset-1", TrackType::Hd, &changed)
            .await,
        Err(KeyError::KeyMismatch { .. })
    ));
    assert!(matches!(
        store.store_chosen_key("asset-2", TrackType::Hd, &a).await,
        Err(KeyError::KidTaken { .. })
    ));
    assert_eq!(
        store.kid_for("asset-1", TrackType::Hd).await.unwrap(),
        Some(a.kid)
    );
    assert_eq!(
        store.keys_for("asset-1", &[TrackType::Hd]).await.unwrap(),
        vec![(TrackType::Hd, a)]
    );
}
