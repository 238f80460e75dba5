//! Response bodies of segments packaged on request, recycled.
//!
//! A segment is made in a buffer of its size (hundreds of kilobytes to megabytes) that
//! becomes the response body. The allocator hands such sizes out as fresh pages and
//! returns them to the kernel when they are freed, so every request paid a page fault for
//! each 4 KiB of its segment and the kernel zeroed each page before the samples were
//! read over it. Buffers come back here when the body is dropped (sent, or evicted from
//! the shield) and are reused while there is room.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Buffers kept for reuse.
#[derive(Debug)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
    /// Most buffers kept.
    keep: usize,
    /// Largest buffer kept: a rare large one is freed rather than held.
    largest: usize,
}

impl BufferPool {
    pub fn new(keep: usize, largest: usize) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            free: Mutex::new(Vec::with_capacity(keep)),
            keep,
            largest,
        })
    }

    /// An empty buffer with room for `len` bytes.
    pub fn take(&self, len: usize) -> Vec<u8> {
        let reused = self.free.lock().ok().and_then(|mut free| {
            // The smallest that fits, so that large buffers stay for large segments.
            let best = free
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= len)
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)?;
            Some(free.swap_remove(best))
        });
        match reused {
            Some(mut buf) => {
                buf.clear();
                buf
            }
            None => Vec::with_capacity(len),
        }
    }

    /// `buf` as a response body that comes back here when dropped.
    pub fn body(self: &Arc<Self>, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Pooled {
            buf,
            pool: self.clone(),
        })
    }

    fn give_back(&self, buf: Vec<u8>) {
        if buf.capacity() > self.largest {
            return;
        }
        if let Ok(mut free) = self.free.lock() {
            if free.len() < self.keep {
                free.push(buf);
            } else if let Some(smallest) = free.iter_mut().min_by_key(|b| b.capacity()) {
                // Full: keep the larger of the two.
                if smallest.capacity() < buf.capacity() {
                    *smallest = buf;
                }
            }
        }
    }

    #[cfg(test)]
    fn kept(&self) -> Vec<usize> {
        let mut caps: Vec<usize> = self
            .free
            .lock()
            .map(|f| f.iter().map(Vec::capacity).collect())
            .unwrap_or_default();
        caps.sort_unstable();
        caps
    }
}

/// A body's bytes, owned until `Bytes` drops them.
struct Pooled {
    buf: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_come_back_when_dropped_and_are_reused_within_bounds() {
        let pool = BufferPool::new(2, 1 << 20);
        let mut a = pool.take(1000);
        a.extend_from_slice(&[1; 1000]);
        let a_ptr = a.as_ptr();
        let body = pool.body(a);
        assert_eq!(&body[..3], &[1, 1, 1]);
        let clone = body.clone();
        drop(body);
        assert!(pool.kept().is_empty(), "still referenced");
        drop(clone);
        assert_eq!(pool.kept().len(), 1);
        // Reused, empty, for a request that fits.
        let again = pool.take(900);
        assert_eq!(again.as_ptr(), a_ptr);
        assert!(again.is_empty());
        // Too large to keep; and never more than `keep` buffers.
        drop(pool.body(Vec::with_capacity(2 << 20)));
        assert!(pool.kept().is_empty());
        for cap in [10, 20, 30] {
            drop(pool.body(Vec::with_capacity(cap)));
        }
        assert_eq!(pool.kept(), vec![20, 30]);
    }
}
