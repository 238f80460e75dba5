//! A folder written in full or not at all: everything goes to a hidden staging folder
//! beside the destination, renamed into place when complete.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The staging folder of one output; removed on drop unless committed.
#[derive(Debug)]
pub struct StagedDir {
    staging: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Prepares to write `dest`. A `dest` that exists and is not empty is refused unless
    /// `overwrite` is set, before any work is done.
    pub fn new(dest: &Path, overwrite: bool) -> Result<StagedDir> {
        if let Ok(mut entries) = std::fs::read_dir(dest) {
            if entries.next().is_some() && !overwrite {
                return Err(Error::Output(format!(
                    "{} already exists and is not empty (pass --overwrite to replace it)",
                    dest.display()
                )));
            }
        } else if dest.exists() {
            return Err(Error::Output(format!(
                "{} exists and is not a folder",
                dest.display()
            )));
        }
        let name = dest
            .file_name()
            .ok_or_else(|| Error::Output(format!("{} has no folder name", dest.display())))?;
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let staging = parent.join(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        }
        std::fs::create_dir(&staging).map_err(|e| Error::io(&staging, e))?;
        Ok(StagedDir {
            staging,
            dest: dest.to_path_buf(),
            committed: false,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Moves the staging folder into place. An existing destination is moved aside
    /// first and removed only after the new one is in place.
    pub fn commit(mut self) -> Result<PathBuf> {
        let mut old = None;
        if self.dest.exists() {
            let aside = self.staging.with_extension("old");
            std::fs::rename(&self.dest, &aside).map_err(|e| Error::io(&self.dest, e))?;
            old = Some(aside);
        }
        std::fs::rename(&self.staging, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        self.committed = true;
        if let Some(old) = old {
            let _ = std::fs::remove_dir_all(old);
        }
        Ok(self.dest.clone())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_staging_leaves_nothing_and_commit_replaces() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("out");
        {
            let staged = StagedDir::new(&dest, false).unwrap();
            std::fs::write(staged.path().join("half"), b"x").unwrap();
        }
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);

        let staged = StagedDir::new(&dest, false).unwrap();
        std::fs::write(staged.path().join("a"), b"1").unwrap();
        staged.commit().unwrap();
        assert!(StagedDir::new(&dest, false).is_err());
        let staged = StagedDir::new(&dest, true).unwrap();
        std::fs::write(staged.path().join("b"), b"2").unwrap();
        staged.commit().unwrap();
        assert!(dest.join("b").exists() && !dest.join("a").exists());
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }
}
