//! What every form check shares, whatever the page or the API that received the form: the
//! French messages per field, and how dates and part-time weeks are read and written.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

/// Per-field messages, keyed by field id.
#[derive(Debug, Default, Serialize)]
pub struct FieldErrors(pub BTreeMap<&'static str, String>);

impl FieldErrors {
    /// Keeps the first message given for a field.
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One entry per field in error, in the order of `fields` (id, label): the summary shown
    /// above a form, each entry linking to its field.
    pub fn summary(&self, fields: &[(&'static str, &'static str)]) -> Vec<SummaryItem> {
        fields
            .iter()
            .filter_map(|(id, label)| {
                self.0.get(id).map(|m| SummaryItem {
                    field: id,
                    label,
                    message: m.clone(),
                })
            })
            .collect()
    }
}

/// One line of a form's error summary.
#[derive(Debug, Serialize)]
pub struct SummaryItem {
    pub field: &'static str,
    pub label: &'static str,
    pub message: String,
}

/// Parses a date typed as AAAA-MM-JJ (the date picker) or JJ/MM/AAAA (typed by hand).
pub fn parse_date(input: &str) -> Option<NaiveDate> {
    let t = input.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d/%m/%Y"))
        .ok()
}

/// "3 jours ½ par semaine" for 7 half-days.
pub fn describe_half_days(half_days: i16) -> String {
    let days = half_days / 2;
    let half = half_days % 2 == 1;
    match (days, half) {
        (0, _) => "½ journée par semaine".to_owned(),
        (1, false) => "1 jour par semaine".to_owned(),
        (1, true) => "1 jour ½ par semaine".to_owned(),
        (d, false) => format!("{d} jours par semaine"),
        (d, true) => format!("{d} jours ½ par semaine"),
    }
}

/// Today's date in Paris, where the campaign's days begin and end.
pub fn paris_today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_in_both_usual_forms() {
        assert_eq!(
            parse_date("2027-09-01"),
            NaiveDate::from_ymd_opt(2027, 9, 1)
        );
        assert_eq!(
            parse_date("01/09/2027"),
            NaiveDate::from_ymd_opt(2027, 9, 1)
        );
        assert_eq!(parse_date("septembre"), None);
    }

    #[test]
    fn half_days_read_as_days() {
        assert_eq!(describe_half_days(1), "½ journée par semaine");
        assert_eq!(describe_half_days(6), "3 jours par semaine");
        assert_eq!(describe_half_days(7), "3 jours ½ par semaine");
    }

    #[test]
    fn the_summary_follows_the_form_and_keeps_the_first_message() {
        let mut errors = FieldErrors::default();
        errors.add("b", "deuxième");
        errors.add("a", "premier");
        errors.add("a", "ignoré");
        let fields: Vec<_> = errors
            .summary(&[("a", "A"), ("b", "B"), ("c", "C")])
            .into_iter()
            .map(|s| (s.field, s.message))
            .collect();
        assert_eq!(
            fields,
            [("a", "premier".to_owned()), ("b", "deuxième".to_owned())]
        );
    }
}
