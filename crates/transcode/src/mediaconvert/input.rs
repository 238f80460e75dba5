//! `Settings.Inputs`: the one input file and its audio selectors, which must all select
//! the source's first audio track (the one openvod encodes).

use std::path::PathBuf;

use serde_json::Value;

use super::cursor::Obj;
use super::fields::{AUDIO_SELECTOR, INPUT, VIDEO_SELECTOR};
use super::location::Target;
use super::values::{array, err, index, join, quoted, show, text, CHANGES};
use super::Importer;
use crate::Result;

impl Importer<'_> {
    /// `Inputs`: exactly one input. Returns its local path and the names of its audio
    /// selectors (all of which select the first audio track).
    pub(super) fn inputs(&mut self, v: &Value, path: &str) -> Result<(PathBuf, Vec<String>)> {
        let list = array(v, path)?;
        match list.len() {
            0 => return Err(err(path, "empty; a job needs exactly one input")),
            1 => {}
            n => {
                return Err(err(
                    &index(path, 1),
                    format!(
                        "a second input is not supported: openvod transcodes one file, and \
                         MediaConvert would join the job's {n} inputs one after the other; \
                         {CHANGES}"
                    ),
                ))
            }
        }
        let mut o = Obj::new(&list[0], index(path, 0))?;
        let (file, file_path) = o.need("FileInput", "the file to transcode")?;
        let input = self.locate(text(file, &file_path)?, &file_path, Target::Input)?;
        let selectors = match o.take("AudioSelectors") {
            Some((v, p)) => self.audio_selectors(v, &p)?,
            None => Vec::new(),
        };
        if let Some((v, p)) = o.take("VideoSelector") {
            Obj::new(v, p)?.finish(&mut self.warnings, VIDEO_SELECTOR)?;
        }
        o.finish(&mut self.warnings, INPUT)?;
        Ok((input, selectors))
    }

    /// `AudioSelectors`: each must select the first audio track, which is what openvod
    /// encodes (`{"DefaultSelection": "DEFAULT"}`, or `SelectorType: TRACK` with
    /// `Tracks: [1]`). Language, PID or external-file selectors would pick other audio.
    fn audio_selectors(&mut self, v: &Value, path: &str) -> Result<Vec<String>> {
        let o = Obj::new(v, path.to_string())?;
        let mut names = Vec::new();
        for (name, sel) in o.map {
            let sel_path = join(path, name);
            if sel.is_null() {
                continue;
            }
            let mut s = Obj::new(sel, sel_path)?;
            let selector_type = match s.take("SelectorType") {
                Some((t, p)) => {
                    let t = text(t, &p)?;
                    if t != "TRACK" {
                        return Err(err(
                            &p,
                            format!(
                                "{} is not supported (only TRACK with Tracks [1]: openvod uses the \
                                 source's first audio track); {CHANGES}",
                                quoted(t)
                            ),
                        ));
                    }
                    Some(p)
                }
                None => None,
            };
            match s.take("Tracks") {
                Some((t, p)) => {
                    let first_only = t
                        .as_array()
                        .is_some_and(|a| a.len() == 1 && a[0].as_f64() == Some(1.0));
                    if !first_only {
                        return Err(err(
                            &p,
                            format!(
                                "{} is not supported (only [1]: openvod uses the source's first \
                                 audio track); {CHANGES}",
                                show(t)
                            ),
                        ));
                    }
                }
                None => {
                    if let Some(p) = selector_type {
                        return Err(err(&p, "TRACK needs Tracks (openvod supports [1])"));
                    }
                }
            }
            s.finish(&mut self.warnings, AUDIO_SELECTOR)?;
            names.push(name.clone());
        }
        Ok(names)
    }
}
