//! The demo's audiences: two mailing lists imported from CSV, and a draft campaign with its
//! template to the retired doctors.

use diesel::prelude::*;

/// Two mailing lists of a few contacts each (example.org addresses), each imported once when
/// its list is created.
const DEMO_LISTS: [(&str, &str); 2] = [
    (
        "Internes de Toulouse (démo)",
        "email;prenom;nom;organisation;type;etiquettes;ville;base_legale\n\
         camille.roux@example.org;Camille;Roux;Faculté de santé – départements de médecine Purpan et Rangueil – Université de Toulouse (ex-Toulouse III Paul Sabatier);interne;promo 2027|médecine générale;Toulouse;interet_legitime\n\
         julien.faure@example.org;Julien;Faure;Faculté de santé – départements de médecine Purpan et Rangueil – Université de Toulouse (ex-Toulouse III Paul Sabatier);interne;promo 2027;Toulouse;interet_legitime\n\
         lea.garcia@example.org;Léa;Garcia;;interne;promo 2028|pédiatrie;Toulouse;consentement\n\
         hugo.mercier@example.org;Hugo;Mercier;;interne;promo 2027;Blagnac;interet_legitime\n\
         ines.lambert@example.org;Inès;Lambert;;interne;médecine générale;Colomiers;consentement\n",
    ),
    (
        "Médecins retraités du Gers (démo)",
        "email;prenom;nom;organisation;type;etiquettes;ville;base_legale\n\
         jean.dupuy@example.org;Jean;Dupuy;;medecin_retraite;gers;Auch;interet_legitime\n\
         marie.lacoste@example.org;Marie;Lacoste;;medecin_retraite;gers|cumul emploi-retraite;Condom;interet_legitime\n\
         pierre.bordes@example.org;Pierre;Bordes;;medecin_retraite;gers;Lectoure;consentement\n\
         anne.castex@example.org;Anne;Castex;Ordre des médecins du Gers;partenaire;gers;Auch;mission_publique\n\
         louis.saint-martin@example.org;Louis;Saint-Martin;;medecin_retraite;gers;Mirande;interet_legitime\n",
    ),
];

pub(super) fn demo_audiences(conn: &mut PgConnection) -> anyhow::Result<()> {
    use crate::campaigns::{contacts, import};
    for (name, csv) in DEMO_LISTS {
        let (list_id, created) = contacts::ensure_list(conn, name)?
            .map_err(|m| anyhow::anyhow!("liste de démonstration : {m}"))?;
        if created {
            import::import_file(
                conn,
                list_id,
                None,
                "demo.csv",
                csv.as_bytes(),
                import::Defaults::default(),
            )?
            .map_err(|e| anyhow::anyhow!("import de démonstration : {e:?}"))?;
            if name.starts_with("Médecins retraités") {
                demo_campaign(conn, list_id)?;
            }
        }
    }
    Ok(())
}

/// A campaign template and a draft campaign to the retired doctors, ready to be programmed.
fn demo_campaign(conn: &mut PgConnection, list_id: i64) -> anyhow::Result<()> {
    use crate::campaigns::runs::{self, CampaignInput, Schedule};
    use crate::db::schema::mail_templates;
    let template_id: i64 = diesel::insert_into(mail_templates::table)
        .values((
            mail_templates::name.eq("Médecins retraités – exercer dans le Gers (démo)"),
            // A contact without a first name gets the subject without it, not « , le Gers… ».
            mail_templates::subject.eq(DEMO_TEMPLATE_SUBJECT),
            mail_templates::body_text.eq(DEMO_TEMPLATE_TEXT),
            mail_templates::body_html.eq(""),
        ))
        .returning(mail_templates::id)
        .get_result(conn)?;
    runs::create(
        conn,
        &CampaignInput {
            name: "Médecins retraités – automne (démo)".into(),
            template_id,
            list_ids: vec![list_id],
            sender_name: "Recrutement CDS32".into(),
            sender_email: "recrutement@localhost".into(),
            rate_per_minute: 600,
            schedule: Schedule::Now,
        },
        None,
    )?;
    Ok(())
}

const DEMO_TEMPLATE_SUBJECT: &str = "{{#if prenom}}{{prenom}}, le Gers recrute des médecins \
salariés{{else}}Le Gers recrute des médecins salariés{{/if}}";

/// To retired doctors: « Bonjour Docteur <Nom>, », the greeting used everywhere to a doctor.
const DEMO_TEMPLATE_TEXT: &str = "{{#if nom}}Bonjour Docteur {{nom}},{{else}}Bonjour,{{/if}}

Le Département du Gers salarie des médecins dans ses centres de santé d'Auch, Fleurance, \
Vic-Fezensac et Plaisance, et dans ses antennes de Gondrin et Marciac. Le cumul emploi-retraite \
est possible, à temps partiel si vous le souhaitez : une ou plusieurs demi-journées par semaine, \
sans gestion administrative ni permanence imposée.

Pour en savoir plus ou nous faire part de votre intérêt, il suffit de remplir le formulaire : \
{{lien_candidature}}

Nous serions heureux d'échanger avec vous.

L'équipe de recrutement du Centre départemental de santé";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaigns::template::{Compiled, Personalisation, TemplateSource};

    fn rendered(first: &str, last: &str) -> (String, String) {
        let source = TemplateSource {
            subject: DEMO_TEMPLATE_SUBJECT.into(),
            body_text: DEMO_TEMPLATE_TEXT.into(),
            body_html: String::new(),
            preheader: String::new(),
        };
        let compiled = Compiled::check(&source, "http://vocation.test").expect("a valid template");
        let values = Personalisation::new(
            first,
            last,
            "",
            "",
            "http://vocation.test/candidature".into(),
            "http://vocation.test/desinscription/x".into(),
        );
        let parts = compiled.render_parts(&values).expect("rendered");
        (parts.subject, parts.text)
    }

    #[test]
    fn the_demo_template_reads_well_without_a_first_or_last_name() {
        let (subject, text) = rendered("Jeanne", "Abadie");
        assert_eq!(subject, "Jeanne, le Gers recrute des médecins salariés");
        assert!(text.starts_with("Bonjour Docteur Abadie,"), "{text}");
        let (subject, text) = rendered("", "");
        assert_eq!(subject, "Le Gers recrute des médecins salariés");
        assert!(text.starts_with("Bonjour,"), "{text}");
    }
}
