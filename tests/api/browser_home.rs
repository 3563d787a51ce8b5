//! Browser tests of issue 18's home, menu, account menu, journal and accounts page: at 1366 and
//! 390 px wide with no sideways scroll, by the keyboard, and axe-core with the WCAG 2.1 A/AA and
//! 2.2 AA rules (target size included). Screenshots go to `SCREENSHOTS_DIR` when it is set.

use std::fmt::Write as _;

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use vocation::db::enums::StaffRole;

use crate::browser::{
    axe_source, fill, focused, goto, in_browser, labels_and_ids, press, press_button, screenshot,
    select, sideways, sign_in_with, status, wait_until,
};
use crate::helpers::{Fields, STAFF_PASSWORD};

/// Runs axe-core with the WCAG 2.1 A/AA and 2.2 AA rules on the page shown and appends what it
/// finds to `report`, then the checks axe-core leaves for review.
async fn axe22(c: &Client, page: &str, report: &mut String) {
    c.execute(axe_source(), vec![])
        .await
        .expect("inject axe-core");
    const RUN: &str = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, {
            runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
            resultTypes: ['violations'],
        }).then(r => done({
            violations: r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 6).map(n => n.html + ' — ' + (n.failureSummary || '')),
            })),
            passes: r.passes.length,
        })).catch(e => done({ error: String(e && e.stack || e) }));
    "#;
    let result = c.execute_async(RUN, vec![]).await.expect("run axe-core");
    if let Some(error) = result["error"].as_str() {
        panic!("axe-core failed on {page}: {error}");
    }
    assert!(
        result["passes"].as_u64().unwrap_or(0) > 0,
        "axe ran on {page}"
    );
    for v in result["violations"].as_array().expect("violations") {
        let _ = writeln!(
            report,
            "\n{page}: [{}] {} — {}",
            v["impact"].as_str().unwrap_or("?"),
            v["id"].as_str().unwrap_or("?"),
            v["help"].as_str().unwrap_or("")
        );
        for n in v["nodes"].as_array().into_iter().flatten() {
            let _ = writeln!(report, "    {}", n.as_str().unwrap_or(""));
        }
    }
    labels_and_ids(c, page, report).await;
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect("run a script")
}

/// Looks at `path` at 1366 and 390 px: no sideways scroll, axe-core, a screenshot of each.
async fn both_widths(
    c: &Client,
    app: &crate::helpers::TestApp,
    path: &str,
    name: &str,
    report: &mut String,
) {
    for (width, height) in [(1366, 900), (390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        goto(c, app, path).await;
        screenshot(c, &format!("{name}-{width}")).await;
        let out = sideways(c).await;
        let culprits = js(
            c,
            "return Array.from(document.body.querySelectorAll('*'))\
             .filter(e => !e.closest('.table-scroll') && \
                 e.getBoundingClientRect().right > window.innerWidth + 1)\
             .slice(0, 8).map(e => e.tagName.toLowerCase() + '.' + e.className + ' ' + \
                 Math.round(e.getBoundingClientRect().right));",
        )
        .await;
        assert!(
            out.is_empty(),
            "{path} scrolls sideways at {width} px: {out:?}, outside any scroller: {culprits}"
        );
        axe22(c, &format!("{path} at {width} px"), report).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_home_menu_account_menu_journal_and_accounts_work_at_both_widths_and_pass_axe() {
    in_browser(|app, c| async move {
        assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
        app.create_staff("admin@cds32.test", StaffRole::Admin);
        let mut report = String::new();
        c.set_window_size(1366, 900).await.unwrap();
        goto(&c, &app, "/connexion").await;
        sign_in_with(&c, "admin@cds32.test", STAFF_PASSWORD).await;
        wait_until(&c, "location.pathname !== '/connexion'", "signed in").await;

        // The home: « À faire » with the new application one click away.
        both_widths(&c, &app, "/espace", "accueil", &mut report).await;
        c.set_window_size(1366, 900).await.unwrap();
        goto(&c, &app, "/espace").await;
        let item = c
            .find(Locator::Css("#a-faire-candidatures .todo-item a"))
            .await
            .expect("the new application in « À faire »");
        assert_eq!(item.text().await.unwrap(), "Claire Martin");
        item.click().await.unwrap();
        wait_until(
            &c,
            "location.pathname.startsWith('/recrutement/candidats/')",
            "the candidate page",
        )
        .await;
        let current = js(
            &c,
            "return Array.from(document.querySelectorAll('header nav a[aria-current=page]'))\
             .map(a => a.textContent.trim());",
        )
        .await;
        assert_eq!(current, json!(["Candidatures"]));

        // On a wide screen the menu is open and its « Menu » hidden; on a phone it starts
        // folded and « Menu » opens it.
        let wide = js(
            &c,
            "const d = document.querySelector('details.nav-menu'); \
             return [d.open, getComputedStyle(d.querySelector('summary')).display];",
        )
        .await;
        assert_eq!(wide, json!([true, "none"]));
        c.set_window_size(390, 844).await.unwrap();
        goto(&c, &app, "/espace").await;
        let folded = js(
            &c,
            "return document.querySelector('details.nav-menu').open;",
        )
        .await;
        assert_eq!(folded, json!(false), "the menu starts folded on a phone");
        c.find(Locator::XPath("//summary[normalize-space(.)='Menu']"))
            .await
            .expect("« Menu »")
            .click()
            .await
            .unwrap();
        let opened = js(
            &c,
            "return document.querySelector('details.nav-menu').open;",
        )
        .await;
        assert_eq!(opened, json!(true));
        let out = sideways(&c).await;
        assert!(out.is_empty(), "the open menu scrolls sideways: {out:?}");
        screenshot(&c, "menu-ouvert-390").await;
        axe22(&c, "/espace with the menu open at 390 px", &mut report).await;

        // The account menu by the keyboard alone: Tab to the name, Enter opens it, Tab to its
        // first link, Escape closes it and gives the focus back.
        c.set_window_size(1366, 900).await.unwrap();
        goto(&c, &app, "/espace").await;
        let mut on_summary = false;
        for _ in 0..4 {
            press(&c, Key::Tab).await;
            let f = focused(&c).await;
            if f["tag"] == "summary"
                && f["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("admin@cds32.test")
            {
                assert_eq!(f["focusVisible"], json!(true), "{f}");
                on_summary = true;
                break;
            }
        }
        assert!(on_summary, "the account menu is reached by Tab");
        press(&c, Key::Enter).await;
        assert_eq!(
            js(
                &c,
                "return document.querySelector('details.account-menu').open;"
            )
            .await,
            json!(true)
        );
        screenshot(&c, "menu-compte-1366").await;
        axe22(&c, "/espace with the account menu open", &mut report).await;
        press(&c, Key::Tab).await;
        let f = focused(&c).await;
        assert_eq!(f["text"], json!("Double authentification"), "{f}");
        press(&c, Key::Escape).await;
        assert_eq!(
            js(
                &c,
                "return document.querySelector('details.account-menu').open;"
            )
            .await,
            json!(false)
        );
        assert_eq!(focused(&c).await["tag"], json!("summary"));
        press(&c, Key::Enter).await;
        press(&c, Key::Tab).await;
        press(&c, Key::Tab).await;
        assert_eq!(focused(&c).await["text"], json!("Jetons d'API"));
        press(&c, Key::Enter).await;
        wait_until(
            &c,
            "location.pathname === '/espace/jetons'",
            "the tokens page",
        )
        .await;

        // The journal, filtered by person through its labels, then a wrong date.
        both_widths(&c, &app, "/admin/journal", "journal", &mut report).await;
        c.set_window_size(1366, 900).await.unwrap();
        goto(&c, &app, "/admin/journal").await;
        select(&c, "Personne", "admin@cds32.test").await;
        press_button(&c, "Filtrer").await;
        wait_until(
            &c,
            "location.search.includes('par=')",
            "the filtered journal",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        let lines = js(
            &c,
            "return Array.from(document.querySelectorAll('.journal-sentence'))\
             .map(l => l.textContent);",
        )
        .await;
        assert!(
            lines
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l.as_str().unwrap().starts_with("admin@cds32.test ")),
            "{lines}"
        );
        assert!(
            lines.to_string().contains("a ouvert une session"),
            "{lines}"
        );
        fill(&c, "Du", "31/02/2026").await;
        press_button(&c, "Filtrer").await;
        wait_until(&c, "location.search.includes('du=')", "the journal again").await;
        assert_eq!(status(&c).await, 422);
        let message = c
            .find(Locator::Css("#du-error"))
            .await
            .expect("the message at the field")
            .text()
            .await
            .unwrap();
        assert!(message.contains("Date illisible"), "{message}");
        let kept = js(&c, "return document.getElementById('du').value;").await;
        assert_eq!(kept, json!("31/02/2026"));
        screenshot(&c, "journal-erreur-1366").await;
        axe22(&c, "/admin/journal with a wrong date", &mut report).await;
        c.set_window_size(390, 844).await.unwrap();
        c.refresh().await.unwrap();
        let out = sideways(&c).await;
        assert!(
            out.is_empty(),
            "the journal with its error at 390 px: {out:?}"
        );
        screenshot(&c, "journal-erreur-390").await;

        // The accounts page: buttons of at least 24 × 24 px (axe's target-size).
        both_widths(&c, &app, "/admin/utilisateurs", "comptes", &mut report).await;
        let small = js(
            &c,
            "return Array.from(document.querySelectorAll('main button, main a, main select'))\
             .filter(e => { const r = e.getBoundingClientRect(); \
                 return r.width > 0 && (r.height < 24 || r.width < 24); })\
             .map(e => e.outerHTML.slice(0, 80));",
        )
        .await;
        assert_eq!(small, json!([]), "targets under 24 px");

        assert!(report.is_empty(), "axe-core found violations:{report}");
    })
    .await;
}
