//! Channel links (issue 19): a tracked short link per outside channel — a journal advert, a
//! Facebook post, a poster in a faculty, a partner site such as dites32.fr. Each has a label, a
//! short code (`{public_url}/l/{code}`) and the UTM values it carries to the form; its visits
//! are counted per day, and the applications that followed it carry its id. What it yielded is
//! read by `reports::channel_links`, with the same cohort as every other channel.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{channel_link_visits, channel_links};
use crate::domain::FieldErrors;
use crate::staff::audit::audit;

/// The longest code: short enough to type from a poster.
pub const MAX_CODE_CHARS: usize = 32;
pub const MAX_LABEL_CHARS: usize = 200;
pub const MAX_UTM_CHARS: usize = 100;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = channel_links, check_for_backend(diesel::pg::Pg))]
pub struct ChannelLink {
    pub id: i64,
    pub label: String,
    pub code: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl ChannelLink {
    /// The short URL printed on the poster or the advert.
    pub fn short_url(&self, public_base: &str) -> String {
        short_url(public_base, &self.code)
    }

    /// Where the short URL leads: the form, with the link's UTM values and its code (the
    /// form's hidden `canal` field), and the position asked for, if any.
    pub fn form_target(&self, position: Option<i64>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("utm_source", &self.utm_source),
            ("utm_medium", &self.utm_medium),
            ("utm_campaign", &self.utm_campaign),
        ] {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        query.append_pair("canal", &self.code);
        if let Some(position) = position {
            query.append_pair("poste", &position.to_string());
        }
        format!("/candidature?{}", query.finish())
    }
}

pub fn short_url(public_base: &str, code: &str) -> String {
    format!("{public_base}/l/{code}")
}

/// `code` when it is a well-formed code (lowercase letters, digits and hyphens, at most 32):
/// anything else cannot name a link and is not looked up.
pub fn well_formed_code(code: &str) -> Option<String> {
    let ok = !code.is_empty()
        && code.len() <= MAX_CODE_CHARS
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ok.then(|| code.to_owned())
}

/// The code proposed for a label: lowercase, accents folded, every other character a hyphen,
/// at most 32 characters, cut at a hyphen when it can be.
/// « Annonce revue Le Généraliste » → `annonce-revue-le-generaliste`.
pub fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => "a",
            'ç' => "c",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'î' | 'ï' | 'í' | 'ì' => "i",
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => "o",
            'ù' | 'û' | 'ü' | 'ú' => "u",
            'ÿ' => "y",
            'ñ' => "n",
            'æ' => "ae",
            'œ' => "oe",
            c if c.is_ascii_lowercase() || c.is_ascii_digit() => {
                out.push(c);
                continue;
            }
            _ => "-",
        };
        if folded == "-" {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push_str(folded);
        }
    }
    let mut slug = out.trim_end_matches('-').to_owned();
    if slug.len() > MAX_CODE_CHARS {
        let cut = &slug[..MAX_CODE_CHARS];
        slug = match cut.rfind('-') {
            Some(i) if i >= MAX_CODE_CHARS / 2 => cut[..i].to_owned(),
            _ => cut.trim_end_matches('-').to_owned(),
        };
    }
    slug
}

/// The link form as typed (kept as typed when it is shown again with its errors).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelLinkForm {
    pub libelle: String,
    pub code: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
}

pub const FORM_FIELDS: &[(&str, &str)] = &[
    ("libelle", "Libellé"),
    ("code", "Code du lien court"),
    ("utm_source", "Source (utm_source)"),
    ("utm_medium", "Support (utm_medium)"),
    ("utm_campaign", "Campagne (utm_campaign)"),
];

/// A checked link form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelLinkInput {
    pub label: String,
    pub code: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
}

/// The UTM medium proposed when none is typed.
pub const DEFAULT_MEDIUM: &str = "lien-suivi";

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Checks the form: the label is required; the code and the UTM values, when left empty, are
/// proposed from the label (code and source: its slug; medium: `lien-suivi`; campaign: the
/// slug too).
pub fn parse(form: &ChannelLinkForm) -> Result<ChannelLinkInput, FieldErrors> {
    let mut errors = FieldErrors::default();
    let label = form
        .libelle
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if has_control(&form.libelle) {
        errors.add(
            "libelle",
            "Le libellé contient un caractère invisible (caractère de contrôle) : retapez-le.",
        );
    } else if label.is_empty() {
        errors.add(
            "libelle",
            "Donnez un libellé qui dise d'où viennent les visites, par exemple « Annonce revue \
             Le Généraliste » ou « Affiche faculté de Toulouse ».",
        );
    } else if label.chars().count() > MAX_LABEL_CHARS {
        errors.add(
            "libelle",
            format!("Le libellé compte {MAX_LABEL_CHARS} caractères au plus : raccourcissez-le."),
        );
    }
    let proposed = slug(&label);
    let typed_code = form.code.trim();
    let code = if typed_code.is_empty() {
        proposed.clone()
    } else {
        typed_code.to_owned()
    };
    if has_control(&form.code) {
        errors.add(
            "code",
            "Le code contient un caractère invisible (caractère de contrôle) : retapez-le.",
        );
    } else if code.chars().count() > MAX_CODE_CHARS {
        errors.add(
            "code",
            format!(
                "Le code compte {} caractères ; {MAX_CODE_CHARS} au plus : raccourcissez-le \
                 (par exemple « {} »).",
                code.chars().count(),
                slug(&code)
            ),
        );
    } else if well_formed_code(&code).is_none() {
        if code.is_empty() {
            if !label.is_empty() {
                errors.add(
                    "code",
                    "Aucun code ne peut être tiré de ce libellé : tapez un code fait de lettres \
                     minuscules sans accent, de chiffres et de tirets, par exemple « dites32 ».",
                );
            }
        } else {
            let suggestion = slug(&code);
            let example = if suggestion.is_empty() {
                "dites32".to_owned()
            } else {
                suggestion
            };
            errors.add(
                "code",
                format!(
                    "Le code ne peut contenir que des lettres minuscules sans accent, des \
                     chiffres et des tirets : par exemple « {example} »."
                ),
            );
        }
    }
    let utm = |typed: &str, field: &'static str, default: &str, errors: &mut FieldErrors| {
        let value = typed.trim();
        if has_control(typed) {
            errors.add(
                field,
                "Cette valeur contient un caractère invisible (caractère de contrôle) : \
                 retapez-la.",
            );
        } else if value.chars().count() > MAX_UTM_CHARS {
            errors.add(
                field,
                format!("{MAX_UTM_CHARS} caractères au plus : raccourcissez cette valeur."),
            );
        }
        if value.is_empty() {
            default.to_owned()
        } else {
            value.to_owned()
        }
    };
    let utm_source = utm(&form.utm_source, "utm_source", &proposed, &mut errors);
    let utm_medium = utm(&form.utm_medium, "utm_medium", DEFAULT_MEDIUM, &mut errors);
    let utm_campaign = utm(&form.utm_campaign, "utm_campaign", &proposed, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ChannelLinkInput {
        label,
        code,
        utm_source,
        utm_medium,
        utm_campaign,
    })
}

fn duplicate_code(
    conn: &mut PgConnection,
    code: &str,
    except: Option<i64>,
) -> QueryResult<Option<String>> {
    let mut query = channel_links::table
        .filter(channel_links::code.eq(code))
        .select(channel_links::label)
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(channel_links::id.ne(id));
    }
    query.first(conn).optional()
}

fn duplicate_message(label: &str) -> String {
    format!(
        "Ce code est déjà celui du lien « {label} » (même archivé, un code ne sert qu'une fois) : \
         choisissez-en un autre."
    )
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

fn code_taken() -> FieldErrors {
    let mut errors = FieldErrors::default();
    errors.add(
        "code",
        "Ce code vient d'être pris par un autre lien : choisissez-en un autre.",
    );
    errors
}

/// Checks the form and creates the link: its id, or the problems at their fields.
pub fn create(
    conn: &mut PgConnection,
    actor: i64,
    form: &ChannelLinkForm,
    now: DateTime<Utc>,
) -> QueryResult<Result<i64, FieldErrors>> {
    let input = match parse(form) {
        Ok(input) => input,
        Err(errors) => return Ok(Err(errors)),
    };
    if let Some(label) = duplicate_code(conn, &input.code, None)? {
        let mut errors = FieldErrors::default();
        errors.add("code", duplicate_message(&label));
        return Ok(Err(errors));
    }
    let inserted = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let id: i64 = diesel::insert_into(channel_links::table)
            .values((
                channel_links::label.eq(&input.label),
                channel_links::code.eq(&input.code),
                channel_links::utm_source.eq(&input.utm_source),
                channel_links::utm_medium.eq(&input.utm_medium),
                channel_links::utm_campaign.eq(&input.utm_campaign),
                channel_links::created_by.eq(actor),
                channel_links::created_at.eq(now),
                channel_links::updated_at.eq(now),
            ))
            .returning(channel_links::id)
            .get_result(conn)?;
        audit(
            conn,
            Some(actor),
            "creation_lien_suivi",
            "lien_suivi",
            Some(id),
            &format!("/l/{}", input.code),
        )?;
        Ok(id)
    });
    match inserted {
        Ok(id) => Ok(Ok(id)),
        Err(e) if is_unique_violation(&e) => Ok(Err(code_taken())),
        Err(e) => Err(e),
    }
}

/// Checks the form and updates link `id`: `None` when there is no such link.
pub fn update(
    conn: &mut PgConnection,
    actor: i64,
    id: i64,
    form: &ChannelLinkForm,
    now: DateTime<Utc>,
) -> QueryResult<Option<Result<(), FieldErrors>>> {
    if find(conn, id)?.is_none() {
        return Ok(None);
    }
    let input = match parse(form) {
        Ok(input) => input,
        Err(errors) => return Ok(Some(Err(errors))),
    };
    if let Some(label) = duplicate_code(conn, &input.code, Some(id))? {
        let mut errors = FieldErrors::default();
        errors.add("code", duplicate_message(&label));
        return Ok(Some(Err(errors)));
    }
    let updated = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::update(channel_links::table.find(id))
            .set((
                channel_links::label.eq(&input.label),
                channel_links::code.eq(&input.code),
                channel_links::utm_source.eq(&input.utm_source),
                channel_links::utm_medium.eq(&input.utm_medium),
                channel_links::utm_campaign.eq(&input.utm_campaign),
                channel_links::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit(
            conn,
            Some(actor),
            "modification_lien_suivi",
            "lien_suivi",
            Some(id),
            &format!("/l/{}", input.code),
        )
    });
    match updated {
        Ok(()) => Ok(Some(Ok(()))),
        Err(e) if is_unique_violation(&e) => Ok(Some(Err(code_taken()))),
        Err(e) => Err(e),
    }
}

/// Archives link `id` (or takes it out of the archive): an archived link leads to the plain
/// form and attributes nothing. False when there is no such link.
pub fn set_archived(
    conn: &mut PgConnection,
    actor: i64,
    id: i64,
    archived: bool,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let n = diesel::update(channel_links::table.find(id))
            .set((
                channel_links::archived_at.eq(archived.then_some(now)),
                channel_links::updated_at.eq(now),
            ))
            .execute(conn)?;
        if n == 1 {
            audit(
                conn,
                Some(actor),
                if archived {
                    "archivage_lien_suivi"
                } else {
                    "reactivation_lien_suivi"
                },
                "lien_suivi",
                Some(id),
                "",
            )?;
        }
        Ok(n == 1)
    })
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<ChannelLink>> {
    channel_links::table
        .find(id)
        .select(ChannelLink::as_select())
        .first(conn)
        .optional()
}

/// The live (not archived) link with this code.
pub fn live_by_code(conn: &mut PgConnection, code: &str) -> QueryResult<Option<ChannelLink>> {
    if well_formed_code(code).is_none() {
        return Ok(None);
    }
    channel_links::table
        .filter(channel_links::code.eq(code))
        .filter(channel_links::archived_at.is_null())
        .select(ChannelLink::as_select())
        .first(conn)
        .optional()
}

/// The live (not archived) link with this id.
pub fn live_by_id(conn: &mut PgConnection, id: i64) -> QueryResult<Option<ChannelLink>> {
    channel_links::table
        .find(id)
        .filter(channel_links::archived_at.is_null())
        .select(ChannelLink::as_select())
        .first(conn)
        .optional()
}

/// Counts one visit of link `id` on `day` (Paris time).
pub fn record_visit(conn: &mut PgConnection, id: i64, day: NaiveDate) -> QueryResult<()> {
    diesel::insert_into(channel_link_visits::table)
        .values((
            channel_link_visits::link_id.eq(id),
            channel_link_visits::day.eq(day),
            channel_link_visits::visits.eq(1i64),
        ))
        .on_conflict((channel_link_visits::link_id, channel_link_visits::day))
        .do_update()
        .set(channel_link_visits::visits.eq(channel_link_visits::visits + 1i64))
        .execute(conn)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(label: &str, code: &str) -> ChannelLinkForm {
        ChannelLinkForm {
            libelle: label.to_owned(),
            code: code.to_owned(),
            ..ChannelLinkForm::default()
        }
    }

    #[test]
    fn codes_are_proposed_from_labels() {
        assert_eq!(
            slug("Annonce revue Le Généraliste"),
            "annonce-revue-le-generaliste"
        );
        assert_eq!(slug("Facebook décembre"), "facebook-decembre");
        assert_eq!(slug("dites32.fr"), "dites32-fr");
        assert_eq!(slug("  Œuvre / Ça !  "), "oeuvre-ca");
        assert_eq!(
            slug("Affiche faculté de médecine de Toulouse Purpan et Rangueil"),
            "affiche-faculte-de-medecine-de"
        );
        assert!(slug("Affiche faculté de médecine de Toulouse Purpan").len() <= MAX_CODE_CHARS);
        assert_eq!(slug("日本"), "");
    }

    #[test]
    fn empty_values_are_proposed_and_typed_ones_kept() {
        let input = parse(&form("Facebook décembre", "")).unwrap();
        assert_eq!(input.code, "facebook-decembre");
        assert_eq!(input.utm_source, "facebook-decembre");
        assert_eq!(input.utm_medium, DEFAULT_MEDIUM);
        let input = parse(&ChannelLinkForm {
            libelle: "Relais dites32.fr".into(),
            code: "dites32".into(),
            utm_source: "dites32".into(),
            utm_medium: "partenaire".into(),
            utm_campaign: "hiver".into(),
        })
        .unwrap();
        assert_eq!(
            (
                input.code.as_str(),
                input.utm_medium.as_str(),
                input.utm_campaign.as_str()
            ),
            ("dites32", "partenaire", "hiver")
        );
    }

    #[test]
    fn bad_labels_and_codes_are_refused_at_their_field() {
        let errors = parse(&form("  ", "")).unwrap_err();
        assert!(errors.0.contains_key("libelle"));
        for bad in [
            "Dites32", "dites 32", "dites/32", "é", "../x", "a?b", "a%2fb",
        ] {
            let errors = parse(&form("Affiche", bad)).unwrap_err();
            assert!(errors.0.contains_key("code"), "{bad}");
        }
        let errors = parse(&form("Affiche", &"a".repeat(33))).unwrap_err();
        assert!(errors.0.get("code").unwrap().contains("32 au plus"));
        let errors = parse(&form("Affiche\u{0}", "x")).unwrap_err();
        assert!(errors.0.contains_key("libelle"));
        assert!(well_formed_code(&"a".repeat(32)).is_some());
        assert!(well_formed_code("").is_none());
    }

    #[test]
    fn the_form_target_carries_the_utm_values_and_the_code() {
        let link = ChannelLink {
            id: 1,
            label: "x".into(),
            code: "dites32".into(),
            utm_source: "dites32 & co".into(),
            utm_medium: "partenaire".into(),
            utm_campaign: String::new(),
            archived_at: None,
            created_at: Utc::now(),
        };
        assert_eq!(
            link.form_target(Some(4)),
            "/candidature?utm_source=dites32+%26+co&utm_medium=partenaire&canal=dites32&poste=4"
        );
    }
}
