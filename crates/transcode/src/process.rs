//! Running a tool as a child process with a deadline, capturing its output.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// Output of a finished child.
pub(crate) struct Captured {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// At most this much of a child's stderr is kept (the end of it matters).
pub(crate) const STDERR_KEEP: usize = 64 << 10;
/// At most this much of a child's stdout is read (ffprobe reports are small).
const STDOUT_LIMIT: u64 = 16 << 20;

/// Starts `cmd`, naming `tool` in the error when it is not installed.
pub(crate) fn spawn(mut cmd: Command, tool: &'static str) -> Result<Child> {
    cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::ToolMissing(tool),
        _ => Error::Ffmpeg {
            status: "not started".into(),
            message: format!("{tool}: {e}"),
        },
    })
}

/// Runs `cmd` to completion with piped stdout and stderr, killing it after `deadline`.
pub(crate) fn run_captured(
    mut cmd: Command,
    tool: &'static str,
    deadline: Duration,
) -> Result<Captured> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = spawn(cmd, tool)?;
    let stdout = child.stdout.take().map(|o| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = o.take(STDOUT_LIMIT).read_to_end(&mut buf);
            buf
        })
    });
    let stderr = child
        .stderr
        .take()
        .map(|e| std::thread::spawn(move || read_tail(e)));
    let status = wait_until(&mut child, Instant::now() + deadline)?;
    let stdout = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    match status {
        Some(status) => Ok(Captured {
            status,
            stdout,
            stderr,
        }),
        None => Err(Error::Timeout {
            seconds: deadline.as_secs(),
        }),
    }
}

/// Reads a stream to its end, keeping only the last [`STDERR_KEEP`] bytes.
pub(crate) fn read_tail(mut r: impl Read) -> Vec<u8> {
    let mut keep = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                keep.extend_from_slice(&buf[..n]);
                if keep.len() > 2 * STDERR_KEEP {
                    keep.drain(..keep.len() - STDERR_KEEP);
                }
            }
        }
    }
    if keep.len() > STDERR_KEEP {
        keep.drain(..keep.len() - STDERR_KEEP);
    }
    keep
}

/// Reads `r` to its end line by line, handing each line (without its line break, cut
/// to `max` bytes, invalid UTF-8 replaced) to `f`. Memory stays bounded whatever the
/// child writes.
pub(crate) fn for_each_line(r: impl Read, max: usize, mut f: impl FnMut(&str)) {
    let mut reader = BufReader::new(r);
    let mut line: Vec<u8> = Vec::with_capacity(256);
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(chunk) => chunk,
        };
        let (part, found) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], true),
            None => (chunk, false),
        };
        let room = max.saturating_sub(line.len());
        line.extend_from_slice(&part[..part.len().min(room)]);
        let used = part.len() + usize::from(found);
        reader.consume(used);
        if found {
            f(String::from_utf8_lossy(&line).trim_end_matches('\r'));
            line.clear();
        }
    }
    if !line.is_empty() {
        f(String::from_utf8_lossy(&line).trim_end_matches('\r'));
    }
}

/// Waits for `child` until `until`; kills it and returns `None` when time runs out.
pub(crate) fn wait_until(child: &mut Child, until: Instant) -> Result<Option<ExitStatus>> {
    let left = until.saturating_duration_since(Instant::now());
    match poll(child, left)? {
        Some(status) => Ok(Some(status)),
        None => {
            kill(child);
            Ok(None)
        }
    }
}

/// Kills `child` and reaps it.
pub(crate) fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits up to `wait` for `child` to exit, without killing it.
pub(crate) fn poll(child: &mut Child, wait: Duration) -> Result<Option<ExitStatus>> {
    let until = Instant::now() + wait;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Some(status)),
            Ok(None) => {}
            Err(e) => {
                return Err(Error::Ffmpeg {
                    status: "unknown".into(),
                    message: e.to_string(),
                })
            }
        }
        if Instant::now() >= until {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_and_the_last_one_kept() {
        let mut seen = Vec::new();
        let input = format!("short\r\n{}\nlast", "x".repeat(10_000));
        for_each_line(input.as_bytes(), 100, |l| seen.push(l.to_string()));
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0], "short");
        assert_eq!(seen[1], "x".repeat(100));
        assert_eq!(seen[2], "last");
    }
}
