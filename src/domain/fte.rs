use std::fmt;

use super::Invalid;

/// A full-time equivalent in hundredths (1.0 FTE = 100): exact arithmetic, no floats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Fte(u16);

impl Fte {
    pub const FULL: Fte = Fte(100);
    /// One half-day a week: a full week is ten half-days.
    pub const HALF_DAY: Fte = Fte(10);

    /// From hundredths stored in the database; None outside 0..=100.
    pub fn from_hundredths(h: i32) -> Option<Fte> {
        u16::try_from(h).ok().filter(|h| *h <= 100).map(Fte)
    }

    pub fn hundredths(self) -> i32 {
        i32::from(self.0)
    }

    /// Parses what a recruiter types: "0,6", "0.6", "1", "60 %", "60%", ",8". Between 0.01 and
    /// 1, at most two decimals.
    pub fn parse(input: &str) -> Result<Fte, Invalid> {
        let text: String = input
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if text.is_empty() {
            return Err(Invalid::new(
                "Indiquez le temps de travail en équivalent temps plein, par exemple 0,6 ou 60 %.",
            ));
        }
        let wrong = || {
            Invalid::new(format!(
                "« {} » n'est pas un équivalent temps plein : écrivez un nombre entre 0,01 et 1 \
                 (par exemple 0,6) ou un pourcentage (60 %).",
                input.trim()
            ))
        };
        let hundredths = if let Some(percent) = text.strip_suffix('%') {
            if percent.is_empty() || !percent.chars().all(|c| c.is_ascii_digit()) {
                return Err(wrong());
            }
            percent.parse::<u32>().map_err(|_| wrong())?
        } else {
            let (int, frac) =
                match split_decimal(&text) {
                    Ok(parts) => parts,
                    Err(DecimalError::NotANumber) => return Err(wrong()),
                    Err(DecimalError::TooManyDecimals) => return Err(Invalid::new(
                        "Deux décimales au plus pour un équivalent temps plein (par exemple 0,75).",
                    )),
                };
            let int: u32 = if int.is_empty() {
                0
            } else {
                int.parse().map_err(|_| wrong())?
            };
            int.saturating_mul(100).saturating_add(frac)
        };
        match hundredths {
            0 => Err(Invalid::new(
                "L'équivalent temps plein doit être supérieur à zéro.",
            )),
            1..=100 => Ok(Fte(hundredths as u16)),
            _ => Err(Invalid::new(
                "L'équivalent temps plein ne peut dépasser 1 (un temps plein).",
            )),
        }
    }

    /// The sum of several shares in hundredths (it may pass a full time: callers check).
    pub fn sum(values: impl IntoIterator<Item = Fte>) -> u32 {
        values.into_iter().map(|f| u32::from(f.0)).sum()
    }

    /// French decimal notation: "1", "0,6", "0,75".
    pub fn to_french(self) -> String {
        format_hundredths(i64::from(self.0))
    }
}

/// Why [`split_decimal`] refused a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    NotANumber,
    TooManyDecimals,
}

/// A decimal number as typed without spaces ("2,75", "2.75", ",5", "3"): its integer digits
/// (possibly empty) and its decimals in hundredths (at most two decimals).
pub fn split_decimal(text: &str) -> Result<(String, u32), DecimalError> {
    let text = text.replace(',', ".");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let digits_only = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_only(int) || !digits_only(frac) {
        return Err(DecimalError::NotANumber);
    }
    if frac.len() > 2 {
        return Err(DecimalError::TooManyDecimals);
    }
    let frac: u32 = format!("{frac:0<2}")
        .parse()
        .map_err(|_| DecimalError::NotANumber)?;
    Ok((int.to_owned(), frac))
}

/// Hundredths of FTE in French decimal notation: 100 → "1", 60 → "0,6", 275 → "2,75".
pub fn format_hundredths(h: i64) -> String {
    let (int, frac) = (h / 100, (h % 100).abs());
    match frac {
        0 => int.to_string(),
        f if f % 10 == 0 => format!("{int},{}", f / 10),
        f => format!("{int},{f:02}"),
    }
}

impl fmt::Display for Fte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_french())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_and_percentages_are_read_exactly() {
        for (input, hundredths) in [
            ("1", 100),
            ("0,6", 60),
            ("0.6", 60),
            (" 0,75 ", 75),
            (",8", 80),
            ("60 %", 60),
            ("60%", 60),
            ("1,0", 100),
            ("0,05", 5),
        ] {
            assert_eq!(
                Fte::parse(input).map(Fte::hundredths),
                Ok(hundredths),
                "{input}"
            );
        }
    }

    #[test]
    fn out_of_range_or_malformed_values_are_refused() {
        for input in [
            "", "0", "0,00", "1,2", "120 %", "0,625", "abc", "0,6,1", "-0,5", "%",
        ] {
            assert!(Fte::parse(input).is_err(), "{input} should be refused");
        }
    }

    #[test]
    fn sums_are_exact_for_fractions() {
        // 0.1 + 0.2 = 0.3 exactly, unlike floats.
        let parts = ["0,1", "0,2"].map(|s| Fte::parse(s).unwrap());
        assert_eq!(Fte::sum(parts), 30);
        assert_eq!(format_hundredths(30), "0,3");
        assert_eq!(format_hundredths(275), "2,75");
        assert_eq!(format_hundredths(1000), "10");
    }
}
