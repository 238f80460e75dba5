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

impl Error {
    /// Whether the same call may succeed later: the database or the object store was
    /// unreachable, slow or busy. A missing object, a conflict, a malformed document or
    /// a refused key will not change by waiting.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Db(e) => !matches!(
                e,
                sqlx::Error::RowNotFound
                    | sqlx::Error::ColumnNotFound(_)
                    | sqlx::Error::ColumnDecode { .. }
                    | sqlx::Error::Decode(_)
                    | sqlx::Error::TypeNotFound { .. }
                    | sqlx::Error::Configuration(_)
            ),
            Error::Objects(e) => !matches!(
                e,
                object_store::Error::NotFound { .. }
                    | object_store::Error::InvalidPath { .. }
                    | object_store::Error::NotSupported { .. }
                    | object_store::Error::NotImplemented { .. }
                    | object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
                    | object_store::Error::UnknownConfigurationKey { .. }
            ),
            Error::Io(_) => true,
            Error::Migrate(_)
            | Error::Key { .. }
            | Error::Config(_)
            | Error::Json(_)
            | Error::NotFound { .. }
            | Error::Conflict(_) => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
