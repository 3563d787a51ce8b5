//! Staff sign-in: password verification, server-side sessions stored in PostgreSQL (only the
//! SHA-256 of the cookie is kept), and login attempts counted per account and per client address
//! so that every instance enforces the same limit.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::PasswordVerifier;
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::StaffSettings;
use crate::db::enums::StaffRole;
use crate::db::schema::{login_attempts, staff_sessions, staff_users};
use crate::staff::audit::audit;

/// A signed-in staff member, as loaded for each request.
#[derive(Debug, Clone)]
pub struct StaffIdentity {
    pub session_id: i64,
    pub user_id: i64,
    pub display_name: String,
    pub role: StaffRole,
    pub csrf_token: String,
    /// Signed in with the password; the TOTP code is still expected.
    pub second_factor_pending: bool,
    /// The policy requires a second factor this account has not set up yet.
    pub must_enroll: bool,
}

fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Session id, user id, CSRF token, created, last seen, name, role, active, second factor
/// pending, TOTP enabled.
type SessionRow = (
    i64,
    i64,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    StaffRole,
    bool,
    bool,
    bool,
);

/// A hash verified when the account does not exist, so that unknown and known accounts take the
/// same time to refuse.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Kx6Ssjh4Gc0jLgLxwlWU3Jp3Wl8zV4mk0Rk3Q7ZmM0Y";

pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The key login attempts are counted under for an e-mail typed at sign-in.
pub fn account_key(email: &str) -> String {
    sha256_hex(&email.trim().to_lowercase())
}

/// Seconds to wait before trying again, if the account or the address has failed too often.
fn throttled_for(
    conn: &mut PgConnection,
    settings: &StaffSettings,
    account: &str,
    client_ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<i64>> {
    let window = Duration::minutes(settings.login_window_minutes);
    let since = now - window;
    for by_account in [true, false] {
        let mut q = login_attempts::table
            .filter(login_attempts::succeeded.eq(false))
            .filter(login_attempts::attempted_at.gt(since))
            .into_boxed();
        q = if by_account {
            q.filter(login_attempts::account_key.eq(account.to_owned()))
        } else {
            q.filter(login_attempts::client_ip.eq(client_ip.to_owned()))
        };
        let failures: Vec<DateTime<Utc>> = q
            .order(login_attempts::attempted_at.desc())
            .limit(settings.max_failed_logins)
            .select(login_attempts::attempted_at)
            .load(conn)?;
        if failures.len() as i64 >= settings.max_failed_logins {
            // Free again when the oldest of the counted failures leaves the window.
            let oldest = failures.last().copied().unwrap_or(now);
            return Ok(Some((oldest + window - now).num_seconds().max(1)));
        }
    }
    Ok(None)
}

/// An attempt reserved by [`reserve_attempt`]: counted as a failure until [`succeeded`] says
/// otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt(i64);

/// Advisory-lock class of the sign-in counters (the second key is a hash of the account or
/// address), so that other advisory locks of the application never collide with them.
const ATTEMPT_LOCK_CLASS: i32 = 861_370_101;

/// Reserves one attempt for `account` from `client_ip` before the secret is checked, or says
/// how many seconds to wait when the account or the address has already failed
/// `staff.max_failed_logins` times in the window.
///
/// The check and the reservation are one transaction holding an advisory lock per account and
/// per address: concurrent attempts are counted one after the other, so a burst of parallel
/// guesses gets no more password checks than the limit (the count used to be read by all of
/// them before any was written). The reserved row is a failure until [`succeeded`] marks it,
/// which also keeps a crash in the middle on the safe side.
pub fn reserve_attempt(
    conn: &mut PgConnection,
    settings: &StaffSettings,
    account: &str,
    client_ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<Result<Attempt, i64>> {
    // Already over the limit: no need to queue for the locks (a flood is answered at once).
    if let Some(wait) = throttled_for(conn, settings, account, client_ip, now)? {
        return Ok(Err(wait));
    }
    conn.transaction(|conn| {
        // Always the account first, then the address: two requests never wait for each other
        // in opposite orders.
        for key in [format!("compte:{account}"), format!("adresse:{client_ip}")] {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind::<diesel::sql_types::Integer, _>(ATTEMPT_LOCK_CLASS)
                .bind::<diesel::sql_types::Text, _>(key)
                .execute(conn)?;
        }
        if let Some(wait) = throttled_for(conn, settings, account, client_ip, now)? {
            return Ok(Err(wait));
        }
        let id = diesel::insert_into(login_attempts::table)
            .values((
                login_attempts::account_key.eq(account),
                login_attempts::client_ip.eq(client_ip),
                login_attempts::succeeded.eq(false),
                login_attempts::attempted_at.eq(now),
            ))
            .returning(login_attempts::id)
            .get_result(conn)?;
        Ok(Ok(Attempt(id)))
    })
}

/// The reserved attempt was right: it no longer counts against the account or the address.
pub fn succeeded(conn: &mut PgConnection, attempt: Attempt) -> QueryResult<()> {
    diesel::update(login_attempts::table.find(attempt.0))
        .set(login_attempts::succeeded.eq(true))
        .execute(conn)
        .map(|_| ())
}

/// The first step of signing in: either the account or the address must wait, or an attempt
/// is reserved and the password can be checked.
pub enum SignInStart {
    Throttled { retry_after_seconds: i64 },
    Check(PasswordCheck),
}

/// A reserved attempt and what its password is checked against. The check (argon2, the slow
/// part) needs no database connection: the pool is not held while it runs.
pub struct PasswordCheck {
    attempt: Attempt,
    /// Id, PHC hash and whether TOTP is on, for an active account with that e-mail.
    account: Option<(i64, String, bool)>,
}

/// A password found right: the session can be opened.
pub struct Verified {
    attempt: Attempt,
    user_id: i64,
    second_factor: bool,
}

impl PasswordCheck {
    /// Checks the password (against a dummy hash for an unknown account, so that both take the
    /// same time); `None` when it is wrong, and the reserved attempt stays a failure.
    pub fn verify(self, password: &str) -> Option<Verified> {
        match self.account {
            Some((user_id, hash, second_factor)) => {
                verify_password(password, &hash).then_some(Verified {
                    attempt: self.attempt,
                    user_id,
                    second_factor,
                })
            }
            None => {
                let _ = verify_password(password, DUMMY_HASH);
                None
            }
        }
    }
}

/// Reserves an attempt for `email` from `client_ip` (see [`reserve_attempt`]) and loads what
/// its password is checked against.
pub fn start_sign_in(
    conn: &mut PgConnection,
    settings: &StaffSettings,
    email: &str,
    client_ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<SignInStart> {
    let attempt = match reserve_attempt(conn, settings, &account_key(email), client_ip, now)? {
        Ok(attempt) => attempt,
        Err(retry_after_seconds) => {
            return Ok(SignInStart::Throttled {
                retry_after_seconds,
            })
        }
    };
    let account = staff_users::table
        .filter(staff_users::active.eq(true))
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ")
                .bind::<diesel::sql_types::Text, _>(email.trim().to_lowercase()),
        )
        .select((
            staff_users::id,
            staff_users::password_hash,
            staff_users::totp_enabled_at.is_not_null(),
        ))
        .first(conn)
        .optional()?;
    Ok(SignInStart::Check(PasswordCheck { attempt, account }))
}

/// A new session after a right password.
pub struct OpenedSession {
    pub cookie_value: String,
    pub user_id: i64,
    /// The account has TOTP: the session waits for the code.
    pub second_factor: bool,
}

/// Opens a new session for a verified password (a new id every time: no fixation), and releases
/// the attempt. The session presented with the request, if any, is closed.
pub fn open_session(
    conn: &mut PgConnection,
    verified: Verified,
    previous_cookie: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<OpenedSession> {
    let Verified {
        attempt,
        user_id,
        second_factor,
    } = verified;
    conn.transaction(|conn| {
        succeeded(conn, attempt)?;
        if let Some(old) = previous_cookie {
            diesel::delete(
                staff_sessions::table.filter(staff_sessions::token_hash.eq(sha256_hex(old))),
            )
            .execute(conn)?;
        }
        let cookie_value = random_token();
        diesel::insert_into(staff_sessions::table)
            .values((
                staff_sessions::token_hash.eq(sha256_hex(&cookie_value)),
                staff_sessions::user_id.eq(user_id),
                staff_sessions::csrf_token.eq(random_token()),
                staff_sessions::created_at.eq(now),
                staff_sessions::last_seen_at.eq(now),
                staff_sessions::second_factor_pending.eq(second_factor),
            ))
            .execute(conn)?;
        audit(
            conn,
            Some(user_id),
            "connexion",
            "staff_user",
            Some(user_id),
            "",
        )?;
        Ok(OpenedSession {
            cookie_value,
            user_id,
            second_factor,
        })
    })
}

/// The staff member behind a session cookie, if the session is open, within its idle and
/// absolute limits, and the account active. Refreshes the idle clock at most once a minute.
pub fn identify(
    conn: &mut PgConnection,
    settings: &StaffSettings,
    cookie_value: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<StaffIdentity>> {
    let row: Option<SessionRow> = staff_sessions::table
        .inner_join(staff_users::table)
        .filter(staff_sessions::token_hash.eq(sha256_hex(cookie_value)))
        .select((
            staff_sessions::id,
            staff_users::id,
            staff_sessions::csrf_token,
            staff_sessions::created_at,
            staff_sessions::last_seen_at,
            staff_users::display_name,
            staff_users::role,
            staff_users::active,
            staff_sessions::second_factor_pending,
            staff_users::totp_enabled_at.is_not_null(),
        ))
        .first(conn)
        .optional()?;
    let Some((
        session_id,
        user_id,
        csrf_token,
        created_at,
        last_seen_at,
        display_name,
        role,
        active,
        second_factor_pending,
        totp_enabled,
    )) = row
    else {
        return Ok(None);
    };
    let expired = now - created_at > Duration::hours(settings.absolute_timeout_hours)
        || now - last_seen_at > Duration::minutes(settings.idle_timeout_minutes);
    if expired || !active {
        diesel::delete(staff_sessions::table.find(session_id)).execute(conn)?;
        return Ok(None);
    }
    if now - last_seen_at > Duration::minutes(1) {
        diesel::update(staff_sessions::table.find(session_id))
            .set(staff_sessions::last_seen_at.eq(now))
            .execute(conn)?;
    }
    let must_enroll = !totp_enabled && super::totp::policy_requires_totp(conn)?;
    Ok(Some(StaffIdentity {
        session_id,
        user_id,
        display_name,
        role,
        csrf_token,
        second_factor_pending,
        must_enroll,
    }))
}

/// The code was right: the session is now fully signed in.
pub fn complete_second_factor(conn: &mut PgConnection, session_id: i64) -> QueryResult<()> {
    diesel::update(staff_sessions::table.find(session_id))
        .set(staff_sessions::second_factor_pending.eq(false))
        .execute(conn)
        .map(|_| ())
}

/// What became of a sign-in code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOutcome {
    /// Right: the session is now fully signed in.
    SignedIn,
    /// Wrong or already used: the attempt counts as a failure.
    Wrong,
    /// Too many wrong codes for this account or address: try again after that many seconds.
    Throttled { retry_after_seconds: i64 },
}

/// The second step of signing in: checks the TOTP `code` of the session's member, counted as an
/// attempt on their account (`totp:<id>`) and on `client_ip` like passwords are, and completes
/// the session when it is right.
pub fn check_code(
    conn: &mut PgConnection,
    settings: &StaffSettings,
    session_id: i64,
    user_id: i64,
    code: &str,
    client_ip: &str,
    now: DateTime<Utc>,
) -> QueryResult<CodeOutcome> {
    let account = format!("totp:{user_id}");
    let attempt = match reserve_attempt(conn, settings, &account, client_ip, now)? {
        Ok(attempt) => attempt,
        Err(retry_after_seconds) => {
            return Ok(CodeOutcome::Throttled {
                retry_after_seconds,
            })
        }
    };
    if !super::totp::check_and_consume(conn, user_id, code, false)? {
        return Ok(CodeOutcome::Wrong);
    }
    succeeded(conn, attempt)?;
    complete_second_factor(conn, session_id)?;
    Ok(CodeOutcome::SignedIn)
}

pub fn sign_out(conn: &mut PgConnection, session_id: i64, user_id: i64) -> QueryResult<()> {
    diesel::delete(staff_sessions::table.find(session_id)).execute(conn)?;
    audit(
        conn,
        Some(user_id),
        "deconnexion",
        "staff_user",
        Some(user_id),
        "",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = crate::staff::hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn the_dummy_hash_parses_so_unknown_accounts_cost_the_same() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn account_keys_ignore_case_and_spaces() {
        assert_eq!(account_key(" RH@Gers.fr "), account_key("rh@gers.fr"));
    }
}
