//! Common Media Client Data (CTA-5004): what a player says about itself on each request.
//!
//! CMCD is a Structured Field Dictionary (RFC 9651, 3.2) sent either as one `CMCD` query
//! parameter (percent-encoded, CTA-5004 5.1) or split over four headers, `CMCD-Object`,
//! `CMCD-Request`, `CMCD-Session` and `CMCD-Status` (CTA-5004 5.2); a key may come in any
//! of them. Version 2 of the spec turns some numbers into inner lists (`br=(3200)`) and
//! adds the player state (`sta`); both versions are read here.
//!
//! The dictionary is parsed by `sfparse` (a complete RFC 9651 parser that allocates
//! nothing); this module bounds the input, maps the keys it uses onto typed fields and
//! ignores the others, as CTA-5004 4 asks of a receiver. A value of the wrong type for a
//! known key makes the whole dictionary malformed: the request is still served, but what
//! the player said about it is not counted.

use std::borrow::Cow;

use sfparse::{Parser, Value};

/// Longest CMCD text read from one header or the query parameter (after decoding). A
/// complete version 2 dictionary with a next-object URL fits well within it.
pub const MAX_CMCD_BYTES: usize = 4096;
/// Most members of one dictionary.
pub const MAX_MEMBERS: usize = 64;
/// Longest session id (CTA-5004 4.4: `sid`, at most 64 characters).
pub const MAX_SESSION_ID: usize = 64;
/// Longest content id kept (`cid`, 64 characters in CTA-5004 4.4; a little slack).
const MAX_CONTENT_ID: usize = 128;

/// The keys read here.
const KEYS: [&str; 13] = [
    "sid", "cid", "ot", "sta", "br", "d", "bl", "mtp", "tb", "v", "su", "bs", "pr",
];

/// Why a request's CMCD was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmcdError {
    #[error("CMCD is longer than {MAX_CMCD_BYTES} bytes")]
    TooLong,
    #[error("CMCD has more than {MAX_MEMBERS} keys")]
    TooManyKeys,
    #[error("the CMCD query parameter is not valid percent-encoding")]
    NotPercentEncoded,
    #[error("CMCD is not a structured field dictionary (at byte {0})")]
    Malformed(usize),
    #[error("CMCD key `{0}` has a value of the wrong type or range")]
    BadValue(&'static str),
}

/// The kind of object requested (`ot`, CTA-5004 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    Manifest,
    Audio,
    Video,
    Muxed,
    Init,
    Caption,
    TimedText,
    Key,
    Other,
}

impl ObjectType {
    fn from_token(t: &str) -> Option<ObjectType> {
        Some(match t {
            "m" => ObjectType::Manifest,
            "a" => ObjectType::Audio,
            "v" => ObjectType::Video,
            "av" => ObjectType::Muxed,
            "i" => ObjectType::Init,
            "c" => ObjectType::Caption,
            "tt" => ObjectType::TimedText,
            "k" => ObjectType::Key,
            "o" => ObjectType::Other,
            _ => return None,
        })
    }

    /// Whether the object carries the picture a viewer watches.
    pub fn is_video(self) -> bool {
        matches!(self, ObjectType::Video | ObjectType::Muxed)
    }
}

/// The player's state (`sta`, CTA-5004 version 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerState {
    Starting,
    Playing,
    Seeking,
    Rebuffering,
    Paused,
    Waiting,
    Ended,
    FatalError,
    Quit,
    Preloading,
}

impl PlayerState {
    fn from_token(t: &str) -> Option<PlayerState> {
        Some(match t {
            "s" => PlayerState::Starting,
            "p" => PlayerState::Playing,
            "k" => PlayerState::Seeking,
            "r" => PlayerState::Rebuffering,
            "a" => PlayerState::Paused,
            "w" => PlayerState::Waiting,
            "e" => PlayerState::Ended,
            "f" => PlayerState::FatalError,
            "q" => PlayerState::Quit,
            "d" => PlayerState::Preloading,
            _ => return None,
        })
    }

    /// Whether a player in this state has shown its first frame.
    pub fn has_started(self) -> bool {
        matches!(
            self,
            PlayerState::Playing
                | PlayerState::Paused
                | PlayerState::Seeking
                | PlayerState::Rebuffering
                | PlayerState::Ended
        )
    }
}

/// A player's session id (`sid`): 1 to 64 printable ASCII characters, as RFC 9651 strings
/// are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    pub fn parse(s: &str) -> Option<SessionId> {
        let ok = !s.is_empty()
            && s.len() <= MAX_SESSION_ID
            && s.bytes().all(|b| (0x20..0x7f).contains(&b));
        ok.then(|| SessionId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a player said about one request. Every number is as CTA-5004 defines it:
/// bit rates and throughput in kbit/s, times in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cmcd {
    /// `sid`.
    pub session: Option<SessionId>,
    /// `cid`.
    pub content: Option<String>,
    /// `ot`.
    pub object_type: Option<ObjectType>,
    /// `br`: the encoded bit rate of the object (the first, for an inner list).
    pub bitrate_kbps: Option<u32>,
    /// `d`: the object's playback duration.
    pub duration_ms: Option<u32>,
    /// `bl`: the buffer ahead of the playhead when the request was made.
    pub buffer_ms: Option<u32>,
    /// `mtp`: the throughput the player measured.
    pub throughput_kbps: Option<u32>,
    /// `tb`: the highest bit rate the player could pick.
    pub top_bitrate_kbps: Option<u32>,
    /// `su`: needed urgently for startup, a seek or recovery after the buffer ran dry.
    pub startup: bool,
    /// `bs`: the buffer ran dry since the previous request.
    pub starved: bool,
    /// `sta` (version 2).
    pub state: Option<PlayerState>,
    /// `pr`: the playback rate (1 is real time).
    pub playback_rate: Option<f32>,
    /// `v`: the CMCD version (1 when absent).
    pub version: u32,
}

impl Cmcd {
    /// Reads the `CMCD` parameter of a raw query string (without `?`): `Ok(None)` when
    /// there is none. A parameter given twice is refused, like a signing parameter: two
    /// readers could each take a different one.
    pub fn from_query(query: &str) -> Result<Option<Cmcd>, CmcdError> {
        let Some(raw) = cmcd_param(query)? else {
            return Ok(None);
        };
        if raw.len() > MAX_CMCD_BYTES * 3 {
            return Err(CmcdError::TooLong);
        }
        let text = percent_decode(raw).ok_or(CmcdError::NotPercentEncoded)?;
        let mut cmcd = Cmcd::empty();
        cmcd.read(text.as_bytes())?;
        Ok(Some(cmcd))
    }

    /// Reads the four CMCD headers, given as their values (any may be missing): `Ok(None)`
    /// when there are none.
    pub fn from_headers<'a>(
        values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Option<Cmcd>, CmcdError> {
        let mut cmcd = Cmcd::empty();
        let mut any = false;
        for value in values {
            any = true;
            cmcd.read(value)?;
        }
        Ok(any.then_some(cmcd))
    }

    fn empty() -> Cmcd {
        Cmcd {
            version: 1,
            ..Cmcd::default()
        }
    }

    /// Adds the members of one dictionary.
    fn read(&mut self, data: &[u8]) -> Result<(), CmcdError> {
        if data.len() > MAX_CMCD_BYTES {
            return Err(CmcdError::TooLong);
        }
        let mut parser = Parser::new(data);
        let malformed = |e: sfparse::Error| match e {
            sfparse::Error::ParseError { index } => CmcdError::Malformed(index),
        };
        for _ in 0..MAX_MEMBERS {
            let Some((key, value)) = parser.parse_dict().map_err(malformed)? else {
                return Ok(());
            };
            // Every other key, reserved or custom (`com.example-key`), is not used here
            // (its inner list, if any, is skipped by the next `parse_dict`).
            let Some(key) = KEYS.iter().copied().find(|k| *k == key) else {
                continue;
            };
            // The first item of an inner list stands for it (version 2 lists one value
            // per track; openvod's objects each hold one track).
            let value = match value {
                Value::InnerList => {
                    // The whole list is read (sfparse requires it before the next
                    // member); its length is bounded by the input's.
                    let mut first = None;
                    while let Some(v) = parser.parse_inner_list().map_err(malformed)? {
                        first.get_or_insert(v);
                    }
                    match first {
                        Some(v) => v,
                        None => continue,
                    }
                }
                v => v,
            };
            self.set(data, key, value)?;
        }
        match parser.parse_dict().map_err(malformed)? {
            None => Ok(()),
            Some(_) => Err(CmcdError::TooManyKeys),
        }
    }

    fn set(&mut self, data: &[u8], key: &'static str, value: Value) -> Result<(), CmcdError> {
        match key {
            "sid" => {
                self.session = Some(
                    string(data, &value, "sid", MAX_SESSION_ID)
                        .and_then(|s| SessionId::parse(&s).ok_or(CmcdError::BadValue("sid")))?,
                )
            }
            "cid" => self.content = Some(string(data, &value, "cid", MAX_CONTENT_ID)?),
            "ot" => {
                self.object_type = Some(
                    token(data, &value)
                        .and_then(ObjectType::from_token)
                        .ok_or(CmcdError::BadValue("ot"))?,
                )
            }
            "sta" => {
                self.state = Some(
                    token(data, &value)
                        .and_then(PlayerState::from_token)
                        .ok_or(CmcdError::BadValue("sta"))?,
                )
            }
            "br" => self.bitrate_kbps = Some(number(&value, "br")?),
            "d" => self.duration_ms = Some(number(&value, "d")?),
            "bl" => self.buffer_ms = Some(number(&value, "bl")?),
            "mtp" => self.throughput_kbps = Some(number(&value, "mtp")?),
            "tb" => self.top_bitrate_kbps = Some(number(&value, "tb")?),
            "v" => self.version = number(&value, "v")?,
            "su" => self.startup = boolean(&value, "su")?,
            "bs" => self.starved = boolean(&value, "bs")?,
            "pr" => {
                let rate = match value {
                    Value::Integer(i) => i as f64,
                    Value::Decimal { numer, denom } if denom != 0 => numer as f64 / denom as f64,
                    _ => return Err(CmcdError::BadValue("pr")),
                };
                if !(0.0..=100.0).contains(&rate) {
                    return Err(CmcdError::BadValue("pr"));
                }
                self.playback_rate = Some(rate as f32);
            }
            _ => {}
        }
        Ok(())
    }
}

/// A number CTA-5004 defines as a non-negative Integer. Some players send a Decimal
/// (a JavaScript float not rounded); its integer part is taken.
fn number(value: &Value, key: &'static str) -> Result<u32, CmcdError> {
    let n = match *value {
        Value::Integer(i) => i,
        Value::Decimal { numer, denom } if denom > 0 => numer / denom,
        _ => return Err(CmcdError::BadValue(key)),
    };
    u32::try_from(n).map_err(|_| CmcdError::BadValue(key))
}

fn boolean(value: &Value, key: &'static str) -> Result<bool, CmcdError> {
    match *value {
        Value::Bool(b) => Ok(b),
        _ => Err(CmcdError::BadValue(key)),
    }
}

fn token<'a>(data: &'a [u8], value: &Value) -> Option<&'a str> {
    match value {
        Value::Token(range) => std::str::from_utf8(data.get(range.clone())?).ok(),
        _ => None,
    }
}

/// An RFC 9651 String (3.3.3), unescaped (`\"` and `\\` are its only escapes).
fn string(
    data: &[u8],
    value: &Value,
    key: &'static str,
    max_len: usize,
) -> Result<String, CmcdError> {
    let Value::String { range, escape } = value else {
        return Err(CmcdError::BadValue(key));
    };
    let raw = data
        .get(range.clone())
        .and_then(|b| std::str::from_utf8(b).ok())
        .ok_or(CmcdError::BadValue(key))?;
    let text = if *escape {
        raw.replace("\\\"", "\"").replace("\\\\", "\\")
    } else {
        raw.to_owned()
    };
    if text.len() > max_len {
        return Err(CmcdError::BadValue(key));
    }
    Ok(text)
}

/// The raw value of the one `CMCD` parameter of a query.
fn cmcd_param(query: &str) -> Result<Option<&str>, CmcdError> {
    let mut found = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == "CMCD" {
            if found.is_some() {
                return Err(CmcdError::Malformed(0));
            }
            found = Some(value);
        }
    }
    Ok(found)
}

/// The query without its `CMCD` parameter: what signatures are checked against, so that
/// a player adding CMCD to a signed URL does not break the signature (the data is the
/// player's, not part of what was granted).
pub fn query_without_cmcd(query: &str) -> Cow<'_, str> {
    if !query
        .split('&')
        .any(|p| p == "CMCD" || p.starts_with("CMCD="))
    {
        return Cow::Borrowed(query);
    }
    Cow::Owned(
        query
            .split('&')
            .filter(|p| *p != "CMCD" && !p.starts_with("CMCD="))
            .collect::<Vec<_>>()
            .join("&"),
    )
}

/// Percent-decodes a query value (`+` is a space in form encoding; CMCD values never
/// need a literal `+` outside strings, and players encode it as `%2B`).
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What hls.js 1.7 sends for a video segment in query mode (CMCD version 1).
    const HLSJS_QUERY: &str = "CMCD=bl%3D21300%2Cbr%3D3200%2Cbs%2Ccid%3D%22asset-1%22%2Cd%3D4004%2Cdl%3D18500%2Cmtp%3D48100%2Cnor%3D%2212.m4s%22%2Cot%3Dv%2Crtp%3D12000%2Csf%3Dh%2Csid%3D%226e2fb550-c457-11e9-bb97-0800200c9a66%22%2Csu%2Ctb%3D6000";

    #[test]
    fn reads_a_query_as_hls_js_sends_it() {
        let c = Cmcd::from_query(&format!("Policy=x&{HLSJS_QUERY}&Signature=y"))
            .unwrap()
            .unwrap();
        assert_eq!(
            c.session.as_ref().map(SessionId::as_str),
            Some("6e2fb550-c457-11e9-bb97-0800200c9a66")
        );
        assert_eq!(c.content.as_deref(), Some("asset-1"));
        assert_eq!(c.object_type, Some(ObjectType::Video));
        assert_eq!(c.bitrate_kbps, Some(3200));
        assert_eq!(c.duration_ms, Some(4004));
        assert_eq!(c.buffer_ms, Some(21300));
        assert_eq!(c.throughput_kbps, Some(48100));
        assert_eq!(c.top_bitrate_kbps, Some(6000));
        assert!(c.startup && c.starved);
        assert_eq!(c.version, 1);
    }

    #[test]
    fn reads_the_four_headers_and_version_2_lists() {
        let headers: [&[u8]; 4] = [
            b"br=(3200 128),d=2000,ot=v",
            b"bl=(5000),mtp=25400",
            b"sid=\"s\\\"1\",sta=p,v=2,pr=1.5",
            b"bs",
        ];
        let c = Cmcd::from_headers(headers).unwrap().unwrap();
        assert_eq!(c.bitrate_kbps, Some(3200));
        assert_eq!(c.buffer_ms, Some(5000));
        assert_eq!(c.session.unwrap().as_str(), "s\"1");
        assert_eq!(c.state, Some(PlayerState::Playing));
        assert_eq!(c.version, 2);
        assert_eq!(c.playback_rate, Some(1.5));
        assert!(c.starved && !c.startup);
    }

    #[test]
    fn absent_cmcd_is_none() {
        assert_eq!(Cmcd::from_query("Policy=a&Signature=b").unwrap(), None);
        assert_eq!(Cmcd::from_headers(std::iter::empty()).unwrap(), None);
    }

    #[test]
    fn unknown_and_custom_keys_are_ignored() {
        let c = Cmcd::from_headers([&b"com.example-x=\"y\",nrr=\"0-99\",br=10"[..]])
            .unwrap()
            .unwrap();
        assert_eq!(c.bitrate_kbps, Some(10));
    }

    #[test]
    fn malformed_input_is_refused_with_a_reason() {
        let bad: &[(&str, CmcdError)] = &[
            ("CMCD=br%3D", CmcdError::Malformed(3)),
            ("CMCD=br%3D-5", CmcdError::BadValue("br")),
            ("CMCD=br%3D%22x%22", CmcdError::BadValue("br")),
            ("CMCD=ot%3Dzz", CmcdError::BadValue("ot")),
            ("CMCD=su%3D1", CmcdError::BadValue("su")),
            ("CMCD=br%3D99999999999", CmcdError::BadValue("br")),
            ("CMCD=%zz", CmcdError::NotPercentEncoded),
            ("CMCD=%C3", CmcdError::NotPercentEncoded),
            ("CMCD=br%3D1&CMCD=br%3D2", CmcdError::Malformed(0)),
        ];
        for (query, want) in bad {
            assert_eq!(Cmcd::from_query(query).as_ref(), Err(want), "{query}");
        }
        let long_sid = format!("sid=\"{}\"", "a".repeat(65));
        assert_eq!(
            Cmcd::from_headers([long_sid.as_bytes()]),
            Err(CmcdError::BadValue("sid"))
        );
    }

    #[test]
    fn lengths_are_bounded() {
        let huge = "a".repeat(MAX_CMCD_BYTES + 1);
        assert_eq!(
            Cmcd::from_headers([huge.as_bytes()]),
            Err(CmcdError::TooLong)
        );
        let many = (0..=MAX_MEMBERS)
            .map(|i| format!("k{i}=1"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            Cmcd::from_headers([many.as_bytes()]),
            Err(CmcdError::TooManyKeys)
        );
        // Only the first item of a list is used.
        let list = format!("br=({}),d=7", vec!["1"; 100].join(" "));
        let c = Cmcd::from_headers([list.as_bytes()]).unwrap().unwrap();
        assert_eq!((c.bitrate_kbps, c.duration_ms), (Some(1), Some(7)));
    }

    #[test]
    fn the_cmcd_parameter_is_removed_before_signatures_are_checked() {
        assert_eq!(
            query_without_cmcd("Policy=a&CMCD=br%3D1&Signature=b"),
            "Policy=a&Signature=b"
        );
        assert!(matches!(
            query_without_cmcd("Policy=a&Signature=b"),
            Cow::Borrowed(_)
        ));
        assert_eq!(query_without_cmcd("CMCD=x"), "");
    }
}
