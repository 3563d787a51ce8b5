//! Staff accounts (admin, recruteur, communication). Passwords are hashed with argon2id.

pub mod auth;

use anyhow::Context;
use argon2::password_hash::PasswordHasher;
use argon2::Argon2;
use diesel::prelude::*;

use crate::db::enums::StaffRole;
use crate::db::schema::staff_users;
use crate::domain::EmailAddress;

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
