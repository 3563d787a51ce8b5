//! Synthetic people: first and last names, what they write with their application, RPPS
//! numbers with a valid key, the ASCII form of a name for an e-mail address, and the demo's
//! address domain.

use rand::rngs::StdRng;
use rand::Rng;

use crate::db::enums::Civility;

/// The domain of every demo address (`.test` is reserved: no mail ever reaches it).
pub const DEMO_EMAIL_DOMAIN: &str = "exemple.test";
/// The demo's first administrator.
pub const DEMO_ADMIN_EMAIL: &str = "admin@exemple.test";

pub(super) const FIRST_NAMES: &[(&str, Civility)] = &[
    ("Camille", Civility::Madame),
    ("Julien", Civility::Monsieur),
    ("Sophie", Civility::Madame),
    ("Thomas", Civility::Monsieur),
    ("Léa", Civility::Madame),
    ("Nicolas", Civility::Monsieur),
    ("Chloé", Civility::Madame),
    ("Mathieu", Civility::Monsieur),
    ("Inès", Civility::Madame),
    ("Antoine", Civility::Monsieur),
    ("Manon", Civility::Madame),
    ("Hugo", Civility::Monsieur),
    ("Sarah", Civility::Madame),
    ("Pierre", Civility::Monsieur),
    ("Élise", Civility::Madame),
    ("Karim", Civility::Monsieur),
    ("Aurélie", Civility::Madame),
    ("Jean-Baptiste", Civility::Monsieur),
    ("Marie", Civility::NotSaid),
    ("Youssef", Civility::Monsieur),
];

pub(super) const LAST_NAMES: &[&str] = &[
    "Dupuy", "Lacoste", "Castaing", "Fourcade", "Soulé", "Bordes", "Lafitte", "Cazaux", "Daguzan",
    "Abadie", "Barrère", "Ducasse", "Larrieu", "Pujol", "Sarrade", "Labat", "Mansour", "Nguyen",
    "Rossi", "Martin", "Garcia", "Bernard", "Dubois", "Lefèvre",
];

pub(super) const MESSAGES: &[&str] = &[
    "Installée à Toulouse, je cherche un exercice salarié à temps partiel près d'Auch.",
    "Fin d'internat en mai ; intéressé par la maîtrise de stage.",
    "Mon conjoint a trouvé un poste dans le Gers, nous cherchons à nous installer.",
    "Retraité depuis un an, je souhaite garder une activité deux jours par semaine.",
    "",
];

/// A synthetic RPPS number with a valid Luhn key.
pub(super) fn synthetic_rpps(rng: &mut StdRng) -> String {
    let body: String = std::iter::once('1')
        .chain((0..9).map(|_| char::from(b'0' + rng.gen_range(0..10u8))))
        .collect();
    (0..10u8)
        .map(|k| format!("{body}{k}"))
        .find(|candidate| crate::domain::Rpps::parse(candidate).is_ok())
        .expect("one of ten keys satisfies Luhn")
}

/// Names added to the demo's for the generated candidates (`generate_candidates`): with 50,000
/// doctors, a name search should find a few hundred people, not a tenth of the base.
pub(super) const MORE_FIRST_NAMES: &[(&str, Civility)] = &[
    ("Anne", Civility::Madame),
    ("François", Civility::Monsieur),
    ("Isabelle", Civility::Madame),
    ("Laurent", Civility::Monsieur),
    ("Nathalie", Civility::Madame),
    ("Philippe", Civility::Monsieur),
    ("Valérie", Civility::Madame),
    ("Olivier", Civility::Monsieur),
    ("Céline", Civility::Madame),
    ("Sébastien", Civility::Monsieur),
    ("Émilie", Civility::Madame),
    ("Guillaume", Civility::Monsieur),
    ("Claire", Civility::Madame),
    ("Maxime", Civility::Monsieur),
    ("Julie", Civility::Madame),
    ("Alexandre", Civility::Monsieur),
    ("Pauline", Civility::Madame),
    ("Romain", Civility::Monsieur),
    ("Lucie", Civility::Madame),
    ("Benoît", Civility::Monsieur),
    ("Amina", Civility::Madame),
    ("Mehdi", Civility::Monsieur),
    ("Fatima", Civility::Madame),
    ("Ahmed", Civility::Monsieur),
    ("Linh", Civility::Madame),
    ("Minh", Civility::Monsieur),
    ("Ioana", Civility::Madame),
    ("Andrei", Civility::Monsieur),
    ("Giulia", Civility::Madame),
    ("Marco", Civility::Monsieur),
    ("Hélène", Civility::Madame),
    ("Bernard", Civility::Monsieur),
    ("Agnès", Civility::Madame),
    ("Yves", Civility::Monsieur),
    ("Dominique", Civility::NotSaid),
    ("Claude", Civility::NotSaid),
    ("Mathilde", Civility::Madame),
    ("Adrien", Civility::Monsieur),
    ("Margaux", Civility::Madame),
    ("Loïc", Civility::Monsieur),
];

/// Item `i` of `first` followed by `second`.
pub(super) fn pick<T: Copy>(first: &[T], second: &[T], i: usize) -> T {
    first
        .get(i)
        .copied()
        .unwrap_or_else(|| second[i - first.len()])
}

pub(super) const MORE_LAST_NAMES: &[&str] = &[
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Michel",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Marie",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
    "Brun",
    "Blanchard",
    "Giraud",
    "Joly",
    "Rivière",
    "Lucas",
    "Brunet",
    "Gaillard",
    "Barbier",
    "Arnaud",
    "Martinez",
    "Gérard",
    "Roche",
    "Renard",
    "Schmitt",
    "Roy",
    "Leroux",
    "Colin",
    "Vidal",
    "Caron",
    "Picard",
    "Roger",
    "Fabre",
    "Aubert",
    "Lemoine",
    "Renaud",
    "Dumas",
    "Lacroix",
    "Olivier",
    "Philippe",
    "Bourgeois",
    "Pierre",
    "Benoît",
    "Rey",
    "Leclerc",
    "Payet",
    "Rolland",
    "Lecomte",
    "Laborde",
    "Dauzère",
    "Capdeville",
    "Lamarque",
    "Darrieux",
    "Lasserre",
    "Toulouse",
    "Puyo",
    "Sentex",
    "Haddad",
    "Benali",
    "Cohen",
    "Tran",
    "Pham",
    "Popescu",
    "Kowalski",
    "Silva",
    "Ferreira",
    "Lopez",
    "Sanchez",
    "Romero",
    "Bianchi",
    "Esposito",
    "Schneider",
    "Diallo",
    "Traoré",
    "Ndiaye",
    "Ben Salah",
    "El Amrani",
    "Saint-Martin",
    "de la Motte",
    "Le Gall",
    "Le Bihan",
    "Tessier",
    "Carré",
    "Hamel",
    "Baudry",
];

/// Lower-case ASCII for an e-mail's local part: "Élise Ben Salah" gives "elise", "bensalah".
pub(super) fn ascii_local(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            let c = match c.to_lowercase().next().unwrap_or(c) {
                'à' | 'â' | 'ä' => 'a',
                'é' | 'è' | 'ê' | 'ë' => 'e',
                'î' | 'ï' => 'i',
                'ô' | 'ö' => 'o',
                'ù' | 'û' | 'ü' => 'u',
                'ç' => 'c',
                c => c,
            };
            (c.is_ascii_alphanumeric() || c == '-').then_some(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn synthetic_rpps_numbers_are_valid() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..50 {
            let n = synthetic_rpps(&mut rng);
            assert!(crate::domain::Rpps::parse(&n).is_ok(), "{n}");
        }
    }
}
