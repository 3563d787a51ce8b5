//! Every staff page on the demo data, in a real browser, at 1366 and at 390 px wide: no
//! sideways scroll of the page, no axe-core violation (WCAG 2.0, 2.1 A/AA and 2.2 AA), and a
//! screenshot of each under `target/screenshots/<page>-<width>.png` for reviewers to look at.

use std::path::PathBuf;

use diesel::RunQueryDsl;
use fantoccini::Client;
use vocation::db::enums::StaffRole;

use crate::browser::{audit, goto, in_browser, in_browser_with, sign_in_with, status, wait_until};
use crate::helpers::{TestApp, STAFF_PASSWORD};

/// Where the screenshots go: `target/screenshots/` of the crate, always.
fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

/// A file name for a page: `/admin/centres/1` gives `admin-centres-1`.
fn file_name(path: &str) -> String {
    let name: String = path
        .trim_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if name.is_empty() {
        "accueil".to_owned()
    } else {
        name
    }
}

/// What sticks out of the window on the right (tag.class, and how far), empty when the page
/// does not scroll sideways.
async fn overflow(c: &Client) -> Vec<String> {
    let out = c
        .execute(
            r#"
            const width = window.innerWidth;
            if (document.documentElement.scrollWidth <= width) return [];
            const out = [`page ${document.documentElement.scrollWidth} px for ${width}`];
            for (const e of document.querySelectorAll('body *')) {
                const r = e.getBoundingClientRect();
                if (r.right > width + 1 && !e.closest('.table-scroll')) {
                    out.push(`${e.tagName.toLowerCase()}.${String(e.className).trim().replace(/\s+/g, '.')} → ${Math.round(r.right)} px`);
                }
                if (out.length > 6) break;
            }
            return out;
            "#,
            vec![],
        )
        .await
        .expect("measure the page");
    serde_json::from_value::<Vec<String>>(out).unwrap_or_default()
}

/// The staff pages to visit, with the ids taken from the demo data.
fn staff_pages(app: &TestApp) -> Vec<String> {
    let id = |sql: &str| app.text(sql);
    let mut pages: Vec<String> = [
        "/espace",
        "/recrutement",
        "/recrutement/relances",
        "/recrutement/agenda",
        "/capacite",
        "/campagnes",
        "/campagnes/nouvelle",
        "/campagnes/modeles",
        "/campagnes/modeles/nouveau",
        "/contacts",
        "/contacts/nouveau",
        "/contacts/import",
        "/contacts/desinscriptions",
        "/contacts/organisations",
        "/listes",
        "/rapports",
        "/admin/utilisateurs",
        "/admin/modeles",
        "/admin/centres",
        "/admin/centres/nouveau",
        "/admin/postes",
        "/admin/postes/nouveau",
        "/admin/journal",
        "/espace/jetons",
        "/compte/double-authentification",
        "/campagnes/liens",
        "/campagnes/liens/nouveau",
        "/courriers/nouveau",
        "/recrutement/courriels-non-reconnus",
    ]
    .iter()
    .map(|p| (*p).to_owned())
    .collect();
    let with_id = [
        (
            "/recrutement/candidats/{}",
            "SELECT min(candidate_id) FROM applications",
        ),
        // A candidate with mail exchanged (the « Échanges » section and its answer form).
        (
            "/recrutement/candidats/{}#echanges",
            "SELECT min(candidate_id) FROM candidate_messages",
        ),
        (
            "/recrutement/candidats/{}/modifier",
            "SELECT min(candidate_id) FROM applications",
        ),
        (
            "/recrutement/candidatures/{}/proposition",
            "SELECT min(id) FROM applications WHERE stage IN ('entretien', 'visite')",
        ),
        ("/recrutement/propositions/{}", "SELECT min(id) FROM offers"),
        (
            "/recrutement/propositions/{}/modifier",
            "SELECT min(id) FROM offers WHERE status = 'draft'",
        ),
        (
            "/recrutement/affectations/{}",
            "SELECT min(id) FROM placements",
        ),
        ("/campagnes/{}", "SELECT min(id) FROM campaigns"),
        ("/campagnes/{}/modifier", "SELECT min(id) FROM campaigns"),
        (
            "/campagnes/modeles/{}",
            "SELECT min(id) FROM mail_templates",
        ),
        (
            "/campagnes/modeles/{}/apercu",
            "SELECT min(id) FROM mail_templates",
        ),
        ("/contacts/{}", "SELECT min(id) FROM contacts"),
        ("/listes/{}", "SELECT min(id) FROM contact_lists"),
        ("/admin/centres/{}", "SELECT min(id) FROM centres"),
        ("/admin/postes/{}", "SELECT min(id) FROM positions"),
        ("/campagnes/liens/{}", "SELECT min(id) FROM channel_links"),
        (
            "/recrutement/rendez-vous/{}/modifier",
            "SELECT min(id) FROM meetings WHERE cancelled_at IS NULL",
        ),
        // Public, seen signed in: a position's own page (its address without the slug
        // redirects to the canonical one).
        (
            "/postes/{}",
            "SELECT min(id) FROM positions WHERE published",
        ),
    ];
    for (pattern, sql) in with_id {
        if let Some(id) = id(sql) {
            pages.push(pattern.replace("{}", &id));
        }
    }
    pages
}

#[tokio::test(flavor = "multi_thread")]
async fn every_staff_page_fits_a_phone_and_passes_axe_at_1366_and_390_px() {
    in_browser(|app, c| async move {
        vocation::demo::load(&mut app.conn()).unwrap();
        app.create_staff("admin@cds32.test", StaffRole::Admin);
        // A channel link, whose page the demo data has none of.
        diesel::sql_query(
            "INSERT INTO channel_links (label, code, utm_source, utm_medium, created_at, \
             updated_at) VALUES ('Affiche faculté de Toulouse', 'affiche-toulouse', \
             'affiche-toulouse', 'lien-suivi', now(), now())",
        )
        .execute(&mut app.conn())
        .unwrap();
        let dir = screenshots_dir();
        let mut overflows = String::new();
        let mut report = String::new();
        let mut not_ok = String::new();

        // The public pages and the sign-in page first, then every staff page.
        let public = [
            "/",
            "/candidature",
            "/accessibilite",
            "/donnees-personnelles",
            "/mes-donnees",
            "/connexion",
            "/postes",
        ];
        for path in public {
            visit(
                &c,
                &app,
                path,
                &dir,
                &mut overflows,
                &mut report,
                &mut not_ok,
            )
            .await;
        }
        c.set_window_size(1366, 900).await.unwrap();
        goto(&c, &app, "/connexion").await;
        sign_in_with(&c, "admin@cds32.test", STAFF_PASSWORD).await;
        wait_until(&c, "location.pathname !== '/connexion'", "signed in").await;
        let pages = staff_pages(&app);
        assert!(pages.len() >= 35, "{pages:?}");
        for path in &pages {
            visit(
                &c,
                &app,
                path,
                &dir,
                &mut overflows,
                &mut report,
                &mut not_ok,
            )
            .await;
        }

        assert!(
            not_ok.is_empty() && overflows.is_empty() && report.is_empty(),
            "pages not shown:\n{not_ok}\npages that scroll sideways:\n{overflows}\n\
             axe-core found WCAG 2.1 A/AA or 2.2 AA violations:\n{report}"
        );
    })
    .await;
}

/// The embed a partner site frames (it needs a configured partner, so it has its own app).
#[tokio::test(flavor = "multi_thread")]
async fn the_partner_embed_fits_a_phone_and_passes_axe_at_1366_and_390_px() {
    let builder = TestApp::builder().partners(vec![vocation::config::PartnerSettings {
        id: "dites32".into(),
        name: "#Dites32".into(),
        origin: "https://www.dites32.fr".into(),
        link_code: "dites32".into(),
    }]);
    in_browser_with(builder, |app, c| async move {
        vocation::demo::load(&mut app.conn()).unwrap();
        let dir = screenshots_dir();
        let (mut overflows, mut report, mut not_ok) = (String::new(), String::new(), String::new());
        visit(
            &c,
            &app,
            "/partenaires/dites32/postes",
            &dir,
            &mut overflows,
            &mut report,
            &mut not_ok,
        )
        .await;
        assert!(
            not_ok.is_empty() && overflows.is_empty() && report.is_empty(),
            "not shown: {not_ok}\nscrolls sideways: {overflows}\naxe-core: {report}"
        );
    })
    .await;
}

/// Shows `path` at both widths: status, sideways scroll, screenshot; axe once per width.
async fn visit(
    c: &Client,
    app: &TestApp,
    path: &str,
    dir: &std::path::Path,
    overflows: &mut String,
    report: &mut String,
    not_ok: &mut String,
) {
    for (width, height) in [(1366u32, 900u32), (390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        goto(c, app, path).await;
        let code = status(c).await;
        if code != 200 {
            not_ok.push_str(&format!("{path}: {code}\n"));
            return;
        }
        let png = c.screenshot().await.expect("a screenshot");
        std::fs::write(dir.join(format!("{}-{width}.png", file_name(path))), png).unwrap();
        if path == "/capacite" {
            // The map, below the fold.
            c.execute("document.getElementById('carte').scrollIntoView()", vec![])
                .await
                .unwrap();
            let png = c.screenshot().await.expect("a screenshot");
            std::fs::write(dir.join(format!("capacite-carte-{width}.png")), png).unwrap();
        }
        let out = overflow(c).await;
        if !out.is_empty() {
            overflows.push_str(&format!("{path} at {width} px: {}\n", out.join(" ; ")));
        }
        audit(c, &format!("{path} ({width} px)"), report).await;
    }
}

#[test]
fn screenshot_names_are_file_names() {
    assert_eq!(file_name("/admin/centres/1"), "admin-centres-1");
    assert_eq!(file_name("/"), "accueil");
}
