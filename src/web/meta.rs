//! The meta description of each public page (what search engines and link previews show):
//! one per template, specific to the page; a position's page writes its own.

/// The description of the public page rendered from `template`, if it has one.
pub fn description(template: &str) -> Option<&'static str> {
    Some(match template {
        "public/home" => {
            "Le Département recrute des médecins salariés, généralistes puis spécialistes, dans \
             ses centres territoriaux de santé : ce qu'il propose, les postes ouverts, les centres."
        }
        "public/application_form" => {
            "Déposez votre candidature de médecin salarié en cinq minutes, sans compte à créer : \
             identité, spécialité, temps de travail souhaité, centres, CV facultatif."
        }
        "public/application_received" => {
            "Votre candidature est enregistrée : ce qui se passe ensuite, qui vous contactera et \
             comment consulter vos données."
        }
        "public/privacy" => {
            "Comment vos données de candidature sont traitées : responsable, finalités, bases \
             légales, destinataires, durées de conservation, vos droits et le délégué à la \
             protection des données."
        }
        "public/accessibility" => {
            "Déclaration d'accessibilité du site de recrutement : état de conformité au RGAA, \
             contenus non accessibles, signaler un problème et voies de recours."
        }
        "public/unsubscribe" => {
            "Ne plus recevoir les courriels de la campagne de recrutement des médecins : \
             désinscription en un clic."
        }
        "public/personal_data_request" => {
            "Mes données : recevez par courriel un lien privé pour consulter, exporter ou effacer \
             les données de votre candidature."
        }
        "public/personal_data" => {
            "Vos données de candidature : consultez-les, exportez-les, retirez votre candidature \
             ou demandez leur effacement."
        }
        "public/personal_data_erase" => {
            "Effacer les données de votre candidature : ce qui est effacé, ce qui est gardé et \
             pourquoi."
        }
        "public/positions" => {
            "Les postes de médecin salarié ouverts dans les centres de santé du Département : \
             spécialité, lieux, temps de travail, et comment candidater."
        }
        _ => return None,
    })
}
