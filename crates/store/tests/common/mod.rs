//! Helpers the store's test files share.

use std::time::Duration;

use openvod_store::{Asset, Db, NewAsset, Previews, Stage, StageOutcome};

/// An asset of source `key` walked through every stage to `ready`, published under its
/// id.
pub async fn ready_asset(db: &Db, key: &str) -> Asset {
    let asset = db
        .create_asset(
            NewAsset {
                source_key: key.into(),
                source_name: Some("movie.mov".into()),
                source_size: Some(1234),
                template: "default".into(),
            },
            3,
        )
        .await
        .unwrap();
    // An encode that is not chunked has no encode stage, and this asset no preview.
    for stage in Stage::ALL
        .into_iter()
        .filter(|s| !matches!(s, Stage::Encode | Stage::Preview))
    {
        let task = db
            .claim_task("ready-maker", Duration::from_secs(30), -1, Previews::First)
            .await
            .unwrap()
            .expect("a task");
        assert_eq!(task.asset_id, asset.id);
        let outcome = StageOutcome {
            output: serde_json::json!({ "stage": stage }),
            probe: None,
            renditions: None,
            output_prefix: (stage == Stage::Publish).then(|| asset.id.clone()),
            warnings: None,
            ladder: None,
            next_codecs: 0,
            parts: Vec::new(),
            preview_codecs: None,
        };
        db.complete_task(&task, outcome).await.unwrap();
    }
    db.asset(&asset.id).await.unwrap().unwrap()
}
