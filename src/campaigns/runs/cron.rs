//! Recurring campaigns' cron expressions (Europe/Paris): checked when the form is sent, their
//! next occurrences shown, and the latest due occurrence found by the scheduler's tick.

use chrono::{DateTime, Duration, Utc};

/// Parses a recurring schedule: 5 fields (minute hour day month weekday) or 6 (seconds first).
/// Occurrences less than an hour apart are refused: a mailing to thousands of people every
/// minute is a typing mistake, not a campaign.
pub fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    let fields = expr.split_whitespace().count();
    if fields != 5 && fields != 6 {
        return Err(format!(
            "« {expr} » a {fields} champ(s) ; écrivez 5 champs : minute heure jour mois jour-de-semaine (par exemple « 0 9 * * 1 » pour chaque lundi à 9 h)"
        ));
    }
    let cron: croner::Cron = expr
        .trim()
        .parse()
        .map_err(|e| format!("« {expr} » n'est pas une expression cron valide ({e})"))?;
    let start = Utc::now().with_timezone(&chrono_tz::Europe::Paris);
    let mut it = cron.iter_after(start);
    let (Some(a), Some(b)) = (it.next(), it.next()) else {
        return Err(format!("« {expr} » ne se produit jamais"));
    };
    if b - a < Duration::hours(1) {
        return Err(format!(
            "« {expr} » enverrait un message toutes les {} minute(s) : il faut au moins une heure entre deux envois",
            (b - a).num_minutes().max(1)
        ));
    }
    Ok(cron)
}

/// The next `n` occurrences after `after` (Paris time), for the campaign's page.
pub fn next_occurrences(expr: &str, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    match parse_cron(expr) {
        Ok(cron) => cron
            .iter_after(after.with_timezone(&chrono_tz::Europe::Paris))
            .take(n)
            .map(|t| t.with_timezone(&Utc))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The latest occurrence at or before `now`, if any after `since`.
pub(super) fn latest_occurrence(
    cron: &croner::Cron,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let paris = now.with_timezone(&chrono_tz::Europe::Paris);
    let t = cron.find_previous_occurrence(&paris, true).ok()?;
    let t = t.with_timezone(&Utc);
    (t > since).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_crons_are_accepted_and_too_frequent_ones_refused() {
        assert!(parse_cron("0 9 * * 1").is_ok());
        assert!(parse_cron("0 0 9 1 * *").is_ok());
        let err = parse_cron("*/5 * * * *").unwrap_err();
        assert!(err.contains("au moins une heure"), "{err}");
        assert!(parse_cron("0 9 * *").unwrap_err().contains("4 champ"));
        assert!(parse_cron("0 25 * * *").is_err());
    }

    #[test]
    fn occurrences_are_in_paris_time() {
        // Every Monday at 9:00 in Paris: 8:00 UTC in winter.
        let after = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let next = next_occurrences("0 9 * * 1", after, 2);
        assert_eq!(next[0].to_rfc3339(), "2026-11-30T08:00:00+00:00");
        assert_eq!(next[1].to_rfc3339(), "2026-12-07T08:00:00+00:00");
    }

    #[test]
    fn the_latest_occurrence_is_after_the_reference_only() {
        let cron = parse_cron("0 9 * * *").unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let now = at("2026-11-23T10:30:00Z");
        assert_eq!(
            latest_occurrence(&cron, at("2026-11-22T12:00:00Z"), now),
            Some(at("2026-11-23T08:00:00Z"))
        );
        assert_eq!(
            latest_occurrence(&cron, at("2026-11-23T08:00:00Z"), now),
            None
        );
    }
}
