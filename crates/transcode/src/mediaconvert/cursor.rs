//! The JSON object being read. Every key the importer reads is marked as taken, and
//! [`Obj::finish`] sorts the rest into harmless and refused by a table of
//! [`fields`](super::fields), so no key of the document goes unexamined.

use serde_json::{Map, Value};

use super::fields::{Else, Field, Lit};
use super::values::{err, ignored, join, refused, show, CHANGES};
use crate::Result;

/// A JSON object being read: the keys the importer reads are marked as taken, and
/// [`Obj::finish`] sorts the rest into harmless and refused, so no key goes unexamined.
pub(super) struct Obj<'a> {
    path: String,
    pub(super) map: &'a Map<String, Value>,
    taken: Vec<&'a str>,
}

impl<'a> Obj<'a> {
    pub(super) fn new(v: &'a Value, path: String) -> Result<Obj<'a>> {
        match v {
            Value::Object(map) => Ok(Obj {
                path,
                map,
                taken: Vec::new(),
            }),
            other => Err(err(
                &path,
                format!("expected an object, found {}", show(other)),
            )),
        }
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    /// The value of `key` and its path, marking it as read. `null` carries no setting and
    /// counts as absent.
    pub(super) fn take(&mut self, key: &str) -> Option<(&'a Value, String)> {
        let (k, v) = self.map.get_key_value(key)?;
        self.taken.push(k.as_str());
        if v.is_null() {
            None
        } else {
            Some((v, join(&self.path, key)))
        }
    }

    /// Like [`Obj::take`], with an error naming the missing key and why it is needed.
    pub(super) fn need(&mut self, key: &str, why: &str) -> Result<(&'a Value, String)> {
        let path = join(&self.path, key);
        self.take(key)
            .ok_or_else(|| err(&path, format!("missing; {why}")))
    }

    /// Checks every key not taken against `fields`: quiet values pass, harmless ones are
    /// added to `warnings`, anything else is an error.
    pub(super) fn finish(self, warnings: &mut Vec<String>, fields: &[Field]) -> Result<()> {
        self.finish_tables(warnings, &[fields])
    }

    /// Like [`Obj::finish`], for an object whose harmless keys are in several tables
    /// (the fields a codec shares with others, and its own).
    pub(super) fn finish_tables(
        self,
        warnings: &mut Vec<String>,
        tables: &[&[Field]],
    ) -> Result<()> {
        for (key, value) in self.map {
            if value.is_null() || self.taken.contains(&key.as_str()) {
                continue;
            }
            let path = join(&self.path, key);
            let Some(field) = tables.iter().flat_map(|t| t.iter()).find(|f| f.key == key) else {
                return Err(err(&path, format!("not supported by openvod; {CHANGES}")));
            };
            if field.quiet.iter().any(|l| l.matches(value)) {
                continue;
            }
            match field.other {
                Else::Warn => warnings.push(ignored(&path, value)),
                Else::WarnOnly(also) if also.iter().any(|l| l.matches(value)) => {
                    warnings.push(ignored(&path, value))
                }
                Else::WarnOnly(also) => {
                    let allowed: Vec<Lit> = field.quiet.iter().chain(also).copied().collect();
                    return Err(refused(&path, value, &allowed));
                }
                Else::Refuse => return Err(refused(&path, value, field.quiet)),
            }
        }
        Ok(())
    }
}
