//! The offer form: what a recruiter typed, the rules it must meet, and the French message at
//! each field that does not.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::centres::Centre;
use crate::db::enums::WorkingTime;
use crate::domain::parse_date;
use crate::domain::{format_hundredths, Fte, HalfDay, WeekPattern};

/// Longest on-call terms or salary note accepted.
const MAX_NOTE_CHARS: usize = 2000;

/// One centre's row of the allocation grid, as typed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RawAllocation {
    /// Half-day codes ticked ("lun-matin", ...).
    pub half_days: Vec<String>,
    /// The FTE share typed; empty means one tenth per half-day.
    pub etp: String,
}

/// The offer form as typed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RawOffer {
    pub temps: String,
    pub etp: String,
    pub debut: String,
    pub expiration: String,
    pub gardes: String,
    pub remuneration: String,
    /// Centre id → its row of the grid.
    pub allocations: BTreeMap<i64, RawAllocation>,
}

impl RawOffer {
    /// Reads the form's fields; `jours-{centre}` repeats, one per ticked half-day.
    pub fn from_pairs<'a>(pairs: impl Iterator<Item = (String, String)> + 'a) -> (Self, String) {
        let mut raw = RawOffer::default();
        let mut csrf = String::new();
        for (key, value) in pairs {
            match key.as_str() {
                "csrf" => csrf = value,
                "temps" => raw.temps = value,
                "etp" => raw.etp = value,
                "debut" => raw.debut = value,
                "expiration" => raw.expiration = value,
                "gardes" => raw.gardes = value,
                "remuneration" => raw.remuneration = value,
                other => {
                    if let Some(id) = other.strip_prefix("jours-").and_then(|s| s.parse().ok()) {
                        raw.allocations.entry(id).or_default().half_days.push(value);
                    } else if let Some(id) = other.strip_prefix("etp-").and_then(|s| s.parse().ok())
                    {
                        raw.allocations.entry(id).or_default().etp = value;
                    }
                }
            }
        }
        (raw, csrf)
    }
}

/// One centre of a valid offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationDraft {
    pub centre_id: i64,
    pub pattern: WeekPattern,
    pub fte: Fte,
}

/// A valid offer, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferDraft {
    pub working_time: WorkingTime,
    pub fte: Fte,
    pub starts_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub on_call_terms: String,
    pub salary_note: String,
    pub allocations: Vec<AllocationDraft>,
}

/// Messages by field id, in the order of the form.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OfferErrors(pub Vec<(String, String)>);

impl OfferErrors {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        if self.get(&field).is_none() {
            self.0.push((field, message.into()));
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Field → message, for templates.
    pub fn map(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }
}

fn date_field(
    errors: &mut OfferErrors,
    field: &str,
    input: &str,
    missing: &str,
) -> Option<NaiveDate> {
    if input.trim().is_empty() {
        errors.add(field, missing);
        return None;
    }
    let day = parse_date(input);
    if day.is_none() {
        errors.add(
            field,
            format!(
                "« {} » n'est pas une date : écrivez-la jj/mm/aaaa, par exemple 01/03/2027.",
                input.trim()
            ),
        );
    }
    day
}

fn note_field(errors: &mut OfferErrors, field: &str, input: &str) -> String {
    let text = input.trim().replace("\r\n", "\n");
    if text.chars().count() > MAX_NOTE_CHARS {
        errors.add(
            field,
            format!("{MAX_NOTE_CHARS} caractères au plus : raccourcissez ce texte."),
        );
    }
    text
}

fn french(day: NaiveDate) -> String {
    day.format("%d/%m/%Y").to_string()
}

/// Checks an offer against the rules: full time is 1 FTE; allocations add up to the offer's
/// FTE; no half-day is in two centres; a week has at most ten half-days; a closed centre gets
/// no allocation; dates are real, not past, and the answer is due before the start.
pub fn validate(
    raw: &RawOffer,
    centres: &[Centre],
    today: NaiveDate,
) -> Result<OfferDraft, OfferErrors> {
    let mut errors = OfferErrors::default();

    let working_time = WorkingTime::from_code(&raw.temps);
    if working_time.is_none() {
        errors.add("temps", "Choisissez temps plein ou temps partiel.");
    }
    let fte = match working_time {
        Some(WorkingTime::FullTime) => match raw.etp.trim() {
            "" => Some(Fte::FULL),
            typed => match Fte::parse(typed) {
                Ok(f) if f == Fte::FULL => Some(f),
                Ok(f) => {
                    errors.add(
                        "etp",
                        format!(
                            "Un temps plein correspond à 1 ETP : pour {f} ETP, choisissez temps partiel."
                        ),
                    );
                    None
                }
                Err(e) => {
                    errors.add("etp", e.0);
                    None
                }
            },
        },
        Some(WorkingTime::PartTime) => match Fte::parse(&raw.etp) {
            Ok(f) if f == Fte::FULL => {
                errors.add(
                    "etp",
                    "Un temps partiel est inférieur à 1 ETP : pour 1 ETP, choisissez temps plein.",
                );
                None
            }
            Ok(f) => Some(f),
            Err(e) => {
                errors.add("etp", e.0);
                None
            }
        },
        None => None,
    };

    let starts_on = date_field(
        &mut errors,
        "debut",
        &raw.debut,
        "Indiquez la date de prise de poste (jj/mm/aaaa).",
    );
    if let Some(day) = starts_on.filter(|d| *d < today) {
        errors.add(
            "debut",
            format!(
                "La prise de poste ({}) ne peut pas être dans le passé.",
                french(day)
            ),
        );
    }
    let expires_on = date_field(
        &mut errors,
        "expiration",
        &raw.expiration,
        "Indiquez la date limite de réponse (jj/mm/aaaa).",
    );
    if let Some(day) = expires_on {
        if day < today {
            errors.add(
                "expiration",
                format!(
                    "La date limite de réponse ({}) est passée : choisissez aujourd'hui ou plus tard.",
                    french(day)
                ),
            );
        } else if let Some(start) = starts_on.filter(|s| day > *s) {
            errors.add(
                "expiration",
                format!(
                    "La date limite de réponse doit précéder la prise de poste (le {}).",
                    french(start)
                ),
            );
        }
    }
    let on_call_terms = note_field(&mut errors, "gardes", &raw.gardes);
    let salary_note = note_field(&mut errors, "remuneration", &raw.remuneration);

    let mut allocations: Vec<(AllocationDraft, &Centre)> = Vec::new();
    let mut shares_valid = true;
    for (centre_id, row) in &raw.allocations {
        if row.half_days.is_empty() && row.etp.trim().is_empty() {
            continue;
        }
        let Some(centre) = centres.iter().find(|c| c.id == *centre_id) else {
            errors.add(
                "repartition",
                "Un des centres choisis n'existe plus : rechargez la page.",
            );
            shares_valid = false;
            continue;
        };
        let days_field = format!("jours-{centre_id}");
        let pattern = match WeekPattern::from_codes(&row.half_days) {
            Ok(p) if p.is_empty() => {
                errors.add(
                    &days_field,
                    format!("Cochez les demi-journées travaillées à {}.", centre.commune),
                );
                None
            }
            Ok(p) => Some(p),
            Err(e) => {
                errors.add(&days_field, e.0);
                None
            }
        };
        let closed_from = starts_on.unwrap_or(today);
        if centre.closed_on_day(closed_from) {
            let when = centre
                .closed_on
                .map(|d| format!(" depuis le {}", french(d)))
                .unwrap_or_default();
            errors.add(
                &days_field,
                format!(
                    "Le centre de {} est fermé{when} : il ne peut pas recevoir d'affectation.",
                    centre.commune
                ),
            );
        }
        let share = match row.etp.trim() {
            "" => pattern.map(|p| {
                let share = p.count() as i32 * Fte::HALF_DAY.hundredths();
                Fte::from_hundredths(share).unwrap_or(Fte::FULL)
            }),
            typed => match Fte::parse(typed) {
                Ok(f) => Some(f),
                Err(e) => {
                    errors.add(format!("etp-{centre_id}"), e.0);
                    None
                }
            },
        };
        match (pattern, share) {
            (Some(pattern), Some(fte)) => allocations.push((
                AllocationDraft {
                    centre_id: *centre_id,
                    pattern,
                    fte,
                },
                centre,
            )),
            _ => shares_valid = false,
        }
    }
    if allocations.is_empty() && shares_valid {
        errors.add(
            "repartition",
            "Indiquez au moins un centre et les demi-journées qui y sont travaillées.",
        );
    }
    // No half-day in two centres.
    let mut conflicts = Vec::new();
    for half_day in HalfDay::all() {
        let at: Vec<&str> = allocations
            .iter()
            .filter(|(a, _)| a.pattern.contains(half_day))
            .map(|(_, c)| c.commune.as_str())
            .collect();
        if at.len() > 1 {
            conflicts.push(format!(
                "le {} est prévu à {}",
                half_day.label(),
                at.join(" et à ")
            ));
        }
    }
    if !conflicts.is_empty() {
        let mut message = conflicts.join(" ; ");
        message[..1].make_ascii_uppercase();
        errors.add(
            "repartition",
            format!("{message} : une demi-journée ne se passe que dans un centre."),
        );
    }
    let week = allocations
        .iter()
        .fold(WeekPattern::default(), |w, (a, _)| w.union(a.pattern));
    if conflicts.is_empty() && week.count() > 10 {
        errors.add(
            "repartition",
            "Une semaine compte dix demi-journées au plus.",
        );
    }
    if let (Some(total), true) = (fte, shares_valid && !allocations.is_empty()) {
        let sum = Fte::sum(allocations.iter().map(|(a, _)| a.fte));
        if sum != total.hundredths() as u32 {
            errors.add(
                "repartition",
                format!(
                    "Les affectations totalisent {} ETP et la proposition {} ETP : elles doivent être égales.",
                    format_hundredths(i64::from(sum)),
                    total
                ),
            );
        }
    }

    match (working_time, fte, starts_on, expires_on) {
        (Some(working_time), Some(fte), Some(starts_on), Some(expires_on)) if errors.is_empty() => {
            Ok(OfferDraft {
                working_time,
                fte,
                starts_on,
                expires_on,
                on_call_terms,
                salary_note,
                allocations: allocations.into_iter().map(|(a, _)| a).collect(),
            })
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::enums::{CentreKind, CentreStatus};

    fn centre(
        id: i64,
        commune: &str,
        status: CentreStatus,
        closed_on: Option<NaiveDate>,
    ) -> Centre {
        Centre {
            id,
            name: format!("Centre de {commune}"),
            kind: CentreKind::Centre,
            commune: commune.to_owned(),
            insee_code: "32000".to_owned(),
            latitude: 43.7,
            longitude: 0.5,
            status,
            opened_on: None,
            closed_on,
            planned_fte_hundredths: 300,
        }
    }

    fn centres() -> Vec<Centre> {
        vec![
            centre(1, "Vic-Fezensac", CentreStatus::Open, None),
            centre(2, "Fleurance", CentreStatus::Open, None),
            centre(3, "Gondrin", CentreStatus::Closed, Some(day("2026-06-30"))),
            centre(4, "Marciac", CentreStatus::Open, Some(day("2027-01-31"))),
        ]
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const TODAY: &str = "2026-11-23";

    fn days(codes: &[&str]) -> Vec<String> {
        codes.iter().map(|c| c.to_string()).collect()
    }

    fn whole(days_: &[&str]) -> Vec<String> {
        days_
            .iter()
            .flat_map(|d| [format!("{d}-matin"), format!("{d}-apres-midi")])
            .collect()
    }

    /// Vic-Fezensac Monday–Wednesday, Fleurance Thursday–Friday: a full-time split week.
    fn split_week() -> RawOffer {
        let mut raw = RawOffer {
            temps: "temps_plein".into(),
            etp: "1".into(),
            debut: "2027-01-04".into(),
            expiration: "2026-12-15".into(),
            gardes: "Une garde par mois au plus".into(),
            remuneration: "Grille de la fonction publique territoriale".into(),
            ..Default::default()
        };
        raw.allocations.insert(
            1,
            RawAllocation {
                half_days: whole(&["lun", "mar", "mer"]),
                etp: "0,6".into(),
            },
        );
        raw.allocations.insert(
            2,
            RawAllocation {
                half_days: whole(&["jeu", "ven"]),
                etp: "".into(),
            },
        );
        raw
    }

    fn check(raw: &RawOffer) -> Result<OfferDraft, OfferErrors> {
        validate(raw, &centres(), day(TODAY))
    }

    fn error_at(raw: &RawOffer, field: &str) -> String {
        let errors = check(raw).expect_err("should be refused");
        errors
            .get(field)
            .unwrap_or_else(|| panic!("no error at {field}: {errors:?}"))
            .to_owned()
    }

    #[test]
    fn a_full_time_split_week_is_accepted_with_shares_from_half_days() {
        let draft = check(&split_week()).unwrap();
        assert_eq!(draft.fte, Fte::FULL);
        assert_eq!(draft.allocations.len(), 2);
        assert_eq!(draft.allocations[0].fte.hundredths(), 60);
        // Left empty, Fleurance's share is one tenth per half-day: 4 × 0.1.
        assert_eq!(draft.allocations[1].fte.hundredths(), 40);
        assert_eq!(draft.allocations[1].pattern.to_string(), "jeudi, vendredi");
    }

    #[test]
    fn part_time_fractions_add_up_exactly() {
        let mut raw = split_week();
        raw.temps = "temps_partiel".into();
        raw.etp = "0,6".into();
        raw.allocations.insert(
            1,
            RawAllocation {
                half_days: days(&["lun-matin", "lun-apres-midi", "mar-matin"]),
                etp: "0,3".into(),
            },
        );
        raw.allocations.insert(
            2,
            RawAllocation {
                half_days: days(&["jeu-matin", "jeu-apres-midi", "ven-matin"]),
                etp: "30 %".into(),
            },
        );
        let draft = check(&raw).unwrap();
        assert_eq!(draft.fte.hundredths(), 60);

        raw.allocations.get_mut(&2).unwrap().etp = "0,2".into();
        let message = error_at(&raw, "repartition");
        assert!(
            message.contains("totalisent 0,5 ETP et la proposition 0,6 ETP"),
            "{message}"
        );
    }

    #[test]
    fn full_time_means_one_fte() {
        let mut raw = split_week();
        raw.etp = "0,8".into();
        let message = error_at(&raw, "etp");
        assert!(message.contains("choisissez temps partiel"), "{message}");

        raw.temps = "temps_partiel".into();
        raw.etp = "1".into();
        assert!(error_at(&raw, "etp").contains("inférieur à 1 ETP"));

        raw.temps = "".into();
        assert!(error_at(&raw, "temps").contains("temps plein ou temps partiel"));
    }

    #[test]
    fn a_half_day_in_two_centres_is_refused_naming_both() {
        let mut raw = split_week();
        raw.allocations
            .get_mut(&2)
            .unwrap()
            .half_days
            .push("mer-apres-midi".into());
        raw.allocations.get_mut(&2).unwrap().etp = "0,4".into();
        let message = error_at(&raw, "repartition");
        assert!(
            message.contains("Le mercredi après-midi est prévu à Vic-Fezensac et à Fleurance"),
            "{message}"
        );
    }

    #[test]
    fn more_than_ten_half_days_in_a_week_are_refused() {
        let mut raw = split_week();
        let mut eleven = whole(&["lun", "mar", "mer", "jeu", "ven"]);
        eleven.push("lun-matin".into());
        raw.allocations.remove(&2);
        raw.allocations.insert(
            1,
            RawAllocation {
                half_days: eleven,
                etp: "1".into(),
            },
        );
        assert!(error_at(&raw, "jours-1").contains("dix demi-journées"));
    }

    #[test]
    fn a_closed_centre_cannot_be_allocated() {
        let mut raw = split_week();
        let fleurance = raw.allocations.remove(&2).unwrap();
        raw.allocations.insert(3, fleurance);
        let message = error_at(&raw, "jours-3");
        assert!(
            message.contains("Le centre de Gondrin est fermé depuis le 30/06/2026"),
            "{message}"
        );
        // A centre closing before the start counts as closed too.
        let mut raw = split_week();
        let fleurance = raw.allocations.remove(&2).unwrap();
        raw.allocations.insert(4, fleurance);
        raw.debut = "2027-02-01".into();
        assert!(error_at(&raw, "jours-4").contains("Marciac est fermé"));
    }

    #[test]
    fn dates_must_be_real_and_in_order() {
        let mut raw = split_week();
        raw.debut = "31/02/2027".into();
        assert!(error_at(&raw, "debut").contains("n'est pas une date"));
        let mut raw = split_week();
        raw.debut = "2026-11-01".into();
        raw.expiration = "2026-11-01".into();
        assert!(error_at(&raw, "debut").contains("dans le passé"));
        assert!(error_at(&raw, "expiration").contains("est passée"));
        let mut raw = split_week();
        raw.expiration = "2027-02-01".into();
        assert!(error_at(&raw, "expiration").contains("précéder la prise de poste"));
        let mut raw = split_week();
        raw.expiration = "".into();
        assert!(error_at(&raw, "expiration").contains("date limite"));
    }

    #[test]
    fn an_offer_without_centres_or_with_a_centre_without_half_days_is_refused() {
        let mut raw = split_week();
        raw.allocations.clear();
        assert!(error_at(&raw, "repartition").contains("au moins un centre"));
        let mut raw = split_week();
        raw.allocations.get_mut(&2).unwrap().half_days.clear();
        raw.allocations.get_mut(&2).unwrap().etp = "0,4".into();
        assert!(
            error_at(&raw, "jours-2").contains("Cochez les demi-journées travaillées à Fleurance")
        );
        let mut raw = split_week();
        raw.allocations.get_mut(&2).unwrap().etp = "beaucoup".into();
        assert!(error_at(&raw, "etp-2").contains("n'est pas un équivalent temps plein"));
    }

    #[test]
    fn form_pairs_are_read_with_repeated_half_days() {
        let pairs = [
            ("csrf", "t"),
            ("temps", "temps_partiel"),
            ("jours-2", "lun-matin"),
            ("jours-2", "mar-matin"),
            ("etp-2", "0,2"),
            ("jours-x", "lun-matin"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let (raw, csrf) = RawOffer::from_pairs(pairs.into_iter());
        assert_eq!(csrf, "t");
        assert_eq!(raw.allocations.len(), 1);
        assert_eq!(raw.allocations[&2].half_days, ["lun-matin", "mar-matin"]);
        assert_eq!(raw.allocations[&2].etp, "0,2");
    }
}
