//! The optional TOTP second factor (RFC 6238: 6 digits, 30-second steps, SHA-1, as every
//! authenticator app expects). A code is accepted once: the step it belongs to is remembered.

use diesel::prelude::*;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::db::schema::{security_policy, staff_users};
use crate::staff::audit::audit;

const STEP: u64 = 30;

fn totp(secret_base32: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_base32.to_owned()).to_bytes().ok()?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        bytes,
        Some("Vocation".to_owned()),
        account.to_owned(),
    )
    .ok()
}

/// A new random secret, base32-encoded.
pub fn new_secret() -> String {
    match Secret::generate_secret().to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => unreachable!("to_encoded gives an encoded secret"),
    }
}

/// The otpauth:// URI authenticator apps read from the QR code.
pub fn provisioning_uri(secret_base32: &str, account: &str) -> Option<String> {
    totp(secret_base32, account).map(|t| t.get_url())
}

/// The QR code of the URI, as an SVG fragment to put inline in the page.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Inline in HTML: without the XML declaration.
    svg.find("<svg").map(|start| svg[start..].to_owned())
}

/// The step `code` is valid for at `now` (one step of clock drift either way), if it is later
/// than `last_step`.
pub fn accepted_step(
    secret_base32: &str,
    code: &str,
    last_step: Option<i64>,
    now: u64,
) -> Option<i64> {
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    if code.len() != 6 {
        return None;
    }
    let t = totp(secret_base32, "vocation")?;
    for offset in [0i64, -1, 1] {
        let time = (now as i64 + offset * STEP as i64).max(0) as u64;
        let step = (time / STEP) as i64;
        if last_step.is_some_and(|last| step <= last) {
            continue;
        }
        if t.generate(time) == code {
            return Some(step);
        }
    }
    None
}

pub fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn policy_requires_totp(conn: &mut PgConnection) -> QueryResult<bool> {
    security_policy::table
        .select(security_policy::require_totp)
        .first::<bool>(conn)
        .optional()
        .map(|v| v.unwrap_or(false))
}

pub fn set_policy(conn: &mut PgConnection, actor: i64, require: bool) -> QueryResult<()> {
    diesel::update(security_policy::table)
        .set((
            security_policy::require_totp.eq(require),
            security_policy::updated_at.eq(chrono::Utc::now()),
        ))
        .execute(conn)?;
    audit(
        conn,
        Some(actor),
        "politique_securite",
        "security_policy",
        None,
        if require {
            "double authentification exigée"
        } else {
            "double authentification facultative"
        },
    )
}

/// The user's TOTP state: (secret, enabled, last accepted step).
pub fn state(
    conn: &mut PgConnection,
    user_id: i64,
) -> QueryResult<(Option<String>, bool, Option<i64>)> {
    staff_users::table
        .find(user_id)
        .select((
            staff_users::totp_secret,
            staff_users::totp_enabled_at.is_not_null(),
            staff_users::totp_last_step,
        ))
        .first(conn)
}

/// The secret being enrolled (created on first visit, kept until enabled).
pub fn pending_secret(conn: &mut PgConnection, user_id: i64) -> QueryResult<String> {
    let (secret, enabled, _) = state(conn, user_id)?;
    match secret {
        Some(s) if !enabled => Ok(s),
        _ => {
            let s = new_secret();
            diesel::update(staff_users::table.find(user_id))
                .set((
                    staff_users::totp_secret.eq(&s),
                    staff_users::totp_enabled_at.eq(None::<chrono::DateTime<chrono::Utc>>),
                ))
                .execute(conn)?;
            Ok(s)
        }
    }
}

/// Checks `code` against the user's secret and consumes its step. With `enable`, turns the
/// second factor on (enrollment); otherwise it must already be on.
pub fn check_and_consume(
    conn: &mut PgConnection,
    user_id: i64,
    code: &str,
    enable: bool,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let (secret, enabled, last) = staff_users::table
            .find(user_id)
            .select((
                staff_users::totp_secret,
                staff_users::totp_enabled_at.is_not_null(),
                staff_users::totp_last_step,
            ))
            .for_update()
            .first::<(Option<String>, bool, Option<i64>)>(conn)?;
        let Some(secret) = secret else {
            return Ok(false);
        };
        if enabled == enable {
            return Ok(false);
        }
        let Some(step) = accepted_step(&secret, code, last, now_seconds()) else {
            return Ok(false);
        };
        let target = staff_users::table.find(user_id);
        if enable {
            diesel::update(target)
                .set((
                    staff_users::totp_last_step.eq(step),
                    staff_users::totp_enabled_at.eq(chrono::Utc::now()),
                ))
                .execute(conn)?;
            audit(
                conn,
                Some(user_id),
                "activation_2fa",
                "staff_user",
                Some(user_id),
                "",
            )?;
        } else {
            diesel::update(target)
                .set(staff_users::totp_last_step.eq(step))
                .execute(conn)?;
        }
        Ok(true)
    })
}

pub fn disable(conn: &mut PgConnection, user_id: i64) -> QueryResult<()> {
    diesel::update(staff_users::table.find(user_id))
        .set((
            staff_users::totp_secret.eq(None::<String>),
            staff_users::totp_enabled_at.eq(None::<chrono::DateTime<chrono::Utc>>),
        ))
        .execute(conn)?;
    audit(
        conn,
        Some(user_id),
        "desactivation_2fa",
        "staff_user",
        Some(user_id),
        "",
    )
}

/// What the enrollment page shows: the secret being set up (none once the second factor is on),
/// whether it is on, and whether the policy requires it.
pub struct Enrollment {
    pub secret: Option<String>,
    pub enabled: bool,
    pub required: bool,
}

/// The member's enrollment, creating the secret to set up on the first visit.
pub fn enrollment(conn: &mut PgConnection, user_id: i64) -> QueryResult<Enrollment> {
    let (_, enabled, _) = state(conn, user_id)?;
    let secret = if enabled {
        None
    } else {
        Some(pending_secret(conn, user_id)?)
    };
    Ok(Enrollment {
        secret,
        enabled,
        required: policy_requires_totp(conn)?,
    })
}

/// A code refused, at sign-in or enrollment (French, shown on the page).
pub const WRONG_CODE: &str = "Code incorrect ou déjà utilisé : saisissez le code à 6 chiffres \
                              affiché maintenant par votre application.";

/// Why the second factor was not turned on or off (French, shown on the enrollment page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChangeRefused {
    #[error("La double authentification est exigée pour tous les comptes : elle ne peut pas être désactivée.")]
    Required,
    #[error("{}", WRONG_CODE)]
    WrongCode,
}

/// Turns the member's second factor on (`enable`) or off, with a code from their app; turning
/// it off is refused while the policy requires it.
pub fn change(
    conn: &mut PgConnection,
    user_id: i64,
    code: &str,
    enable: bool,
) -> QueryResult<Result<(), ChangeRefused>> {
    if !enable && policy_requires_totp(conn)? {
        return Ok(Err(ChangeRefused::Required));
    }
    if !check_and_consume(conn, user_id, code, enable)? {
        return Ok(Err(ChangeRefused::WrongCode));
    }
    if !enable {
        disable(conn, user_id)?;
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_accepted_once_and_within_one_step_of_drift() {
        let secret = new_secret();
        let t = totp(&secret, "x").unwrap();
        let now = 1_800_000_000;
        let code = t.generate(now);
        let step = accepted_step(&secret, &code, None, now).unwrap();
        assert_eq!(step, (now / STEP) as i64);
        assert_eq!(
            accepted_step(&secret, &code, Some(step), now),
            None,
            "no replay"
        );
        assert!(
            accepted_step(&secret, &code, None, now + STEP).is_some(),
            "drift"
        );
        assert_eq!(accepted_step(&secret, &code, None, now + 3 * STEP), None);
        assert_eq!(accepted_step(&secret, "12345", None, now), None);
        assert!(accepted_step(
            &secret,
            &format!("{} {}", &code[..3], &code[3..]),
            None,
            now
        )
        .is_some());
    }

    #[test]
    fn the_uri_and_qr_code_are_produced() {
        let secret = new_secret();
        let uri = provisioning_uri(&secret, "rh@cds32.test").unwrap();
        assert!(uri.starts_with("otpauth://totp/Vocation:"), "{uri}");
        assert!(qr_svg(&uri).unwrap().contains("<svg"));
    }
}
