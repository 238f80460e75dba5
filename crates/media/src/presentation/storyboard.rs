//! The storyboard's objects: its cues (`storyboard.vtt`) and its DASH thumbnail
//! AdaptationSet (DASH-IF IOP v4.3, 6.2.6). The sprite's bytes are held as made.

use crate::dash;
use crate::images::StoryboardImages;
use crate::path::{Object, ObjectPath};
use crate::Copy;

/// The root path of the sprite.
fn sprite() -> ObjectPath {
    ObjectPath::new(Copy::Clear, Object::StoryboardSprite)
}

/// `storyboard.vtt`, whose cues name the sprite beside it.
pub(super) fn cues(s: &StoryboardImages, at: &ObjectPath) -> String {
    s.storyboard.vtt(&sprite().relative_to(at))
}

/// The thumbnail AdaptationSet of the MPD at `at`: one Representation whose one segment
/// is the sprite, `columns x rows` tiles of `interval` each (6.2.6.2: the tile grid in
/// `EssentialProperty` `http://dashif.org/thumbnail_tile`, the Representation's
/// width and height the whole grid's).
pub(super) fn dash_set(s: &StoryboardImages, at: &ObjectPath) -> dash::AdaptationSet {
    let b = &s.storyboard;
    let (width, height) = b.sprite_size();
    let seconds = (b.sprite_duration_ms() as f64 / 1000.0).max(1.0);
    dash::AdaptationSet {
        content_type: "image",
        mime_type: "image/jpeg",
        language: None,
        content_protection: Vec::new(),
        switchable_with: Vec::new(),
        label: None,
        role: None,
        cea608: None,
        representations: vec![dash::Representation {
            id: "thumbnails".into(),
            bandwidth: ((s.sprite.len() * 8) as f64 / seconds).ceil().max(1.0) as u64,
            codecs: String::new(),
            width,
            height,
            frame_rate: None,
            audio_sampling_rate: None,
            audio_channels: None,
            timescale: 1000,
            presentation_time_offset: 0,
            initialization: String::new(),
            media: sprite().relative_to(at),
            timeline: Vec::new(),
            content_protection: Vec::new(),
            base_url: None,
            segment_duration: Some(b.sprite_duration_ms()),
            essential_property: Some((
                "http://dashif.org/thumbnail_tile",
                format!("{}x{}", b.columns, b.rows),
            )),
        }],
    }
}
