//! Makes the OpenAPI document that utoipa derives from the handlers exact: what the derive
//! cannot say (code lists as enumerations, `const`, formats, bounds, the answers actix and the
//! middleware give, their headers) is added here, from the same code lists the handlers check
//! against, so the document and the server cannot drift apart.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::db::enums::{
    CampaignStatus, Civility, HeardFrom, ScheduleKind, Situation, Stage, WorkingTime,
};
use crate::pipeline::{REFUSAL_REASONS, WITHDRAWAL_REASONS};

/// The reference data migration: the specialties' codes are read from it, so the document
/// lists the codes the database is loaded with.
const REFERENCE_DATA: &str =
    include_str!("../../../migrations/2026-11-22-000002_reference_data/up.sql");

/// The specialty codes of the ANS nomenclature loaded by the reference data migration.
pub fn specialty_codes() -> &'static [String] {
    static CODES: OnceLock<Vec<String>> = OnceLock::new();
    CODES.get_or_init(|| {
        let Some(start) = REFERENCE_DATA.find("INSERT INTO specialties") else {
            return Vec::new();
        };
        let section = &REFERENCE_DATA[start..];
        let section = &section[..section.find("ON CONFLICT").unwrap_or(section.len())];
        section
            .lines()
            .filter_map(|line| {
                let rest = line.trim().strip_prefix("('")?;
                Some(rest[..rest.find('\'')?].to_owned())
            })
            .collect()
    })
}

/// The reason codes a stage move may carry (refusal and withdrawal lists).
pub fn reason_codes() -> Vec<&'static str> {
    let codes: Vec<&'static str> = REFUSAL_REASONS
        .iter()
        .chain(WITHDRAWAL_REASONS)
        .map(|(code, _)| *code)
        .collect();
    let mut unique = Vec::new();
    for c in codes {
        if !unique.contains(&c) {
            unique.push(c);
        }
    }
    unique
}

/// The statuses the submission answers with.
pub const SUBMISSION_STATUSES: &[&str] = &["enregistree", "deja_recue"];

/// A date as the handlers' `parse_date` reads it: AAAA-MM-JJ or JJ/MM/AAAA.
pub const DATE_PATTERN: &str =
    r"^[ \t\r\n]*([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}/[0-9]{1,2}/[0-9]{4})[ \t\r\n]*$";

/// Free text in the address: any character but the controls the input layer refuses
/// (`domain::is_forbidden_control`: C0 controls other than tab, CR and LF).
pub const QUERY_TEXT_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$";

/// One line of text: no control character, no line break (`SpouseSupport::parse`).
pub const SINGLE_LINE_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

/// A name: no control character, something else than spaces (`PersonName::parse`).
pub const NAME_PATTERN: &str =
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// The characters `PhoneNumber::parse` reads: digits, a leading +, and separators.
pub const PHONE_PATTERN: &str = r"^\+?[0-9 .()/\xa0-]+$";

/// A position filter: a position's id, or `spontanee`.
pub const POSITION_FILTER_PATTERN: &str = "^([1-9][0-9]{0,17}|spontanee)$";

/// A centre filter: a centre's id.
pub const CENTRE_FILTER_PATTERN: &str = "^[1-9][0-9]{0,17}$";

pub const MAX_PAGE: i64 = 1_000_000;
/// Items per page of a list: at most, and when not given.
pub const MAX_PER_PAGE: i64 = 100;
pub const DEFAULT_PER_PAGE: i64 = 20;

fn codes<T: Copy>(all: &[T], code: fn(T) -> &'static str) -> Vec<Value> {
    all.iter().map(|v| json!(code(*v))).collect()
}

fn string_enum(values: Vec<Value>) -> Value {
    json!({ "type": "string", "enum": values })
}

fn nullable_enum(mut values: Vec<Value>) -> Value {
    values.push(Value::Null);
    json!({ "type": ["string", "null"], "enum": values })
}

/// Sets `with`'s entries on the object `target` (its other entries, the description, kept);
/// nothing if there is no such object.
fn merge(target: Option<&mut Value>, with: Value) {
    if let (Some(Value::Object(target)), Value::Object(with)) = (target, with) {
        for (k, v) in with {
            target.insert(k, v);
        }
    }
}

/// A property of a schema, if both exist (indexing with `[]` would insert nulls).
fn property<'a>(doc: &'a mut Value, schema: &str, name: &str) -> Option<&'a mut Value> {
    doc.get_mut("components")?
        .get_mut("schemas")?
        .get_mut(schema)?
        .get_mut("properties")?
        .get_mut(name)
}

fn schema<'a>(doc: &'a mut Value, name: &str) -> Option<&'a mut Value> {
    doc.get_mut("components")?.get_mut("schemas")?.get_mut(name)
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

fn header(description: &str, schema: Value) -> Value {
    json!({ "description": description, "schema": schema })
}

/// The document made exact. `doc` is the document utoipa derived.
pub fn tighten(doc: &mut Value) {
    let civility = codes(Civility::ALL, Civility::code);
    let situation = codes(Situation::ALL, Situation::code);
    let working_time = codes(WorkingTime::ALL, WorkingTime::code);
    let stage = codes(Stage::ALL, Stage::code);
    let heard_from = codes(HeardFrom::ALL, HeardFrom::code);
    let specialties: Vec<Value> = specialty_codes().iter().map(|c| json!(c)).collect();
    let reasons: Vec<Value> = reason_codes().into_iter().map(|c| json!(c)).collect();

    // The application: code lists, consent, formats and bounds; required fields carry no
    // default (a missing one is an error, not an empty text).
    let Some(entry) = schema(doc, "CandidatureEntree") else {
        return;
    };
    let required: Vec<String> = entry["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(props) = entry.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, prop) in props.iter_mut() {
            if required.contains(name) {
                if let Some(p) = prop.as_object_mut() {
                    p.remove("default");
                }
            }
        }
    }
    entry["additionalProperties"] = json!(false);
    entry["example"] = json!({
        "civilite": "madame",
        "prenom": "Claire",
        "nom": "Martin",
        "courriel": "claire.martin@exemple.fr",
        "telephone": "06 12 34 56 78",
        "rpps": "10132437004",
        "specialite": "SM54",
        "situation": "remplacant",
        "temps_travail": "temps_partiel",
        "demi_journees": 6,
        "garde": true,
        "conjoint": true,
        "conjoint_domaine": "enseignement",
        "message": "Je souhaite m'installer dans le Gers.",
        "connaissance": "faculte",
        "consentement": true,
        "vivier": true
    });
    let s = "CandidatureEntree";
    merge(property(doc, s, "civilite"), string_enum(civility.clone()));
    merge(
        property(doc, s, "situation"),
        string_enum(situation.clone()),
    );
    merge(
        property(doc, s, "temps_travail"),
        string_enum(working_time.clone()),
    );
    merge(
        property(doc, s, "specialite"),
        string_enum(specialties.clone()),
    );
    merge(
        property(doc, s, "connaissance"),
        nullable_enum(heard_from.clone()),
    );
    merge(property(doc, s, "consentement"), json!({ "const": true }));
    for name in ["prenom", "nom", "courriel", "telephone"] {
        merge(property(doc, s, name), json!({ "minLength": 1 }));
    }
    for name in ["prenom", "nom"] {
        merge(property(doc, s, name), json!({ "pattern": NAME_PATTERN }));
    }
    merge(
        property(doc, s, "telephone"),
        json!({ "pattern": PHONE_PATTERN }),
    );
    merge(property(doc, s, "courriel"), json!({ "format": "email" }));
    merge(property(doc, s, "cle"), json!({ "format": "uuid" }));
    merge(
        property(doc, s, "disponibilite"),
        json!({ "pattern": DATE_PATTERN }),
    );
    merge(
        property(doc, s, "demi_journees"),
        json!({ "minimum": 1, "maximum": 9 }),
    );
    merge(
        property(doc, s, "centres"),
        json!({ "items": { "type": "integer", "format": "int64", "minimum": 1 } }),
    );
    merge(property(doc, s, "poste"), json!({ "minimum": 1 }));
    for name in [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "conjoint_domaine",
    ] {
        merge(property(doc, s, name), json!({ "maxLength": 200 }));
    }
    // One line, no control character (`SpouseSupport::parse`).
    merge(
        property(doc, s, "conjoint_domaine"),
        json!({ "pattern": SINGLE_LINE_PATTERN }),
    );

    // The stage move.
    let s = "ChangementEtape";
    merge(
        schema(doc, s),
        json!({
            "additionalProperties": false,
            "example": { "depuis": "nouvelle", "vers": "premier_contact", "note": "Appelée lundi." }
        }),
    );
    merge(property(doc, s, "depuis"), string_enum(stage.clone()));
    merge(property(doc, s, "vers"), string_enum(stage.clone()));
    merge(property(doc, s, "motif"), nullable_enum(reasons));
    merge(property(doc, s, "note"), json!({ "maxLength": 5000 }));
    merge(
        property(doc, s, "relance"),
        json!({ "pattern": DATE_PATTERN }),
    );

    // What the API answers.
    let s = "CandidatureRecue";
    merge(property(doc, s, "reference"), json!({ "format": "uuid" }));
    merge(
        property(doc, s, "statut"),
        string_enum(SUBMISSION_STATUSES.iter().map(|c| json!(c)).collect()),
    );
    for s in ["CandidatApi", "CandidatureApi"] {
        merge(
            property(doc, s, "situation"),
            string_enum(situation.clone()),
        );
        merge(
            property(doc, s, "temps_travail"),
            string_enum(working_time.clone()),
        );
    }
    merge(
        property(doc, "CandidatApi", "civilite"),
        string_enum(civility),
    );
    merge(
        property(doc, "CandidatureApi", "etape"),
        string_enum(stage.clone()),
    );
    merge(
        property(doc, "CandidatureApi", "connaissance"),
        nullable_enum(heard_from),
    );
    merge(
        property(doc, "CampagneApi", "statut"),
        string_enum(codes(CampaignStatus::ALL, CampaignStatus::code)),
    );
    merge(
        property(doc, "CampagneApi", "programmation"),
        string_enum(codes(ScheduleKind::ALL, ScheduleKind::code)),
    );
    merge(
        property(doc, "StatistiquesCampagne", "statut"),
        string_enum(codes(CampaignStatus::ALL, CampaignStatus::code)),
    );
    for page in ["Page_CandidatApi", "Page_CandidatureApi"] {
        merge(
            property(doc, page, "page"),
            json!({ "minimum": 1, "maximum": MAX_PAGE }),
        );
        merge(
            property(doc, page, "par_page"),
            json!({ "minimum": 1, "maximum": MAX_PER_PAGE }),
        );
        merge(property(doc, page, "total"), json!({ "minimum": 0 }));
    }
    merge(
        schema(doc, "Problem"),
        json!({ "additionalProperties": false }),
    );
    merge(
        property(doc, "Problem", "status"),
        json!({ "minimum": 400, "maximum": 599 }),
    );

    // Parameters and answers, operation by operation.
    let mut specialty_filter = specialties;
    specialty_filter.push(json!("MG"));
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        let methods: Vec<String> = item.keys().map(|m| m.to_ascii_uppercase()).collect();
        let allow = methods.join(", ");
        for (method, op) in item.iter_mut() {
            let secured = op.get("security").is_some_and(Value::is_array);
            let has_body = op.get("requestBody").is_some_and(Value::is_object);
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for p in params.iter_mut() {
                    let name = p["name"].as_str().unwrap_or_default().to_owned();
                    let schema = match (p["in"].as_str(), name.as_str()) {
                        (Some("path"), "id") => {
                            json!({ "type": "integer", "format": "int64", "minimum": 1 })
                        }
                        (Some("header"), "Idempotency-Key") => {
                            json!({ "type": "string", "format": "uuid" })
                        }
                        (Some("query"), "page") => json!({
                            "type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_PAGE
                        }),
                        (Some("query"), "par_page") => json!({
                            "type": "integer", "format": "int64", "minimum": 1,
                            "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE
                        }),
                        (Some("query"), "etape") => string_enum(stage.clone()),
                        (Some("query"), "temps") => string_enum(working_time.clone()),
                        (Some("query"), "situation") => string_enum(situation.clone()),
                        (Some("query"), "specialite") => string_enum(specialty_filter.clone()),
                        (Some("query"), "dispo_avant") => {
                            json!({ "type": "string", "pattern": DATE_PATTERN })
                        }
                        (Some("query"), "poste") => {
                            json!({ "type": "string", "pattern": POSITION_FILTER_PATTERN })
                        }
                        (Some("query"), "centre") => {
                            json!({ "type": "string", "pattern": CENTRE_FILTER_PATTERN })
                        }
                        (Some("query"), _) => {
                            json!({ "type": "string", "pattern": QUERY_TEXT_PATTERN })
                        }
                        _ => continue,
                    };
                    p["schema"] = schema;
                }
            }
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            let takes_query = path.ends_with("/candidats") || path.ends_with("/candidatures");
            if has_body || (method == "get" && takes_query) {
                responses.entry("400").or_insert_with(|| {
                    problem_response(
                        "Requête illisible : JSON invalide, champ inconnu, en double ou absent, \
                         type inattendu, paramètre de l'adresse illisible, caractère de contrôle \
                         (NUL…)",
                    )
                });
            }
            if has_body {
                responses
                    .entry("413")
                    .or_insert_with(|| problem_response("Corps trop volumineux (64 Ko au plus)"));
                responses
                    .entry("415")
                    .or_insert_with(|| problem_response("Content-Type autre que application/json"));
                responses
                    .entry("408")
                    .or_insert_with(|| problem_response("Corps reçu trop lentement"));
            }
            if path.contains("{id}") {
                responses.entry("404").or_insert_with(|| {
                    problem_response(
                        "Ressource inconnue, ou identifiant qui n'est pas un entier positif",
                    )
                });
            }
            responses.entry("405").or_insert_with(|| {
                problem_response("Méthode non autorisée à cette adresse (voir l'en-tête Allow)")
            });
            responses
                .entry("503")
                .or_insert_with(|| problem_response("Base de données momentanément indisponible"));
            if secured {
                responses
                    .entry("401")
                    .or_insert_with(|| problem_response("Jeton absent, invalide ou révoqué"));
                responses.entry("403").or_insert_with(|| {
                    problem_response(
                        "Rôle insuffisant, ou double authentification exigée et pas encore \
                             activée sur le compte",
                    )
                });
            }
            for (status, response) in responses.iter_mut() {
                let mut headers = Map::new();
                match status.as_str() {
                    "401" => {
                        headers.insert(
                            "WWW-Authenticate".to_owned(),
                            header(
                                "Le schéma attendu : Bearer (avec error=\"invalid_token\" si un \
                                 jeton a été présenté)",
                                json!({ "type": "string" }),
                            ),
                        );
                    }
                    "405" => {
                        headers.insert(
                            "Allow".to_owned(),
                            header(
                                "Les méthodes acceptées à cette adresse",
                                json!({ "type": "string", "enum": [allow.clone()] }),
                            ),
                        );
                    }
                    "429" | "503" => {
                        headers.insert(
                            "Retry-After".to_owned(),
                            header(
                                "Secondes à attendre avant de réessayer",
                                json!({ "type": "string", "pattern": "^[0-9]+$" }),
                            ),
                        );
                    }
                    "200" | "201" if method == "post" && path.ends_with("/candidatures") => {
                        headers.insert(
                            "Location".to_owned(),
                            header(
                                "La page de confirmation de la candidature",
                                json!({ "type": "string", "pattern": "^/candidature/merci/[0-9a-f-]{36}$" }),
                            ),
                        );
                    }
                    _ => {}
                }
                if !headers.is_empty() {
                    response["headers"] = Value::Object(headers);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specialty_codes_are_read_from_the_reference_data() {
        let codes = specialty_codes();
        assert!(codes.len() >= 50, "{codes:?}");
        for c in ["SM54", "SM53", "SM26"] {
            assert!(codes.iter().any(|x| x == c), "{c}");
        }
    }
}
