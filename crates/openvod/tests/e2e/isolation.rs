//! A source opens nothing but itself: a playlist, an ffconcat list, an SDP description or
//! an image-sequence pattern saved under a media name is refused by `openvod probe`,
//! `openvod transcode` and `openvod serve`, naming the format it is, and the files and
//! addresses it names are never opened. The referenced files are FIFOs held open for
//! writing by a test thread that counts every reader; the referenced URLs point at a
//! local TCP listener that counts connections.

use std::fs::OpenOptions;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::common::*;

/// A FIFO at a path a crafted source names. A thread keeps opening it for writing, which
/// blocks until a reader opens it, and counts the readers; nobody but [`FifoWatch::
/// finish`] may ever open it.
struct FifoWatch {
    path: PathBuf,
    readers: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl FifoWatch {
    fn new(path: &Path) -> FifoWatch {
        let made = Command::new("mkfifo").arg(path).status().unwrap();
        assert!(made.success(), "mkfifo {}", path.display());
        let readers = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let thread = {
            let (path, readers, done) = (path.to_path_buf(), readers.clone(), done.clone());
            std::thread::spawn(move || loop {
                // Blocks until someone opens the FIFO for reading; closing it at once
                // gives that reader an end of file instead of a hang.
                let writer = OpenOptions::new().write(true).open(&path);
                if done.load(Ordering::SeqCst) {
                    return;
                }
                if writer.is_ok() {
                    readers.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        FifoWatch {
            path: path.to_path_buf(),
            readers,
            done,
            thread,
        }
    }

    /// Stops watching; returns how many readers opened the FIFO.
    fn finish(self) -> usize {
        self.done.store(true, Ordering::SeqCst);
        // Opening a FIFO for reading and writing never blocks (Linux), and lets the
        // watcher's pending open return so that it sees `done`.
        let wake = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .unwrap();
        while !self.thread.is_finished() {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(wake);
        self.thread.join().unwrap();
        self.readers.load(Ordering::SeqCst)
    }
}

/// A local TCP listener that a crafted source names as `http://127.0.0.1:PORT/...`.
struct TcpWatch {
    listener: TcpListener,
}

impl TcpWatch {
    fn new() -> TcpWatch {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        TcpWatch { listener }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.listener.local_addr().unwrap())
    }

    /// Connections made so far (the kernel completes them in the backlog whether or
    /// not they are accepted).
    fn connections(&self) -> usize {
        let mut n = 0;
        while self.listener.accept().is_ok() {
            n += 1;
        }
        n
    }
}

/// A crafted source and what it names.
struct Trick {
    /// What it is, for messages.
    name: &'static str,
    /// ffmpeg's name of its format, which the error must give.
    format: &'static str,
    /// The file's content, given what it should name.
    content: fn(&str) -> String,
}

fn hls(target: &str) -> String {
    format!("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{target}\n#EXT-X-ENDLIST\n")
}

fn ffconcat(target: &str) -> String {
    format!("ffconcat version 1.0\nfile '{target}'\n")
}

const TRICKS: [Trick; 2] = [
    Trick {
        name: "HLS playlist",
        format: "hls",
        content: hls,
    },
    Trick {
        name: "ffconcat list",
        format: "concat",
        content: ffconcat,
    },
];

/// The three kinds of target a crafted source names.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A media file elsewhere, by absolute path.
    Absolute,
    /// A file beside the source, by relative path.
    Relative,
    /// A loopback URL.
    Loopback,
}

const TARGETS: [Target; 3] = [Target::Absolute, Target::Relative, Target::Loopback];

/// Asserts a one-line refusal naming `format`, with exit code 1.
fn assert_refused(out: &Output, format: &str, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: ") && last.contains(&format!("format \"{format}\"")),
        "{what}: {stderr}"
    );
    assert!(last.contains("is not accepted"), "{what}: {last}");
}

/// Runs `openvod probe` and `openvod transcode` on every trick and target.
#[test]
fn crafted_sources_are_refused_by_probe_and_transcode_and_open_nothing() {
    for trick in &TRICKS {
        for target in TARGETS {
            let dir = tempfile::tempdir().unwrap();
            let elsewhere = tempfile::tempdir().unwrap();
            let fifo_path = match target {
                Target::Absolute => Some(elsewhere.path().join("private.ts")),
                Target::Relative => Some(dir.path().join("sibling.ts")),
                Target::Loopback => None,
            };
            let fifo = fifo_path.as_deref().map(FifoWatch::new);
            let tcp = TcpWatch::new();
            let named = match target {
                Target::Absolute => fifo_path.as_ref().unwrap().display().to_string(),
                Target::Relative => "sibling.ts".to_string(),
                Target::Loopback => tcp.url("private.ts"),
            };
            let src = dir.path().join("holiday.mp4");
            std::fs::write(&src, (trick.content)(&named)).unwrap();
            let what = format!("{} naming {target:?} {named}", trick.name);

            let probe = openvod(&["probe", src.to_str().unwrap()]);
            assert_refused(&probe, trick.format, &format!("probe: {what}"));
            let out = dir.path().join("out");
            let transcode = openvod(&[
                "transcode",
                src.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ]);
            assert_refused(&transcode, trick.format, &format!("transcode: {what}"));
            assert!(!out.exists(), "{what}: no output");

            assert_eq!(tcp.connections(), 0, "{what}: the URL was fetched");
            if let Some(fifo) = fifo {
                assert_eq!(fifo.finish(), 0, "{what}: the named file was opened");
            }
        }
    }
}

/// The same through the service: uploads become failed assets with `invalid_media`.
#[test]
fn crafted_uploads_fail_with_invalid_media_and_open_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = serve_config(dir.path(), "");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let server = start_service("serve", &config, &[]);
    for trick in &TRICKS {
        for target in TARGETS {
            let tcp = TcpWatch::new();
            // The worker fetches a source to WORK/ASSET/source, so "../x" is beside the
            // asset folders.
            let (fifo_path, named) = match target {
                Target::Absolute => {
                    let p = elsewhere.path().join(format!("{}.ts", trick.format));
                    let named = p.display().to_string();
                    (Some(p), named)
                }
                Target::Relative => {
                    let file = format!("{}-sibling.ts", trick.format);
                    (Some(work.join(&file)), format!("../{file}"))
                }
                Target::Loopback => (None, tcp.url("private.ts")),
            };
            let fifo = fifo_path.as_deref().map(FifoWatch::new);
            let src = dir.path().join("holiday.mp4");
            std::fs::write(&src, (trick.content)(&named)).unwrap();
            let what = format!("{} naming {target:?} {named}", trick.name);

            let id = upload_as(&server.base, &src, "holiday.mp4");
            let asset = wait_finished(&server.base, &id, Duration::from_secs(60));
            assert_eq!(asset["status"], "failed", "{what}: {asset}");
            assert_eq!(asset["error"]["code"], "invalid_media", "{what}: {asset}");
            let message = asset["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("format \"{}\"", trick.format)),
                "{what}: {message}"
            );
            assert_eq!(asset["warnings"], serde_json::json!([]), "{what}");

            assert_eq!(tcp.connections(), 0, "{what}: the URL was fetched");
            if let Some(fifo) = fifo {
                assert_eq!(fifo.finish(), 0, "{what}: the named file was opened");
            }
        }
    }
}

/// An SDP description would make ffmpeg listen for RTP; an image-sequence pattern would
/// read every numbered file beside it. Both are refused by name.
#[test]
fn sdp_and_image_sequences_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpWatch::new().listener.local_addr().unwrap().port();
    let sdp = dir.path().join("meeting.mp4");
    std::fs::write(
        &sdp,
        format!("v=0\no=- 0 0 IN IP4 127.0.0.1\ns=call\nc=IN IP4 127.0.0.1\nt=0 0\nm=video {port} RTP/AVP 96\na=rtpmap:96 H264/90000\n"),
    )
    .unwrap();
    assert_refused(&openvod(&["probe", sdp.to_str().unwrap()]), "sdp", "sdp");

    // "frame%03d.png" is a real file (a picture); ffmpeg would read it as a pattern
    // matching frame000.png, frame001.png, ...
    let pattern = dir.path().join("frame%03d.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x64:duration=0.04",
        "-frames:v",
        "1",
        "-update",
        "1",
        pattern.to_str().unwrap(),
    ]);
    let frames: Vec<FifoWatch> = (0..3)
        .map(|n| FifoWatch::new(&dir.path().join(format!("frame{n:03}.png"))))
        .collect();
    let out = dir.path().join("out");
    assert_refused(
        &openvod(&["probe", pattern.to_str().unwrap()]),
        "image2",
        "image pattern",
    );
    assert_refused(
        &openvod(&[
            "transcode",
            pattern.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]),
        "image2",
        "image pattern",
    );
    for frame in frames {
        assert_eq!(frame.finish(), 0, "a numbered frame was opened");
    }
}

/// A file whose name reads like an ffmpeg protocol URL (`concat:`, `subfile,`) is the
/// file of that name: ffmpeg gets `file:` and the absolute path, never the bare name.
#[test]
fn a_name_that_looks_like_a_protocol_is_just_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let real = make_source(dir.path(), "real.mp4", "160x90", 25, 2, false, &[]);
    let parts: Vec<FifoWatch> = ["part1.mp4", "part2.mp4"]
        .iter()
        .map(|p| FifoWatch::new(&dir.path().join(p)))
        .collect();
    for name in [
        "concat:part1.mp4|part2.mp4",
        "subfile,,start,0,end,100,,:part1.mp4",
    ] {
        std::fs::copy(&real, dir.path().join(name)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_openvod"))
            .args(["probe", name, "--json"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_ok(&out, name);
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            (info["duration"].as_f64().unwrap() - 2.0).abs() < 0.1,
            "{name}: the file itself was read: {info}"
        );
    }
    for part in parts {
        assert_eq!(part.finish(), 0, "a part named in the file name was opened");
    }
}

/// The witnesses work: ffprobe without openvod's allow-lists opens the FIFO a playlist
/// names and connects to the URL another names.
#[test]
fn the_witnesses_see_an_unrestricted_ffprobe() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = FifoWatch::new(&dir.path().join("private.ts"));
    let tcp = TcpWatch::new();
    for (name, named) in [
        ("local.mp4", "private.ts".to_string()),
        ("remote.mp4", tcp.url("private.ts")),
    ] {
        let src = dir.path().join(name);
        std::fs::write(&src, hls(&named)).unwrap();
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-protocol_whitelist",
                "file,http,tcp",
                "-rw_timeout",
                "2000000",
            ])
            .arg(&src)
            .output()
            .unwrap();
        assert!(!out.stderr.is_empty() || out.status.success(), "{name}");
    }
    // The HLS demuxer tries the empty segment again and again: at least once.
    assert!(
        fifo.finish() >= 1,
        "the FIFO watch saw ffprobe open the file"
    );
    assert!(tcp.connections() >= 1, "the TCP watch saw ffprobe connect");
}
