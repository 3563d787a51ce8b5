//! A candidate's timeline: everything that happened, newest first — stage moves, e-mails,
//! notes, meetings and their grids, offers and their status changes, placements, documents and
//! later submissions of the form. Each source is read by its own query (see [`super::page`]);
//! they are merged here, in Rust.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::Serialize;

use super::page::CandidatePage;
use crate::pipeline::evaluation::ScoreView;

/// A link of a timeline entry.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineLink {
    pub href: String,
    pub label: String,
}

/// One thing that happened.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    /// A code for the look of the entry: etape, courriel, note, rdv, grille, proposition,
    /// affectation, document, formulaire.
    pub kind: &'static str,
    /// What kind of event, in words (« Étape », « Courriel »…).
    pub kind_label: &'static str,
    pub title: String,
    /// Who did it, when a person did.
    pub actor: Option<String>,
    /// Further facts (reason, status, place…).
    pub lines: Vec<String>,
    /// What a person wrote (a note, a comment), shown as written.
    pub text: Option<String>,
    /// The scores of an interview grid.
    pub scores: Vec<ScoreView>,
    pub link: Option<TimelineLink>,
    /// The files that came with a message.
    pub attachments: Vec<TimelineLink>,
    /// A received message nobody has read yet.
    pub unread: bool,
    /// The event has a date and no time of day (a start): shown without « à 00:00 ».
    pub date_only: bool,
}

impl TimelineEntry {
    fn new(at: DateTime<Utc>, kind: &'static str, kind_label: &'static str, title: String) -> Self {
        TimelineEntry {
            at,
            kind,
            kind_label,
            title,
            actor: None,
            lines: Vec::new(),
            text: None,
            scores: Vec::new(),
            link: None,
            attachments: Vec::new(),
            unread: false,
            date_only: false,
        }
    }
}

/// Midnight in Paris on `day`, for events that have a date only.
fn paris_midnight(day: NaiveDate) -> DateTime<Utc> {
    chrono_tz::Europe::Paris
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .earliest()
        .map_or_else(
            || Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)),
            |t| t.with_timezone(&Utc),
        )
}

fn fr_date(day: NaiveDate) -> String {
    day.format("%d/%m/%Y").to_string()
}

/// The timeline of a candidate's page, newest first.
pub fn timeline(page: &CandidatePage) -> Vec<TimelineEntry> {
    let mut out = Vec::new();
    let c = &page.candidate;
    for app in &c.applications {
        for h in &app.history {
            let title = match h.from {
                None => format!("Candidature n° {} reçue, à l'étape « {} »", app.id, h.to),
                Some(from) => format!(
                    "Candidature n° {} passée de « {from} » à « {} »",
                    app.id, h.to
                ),
            };
            let mut e = TimelineEntry::new(h.at, "etape", "Étape", title);
            e.actor = Some(
                h.actor
                    .clone()
                    .unwrap_or_else(|| "Formulaire en ligne".to_owned()),
            );
            if let Some(reason) = h.reason {
                e.lines.push(format!("Motif : {reason}"));
            }
            if let Some(day) = h.follow_up_on {
                e.lines.push(format!("Relance le {}", fr_date(day)));
            }
            e.text = h.note.clone().filter(|n| !n.trim().is_empty());
            out.push(e);
        }
    }
    for m in &c.emails {
        let mut e = TimelineEntry::new(
            m.created_at,
            "courriel",
            "Courriel",
            format!("Courriel au candidat : « {} »", m.subject),
        );
        e.lines.push(match m.sent_at {
            Some(at) => format!(
                "{} le {}",
                m.status,
                at.with_timezone(&chrono_tz::Europe::Paris)
                    .format("%d/%m/%Y à %H:%M")
            ),
            None => m.status.to_owned(),
        });
        out.push(e);
    }
    for n in &c.notes {
        let mut e = TimelineEntry::new(n.created_at, "note", "Note", "Note".to_owned());
        e.actor = Some(n.author.clone());
        e.text = Some(n.body.clone());
        out.push(e);
    }
    for m in &page.meetings {
        let mut e = TimelineEntry::new(
            m.starts_at,
            "rdv",
            "Rendez-vous",
            format!("{} ({})", m.kind, m.duration),
        );
        if !m.place.is_empty() {
            e.lines.push(format!("Lieu : {}", m.place));
        }
        if !m.participants.is_empty() {
            e.lines.push(format!("Avec : {}", m.participants));
        }
        if let (Some(answer), Some(at)) = (m.answer, m.answered_at) {
            e.lines.push(format!(
                "{answer} le {}",
                at.with_timezone(&chrono_tz::Europe::Paris)
                    .format("%d/%m/%Y à %H:%M")
            ));
        }
        if !m.note.is_empty() {
            e.text = Some(m.note.clone());
        }
        e.link = Some(TimelineLink {
            href: format!("/recrutement/rendez-vous/{}/grille", m.id),
            label: if page.evaluations.iter().any(|g| g.meeting_id == m.id) {
                "Modifier la grille d'entretien".to_owned()
            } else {
                "Remplir la grille d'entretien".to_owned()
            },
        });
        out.push(e);
    }
    for g in &page.evaluations {
        let mut e = TimelineEntry::new(
            g.updated_at,
            "grille",
            "Grille d'entretien",
            format!(
                "Grille remplie pour : {} du {} — avis {}",
                g.meeting_kind.to_lowercase(),
                g.meeting_at
                    .with_timezone(&chrono_tz::Europe::Paris)
                    .format("%d/%m/%Y"),
                g.opinion.to_lowercase()
            ),
        );
        e.actor = g.author.clone();
        if !g.comment.is_empty() {
            e.text = Some(g.comment.clone());
        }
        e.scores = g.scores.clone();
        out.push(e);
    }
    for o in &page.offers {
        let link = || {
            Some(TimelineLink {
                href: format!("/recrutement/propositions/{}", o.id),
                label: format!("Voir la proposition n° {}", o.id),
            })
        };
        let mut e = TimelineEntry::new(
            o.created_at,
            "proposition",
            "Proposition",
            format!(
                "Proposition n° {} préparée : {}, {} ETP, à partir du {}",
                o.id,
                o.working_time.to_lowercase(),
                o.fte,
                fr_date(o.starts_on)
            ),
        );
        e.actor = o.created_by.clone();
        e.link = link();
        out.push(e);
        if let Some(at) = o.approved_at {
            let mut e = TimelineEntry::new(
                at,
                "proposition",
                "Proposition",
                format!("Proposition n° {} approuvée", o.id),
            );
            e.actor = o.approved_by.clone();
            e.link = link();
            out.push(e);
        }
        if let Some(at) = o.sent_at {
            let mut e = TimelineEntry::new(
                at,
                "proposition",
                "Proposition",
                format!("Proposition n° {} envoyée au médecin", o.id),
            );
            e.link = link();
            out.push(e);
        }
        if let Some(at) = o.answered_at {
            let mut e = TimelineEntry::new(
                at,
                "proposition",
                "Proposition",
                format!("Proposition n° {} : {}", o.id, o.status.to_lowercase()),
            );
            if let Some(reason) = o.decline_reason {
                e.lines.push(format!("Motif : {reason}"));
            }
            e.link = link();
            out.push(e);
        }
    }
    for p in &page.placements {
        let mut e = TimelineEntry::new(
            paris_midnight(p.started_on),
            "affectation",
            "Affectation",
            if p.started {
                format!(
                    "Prise de poste le {} ({} ETP)",
                    fr_date(p.started_on),
                    p.fte
                )
            } else {
                format!(
                    "Prise de poste prévue le {} ({} ETP)",
                    fr_date(p.started_on),
                    p.fte
                )
            },
        );
        e.date_only = true;
        e.link = Some(TimelineLink {
            href: format!("/recrutement/affectations/{}", p.id),
            label: "Voir l'affectation".to_owned(),
        });
        out.push(e);
    }
    for m in &page.messages {
        let subject = if m.subject.is_empty() {
            "(sans objet)".to_owned()
        } else {
            format!("« {} »", m.subject)
        };
        let mut e = match (m.direction.as_str(), m.automatic) {
            ("envoye", _) => {
                let mut e = TimelineEntry::new(
                    m.created_at,
                    "echange",
                    "Courriel envoyé",
                    format!("Réponse au candidat : {subject}"),
                );
                e.actor = m.staff.clone();
                if let Some(status) = m.status {
                    e.lines.push(status.to_owned());
                }
                e
            }
            (_, true) => {
                let mut e = TimelineEntry::new(
                    m.created_at,
                    "echange",
                    "Réponse automatique",
                    format!("Réponse automatique : {subject}"),
                );
                e.lines.push(format!("De {}", m.from_address));
                e
            }
            _ => {
                let mut e = TimelineEntry::new(
                    m.created_at,
                    "echange",
                    "Courriel reçu",
                    format!("Message du candidat : {subject}"),
                );
                e.lines.push(format!("De {}", m.from_address));
                if let Some(by) = &m.staff {
                    e.lines.push(format!(
                        "Rattaché à la fiche par {by} (courriel non reconnu)"
                    ));
                }
                e.unread = !m.read;
                e
            }
        };
        // An automatic answer shows its first lines only.
        e.text = Some(if m.automatic {
            m.body_text.chars().take(300).collect()
        } else {
            m.body_text.clone()
        })
        .filter(|t: &String| !t.trim().is_empty());
        e.attachments = m
            .attachments
            .iter()
            .map(|a| TimelineLink {
                href: format!("/recrutement/documents/{}", a.id),
                label: format!("{} ({} Ko)", a.name, a.size_kb),
            })
            .collect();
        out.push(e);
    }
    for d in c.documents.iter().filter(|d| d.message_id.is_none()) {
        let mut e = TimelineEntry::new(
            d.created_at,
            "document",
            "Document",
            format!("Document reçu : {} ({} Ko)", d.original_name, d.size_kb),
        );
        e.link = Some(TimelineLink {
            href: format!("/recrutement/documents/{}", d.id),
            label: format!("Télécharger {}", d.original_name),
        });
        out.push(e);
    }
    for s in page.submitted.iter().filter(|s| !s.created_this_record) {
        let mut e = TimelineEntry::new(
            s.created_at,
            "formulaire",
            "Formulaire",
            "Nouvel envoi du formulaire de candidature".to_owned(),
        );
        if s.match_kind == "doublon_possible" {
            e.lines
                .push("Reconnu comme doublon possible : à vérifier.".to_owned());
        }
        out.push(e);
    }
    // Newest first; at the same instant, the order of the sources above, reversed.
    out.reverse();
    out.sort_by_key(|e| std::cmp::Reverse(e.at));
    out
}
