//! The journal as administrators read it: each line of the audit log told as a French sentence
//! naming who did what (« Claire Martin a fait passer la candidature n° 12 de Nouvelle à Premier
//! contact »), with links to the records, filtered by person, action and dates, page by page.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use serde::{Deserialize, Serialize};

use crate::db::enums::{StaffRole, Stage};
use crate::domain::{parse_date, FieldErrors};

/// Lines per page.
pub const PER_PAGE: i64 = 50;

/// Every action code written by `audit(...)` in the code, with the words of the filter's list.
/// A code missing here still shows, with a neutral sentence.
pub const ACTIONS: &[(&str, &str)] = &[
    ("changement_etape", "Changement d'étape"),
    ("rendez_vous", "Entretien ou visite programmé"),
    ("note", "Note ajoutée"),
    ("grille_entretien", "Grille d'entretien remplie"),
    ("critere_ajoute", "Critère de grille ajouté"),
    ("critere_modifie", "Critère de grille modifié"),
    ("modification", "Fiche modifiée"),
    ("fusion", "Fiches fusionnées"),
    ("telechargement", "Document téléchargé"),
    ("export_csv", "Export des candidatures"),
    ("proposition_creee", "Proposition préparée"),
    ("proposition_modifiee", "Proposition modifiée"),
    ("proposition_remplacee", "Proposition remplacée"),
    ("validation_demandee", "Validation de proposition demandée"),
    ("proposition_approuvee", "Proposition approuvée"),
    ("proposition_envoyee", "Proposition envoyée"),
    ("proposition_retiree", "Proposition retirée"),
    ("proposition_acceptee", "Proposition acceptée"),
    ("proposition_declinee", "Proposition déclinée"),
    ("proposition_expiree", "Proposition expirée"),
    ("prise_de_poste", "Prise de poste"),
    ("redeploiement", "Redéploiement"),
    ("desistement_candidat", "Désistement par le candidat"),
    ("consentement_vivier_renouvele", "Accord vivier renouvelé"),
    ("consentement_vivier_retire", "Accord vivier retiré"),
    ("effacement_demande", "Effacement demandé par le candidat"),
    ("conservation_donnees", "Durée de conservation appliquée"),
    ("campaign.create", "Campagne créée"),
    ("campaign.update", "Campagne modifiée"),
    ("campaign.schedule", "Campagne programmée"),
    ("campaign.unschedule", "Campagne remise en brouillon"),
    ("campaign.pause", "Campagne mise en pause"),
    ("campaign.resume", "Campagne reprise"),
    ("campaign.cancel", "Campagne annulée"),
    ("campaign.retry_failed", "Envois en échec relancés"),
    ("campaign.run_confirm", "Envoi confirmé"),
    ("campaign.run_skip", "Envoi sauté"),
    ("mail_template.create", "Modèle de campagne créé"),
    ("mail_template.update", "Modèle de campagne modifié"),
    ("mail_template.delete", "Modèle de campagne supprimé"),
    ("mail_template.test_send", "Envoi d'essai"),
    ("import_contacts", "Import de contacts"),
    ("export_contacts", "Export de contacts"),
    ("creation_contact", "Contact ajouté"),
    ("modification_contact", "Contact modifié"),
    ("suppression_contact", "Contact supprimé"),
    ("creation_liste", "Liste créée"),
    ("desinscription_manuelle", "Désinscription ajoutée"),
    (
        "desinscription_courriel",
        "Désinscription reçue par courriel",
    ),
    ("reponse_candidat", "Réponse envoyée à un candidat"),
    (
        "courriel_rattache",
        "Courriel non reconnu rattaché à une fiche",
    ),
    ("courriel_ecarte", "Courriel non reconnu écarté"),
    ("creation_lien_suivi", "Lien suivi créé"),
    ("modification_lien_suivi", "Lien suivi modifié"),
    ("archivage_lien_suivi", "Lien suivi archivé"),
    ("reactivation_lien_suivi", "Lien suivi réactivé"),
    ("rendez_vous_modifie", "Entretien ou visite déplacé"),
    ("rendez_vous_annule", "Entretien ou visite annulé"),
    ("creation_organisation", "Organisation créée"),
    ("chargement_facultes", "Facultés chargées"),
    ("creation_centre", "Centre créé"),
    ("modification_centre", "Centre modifié"),
    ("creation_poste", "Poste créé"),
    ("modification_poste", "Poste modifié"),
    ("modele_courriel", "Modèle de courriel d'étape modifié"),
    ("creation_compte", "Compte créé"),
    ("activation", "Compte réactivé"),
    ("desactivation", "Compte désactivé"),
    ("changement_role", "Rôle changé"),
    ("politique_securite", "Règle de connexion changée"),
    ("activation_2fa", "Double authentification activée"),
    ("desactivation_2fa", "Double authentification désactivée"),
    ("creation_jeton_api", "Jeton d'API créé"),
    ("revocation_jeton_api", "Jeton d'API révoqué"),
    ("connexion", "Connexion"),
    ("deconnexion", "Déconnexion"),
];

/// The filters as typed in the query string (`?par=3&action=note&du=01/12/2026&au=&page=2`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RawFilter {
    #[serde(default)]
    pub par: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub du: String,
    #[serde(default)]
    pub au: String,
    #[serde(default)]
    pub page: String,
}

/// The filters, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub actor: Option<i64>,
    pub action: Option<&'static str>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// The fields of the filter form, in order, with their labels (for the error summary).
pub const FIELDS: &[(&str, &str)] = &[
    ("par", "Personne"),
    ("action", "Action"),
    ("du", "Du"),
    ("au", "Au"),
];

fn read_day(raw: &str, field: &'static str, errors: &mut FieldErrors) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match parse_date(raw) {
        Some(d) if (2000..=2999).contains(&chrono::Datelike::year(&d)) => Some(d),
        Some(_) => {
            errors.add(
                field,
                "Cette date est hors de la période du journal : saisissez une année entre 2000 \
                 et 2999.",
            );
            None
        }
        None => {
            errors.add(
                field,
                "Date illisible : saisissez-la au format JJ/MM/AAAA, par exemple 07/12/2026.",
            );
            None
        }
    }
}

/// Checks the filters against the accounts that exist (`people`); the page number, when not a
/// number from 1 to 100 000, is read as 1.
pub fn check(raw: &RawFilter, people: &[Person]) -> (Result<Filter, FieldErrors>, i64) {
    let mut errors = FieldErrors::default();
    let page = raw
        .page
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=100_000).contains(p))
        .unwrap_or(1);
    let actor = match raw.par.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(id) if people.iter().any(|p| p.id == id) => Some(id),
            _ => {
                errors.add("par", "Choisissez une personne dans la liste.");
                None
            }
        },
    };
    let action = match raw.action.trim() {
        "" => None,
        code => match ACTIONS.iter().find(|(c, _)| *c == code) {
            Some((c, _)) => Some(*c),
            None => {
                errors.add("action", "Choisissez une action dans la liste.");
                None
            }
        },
    };
    let from = read_day(&raw.du, "du", &mut errors);
    let to = read_day(&raw.au, "au", &mut errors);
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            errors.add(
                "au",
                format!(
                    "La date de fin précède la date de début : saisissez une date à partir du {}.",
                    f.format("%d/%m/%Y")
                ),
            );
        }
    }
    if errors.is_empty() {
        (
            Ok(Filter {
                actor,
                action,
                from,
                to,
            }),
            page,
        )
    } else {
        (Err(errors), page)
    }
}

/// A staff account, for the person filter.
#[derive(Debug, Clone, Queryable, Serialize)]
pub struct Person {
    pub id: i64,
    pub name: String,
}

/// Every account, by name.
pub fn people(conn: &mut PgConnection) -> QueryResult<Vec<Person>> {
    use crate::db::schema::staff_users;
    staff_users::table
        .order((staff_users::display_name, staff_users::id))
        .select((staff_users::id, staff_users::display_name))
        .load(conn)
}

/// A piece of a sentence: text, or a link to a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Part {
    pub text: String,
    pub href: Option<String>,
}

fn t(text: impl Into<String>) -> Part {
    Part {
        text: text.into(),
        href: None,
    }
}

fn link(text: impl Into<String>, href: impl Into<String>) -> Part {
    Part {
        text: text.into(),
        href: Some(href.into()),
    }
}

/// One line of the journal, told.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub at: DateTime<Utc>,
    pub sentence: Vec<Part>,
    /// What the code wrote beside the action, when the sentence does not already say it.
    pub detail: Option<String>,
}

/// A page of the journal.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub lines: Vec<Line>,
    pub page: i64,
    pub has_next: bool,
}

/// A line of the audit log with what the sentence needs of the records it names.
#[derive(Debug, Clone, QueryableByName)]
pub struct Entry {
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub actor_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub actor: Option<String>,
    #[diesel(sql_type = Text)]
    pub action: String,
    #[diesel(sql_type = Text)]
    pub entity: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub entity_id: Option<i64>,
    #[diesel(sql_type = Text)]
    pub detail: String,
    /// The name of the record acted on (campaign, account, centre, list…), when it has one.
    #[diesel(sql_type = Nullable<Text>)]
    pub target: Option<String>,
    /// The candidate of an application, for the link to their page.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub candidate_id: Option<i64>,
}

/// What the journal page shows: the accounts for the person filter, the page asked, and the
/// lines, or the filters' errors when they cannot be read.
#[derive(Debug)]
pub struct Journal {
    pub people: Vec<Person>,
    pub page: i64,
    pub outcome: Result<Page, FieldErrors>,
}

/// Checks the filters typed and, when they are good, loads the page they ask for.
pub fn load(conn: &mut PgConnection, raw: &RawFilter) -> QueryResult<Journal> {
    let people = people(conn)?;
    let (filter, page_number) = check(raw, &people);
    let outcome = match filter {
        Ok(filter) => Ok(page(conn, &filter, page_number)?),
        Err(errors) => Err(errors),
    };
    Ok(Journal {
        people,
        page: page_number,
        outcome,
    })
}

fn paris_midnight(day: NaiveDate) -> DateTime<Utc> {
    chrono_tz::Europe::Paris
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)))
}

/// Page `page` (from 1) of the lines matching `filter`, newest first, told in French.
pub fn page(conn: &mut PgConnection, filter: &Filter, page: i64) -> QueryResult<Page> {
    let from = filter.from.map(paris_midnight);
    let to = filter
        .to
        .map(|d| paris_midnight(d + chrono::Duration::days(1)));
    let mut entries: Vec<Entry> = diesel::sql_query(include_str!("journal.sql"))
        .bind::<Nullable<BigInt>, _>(filter.actor)
        .bind::<Nullable<Text>, _>(filter.action)
        .bind::<Nullable<Timestamptz>, _>(from)
        .bind::<Nullable<Timestamptz>, _>(to)
        .bind::<BigInt, _>(PER_PAGE + 1)
        .bind::<BigInt, _>((page.max(1) - 1) * PER_PAGE)
        .load(conn)?;
    let has_next = entries.len() as i64 > PER_PAGE;
    entries.truncate(PER_PAGE as usize);
    Ok(Page {
        lines: entries.iter().map(tell).collect(),
        page,
        has_next,
    })
}

fn stage_label(code: &str) -> String {
    Stage::from_code(code)
        .map(|s| s.label().to_owned())
        .unwrap_or_else(|| code.to_owned())
}

fn role_label(code: &str) -> String {
    StaffRole::from_code(code)
        .map(|r| r.label().to_owned())
        .unwrap_or_else(|| code.to_owned())
}

/// The numbers written in a detail, in order (« … : 120 lignes, 118 ajoutés, … »).
fn numbers(text: &str) -> Vec<i64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Tells one line of the log as a sentence.
pub fn tell(e: &Entry) -> Line {
    let id = e.entity_id;
    let n = |id: Option<i64>| id.map(|i| format!(" n° {i}")).unwrap_or_default();
    let application = || match (id, e.candidate_id) {
        (Some(a), Some(c)) => link(
            format!("la candidature n° {a}"),
            format!("/recrutement/candidats/{c}#candidature-{a}"),
        ),
        _ => t(format!("la candidature{}", n(id))),
    };
    let offer = || match id {
        Some(o) => link(
            format!("la proposition n° {o}"),
            format!("/recrutement/propositions/{o}"),
        ),
        None => t("une proposition"),
    };
    let candidate = |what: &str| match id {
        Some(c) => link(
            format!("{what} n° {c}"),
            format!("/recrutement/candidats/{c}"),
        ),
        None => t(what.to_owned()),
    };
    let named = |what: &str, href: Option<String>| {
        let text = match (&e.target, id) {
            (Some(name), _) => format!("{what} « {name} »"),
            (None, Some(i)) => format!("{what} n° {i}"),
            (None, None) => what.to_owned(),
        };
        match href {
            Some(h) if e.target.is_some() => link(text, h),
            _ => t(text),
        }
    };
    let campaign = || named("la campagne", id.map(|i| format!("/campagnes/{i}")));
    let account = || match &e.target {
        Some(name) => link(format!("de {name}"), "/admin/utilisateurs"),
        None => t(format!("n°{}", n(id))),
    };
    let detail = (!e.detail.trim().is_empty()).then(|| e.detail.clone());

    // Who: the member, or the candidate on their own page, or the service itself.
    let by_candidate = matches!(
        e.action.as_str(),
        "desistement_candidat"
            | "consentement_vivier_renouvele"
            | "consentement_vivier_retire"
            | "effacement_demande"
    );
    let subject = match (&e.actor, e.actor_id) {
        (Some(name), Some(actor)) => link(name.clone(), format!("/admin/journal?par={actor}")),
        _ if by_candidate => t("Le candidat"),
        _ => t("Le service"),
    };

    // (the parts after the subject, whether the detail is said by the sentence already)
    let (rest, detail_said): (Vec<Part>, bool) = match e.action.as_str() {
        "changement_etape" => match e.detail.split_once(" -> ") {
            Some((from, to)) => (
                vec![
                    t(" a fait passer "),
                    application(),
                    t(format!(" de {} à {}", stage_label(from), stage_label(to))),
                ],
                true,
            ),
            None => (vec![t(" a changé l'étape de "), application()], false),
        },
        "desistement_candidat" => (
            vec![
                t(" s'est désisté de "),
                application(),
                t(" depuis sa page « Mes données »"),
            ],
            true,
        ),
        "consentement_vivier_renouvele" => (
            vec![
                t(" a renouvelé son accord pour rester dans le vivier ("),
                candidate("fiche"),
                t(")"),
            ],
            true,
        ),
        "consentement_vivier_retire" => (
            vec![
                t(" a retiré son accord pour rester dans le vivier ("),
                candidate("fiche"),
                t(")"),
            ],
            true,
        ),
        "effacement_demande" => (
            vec![
                t(" a fait effacer ses données ("),
                candidate("fiche"),
                t(")"),
            ],
            false,
        ),
        "conservation_donnees" => (
            vec![t(
                " a anonymisé les candidatures arrivées au terme de leur durée de conservation",
            )],
            false,
        ),
        "rendez_vous" => {
            let what = match e.detail.as_str() {
                "visite" => "une visite du territoire",
                _ => "un entretien",
            };
            (
                vec![t(format!(" a programmé {what} pour ")), application()],
                true,
            )
        }
        "note" => (
            vec![t(" a ajouté une note sur "), candidate("la fiche")],
            false,
        ),
        "reponse_candidat" => (
            vec![t(" a écrit au candidat depuis "), candidate("sa fiche")],
            false,
        ),
        "courriel_rattache" => (
            vec![
                t(format!(
                    " a rattaché un courriel non reconnu ({}) à ",
                    e.detail
                )),
                candidate("la fiche"),
            ],
            false,
        ),
        "courriel_ecarte" => (
            vec![
                t(format!(" a écarté le courriel non reconnu{} de ", n(id))),
                link(
                    "la page des courriels non reconnus",
                    "/recrutement/courriels-non-reconnus",
                ),
            ],
            false,
        ),
        "modification" => (vec![t(" a modifié "), candidate("la fiche")], false),
        "fusion" => (
            vec![t(" a fusionné deux fiches en "), candidate("la fiche")],
            false,
        ),
        "telechargement" => (
            vec![t(format!(" a téléchargé le document{}", n(id)))],
            false,
        ),
        "export_csv" => {
            let rows = numbers(&e.detail).first().copied().unwrap_or(0);
            (
                vec![t(format!(
                    " a exporté {} en CSV",
                    crate::domain::french::count_label(rows, "candidature", "candidatures")
                ))],
                true,
            )
        }
        "proposition_creee" => (vec![t(" a préparé "), offer()], true),
        "proposition_modifiee" => (vec![t(" a modifié "), offer()], false),
        "proposition_remplacee" => {
            let by = numbers(&e.detail).first().copied();
            let mut parts = vec![t(" a remplacé "), offer()];
            if let Some(b) = by {
                parts.push(t(" par "));
                parts.push(link(
                    format!("la proposition n° {b}"),
                    format!("/recrutement/propositions/{b}"),
                ));
            }
            (parts, by.is_some())
        }
        // The request for approval (issue 18, written by the offers module).
        "validation_demandee" => (vec![t(" a demandé la validation de "), offer()], false),
        "grille_entretien" => (
            vec![t(" a rempli la grille d'entretien de "), application()],
            false,
        ),
        "critere_ajoute" => (
            vec![t(" a ajouté un critère à la grille d'entretien")],
            false,
        ),
        "critere_modifie" => (
            vec![t(" a modifié un critère de la grille d'entretien")],
            false,
        ),
        "proposition_approuvee" => (vec![t(" a approuvé "), offer()], false),
        "proposition_envoyee" => (vec![t(" a envoyé "), offer()], false),
        "proposition_retiree" => (vec![t(" a retiré "), offer()], false),
        "proposition_acceptee" => (vec![t(" a enregistré l'acceptation de "), offer()], false),
        "proposition_declinee" => (vec![t(" a enregistré le refus de "), offer()], false),
        "proposition_expiree" => (
            vec![t(" a noté que "), offer(), t(" a expiré sans réponse")],
            false,
        ),
        "prise_de_poste" => (
            vec![
                t(" a enregistré la prise de poste "),
                match id {
                    Some(p) => link(format!("n° {p}"), format!("/recrutement/affectations/{p}")),
                    None => t(""),
                },
            ],
            false,
        ),
        "redeploiement" => (
            vec![
                t(" a redéployé "),
                match id {
                    Some(p) => link(
                        format!("l'affectation n° {p}"),
                        format!("/recrutement/affectations/{p}"),
                    ),
                    None => t("une affectation"),
                },
            ],
            false,
        ),
        "campaign.create" => (vec![t(" a créé "), campaign()], true),
        "campaign.update" => (vec![t(" a modifié "), campaign()], true),
        "campaign.schedule" => (vec![t(" a programmé "), campaign()], true),
        "campaign.unschedule" => (vec![t(" a remis en brouillon "), campaign()], true),
        "campaign.pause" => (vec![t(" a mis en pause "), campaign()], true),
        "campaign.resume" => (vec![t(" a repris l'envoi de "), campaign()], true),
        "campaign.cancel" => (vec![t(" a annulé "), campaign()], false),
        "campaign.retry_failed" => (
            vec![t(" a relancé les envois en échec de "), campaign()],
            false,
        ),
        "campaign.run_confirm" => (vec![t(" a confirmé un envoi de "), campaign()], true),
        "campaign.run_skip" => (vec![t(" a sauté un envoi de "), campaign()], true),
        "mail_template.create"
        | "mail_template.update"
        | "mail_template.delete"
        | "mail_template.test_send" => {
            let verb = match e.action.as_str() {
                "mail_template.create" => " a créé ",
                "mail_template.update" => " a modifié ",
                "mail_template.delete" => " a supprimé ",
                _ => " a envoyé un essai du ",
            };
            let name = e.target.clone().unwrap_or_else(|| e.detail.clone());
            let text = format!("modèle de campagne « {name} »");
            let text = if verb == " a envoyé un essai du " {
                text
            } else {
                format!("le {text}")
            };
            let part = match (id, e.target.is_some()) {
                (Some(i), true) => link(text, format!("/campagnes/modeles/{i}")),
                _ => t(text),
            };
            (vec![t(verb), part], true)
        }
        "import_contacts" => {
            // « liste « X », import n° 7 : 120 lignes, 100 ajoutés, 20 déjà connus ajoutés à
            // la liste, 0 déjà dans la liste, 3 refusés »
            let counts = e
                .detail
                .split_once(" : ")
                .map(|(_, c)| numbers(c))
                .unwrap_or_default();
            let import = e
                .detail
                .split_once("import n° ")
                .and_then(|(_, rest)| numbers(rest).first().copied());
            let list = named("la liste", id.map(|i| format!("/listes/{i}")));
            let mut parts = match counts.as_slice() {
                [_, added, to_list, ..] => vec![
                    t(format!(
                        " a importé {} dans ",
                        crate::domain::french::count_label(added + to_list, "contact", "contacts")
                    )),
                    list,
                ],
                _ => vec![t(" a importé des contacts dans "), list],
            };
            if let Some(i) = import {
                parts.push(t(" ("));
                parts.push(link(
                    format!("import n° {i}"),
                    format!("/contacts/import/{i}"),
                ));
                parts.push(t(")"));
            }
            (parts, false)
        }
        "export_contacts" => (vec![t(" a exporté des contacts")], false),
        "creation_contact" => (
            vec![
                t(" a ajouté "),
                match id {
                    Some(c) => link(format!("le contact n° {c}"), format!("/contacts/{c}")),
                    None => t("un contact"),
                },
            ],
            true,
        ),
        "modification_contact" => (
            vec![
                t(" a modifié "),
                match id {
                    Some(c) => link(format!("le contact n° {c}"), format!("/contacts/{c}")),
                    None => t("un contact"),
                },
            ],
            true,
        ),
        "suppression_contact" => (vec![t(format!(" a supprimé le contact{}", n(id)))], true),
        "creation_liste" => (
            vec![
                t(" a créé "),
                named("la liste", id.map(|i| format!("/listes/{i}"))),
            ],
            true,
        ),
        "desinscription_manuelle" => (
            vec![
                t(" a ajouté une adresse à "),
                link("la liste des désinscriptions", "/contacts/desinscriptions"),
            ],
            true,
        ),
        "desinscription_courriel" => (
            vec![
                t(" a désinscrit un destinataire qui l'a demandé par courriel ("),
                t(e.detail.clone()),
                t(") : son adresse est dans "),
                link("la liste des désinscriptions", "/contacts/desinscriptions"),
            ],
            true,
        ),
        "creation_lien_suivi"
        | "modification_lien_suivi"
        | "archivage_lien_suivi"
        | "reactivation_lien_suivi" => {
            let verb = match e.action.as_str() {
                "creation_lien_suivi" => "créé",
                "modification_lien_suivi" => "modifié",
                "archivage_lien_suivi" => "archivé",
                _ => "réactivé",
            };
            let what = match &detail {
                Some(address) => format!("le lien suivi {address}"),
                None => format!("le lien suivi{}", n(id)),
            };
            let target = match id {
                Some(i) => link(what, format!("/campagnes/liens/{i}")),
                None => t(what),
            };
            (vec![t(format!(" a {verb} ")), target], true)
        }
        "rendez_vous_modifie" | "rendez_vous_annule" => {
            let what = match e.detail.as_str() {
                "visite" => "une visite du territoire",
                _ => "un entretien",
            };
            let verb = if e.action == "rendez_vous_annule" {
                "annulé"
            } else {
                "déplacé"
            };
            (
                vec![t(format!(" a {verb} {what} pour ")), application()],
                true,
            )
        }
        "creation_organisation" => (
            vec![
                t(" a créé "),
                link(
                    format!(
                        "l'organisation « {} »",
                        e.target.as_deref().unwrap_or(&e.detail)
                    ),
                    "/contacts/organisations",
                ),
            ],
            true,
        ),
        "chargement_facultes" => (
            vec![
                t(" a chargé "),
                link("les facultés de médecine", "/contacts/organisations"),
            ],
            false,
        ),
        "creation_centre" => (
            vec![
                t(" a créé "),
                named("le centre", id.map(|i| format!("/admin/centres/{i}"))),
            ],
            true,
        ),
        "modification_centre" => (
            vec![
                t(" a modifié "),
                named("le centre", id.map(|i| format!("/admin/centres/{i}"))),
            ],
            true,
        ),
        "creation_poste" => (
            vec![
                t(" a créé "),
                named("le poste", id.map(|i| format!("/admin/postes/{i}"))),
            ],
            false,
        ),
        "modification_poste" => (
            vec![
                t(" a modifié "),
                named("le poste", id.map(|i| format!("/admin/postes/{i}"))),
            ],
            false,
        ),
        "modele_courriel" => (
            vec![
                t(" a modifié "),
                link(
                    format!(
                        "le courriel de l'étape « {} »",
                        stage_label(e.detail.trim())
                    ),
                    format!("/admin/modeles#modele-{}", e.detail.trim()),
                ),
            ],
            true,
        ),
        "creation_compte" => (
            vec![
                t(" a créé le compte "),
                account(),
                t(format!(" ({})", role_label(e.detail.trim()))),
            ],
            true,
        ),
        "activation" => (vec![t(" a réactivé le compte "), account()], true),
        "desactivation" => (vec![t(" a désactivé le compte "), account()], true),
        "changement_role" => match e.detail.split_once(" -> ") {
            Some((from, to)) => (
                vec![
                    t(" a changé le rôle "),
                    account(),
                    t(format!(" de {} à {}", role_label(from), role_label(to))),
                ],
                true,
            ),
            None => (vec![t(" a changé le rôle "), account()], false),
        },
        "politique_securite" => (vec![t(" a changé la règle de connexion")], false),
        "activation_2fa" => (vec![t(" a activé sa double authentification")], true),
        "desactivation_2fa" => (vec![t(" a désactivé sa double authentification")], true),
        "creation_jeton_api" => (vec![t(" a créé un jeton d'API")], true),
        "revocation_jeton_api" => (vec![t(" a révoqué un jeton d'API")], true),
        "connexion" => (vec![t(" a ouvert une session")], true),
        "deconnexion" => (vec![t(" a fermé sa session")], true),
        other => (
            vec![t(format!(
                " a fait l'action « {other} » sur l'objet « {} »{}",
                e.entity,
                n(id)
            ))],
            false,
        ),
    };
    let mut sentence = Vec::with_capacity(rest.len() + 2);
    sentence.push(subject);
    sentence.extend(rest.into_iter().filter(|p| !p.text.is_empty()));
    sentence.push(t("."));
    Line {
        at: e.created_at,
        sentence,
        detail: if detail_said { None } else { detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, entity: &str, id: Option<i64>, detail: &str) -> Entry {
        Entry {
            created_at: Utc::now(),
            actor_id: Some(4),
            actor: Some("Claire Martin".into()),
            action: action.into(),
            entity: entity.into(),
            entity_id: id,
            detail: detail.into(),
            target: None,
            candidate_id: Some(9),
        }
    }

    fn text(line: &Line) -> String {
        line.sentence.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn a_stage_change_reads_as_a_sentence_with_links() {
        let line = tell(&entry(
            "changement_etape",
            "application",
            Some(12),
            "nouvelle -> premier_contact",
        ));
        assert_eq!(
            text(&line),
            "Claire Martin a fait passer la candidature n° 12 de Nouvelle à Premier contact."
        );
        assert_eq!(
            line.sentence[2].href.as_deref(),
            Some("/recrutement/candidats/9#candidature-12")
        );
        assert_eq!(
            line.sentence[0].href.as_deref(),
            Some("/admin/journal?par=4")
        );
        assert_eq!(line.detail, None);
    }

    #[test]
    fn an_import_says_how_many_contacts() {
        let mut e = entry(
            "import_contacts",
            "contact_list",
            Some(3),
            "liste « Internes », import n° 7 : 123 lignes, 100 ajoutés, 20 déjà connus \
             ajoutés à la liste, 0 déjà dans la liste, 3 refusés",
        );
        e.target = Some("Internes".into());
        let line = tell(&e);
        assert_eq!(
            text(&line),
            "Claire Martin a importé 120 contacts dans la liste « Internes » (import n° 7)."
        );
    }

    /// Every action code the code writes with `audit(conn, actor, "code", …)` is in the
    /// journal's list (its filter and its sentence): a new code without a sentence fails here.
    #[test]
    fn every_action_written_by_the_code_is_listed() {
        fn sources(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    // Comments aside (this test's own doc names a call).
                    let code: Vec<String> = std::fs::read_to_string(&path)
                        .unwrap()
                        .lines()
                        .filter(|l| !l.trim_start().starts_with("//"))
                        .map(str::to_owned)
                        .collect();
                    out.push(code.join("\n"));
                }
            }
        }
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut missing = Vec::new();
        for file in &files {
            for call in file.split("audit(").skip(1) {
                // audit(conn, actor, "code", ...): the first string literal of the call.
                let head: String = call.chars().take(400).collect();
                let Some(code) = head.split('"').nth(1) else {
                    continue;
                };
                let is_code =
                    !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                if is_code
                    && head
                        .split('"')
                        .next()
                        .is_some_and(|before| before.matches(',').count() == 2)
                    && !ACTIONS.iter().any(|(c, _)| *c == code)
                {
                    missing.push(code.to_owned());
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(
            missing.is_empty(),
            "audit codes without a journal sentence: {missing:?}"
        );
    }

    #[test]
    fn every_listed_action_has_its_own_sentence_and_unknown_ones_a_neutral_one() {
        for (code, _) in ACTIONS {
            let line = tell(&entry(code, "x", Some(1), ""));
            assert!(
                !text(&line).contains("a fait l'action"),
                "{code}: {}",
                text(&line)
            );
        }
        let line = tell(&entry("nouvelle_chose", "offer", Some(5), ""));
        assert_eq!(
            text(&line),
            "Claire Martin a fait l'action « nouvelle_chose » sur l'objet « offer » n° 5."
        );
        let mut expired = entry("proposition_expiree", "offer", Some(5), "");
        expired.actor = None;
        expired.actor_id = None;
        assert_eq!(
            text(&tell(&expired)),
            "Le service a noté que la proposition n° 5 a expiré sans réponse."
        );
    }

    #[test]
    fn filters_are_checked_with_a_message_at_the_field() {
        let people = vec![Person {
            id: 4,
            name: "Claire Martin".into(),
        }];
        let raw = RawFilter {
            par: "4".into(),
            action: "note".into(),
            du: "01/12/2026".into(),
            au: "2026-12-07".into(),
            page: "2".into(),
        };
        let (filter, page) = check(&raw, &people);
        assert_eq!(page, 2);
        let filter = filter.unwrap();
        assert_eq!(filter.actor, Some(4));
        assert_eq!(filter.action, Some("note"));
        for (field, raw) in [
            (
                "par",
                RawFilter {
                    par: "5".into(),
                    ..Default::default()
                },
            ),
            (
                "par",
                RawFilter {
                    par: "-1 OR 1=1".into(),
                    ..Default::default()
                },
            ),
            (
                "action",
                RawFilter {
                    action: "<script>".into(),
                    ..Default::default()
                },
            ),
            (
                "du",
                RawFilter {
                    du: "31/02/2026".into(),
                    ..Default::default()
                },
            ),
            (
                "du",
                RawFilter {
                    du: "-0001-01-01".into(),
                    ..Default::default()
                },
            ),
            (
                "au",
                RawFilter {
                    du: "07/12/2026".into(),
                    au: "01/12/2026".into(),
                    ..Default::default()
                },
            ),
        ] {
            let (result, _) = check(&raw, &people);
            let errors = result.expect_err(field);
            assert!(errors.0.contains_key(field), "{field}: {:?}", errors.0);
        }
        let (_, page) = check(
            &RawFilter {
                page: "99999999999999999999".into(),
                ..Default::default()
            },
            &people,
        );
        assert_eq!(page, 1);
    }
}
