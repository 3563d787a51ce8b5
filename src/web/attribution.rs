//! Attribution that lasts (issue 19): a first-party cookie remembers, for 90 days, the channel
//! link (`/l/{code}`) or the campaign mail's tracked link (`/c/{token}`) a browser came by, so
//! that a doctor who comes back to `/candidature` days later, without the query string, is
//! still attributed. Each cookie holds an expiring token signed with the service's secret (see
//! `campaigns::links`): a forged, altered or expired cookie is ignored, silently.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use chrono::{DateTime, Duration, Utc};

use crate::campaigns::links::{self, Purpose};

/// The channel link the browser came by.
pub const CHANNEL_COOKIE: &str = "vocation_canal";
/// The campaign delivery whose tracked link the browser followed.
pub const CLICK_COOKIE: &str = "vocation_suivi";
/// How long a browser remembers where it came from.
pub const MEMORY_DAYS: i64 = 90;

fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::days(MEMORY_DAYS))
        .finish()
}

fn signed(secret: &[u8], purpose: Purpose, id: i64, now: DateTime<Utc>) -> String {
    let expires = (now + Duration::days(MEMORY_DAYS)).timestamp();
    links::expiring_token(secret, purpose, id, expires)
}

/// The cookie remembering channel link `link_id`.
pub fn channel_cookie(
    secret: &[u8],
    link_id: i64,
    now: DateTime<Utc>,
    secure: bool,
) -> Cookie<'static> {
    cookie(
        CHANNEL_COOKIE,
        signed(secret, Purpose::Channel, link_id, now),
        secure,
    )
}

/// The cookie remembering the tracked link of campaign delivery `delivery_id`.
pub fn click_cookie(
    secret: &[u8],
    delivery_id: i64,
    now: DateTime<Utc>,
    secure: bool,
) -> Cookie<'static> {
    cookie(
        CLICK_COOKIE,
        signed(secret, Purpose::ClickMemory, delivery_id, now),
        secure,
    )
}

/// The id a cookie remembers, if its signature holds and it has not expired at `now`.
fn remembered(
    req: &HttpRequest,
    name: &str,
    secret: &[u8],
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Option<i64> {
    let cookie = req.cookie(name)?;
    let value = cookie.value();
    if value.len() > 100 {
        return None;
    }
    let (id, expires) = links::verify_expiring(secret, purpose, value)?;
    (expires > now.timestamp()).then_some(id)
}

/// The channel link id the browser remembers (whether the link is still live is the caller's
/// question).
pub fn remembered_channel(req: &HttpRequest, secret: &[u8], now: DateTime<Utc>) -> Option<i64> {
    remembered(req, CHANNEL_COOKIE, secret, Purpose::Channel, now)
}

/// The tracked-link token (`suivi`) of the delivery the browser remembers.
pub fn remembered_click(req: &HttpRequest, secret: &[u8], now: DateTime<Utc>) -> Option<String> {
    remembered(req, CLICK_COOKIE, secret, Purpose::ClickMemory, now)
        .map(|id| links::token(secret, Purpose::Click, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    const KEY: &[u8] = b"test-key";

    #[test]
    fn a_remembered_channel_holds_for_ninety_days_and_no_more() {
        let now = Utc::now();
        let c = channel_cookie(KEY, 7, now, true);
        assert!(c.http_only().unwrap_or(false));
        assert_eq!(c.same_site(), Some(SameSite::Lax));
        assert_eq!(c.secure(), Some(true));
        let req = TestRequest::default().cookie(c.clone()).to_http_request();
        assert_eq!(
            remembered_channel(&req, KEY, now + Duration::days(89)),
            Some(7)
        );
        assert_eq!(
            remembered_channel(&req, KEY, now + Duration::days(91)),
            None
        );
        assert_eq!(remembered_channel(&req, b"other-key", now), None);
        // A channel cookie is not a click cookie.
        let swapped = TestRequest::default()
            .cookie(Cookie::new(CLICK_COOKIE, c.value().to_owned()))
            .to_http_request();
        assert_eq!(remembered_click(&swapped, KEY, now), None);
    }

    #[test]
    fn a_remembered_click_gives_back_the_tracked_links_token() {
        let now = Utc::now();
        let req = TestRequest::default()
            .cookie(click_cookie(KEY, 42, now, false))
            .to_http_request();
        assert_eq!(
            remembered_click(&req, KEY, now),
            Some(links::token(KEY, Purpose::Click, 42))
        );
    }
}
