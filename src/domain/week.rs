use std::fmt;

use super::Invalid;

pub const WEEKDAYS: [&str; 5] = ["lundi", "mardi", "mercredi", "jeudi", "vendredi"];

/// One of the ten half-days of a working week (Monday morning = 0 … Friday afternoon = 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HalfDay(u8);

impl HalfDay {
    pub fn all() -> impl Iterator<Item = HalfDay> {
        (0..10).map(HalfDay)
    }

    /// The code forms send: "lun-matin", "ven-apres-midi".
    pub fn code(self) -> String {
        let day = &WEEKDAYS[usize::from(self.0 / 2)][..3];
        let part = if self.0.is_multiple_of(2) {
            "matin"
        } else {
            "apres-midi"
        };
        format!("{day}-{part}")
    }

    pub fn from_code(code: &str) -> Option<HalfDay> {
        HalfDay::all().find(|h| h.code() == code)
    }

    /// "lundi matin", "vendredi après-midi".
    pub fn label(self) -> String {
        let day = WEEKDAYS[usize::from(self.0 / 2)];
        let part = if self.0.is_multiple_of(2) {
            "matin"
        } else {
            "après-midi"
        };
        format!("{day} {part}")
    }

    fn bit(self) -> u16 {
        1 << self.0
    }
}

/// The half-days worked in one centre during a week, as a 10-bit mask (stored as smallint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WeekPattern(u16);

impl WeekPattern {
    pub fn from_bits(bits: i16) -> Option<WeekPattern> {
        u16::try_from(bits)
            .ok()
            .filter(|b| *b < 1 << 10)
            .map(WeekPattern)
    }

    pub fn bits(self) -> i16 {
        self.0 as i16
    }

    /// Parses the half-day codes ticked on a form. A half-day given twice, or more than the ten
    /// half-days of a week, is refused; unknown codes too.
    pub fn from_codes<S: AsRef<str>>(codes: &[S]) -> Result<WeekPattern, Invalid> {
        if codes.len() > 10 {
            return Err(Invalid::new(format!(
                "Une semaine compte dix demi-journées au plus ; {} ont été indiquées.",
                codes.len()
            )));
        }
        let mut bits = 0u16;
        for code in codes {
            let code = code.as_ref();
            let half_day = HalfDay::from_code(code)
                .ok_or_else(|| Invalid::new(format!("« {code} » n'est pas une demi-journée.")))?;
            if bits & half_day.bit() != 0 {
                return Err(Invalid::new(format!(
                    "Le {} est indiqué deux fois.",
                    half_day.label()
                )));
            }
            bits |= half_day.bit();
        }
        Ok(WeekPattern(bits))
    }

    pub fn contains(self, half_day: HalfDay) -> bool {
        self.0 & half_day.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn count(self) -> u32 {
        self.0.count_ones()
    }

    pub fn half_days(self) -> impl Iterator<Item = HalfDay> {
        HalfDay::all().filter(move |h| self.contains(*h))
    }

    /// Half-days in both patterns.
    pub fn overlap(self, other: WeekPattern) -> WeekPattern {
        WeekPattern(self.0 & other.0)
    }

    pub fn union(self, other: WeekPattern) -> WeekPattern {
        WeekPattern(self.0 | other.0)
    }

    /// Per weekday: "journée", "matin", "après-midi" or "" (the weekly table of an offer).
    pub fn by_day(self) -> [&'static str; 5] {
        let mut days = [""; 5];
        for (i, day) in days.iter_mut().enumerate() {
            let morning = self.contains(HalfDay(2 * i as u8));
            let afternoon = self.contains(HalfDay(2 * i as u8 + 1));
            *day = match (morning, afternoon) {
                (true, true) => "journée",
                (true, false) => "matin",
                (false, true) => "après-midi",
                (false, false) => "",
            };
        }
        days
    }
}

/// Readable: "lundi, mardi, mercredi matin", "lundi au mercredi" for whole consecutive days.
impl fmt::Display for WeekPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.by_day();
        let whole: Vec<usize> = (0..5).filter(|i| days[*i] == "journée").collect();
        let all_whole_consecutive = whole.len() >= 3
            && whole.windows(2).all(|w| w[1] == w[0] + 1)
            && days
                .iter()
                .enumerate()
                .all(|(i, d)| d.is_empty() || whole.contains(&i));
        if all_whole_consecutive {
            return write!(
                f,
                "du {} au {}",
                WEEKDAYS[whole[0]],
                WEEKDAYS[whole[whole.len() - 1]]
            );
        }
        let parts: Vec<String> = (0..5)
            .filter(|i| !days[*i].is_empty())
            .map(|i| match days[i] {
                "journée" => WEEKDAYS[i].to_owned(),
                part => format!("{} {}", WEEKDAYS[i], part),
            })
            .collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(codes: &[&str]) -> WeekPattern {
        WeekPattern::from_codes(codes).unwrap()
    }

    #[test]
    fn codes_round_trip() {
        for h in HalfDay::all() {
            assert_eq!(HalfDay::from_code(&h.code()), Some(h));
        }
        assert_eq!(HalfDay::from_code("sam-matin"), None);
    }

    #[test]
    fn a_split_week_reads_naturally() {
        let vic = pattern(&[
            "lun-matin",
            "lun-apres-midi",
            "mar-matin",
            "mar-apres-midi",
            "mer-matin",
            "mer-apres-midi",
        ]);
        assert_eq!(vic.to_string(), "du lundi au mercredi");
        assert_eq!(vic.count(), 6);
        let fleurance = pattern(&["jeu-matin", "jeu-apres-midi", "ven-matin"]);
        assert_eq!(fleurance.to_string(), "jeudi, vendredi matin");
        assert!(vic.overlap(fleurance).is_empty());
        assert_eq!(vic.union(fleurance).count(), 9);
    }

    #[test]
    fn a_half_day_twice_or_an_unknown_code_is_refused() {
        assert!(WeekPattern::from_codes(&["lun-matin", "lun-matin"]).is_err());
        assert!(WeekPattern::from_codes(&["dim-matin"]).is_err());
        let eleven: Vec<&str> = std::iter::repeat_n("lun-matin", 11).collect();
        let err = WeekPattern::from_codes(&eleven).unwrap_err();
        assert!(err.0.contains("dix demi-journées"), "{err}");
    }

    #[test]
    fn bits_are_checked_when_read_back() {
        assert_eq!(WeekPattern::from_bits(1023).map(|p| p.count()), Some(10));
        assert_eq!(WeekPattern::from_bits(1024), None);
        assert_eq!(WeekPattern::from_bits(-1), None);
    }
}
