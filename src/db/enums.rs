//! Enumerations stored as text (with a CHECK constraint in the migration) and mapped to Rust
//! enums. Each has its database code and its French label.

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => ($code:literal, $label:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code stored in the database and sent by forms.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The French label shown to people.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <str as ToSql<Text, Pg>>::to_sql(self.code(), out)
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let raw = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
                $name::from_code(&raw)
                    .ok_or_else(|| format!("unknown {} code: {raw}", stringify!($name)).into())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }
    };
}

text_enum!(
    /// Civility, as the doctor chose it on the form.
    Civility {
        Madame => ("madame", "Madame"),
        Monsieur => ("monsieur", "Monsieur"),
        NotSaid => ("non_precise", "Ne souhaite pas préciser"),
    }
);

text_enum!(
    /// Professional situation at the time of application.
    Situation {
        Intern => ("interne", "Interne en médecine"),
        YoungGraduate => ("jeune_diplome", "Thèse soutenue récemment"),
        Locum => ("remplacant", "Activité de remplacement"),
        PrivatePractice => ("liberal", "Exercice libéral (cabinet)"),
        Salaried => ("salarie", "Exercice salarié"),
        Retired => ("retraite", "Médecin à la retraite"),
        ForeignDiploma => ("diplome_etranger", "Médecin à diplôme étranger"),
        Other => ("autre", "Autre situation"),
    }
);

text_enum!(
    WorkingTime {
        FullTime => ("temps_plein", "Temps plein"),
        PartTime => ("temps_partiel", "Temps partiel"),
    }
);

text_enum!(
    /// Stages of an application, in pipeline order, then the three exits.
    Stage {
        New => ("nouvelle", "Nouvelle"),
        FirstContact => ("premier_contact", "Premier contact"),
        Interview => ("entretien", "Entretien"),
        SiteVisit => ("visite", "Visite du territoire"),
        Offer => ("proposition", "Proposition"),
        Accepted => ("acceptee", "Acceptée"),
        Recruited => ("recrutee", "Recrutée"),
        Refused => ("refusee", "Refusée"),
        Withdrawn => ("desistement", "Désistement"),
        Pool => ("vivier", "Vivier"),
    }
);

impl Stage {
    /// Stages in which an application is still being worked.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Stage::New
                | Stage::FirstContact
                | Stage::Interview
                | Stage::SiteVisit
                | Stage::Offer
                | Stage::Accepted
        )
    }
}

text_enum!(
    /// How the doctor heard of the campaign (the form's "comment nous avez-vous connus").
    HeardFrom {
        Press => ("presse", "Presse, radio, télévision"),
        SocialMedia => ("reseaux_sociaux", "Réseaux sociaux"),
        WordOfMouth => ("bouche_a_oreille", "Bouche-à-oreille, un confrère"),
        Faculty => ("faculte", "Faculté de médecine, internat"),
        Email => ("courriel", "Courriel reçu"),
        Website => ("site_internet", "Site internet, annonce en ligne"),
        Fair => ("salon", "Salon, congrès"),
        MedicalCouncil => ("ordre_medecins", "Ordre des médecins, URPS"),
        Other => ("autre", "Autre"),
    }
);

text_enum!(
    CentreKind {
        Centre => ("centre", "Centre de santé"),
        Antenna => ("antenne", "Antenne"),
    }
);

text_enum!(
    CentreStatus {
        Planned => ("planned", "En projet"),
        Open => ("open", "Ouvert"),
        Closed => ("closed", "Fermé"),
    }
);

text_enum!(
    /// Where an offer stands. Draft, sent and accepted offers are live (one per application).
    OfferStatus {
        Draft => ("draft", "Brouillon"),
        Sent => ("sent", "Envoyée"),
        Accepted => ("accepted", "Acceptée"),
        Declined => ("declined", "Déclinée"),
        Expired => ("expired", "Expirée"),
        Withdrawn => ("withdrawn", "Retirée"),
    }
);

text_enum!(
    StaffRole {
        Admin => ("admin", "Administrateur"),
        Recruiter => ("recruteur", "Recruteur"),
        Communication => ("communication", "Communication"),
    }
);

text_enum!(
    DocumentKind {
        Cv => ("cv", "CV"),
        Other => ("autre", "Autre document"),
    }
);

text_enum!(
    EmailStatus {
        Pending => ("pending", "En attente"),
        Sent => ("sent", "Envoyé"),
        Failed => ("failed", "Échec"),
    }
);

text_enum!(
    /// What a mailing contact is.
    ContactKind {
        Faculty => ("faculte", "Faculté de médecine"),
        RetiredDoctor => ("medecin_retraite", "Médecin retraité"),
        Doctor => ("medecin", "Médecin"),
        Intern => ("interne", "Interne"),
        Partner => ("partenaire", "Partenaire"),
    }
);

text_enum!(
    /// Why the département may write to a contact (RGPD art. 6).
    LegalBasis {
        LegitimateInterest => ("interet_legitime", "Intérêt légitime"),
        Consent => ("consentement", "Consentement"),
        PublicTask => ("mission_publique", "Mission d'intérêt public"),
    }
);

text_enum!(
    ContactStatus {
        Active => ("active", "Actif"),
        Unsubscribed => ("unsubscribed", "Désinscrit"),
        Bounced => ("bounced", "Adresse invalide"),
    }
);

text_enum!(
    OrganisationKind {
        Faculty => ("faculte", "Faculté de médecine"),
        Establishment => ("etablissement", "Établissement de santé"),
        Institution => ("institution", "Institution"),
        Other => ("autre", "Autre"),
    }
);

text_enum!(
    /// Why an address is on the suppression list.
    SuppressionReason {
        Unsubscribed => ("desinscription", "Désinscription"),
        UnknownMailbox => ("adresse_inconnue", "Adresse inconnue (rejet définitif)"),
        Manual => ("manuelle", "Ajout manuel"),
        Bounce => ("rebond", "Rebond (adresse en échec)"),
        Complaint => ("plainte", "Plainte pour courrier indésirable"),
    }
);

text_enum!(
    CampaignStatus {
        Draft => ("brouillon", "Brouillon"),
        Scheduled => ("programmee", "Programmée"),
        Running => ("en_cours", "En cours"),
        Paused => ("en_pause", "En pause"),
        Finished => ("terminee", "Terminée"),
        Cancelled => ("annulee", "Annulée"),
    }
);

text_enum!(
    /// What a campaign produces: e-mails sent by the workers, or letters printed (issue 19).
    CampaignKind {
        Email => ("courriel", "Courriel"),
        Letter => ("courrier", "Courrier"),
    }
);

text_enum!(
    ScheduleKind {
        Now => ("maintenant", "Dès maintenant"),
        At => ("date", "À une date et une heure"),
        Cron => ("cron", "Récurrente"),
    }
);

text_enum!(
    /// One occurrence of a campaign.
    RunStatus {
        Planned => ("planifie", "Planifié"),
        AwaitingConfirmation => ("a_confirmer", "En attente de confirmation"),
        Sending => ("envoi", "Envoi en cours"),
        Paused => ("pause", "En pause"),
        Done => ("termine", "Terminé"),
        Cancelled => ("annule", "Annulé"),
    }
);

text_enum!(
    /// One recipient of a run.
    DeliveryStatus {
        Pending => ("en_attente", "En attente"),
        Sent => ("envoye", "Envoyé"),
        Failed => ("echec", "Échec"),
        Skipped => ("ecarte", "Écarté (désinscrit ou adresse supprimée)"),
        Cancelled => ("annule", "Annulé"),
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for s in Stage::ALL {
            assert_eq!(Stage::from_code(s.code()), Some(*s));
        }
        assert_eq!(Stage::from_code("bogus"), None);
    }
}
