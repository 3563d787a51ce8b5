//! Staff accounts (admin, recruteur, communication). Passwords are hashed with argon2id.

pub mod audit;
pub mod auth;
pub mod journal;
pub mod totp;

use anyhow::Context;
use argon2::password_hash::PasswordHasher;
use argon2::Argon2;
use diesel::prelude::*;

use crate::db::enums::StaffRole;
use crate::db::schema::staff_users;
use crate::domain::EmailAddress;

/// The roles that work on candidates, offers, placements and meetings (admins may do
/// everything: see `Staff::require`).
pub const RECRUITING: &[StaffRole] = &[StaffRole::Recruiter];
/// The roles that work on audiences, templates, campaigns and the campaign's reports.
pub const COMMUNICATION: &[StaffRole] = &[StaffRole::Communication];

#[derive(Insertable)]
#[diesel(table_name = staff_users)]
struct NewStaffUser<'a> {
    email: &'a str,
    display_name: &'a str,
    role: StaffRole,
    password_hash: &'a str,
}

/// Hashes a password with argon2id and the crate's default parameters.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

/// A random password people can type: 20 characters without look-alikes.
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum AddUserError {
    #[error("adresse électronique invalide : {0}")]
    BadEmail(String),
    #[error("le mot de passe doit compter au moins 12 caractères")]
    WeakPassword,
    #[error("un compte existe déjà pour cette adresse")]
    Exists,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Creates a staff account; returns its id.
pub fn add_user(
    conn: &mut PgConnection,
    email: &str,
    display_name: &str,
    role: StaffRole,
    password: &str,
) -> Result<i64, AddUserError> {
    let email = EmailAddress::parse(email).map_err(|e| AddUserError::BadEmail(e.0))?;
    if password.chars().count() < 12 {
        return Err(AddUserError::WeakPassword);
    }
    let hash = hash_password(password)?;
    let display_name = if display_name.trim().is_empty() {
        email.as_str()
    } else {
        display_name.trim()
    };
    diesel::insert_into(staff_users::table)
        .values(NewStaffUser {
            email: email.as_str(),
            display_name,
            role,
            password_hash: &hash,
        })
        .returning(staff_users::id)
        .get_result(conn)
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => AddUserError::Exists,
            other => AddUserError::Other(anyhow::Error::new(other).context("inserting staff user")),
        })
}

pub fn count_admins(conn: &mut PgConnection) -> anyhow::Result<i64> {
    staff_users::table
        .filter(staff_users::role.eq(StaffRole::Admin))
        .count()
        .get_result(conn)
        .context("counting admins")
}

/// A staff account as the admin page lists it.
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct StaffSummary {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: StaffRole,
    pub active: bool,
}

pub fn list_users(conn: &mut PgConnection) -> QueryResult<Vec<StaffSummary>> {
    staff_users::table
        .order((staff_users::active.desc(), staff_users::display_name.asc()))
        .select((
            staff_users::id,
            staff_users::email,
            staff_users::display_name,
            staff_users::role,
            staff_users::active,
        ))
        .load(conn)
}

/// Creates a staff account for an administrator (`actor`) and records it in the audit log with
/// its role; returns its id.
pub fn create_account(
    conn: &mut PgConnection,
    actor: i64,
    email: &str,
    display_name: &str,
    role: StaffRole,
    password: &str,
) -> Result<i64, AddUserError> {
    let id = add_user(conn, email, display_name, role, password)?;
    audit::audit(
        conn,
        Some(actor),
        "creation_compte",
        "staff_user",
        Some(id),
        role.code(),
    )
    .context("recording the new account")?;
    Ok(id)
}

/// What the accounts page shows: every account, and whether the policy requires the second
/// factor.
pub struct Accounts {
    pub users: Vec<StaffSummary>,
    pub require_totp: bool,
}

pub fn accounts(conn: &mut PgConnection) -> QueryResult<Accounts> {
    Ok(Accounts {
        users: list_users(conn)?,
        require_totp: totp::policy_requires_totp(conn)?,
    })
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("Ce compte n'existe pas.")]
    NotFound,
    #[error("Vous ne pouvez pas désactiver votre propre compte ni lui retirer le rôle d'administrateur.")]
    OwnAccount,
    #[error("Il doit rester au moins un administrateur actif.")]
    LastAdmin,
}

/// A change an admin makes to a staff account.
#[derive(Debug, Clone, Copy)]
pub enum AccountChange {
    Disable,
    Enable,
    Role(StaffRole),
}

/// Applies the change; disabling ends the account's sessions at once and revokes its API
/// tokens in the same transaction, so re-enabling the account never brings them back.
pub fn change_account(
    conn: &mut PgConnection,
    actor_id: i64,
    user_id: i64,
    change: AccountChange,
) -> anyhow::Result<Result<(), ChangeError>> {
    use crate::db::schema::staff_sessions;
    conn.transaction(|conn| {
        let current: Option<(StaffRole, bool)> = staff_users::table
            .find(user_id)
            .select((staff_users::role, staff_users::active))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((role, active)) = current else {
            return Ok(Err(ChangeError::NotFound));
        };
        let removes_admin = role == StaffRole::Admin
            && active
            && matches!(
                change,
                AccountChange::Disable
                    | AccountChange::Role(StaffRole::Recruiter | StaffRole::Communication)
            );
        if user_id == actor_id && removes_admin {
            return Ok(Err(ChangeError::OwnAccount));
        }
        if removes_admin {
            let admins: i64 = staff_users::table
                .filter(staff_users::role.eq(StaffRole::Admin))
                .filter(staff_users::active.eq(true))
                .count()
                .get_result(conn)?;
            if admins <= 1 {
                return Ok(Err(ChangeError::LastAdmin));
            }
        }
        let target = staff_users::table.find(user_id);
        let (action, detail) = match change {
            AccountChange::Disable => {
                diesel::update(target)
                    .set(staff_users::active.eq(false))
                    .execute(conn)?;
                diesel::delete(staff_sessions::table.filter(staff_sessions::user_id.eq(user_id)))
                    .execute(conn)?;
                crate::api_tokens::revoke_all(conn, user_id, chrono::Utc::now())?;
                ("desactivation", String::new())
            }
            AccountChange::Enable => {
                diesel::update(target)
                    .set(staff_users::active.eq(true))
                    .execute(conn)?;
                if !active {
                    // Tokens left live by a disabling done before they were revoked with it: a
                    // disabled member could not have created them since, so none is wanted.
                    crate::api_tokens::revoke_all(conn, user_id, chrono::Utc::now())?;
                }
                ("activation", String::new())
            }
            AccountChange::Role(new_role) => {
                diesel::update(target)
                    .set(staff_users::role.eq(new_role))
                    .execute(conn)?;
                (
                    "changement_role",
                    format!("{} -> {}", role.code(), new_role.code()),
                )
            }
        };
        audit::audit(
            conn,
            Some(actor_id),
            action,
            "staff_user",
            Some(user_id),
            &detail,
        )?;
        Ok(Ok(()))
    })
}
