//! What recipients do with a campaign's message: a click on a tracked link, an unsubscription.

use chrono::Utc;
use diesel::prelude::*;

use crate::campaigns::suppression;
use crate::db::schema::{campaign_runs, deliveries};

/// Records a click on a tracked link; returns the campaign it belongs to.
pub fn record_click(conn: &mut PgConnection, delivery_id: i64) -> QueryResult<Option<i64>> {
    use crate::db::schema::link_clicks;
    let campaign = campaign_of_delivery(conn, delivery_id)?;
    if campaign.is_some() {
        // One row per delivery: the first click is kept, later visits only counted; both
        // stamped with the process's clock, which the reports' periods are computed with.
        let now = Utc::now();
        diesel::insert_into(link_clicks::table)
            .values((
                link_clicks::delivery_id.eq(delivery_id),
                link_clicks::clicked_at.eq(now),
                link_clicks::last_clicked_at.eq(now),
            ))
            .on_conflict(link_clicks::delivery_id)
            .do_update()
            .set((
                link_clicks::clicks.eq(link_clicks::clicks + 1),
                link_clicks::last_clicked_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(campaign)
}

/// Unsubscribes the address a delivery went to: suppressed for good, the contact marked, the
/// delivery noted (for the campaign's figures). Idempotent. False when the delivery is unknown.
pub fn unsubscribe(conn: &mut PgConnection, delivery_id: i64) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let found: Option<(Option<String>, i64)> = deliveries::table
            .inner_join(campaign_runs::table)
            .filter(deliveries::id.eq(delivery_id))
            .select((deliveries::email, campaign_runs::campaign_id))
            .first(conn)
            .optional()?;
        // A letter's delivery has no e-mail address to unsubscribe (the letter's code page
        // records « ne plus écrire » instead).
        let Some((Some(email), campaign_id)) = found else {
            return Ok(false);
        };
        suppression::suppress(
            conn,
            &email,
            crate::db::enums::SuppressionReason::Unsubscribed,
            &format!("lien de la campagne n° {campaign_id}"),
        )?;
        diesel::update(
            deliveries::table
                .find(delivery_id)
                .filter(deliveries::unsubscribed_at.is_null()),
        )
        .set(deliveries::unsubscribed_at.eq(Utc::now()))
        .execute(conn)?;
        Ok(true)
    })
}

/// The campaign a delivery belongs to (attribution of an application).
pub fn campaign_of_delivery(conn: &mut PgConnection, delivery_id: i64) -> QueryResult<Option<i64>> {
    deliveries::table
        .inner_join(campaign_runs::table)
        .filter(deliveries::id.eq(delivery_id))
        .select(campaign_runs::campaign_id)
        .first(conn)
        .optional()
}
