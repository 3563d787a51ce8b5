//! The spouse's job (#Dites32 à 2): whether a doctor asks, when applying, for the département's
//! support in their spouse's job search, and for which field of work.
//!
//! The field of work is free text, one line of at most [`MAX_SPOUSE_FIELD_CHARS`] characters:
//! spouses' trades are too varied for a short list to fit (teacher, nurse, farmer, engineer,
//! looking for a first job…), the recruiter reads it to call the right partners, and the reports
//! count only the « oui ». It is kept only with a « oui » (what the person did not ask for is
//! not stored).

use super::Invalid;

/// The longest field of work accepted, in characters.
pub const MAX_SPOUSE_FIELD_CHARS: usize = 200;

/// The answer to the optional question.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SpouseSupport {
    /// The question was left unanswered.
    #[default]
    NotAnswered,
    /// « Non »: no support wanted (or no spouse).
    No,
    /// « Oui », with the field of work when given.
    Yes { field: Option<String> },
}

impl SpouseSupport {
    /// Parses the form's two fields: the answer (`oui`, `non` or empty) and the field of work,
    /// which is read only with `oui`. Errors are `(field id, French message)`.
    pub fn parse(answer: &str, field: &str) -> Result<SpouseSupport, (&'static str, Invalid)> {
        match answer.trim() {
            "" => Ok(SpouseSupport::NotAnswered),
            "non" => Ok(SpouseSupport::No),
            "oui" => {
                let field = parse_field(field).map_err(|e| ("conjoint_domaine", e))?;
                Ok(SpouseSupport::Yes { field })
            }
            _ => Err((
                "conjoint",
                Invalid::new("Répondez « Oui » ou « Non », ou laissez la question sans réponse."),
            )),
        }
    }

    /// From the stored columns (`spouse_support`, `spouse_field`).
    pub fn from_columns(support: Option<bool>, field: Option<String>) -> SpouseSupport {
        match support {
            None => SpouseSupport::NotAnswered,
            Some(false) => SpouseSupport::No,
            Some(true) => SpouseSupport::Yes { field },
        }
    }

    /// The stored columns (`spouse_support`, `spouse_field`).
    pub fn columns(&self) -> (Option<bool>, Option<&str>) {
        match self {
            SpouseSupport::NotAnswered => (None, None),
            SpouseSupport::No => (Some(false), None),
            SpouseSupport::Yes { field } => (Some(true), field.as_deref()),
        }
    }

    /// The form's (and the API's) code: `oui`, `non` or empty.
    pub fn code(&self) -> &'static str {
        match self {
            SpouseSupport::NotAnswered => "",
            SpouseSupport::No => "non",
            SpouseSupport::Yes { .. } => "oui",
        }
    }

    pub fn wanted(&self) -> bool {
        matches!(self, SpouseSupport::Yes { .. })
    }

    /// The field of work, with a « oui ».
    pub fn field(&self) -> Option<&str> {
        match self {
            SpouseSupport::Yes { field } => field.as_deref(),
            _ => None,
        }
    }

    /// In French, for recruiters and the person's own data.
    pub fn label(&self) -> String {
        match self {
            SpouseSupport::NotAnswered => "Sans réponse".to_owned(),
            SpouseSupport::No => "Non".to_owned(),
            SpouseSupport::Yes { field: None } => "Oui (domaine non précisé)".to_owned(),
            SpouseSupport::Yes { field: Some(f) } => format!("Oui : {f}"),
        }
    }
}

/// The field of work: one line, spaces folded, at most [`MAX_SPOUSE_FIELD_CHARS`] characters;
/// empty gives `None`. Control characters (NUL, line breaks…) are refused rather than removed,
/// so that the person sees what was wrong.
fn parse_field(input: &str) -> Result<Option<String>, Invalid> {
    if input.chars().any(char::is_control) {
        return Err(Invalid::new(
            "Le domaine contient un caractère invisible ou un retour à la ligne : écrivez-le sur \
             une seule ligne, par exemple « enseignement » ou « soins infirmiers ».",
        ));
    }
    let folded = input.split_whitespace().collect::<Vec<_>>().join(" ");
    let count = folded.chars().count();
    if count > MAX_SPOUSE_FIELD_CHARS {
        return Err(Invalid::new(format!(
            "Le domaine compte {count} caractères ; résumez-le en {MAX_SPOUSE_FIELD_CHARS} \
             caractères au plus (par exemple « enseignement » ou « soins infirmiers »)."
        )));
    }
    Ok((!folded.is_empty()).then_some(folded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_and_the_field_is_kept_only_with_a_yes() {
        assert_eq!(
            SpouseSupport::parse("", "x"),
            Ok(SpouseSupport::NotAnswered)
        );
        assert_eq!(
            SpouseSupport::parse("non", "enseignement"),
            Ok(SpouseSupport::No)
        );
        assert_eq!(
            SpouseSupport::parse("oui", "  soins   infirmiers "),
            Ok(SpouseSupport::Yes {
                field: Some("soins infirmiers".into())
            })
        );
        assert_eq!(
            SpouseSupport::parse("oui", "   "),
            Ok(SpouseSupport::Yes { field: None })
        );
    }

    #[test]
    fn careless_and_hostile_answers_are_refused_with_a_french_message() {
        assert_eq!(
            SpouseSupport::parse("peut-être", "").unwrap_err().0,
            "conjoint"
        );
        let (field, e) = SpouseSupport::parse("oui", &"é".repeat(201)).unwrap_err();
        assert_eq!(field, "conjoint_domaine");
        assert!(e.0.contains("201 caractères"), "{}", e.0);
        assert!(SpouseSupport::parse("oui", &"é".repeat(200)).is_ok());
        for bad in ["a\u{0}b", "ligne\nautre", "a\u{1b}[31m"] {
            assert_eq!(
                SpouseSupport::parse("oui", bad).unwrap_err().0,
                "conjoint_domaine"
            );
        }
        let html = "<script>alert(1)</script> {{x}}";
        assert_eq!(
            SpouseSupport::parse("oui", html).unwrap().field(),
            Some(html),
            "kept as typed, escaped where shown"
        );
    }

    #[test]
    fn columns_round_trip() {
        for s in [
            SpouseSupport::NotAnswered,
            SpouseSupport::No,
            SpouseSupport::Yes { field: None },
            SpouseSupport::Yes {
                field: Some("agriculture".into()),
            },
        ] {
            let (a, b) = s.columns();
            assert_eq!(SpouseSupport::from_columns(a, b.map(str::to_owned)), s);
        }
    }
}
