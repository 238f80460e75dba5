//! A file the caller opened, as a [`ByteSource`]: the format code still opens nothing.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;

use super::ByteSource;

/// A file read through [`ByteSource`].
///
/// [`ByteSource::read_exact_at`] is a positioned read. [`ByteSource::append_at`], which
/// carries sample data into a segment, seeks and then reads into the buffer's spare
/// capacity, which std does without zero-filling it first (std has no positioned read
/// into uninitialised memory). That moves the file's cursor, so a `FileSource` is not
/// `Sync`: each thread opens its own.
pub struct FileSource {
    file: File,
    len: u64,
    _cursor: PhantomData<Cell<()>>,
}

impl FileSource {
    /// Wraps an open file; its length is read once, now.
    pub fn new(file: File) -> io::Result<FileSource> {
        let len = file.metadata()?.len();
        Ok(FileSource {
            file,
            len,
            _cursor: PhantomData,
        })
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn append_at(&self, offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let at = out.len();
        out.reserve(len);
        let mut file = &self.file;
        file.seek(SeekFrom::Start(offset))?;
        let read = file.take(len as u64).read_to_end(out);
        if read.as_ref().map_or(true, |&n| n != len) {
            out.truncate(at);
            read?;
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_at_offsets_and_refuses_to_read_past_the_end() {
        let mut path = std::env::temp_dir();
        path.push(format!("openvod-media-file-{}", std::process::id()));
        std::fs::write(&path, (0..=255u8).collect::<Vec<u8>>()).unwrap();
        let src = FileSource::new(File::open(&path).unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(src.len(), 256);
        let mut out = vec![7u8];
        src.append_at(10, 5, &mut out).unwrap();
        src.append_at(0, 2, &mut out).unwrap();
        assert_eq!(out, [7, 10, 11, 12, 13, 14, 0, 1]);
        let mut four = [0u8; 4];
        src.read_exact_at(252, &mut four).unwrap();
        assert_eq!(four, [252, 253, 254, 255]);
        // Past the end: an error, and the buffer as it was.
        assert!(src.append_at(250, 10, &mut out).is_err());
        assert_eq!(out.len(), 8);
        assert!(src.read_exact_at(255, &mut four).is_err());
    }
}
