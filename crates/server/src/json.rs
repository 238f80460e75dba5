//! JSON request bodies. A body is a JSON object of the operation's type: `Json<T>` alone
//! would also read a struct from an array (serde's sequence form), which the document
//! does not allow, and would answer a malformed body in plain text rather than in the
//! error shape of every other refusal.

use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::Json;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Number, Value};

use crate::ApiError;

/// The media type a request's `Content-Type` names, lower case, without its parameters
/// (RFC 9110, 8.3.1: `text/vtt; charset=utf-8` is `text/vtt`).
pub(crate) fn media_type(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Whether a request declares (`Content-Length`) a body of more than `limit` bytes.
pub(crate) fn declares_over(headers: &axum::http::HeaderMap, limit: u64) -> bool {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit)
}

/// A JSON object body read into `T`.
pub(crate) struct JsonBody<T>(pub T);

/// A JSON object read into `T` (a body already parsed as JSON, whatever its media type).
pub(crate) fn object<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(value).map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = <Json<Value> as FromRequest<S>>::from_request(req, state).await?;
        object(value).map(JsonBody)
    }
}

/// An optional body: none (no Content-Type) or `null` are both "no body".
impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        let value = <Json<Value> as OptionalFromRequest<S>>::from_request(req, state).await?;
        match value {
            None | Some(Json(Value::Null)) => Ok(None),
            Some(Json(value)) => object(value).map(|v| Some(JsonBody(v))),
        }
    }
}

/// A JSON number that is a whole number of 0 or more: JSON Schema's `integer` includes
/// `5.0` (2020-12 validation, 6.1.1), which serde's `u64` refuses.
fn whole(n: &Number) -> Option<u64> {
    n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(f))
            .map(|f| f as u64)
    })
}

/// `deserialize_with` for a required whole number.
pub(crate) fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = Number::deserialize(d)?;
    whole(&n).ok_or_else(|| D::Error::custom(format!("{n} is not a whole number of 0 or more")))
}

/// `deserialize_with` for an optional whole number (null is none).
pub(crate) fn optional_whole_number<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    Option::<Number>::deserialize(d)?
        .map(|n| {
            whole(&n)
                .ok_or_else(|| D::Error::custom(format!("{n} is not a whole number of 0 or more")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Seconds {
        #[serde(deserialize_with = "whole_number")]
        n: u64,
        #[serde(default, deserialize_with = "optional_whole_number")]
        m: Option<u64>,
    }

    #[test]
    fn whole_numbers_in_either_spelling() {
        let read = |s: &str| serde_json::from_str::<Seconds>(s);
        assert_eq!(read(r#"{"n": 5}"#).unwrap(), Seconds { n: 5, m: None });
        assert_eq!(
            read(r#"{"n": 5.0, "m": 7.0}"#).unwrap(),
            Seconds { n: 5, m: Some(7) }
        );
        assert_eq!(read(r#"{"n": 1, "m": null}"#).unwrap().m, None);
        for bad in [
            r#"{"n": 5.5}"#,
            r#"{"n": -1}"#,
            r#"{"n": -1.0}"#,
            r#"{"n": 1e30}"#,
            r#"{"n": "5"}"#,
            r#"{"n": 1, "m": 0.5}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_body_is_an_object() {
        let r: Result<Seconds, _> = object(serde_json::json!([5, null]));
        assert_eq!(r.unwrap_err().code, "invalid_json");
        let r: Result<Seconds, _> = object(serde_json::json!({ "n": 5 }));
        assert_eq!(r.unwrap().n, 5);
    }
}
