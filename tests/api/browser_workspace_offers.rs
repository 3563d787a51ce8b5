//! Issue 18, the offer pages in a real browser: the offer form, an offer waiting for approval, a
//! refused action shown again, a start to come and the capacity page, each at 1366 and 390 px
//! wide with no sideways scroll of the page (the week grid scrolls in its own region) and no
//! axe-core violation. Screenshots go to `SCREENSHOTS_DIR` when it is set.

use vocation::db::enums::StaffRole;

use crate::browser::{
    audit, goto, in_browser, main_text, press_button, screenshot, sideways, sign_in_with, status,
    wait_until,
};
use crate::helpers::STAFF_PASSWORD;
use crate::workspace_offers::{accepted, act, apply, day, drafted};

/// What sticks out of the page's visible width (without the vertical scroll bar), outside the
/// scroll regions, empty when nothing does.
async fn strictly_sideways(c: &fantoccini::Client) -> Vec<String> {
    let out = c
        .execute(
            r#"
            const root = document.documentElement;
            if (root.scrollWidth <= root.clientWidth) return [];
            // Boxes sticking out, or text overflowing its box (a long address, say).
            const out = Array.from(document.querySelectorAll('body *'))
                .filter(e => !e.closest('.table-scroll'))
                .filter(e => e.getBoundingClientRect().right > root.clientWidth + 1
                    || (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible'
                        && !e.classList.contains('visually-hidden')))
                .slice(0, 8)
                .map(e => e.tagName.toLowerCase() + '.' + e.className);
            return out.length ? out : ['page ' + root.scrollWidth + ' px wide'];
            "#,
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(out).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_offer_pages_fit_a_phone_and_pass_axe() {
    in_browser(|app, c| async move {
        let recruiter = app.staff(StaffRole::Recruiter).await;
        let admin = app.staff(StaffRole::Admin).await;
        // A draft waiting for approval, and an offer accepted with a start in 30 days.
        let first = apply(&app, 1).await;
        let waiting = drafted(&app, &recruiter, &first, &day(40)).await;
        assert_eq!(
            act(&recruiter, &waiting, "demander-validation", &[])
                .await
                .status(),
            303
        );
        let second = apply(&app, 2).await;
        let later = accepted(&app, &recruiter, &admin, &second, &day(30)).await;
        assert_eq!(
            act(&recruiter, &later, "prise-de-poste", &[("date", &day(30))])
                .await
                .status(),
            303
        );
        let placement = app.text("SELECT id FROM placements").unwrap();
        let third = apply(&app, 3).await;
        let candidate = app
            .text(&format!(
                "SELECT candidate_id FROM applications WHERE id = {third}"
            ))
            .unwrap();
        // The third is interviewed: its offer form can be opened.
        let csrf = recruiter.csrf().await;
        let r = recruiter
            .post_form(
                &format!("/recrutement/candidatures/{third}/etape"),
                &[
                    ("csrf", csrf.as_str()),
                    ("depuis", "nouvelle"),
                    ("vers", "entretien"),
                ],
            )
            .await;
        assert_eq!(r.status(), 303);

        app.create_staff("rh@cds32.test", StaffRole::Recruiter);
        goto(&c, &app, "/connexion").await;
        sign_in_with(&c, "rh@cds32.test", STAFF_PASSWORD).await;
        wait_until(&c, "location.pathname !== '/connexion'", "signed in").await;

        let mut report = String::new();
        let pages = [
            (
                format!("/recrutement/candidatures/{third}/proposition"),
                "proposition-formulaire",
            ),
            (
                format!("/recrutement/propositions/{waiting}"),
                "proposition-validation-demandee",
            ),
            (
                format!("/recrutement/propositions/{later}"),
                "proposition-prise-de-poste-prevue",
            ),
            (
                format!("/recrutement/affectations/{placement}"),
                "affectation-prevue",
            ),
            ("/capacite".to_owned(), "capacite"),
            (format!("/recrutement/candidats/{candidate}"), "fiche"),
        ];
        for (width, height) in [(1366, 900), (390, 844)] {
            c.set_window_size(width, height).await.unwrap();
            for (path, name) in &pages {
                goto(&c, &app, path).await;
                assert_eq!(status(&c).await, 200, "{path}");
                screenshot(&c, &format!("h1-{name}-{width}")).await;
                let out = sideways(&c).await;
                assert!(
                    out.is_empty(),
                    "{path} scrolls sideways at {width} px: {out:?}"
                );
                // Stricter: not even by the width of the vertical scroll bar.
                let strict = strictly_sideways(&c).await;
                assert!(strict.is_empty(), "{path} at {width} px: {strict:?}");
                if width == 390 {
                    audit(&c, path, &mut report).await;
                }
            }
        }
        goto(&c, &app, &format!("/recrutement/propositions/{waiting}")).await;
        let text = main_text(&c).await;
        assert!(text.contains("Validation demandée par"), "{text}");
        goto(&c, &app, &format!("/recrutement/affectations/{placement}")).await;
        assert!(main_text(&c).await.contains("Prise de poste prévue le"));

        // A refused action: the same page, the message at the field, at 390 px.
        let fourth = apply(&app, 0).await;
        let sent = drafted(&app, &recruiter, &fourth, &day(40)).await;
        assert_eq!(act(&admin, &sent, "approuver", &[]).await.status(), 303);
        assert_eq!(act(&recruiter, &sent, "envoyer", &[]).await.status(), 303);
        goto(&c, &app, &format!("/recrutement/propositions/{sent}")).await;
        press_button(&c, "Enregistrer le refus").await;
        wait_until(
            &c,
            "document.querySelector('.error-summary') !== null",
            "the page shown again",
        )
        .await;
        assert_eq!(status(&c).await, 422);
        screenshot(&c, "h1-proposition-refus-sans-motif-390").await;
        let out = sideways(&c).await;
        assert!(out.is_empty(), "sideways: {out:?}");
        audit(&c, "the offer page with an error", &mut report).await;
        assert!(report.is_empty(), "{report}");
    })
    .await;
}
