//! Values, JSON paths and messages: typed reads of JSON values with range checks, the
//! path of each key (`Settings.Inputs[0].FileInput`) and the one-line errors and
//! `ignored:` warnings that name it.

use std::fmt::Display;

use serde_json::Value;

use super::fields::Lit;
use crate::Error;
use crate::Result;

/// The end of every refusal: why a key cannot simply be ignored.
pub(super) const CHANGES: &str = "ignoring it would change the output";

pub(super) fn err(path: &str, msg: impl Display) -> Error {
    if path.is_empty() {
        Error::MediaConvert(format!("top level: {msg}"))
    } else {
        Error::MediaConvert(format!("{path}: {msg}"))
    }
}

pub(super) fn ignored(path: &str, v: &Value) -> String {
    format!("ignored: {path} = {}", show(v))
}

pub(super) fn refused(path: &str, v: &Value, allowed: &[Lit]) -> Error {
    let only = if allowed.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = allowed.iter().map(|l| l.to_string()).collect();
        format!(" (only {})", list.join(" or "))
    };
    err(
        path,
        format!("{} is not supported{only}; {CHANGES}", show(v)),
    )
}

/// A key in a path: plain keys as `.Key`, others (spaces, quotes, very long) as
/// `["..."]`, JSON-escaped so that a message is always one line.
pub(super) fn join(base: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= 64
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    match (base.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{}]", quoted(key)),
    }
}

pub(super) fn index(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}

/// A string as a JSON literal, shortened.
pub(super) fn quoted(s: &str) -> String {
    show(&Value::String(s.to_string()))
}

/// A value as compact JSON, shortened to keep messages one readable line.
pub(super) fn show(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "?".into());
    if s.chars().count() > 80 {
        let mut t: String = s.chars().take(77).collect();
        t.push_str("...");
        t
    } else {
        s
    }
}

pub(super) fn text<'a>(v: &'a Value, path: &str) -> Result<&'a str> {
    v.as_str()
        .ok_or_else(|| err(path, format!("expected a string, found {}", show(v))))
}

pub(super) fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| err(path, format!("expected a list, found {}", show(v))))
}

pub(super) fn enabled(v: &Value, path: &str) -> Result<bool> {
    match text(v, path)? {
        "ENABLED" => Ok(true),
        "DISABLED" => Ok(false),
        other => Err(err(
            path,
            format!(
                "expected \"ENABLED\" or \"DISABLED\", found {}",
                quoted(other)
            ),
        )),
    }
}

/// A whole number within `lo..=hi` (integral floats such as `4.0` are accepted, as some
/// JSON writers produce them).
pub(super) fn int(v: &Value, path: &str, lo: u64, hi: u64, unit: &str) -> Result<u64> {
    let f = match v.as_f64() {
        Some(f) if f.is_finite() && f.fract() == 0.0 => f,
        _ => {
            return Err(err(
                path,
                format!("expected a whole number, found {}", show(v)),
            ))
        }
    };
    if f < lo as f64 || f > hi as f64 {
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        return Err(err(
            path,
            format!("{} is outside {lo}..{hi}{unit}", show(v)),
        ));
    }
    Ok(v.as_u64().unwrap_or(f as u64))
}

/// A number within `lo..=hi`.
pub(super) fn num(v: &Value, path: &str, lo: f64, hi: f64, unit: &str) -> Result<f64> {
    match v.as_f64() {
        Some(f) if f.is_finite() && (lo..=hi).contains(&f) => Ok(f),
        Some(_) => Err(err(
            path,
            format!("{} is outside {lo}..{hi} {unit}", show(v)),
        )),
        None => Err(err(path, format!("expected a number, found {}", show(v)))),
    }
}
