//! Demonstration data: the real centres (already loaded by a migration), a few open positions,
//! about fifty varied candidates spread over the stages with their history, and a first admin.
//! Idempotent: a second run adds nothing and says so. `generate_candidates` adds thousands more
//! for load tests.

mod audiences;
mod candidates;
mod conversations;
mod generate;
mod names;
mod offers;
mod positions;

use std::fmt;

use diesel::prelude::*;

use crate::db::enums::StaffRole;
use crate::db::schema::{self, centres, staff_users};
use crate::staff;

pub use generate::generate_candidates;
pub use names::{DEMO_ADMIN_EMAIL, DEMO_EMAIL_DOMAIN};

/// What `load` did, printed to the person who ran it.
pub struct DemoReport {
    pub positions: usize,
    pub candidates: usize,
    pub admin_password: Option<String>,
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.positions == 0 && self.candidates == 0 {
            writeln!(
                f,
                "Données de démonstration déjà présentes : rien d'ajouté."
            )?;
        } else {
            writeln!(
                f,
                "Démonstration : {} postes et {} candidats ajoutés.",
                self.positions, self.candidates
            )?;
        }
        match &self.admin_password {
            Some(p) => write!(
                f,
                "Administrateur : {DEMO_ADMIN_EMAIL} — mot de passe (affiché une seule fois) : {p}"
            ),
            None => write!(
                f,
                "Administrateur {DEMO_ADMIN_EMAIL} : compte déjà existant."
            ),
        }
    }
}

pub fn load(conn: &mut PgConnection) -> anyhow::Result<DemoReport> {
    conn.transaction(|conn| {
        let admin_password = if staff_users::table
            .filter(staff_users::email.ilike(DEMO_ADMIN_EMAIL))
            .count()
            .get_result::<i64>(conn)?
            == 0
        {
            let password = staff::generate_password();
            staff::add_user(
                conn,
                DEMO_ADMIN_EMAIL,
                "Administratrice démo",
                StaffRole::Admin,
                &password,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            Some(password)
        } else {
            None
        };
        crate::campaigns::organisations::load_faculties(conn)?;
        audiences::demo_audiences(conn)?;
        // The interview grid's default criteria (none are added when some exist).
        crate::pipeline::evaluation::load_defaults(conn)?;

        let already = schema::candidates::table
            .filter(schema::candidates::email_normalized.like(format!("%@{DEMO_EMAIL_DOMAIN}")))
            .count()
            .get_result::<i64>(conn)?;
        if already > 0 {
            return Ok(DemoReport {
                positions: 0,
                candidates: 0,
                admin_password,
            });
        }

        let centre_ids: Vec<(i64, String)> = centres::table
            .order(centres::id)
            .select((centres::id, centres::commune))
            .load(conn)?;
        anyhow::ensure!(
            !centre_ids.is_empty(),
            "aucun centre : la migration des données de référence manque"
        );
        let position_ids = positions::demo_positions(conn, &centre_ids)?;
        let count = candidates::demo_candidates(conn, &centre_ids, &position_ids)?;
        offers::offers_and_placements(conn, &centre_ids)?;
        conversations::demo_conversations(conn, chrono::Utc::now())?;
        Ok(DemoReport {
            positions: position_ids.len(),
            candidates: count,
            admin_password,
        })
    })
}
