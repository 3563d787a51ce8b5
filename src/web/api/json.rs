//! The JSON bodies of the API: read with a size limit and a content type check, and parsed
//! with French problems that name the wrong field (serde reports a wrong type without it).

use std::future::Future;
use std::pin::Pin;

use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::problem::{self, Problem};

/// The largest body the API reads.
pub const LIMIT: usize = 64 * 1024;

/// A JSON body of type `T`, or a problem: 415 for another content type, 413 over [`LIMIT`],
/// 400 for a body that is not the JSON expected (naming the field when one is wrong).
pub struct ApiJson<T>(pub T);

fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "trop-volumineux",
        "Envoi trop volumineux",
        format!(
            "Le corps dépasse {} Ko : rien n'a été lu ni enregistré.",
            LIMIT / 1024
        ),
    )
}

/// `application/json`, or any `…/json` or `…+json` type, parameters aside.
fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.ends_with("/json") || essence.ends_with("+json")
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<ApiJson<T>, Problem>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let json = is_json(req);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let body = web::Payload::from_request(req, payload);
        Box::pin(async move {
            if !json {
                return Err(Problem::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "format-non-pris-en-charge",
                    "Format non pris en charge",
                    "Envoyez le corps en JSON avec l'en-tête « Content-Type: application/json ».",
                ));
            }
            if declared.is_some_and(|n| n > LIMIT) {
                return Err(too_large());
            }
            let unreadable = || {
                Problem::malformed(
                    "Le corps de la requête n'a pas pu être lu entièrement : renvoyez-le.",
                    Vec::new(),
                )
            };
            let body = body.await.map_err(|_| unreadable())?;
            let bytes = body
                .to_bytes_limited(LIMIT)
                .await
                .map_err(|_| unreadable())?
                .map_err(|_| too_large())?;
            parse_json(&bytes).map(ApiJson)
        })
    }
}

/// Parses `body` as a `T`; a problem in French otherwise, naming the field whose value has the
/// wrong type.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice::<T>(body).map_err(|e| {
        if e.classify() != serde_json::error::Category::Data {
            return problem::from_json_error(&e, None);
        }
        // serde would read an array as a struct's fields in order: say what is expected.
        if serde_json::from_slice::<Value>(body).is_ok_and(|v| !v.is_object()) {
            return Problem::malformed(
                "Le corps n'a pas le type attendu : un objet JSON entre accolades, dont les \
                 champs sont décrits par la documentation (/api/openapi.json).",
                Vec::new(),
            );
        }
        problem::from_json_error(&e, wrong_field::<T>(body))
    })
}

/// The field whose value alone does not deserialize as its type: each field of the object is
/// tried on its own (absent fields are another error and are not counted).
fn wrong_field<T: DeserializeOwned>(body: &[u8]) -> Option<String> {
    let object: Map<String, Value> = serde_json::from_slice(body).ok()?;
    object.into_iter().find_map(|(name, value)| {
        let alone = Value::Object(Map::from_iter([(name.clone(), value)]));
        match serde_json::from_value::<T>(alone) {
            Err(e) => {
                let message = e.to_string();
                let wrong = message.starts_with("invalid type")
                    || message.starts_with("invalid value")
                    || message.starts_with("invalid length");
                wrong.then_some(name)
            }
            Ok(_) => None,
        }
    })
}

/// Integers as JSON Schema counts them: `6` and `6.0` alike (a fuzzer or a JavaScript client
/// may send the latter). Used with `#[serde(deserialize_with)]`.
pub mod integer {
    use serde::de::{Deserialize, Deserializer, Error, Unexpected};
    use serde_json::Value;

    fn from_value<E: Error>(value: Value, min: i64, max: i64) -> Result<i64, E> {
        let n = match &value {
            Value::Number(n) => n,
            Value::Null => return Err(E::invalid_type(Unexpected::Unit, &"an integer")),
            Value::Bool(b) => return Err(E::invalid_type(Unexpected::Bool(*b), &"an integer")),
            Value::String(s) => return Err(E::invalid_type(Unexpected::Str(s), &"an integer")),
            Value::Array(_) => return Err(E::invalid_type(Unexpected::Seq, &"an integer")),
            Value::Object(_) => return Err(E::invalid_type(Unexpected::Map, &"an integer")),
        };
        // A float is an integer if it is one up to the parser's rounding (serde_json may be one
        // or two units in the last place off for 16-17 significant digits).
        let exact = n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            let r = f.round();
            let close = (f - r).abs() <= f64::EPSILON * r.abs().max(1.0) * 4.0;
            (close && r.abs() < 9.0e18).then_some(r as i64)
        });
        match exact {
            Some(i) if (min..=max).contains(&i) => Ok(i),
            Some(i) => Err(E::invalid_value(
                Unexpected::Signed(i),
                &"an integer within bounds",
            )),
            None => Err(E::invalid_value(
                Unexpected::Float(n.as_f64().unwrap_or_default()),
                &"an integer",
            )),
        }
    }

    pub fn option_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(v) => from_value(v, i64::MIN, i64::MAX).map(Some),
        }
    }

    pub fn option_i16<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i16>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(v) => {
                from_value(v, i16::MIN.into(), i16::MAX.into()).map(|n| i16::try_from(n).ok())
            }
        }
    }

    pub fn vec_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
        match Value::deserialize(d)? {
            Value::Array(items) => items
                .into_iter()
                .map(|v| from_value(v, i64::MIN, i64::MAX))
                .collect(),
            Value::Null => Err(Error::invalid_type(Unexpected::Unit, &"a sequence")),
            Value::String(s) => Err(Error::invalid_type(Unexpected::Str(&s), &"a sequence")),
            _ => Err(Error::invalid_type(
                Unexpected::Other("value"),
                &"a sequence",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        nom: String,
        #[serde(default)]
        jours: Option<i16>,
        #[serde(default)]
        actif: bool,
        #[serde(default, deserialize_with = "integer::vec_i64")]
        ids: Vec<i64>,
        #[serde(default, deserialize_with = "integer::option_i64")]
        poste: Option<i64>,
    }

    #[test]
    fn a_wrong_type_names_the_field_in_french_without_serdes_text() {
        for (body, field) in [
            (r#"{"nom": 42}"#, "nom"),
            (r#"{"nom": "a", "jours": 100000}"#, "jours"),
            (r#"{"actif": "oui", "nom": "a"}"#, "actif"),
            (r#"{"nom": "a", "ids": [1, 2.5]}"#, "ids"),
            (r#"{"nom": "a", "ids": "1,2"}"#, "ids"),
            (r#"{"nom": "a", "poste": "7"}"#, "poste"),
        ] {
            let p = parse_json::<Sample>(body.as_bytes()).unwrap_err();
            assert_eq!(p.status, 400, "{body}");
            assert_eq!(p.errors[0].field, field, "{body}");
            assert!(p.detail.contains(&format!("« {field} »")), "{}", p.detail);
            assert!(p.detail.contains("ligne 1"), "{}", p.detail);
            for english in ["invalid", "expected", "integer `", " at line"] {
                assert!(!p.detail.contains(english), "{}", p.detail);
                assert!(!p.errors[0].message.contains(english), "{:?}", p.errors);
            }
        }
        let s = parse_json::<Sample>(br#"{"nom": "a", "ids": [1, 2.0], "poste": 7.0}"#).unwrap();
        assert_eq!((s.ids, s.poste), (vec![1, 2], Some(7)));
        let s = parse_json::<Sample>(br#"{"nom": "a", "poste": 2112652194154509.0}"#).unwrap();
        assert_eq!(s.poste, Some(2112652194154509));
        let p = parse_json::<Sample>(br#"{"actif": true}"#).unwrap_err();
        assert_eq!(p.errors[0].field, "nom");
        assert!(p.detail.contains("obligatoire"), "{}", p.detail);
        let p = parse_json::<Sample>(b"[1]").unwrap_err();
        assert!(p.detail.contains("objet JSON"), "{}", p.detail);
        assert!(!p.detail.contains("expected"), "{}", p.detail);
    }
}
