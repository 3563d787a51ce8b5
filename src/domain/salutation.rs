//! How every e-mail to a candidate greets them: « Bonjour Docteur Martin, » when the person is
//! known to be a doctor, « Bonjour Claire Martin, » otherwise. One rule for the confirmation,
//! the stage messages, the offer, the meeting invitation, the consent renewal and the personal
//! data link.

/// Situations (codes of `db::enums::Situation`) of people who hold the title of doctor. An
/// intern has not defended a thesis yet; « autre » says nothing.
const DOCTOR_SITUATIONS: &[&str] = &[
    "jeune_diplome",
    "remplacant",
    "liberal",
    "salarie",
    "retraite",
    "diplome_etranger",
];

/// Whether to write « Docteur »: an RPPS number on file, or a doctor's situation.
pub fn is_doctor(situation_code: &str, rpps: Option<&str>) -> bool {
    rpps.is_some_and(|r| !r.trim().is_empty()) || DOCTOR_SITUATIONS.contains(&situation_code)
}

/// What follows « Bonjour » (without the comma): « Docteur Martin » or « Claire Martin ».
pub fn salutation(first: &str, last: &str, situation_code: &str, rpps: Option<&str>) -> String {
    let (first, last) = (first.trim(), last.trim());
    if is_doctor(situation_code, rpps) && !last.is_empty() {
        format!("Docteur {last}")
    } else {
        [first, last]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doctor_is_greeted_as_docteur_and_others_by_name() {
        assert_eq!(
            salutation("Claire", "Martin", "liberal", None),
            "Docteur Martin"
        );
        assert_eq!(
            salutation("Claire", "Martin", "autre", Some("10101010101")),
            "Docteur Martin"
        );
        assert_eq!(
            salutation("Claire", "Martin", "interne", None),
            "Claire Martin"
        );
        assert_eq!(
            salutation("Claire", "Martin", "autre", Some(" ")),
            "Claire Martin"
        );
        assert_eq!(salutation("", "Martin", "autre", None), "Martin");
    }
}
