/// Errors of the database and the object store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("object store: {0}")]
    Objects(#[from] object_store::Error),
    #[error("object key {key:?}: {reason}")]
    Key { key: String, reason: &'static str },
    #[error("{0}")]
    Config(String),
    #[error("stored document: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
