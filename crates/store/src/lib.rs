//! Storage for openvod: objects (a local folder or any S3-compatible store) and the
//! metadata and job database (SQLite or PostgreSQL).
//!
//! Both databases run the same SQL through sqlx's `Any` driver, with `$N` parameters that
//! both understand; where they differ (claiming a task under concurrency) the backend is
//! named explicitly. Each backend has its own migrations, run at connect.

mod assets;
mod content_keys;
mod db;
mod error;
mod events;
pub mod mover;
pub mod objects;
mod parts;
mod preview;
mod qoe;
mod tasks;
mod tiers;
mod uploads;
mod usage;
mod webhooks;
mod workers;

pub use assets::{Asset, AssetStatus, NewAsset};
pub use content_keys::{KidChosenBy, StoredContentKey};
pub use db::{now_ms, Backend, Db};
pub use error::{Error, Result};
pub use events::Event;
pub use mover::{TierMover, TierSettings};
pub use objects::{Bucket, ColdObjects, ColdStorageClass, Objects, ObjectsConfig};
pub use parts::PartTask;
pub use qoe::QoeSessionRow;
pub use tasks::{ClaimedTask, Previews, Stage, StageOutcome, TaskFailure, TaskState, TaskStatus};
pub use tiers::StorageState;
pub use uploads::Upload;
pub use usage::ServedUsage;
pub use webhooks::{Delivery, DueDelivery, Webhook};
pub use workers::{CurrentTask, FleetWorker, Queue, QueueStage, WorkerInfo, WorkerState};
