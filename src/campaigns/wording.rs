//! French as these pages write it: counts with their plural and thousands grouped by a narrow
//! no-break space (« 1 234 destinataires », « 1 clic », « 2 clics »), and dates with their day
//! and hour as people say them (« lundi 14 décembre 2026 à 9 h », « … à 9 h 30 »).

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Europe::Paris;

/// `n` with its thousands grouped by a narrow no-break space: 1 234 567.
pub fn number(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + 8);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(d);
    }
    out
}

/// `n` and its noun, singular for 0 and 1 (the French rule): « 1 clic », « 0 clic »,
/// « 2 clics ».
pub fn count(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", number(n), if n.abs() <= 1 { one } else { many })
}

const WEEKDAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];
const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// « lundi 14 décembre 2026 à 9 h » (Paris time; « à 9 h 30 » with minutes; « 1er » for the
/// first of the month).
pub fn long_datetime(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&Paris);
    let day = match local.day() {
        1 => "1er".to_owned(),
        d => d.to_string(),
    };
    let hour = match local.minute() {
        0 => format!("{} h", local.hour()),
        m => format!("{} h {m:02}", local.hour()),
    };
    format!(
        "{} {day} {} {} à {hour}",
        WEEKDAYS[local.weekday().num_days_from_monday() as usize],
        MONTHS[local.month0() as usize],
        local.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn numbers_are_grouped_by_thousands_with_a_narrow_space() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1234), "1\u{202f}234");
        assert_eq!(number(-1_234_567), "-1\u{202f}234\u{202f}567");
    }

    #[test]
    fn counts_take_the_french_plural() {
        assert_eq!(count(0, "clic", "clics"), "0 clic");
        assert_eq!(count(1, "clic", "clics"), "1 clic");
        assert_eq!(count(2, "clic", "clics"), "2 clics");
        assert_eq!(
            count(1234, "destinataire", "destinataires"),
            "1\u{202f}234 destinataires"
        );
    }

    #[test]
    fn dates_read_as_people_say_them() {
        // 14/12/2026 08:00 UTC is 9:00 in Paris (winter time).
        let t = Utc.with_ymd_and_hms(2026, 12, 14, 8, 0, 0).unwrap();
        assert_eq!(long_datetime(t), "lundi 14 décembre 2026 à 9 h");
        let t = Utc.with_ymd_and_hms(2027, 6, 1, 7, 30, 0).unwrap();
        assert_eq!(long_datetime(t), "mardi 1er juin 2027 à 9 h 30");
    }
}
