//! Counts, days and hours written the French way (the staff home, the journal):
//! « 1 candidature », « 2 candidatures », « 1 234 » with a narrow no-break space, « il y a
//! 3 jours », « 14 h 30 », « 1 h 30 ».

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};

/// The narrow no-break space French puts between groups of thousands.
const NARROW_NBSP: char = '\u{202f}';

/// `n` with its thousands grouped: « 1 234 567 ».
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + 4);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(NARROW_NBSP);
        }
        out.push(c);
    }
    out
}

/// The word for `n` things: French uses the singular for 0 and 1.
pub fn plural<'a>(n: i64, one: &'a str, many: &'a str) -> &'a str {
    if n.abs() <= 1 {
        one
    } else {
        many
    }
}

/// « 1 candidature », « 12 candidatures », « 1 234 candidatures ».
pub fn count_label(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), plural(n, one, many))
}

/// When something happened, `days` days before today: « aujourd'hui », « hier », « il y a
/// 3 jours ».
pub fn days_ago(days: i64) -> String {
    match days {
        i64::MIN..=0 => "aujourd'hui".to_owned(),
        1 => "hier".to_owned(),
        n => format!("il y a {}", count_label(n, "jour", "jours")),
    }
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

/// « lundi 7 décembre » (« 1er » for the first of the month).
pub fn weekday_date(d: NaiveDate) -> String {
    let weekday = WEEKDAYS[d.weekday().num_days_from_monday() as usize];
    let day = if d.day() == 1 {
        "1er".to_owned()
    } else {
        d.day().to_string()
    };
    format!("{weekday} {day} {}", MONTHS[d.month0() as usize])
}

/// « 14 h 30 », « 9 h ».
pub fn time_of_day(t: NaiveTime) -> String {
    if t.minute() == 0 {
        format!("{} h", t.hour())
    } else {
        format!("{} h {:02}", t.hour(), t.minute())
    }
}

/// A duration as people write it, kept on one line by no-break spaces: « 45 min », « 1 h »,
/// « 1 h 30 », « 4 h ».
pub fn duration(minutes: i32) -> String {
    let minutes = minutes.max(0);
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}\u{a0}min"),
        (h, 0) => format!("{h}\u{a0}h"),
        (h, m) => format!("{h}\u{a0}h\u{a0}{m:02}"),
    }
}

/// « lundi 14 décembre 2026 à 9 h » (Paris time; « à 9 h 30 » with minutes; « 1er » for the
/// first of the month).
pub fn long_datetime(t: chrono::DateTime<chrono::Utc>) -> String {
    let local = t.with_timezone(&chrono_tz::Europe::Paris);
    format!(
        "{} {} à {}",
        weekday_date(local.date_naive()),
        local.year(),
        time_of_day(local.time())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_written_the_french_way() {
        assert_eq!(
            count_label(0, "candidature", "candidatures"),
            "0 candidature"
        );
        assert_eq!(
            count_label(1, "candidature", "candidatures"),
            "1 candidature"
        );
        assert_eq!(
            count_label(2, "candidature", "candidatures"),
            "2 candidatures"
        );
        assert_eq!(thousands(1234), "1\u{202f}234");
        assert_eq!(thousands(50_000), "50\u{202f}000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(thousands(-1234), "-1\u{202f}234");
    }

    #[test]
    fn days_hours_and_durations_read_as_people_write_them() {
        assert_eq!(days_ago(0), "aujourd'hui");
        assert_eq!(days_ago(1), "hier");
        assert_eq!(days_ago(12), "il y a 12 jours");
        assert_eq!(duration(240), "4\u{a0}h");
        assert_eq!(duration(90), "1\u{a0}h\u{a0}30");
        assert_eq!(duration(45), "45\u{a0}min");
        assert_eq!(duration(65), "1\u{a0}h\u{a0}05");
        assert_eq!(duration(-5), "0\u{a0}min");
        use chrono::TimeZone;
        // 14/12/2026 08:00 UTC is 9:00 in Paris (winter time).
        let t = chrono::Utc.with_ymd_and_hms(2026, 12, 14, 8, 0, 0).unwrap();
        assert_eq!(long_datetime(t), "lundi 14 décembre 2026 à 9 h");
        let t = chrono::Utc.with_ymd_and_hms(2027, 6, 1, 7, 30, 0).unwrap();
        assert_eq!(long_datetime(t), "mardi 1er juin 2027 à 9 h 30");
        let t = NaiveTime::from_hms_opt(14, 30, 0).unwrap();
        assert_eq!(time_of_day(t), "14 h 30");
        assert_eq!(
            time_of_day(NaiveTime::from_hms_opt(9, 0, 0).unwrap()),
            "9 h"
        );
        let d = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(weekday_date(d), "lundi 7 décembre");
        let first = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        assert_eq!(weekday_date(first), "vendredi 1er janvier");
    }
}
