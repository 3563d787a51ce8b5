//! The centres of an offer or a placement, and the weekly table they make: where the doctor
//! works each morning and afternoon.

use serde::Serialize;

use crate::domain::{format_hundredths, HalfDay, WeekPattern, WEEKDAYS};

/// One centre of an offer or a placement, as pages and e-mails show it.
#[derive(Debug, Clone, Serialize)]
pub struct AllocationView {
    pub centre_id: i64,
    pub centre: String,
    pub commune: String,
    pub fte: String,
    pub fte_hundredths: i32,
    pub pattern: String,
    pub half_days: i16,
    pub half_day_count: u32,
}

impl AllocationView {
    pub fn new(centre_id: i64, centre: String, commune: String, half_days: i16, fte: i32) -> Self {
        let pattern = WeekPattern::from_bits(half_days).unwrap_or_default();
        AllocationView {
            centre_id,
            centre,
            commune,
            fte: format_hundredths(i64::from(fte)),
            fte_hundredths: fte,
            pattern: pattern.to_string(),
            half_days,
            half_day_count: pattern.count(),
        }
    }
}

/// One weekday of the weekly table: where the doctor works in the morning and the afternoon.
#[derive(Debug, Clone, Serialize)]
pub struct WeekRow {
    pub day: String,
    pub morning: Option<String>,
    pub afternoon: Option<String>,
    /// "Vic-Fezensac (journée)", "Fleurance (matin), Vic-Fezensac (après-midi)", "–".
    pub summary: String,
}

/// The weekly table of a set of allocations: Monday to Friday, morning and afternoon.
pub fn week_table(allocations: &[AllocationView]) -> Vec<WeekRow> {
    let at = |h: HalfDay| {
        allocations
            .iter()
            .find(|a| {
                WeekPattern::from_bits(a.half_days)
                    .unwrap_or_default()
                    .contains(h)
            })
            .map(|a| a.commune.clone())
    };
    let mut halves = HalfDay::all();
    WEEKDAYS
        .iter()
        .map(|day| {
            let morning = halves.next().and_then(at);
            let afternoon = halves.next().and_then(at);
            let summary = match (&morning, &afternoon) {
                (Some(m), Some(a)) if m == a => format!("{m} (journée)"),
                (Some(m), Some(a)) => format!("{m} (matin), {a} (après-midi)"),
                (Some(m), None) => format!("{m} (matin)"),
                (None, Some(a)) => format!("{a} (après-midi)"),
                (None, None) => "–".to_owned(),
            };
            let mut label = day.to_string();
            label[..1].make_ascii_uppercase();
            WeekRow {
                day: label,
                morning,
                afternoon,
                summary,
            }
        })
        .collect()
}
