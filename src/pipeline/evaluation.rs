//! The structured interview grid. An administrator defines a few criteria (name, description,
//! order, active); after an interview or a site visit, a recruiter fills the grid for that
//! meeting: a score from 1 to 4, or « non évalué », and a comment per criterion, and an overall
//! opinion. A public employer has to justify its choices: the grid keeps the reasons.
//!
//! The grid is personal data about the candidate (an evaluation of them): it is shown on their
//! « Mes données » page and in its export (see the README, « Notes et grille d'entretien »).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{
    applications, candidates, evaluation_criteria, evaluation_scores, evaluations, meetings,
    staff_users,
};
use crate::domain::{FieldErrors, FreeText};
use crate::staff::audit::audit;

use super::meetings::MeetingKind;

/// The scores a criterion may get, with what each means.
pub const SCORES: [(i16, &str); 4] = [
    (1, "1 – insuffisant"),
    (2, "2 – à approfondir"),
    (3, "3 – satisfaisant"),
    (4, "4 – très satisfaisant"),
];

/// The label of a score; « Non évalué » when there is none.
pub fn score_label(score: Option<i16>) -> &'static str {
    score
        .and_then(|s| SCORES.iter().find(|(n, _)| *n == s))
        .map_or("Non évalué", |(_, l)| l)
}

/// The overall opinions, code and label.
pub const OPINIONS: [(&str, &str); 3] = [
    ("favorable", "Favorable"),
    ("reserve", "Réservé"),
    ("defavorable", "Défavorable"),
];

pub fn opinion_label(code: &str) -> &'static str {
    OPINIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("", |(_, l)| l)
}

/// Longest comment, per criterion and overall.
pub const COMMENT_MAX: usize = 2000;

/// A criterion of the grid.
#[derive(Debug, Clone, Serialize)]
pub struct Criterion {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub position: i32,
    pub active: bool,
}

/// The criteria, in their order; only the active ones when `active_only`.
pub fn criteria(conn: &mut PgConnection, active_only: bool) -> QueryResult<Vec<Criterion>> {
    let mut q = evaluation_criteria::table
        .order((evaluation_criteria::position, evaluation_criteria::id))
        .select((
            evaluation_criteria::id,
            evaluation_criteria::name,
            evaluation_criteria::description,
            evaluation_criteria::position,
            evaluation_criteria::active,
        ))
        .into_boxed();
    if active_only {
        q = q.filter(evaluation_criteria::active.eq(true));
    }
    Ok(q.load::<(i64, String, String, i32, bool)>(conn)?
        .into_iter()
        .map(|(id, name, description, position, active)| Criterion {
            id,
            name,
            description,
            position,
            active,
        })
        .collect())
}

/// A criterion as an administrator typed it, checked.
#[derive(Debug, Clone)]
pub struct CriterionInput {
    pub name: String,
    pub description: String,
    pub position: i32,
    pub active: bool,
}

/// The fields of the criterion form, in order, with their labels (for the error summary).
pub const CRITERION_FIELDS: &[(&str, &str)] = &[
    ("nom", "Nom"),
    ("description", "Description"),
    ("ordre", "Ordre"),
];

/// Checks a criterion typed by an administrator; the messages say how to correct.
pub fn parse_criterion(
    name: &str,
    description: &str,
    position: &str,
    active: bool,
) -> Result<CriterionInput, FieldErrors> {
    let mut errors = FieldErrors::default();
    let folded = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.is_empty() {
        errors.add(
            "nom",
            "Donnez un nom au critère, par exemple « Motivation ».",
        );
    } else if folded.chars().count() > 120 {
        errors.add("nom", "Le nom est trop long : 120 caractères au plus.");
    } else if folded.chars().any(char::is_control) {
        errors.add(
            "nom",
            "Le nom contient un caractère invisible : retapez-le.",
        );
    }
    let description = match FreeText::parse(description, 1000) {
        Ok(d) => d.as_str().to_owned(),
        Err(_) => {
            errors.add(
                "description",
                "La description est trop longue : 1 000 caractères au plus.",
            );
            String::new()
        }
    };
    let position = match position.trim() {
        "" => 0,
        p => match p.parse::<i32>() {
            Ok(n) if (0..=999).contains(&n) => n,
            _ => {
                errors.add(
                    "ordre",
                    "L'ordre est un nombre entier de 0 à 999 (les critères sont montrés du plus petit au plus grand).",
                );
                0
            }
        },
    };
    if errors.is_empty() {
        Ok(CriterionInput {
            name: folded,
            description,
            position,
            active,
        })
    } else {
        Err(errors)
    }
}

/// Adds a criterion; answers its id.
pub fn create_criterion(
    conn: &mut PgConnection,
    actor: i64,
    c: &CriterionInput,
) -> QueryResult<i64> {
    conn.transaction(|conn| {
        let id: i64 = diesel::insert_into(evaluation_criteria::table)
            .values((
                evaluation_criteria::name.eq(&c.name),
                evaluation_criteria::description.eq(&c.description),
                evaluation_criteria::position.eq(c.position),
                evaluation_criteria::active.eq(c.active),
            ))
            .returning(evaluation_criteria::id)
            .get_result(conn)?;
        audit(
            conn,
            Some(actor),
            "critere_ajoute",
            "evaluation_criterion",
            Some(id),
            "",
        )?;
        Ok(id)
    })
}

/// Changes a criterion; false when it does not exist. Scores already given keep it (it can be
/// made inactive, never deleted).
pub fn update_criterion(
    conn: &mut PgConnection,
    actor: i64,
    id: i64,
    c: &CriterionInput,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let n = diesel::update(evaluation_criteria::table.find(id))
            .set((
                evaluation_criteria::name.eq(&c.name),
                evaluation_criteria::description.eq(&c.description),
                evaluation_criteria::position.eq(c.position),
                evaluation_criteria::active.eq(c.active),
            ))
            .execute(conn)?;
        if n > 0 {
            audit(
                conn,
                Some(actor),
                "critere_modifie",
                "evaluation_criterion",
                Some(id),
                "",
            )?;
        }
        Ok(n > 0)
    })
}

/// Loads the default criteria when there are none (the demo).
pub fn load_defaults(conn: &mut PgConnection) -> QueryResult<usize> {
    let any: i64 = evaluation_criteria::table.count().get_result(conn)?;
    if any > 0 {
        return Ok(0);
    }
    let defaults = [
        (
            "Projet professionnel",
            "Ce que le médecin veut faire, et si le salariat en centre de santé y répond.",
        ),
        (
            "Motivation pour le territoire",
            "Connaissance du Gers, projet de vie, conjoint, trajets.",
        ),
        (
            "Travail en équipe",
            "Exercice coordonné avec les infirmiers, secrétaires et autres médecins du centre.",
        ),
        (
            "Disponibilité",
            "Date de prise de poste, temps de travail, gardes.",
        ),
    ];
    let rows: Vec<_> = defaults
        .iter()
        .enumerate()
        .map(|(i, (name, description))| {
            (
                evaluation_criteria::name.eq(*name),
                evaluation_criteria::description.eq(*description),
                evaluation_criteria::position.eq(i32::try_from(i * 10).unwrap_or(0)),
            )
        })
        .collect();
    diesel::insert_into(evaluation_criteria::table)
        .values(&rows)
        .execute(conn)
}

/// One criterion's line of a grid as typed: its score (`""` for « non évalué ») and comment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScoreInput {
    pub criterion_id: i64,
    pub score: String,
    pub comment: String,
}

/// A grid as typed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GridInput {
    pub opinion: String,
    pub comment: String,
    pub scores: Vec<ScoreInput>,
}

/// What is wrong with a grid: the overall fields, and per criterion id.
#[derive(Debug, Default, Serialize)]
pub struct GridErrors {
    pub opinion: Option<String>,
    pub comment: Option<String>,
    /// (criterion id, message on its score, message on its comment)
    pub criteria: Vec<(i64, Option<String>, Option<String>)>,
}

impl GridErrors {
    pub fn is_empty(&self) -> bool {
        self.opinion.is_none() && self.comment.is_none() && self.criteria.is_empty()
    }
}

/// A checked grid.
#[derive(Debug, Clone)]
pub struct Grid {
    opinion: &'static str,
    comment: String,
    scores: Vec<(i64, Option<i16>, String)>,
}

/// Checks a grid against the active criteria: each criterion scored 1–4 or not evaluated,
/// comments bounded, an overall opinion chosen.
pub fn check_grid(input: &GridInput, criteria: &[Criterion]) -> Result<Grid, GridErrors> {
    let mut errors = GridErrors::default();
    let opinion = OPINIONS
        .iter()
        .find(|(c, _)| *c == input.opinion)
        .map(|(c, _)| *c);
    if opinion.is_none() {
        errors.opinion =
            Some("Choisissez l'avis d'ensemble : favorable, réservé ou défavorable.".to_owned());
    }
    let long = |what: &str| {
        format!("{what} est trop long : {COMMENT_MAX} caractères au plus, raccourcissez-le.")
    };
    let comment = match FreeText::parse(&input.comment, COMMENT_MAX) {
        Ok(c) => c.as_str().to_owned(),
        Err(_) => {
            errors.comment = Some(long("Le commentaire d'ensemble"));
            String::new()
        }
    };
    let mut scores = Vec::new();
    for c in criteria {
        let typed = input.scores.iter().find(|s| s.criterion_id == c.id);
        let (raw_score, raw_comment) =
            typed.map_or(("", ""), |s| (s.score.trim(), s.comment.as_str()));
        let score = match raw_score {
            "" => Ok(None),
            s => match s.parse::<i16>() {
                Ok(n) if (1..=4).contains(&n) => Ok(Some(n)),
                _ => Err("Choisissez une note de 1 à 4, ou « Non évalué ».".to_owned()),
            },
        };
        let comment = FreeText::parse(raw_comment, COMMENT_MAX)
            .map(|c| c.as_str().to_owned())
            .map_err(|_| long("Le commentaire"));
        match (score, comment) {
            (Ok(s), Ok(cm)) => scores.push((c.id, s, cm)),
            (s, cm) => errors.criteria.push((c.id, s.err(), cm.err())),
        }
    }
    match opinion {
        Some(opinion) if errors.is_empty() => Ok(Grid {
            opinion,
            comment,
            scores,
        }),
        _ => Err(errors),
    }
}

/// The meeting a grid is filled for: who, what, when, and the candidate's page.
#[derive(Debug, Clone, Serialize)]
pub struct GridMeeting {
    pub meeting_id: i64,
    pub candidate_id: i64,
    pub application_id: i64,
    pub kind: &'static str,
    pub starts_at: DateTime<Utc>,
    /// The candidate's first and last names.
    pub candidate: String,
}

/// The meeting `meeting_id`, if it exists.
pub fn meeting(conn: &mut PgConnection, meeting_id: i64) -> QueryResult<Option<GridMeeting>> {
    type Row = (i64, i64, i64, String, DateTime<Utc>, String, String);
    let row: Option<Row> = meetings::table
        .inner_join(applications::table.inner_join(candidates::table))
        .filter(meetings::id.eq(meeting_id))
        .select((
            meetings::id,
            applications::candidate_id,
            applications::id,
            meetings::kind,
            meetings::starts_at,
            candidates::first_name,
            candidates::last_name,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(meeting_id, candidate_id, application_id, kind, starts_at, first, last)| GridMeeting {
            meeting_id,
            candidate_id,
            application_id,
            kind: MeetingKind::from_code(&kind).map_or("Rendez-vous", MeetingKind::label),
            starts_at,
            candidate: format!("{first} {last}"),
        },
    ))
}

/// Records the grid of a meeting (replacing the one recorded before, if any); answers the
/// candidate's id, or None when the meeting does not exist.
pub fn save(
    conn: &mut PgConnection,
    actor: i64,
    meeting_id: i64,
    grid: &Grid,
    now: DateTime<Utc>,
) -> QueryResult<Option<i64>> {
    conn.transaction(|conn| {
        let Some(m) = meeting(conn, meeting_id)? else {
            return Ok(None);
        };
        let id: i64 = diesel::insert_into(evaluations::table)
            .values((
                evaluations::meeting_id.eq(meeting_id),
                evaluations::author_id.eq(Some(actor)),
                evaluations::opinion.eq(grid.opinion),
                evaluations::comment.eq(&grid.comment),
                evaluations::created_at.eq(now),
                evaluations::updated_at.eq(now),
            ))
            .on_conflict(evaluations::meeting_id)
            .do_update()
            .set((
                evaluations::author_id.eq(Some(actor)),
                evaluations::opinion.eq(grid.opinion),
                evaluations::comment.eq(&grid.comment),
                evaluations::updated_at.eq(now),
            ))
            .returning(evaluations::id)
            .get_result(conn)?;
        diesel::delete(evaluation_scores::table.filter(evaluation_scores::evaluation_id.eq(id)))
            .execute(conn)?;
        let rows: Vec<_> = grid
            .scores
            .iter()
            .map(|(criterion, score, comment)| {
                (
                    evaluation_scores::evaluation_id.eq(id),
                    evaluation_scores::criterion_id.eq(*criterion),
                    evaluation_scores::score.eq(*score),
                    evaluation_scores::comment.eq(comment),
                )
            })
            .collect();
        diesel::insert_into(evaluation_scores::table)
            .values(&rows)
            .execute(conn)?;
        audit(
            conn,
            Some(actor),
            "grille_entretien",
            "application",
            Some(m.application_id),
            "",
        )?;
        Ok(Some(m.candidate_id))
    })
}

/// One criterion of a recorded grid.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreView {
    pub criterion: String,
    pub score: Option<i16>,
    pub score_label: &'static str,
    pub comment: String,
}

/// A recorded grid, as the candidate page and « Mes données » show it.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluationView {
    pub meeting_id: i64,
    pub meeting_kind: &'static str,
    pub meeting_at: DateTime<Utc>,
    pub author: Option<String>,
    pub opinion_code: String,
    pub opinion: &'static str,
    pub comment: String,
    pub updated_at: DateTime<Utc>,
    pub scores: Vec<ScoreView>,
}

type EvaluationRow = (
    i64,
    i64,
    String,
    DateTime<Utc>,
    Option<String>,
    String,
    String,
    DateTime<Utc>,
);

/// The grids recorded for a candidate's meetings, newest meeting first.
pub fn for_candidate(
    conn: &mut PgConnection,
    candidate_id: i64,
) -> QueryResult<Vec<EvaluationView>> {
    let rows: Vec<EvaluationRow> = evaluations::table
        .inner_join(meetings::table.inner_join(applications::table))
        .left_join(staff_users::table)
        .filter(applications::candidate_id.eq(candidate_id))
        .order(meetings::starts_at.desc())
        .select((
            evaluations::id,
            meetings::id,
            meetings::kind,
            meetings::starts_at,
            staff_users::display_name.nullable(),
            evaluations::opinion,
            evaluations::comment,
            evaluations::updated_at,
        ))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let scores: Vec<(i64, String, Option<i16>, String)> = evaluation_scores::table
        .inner_join(evaluation_criteria::table)
        .filter(evaluation_scores::evaluation_id.eq_any(&ids))
        .order((evaluation_criteria::position, evaluation_criteria::id))
        .select((
            evaluation_scores::evaluation_id,
            evaluation_criteria::name,
            evaluation_scores::score,
            evaluation_scores::comment,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, meeting_id, kind, at, author, opinion, comment, updated_at)| EvaluationView {
                meeting_id,
                meeting_kind: MeetingKind::from_code(&kind)
                    .map_or("Rendez-vous", MeetingKind::label),
                meeting_at: at,
                author,
                opinion: opinion_label(&opinion),
                opinion_code: opinion,
                comment,
                updated_at,
                scores: scores
                    .iter()
                    .filter(|s| s.0 == id)
                    .map(|s| ScoreView {
                        criterion: s.1.clone(),
                        score: s.2,
                        score_label: score_label(s.2),
                        comment: s.3.clone(),
                    })
                    .collect(),
            },
        )
        .collect())
}

/// Deletes the grids of a candidate's meetings (anonymisation); answers how many went.
pub fn delete_for_candidate(conn: &mut PgConnection, candidate_id: i64) -> QueryResult<usize> {
    let their_meetings = meetings::table
        .inner_join(applications::table)
        .filter(applications::candidate_id.eq(candidate_id))
        .select(meetings::id);
    diesel::delete(evaluations::table.filter(evaluations::meeting_id.eq_any(their_meetings)))
        .execute(conn)
}

/// The grid recorded for one meeting, as typed values (to fill the form again).
pub fn input_for(conn: &mut PgConnection, meeting_id: i64) -> QueryResult<Option<GridInput>> {
    let found: Option<(i64, String, String)> = evaluations::table
        .filter(evaluations::meeting_id.eq(meeting_id))
        .select((evaluations::id, evaluations::opinion, evaluations::comment))
        .first(conn)
        .optional()?;
    let Some((id, opinion, comment)) = found else {
        return Ok(None);
    };
    let scores = evaluation_scores::table
        .filter(evaluation_scores::evaluation_id.eq(id))
        .select((
            evaluation_scores::criterion_id,
            evaluation_scores::score,
            evaluation_scores::comment,
        ))
        .load::<(i64, Option<i16>, String)>(conn)?
        .into_iter()
        .map(|(criterion_id, score, comment)| ScoreInput {
            criterion_id,
            score: score.map(|s| s.to_string()).unwrap_or_default(),
            comment,
        })
        .collect();
    Ok(Some(GridInput {
        opinion,
        comment,
        scores,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criterion(id: i64) -> Criterion {
        Criterion {
            id,
            name: format!("C{id}"),
            description: String::new(),
            position: 0,
            active: true,
        }
    }

    #[test]
    fn a_grid_needs_an_opinion_and_scores_from_one_to_four_or_none() {
        let criteria = [criterion(1), criterion(2)];
        let mut input = GridInput {
            opinion: "favorable".into(),
            comment: "Bon entretien".into(),
            scores: vec![
                ScoreInput {
                    criterion_id: 1,
                    score: "4".into(),
                    comment: "Projet clair".into(),
                },
                ScoreInput {
                    criterion_id: 2,
                    score: String::new(),
                    comment: String::new(),
                },
            ],
        };
        let grid = check_grid(&input, &criteria).unwrap();
        assert_eq!(grid.scores[0], (1, Some(4), "Projet clair".to_owned()));
        assert_eq!(grid.scores[1], (2, None, String::new()));
        input.scores[1].score = "5".into();
        input.opinion = "excellent".into();
        let e = check_grid(&input, &criteria).unwrap_err();
        assert!(e.opinion.is_some());
        assert_eq!(e.criteria.len(), 1);
        assert_eq!(e.criteria[0].0, 2);
        input.scores[1].score = "-1".into();
        input.opinion = "reserve".into();
        assert!(check_grid(&input, &criteria).is_err());
    }

    #[test]
    fn a_criterion_needs_a_name_and_a_small_order() {
        assert!(parse_criterion("  Motivation  ", "", "10", true).is_ok());
        let e = parse_criterion("", "", "-3", true).unwrap_err();
        assert!(e.0.contains_key("nom") && e.0.contains_key("ordre"));
        assert!(parse_criterion("a\u{0}b", "", "", true).is_err());
    }
}
