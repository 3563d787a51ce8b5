//! The reports (`/rapports`), for administrators and communications staff: each figure as an
//! SVG chart, the same figures as a table, and as CSV (`/rapports/{figure}.csv`).

use actix_web::{web, HttpResponse};
use chrono::{Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::enums::{HeardFrom, Situation, Stage};
use crate::domain::{paris_today, parse_date, FieldErrors};
use crate::error::AppError;
use crate::pipeline::{self, FORWARD};
use crate::reports::svg::{self, Bar, Caption};
use crate::reports::{self, Funnel, Period, Profiles, ReasonCount, Sources, Yield};
use crate::staff::COMMUNICATION;
use crate::web::pages::{error_summary, status_and_title};
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

const TITLE: &str = "Rapports";

#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    du: String,
    #[serde(default)]
    au: String,
}

const PERIOD_FIELDS: &[(&str, &str)] = &[("du", "Du"), ("au", "Au")];

fn parse_day(raw: &str, field: &'static str, errors: &mut FieldErrors) -> Option<NaiveDate> {
    if raw.trim().is_empty() {
        return None;
    }
    match parse_date(raw) {
        Some(day) if (2000..=2100).contains(&day.year()) => Some(day),
        Some(_) => {
            errors.add(field, "Choisissez une année entre 2000 et 2100.");
            None
        }
        None => {
            errors.add(
                field,
                "Cette date n'existe pas : saisissez-la au format JJ/MM/AAAA, par exemple 01/01/2026.",
            );
            None
        }
    }
}

/// The period asked for (the last twelve months when a date is left empty), or the errors
/// tied to their fields.
fn period_of(query: &PeriodQuery, today: NaiveDate) -> Result<Period, FieldErrors> {
    let mut errors = FieldErrors::default();
    let from = parse_day(&query.du, "du", &mut errors);
    let to = parse_day(&query.au, "au", &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let default = Period::last_year(today);
    let period = Period {
        from: from.unwrap_or(default.from),
        to: to.unwrap_or(default.to),
    };
    if period.from > period.to {
        errors.add(
            "au",
            "La fin de la période doit être le même jour que son début ou après.",
        );
        return Err(errors);
    }
    Ok(period)
}

// ---------------------------------------------------------------------------------------------
// Figures: each is one table (shown on the page and downloaded as CSV) and maybe a chart.

#[derive(Debug, Serialize)]
struct Figure {
    slug: &'static str,
    title: String,
    /// What the figure counts, shown under its heading.
    note: &'static str,
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    /// The SVG chart; none when there is nothing to draw.
    svg: Option<String>,
    #[serde(skip)]
    chart: Chart,
    /// A caveat shown under the note (e.g. moves not counted).
    warning: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chart {
    None,
    Bars,
    Funnel,
}

/// A number with a decimal comma.
fn decimal(value: f64) -> String {
    format!("{value:.1}").replace('.', ",")
}

fn optional_decimal(value: Option<f64>) -> String {
    value.map(decimal).unwrap_or_default()
}

fn yield_cells(y: &Yield) -> [String; 3] {
    [
        y.applications.to_string(),
        y.offers.to_string(),
        y.recruitments.to_string(),
    ]
}

fn yield_bar(label: String, y: &Yield) -> Bar {
    Bar {
        label,
        value: y.applications as f64,
        text: format!(
            "{} cand. · {} prop. · {} recr.",
            y.applications, y.offers, y.recruitments
        ),
    }
}

fn yield_words(label: &str, y: &Yield) -> String {
    format!(
        "{label} : {}, {}, {}",
        crate::domain::french::count_label(y.applications, "candidature", "candidatures"),
        crate::domain::french::count_label(y.offers, "proposition", "propositions"),
        crate::domain::french::count_label(y.recruitments, "recrutement", "recrutements")
    )
}

/// Draws the chart of `figure` from `bars`, its description listing every figure drawn.
fn draw(figure: &mut Figure, bars: &[Bar], words: &[String]) {
    if bars.is_empty() || figure.chart == Chart::None {
        return;
    }
    let id = format!("graphique-{}", figure.slug);
    let desc = format!("{}.", words.join(" ; "));
    let caption = Caption {
        id: &id,
        title: &figure.title,
        desc: &desc,
    };
    figure.svg = Some(match figure.chart {
        Chart::Funnel => svg::funnel(&caption, bars),
        _ => svg::bar_chart(&caption, bars),
    });
}

fn funnel_figures(funnel: &Funnel) -> Vec<Figure> {
    let mut main = Figure {
        slug: "entonnoir",
        title: "Entonnoir de recrutement".to_owned(),
        note: "Candidatures entrées dans chaque étape pendant la période ; « Recrutée » compte \
               les prises de poste (une prise de poste à venir compte le jour où elle a lieu). \
               Pour l'entonnoir, une \
               candidature qui a atteint une étape plus avancée compte comme ayant franchi celles \
               qu'elle a sautées ; la conversion rapporte chaque étape à la précédente. La durée \
               médiane porte sur les passages dans l'étape commencés pendant la période et déjà \
               terminés.",
        headers: vec![
            "Étape",
            "Candidatures entrées dans l'étape",
            "Candidatures ayant atteint l'étape ou une suivante",
            "Conversion depuis l'étape précédente (%)",
            "Passages terminés",
            "Durée médiane dans l'étape (jours)",
        ],
        rows: funnel
            .stages
            .iter()
            .map(|s| {
                vec![
                    s.stage.label().to_owned(),
                    s.entered.to_string(),
                    s.reached.map(|n| n.to_string()).unwrap_or_default(),
                    optional_decimal(s.conversion),
                    s.stays.to_string(),
                    optional_decimal(s.median_days),
                ]
            })
            .collect(),
        svg: None,
        chart: Chart::Funnel,
        warning: None,
    };
    let forward: Vec<&reports::StageFigures> = funnel
        .stages
        .iter()
        .filter(|s| FORWARD.contains(&s.stage))
        .collect();
    let bars: Vec<Bar> = forward
        .iter()
        .map(|s| {
            let reached = s.reached.unwrap_or_default();
            Bar {
                label: s.stage.label().to_owned(),
                value: reached as f64,
                text: match s.conversion {
                    Some(c) => format!("{reached} ({} %)", decimal(c)),
                    None => reached.to_string(),
                },
            }
        })
        .collect();
    let words: Vec<String> = forward
        .iter()
        .map(|s| {
            let reached = s.reached.unwrap_or_default();
            match s.conversion {
                Some(c) => format!(
                    "{} : {reached}, soit {} % de l'étape précédente",
                    s.stage.label(),
                    decimal(c)
                ),
                None => format!("{} : {reached}", s.stage.label()),
            }
        })
        .collect();
    if forward.iter().any(|s| s.reached.unwrap_or_default() > 0) {
        draw(&mut main, &bars, &words);
    }
    let warning = (funnel.recruited_without_placement > 0).then(|| {
        let n = funnel.recruited_without_placement;
        let (passed, counted) = if n > 1 {
            ("passées", "ne sont pas comptées")
        } else {
            ("passée", "n'est pas comptée")
        };
        format!(
            "{} {passed} à « Recrutée » pendant la période sans proposition acceptée ni prise de \
             poste (choix manuel d'avant décembre 2026) {counted} : un recrutement compte à la \
             prise de poste enregistrée par une proposition.",
            crate::domain::french::count_label(n, "candidature", "candidatures"),
        )
    });
    main.warning.clone_from(&warning);
    let delay = Figure {
        slug: "delai-recrutement",
        title: "Délai entre candidature et prise de poste".to_owned(),
        note: "Médecins qui ont pris leur poste pendant la période (jusqu'à aujourd'hui ; une \
               prise de poste à venir compte le jour où elle a lieu), et le temps médian écoulé \
               depuis le dépôt de leur candidature.",
        headers: vec![
            "Médecins recrutés (prise de poste)",
            "Délai médian entre candidature et prise de poste (jours)",
        ],
        rows: vec![vec![
            funnel.recruited.to_string(),
            optional_decimal(funnel.median_days_to_recruitment),
        ]],
        svg: None,
        chart: Chart::None,
        warning,
    };
    vec![main, delay]
}

fn heard_from_label(code: Option<&str>) -> String {
    match code {
        None => "Non renseigné".to_owned(),
        Some(c) => HeardFrom::from_code(c)
            .map(|h| h.label().to_owned())
            .unwrap_or_else(|| c.to_owned()),
    }
}

fn sources_figures(sources: &Sources) -> Vec<Figure> {
    let cohort_note =
        "Candidatures déposées pendant la période ; parmi elles, celles qui ont reçu \
                       une proposition et celles qui ont abouti à un recrutement.";
    let mut heard = Figure {
        slug: "connaissance",
        title: "Candidatures par canal déclaré (« comment nous avez-vous connus »)".to_owned(),
        note: cohort_note,
        headers: vec!["Canal", "Candidatures", "Propositions", "Recrutements"],
        rows: sources
            .heard_from
            .iter()
            .map(|r| {
                let mut row = vec![heard_from_label(r.heard_from.as_deref())];
                row.extend(yield_cells(&r.figures));
                row
            })
            .collect(),
        svg: None,
        chart: Chart::Bars,
        warning: None,
    };
    let (bars, words): (Vec<Bar>, Vec<String>) = sources
        .heard_from
        .iter()
        .map(|r| {
            let label = heard_from_label(r.heard_from.as_deref());
            (
                yield_bar(label.clone(), &r.figures),
                yield_words(&label, &r.figures),
            )
        })
        .unzip();
    draw(&mut heard, &bars, &words);

    let utm_label = |r: &reports::UtmRow| {
        [&r.source, &r.medium, &r.campaign]
            .iter()
            .map(|v| v.as_deref().unwrap_or("–"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let mut utm = Figure {
        slug: "utm",
        title: "Candidatures par lien marqué (paramètres UTM)".to_owned(),
        note: "Candidatures déposées pendant la période depuis une adresse portant des \
               paramètres utm_source, utm_medium ou utm_campaign (source / support / campagne).",
        headers: vec![
            "Source (utm_source)",
            "Support (utm_medium)",
            "Campagne (utm_campaign)",
            "Candidatures",
            "Propositions",
            "Recrutements",
        ],
        rows: sources
            .utm
            .iter()
            .map(|r| {
                let mut row = vec![
                    r.source.clone().unwrap_or_default(),
                    r.medium.clone().unwrap_or_default(),
                    r.campaign.clone().unwrap_or_default(),
                ];
                row.extend(yield_cells(&r.figures));
                row
            })
            .collect(),
        svg: None,
        chart: Chart::Bars,
        warning: None,
    };
    let (bars, words): (Vec<Bar>, Vec<String>) = sources
        .utm
        .iter()
        .map(|r| {
            let label = utm_label(r);
            (
                yield_bar(label.clone(), &r.figures),
                yield_words(&label, &r.figures),
            )
        })
        .unzip();
    draw(&mut utm, &bars, &words);

    let mut campaigns = Figure {
        slug: "campagnes",
        title: "Campagnes de courriels et de courriers : envois, clics et candidatures".to_owned(),
        note: "Courriels envoyés ou courriers produits, rebonds (courriels revenus en échec \
               définitif, lus dans la boîte aux lettres) et clics sur les liens suivis (ou visites \
               du lien personnel d'un courrier) pendant la période (un clic par \
               message : le premier ; un destinataire qui revient n'est pas recompté) ; candidatures \
               déposées pendant la période en suivant un lien de la campagne, et ce qu'elles sont \
               devenues.",
        headers: vec![
            "Campagne",
            "Type",
            "Envois",
            "Rebonds",
            "Clics",
            "Candidatures",
            "Propositions",
            "Recrutements",
        ],
        rows: sources
            .campaigns
            .iter()
            .map(|c| {
                let mut row = vec![
                    c.name.clone(),
                    c.kind.label().to_owned(),
                    c.sent.to_string(),
                    c.bounced.to_string(),
                    c.clicks.to_string(),
                ];
                row.extend(yield_cells(&c.figures));
                row
            })
            .collect(),
        svg: None,
        chart: Chart::Bars,
        warning: None,
    };
    let (bars, words): (Vec<Bar>, Vec<String>) = sources
        .campaigns
        .iter()
        .map(|c| {
            (
                Bar {
                    label: c.name.clone(),
                    value: c.figures.applications as f64,
                    text: format!(
                        "{} cand. · {} envois · {} clics",
                        c.figures.applications, c.sent, c.clicks
                    ),
                },
                format!(
                    "{} : {}, {}, {} ({}, {})",
                    c.name,
                    crate::domain::french::count_label(
                        c.sent,
                        "courriel envoyé",
                        "courriels envoyés"
                    ),
                    crate::domain::french::count_label(c.clicks, "clic", "clics"),
                    crate::domain::french::count_label(
                        c.figures.applications,
                        "candidature",
                        "candidatures"
                    ),
                    crate::domain::french::count_label(
                        c.figures.offers,
                        "proposition",
                        "propositions"
                    ),
                    crate::domain::french::count_label(
                        c.figures.recruitments,
                        "recrutement",
                        "recrutements"
                    ),
                ),
            )
        })
        .unzip();
    draw(&mut campaigns, &bars, &words);
    vec![heard, utm, campaigns, channels_figure(sources)]
}

/// Channel links and campaigns side by side (issue 19): visits of a link's short URL or clicks
/// on a campaign's tracked links, then the same cohort figures for both.
fn channels_figure(sources: &Sources) -> Figure {
    let mut rows: Vec<(String, &'static str, i64, &Yield)> = sources
        .channel_links
        .iter()
        .map(|l| {
            let name = if l.archived {
                format!("{} (archivé)", l.label)
            } else {
                l.label.clone()
            };
            (name, "Lien suivi", l.visits, &l.figures)
        })
        .collect();
    rows.extend(
        sources
            .campaigns
            .iter()
            .map(|c| (c.name.clone(), "Campagne", c.clicks, &c.figures)),
    );
    rows.sort_by(|a, b| {
        b.3.applications
            .cmp(&a.3.applications)
            .then(b.2.cmp(&a.2))
            .then(a.0.cmp(&b.0))
    });
    let mut figure = Figure {
        slug: "canaux",
        title: "Liens suivis et campagnes, côte à côte".to_owned(),
        note: "Pour chaque lien suivi (annonce, affiche, publication, site partenaire) et chaque \
               campagne : les visites de l'adresse courte ou les clics sur les liens de la \
               campagne pendant la période, puis les candidatures déposées pendant la période \
               par ce canal, celles qui ont reçu une proposition et celles qui ont abouti à un \
               recrutement (prise de poste commencée).",
        headers: vec![
            "Canal",
            "Type",
            "Visites ou clics",
            "Candidatures",
            "Propositions",
            "Recrutements",
        ],
        rows: rows
            .iter()
            .map(|(name, kind, visits, y)| {
                let mut row = vec![name.clone(), (*kind).to_owned(), visits.to_string()];
                row.extend(yield_cells(y));
                row
            })
            .collect(),
        svg: None,
        chart: Chart::Bars,
        warning: None,
    };
    let (bars, words): (Vec<Bar>, Vec<String>) = rows
        .iter()
        .map(|(name, kind, visits, y)| {
            let label = format!("{name} ({})", kind.to_lowercase());
            (
                Bar {
                    label: label.clone(),
                    value: y.applications as f64,
                    text: format!(
                        "{} cand. · {} visites · {} recr.",
                        y.applications, visits, y.recruitments
                    ),
                },
                format!(
                    "{}, {}",
                    crate::domain::french::count_label(*visits, "visite", "visites"),
                    yield_words(&label, y)
                ),
            )
        })
        .unzip();
    draw(&mut figure, &bars, &words);
    figure
}

fn reason_figure(
    slug: &'static str,
    title: &str,
    note: &'static str,
    counts: &[ReasonCount],
    label: impl Fn(&str) -> Option<&'static str>,
) -> Figure {
    let labelled: Vec<(String, i64)> = counts
        .iter()
        .map(|c| {
            let text = match c.reason.as_deref() {
                None => "Motif non précisé".to_owned(),
                Some(code) => label(code).map_or_else(|| code.to_owned(), str::to_owned),
            };
            (text, c.n)
        })
        .collect();
    counted_figure(slug, title.to_owned(), note, "Motif", "Nombre", labelled)
}

fn counted_figure(
    slug: &'static str,
    title: String,
    note: &'static str,
    what: &'static str,
    how_many: &'static str,
    labelled: Vec<(String, i64)>,
) -> Figure {
    let mut figure = Figure {
        slug,
        title,
        note,
        headers: vec![what, how_many],
        rows: labelled
            .iter()
            .map(|(l, n)| vec![l.clone(), n.to_string()])
            .collect(),
        svg: None,
        chart: Chart::Bars,
        warning: None,
    };
    let bars: Vec<Bar> = labelled
        .iter()
        .map(|(l, n)| Bar::count(l.clone(), *n))
        .collect();
    let words: Vec<String> = labelled.iter().map(|(l, n)| format!("{l} : {n}")).collect();
    draw(&mut figure, &bars, &words);
    figure
}

fn profile_figures(profiles: &Profiles) -> Vec<Figure> {
    vec![
        reason_figure(
            "motifs-refus",
            "Motifs de refus par le département",
            "Candidatures passées à l'étape « Refusée » pendant la période.",
            &profiles.refusals,
            |c| pipeline::reason_label(Stage::Refused, c),
        ),
        reason_figure(
            "motifs-desistement",
            "Motifs de désistement des candidats",
            "Candidatures passées à l'étape « Désistement » pendant la période.",
            &profiles.withdrawals,
            |c| pipeline::reason_label(Stage::Withdrawn, c),
        ),
        reason_figure(
            "motifs-declin",
            "Motifs des propositions déclinées",
            "Propositions déclinées par le médecin pendant la période.",
            &profiles.declines,
            |c| {
                crate::offers::decline_reasons()
                    .iter()
                    .find(|(code, _)| *code == c)
                    .map(|(_, l)| *l)
            },
        ),
        counted_figure(
            "specialites",
            "Spécialités des candidats".to_owned(),
            "Candidats ayant déposé au moins une candidature pendant la période, par spécialité.",
            "Spécialité",
            "Candidats",
            profiles
                .specialties
                .iter()
                .map(|s| (s.label.clone(), s.n))
                .collect(),
        ),
        counted_figure(
            "situations",
            "Situations professionnelles des candidats".to_owned(),
            "Candidats ayant déposé au moins une candidature pendant la période, par situation \
             au moment de leur candidature.",
            "Situation",
            "Candidats",
            profiles
                .situations
                .iter()
                .map(|s| {
                    let label = Situation::from_code(&s.label)
                        .map_or_else(|| s.label.clone(), |x| x.label().to_owned());
                    (label, s.n)
                })
                .collect(),
        ),
        spouse_figure(&profiles.spouse),
    ]
}

/// The spouse's job (#Dites32 à 2): the applications of the period by their answer, and what
/// became of them.
fn spouse_figure(rows: &[reports::SpouseRow]) -> Figure {
    let label = |support: Option<bool>| match support {
        Some(true) => "Accompagnement souhaité",
        Some(false) => "Accompagnement non souhaité",
        None => "Sans réponse",
    };
    let mut figure = Figure {
        slug: "emploi-conjoint",
        title: "Emploi du conjoint".to_owned(),
        note: "Candidatures reçues pendant la période, selon la réponse à la question sur \
               l'accompagnement de la recherche d'emploi du conjoint, et ce qu'elles sont \
               devenues : propositions envoyées, recrutements, désistements (tous motifs, puis \
               motif « Emploi du conjoint »).",
        headers: vec![
            "Réponse",
            "Candidatures",
            "Propositions",
            "Recrutements",
            "Désistements",
            "Désistements « Emploi du conjoint »",
        ],
        rows: rows
            .iter()
            .map(|r| {
                let mut row = vec![label(r.support).to_owned()];
                row.extend(yield_cells(&r.figures));
                row.push(r.withdrawals.to_string());
                row.push(r.spouse_withdrawals.to_string());
                row
            })
            .collect(),
        svg: None,
        chart: Chart::Bars,
        warning: None,
    };
    let bars: Vec<Bar> = rows
        .iter()
        .map(|r| Bar::count(label(r.support).to_owned(), r.figures.applications))
        .collect();
    let words: Vec<String> = rows
        .iter()
        .map(|r| format!("{} : {}", label(r.support), r.figures.applications))
        .collect();
    draw(&mut figure, &bars, &words);
    figure
}

fn pool_figure(pool: i64, retention_years: u32) -> Figure {
    Figure {
        slug: "vivier",
        title: "Vivier".to_owned(),
        note: "Candidats qui ont accepté d'être gardés dans le vivier et dont la dernière action \
               date de moins que la durée de conservation, à ce jour (quelle que soit la période).",
        headers: vec![
            "Candidats au vivier avec un consentement valable",
            "Durée de conservation (années)",
        ],
        rows: vec![vec![pool.to_string(), retention_years.to_string()]],
        svg: None,
        chart: Chart::None,
        warning: None,
    }
}

/// The parts of the page, each computed by its own queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Funnel,
    Sources,
    Profiles,
    Pool,
}

fn part_of(slug: &str) -> Option<Part> {
    Some(match slug {
        "entonnoir" | "delai-recrutement" => Part::Funnel,
        "connaissance" | "utm" | "campagnes" | "canaux" => Part::Sources,
        "motifs-refus" | "motifs-desistement" | "motifs-declin" | "specialites" | "situations"
        | "emploi-conjoint" => Part::Profiles,
        "vivier" => Part::Pool,
        _ => return None,
    })
}

async fn figures(state: &AppState, part: Part, period: Period) -> Result<Vec<Figure>, AppError> {
    let retention = state.settings.privacy.retention_years;
    let today = paris_today();
    Ok(match part {
        Part::Funnel => {
            funnel_figures(&db(state, move |c| Ok(reports::funnel(c, period, today)?)).await?)
        }
        Part::Sources => {
            sources_figures(&db(state, move |c| Ok(reports::sources(c, period, today)?)).await?)
        }
        Part::Profiles => {
            profile_figures(&db(state, move |c| Ok(reports::profiles(c, period, today)?)).await?)
        }
        Part::Pool => {
            let pool = db(state, move |c| {
                Ok(reports::pool_size(c, retention, Utc::now())?)
            })
            .await?;
            vec![pool_figure(pool, retention)]
        }
    })
}

fn query_string(period: Period) -> String {
    format!("du={}&au={}", period.from, period.to)
}

fn figure_view(figure: &Figure, period: Period) -> serde_json::Value {
    json!({
        "slug": figure.slug,
        "title": figure.title,
        "note": figure.note,
        "warning": figure.warning,
        "headers": figure.headers,
        "rows": figure.rows.iter().map(|r| json!({"head": r[0], "cells": &r[1..]})).collect::<Vec<_>>(),
        "svg": figure.svg,
        "csv": format!("/rapports/{}.csv?{}", figure.slug, query_string(period)),
    })
}

pub async fn index(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let query = query.into_inner();
    let values = json!({ "du": query.du, "au": query.au });
    let period = match period_of(&query, paris_today()) {
        Ok(p) => p,
        Err(errors) => {
            let (status, title) = status_and_title(&errors, TITLE);
            return staff_page(
                &state,
                &staff,
                "reports/index",
                &title,
                status,
                json!({
                    "values": values,
                    "errors": errors,
                    "summary": error_summary(PERIOD_FIELDS, &errors),
                    "report": null,
                }),
            );
        }
    };
    // The four parts query the database side by side (each on its own connection).
    let (funnel, sources, profiles, pool) = futures_util::future::try_join4(
        figures(&state, Part::Funnel, period),
        figures(&state, Part::Sources, period),
        figures(&state, Part::Profiles, period),
        figures(&state, Part::Pool, period),
    )
    .await?;
    let views = |list: Vec<Figure>| -> Vec<serde_json::Value> {
        list.iter().map(|f| figure_view(f, period)).collect()
    };
    let (funnel, sources, profiles, pool) =
        (views(funnel), views(sources), views(profiles), views(pool));
    staff_page(
        &state,
        &staff,
        "reports/index",
        TITLE,
        actix_web::http::StatusCode::OK,
        json!({
            "values": { "du": period.from.to_string(), "au": period.to.to_string() },
            "errors": {},
            "summary": [],
            "report": {
                "from": period.from.format("%d/%m/%Y").to_string(),
                "to": period.to.format("%d/%m/%Y").to_string(),
                "funnel": funnel,
                "sources": sources,
                "profiles": profiles,
                "pool": pool,
            },
        }),
    )
}

/// One figure as CSV: UTF-8 with a byte-order mark, `;` separated, formula-looking cells
/// neutralised (as the applications export).
pub async fn csv(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let slug = path.into_inner();
    let part = part_of(&slug).ok_or(AppError::NotFound)?;
    let period = period_of(&query, paris_today()).map_err(|errors| {
        let messages: Vec<String> = error_summary(PERIOD_FIELDS, &errors)
            .iter()
            .map(|e| format!("{} : {}", e.label, e.message))
            .collect();
        AppError::BadRequest(format!("Période invalide. {}", messages.join(" ")))
    })?;
    let list = figures(&state, part, period).await?;
    let figure = list
        .iter()
        .find(|f| f.slug == slug)
        .ok_or(AppError::NotFound)?;
    let mut out = Vec::with_capacity(64 * (figure.rows.len() + 1));
    out.extend_from_slice("\u{feff}".as_bytes());
    {
        let io = |e: csv::Error| AppError::Unexpected(anyhow::anyhow!("writing CSV: {e}"));
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
        w.write_record(&figure.headers).map_err(io)?;
        for row in &figure.rows {
            w.write_record(row.iter().map(|c| pipeline::neutralize_cell(c)))
                .map_err(io)?;
        }
        w.flush()
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("writing CSV: {e}")))?;
    }
    let name = format!("{}-{}-{}.csv", figure.slug, period.from, period.to);
    Ok(crate::web::pages::csv_download(&name, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn query(du: &str, au: &str) -> PeriodQuery {
        PeriodQuery {
            du: du.to_owned(),
            au: au.to_owned(),
        }
    }

    #[test]
    fn empty_dates_give_the_last_twelve_months() {
        let p = period_of(&query("", " "), day(2026, 11, 23)).unwrap();
        assert_eq!((p.from, p.to), (day(2025, 11, 24), day(2026, 11, 23)));
    }

    #[test]
    fn both_date_formats_are_read() {
        let p = period_of(&query("01/02/2026", "2026-03-31"), day(2026, 11, 23)).unwrap();
        assert_eq!((p.from, p.to), (day(2026, 2, 1), day(2026, 3, 31)));
    }

    #[test]
    fn wrong_dates_are_tied_to_their_fields() {
        let e = period_of(&query("31/02/2026", "demain"), day(2026, 11, 23)).unwrap_err();
        assert!(e.0["du"].contains("JJ/MM/AAAA"));
        assert!(e.0["au"].contains("JJ/MM/AAAA"));
        let e = period_of(&query("2026-05-01", "2026-04-01"), day(2026, 11, 23)).unwrap_err();
        assert!(e.0["au"].contains("après"));
        assert!(!e.0.contains_key("du"));
        let e = period_of(&query("01/01/1900", ""), day(2026, 11, 23)).unwrap_err();
        assert!(e.0["du"].contains("2000"));
    }
}
