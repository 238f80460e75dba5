//! Pictures of a presentation: the storyboard (thumbnails at regular times tiled in one
//! sprite, for a seek bar's hover), the poster frame, and the index the origin makes
//! thumbnails on request from (`images.json`).
//!
//! The storyboard is signalled two ways, for the two kinds of player that read one:
//! - a WebVTT file whose cues name a rectangle of the sprite by a media fragment
//!   (`storyboard.jpg#xywh=x,y,w,h`, W3C Media Fragments URI 1.0, 4.2.2), as video.js,
//!   Plyr and most web players' thumbnail plugins read;
//! - a DASH thumbnail AdaptationSet (DASH-IF IOP v4.3, 6.2.6: `contentType="image"`,
//!   `EssentialProperty` `http://dashif.org/thumbnail_tile` with the grid as `CxR`), as
//!   Shaka Player and dash.js read.
//!
//! The pictures themselves are made by ffmpeg; this module holds what is known about
//! them and checks it when it is read back.

use serde::{Deserialize, Serialize};

use crate::path::RenditionName;
use crate::text::{write_segment, Cue};
use crate::{Error, Result};

/// Most thumbnails one storyboard holds: a sprite of 160-pixel tiles stays under
/// 16 000 pixels on a side, which every browser decodes.
pub const MAX_STORYBOARD_TILES: usize = 1_000;
/// Largest tile side, pixels.
pub const MAX_TILE_SIDE: u32 = 640;
/// Largest sprite file the presentation holds (and the origin reads back).
pub const MAX_SPRITE_BYTES: usize = 16 << 20;
/// Largest `images.json` the origin reads.
pub const MAX_IMAGE_INDEX_BYTES: u64 = 8 << 20;
/// Most segments the thumbnail index lists (a 100-hour title at 2 s segments).
const MAX_INDEX_SEGMENTS: usize = 200_000;
/// The file name of the image index at a presentation's root.
pub const IMAGE_INDEX: &str = "images.json";
/// The file name of the poster frame at a presentation's root.
pub const POSTER: &str = "poster.jpg";

/// Thumbnails at regular times, tiled left to right and top to bottom in one sprite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storyboard {
    pub columns: u32,
    pub rows: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    /// Time between two thumbnails, ms: the time each tile stands for.
    pub interval_ms: u64,
    /// When each thumbnail was taken, ms on the presentation's timeline, in tile order.
    pub times_ms: Vec<u64>,
    /// The end of the last tile's span: the presentation's duration, ms.
    pub duration_ms: u64,
}

impl Storyboard {
    /// Checks that the grid holds every thumbnail, that times rise within the duration
    /// and that every size is within bounds: what is read back from a store is no more
    /// trusted than a file.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Settings(format!("storyboard: {why}")));
        let tiles = u64::from(self.columns) * u64::from(self.rows);
        if self.columns == 0 || self.rows == 0 || tiles > MAX_STORYBOARD_TILES as u64 {
            return bad(format!(
                "a {}x{} grid (1 to {MAX_STORYBOARD_TILES} tiles)",
                self.columns, self.rows
            ));
        }
        if !(1..=MAX_TILE_SIDE).contains(&self.tile_width)
            || !(1..=MAX_TILE_SIDE).contains(&self.tile_height)
        {
            return bad(format!(
                "{}x{} tiles (1 to {MAX_TILE_SIDE} pixels a side)",
                self.tile_width, self.tile_height
            ));
        }
        if self.times_ms.is_empty() || self.times_ms.len() as u64 > tiles {
            return bad(format!(
                "{} thumbnails in {tiles} tiles",
                self.times_ms.len()
            ));
        }
        if self.interval_ms == 0 {
            return bad("an interval of 0 ms".into());
        }
        let rising = self.times_ms.windows(2).all(|w| w[0] < w[1]);
        let last = self.times_ms.last().copied().unwrap_or(0);
        if !rising || last >= self.duration_ms.max(1) {
            return bad("thumbnail times out of order or past the end".into());
        }
        Ok(())
    }

    /// The whole sprite's size, pixels.
    pub fn sprite_size(&self) -> (u32, u32) {
        (self.columns * self.tile_width, self.rows * self.tile_height)
    }

    /// The rectangle `(x, y, width, height)` of thumbnail `k` in the sprite.
    pub fn tile(&self, k: usize) -> (u32, u32, u32, u32) {
        let k = k as u32;
        (
            (k % self.columns) * self.tile_width,
            (k / self.columns) * self.tile_height,
            self.tile_width,
            self.tile_height,
        )
    }

    /// The WebVTT file: a cue per thumbnail, from its time to the next one's (the last
    /// to the end), whose text is `sprite_uri#xywh=x,y,w,h`.
    pub fn vtt(&self, sprite_uri: &str) -> String {
        let cues: Vec<Cue> = self
            .times_ms
            .iter()
            .enumerate()
            .map(|(k, &start)| {
                let end = self
                    .times_ms
                    .get(k + 1)
                    .copied()
                    .unwrap_or(self.duration_ms)
                    .max(start + 1);
                let (x, y, w, h) = self.tile(k);
                Cue {
                    start_ms: start,
                    end_ms: end,
                    settings: String::new(),
                    text: format!("{sprite_uri}#xywh={x},{y},{w},{h}"),
                }
            })
            .collect();
        write_segment(&cues, 0, u64::MAX, None)
    }

    /// The time a DASH thumbnail tile stands for: one segment (the sprite) holds
    /// `columns x rows` tiles of `interval_ms` each (DASH-IF IOP 6.2.6.2).
    pub fn sprite_duration_ms(&self) -> u64 {
        self.interval_ms * u64::from(self.columns) * u64::from(self.rows)
    }
}

/// The storyboard and its sprite's bytes (JPEG), as a presentation holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryboardImages {
    pub storyboard: Storyboard,
    pub sprite: std::sync::Arc<[u8]>,
}

impl StoryboardImages {
    /// Checks the storyboard, and that the sprite is a JPEG (by its first bytes) of at
    /// most [`MAX_SPRITE_BYTES`]; its pictures are ffmpeg's, not read here.
    pub fn new(storyboard: Storyboard, sprite: Vec<u8>) -> Result<StoryboardImages> {
        storyboard.validate()?;
        if sprite.len() > MAX_SPRITE_BYTES {
            return Err(Error::Settings(format!(
                "storyboard sprite of {} bytes (at most {MAX_SPRITE_BYTES})",
                sprite.len()
            )));
        }
        if !sprite.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Err(Error::Settings("storyboard sprite is not a JPEG".into()));
        }
        Ok(StoryboardImages {
            storyboard,
            sprite: sprite.into(),
        })
    }
}

/// The frame a list shows for an asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PosterFrame {
    /// Where it was taken, ms on the presentation's timeline.
    pub time_ms: u64,
    pub width: u32,
    pub height: u32,
}

/// A video rendition thumbnails can be made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoSize {
    pub name: RenditionName,
    pub width: u32,
    pub height: u32,
}

/// What the origin needs to make a thumbnail at any time from the clear copy's
/// segments: where each segment starts and ends (every video rendition is cut on the
/// same instants), and the video renditions to choose from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThumbnailSource {
    /// `(start, end)` of each segment, ms on the presentation's timeline.
    pub spans_ms: Vec<(u64, u64)>,
    /// Video renditions, smallest first.
    pub renditions: Vec<VideoSize>,
}

impl ThumbnailSource {
    /// The segment that shows time `ms`, and how far into it the time lies.
    pub fn segment_at(&self, ms: u64) -> Option<(usize, u64)> {
        let n = self.spans_ms.partition_point(|&(start, _)| start <= ms);
        let k = n.checked_sub(1)?;
        let (start, end) = self.spans_ms[k];
        (ms < end).then_some((k, ms - start))
    }

    /// The end of the last segment, ms.
    pub fn duration_ms(&self) -> u64 {
        self.spans_ms.last().map_or(0, |s| s.1)
    }

    /// The smallest rendition at least `width` x `height`, or the largest.
    pub fn rendition_for(&self, width: u32, height: u32) -> Option<&VideoSize> {
        self.renditions
            .iter()
            .find(|r| r.width >= width && r.height >= height)
            .or(self.renditions.last())
    }
}

/// `images.json`: the pictures a presentation has.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageIndex {
    /// `poster.jpg`, when one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poster: Option<PosterFrame>,
    /// `storyboard.jpg` and `storyboard.vtt`, when made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storyboard: Option<Storyboard>,
    /// Present when the presentation has a clear copy to make thumbnails from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnails: Option<ThumbnailSource>,
}

impl ImageIndex {
    /// Reads an index back, checking every count and order.
    pub fn from_json(bytes: &[u8]) -> Result<ImageIndex> {
        let index: ImageIndex = serde_json::from_slice(bytes)
            .map_err(|e| Error::Settings(format!("{IMAGE_INDEX}: {e}")))?;
        if let Some(s) = &index.storyboard {
            s.validate()?;
        }
        if let Some(t) = &index.thumbnails {
            let ordered = t.spans_ms.iter().all(|(a, b)| a < b)
                && t.spans_ms.windows(2).all(|w| w[0].1 <= w[1].0);
            if t.spans_ms.is_empty()
                || t.spans_ms.len() > MAX_INDEX_SEGMENTS
                || !ordered
                || t.renditions.is_empty()
                || t.renditions.len() > 64
            {
                return Err(Error::Settings(format!(
                    "{IMAGE_INDEX}: a malformed thumbnail source"
                )));
            }
        }
        Ok(index)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(times: Vec<u64>) -> Storyboard {
        Storyboard {
            columns: 3,
            rows: 2,
            tile_width: 160,
            tile_height: 90,
            interval_ms: 2000,
            times_ms: times,
            duration_ms: 7000,
        }
    }

    #[test]
    fn every_cue_names_a_tile_inside_the_sprite() {
        let b = board(vec![0, 2000, 4000, 6000]);
        b.validate().unwrap();
        let vtt = b.vtt("storyboard.jpg");
        let cues = crate::text::parse_written(vtt.as_bytes()).unwrap();
        assert_eq!(cues.len(), 4);
        assert_eq!(cues[3].start_ms, 6000);
        assert_eq!(cues[3].end_ms, 7000);
        let (sw, sh) = b.sprite_size();
        assert_eq!((sw, sh), (480, 180));
        for c in &cues {
            let xywh = c.text.split("#xywh=").nth(1).unwrap();
            let v: Vec<u32> = xywh.split(',').map(|n| n.parse().unwrap()).collect();
            assert!(v[0] + v[2] <= sw && v[1] + v[3] <= sh, "{xywh}");
        }
        assert!(vtt.contains("00:00:06.000 --> 00:00:07.000\nstoryboard.jpg#xywh=0,90,160,90"));
    }

    #[test]
    fn a_storyboard_that_does_not_add_up_is_refused() {
        assert!(board(vec![]).validate().is_err());
        assert!(board(vec![0, 1, 2, 3, 4, 5, 6]).validate().is_err());
        assert!(board(vec![2000, 1000]).validate().is_err());
        assert!(board(vec![0, 7000]).validate().is_err());
        let mut huge = board(vec![0]);
        huge.columns = 1_000;
        huge.rows = 1_000;
        assert!(huge.validate().is_err());
        let mut wide = board(vec![0]);
        wide.tile_width = 10_000;
        assert!(wide.validate().is_err());
        assert!(StoryboardImages::new(board(vec![0]), b"GIF89a".to_vec()).is_err());
        assert!(StoryboardImages::new(board(vec![0]), vec![0xFF, 0xD8, 0xFF, 0xE0]).is_ok());
    }

    #[test]
    fn a_time_finds_its_segment() {
        let t = ThumbnailSource {
            spans_ms: vec![(0, 2000), (2000, 4000), (4000, 5500)],
            renditions: vec![
                VideoSize {
                    name: RenditionName::new("360p").unwrap(),
                    width: 640,
                    height: 360,
                },
                VideoSize {
                    name: RenditionName::new("720p").unwrap(),
                    width: 1280,
                    height: 720,
                },
            ],
        };
        assert_eq!(t.segment_at(0), Some((0, 0)));
        assert_eq!(t.segment_at(1999), Some((0, 1999)));
        assert_eq!(t.segment_at(2000), Some((1, 0)));
        assert_eq!(t.segment_at(5499), Some((2, 1499)));
        assert_eq!(t.segment_at(5500), None);
        assert_eq!(t.rendition_for(320, 180).unwrap().name.as_str(), "360p");
        assert_eq!(t.rendition_for(641, 100).unwrap().name.as_str(), "720p");
        assert_eq!(t.rendition_for(4000, 4000).unwrap().name.as_str(), "720p");
        let index = ImageIndex {
            poster: None,
            storyboard: None,
            thumbnails: Some(t),
        };
        assert_eq!(ImageIndex::from_json(&index.to_json()).unwrap(), index);
        assert!(
            ImageIndex::from_json(br#"{"thumbnails":{"spans_ms":[[5,1]],"renditions":[]}}"#)
                .is_err()
        );
        assert!(ImageIndex::from_json(br#"{"posters":1}"#).is_err());
    }
}
