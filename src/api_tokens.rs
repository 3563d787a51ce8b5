//! Tokens for the JSON API. A token is 32 random bytes shown once to its owner; only its SHA-256
//! is stored. It acts for one staff member with their current role, and stops working when it is
//! revoked or the member is disabled (disabling revokes it for good), and it is refused while the
//! member must set up the second factor that the security policy requires of everyone.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::enums::StaffRole;
use crate::db::schema::{api_tokens, staff_users};
use crate::staff::audit::audit;

/// Tokens start with this, so that a leaked one is easy to recognise (and to search for).
pub const PREFIX: &str = "voc_";
pub const MAX_NAME_CHARS: usize = 100;

fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random token.
fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A token as its owner sees it in the list (never the token itself).
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::pg::Pg))]
pub struct TokenSummary {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who a valid token acts for.
#[derive(Debug, Clone)]
pub struct TokenIdentity {
    pub token_id: i64,
    pub user_id: i64,
    pub role: StaffRole,
}

/// The token name as typed, or why it is refused (French, shown next to the field).
pub fn parse_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        Err("Donnez un nom au jeton, par exemple l'outil qui l'utilisera.")
    } else if name.chars().count() > MAX_NAME_CHARS {
        Err("Le nom du jeton ne doit pas dépasser 100 caractères.")
    } else if name.chars().any(char::is_control) {
        Err("Le nom du jeton contient des caractères de contrôle : retirez-les.")
    } else {
        Ok(name)
    }
}

/// Creates a token for `user_id`; returns its id and the token, which is never shown again.
pub fn create(
    conn: &mut PgConnection,
    user_id: i64,
    name: &str,
    now: DateTime<Utc>,
) -> QueryResult<(i64, String)> {
    let token = generate();
    let id = diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::staff_user_id.eq(user_id),
            api_tokens::name.eq(name),
            api_tokens::token_hash.eq(sha256_hex(&token)),
            api_tokens::created_at.eq(now),
        ))
        .returning(api_tokens::id)
        .get_result(conn)?;
    Ok((id, token))
}

/// Creates a token the member asked for on their page (see [`create`]) and records it in the
/// audit log; returns its id and the token, which is never shown again.
pub fn issue(
    conn: &mut PgConnection,
    user_id: i64,
    name: &str,
    now: DateTime<Utc>,
) -> QueryResult<(i64, String)> {
    let (id, token) = create(conn, user_id, name, now)?;
    audit(
        conn,
        Some(user_id),
        "creation_jeton_api",
        "api_token",
        Some(id),
        "",
    )?;
    Ok((id, token))
}

/// The member's tokens, newest first.
pub fn list(conn: &mut PgConnection, user_id: i64) -> QueryResult<Vec<TokenSummary>> {
    api_tokens::table
        .filter(api_tokens::staff_user_id.eq(user_id))
        .order(api_tokens::id.desc())
        .select(TokenSummary::as_select())
        .load(conn)
}

/// Revokes one of the member's tokens and records it in the audit log; false when it is not
/// theirs or was already revoked.
pub fn revoke(
    conn: &mut PgConnection,
    user_id: i64,
    token_id: i64,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let revoked = diesel::update(
        api_tokens::table
            .find(token_id)
            .filter(api_tokens::staff_user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .execute(conn)?
        == 1;
    if revoked {
        audit(
            conn,
            Some(user_id),
            "revocation_jeton_api",
            "api_token",
            Some(token_id),
            "",
        )?;
    }
    Ok(revoked)
}

/// Revokes every live token of a member (the account is being disabled); returns how many.
pub fn revoke_all(conn: &mut PgConnection, user_id: i64, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::staff_user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now))
    .execute(conn)
}

/// Token id, user id, role, last use, whether the account has TOTP on.
type TokenRow = (i64, i64, StaffRole, Option<DateTime<Utc>>, bool);

/// What a presented token is worth.
#[derive(Debug, Clone)]
pub enum TokenCheck {
    /// It acts for this member.
    Valid(TokenIdentity),
    /// Unknown, revoked, or its account is disabled.
    Invalid,
    /// Valid, but the security policy requires a second factor of every account and this member
    /// has not set one up: refused until they have.
    MustEnroll,
}

/// Checks a presented token: it must exist, not be revoked, belong to an active account, and
/// that account must have the second factor when the policy requires it. Records when a valid
/// token was last used (at most once a minute, to spare writes).
pub fn authenticate(
    conn: &mut PgConnection,
    presented: &str,
    now: DateTime<Utc>,
) -> QueryResult<TokenCheck> {
    if !presented.starts_with(PREFIX) || presented.len() > 200 {
        return Ok(TokenCheck::Invalid);
    }
    let found: Option<TokenRow> = api_tokens::table
        .inner_join(staff_users::table)
        .filter(api_tokens::token_hash.eq(sha256_hex(presented)))
        .filter(api_tokens::revoked_at.is_null())
        .filter(staff_users::active.eq(true))
        .select((
            api_tokens::id,
            staff_users::id,
            staff_users::role,
            api_tokens::last_used_at,
            staff_users::totp_enabled_at.is_not_null(),
        ))
        .first(conn)
        .optional()?;
    let Some((token_id, user_id, role, last_used_at, totp_enabled)) = found else {
        return Ok(TokenCheck::Invalid);
    };
    if !totp_enabled && crate::staff::totp::policy_requires_totp(conn)? {
        return Ok(TokenCheck::MustEnroll);
    }
    if last_used_at.is_none_or(|at| now - at > Duration::minutes(1)) {
        diesel::update(api_tokens::table.find(token_id))
            .set(api_tokens::last_used_at.eq(now))
            .execute(conn)?;
    }
    Ok(TokenCheck::Valid(TokenIdentity {
        token_id,
        user_id,
        role,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX));
        assert_eq!(a.len(), PREFIX.len() + 43);
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  outil   RH ").unwrap(), "outil RH");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"x".repeat(101)).is_err());
    }
}
