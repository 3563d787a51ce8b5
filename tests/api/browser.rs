//! Browser tests (feature `browser`): a real headless Chromium, driven through chromedriver,
//! uses the public pages the way a doctor would, and the staff pages the way a recruiter or a
//! communications officer would: fields are found by their visible label, the keyboard alone is
//! enough, and axe-core finds no WCAG 2.1 A/AA violation.
//!
//! Each test starts its own chromedriver on a free port and its own Chromium profile, and
//! closes both at the end, even when an assertion fails.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use chrono::{Days, NaiveDate};
use diesel::RunQueryDsl as _;
use vocation::campaigns::links::{self, Purpose};
use vocation::db::enums::StaffRole;

use crate::campaigns::{secret, sender_settings, start_sender};
use crate::helpers::{Fields, TempDir, TestApp, RECRUITERS, STAFF_PASSWORD};
use crate::smtp_server::SmtpServer;

const WAIT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// chromedriver and Chromium

/// A chromedriver process of our own, with its Chromium profile; both end when this is dropped.
struct ChromeDriver {
    child: Child,
    port: u16,
    profile: TempDir,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
        let binary =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = free_port();
        let profile = TempDir::new();
        let log = profile.0.join("chromedriver.log");
        let mut command = Command::new(&binary);
        command
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // The browser is the visitor, not the service under test: under tests/faketime.sh it
            // keeps the real clock (Chromium does not run with libfaketime preloaded).
            .env_remove("LD_PRELOAD")
            .env_remove("FAKETIME");
        // Its own process group, so that the Chromium it launches can be ended with it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start chromedriver `{binary}`: {e}. Install it (`apt-get install chromium \
                 chromium-driver`) or give its path in the CHROMEDRIVER environment variable."
            )
        });
        ChromeDriver {
            child,
            port,
            profile,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.profile.0.join("chromedriver.log")).unwrap_or_default()
    }

    /// Waits until chromedriver answers `/status` with `ready: true`.
    async fn wait_until_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited at start-up ({status}); its log:\n{}",
                    self.log()
                );
            }
            if let Ok(r) = http.get(format!("{}/status", self.url())).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == json!(true) {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on port {} within 20 s; its log:\n{}",
                self.port,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any Chromium left behind by a failed test.
        let pid = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn connect(driver: &ChromeDriver) -> Client {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let profile = driver.profile.0.join("profile");
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--window-size=1280,1024",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::native()
        .capabilities(capabilities)
        .connect(&driver.url())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot open a Chromium session (binary `{chromium}`, set CHROMIUM to change it): \
                 {e}; chromedriver's log:\n{}",
                driver.log()
            )
        })
}

/// Runs `body` against a fresh application and a fresh browser. The browser session is closed
/// and chromedriver stopped afterwards, whether `body` passed or panicked.
pub(crate) async fn in_browser<F, Fut>(body: F)
where
    F: FnOnce(Arc<TestApp>, Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    in_browser_with(TestApp::builder(), body).await
}

/// [`in_browser`] with an application built by `builder` (partners, settings…).
pub(crate) async fn in_browser_with<F, Fut>(builder: crate::helpers::TestAppBuilder, body: F)
where
    F: FnOnce(Arc<TestApp>, Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let app = Arc::new(builder.spawn().await);
    let mut driver = ChromeDriver::start();
    driver.wait_until_ready().await;
    let client = connect(&driver).await;
    let outcome = tokio::spawn(body(app.clone(), client.clone())).await;
    let closed = client.close().await;
    drop(driver);
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("browser test did not finish: {e}"),
        }
    }
    closed.expect("close the browser session");
}

// ---------------------------------------------------------------------------------------------
// Acting as a person: labels, options, buttons, keys

/// The id of the form control labelled `label` (within the group whose legend is `group`, if
/// given), found by the label's visible text as a person reads it (the required-field asterisk
/// left aside). An exact match wins; otherwise the label must be the only one starting so.
pub(crate) async fn control_id(c: &Client, group: Option<&str>, label: &str) -> String {
    const FIND: &str = r#"
        const [group, wanted] = arguments;
        const norm = s => s.replace(/\s+/g, ' ').trim().replace(/\s*\*$/, '').trim();
        const visible = e => e.getClientRects().length > 0;
        const pick = (items, text) => {
            const exact = items.filter(i => i.text === text);
            return exact.length ? exact : items.filter(i => i.text.startsWith(text));
        };
        let root = document;
        if (group !== null) {
            const sets = Array.from(document.querySelectorAll('fieldset'))
                .map(f => ({ el: f, legend: f.querySelector(':scope > legend') }))
                .filter(f => f.legend && visible(f.legend))
                .map(f => ({ el: f.el, text: norm(f.legend.innerText) }));
            const found = pick(sets, group);
            if (found.length !== 1) {
                return { error: `${found.length} groups titled “${group}”`, seen: sets.map(s => s.text) };
            }
            root = found[0].el;
        }
        const labels = Array.from(root.querySelectorAll('label'))
            .filter(visible)
            .map(l => ({ text: norm(l.innerText), for: l.htmlFor }));
        const found = pick(labels, wanted);
        if (found.length !== 1) {
            return { error: `${found.length} labels reading “${wanted}”`, seen: labels.map(l => l.text) };
        }
        if (!found[0].for || !document.getElementById(found[0].for)) {
            return { error: `the label “${found[0].text}” names no control`, seen: [] };
        }
        return { id: found[0].for };
    "#;
    let r = c
        .execute(FIND, vec![json!(group), json!(label)])
        .await
        .expect("look for a label");
    match r["id"].as_str() {
        Some(id) => id.to_owned(),
        None => panic!(
            "{}{}; labels seen: {}",
            r["error"].as_str().unwrap_or("label not found"),
            group.map(|g| format!(" in “{g}”")).unwrap_or_default(),
            r["seen"]
        ),
    }
}

pub(crate) async fn by_id(c: &Client, id: &str) -> Element {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no element #{id}: {e}"))
}

/// The control labelled `label`.
pub(crate) async fn labelled(c: &Client, label: &str) -> Element {
    let id = control_id(c, None, label).await;
    by_id(c, &id).await
}

/// Types `text` into the field labelled `label` (after clearing it).
pub(crate) async fn fill(c: &Client, label: &str, text: &str) {
    let field = labelled(c, label).await;
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
    assert_eq!(
        field.prop("value").await.unwrap().as_deref(),
        Some(text),
        "the field “{label}” holds what was typed"
    );
}

/// Chooses, in the `<select>` labelled `label`, the option whose visible text is `option`.
pub(crate) async fn select(c: &Client, label: &str, option: &str) {
    let field = labelled(c, label).await;
    assert_eq!(field.tag_name().await.unwrap(), "select", "“{label}”");
    field
        .select_by_label(option)
        .await
        .unwrap_or_else(|e| panic!("no option “{option}” in “{label}”: {e}"));
    let shown = c
        .execute(
            "const s = arguments[0]; return s.options[s.selectedIndex].text;",
            vec![serde_json::to_value(&field).unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(shown, json!(option), "“{label}” shows the chosen option");
}

/// Clicks the label `label` of a radio button or checkbox (in the group titled `group`) and
/// checks that the control is now checked.
pub(crate) async fn check(c: &Client, group: Option<&str>, label: &str) {
    let id = control_id(c, group, label).await;
    c.find(Locator::XPath(&format!("//label[@for=\"{id}\"]")))
        .await
        .expect("the label")
        .click()
        .await
        .unwrap_or_else(|e| panic!("click “{label}”: {e}"));
    assert!(
        by_id(c, &id).await.is_selected().await.unwrap(),
        "“{label}” is checked after clicking its label"
    );
}

/// Clicks the button whose visible text is `text`.
pub(crate) async fn press_button(c: &Client, text: &str) {
    c.find(Locator::XPath(&format!(
        "//button[normalize-space(.)=\"{text}\"]"
    )))
    .await
    .unwrap_or_else(|e| panic!("no button “{text}”: {e}"))
    .click()
    .await
    .expect("click the button");
}

pub(crate) async fn wait_for(c: &Client, css: &str) -> Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| {
            panic!("`{css}` did not appear: {e}");
        })
}

/// Presses and releases one key, wherever the focus is.
pub(crate) async fn press(c: &Client, key: Key) {
    let k: char = key.into();
    let keys = KeyActions::new("clavier".into())
        .then(KeyAction::Down { value: k })
        .then(KeyAction::Up { value: k });
    c.perform_actions(keys).await.expect("key press");
}

/// Presses `key` with Shift held down.
async fn press_with_shift(c: &Client, key: Key) {
    let (shift, k): (char, char) = (Key::Shift.into(), key.into());
    let keys = KeyActions::new("clavier".into())
        .then(KeyAction::Down { value: shift })
        .then(KeyAction::Down { value: k })
        .then(KeyAction::Up { value: k })
        .then(KeyAction::Up { value: shift });
    c.perform_actions(keys).await.expect("key press");
}

/// The HTTP status of the page shown (Navigation Timing).
pub(crate) async fn status(c: &Client) -> u64 {
    c.execute(
        "return performance.getEntriesByType('navigation')[0].responseStatus;",
        vec![],
    )
    .await
    .unwrap()
    .as_u64()
    .expect("a response status")
}

pub(crate) async fn goto(c: &Client, app: &TestApp, path: &str) {
    c.goto(&app.url(path)).await.expect("navigate");
}

/// Fills the whole form the way a doctor would, with the given RPPS number.
async fn fill_the_form(c: &Client, rpps: &str) {
    check(c, Some("Civilité"), "Madame").await;
    fill(c, "Prénom", "Claire").await;
    fill(c, "Nom", "Martin").await;
    fill(c, "Adresse électronique", "claire.martin@exemple.fr").await;
    fill(c, "Téléphone", "06 12 34 56 78").await;
    fill(c, "Numéro RPPS (facultatif)", rpps).await;
    select(c, "Spécialité", "Médecine générale").await;
    select(
        c,
        "Situation professionnelle actuelle",
        "Activité de remplacement",
    )
    .await;
    check(c, Some("Temps de travail souhaité"), "Temps partiel").await;
    select(
        c,
        "Si temps partiel : nombre de jours par semaine",
        "3 jours par semaine",
    )
    .await;
    check(
        c,
        Some("Centres où vous aimeriez exercer"),
        "Fleurance (Centre de santé)",
    )
    .await;
    check(
        c,
        None,
        "J'accepte que mes données soient traitées pour étudier ma candidature",
    )
    .await;
}

const CONFIRMATION: &str = "Merci, votre candidature est bien enregistrée";

/// Submits the filled form and waits for the confirmation page.
async fn submit_and_expect_confirmation(c: &Client) {
    press_button(c, "Envoyer ma candidature").await;
    let heading = wait_for(c, ".notice--success h1").await;
    assert_eq!(heading.text().await.unwrap().trim(), CONFIRMATION);
    assert_eq!(status(c).await, 200);
    let url = c.current_url().await.unwrap();
    assert!(
        url.path().starts_with("/candidature/merci/"),
        "the confirmation has its own address: {url}"
    );
}

// ---------------------------------------------------------------------------------------------
// The tests

#[tokio::test(flavor = "multi_thread")]
async fn a_doctor_fills_the_form_by_its_labels_and_sees_the_confirmation() {
    in_browser(|app, c| async move {
        goto(&c, &app, "/candidature").await;
        let title = c.title().await.unwrap();
        assert!(title.starts_with("Déposer ma candidature"), "{title}");
        fill_the_form(&c, "10132437004").await;
        submit_and_expect_confirmation(&c).await;

        let page = c
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Claire Martin"), "{page}");
        assert!(page.contains("claire.martin@exemple.fr"), "{page}");

        assert_eq!(app.count("SELECT count(*) FROM applications"), 1);
        assert_eq!(
            app.text("SELECT rpps FROM candidates").as_deref(),
            Some("10132437004")
        );
        assert_eq!(
            app.text("SELECT civility FROM candidates").as_deref(),
            Some("madame")
        );
        assert_eq!(app.count("SELECT part_time_half_days FROM candidates"), 6);
        assert_eq!(
            app.text(
                "SELECT c.commune FROM candidate_centres cc JOIN centres c ON c.id = cc.centre_id"
            )
            .as_deref(),
            Some("Fleurance")
        );

        // The confirmation e-mail reaches the doctor (and the note the recruiters).
        assert_eq!(app.dispatch_all_pending_emails().await, 2);
        let mails = app.smtp.received_by("claire.martin@exemple.fr");
        assert_eq!(mails.len(), 1, "one confirmation for the doctor");
        let subject = mails[0].subject();
        assert!(
            subject.contains("Votre candidature est bien reçue"),
            "{subject}"
        );
        assert!(mails[0].text().contains("Bonjour Docteur Martin,"));
        assert_eq!(app.smtp.received_by(RECRUITERS).len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_rpps_shows_the_message_next_to_the_field() {
    in_browser(|app, c| async move {
        goto(&c, &app, "/candidature").await;
        fill_the_form(&c, "10132437005").await;
        press_button(&c, "Envoyer ma candidature").await;

        let message = wait_for(&c, "#rpps-error").await;
        assert_eq!(status(&c).await, 422);
        let title = c.title().await.unwrap();
        assert!(title.starts_with("Erreur dans le formulaire"), "{title}");
        let text = message.text().await.unwrap();
        assert!(text.contains("clé de contrôle"), "{text}");
        assert!(message.is_displayed().await.unwrap());

        // The message sits next to the field and the field points at it.
        let rpps = labelled(&c, "Numéro RPPS (facultatif)").await;
        assert_eq!(rpps.attr("id").await.unwrap().as_deref(), Some("rpps"));
        assert_eq!(
            rpps.attr("aria-invalid").await.unwrap().as_deref(),
            Some("true")
        );
        let described_by = rpps.attr("aria-describedby").await.unwrap().unwrap();
        assert!(
            described_by.split_whitespace().any(|id| id == "rpps-error"),
            "{described_by}"
        );
        assert_eq!(
            rpps.prop("value").await.unwrap().as_deref(),
            Some("10132437005"),
            "the number typed is kept"
        );
        let same_field = c
            .execute(
                "return document.getElementById('rpps-error').closest('.field') \
                 === document.getElementById('rpps').closest('.field');",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            same_field,
            json!(true),
            "the message is in the field's block"
        );

        // What was typed elsewhere is still there.
        let first_name = labelled(&c, "Prénom").await;
        assert_eq!(
            first_name.prop("value").await.unwrap().as_deref(),
            Some("Claire")
        );
        assert!(by_id(&c, "civilite").await.is_selected().await.unwrap());

        // The summary at the top links to the field.
        let link = c
            .find(Locator::Css("#erreurs a[href=\"#rpps\"]"))
            .await
            .expect("a summary link to #rpps");
        let link_text = link.text().await.unwrap();
        assert!(link_text.contains("clé de contrôle"), "{link_text}");

        assert_eq!(app.count("SELECT count(*) FROM applications"), 0);
        assert_eq!(app.count("SELECT count(*) FROM candidates"), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn axe_finds_no_wcag_a_or_aa_violations_on_public_pages() {
    in_browser(|app, c| async move {
        let mut report = String::new();

        for (path, expected) in [
            ("/", 200),
            ("/candidature", 200),
            ("/donnees-personnelles", 200),
            ("/accessibilite", 200),
            ("/page-qui-n-existe-pas", 404),
        ] {
            goto(&c, &app, path).await;
            assert_eq!(status(&c).await, expected, "{path}");
            audit(&c, path, &mut report).await;
        }

        // The form as it comes back with errors (sent empty).
        goto(&c, &app, "/candidature").await;
        press_button(&c, "Envoyer ma candidature").await;
        wait_for(&c, "#erreurs").await;
        assert_eq!(status(&c).await, 422);
        audit(&c, "/candidature (with errors)", &mut report).await;

        // The confirmation page.
        goto(&c, &app, "/candidature").await;
        fill_the_form(&c, "10132437004").await;
        submit_and_expect_confirmation(&c).await;
        audit(&c, "/candidature/merci/…", &mut report).await;

        assert!(
            report.is_empty(),
            "axe-core found WCAG 2.1 A/AA violations:\n{report}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_form_works_with_the_keyboard_alone() {
    in_browser(|app, c| async move {
        goto(&c, &app, "/candidature").await;

        // The first Tab reaches the skip link, shown while it has the focus.
        press(&c, Key::Tab).await;
        let first = focused(&c).await;
        assert_eq!(first["class"], json!("skip-link"), "{first}");
        assert_eq!(first["text"], json!("Aller au contenu"));
        assert_eq!(first["inViewport"], json!(true), "{first}");
        assert_eq!(first["focusVisible"], json!(true), "{first}");

        // Tabbing on goes through the header's links, then the form's fields in order (never
        // to the robots' trap field), and the focus is always visible.
        let mut stops = Vec::new();
        for _ in 0..20 {
            press(&c, Key::Tab).await;
            let f = focused(&c).await;
            assert_eq!(f["focusVisible"], json!(true), "focus visible on {f}");
            assert_ne!(f["outline"], json!("none"), "an outline on {f}");
            assert_eq!(f["inViewport"], json!(true), "scrolled into view: {f}");
            let id = f["id"].as_str().unwrap_or_default().to_owned();
            assert_ne!(id, "site_web", "the trap field is not reachable");
            let done = id == "prenom";
            stops.push(f);
            if done {
                break;
            }
        }
        let ids: Vec<&str> = stops
            .iter()
            .map(|f| f["id"].as_str().unwrap_or(""))
            .collect();
        assert!(
            ids.ends_with(&["poste", "civilite", "prenom"]),
            "after the header: Poste visé, Civilité, Prénom; got {stops:#?}"
        );
        let header = &stops[..stops.len() - 3];
        assert!(
            header
                .iter()
                .all(|f| f["inHeader"] == json!(true) && f["tag"] == json!("a")),
            "only the header's links come before the form: {stops:#?}"
        );
        assert!(
            header.iter().any(|f| f["text"] == json!("Candidater")),
            "{stops:#?}"
        );

        // Back to the Civilité group with Shift+Tab; the space bar chooses its first option.
        press_with_shift(&c, Key::Tab).await;
        assert_eq!(focused(&c).await["id"], json!("civilite"));
        press(&c, Key::Space).await;
        assert!(
            by_id(&c, "civilite").await.is_selected().await.unwrap(),
            "Madame chosen with the space bar"
        );

        // The skip link takes the focus past the header, to the content.
        goto(&c, &app, "/candidature").await;
        press(&c, Key::Tab).await;
        press(&c, Key::Enter).await;
        press(&c, Key::Tab).await;
        let after_skip = focused(&c).await;
        assert_eq!(after_skip["id"], json!("poste"), "{after_skip}");

        // Enter in a text field sends the form; empty, it comes back with the error summary.
        let first_name = labelled(&c, "Prénom").await;
        first_name.send_keys("Claire").await.unwrap();
        press(&c, Key::Enter).await;
        let summary = wait_for(&c, "#erreurs").await;
        assert_eq!(status(&c).await, 422);
        let text = summary.text().await.unwrap();
        assert!(text.contains("erreur"), "{text}");
        assert!(
            c.find(Locator::Css("#erreurs a[href=\"#nom\"]"))
                .await
                .is_ok(),
            "the summary links to the empty Nom field"
        );
        assert_eq!(
            labelled(&c, "Prénom")
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some("Claire")
        );
        assert_eq!(app.count("SELECT count(*) FROM applications"), 0);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The staff pages: a recruiter at work

/// Waits until the JavaScript expression `condition` is true on the page shown (a page still
/// loading counts as false); `what` says what was awaited when it never comes.
pub(crate) async fn wait_until(c: &Client, condition: &str, what: &str) {
    let script = format!("try {{ return !!({condition}); }} catch (e) {{ return false; }}");
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(v) = c.execute(&script, vec![]).await {
            if v == json!(true) {
                return;
            }
        }
        if Instant::now() >= deadline {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let h1 = c
                .execute(
                    "const h = document.querySelector('h1'); return h ? h.innerText : '';",
                    vec![],
                )
                .await
                .unwrap_or_default();
            panic!("{what}: not seen within {WAIT:?} (page {url}, heading {h1})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of the page's `<h1>`, spaces collapsed.
pub(crate) async fn heading(c: &Client) -> String {
    c.find(Locator::Css("h1"))
        .await
        .expect("a heading")
        .text()
        .await
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Fills the sign-in form by its labels and sends it.
pub(crate) async fn sign_in_with(c: &Client, email: &str, password: &str) {
    fill(c, "Adresse électronique", email).await;
    fill(c, "Mot de passe", password).await;
    press_button(c, "Se connecter").await;
}

/// The stage badge of the (only) application shown.
pub(crate) async fn stage_badge(c: &Client) -> String {
    c.find(Locator::Css(".application .stage-badge"))
        .await
        .expect("a stage badge")
        .text()
        .await
        .unwrap()
        .trim()
        .to_owned()
}

/// Waits until the application shown is at `stage` (after a move and its redirect).
pub(crate) async fn wait_for_stage(c: &Client, stage: &str) {
    wait_until(
        c,
        &format!(
            "location.pathname.startsWith('/recrutement/candidats/') && \
             document.querySelector('.application .stage-badge').innerText.trim() === {}",
            json!(stage)
        ),
        &format!("the stage badge “{stage}”"),
    )
    .await;
}

/// The stage moves of the candidate page's timeline, oldest first: Date, De, Vers, Par (the
/// page's « Historique » shows every event newest first; issue 18 replaced the stage table).
pub(crate) async fn history_rows(c: &Client) -> Vec<Vec<String>> {
    let rows = c
        .execute(
            r#"
            const norm = s => s.replace(/\s+/g, ' ').trim();
            const items = Array.from(document.querySelectorAll('.timeline .timeline-item--etape'));
            return items.reverse().map(li => {
                const meta = norm(li.querySelector('.timeline-meta').innerText).split(' · ');
                const title = norm(li.querySelector('.timeline-title').innerText);
                let m = title.match(/passée de « (.+) » à « (.+) »$/);
                const [from, to] = m ? [m[1], m[2]] : ['–', (title.match(/« (.+) »$/) || [])[1]];
                return [meta[1], from, to, meta[2] || ''];
            });
            "#,
            vec![],
        )
        .await
        .expect("read the history");
    serde_json::from_value(rows).expect("the stage moves of the timeline")
}

/// Moves the application shown to `stage` with its « Avancer à … » button, without e-mail.
pub(crate) async fn move_to_stage(c: &Client, stage: &str) {
    press_button(c, &format!("Avancer à « {stage} »")).await;
    wait_for_stage(c, stage).await;
    assert_eq!(status(c).await, 200, "back on the candidate page");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recruiter_signs_in_finds_the_application_and_moves_it_to_the_site_visit() {
    in_browser(|app, c| async move {
        // Two doctors have applied through the public form.
        assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
        let other = Fields::valid()
            .set("prenom", "Paul")
            .set("nom", "Durand")
            .set("courriel", "paul.durand@exemple.fr")
            .set("telephone", "06 98 76 54 32")
            .set("rpps", "");
        assert_eq!(app.apply(&other).await.status(), 303);
        app.create_staff("julie.lafon@cds32.test", StaffRole::Recruiter);
        diesel::sql_query("UPDATE staff_users SET display_name = 'Julie Lafon'")
            .execute(&mut app.conn())
            .unwrap();

        // The board needs a session: the sign-in page comes first, and leads back to it.
        goto(&c, &app, "/recrutement").await;
        let url = c.current_url().await.unwrap();
        assert_eq!(url.path(), "/connexion", "{url}");
        assert_eq!(
            heading(&c).await,
            "Connexion à l'espace recrutement",
            "{url}"
        );
        sign_in_with(&c, "julie.lafon@cds32.test", STAFF_PASSWORD).await;
        wait_until(
            &c,
            "location.pathname === '/recrutement' && document.querySelector('.board') !== null",
            "the board after signing in",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        assert_eq!(heading(&c).await, "Candidatures (2)");
        let who = c.find(Locator::Css(".who")).await.unwrap();
        assert_eq!(who.text().await.unwrap().trim(), "Julie Lafon (Recruteur)");

        // The search finds Claire Martin and only her.
        fill(&c, "Rechercher", "Martin").await;
        press_button(&c, "Filtrer").await;
        wait_until(
            &c,
            "new URLSearchParams(location.search).get('q') === 'Martin' \
             && document.querySelector('.board') !== null",
            "the filtered board",
        )
        .await;
        assert_eq!(heading(&c).await, "Candidatures (1)");
        let board = c
            .find(Locator::Css(".board"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(board.contains("Claire Martin"), "{board}");
        assert!(!board.contains("Paul Durand"), "{board}");
        assert_eq!(
            labelled(&c, "Rechercher")
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some("Martin"),
            "the search stays in its field"
        );

        // Her card leads to her page.
        c.find(Locator::LinkText("Claire Martin"))
            .await
            .expect("the candidate's card")
            .click()
            .await
            .unwrap();
        wait_until(
            &c,
            "location.pathname.startsWith('/recrutement/candidats/') \
             && document.querySelector('.application') !== null",
            "the candidate page",
        )
        .await;
        assert_eq!(heading(&c).await, "Claire Martin");
        let candidate = app
            .text("SELECT id FROM candidates WHERE last_name = 'Martin'")
            .unwrap();
        let url = c.current_url().await.unwrap();
        assert_eq!(url.path(), format!("/recrutement/candidats/{candidate}"));
        assert_eq!(stage_badge(&c).await, "Nouvelle");

        // Two moves with the form alone.
        move_to_stage(&c, "Premier contact").await;
        move_to_stage(&c, "Entretien").await;

        // The third one writes to the doctor: the stage's e-mail is shown first, to edit.
        check(&c, Some("Faire avancer la candidature"), "Écrire au candidat").await;
        press_button(&c, "Avancer à « Visite du territoire »").await;
        wait_until(
            &c,
            "document.getElementById('texte') !== null",
            "the e-mail preview",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        assert_eq!(
            heading(&c).await,
            "Courriel au candidat – passage à « Visite du territoire »"
        );
        let main = c
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(main.contains("claire.martin@exemple.fr"), "{main}");
        let subject = labelled(&c, "Objet").await.prop("value").await.unwrap();
        let expected_subject = app
            .text("SELECT subject FROM stage_email_templates WHERE stage = 'visite'")
            .unwrap();
        assert_eq!(subject.as_deref(), Some(expected_subject.as_str()));
        let text = labelled(&c, "Texte")
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(
            text.starts_with("Bonjour Docteur Martin,"),
            "the text is written for the doctor: {text}"
        );
        assert_eq!(
            app.text("SELECT stage FROM applications WHERE candidate_id = (SELECT id FROM candidates WHERE last_name = 'Martin')")
                .as_deref(),
            Some("entretien"),
            "nothing moves before the e-mail is confirmed"
        );
        let edited = "Bonjour Claire,\n\nNous vous attendons le 12 mars à Auch pour la visite \
                      des centres.\n\nJulie Lafon";
        fill(&c, "Texte", edited).await;
        press_button(&c, "Envoyer le courriel et changer d'étape").await;
        wait_for_stage(&c, "Visite du territoire").await;
        assert_eq!(status(&c).await, 200);

        // The page shows the new stage and the moves, with who made them.
        assert_eq!(stage_badge(&c).await, "Visite du territoire");
        let rows = history_rows(&c).await;
        let moves: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r[1].as_str(), r[2].as_str(), r[3].as_str()))
            .collect();
        assert_eq!(
            moves,
            [
                ("–", "Nouvelle", "Formulaire en ligne"),
                ("Nouvelle", "Premier contact", "Julie Lafon"),
                ("Premier contact", "Entretien", "Julie Lafon"),
                ("Entretien", "Visite du territoire", "Julie Lafon"),
            ],
            "{rows:?}"
        );

        // In the database.
        let martin = "(SELECT id FROM candidates WHERE last_name = 'Martin')";
        assert_eq!(
            app.text(&format!(
                "SELECT stage FROM applications WHERE candidate_id = {martin}"
            ))
            .as_deref(),
            Some("visite")
        );
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM stage_history h JOIN applications a \
                 ON a.id = h.application_id WHERE a.candidate_id = {martin}"
            )),
            4
        );
        assert_eq!(
            app.text("SELECT stage FROM applications WHERE candidate_id <> (SELECT id FROM candidates WHERE last_name = 'Martin')")
                .as_deref(),
            Some("nouvelle"),
            "the other doctor's application did not move"
        );

        // The edited e-mail, and only it, reaches the doctor.
        app.dispatch_all_pending_emails().await;
        let mails = app.smtp.received_by("claire.martin@exemple.fr");
        let stage_mails: Vec<_> = mails
            .iter()
            .filter(|m| m.subject() == expected_subject)
            .collect();
        assert_eq!(stage_mails.len(), 1, "one stage e-mail: {mails:?}");
        let body = stage_mails[0].text().replace("\r\n", "\n");
        assert!(body.contains(edited), "the text as edited: {body}");
        assert!(
            !body.contains("Nous vous contacterons pour organiser cette visite"),
            "not the proposed text: {body}"
        );
        assert_eq!(
            app.smtp.received_by("paul.durand@exemple.fr").len(),
            1,
            "the other doctor got his confirmation only"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn axe_finds_no_violations_on_the_staff_pages() {
    in_browser(|app, c| async move {
        vocation::demo::load(&mut app.conn()).unwrap();
        app.create_staff("admin@cds32.test", StaffRole::Admin);
        let mut report = String::new();

        // The sign-in page, then with the error for a wrong password.
        goto(&c, &app, "/connexion").await;
        assert_eq!(status(&c).await, 200);
        audit(&c, "/connexion", &mut report).await;
        sign_in_with(&c, "admin@cds32.test", "pas le bon mot de passe").await;
        wait_for(&c, ".error-summary").await;
        assert_eq!(status(&c).await, 401);
        audit(&c, "/connexion (wrong password)", &mut report).await;

        sign_in_with(&c, "admin@cds32.test", STAFF_PASSWORD).await;
        // Without a page asked for, staff land on their home page, which lists their sections.
        wait_until(
            &c,
            "location.pathname === '/espace' && document.querySelector('.cards') !== null",
            "the staff home after signing in",
        )
        .await;
        audit(&c, "/espace", &mut report).await;
        goto(&c, &app, "/compte/double-authentification").await;
        wait_for(&c, ".qr svg").await;
        audit(&c, "/compte/double-authentification", &mut report).await;
        goto(&c, &app, "/recrutement").await;
        wait_until(
            &c,
            "location.pathname === '/recrutement' && document.querySelector('.board') !== null",
            "the board",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        audit(&c, "/recrutement", &mut report).await;

        // The board with filters chosen.
        select(&c, "Temps de travail", "Temps partiel").await;
        fill(&c, "Rechercher", "a").await;
        press_button(&c, "Filtrer").await;
        wait_until(
            &c,
            "new URLSearchParams(location.search).get('temps') === 'temps_partiel' \
             && document.querySelector('.board') !== null",
            "the filtered board",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        audit(&c, "/recrutement?temps=temps_partiel&q=a…", &mut report).await;

        // A candidate page with one application still open (so with the move form).
        let candidate = app
            .text(
                "SELECT min(candidate_id) FROM applications GROUP BY candidate_id \
                 HAVING count(*) = 1 AND bool_and(stage = 'nouvelle') ORDER BY 1 LIMIT 1",
            )
            .expect("a demo candidate with one new application");
        let path = format!("/recrutement/candidats/{candidate}");
        goto(&c, &app, &path).await;
        assert_eq!(status(&c).await, 200);
        wait_for(&c, ".action-form").await;
        audit(&c, &path, &mut report).await;

        // The e-mail preview of a move.
        check(
            &c,
            Some("Faire avancer la candidature"),
            "Écrire au candidat",
        )
        .await;
        press_button(&c, "Avancer à « Premier contact »").await;
        wait_until(
            &c,
            "document.getElementById('texte') !== null",
            "the e-mail preview",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        audit(&c, "the e-mail preview", &mut report).await;

        for path in [
            "/recrutement/relances",
            "/admin/utilisateurs",
            "/admin/modeles",
            "/admin/journal",
            "/admin/centres",
            "/admin/centres/1",
            "/admin/centres/nouveau",
            "/admin/postes",
            "/admin/postes/nouveau",
        ] {
            goto(&c, &app, path).await;
            assert_eq!(status(&c).await, 200, "{path}");
            audit(&c, path, &mut report).await;
        }

        assert!(
            report.is_empty(),
            "axe-core found WCAG 2.1 A/AA violations:\n{report}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn axe_finds_no_violations_on_the_reports() {
    in_browser(|app, c| async move {
        vocation::demo::load(&mut app.conn()).unwrap();
        app.create_staff("communication@cds32.test", StaffRole::Communication);
        let mut report = String::new();
        goto(&c, &app, "/connexion?suite=%2Frapports").await;
        sign_in_with(&c, "communication@cds32.test", STAFF_PASSWORD).await;
        wait_until(
            &c,
            "location.pathname === '/rapports' && document.querySelector('svg.chart') !== null",
            "the reports with their charts",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        // The demo's history gives a funnel; its table opens with the keyboard-usable summary.
        assert!(c
            .find(Locator::Css(
                "svg[aria-labelledby='graphique-entonnoir-titre graphique-entonnoir-desc']"
            ))
            .await
            .is_ok());
        audit(&c, "/rapports", &mut report).await;
        c.execute(
            "document.querySelectorAll('details').forEach(d => d.open = true)",
            vec![],
        )
        .await
        .expect("open the tables");
        audit(&c, "/rapports (tables open)", &mut report).await;

        // A period chosen through the form, then a wrong one.
        fill_date(&c, "Du", NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()).await;
        press_button(&c, "Afficher").await;
        wait_until(
            &c,
            "new URLSearchParams(location.search).get('du') === '2000-01-01' \
             && document.querySelector('.report-range') !== null",
            "the reports for the chosen period",
        )
        .await;
        goto(&c, &app, "/rapports?du=31%2F02%2F2026").await;
        wait_for(&c, ".error-summary").await;
        assert_eq!(status(&c).await, 422);
        audit(&c, "/rapports (wrong date)", &mut report).await;

        assert!(
            report.is_empty(),
            "axe-core found WCAG 2.1 A/AA violations:\n{report}"
        );
    })
    .await;
}

/// What has the focus: id, class, text, and whether it is visibly focused.
pub(crate) async fn focused(c: &Client) -> Value {
    c.execute(
        r#"
        const e = document.activeElement;
        if (!e || e === document.body) return { tag: 'body' };
        const r = e.getBoundingClientRect();
        return {
            tag: e.tagName.toLowerCase(),
            id: e.id,
            class: e.getAttribute('class') || '',
            text: (e.innerText || '').replace(/\s+/g, ' ').trim(),
            focusVisible: e.matches(':focus-visible'),
            outline: getComputedStyle(e).outlineStyle,
            inHeader: !!e.closest('header'),
            inViewport: r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth,
        };
        "#,
        vec![],
    )
    .await
    .expect("the focused element")
}

// ---------------------------------------------------------------------------------------------
// Offers: from a draft to the capacity page

/// Today in Paris, the day the service means.
pub(crate) fn paris_today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive()
}

/// Types `day` into the date field labelled `label`, the way a person does: the digits of each
/// part in the order the browser's locale shows them (Chromium moves on to the next part by
/// itself). The field must then hold the day.
pub(crate) async fn fill_date(c: &Client, label: &str, day: NaiveDate) {
    let field = labelled(c, label).await;
    assert_eq!(
        field.attr("type").await.unwrap().as_deref(),
        Some("date"),
        "“{label}” is a date field"
    );
    let order = c
        .execute(
            "return new Intl.DateTimeFormat(navigator.language, \
             { year: 'numeric', month: '2-digit', day: '2-digit' })\
             .formatToParts(new Date(2001, 1, 3))\
             .filter(p => p.type !== 'literal').map(p => p.type);",
            vec![],
        )
        .await
        .expect("the locale's order of a date's parts");
    let order: Vec<String> = serde_json::from_value(order).expect("a list of parts");
    let mut typed = String::new();
    for part in &order {
        match part.as_str() {
            "day" => typed.push_str(&day.format("%d").to_string()),
            "month" => typed.push_str(&day.format("%m").to_string()),
            "year" => typed.push_str(&day.format("%Y").to_string()),
            other => panic!("unexpected date part “{other}” in {order:?}"),
        }
    }
    field.clear().await.expect("clear");
    field.send_keys(&typed).await.expect("type the date");
    assert_eq!(
        field.prop("value").await.unwrap().as_deref(),
        Some(day.to_string().as_str()),
        "the field “{label}” holds the day typed as {typed} ({order:?})"
    );
}

/// Whether the checkbox labelled `label` is ticked.
async fn is_ticked(c: &Client, label: &str) -> bool {
    labelled(c, label).await.is_selected().await.unwrap()
}

/// Ticks (or unticks) the checkbox labelled `label`. The half-days' labels are for screen
/// readers only (the grid's headers say the day and the row the centre), so the box itself is
/// clicked, as a sighted person does.
pub(crate) async fn tick(c: &Client, label: &str, on: bool) {
    let field = labelled(c, label).await;
    assert_eq!(
        field.attr("type").await.unwrap().as_deref(),
        Some("checkbox"),
        "“{label}”"
    );
    if field.is_selected().await.unwrap() != on {
        field
            .click()
            .await
            .unwrap_or_else(|e| panic!("click “{label}”: {e}"));
    }
    assert_eq!(
        field.is_selected().await.unwrap(),
        on,
        "“{label}” is {} after clicking it",
        if on { "ticked" } else { "unticked" }
    );
}

/// The half-days of a whole day, morning and afternoon, in a centre: their labels.
pub(crate) fn whole_days(commune: &str, days: &[&str]) -> Vec<String> {
    days.iter()
        .flat_map(|d| {
            [
                format!("{commune}, {d} matin"),
                format!("{commune}, {d} après-midi"),
            ]
        })
        .collect()
}

/// The status badge next to the page's heading (an offer's, a campaign's).
pub(crate) async fn heading_badge(c: &Client) -> String {
    c.find(Locator::Css("h1 .stage-badge"))
        .await
        .expect("a status badge in the heading")
        .text()
        .await
        .unwrap()
        .trim()
        .to_owned()
}

/// Presses `button` on the offer page and waits for the page to come back with `status`.
pub(crate) async fn act_on_offer(c: &Client, offer: &str, button: &str, status_label: &str) {
    press_button(c, button).await;
    wait_until(
        c,
        &format!(
            "location.pathname === '/recrutement/propositions/{offer}' && \
             document.querySelector('h1 .stage-badge').innerText.trim() === {}",
            json!(status_label)
        ),
        &format!("the offer “{status_label}” after “{button}”"),
    )
    .await;
    assert_eq!(status(c).await, 200, "after “{button}”");
}

/// The text of `main`, once the page has one (a page whose address just changed may still
/// be loading).
pub(crate) async fn main_text(c: &Client) -> String {
    wait_for(c, "main").await.text().await.unwrap()
}

/// The figures of the capacity table's row for `commune`: Statut, Prévus, Pourvus, Engagés,
/// Manquants, Couverture.
pub(crate) async fn capacity_row(c: &Client, commune: &str) -> Vec<String> {
    let row = c
        .execute(
            r#"
            const [commune] = arguments;
            const table = document.querySelector('table.capacity-table');
            if (!table) return null;
            const row = Array.from(table.tBodies[0].rows)
                .find(tr => tr.querySelector('th').innerText.includes(commune));
            return row ? Array.from(row.cells).slice(1)
                .map(td => td.innerText.replace(/\s+/g, ' ').trim()) : null;
            "#,
            vec![json!(commune)],
        )
        .await
        .expect("read the capacity table");
    serde_json::from_value(row)
        .unwrap_or_else(|_| panic!("a row for {commune} in the capacity table"))
}

/// Opens the capacity page (today).
async fn open_capacity(c: &Client, app: &TestApp) {
    goto(c, app, "/capacite").await;
    wait_for(c, "table.capacity-table").await;
    assert_eq!(status(c).await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recruiter_drafts_a_split_week_offer_which_an_admin_approves_and_the_capacity_page_follows(
) {
    in_browser(|app, c| async move {
        // Every centre plans 2 FTE; a doctor has applied; a recruiter and an admin.
        diesel::sql_query("UPDATE centres SET planned_fte_hundredths = 200")
            .execute(&mut app.conn())
            .unwrap();
        assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
        let candidate = app.text("SELECT max(id) FROM candidates").unwrap();
        let application = app.text("SELECT max(id) FROM applications").unwrap();
        app.create_staff("julie.lafon@cds32.test", StaffRole::Recruiter);
        app.create_staff("admin@cds32.test", StaffRole::Admin);
        let mut report = String::new();

        // The recruiter signs in, finds the doctor and moves her to the interview.
        let candidate_page = format!("/recrutement/candidats/{candidate}");
        goto(&c, &app, &candidate_page).await;
        sign_in_with(&c, "julie.lafon@cds32.test", STAFF_PASSWORD).await;
        wait_until(
            &c,
            &format!(
                "location.pathname === '{candidate_page}' \
                 && document.querySelector('.application') !== null"
            ),
            "the candidate page after signing in",
        )
        .await;
        assert_eq!(heading(&c).await, "Claire Martin");
        move_to_stage(&c, "Entretien").await;

        // “Préparer une proposition” opens the form, filled from her wishes.
        c.find(Locator::XPath(
            "//a[starts-with(normalize-space(.), \"Préparer une proposition\")]",
        ))
            .await
            .expect("the link to prepare an offer")
            .click()
            .await
            .unwrap();
        let form_page = format!("/recrutement/candidatures/{application}/proposition");
        wait_until(
            &c,
            &format!(
                "location.pathname === '{form_page}' && document.querySelector('.offer-form') !== null"
            ),
            "the offer form",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        assert_eq!(heading(&c).await, "Préparer une proposition");
        assert!(
            by_id(&c, "temps-partiel").await.is_selected().await.unwrap(),
            "she wished to work part time"
        );
        assert_eq!(
            labelled(&c, "Équivalent temps plein (ETP)")
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some("0,6"),
            "six half-days wished: 0,6 ETP"
        );
        audit(&c, &form_page, &mut report).await;

        // Full time, split between Vic-Fezensac (Monday–Wednesday) and Fleurance (Thursday–Friday).
        let today = paris_today();
        check(&c, Some("Temps de travail"), "Temps plein (1 ETP)").await;
        fill(&c, "Équivalent temps plein (ETP)", "1").await;
        fill_date(&c, "Date de prise de poste", today + Days::new(40)).await;
        fill_date(&c, "Réponse attendue avant le", today + Days::new(20)).await;
        let mut week = whole_days("Vic-Fezensac", &["lundi", "mardi", "mercredi"]);
        week.extend(whole_days("Fleurance", &["jeudi", "vendredi"]));
        for half_day in &week {
            tick(&c, half_day, true).await;
        }
        fill(&c, "ETP à Vic-Fezensac", "0,6").await;
        fill(
            &c,
            "Rémunération (note communiquée au médecin)",
            "Grille des praticiens contractuels, échelon 4",
        )
        .await;

        // Wednesday afternoon in Fleurance as well: refused, with everything kept.
        let clash = "Fleurance, mercredi après-midi";
        tick(&c, clash, true).await;
        press_button(&c, "Enregistrer le brouillon").await;
        let summary = wait_for(&c, ".error-summary").await;
        assert_eq!(status(&c).await, 422);
        let text = summary.text().await.unwrap();
        assert!(text.contains("Le mercredi après-midi est prévu à"), "{text}");
        let dangling = c
            .execute(
                "return Array.from(document.querySelectorAll('.error-summary a'))\
                 .map(a => a.getAttribute('href'))\
                 .filter(h => !h.startsWith('#') || !document.getElementById(h.slice(1)));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            dangling,
            json!([]),
            "each link of the summary leads to a field"
        );
        assert_eq!(
            c.current_url().await.unwrap().path(),
            form_page,
            "the form comes back"
        );
        for half_day in week.iter().map(String::as_str).chain([clash]) {
            assert!(is_ticked(&c, half_day).await, "“{half_day}” stays ticked");
        }
        assert!(!is_ticked(&c, "Fleurance, mercredi matin").await);
        assert!(by_id(&c, "temps-plein").await.is_selected().await.unwrap());
        for (label, value) in [
            ("ETP à Vic-Fezensac", "0,6".to_owned()),
            ("Date de prise de poste", (today + Days::new(40)).to_string()),
            ("Réponse attendue avant le", (today + Days::new(20)).to_string()),
            (
                "Rémunération (note communiquée au médecin)",
                "Grille des praticiens contractuels, échelon 4".to_owned(),
            ),
        ] {
            assert_eq!(
                labelled(&c, label).await.prop("value").await.unwrap(),
                Some(value),
                "“{label}” is kept"
            );
        }
        assert_eq!(app.count("SELECT count(*) FROM offers"), 0);
        audit(&c, &format!("{form_page} (with errors)"), &mut report).await;

        // Without it, the draft is saved and waits for an administrator.
        tick(&c, clash, false).await;
        press_button(&c, "Enregistrer le brouillon").await;
        wait_until(
            &c,
            "location.pathname.startsWith('/recrutement/propositions/') \
             && document.querySelector('h1 .stage-badge') !== null",
            "the offer page",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        let offer = app.text("SELECT max(id) FROM offers").expect("an offer");
        let offer_page = format!("/recrutement/propositions/{offer}");
        assert_eq!(c.current_url().await.unwrap().path(), offer_page);
        assert_eq!(heading_badge(&c).await, "Brouillon");
        let page = main_text(&c).await;
        assert!(page.contains("En attente d'approbation"), "{page}");
        assert!(page.contains("du lundi au mercredi"), "{page}");
        assert!(
            c.find(Locator::XPath(
                "//button[normalize-space(.)=\"Approuver la proposition\"]"
            ))
            .await
            .is_err(),
            "a recruiter cannot approve"
        );
        assert_eq!(
            app.count(&format!(
                "SELECT sum(fte_hundredths) FROM offer_allocations WHERE offer_id = {offer}"
            )),
            100
        );
        audit(&c, &format!("{offer_page} (draft)"), &mut report).await;

        // The admin approves it.
        press_button(&c, "Se déconnecter").await;
        wait_until(
            &c,
            "location.pathname === '/connexion'",
            "the sign-in page after signing out",
        )
        .await;
        sign_in_with(&c, "admin@cds32.test", STAFF_PASSWORD).await;
        wait_until(&c, "location.pathname === '/espace'", "the admin's home").await;
        goto(&c, &app, &offer_page).await;
        assert_eq!(heading_badge(&c).await, "Brouillon");
        act_on_offer(&c, &offer, "Approuver la proposition", "Brouillon").await;
        let page = main_text(&c).await;
        assert!(page.contains("Approuvée le"), "{page}");

        // The recruiter, back, sends it to the doctor.
        press_button(&c, "Se déconnecter").await;
        wait_until(
            &c,
            "location.pathname === '/connexion'",
            "the sign-in page after signing out",
        )
        .await;
        goto(&c, &app, &offer_page).await;
        sign_in_with(&c, "julie.lafon@cds32.test", STAFF_PASSWORD).await;
        wait_until(
            &c,
            &format!(
                "location.pathname === '{offer_page}' && document.querySelector('h1 .stage-badge') !== null"
            ),
            "the offer page after signing in",
        )
        .await;
        act_on_offer(&c, &offer, "Envoyer la proposition au médecin", "Envoyée").await;
        assert_eq!(
            app.text(&format!(
                "SELECT stage FROM applications WHERE id = {application}"
            ))
            .as_deref(),
            Some("proposition")
        );
        audit(&c, &format!("{offer_page} (sent)"), &mut report).await;

        // Sent is not filled: the capacity page still shows nobody at Vic-Fezensac.
        open_capacity(&c, &app).await;
        assert_eq!(
            capacity_row(&c, "Vic-Fezensac").await[1..5],
            ["2", "0", "0", "2"],
            "Prévus, Pourvus, Engagés, Manquants once sent"
        );

        // She accepts and starts today.
        goto(&c, &app, &offer_page).await;
        act_on_offer(&c, &offer, "Le médecin accepte", "Acceptée").await;
        audit(&c, &format!("{offer_page} (accepted)"), &mut report).await;
        fill_date(&c, "Date de prise de poste", today).await;
        press_button(&c, "Enregistrer la prise de poste").await;
        wait_until(
            &c,
            "location.pathname.startsWith('/recrutement/affectations/') \
             && document.querySelector('.week-table') !== null",
            "the placement page",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        let placement = app.text("SELECT id FROM placements").expect("a placement");
        let placement_page = format!("/recrutement/affectations/{placement}");
        assert_eq!(c.current_url().await.unwrap().path(), placement_page);
        assert_eq!(heading(&c).await, "Affectation de Claire Martin");
        let week_rows = c
            .execute(
                r#"
                const table = document.querySelector('table.week-table');
                return [table.caption.innerText.trim()].concat(Array.from(table.tBodies[0].rows)
                    .map(tr => Array.from(tr.cells).map(td => td.innerText.trim()).join(' | ')));
                "#,
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            week_rows,
            json!([
                "Semaine type aujourd'hui",
                "Lundi | Vic-Fezensac | Vic-Fezensac",
                "Mardi | Vic-Fezensac | Vic-Fezensac",
                "Mercredi | Vic-Fezensac | Vic-Fezensac",
                "Jeudi | Fleurance | Fleurance",
                "Vendredi | Fleurance | Fleurance",
            ])
        );
        assert_eq!(
            app.text(&format!(
                "SELECT stage FROM applications WHERE id = {application}"
            ))
            .as_deref(),
            Some("recrutee")
        );
        audit(&c, &placement_page, &mut report).await;

        // The capacity page follows: 0,6 filled of 2 at Vic-Fezensac, 0,4 at Fleurance.
        open_capacity(&c, &app).await;
        assert_eq!(
            capacity_row(&c, "Vic-Fezensac").await[1..5],
            ["2", "0,6", "0", "1,4"],
            "Prévus, Pourvus, Engagés, Manquants at Vic-Fezensac"
        );
        assert_eq!(
            capacity_row(&c, "Fleurance").await[1..5],
            ["2", "0,4", "0", "1,6"],
            "Prévus, Pourvus, Engagés, Manquants at Fleurance"
        );
        let map = c
            .find(Locator::Css("svg[role=img]"))
            .await
            .expect("the map, as an image");
        let title = map
            .find(Locator::Css("title"))
            .await
            .expect("the map has a title");
        let title = c
            .execute(
                "return arguments[0].textContent.trim();",
                vec![serde_json::to_value(&title).unwrap()],
            )
            .await
            .unwrap();
        assert!(
            title
                .as_str()
                .is_some_and(|t| t.starts_with("Couverture des centres de santé du Gers")),
            "{title}"
        );
        let page = main_text(&c).await;
        assert!(
            page.contains("Claire Martin : du lundi au mercredi (0,6 ETP)"),
            "{page}"
        );
        audit(&c, "/capacite", &mut report).await;

        assert!(
            report.is_empty(),
            "axe-core found WCAG 2.1 A/AA violations:\n{report}"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Campaigns: a communications officer from a CSV file to a finished run

/// The 23 people of the CSV file: first name, last name, town (addresses are made from them).
const RETIRED_DOCTORS: [(&str, &str, &str); 23] = [
    ("Jeanne", "Abadie", "Auch"),
    ("Pierre", "Baylac", "Condom"),
    ("Marie", "Castex", "Mirande"),
    ("Louis", "Dubarry", "Lectoure"),
    ("Anne", "Escoubet", "Eauze"),
    ("Henri", "Fourcade", "Nogaro"),
    ("Odile", "Garros", "Samatan"),
    ("Michel", "Haurie", "Vic-Fezensac"),
    ("Colette", "Idrac", "Fleurance"),
    ("Bernard", "Jouanolou", "Gimont"),
    ("Sylvie", "Labat", "Masseube"),
    ("Alain", "Marsan", "Riscle"),
    ("Monique", "Nadau", "Plaisance"),
    ("Jacques", "Orliac", "Marciac"),
    ("Francoise", "Pujos", "Lombez"),
    ("Gerard", "Quillet", "Mauvezin"),
    ("Nicole", "Rivals", "Aignan"),
    ("Claude", "Sarrade", "Cazaubon"),
    ("Martine", "Tabarly", "Valence-sur-Baise"),
    ("Daniel", "Ustou", "Montesquiou"),
    ("Brigitte", "Verdier", "Saramon"),
    ("Robert", "Wagner", "Seissan"),
    ("Yvette", "Zamora", "Barran"),
];

fn retired_doctor_email(first: &str, last: &str) -> String {
    format!(
        "{}.{}@exemple.fr",
        first.to_lowercase(),
        last.to_lowercase()
    )
}

/// The CSV file as a spreadsheet exports it: the 23 people, an invalid address after the
/// eighth, and the first person again (in capitals) at the end. Returns the file's text and the
/// line numbers of the invalid address and of the duplicate.
fn retired_doctors_csv() -> (String, usize, usize) {
    let mut lines = vec!["email,prenom,nom,ville".to_owned()];
    let mut invalid_line = 0;
    for (i, (first, last, town)) in RETIRED_DOCTORS.iter().enumerate() {
        if i == 8 {
            lines.push("paul.roques.exemple.fr,Paul,Roques,Auch".to_owned());
            invalid_line = lines.len();
        }
        lines.push(format!(
            "{},{first},{last},{town}",
            retired_doctor_email(first, last)
        ));
    }
    lines.push("JEANNE.ABADIE@EXEMPLE.FR,Jeanne,Abadie,Auch".to_owned());
    let duplicate_line = lines.len();
    (lines.join("\r\n") + "\r\n", invalid_line, duplicate_line)
}

/// The rows of the table whose caption is `caption`: each cell's text, spaces collapsed.
pub(crate) async fn table_rows(c: &Client, caption: &str) -> Vec<Vec<String>> {
    let rows = c
        .execute(
            r#"
            const [caption] = arguments;
            const norm = e => e.innerText.replace(/\s+/g, ' ').trim();
            const table = Array.from(document.querySelectorAll('table'))
                .find(t => t.caption && norm(t.caption) === caption);
            if (!table) return null;
            return Array.from(table.tBodies[0].rows)
                .map(tr => Array.from(tr.cells).map(norm));
            "#,
            vec![json!(caption)],
        )
        .await
        .expect("read a table");
    serde_json::from_value(rows).unwrap_or_else(|_| panic!("a table titled “{caption}”"))
}

/// The text of the element `css`, spaces collapsed.
pub(crate) async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
        .text()
        .await
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Follows the link whose visible text is `text`.
async fn follow(c: &Client, text: &str) {
    c.find(Locator::XPath(&format!(
        "//a[normalize-space(.)=\"{text}\"]"
    )))
    .await
    .unwrap_or_else(|e| panic!("no link “{text}”: {e}"))
    .click()
    .await
    .unwrap_or_else(|e| panic!("follow “{text}”: {e}"));
}

/// What the page's script shows of the (only) run, recorded by a `MutationObserver` at each
/// change from the moment it is installed: a reload would lose the record.
const RECORD_PROGRESS: &str = r#"
    // The page's part that changes is replaced when the run ends (issue 18): look it up anew.
    const field = name => {
        const el = document.querySelector('#progression-envois [data-field="' + name + '"]');
        return el ? el.textContent.trim() : null;
    };
    const snapshot = () => {
        const bar = document.querySelector('#progression-envois progress');
        const badge = document.querySelector('h1 .stage-badge');
        const s = {
            status: field('status_label'),
            sent: field('sent'),
            pending: field('pending'),
            percent: field('percent'),
            value: bar ? bar.value : null,
            max: bar ? bar.max : null,
            campaign: badge ? badge.textContent.trim() : null,
        };
        const last = window.progressSeen[window.progressSeen.length - 1];
        if (!last || JSON.stringify(last) !== JSON.stringify(s)) window.progressSeen.push(s);
    };
    window.progressSeen = [];
    snapshot();
    new MutationObserver(snapshot).observe(document.querySelector('main'),
        { subtree: true, childList: true, characterData: true, attributes: true });
    return window.progressSeen;
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_communications_officer_imports_contacts_and_watches_a_campaign_finish() {
    in_browser(|app, c| async move {
        let smtp = SmtpServer::start();
        let _sender = start_sender(sender_settings(&app, &smtp));
        app.create_staff("lea.garcia@cds32.test", StaffRole::Communication);
        diesel::sql_query("UPDATE staff_users SET display_name = 'Léa Garcia'")
            .execute(&mut app.conn())
            .unwrap();
        let mut report = String::new();

        // She signs in on her way to the contacts.
        goto(&c, &app, "/contacts").await;
        assert_eq!(c.current_url().await.unwrap().path(), "/connexion");
        sign_in_with(&c, "lea.garcia@cds32.test", STAFF_PASSWORD).await;
        wait_until(
            &c,
            "location.pathname === '/contacts' && document.querySelector('h1') !== null",
            "the contacts after signing in",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        assert_eq!(heading(&c).await, "Contacts (0)");
        assert_eq!(text_of(&c, ".who").await, "Léa Garcia (Communication)");

        // A new list.
        let list_name = "Médecins retraités – Gers";
        follow(&c, "Listes").await;
        wait_until(&c, "location.pathname === '/listes'", "the lists").await;
        fill(&c, "Nom de la liste", list_name).await;
        fill(
            &c,
            "Description (facultative)",
            "Médecins retraités du département, salon de septembre",
        )
        .await;
        press_button(&c, "Créer la liste").await;
        wait_until(
            &c,
            "location.pathname.startsWith('/listes/') && document.querySelector('h1') !== null",
            "the new list's page",
        )
        .await;
        assert_eq!(heading(&c).await, format!("Liste « {list_name} »"));
        let list = app.text("SELECT id FROM contact_lists").expect("the list");
        let list_page = format!("/listes/{list}");
        assert_eq!(c.current_url().await.unwrap().path(), list_page);

        // The import page, from the list: the list is already chosen.
        follow(&c, "Importer dans cette liste").await;
        wait_until(
            &c,
            "location.pathname === '/contacts/import' \
             && document.getElementById('fichier') !== null",
            "the import page",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        assert_eq!(heading(&c).await, "Importer des contacts");
        let chosen = c
            .execute(
                "const s = document.getElementById('liste'); \
                 return s.options[s.selectedIndex].text;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(chosen, json!(list_name));
        audit(&c, "/contacts/import", &mut report).await;

        // The file, chosen through the file input as from the file picker.
        let (csv, invalid_line, duplicate_line) = retired_doctors_csv();
        let scratch = TempDir::new();
        let file = scratch.0.join("medecins-retraites.csv");
        std::fs::write(&file, &csv).unwrap();
        labelled(&c, "Fichier CSV")
            .await
            .send_keys(file.to_str().unwrap())
            .await
            .expect("choose the file");
        let picked = c
            .execute(
                "const f = document.getElementById('fichier').files; \
                 return f.length === 1 ? [f[0].name, f[0].size] : null;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(picked, json!(["medecins-retraites.csv", csv.len()]));
        select(&c, "Type de contact", "Médecin retraité").await;
        press_button(&c, "Voir l'aperçu de l'import").await;
        wait_until(
            &c,
            "location.pathname.startsWith('/contacts/import/') \
             && document.getElementById('compte-refuses') !== null",
            "the import preview",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        let import_page = c.current_url().await.unwrap().path().to_owned();
        assert_eq!(
            heading(&c).await,
            format!("Aperçu de l'import dans la liste « {list_name} »")
        );
        assert!(main_text(&c).await.contains("Rien n'est encore importé."));
        for (id, expected) in [
            ("compte-ajoutes", "23"),
            ("compte-ajoutes-liste", "0"),
            ("compte-deja", "0"),
            ("compte-refuses", "2"),
        ] {
            assert_eq!(text_of(&c, &format!("#{id}")).await, expected, "#{id}");
        }
        let check_rejected = |rows: Vec<Vec<String>>| {
            assert_eq!(rows.len(), 2, "{rows:?}");
            assert_eq!(rows[0][0], invalid_line.to_string(), "{rows:?}");
            assert_eq!(rows[0][1], "paul.roques.exemple.fr", "{rows:?}");
            // Issue 18: the rows' names come after the address.
            assert_eq!(rows[0][3], "Refusé", "{rows:?}");
            assert!(rows[0][4].starts_with("Adresse invalide"), "{rows:?}");
            assert_eq!(rows[1][0], duplicate_line.to_string(), "{rows:?}");
            assert_eq!(rows[1][1], "JEANNE.ABADIE@EXEMPLE.FR", "{rows:?}");
            assert_eq!(rows[1][3], "Refusé", "{rows:?}");
            assert!(
                rows[1][4].starts_with("Doublon de la ligne 2 du fichier"),
                "{rows:?}"
            );
        };
        check_rejected(table_rows(&c, "Lignes refusées et raison").await);
        assert_eq!(app.count("SELECT count(*) FROM contacts"), 0, "nothing yet");
        audit(&c, "the import preview", &mut report).await;

        // Confirmed: the report.
        press_button(&c, "Confirmer l'import").await;
        wait_until(
            &c,
            "new URLSearchParams(location.search).get('applique') === '1' \
             && document.getElementById('compte-refuses') !== null",
            "the import report",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        assert_eq!(c.current_url().await.unwrap().path(), import_page);
        assert_eq!(
            heading(&c).await,
            format!("Bilan de l'import dans la liste « {list_name} »")
        );
        assert_eq!(
            text_of(&c, ".notice--success").await,
            "L'import est terminé."
        );
        assert_eq!(text_of(&c, "#compte-ajoutes").await, "23");
        assert_eq!(text_of(&c, "#compte-refuses").await, "2");
        check_rejected(table_rows(&c, "Lignes refusées et raison").await);
        assert!(main_text(&c).await.contains("medecins-retraites.csv"));
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM list_members m JOIN contacts c ON c.id = m.contact_id \
                 WHERE m.list_id = {list} AND c.kind = 'medecin_retraite'"
            )),
            23
        );
        audit(&c, "the import report", &mut report).await;

        // The list, and the contacts.
        follow(&c, &format!("← Retour à la liste « {list_name} »")).await;
        wait_until(
            &c,
            &format!(
                "location.pathname === '{list_page}' \
                 && document.getElementById('membres') !== null"
            ),
            "the list's page",
        )
        .await;
        let page = main_text(&c).await;
        assert!(page.contains("23 contacts, dont 23 joignables"), "{page}");
        let imports = table_rows(&c, "Imports, les plus récents d'abord").await;
        assert_eq!(imports.len(), 1, "{imports:?}");
        assert_eq!(
            imports[0][1..],
            [
                "medecins-retraites.csv",
                "Léa Garcia",
                "25",
                "23",
                "0 + 0",
                "2"
            ],
            "Fichier, Par, Lignes, Ajoutés, Déjà connus, Refusés"
        );
        audit(&c, &list_page, &mut report).await;
        follow(&c, "Contacts").await;
        wait_until(
            &c,
            "location.pathname === '/contacts' && document.querySelector('table') !== null",
            "the contacts",
        )
        .await;
        assert_eq!(heading(&c).await, "Contacts (23)");
        audit(&c, "/contacts", &mut report).await;

        // A template: first with a variable that does not exist, refused at its field.
        let template_name = "Retraités – rentrée";
        follow(&c, "Modèles de campagne").await;
        wait_until(
            &c,
            "location.pathname === '/campagnes/modeles'",
            "the templates",
        )
        .await;
        follow(&c, "Nouveau modèle").await;
        wait_until(
            &c,
            "location.pathname === '/campagnes/modeles/nouveau' \
             && document.getElementById('texte') !== null",
            "the template editor",
        )
        .await;
        fill(&c, "Nom du modèle", template_name).await;
        fill(&c, "Objet", "Bonjour {{prenom}}, le Gers recrute").await;
        let wrong = "Bonjour {{prenom}},\n\nCher confrère {{titre_honorifique}}, le Gers salarie \
                     des médecins.\n\nCandidatez : {{lien_candidature}}";
        fill(&c, "Texte du message", wrong).await;
        press_button(&c, "Enregistrer le modèle").await;
        let message = wait_for(&c, "#texte-error").await;
        assert_eq!(status(&c).await, 422);
        assert!(message.is_displayed().await.unwrap());
        let text = message.text().await.unwrap();
        assert!(text.contains("titre_honorifique"), "{text}");
        assert!(text.contains("prenom"), "the names one may use: {text}");
        let field = labelled(&c, "Texte du message").await;
        assert_eq!(field.attr("id").await.unwrap().as_deref(), Some("texte"));
        assert_eq!(
            field.attr("aria-invalid").await.unwrap().as_deref(),
            Some("true")
        );
        let described_by = field.attr("aria-describedby").await.unwrap().unwrap();
        assert!(
            described_by
                .split_whitespace()
                .any(|id| id == "texte-error"),
            "{described_by}"
        );
        assert_eq!(field.prop("value").await.unwrap().as_deref(), Some(wrong));
        let same_field = c
            .execute(
                "return document.getElementById('texte-error').closest('.field') \
                 === document.getElementById('texte').closest('.field');",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            same_field,
            json!(true),
            "the message is in the field's block"
        );
        assert!(
            c.find(Locator::Css(".error-summary a[href=\"#texte\"]"))
                .await
                .is_ok(),
            "the summary links to the field"
        );
        assert!(
            c.find(Locator::Css("#objet-error")).await.is_err(),
            "the subject is fine"
        );
        assert_eq!(app.count("SELECT count(*) FROM mail_templates"), 0);
        audit(&c, "the template editor (with an error)", &mut report).await;

        // Then right.
        let right = "Bonjour {{prenom}},\n\nLe département du Gers salarie des médecins dans \
                     ses centres de santé.\n\nCandidatez : {{lien_candidature}}";
        fill(&c, "Texte du message", right).await;
        press_button(&c, "Enregistrer le modèle").await;
        wait_until(
            &c,
            "/^\\/campagnes\\/modeles\\/\\d+$/.test(location.pathname) \
             && document.querySelector('.notice--success') !== null",
            "the saved template",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        assert_eq!(
            text_of(&c, ".notice--success").await,
            "Le modèle est enregistré."
        );
        let template = app
            .text("SELECT id FROM mail_templates")
            .expect("a template");

        // Its preview, with the example values and then a contact's.
        follow(&c, "Aperçu et envoi d'essai").await;
        let preview_page = format!("/campagnes/modeles/{template}/apercu");
        wait_until(
            &c,
            &format!(
                "location.pathname === '{preview_page}' \
                 && document.querySelector('pre.email-text') !== null"
            ),
            "the preview",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        let preview = text_of(&c, "pre.email-text").await;
        assert!(preview.starts_with("Bonjour Camille,"), "{preview}");
        fill(
            &c,
            "Voir l'aperçu avec les valeurs d'un contact",
            "colette.idrac@exemple.fr",
        )
        .await;
        press_button(&c, "Afficher l'aperçu pour ce contact").await;
        wait_until(
            &c,
            "document.querySelector('pre.email-text') !== null \
             && document.querySelector('pre.email-text').innerText.startsWith('Bonjour Colette,')",
            "the preview with Colette Idrac's values",
        )
        .await;
        let page = main_text(&c).await;
        assert!(
            page.contains("Bonjour Colette, le Gers recrute"),
            "the subject: {page}"
        );
        let preview = text_of(&c, "pre.email-text").await;
        assert!(preview.contains("Candidatez : http"), "the link: {preview}");
        audit(&c, "the template preview", &mut report).await;

        // The campaign form, sent as it comes: refused, with the reasons.
        follow(&c, "Campagnes").await;
        wait_until(&c, "location.pathname === '/campagnes'", "the campaigns").await;
        follow(&c, "Nouvelle campagne").await;
        wait_until(
            &c,
            "location.pathname === '/campagnes/nouvelle' \
             && document.getElementById('modele') !== null",
            "the campaign form",
        )
        .await;
        press_button(&c, "Enregistrer le brouillon").await;
        let summary = wait_for(&c, ".error-summary").await;
        assert_eq!(status(&c).await, 422);
        for field in ["nom", "modele", "listes"] {
            assert!(
                c.find(Locator::Css(&format!(
                    ".error-summary a[href=\"#{field}\"]"
                )))
                .await
                .is_ok(),
                "the summary names “{field}”: {}",
                summary.text().await.unwrap()
            );
        }
        assert_eq!(app.count("SELECT count(*) FROM campaigns"), 0);
        audit(&c, "/campagnes/nouvelle (with errors)", &mut report).await;

        // Filled: a draft, then programmed to go now at 120 messages a minute.
        fill(&c, "Nom de la campagne", "Retraités – rentrée").await;
        select(&c, "Modèle du message", template_name).await;
        check(
            &c,
            Some("Listes de destinataires"),
            &format!("{list_name} (23 contacts actifs)"),
        )
        .await;
        fill(&c, "Nom de l'expéditeur", "Recrutement CDS32").await;
        fill(&c, "Adresse de l'expéditeur", "recrutement@gers.test").await;
        fill(&c, "Rythme d'envoi, en messages par minute", "120").await;
        check(&c, Some("Quand envoyer"), "Dès maintenant").await;
        press_button(&c, "Enregistrer le brouillon").await;
        wait_until(
            &c,
            "/^\\/campagnes\\/\\d+$/.test(location.pathname) \
             && document.querySelector('h1 .stage-badge') !== null",
            "the campaign's page",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        let campaign = app.text("SELECT id FROM campaigns").expect("a campaign");
        let campaign_page = format!("/campagnes/{campaign}");
        assert_eq!(c.current_url().await.unwrap().path(), campaign_page);
        assert_eq!(heading_badge(&c).await, "Brouillon");
        // Sending is guarded (issue 18): the button says to how many, a box confirms it.
        check(
            &c,
            None,
            "Je confirme l'envoi immédiat à 23 destinataires",
        )
        .await;
        press_button(&c, "Envoyer maintenant à 23 destinataires").await;
        wait_until(
            &c,
            "new URLSearchParams(location.search).get('fait') === 'programmee' \
             && document.querySelector('#progression-envois progress') !== null",
            "the campaign's page once programmed",
        )
        .await;
        assert_eq!(status(&c).await, 200);
        assert_eq!(heading_badge(&c).await, "En cours");
        assert_eq!(
            text_of(&c, ".notice--success").await,
            "La campagne est programmée : l'envoi a commencé."
        );
        let bar = labelled(&c, "Avancement").await;
        assert_eq!(bar.tag_name().await.unwrap(), "progress");
        assert!(bar.is_displayed().await.unwrap());
        let first = c.execute(RECORD_PROGRESS, vec![]).await.unwrap();
        let first = &first[0];
        assert_eq!(first["status"], json!("Envoi en cours"), "{first}");
        assert_eq!(first["max"], json!(23), "{first}");
        audit(&c, "the campaign's page (sending)", &mut report).await;

        // The page's script follows the run to its end, without a reload.
        let deadline = Instant::now() + Duration::from_secs(60);
        let seen = loop {
            let seen = c
                .execute("return window.progressSeen;", vec![])
                .await
                .expect("the states seen (the page was not reloaded)");
            let seen = seen.as_array().expect("the states seen").clone();
            if seen.last().is_some_and(|s| s["campaign"] == json!("Terminée")) {
                break seen;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the page's script did not show the end of the run within 60 s; it showed \
                     {seen:#?}\nthe runs: {:?}\nthe deliveries: {:?}\nmessages received: {}",
                    app.text(
                        "SELECT string_agg(status || ' ' || coalesce(finished_at::text, '-'), ', ') \
                         FROM campaign_runs"
                    ),
                    app.text(
                        "SELECT string_agg(s, ', ') FROM (SELECT status || ': ' || count(*) AS s \
                         FROM deliveries GROUP BY status) d"
                    ),
                    smtp.count()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let last = seen.last().unwrap();
        assert_eq!(
            *last,
            json!({
                "status": "Terminé",
                "sent": "23",
                "pending": "0",
                "percent": "100",
                "value": 23,
                "max": 23,
                "campaign": "Terminée",
            }),
            "{seen:#?}"
        );
        let sent: Vec<u64> = seen
            .iter()
            .map(|s| s["sent"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{seen:#?}");
        assert!(
            seen[1..].iter().any(|s| {
                let n: u64 = s["sent"].as_str().unwrap().parse().unwrap();
                s["status"] == json!("Envoi en cours") && 0 < n && n < 23
            }),
            "the script showed the run under way: {seen:#?}"
        );
        assert_eq!(text_of(&c, "[data-field=\"failed\"]").await, "0");
        audit(
            &c,
            "the campaign's page (finished, as updated)",
            &mut report,
        )
        .await;

        // Every address got its message, once.
        assert_eq!(smtp.wait_for(23, Duration::from_secs(30)).await, 23);
        let expected: HashMap<String, usize> = RETIRED_DOCTORS
            .iter()
            .map(|(first, last, _)| (retired_doctor_email(first, last), 1))
            .collect();
        assert_eq!(smtp.per_recipient(), expected);
        assert_eq!(smtp.count(), 23);
        let to_colette: Vec<_> = smtp
            .messages()
            .into_iter()
            .filter(|m| m.rcpt_to == ["colette.idrac@exemple.fr"])
            .collect();
        let body = mail_parser::MessageParser::default()
            .parse(&to_colette[0].data)
            .expect("a message")
            .body_text(0)
            .expect("a text part")
            .into_owned();
        assert!(body.starts_with("Bonjour Colette,"), "{body}");
        assert!(
            body.contains("Candidatez : http://vocation.test/c/"),
            "{body}"
        );

        // Reloaded, the page gives the outcome.
        let finished =
            format!("SELECT count(*) FROM campaigns WHERE id = {campaign} AND status = 'terminee'");
        let deadline = Instant::now() + WAIT;
        while app.count(&finished) != 1 {
            assert!(Instant::now() < deadline, "the campaign is not finished");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        goto(&c, &app, &campaign_page).await;
        assert_eq!(status(&c).await, 200);
        assert_eq!(heading_badge(&c).await, "Terminée");
        let page = main_text(&c).await;
        assert!(page.contains("Messages envoyés\n23"), "{page}");
        audit(&c, "the campaign's page (finished)", &mut report).await;

        // One recipient opens the unsubscribe link: the page asks, and changes nothing yet.
        let delivery: i64 = app
            .text("SELECT id FROM deliveries WHERE email = 'jeanne.abadie@exemple.fr'")
            .expect("Jeanne Abadie's delivery")
            .parse()
            .unwrap();
        let token = links::token(&secret(), Purpose::Unsubscribe, delivery);
        goto(&c, &app, &format!("/desinscription/{token}")).await;
        assert_eq!(status(&c).await, 200);
        assert_eq!(heading(&c).await, "Désinscription");
        let page = main_text(&c).await;
        assert!(page.contains("j•••••@exemple.fr"), "{page}");
        assert_eq!(app.count("SELECT count(*) FROM suppressions"), 0);
        audit(&c, "/desinscription/… (confirmation)", &mut report).await;
        press_button(&c, "Me désinscrire").await;
        wait_until(
            &c,
            "document.querySelector('main [role=status]') !== null",
            "the unsubscription done",
        )
        .await;
        assert!(main_text(&c).await.contains("C'est fait"));
        assert_eq!(
            app.text("SELECT reason FROM suppressions").as_deref(),
            Some("desinscription")
        );
        audit(&c, "/desinscription/… (done)", &mut report).await;

        assert!(
            report.is_empty(),
            "axe-core found WCAG 2.1 A/AA violations:\n{report}"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// axe-core

pub(crate) fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = std::env::var_os("AXE_CORE_JS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("target/axe/node_modules/axe-core/axe.min.js")
            });
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "axe-core is needed by the accessibility test but {} cannot be read ({e}). \
                 Install it with:\n    mkdir -p target/axe && npm install --no-audit --no-fund \
                 --prefix target/axe axe-core@4\n(or give the path of axe.min.js in AXE_CORE_JS)",
                path.display()
            )
        })
    })
}

/// Runs axe-core on the page shown and appends its WCAG 2.1 A/AA violations to `report`, then
/// what axe-core only lists for review (see [`labels_and_ids`]).
pub(crate) async fn audit(c: &Client, page: &str, report: &mut String) {
    axe(c, page, report).await;
    labels_and_ids(c, page, report).await;
}

/// Checks in the browser itself what axe-core leaves "to review" (`duplicate-id-aria`): an id
/// carried by several elements, and a label whose control the browser cannot find (its `for`
/// names nothing, or an id that an earlier element carries: the label then names no field for
/// a screen reader, nor does clicking it move to the field).
pub(crate) async fn labels_and_ids(c: &Client, page: &str, report: &mut String) {
    const CHECK: &str = r#"
        const short = e => e.outerHTML.replace(/\s+/g, ' ').slice(0, 160);
        const byId = new Map();
        for (const e of document.querySelectorAll('[id]')) {
            byId.set(e.id, (byId.get(e.id) || []).concat([e]));
        }
        return {
            duplicates: Array.from(byId.entries()).filter(([, es]) => es.length > 1)
                .map(([id, es]) => ({ id, html: es.map(short) })),
            unlabelled: Array.from(document.querySelectorAll('label[for]'))
                .filter(l => l.control === null).map(short),
        };
    "#;
    let found = c
        .execute(CHECK, vec![])
        .await
        .expect("look for duplicate ids");
    for d in found["duplicates"].as_array().expect("duplicates") {
        let _ = writeln!(
            report,
            "\n{page}: [serious] duplicate id — the id “{}” is carried by several elements",
            d["id"].as_str().unwrap_or("?")
        );
        for html in d["html"].as_array().into_iter().flatten() {
            let _ = writeln!(report, "    {}", html.as_str().unwrap_or(""));
        }
    }
    for html in found["unlabelled"].as_array().expect("labels") {
        let _ = writeln!(
            report,
            "\n{page}: [critical] label without control — the browser finds no field for this \
             label\n    {}",
            html.as_str().unwrap_or("")
        );
    }
}

/// Runs axe-core on the page shown and appends its WCAG 2.1 A/AA violations to `report`.
async fn axe(c: &Client, page: &str, report: &mut String) {
    // WebDriver's scripts are not subject to the page's Content-Security-Policy.
    c.execute(axe_source(), vec![])
        .await
        .expect("inject axe-core");
    let loaded = c
        .execute(
            "return typeof window.axe === 'object' && typeof axe.run === 'function';",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(loaded, json!(true), "axe-core is loaded on {page}");
    const RUN: &str = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, {
            runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
            resultTypes: ['violations'],
        }).then(r => done({
            violations: r.violations.map(v => ({
                id: v.id,
                impact: v.impact,
                help: v.help,
                helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({
                    target: n.target.map(String),
                    html: n.html,
                    summary: n.failureSummary || '',
                })),
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
        "axe-core checked something on {page}: {result}"
    );
    for v in result["violations"].as_array().expect("violations") {
        let _ = writeln!(
            report,
            "\n{page}: [{}] {} — {} ({})",
            v["impact"].as_str().unwrap_or("?"),
            v["id"].as_str().unwrap_or("?"),
            v["help"].as_str().unwrap_or(""),
            v["helpUrl"].as_str().unwrap_or("")
        );
        let nodes = v["nodes"].as_array().cloned().unwrap_or_default();
        const SHOWN: usize = 8;
        for n in nodes.iter().take(SHOWN) {
            let targets: Vec<&str> = n["target"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let _ = writeln!(
                report,
                "    at {}\n      {}\n      {}",
                targets.join(" > "),
                n["html"].as_str().unwrap_or(""),
                n["summary"]
                    .as_str()
                    .unwrap_or("")
                    .replace('\n', "\n      ")
            );
        }
        if nodes.len() > SHOWN {
            let _ = writeln!(report, "    … and {} more", nodes.len() - SHOWN);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The API tokens page

#[tokio::test(flavor = "multi_thread")]
async fn the_api_tokens_page_works_by_its_labels_and_axe_finds_no_violations() {
    in_browser(|app, c| async move {
        app.create_staff("jetons@cds32.test", StaffRole::Recruiter);
        let mut report = String::new();
        goto(&c, &app, "/connexion").await;
        sign_in_with(&c, "jetons@cds32.test", STAFF_PASSWORD).await;
        wait_until(&c, "location.pathname !== '/connexion'", "signed in").await;
        goto(&c, &app, "/espace/jetons").await;
        assert_eq!(status(&c).await, 200);
        audit(&c, "/espace/jetons", &mut report).await;

        // Sent without a name: the message is tied to the field.
        press_button(&c, "Créer le jeton").await;
        wait_for(&c, ".error-summary").await;
        assert_eq!(status(&c).await, 422);
        audit(&c, "/espace/jetons (error)", &mut report).await;

        fill(&c, "Nom du jeton", "Tableau de bord RH").await;
        press_button(&c, "Créer le jeton").await;
        wait_for(&c, "#jeton-cree").await;
        assert_eq!(status(&c).await, 200);
        let token = labelled(&c, "Jeton").await.prop("value").await.unwrap();
        assert!(token.is_some_and(|t| t.starts_with("voc_")));
        audit(&c, "/espace/jetons (created)", &mut report).await;
        assert_eq!(app.count("SELECT count(*) FROM api_tokens"), 1);

        press_button(&c, "Révoquer le jeton Tableau de bord RH").await;
        wait_until(&c, "location.search === '?revoque=1'", "the revocation").await;
        audit(&c, "/espace/jetons (revoked)", &mut report).await;
        assert_eq!(
            app.count("SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL"),
            1
        );
        assert!(
            report.is_empty(),
            "axe-core found WCAG 2.1 A/AA violations:\n{report}"
        );
    })
    .await;
}

// « Mes données »

#[tokio::test(flavor = "multi_thread")]
async fn axe_finds_no_violations_on_the_personal_data_pages() {
    in_browser(|app, c| async move {
        let mut report = String::new();
        let r = app.apply(&Fields::valid()).await;
        assert_eq!(r.status().as_u16(), 303);
        app.dispatch_all_pending_emails().await;
        let mail = app
            .smtp
            .received_by("claire.martin@exemple.fr")
            .into_iter()
            .next()
            .expect("the confirmation e-mail");
        let text = mail.text();
        let start = text
            .find("http://vocation.test/mes-donnees/")
            .expect("the private link");
        let link = text[start + "http://vocation.test".len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        let settings = TestApp::builder().settings(&app.db, &app.smtp, &TempDir::new());
        let expired = vocation::privacy::link_url_until(
            &settings,
            1,
            chrono::Utc::now() - chrono::Duration::days(1),
        )
        .trim_start_matches("http://vocation.test")
        .to_owned();

        for (path, expected) in [
            (link.clone(), 200),
            (format!("{link}/effacement"), 200),
            ("/mes-donnees".to_owned(), 200),
            (expired, 410),
            ("/donnees-personnelles".to_owned(), 200),
            ("/accessibilite".to_owned(), 200),
        ] {
            goto(&c, &app, &path).await;
            assert_eq!(status(&c).await, expected, "{path}");
            audit(&c, &path, &mut report).await;
        }

        // The renewal form with an error, then its neutral answer.
        goto(&c, &app, "/mes-donnees").await;
        fill(
            &c,
            "Adresse électronique de votre candidature",
            "pas une adresse",
        )
        .await;
        press_button(&c, "Recevoir mon lien").await;
        wait_for(&c, "#courriel-error").await;
        assert_eq!(status(&c).await, 422);
        audit(&c, "/mes-donnees (with an error)", &mut report).await;
        fill(
            &c,
            "Adresse électronique de votre candidature",
            "claire.martin@exemple.fr",
        )
        .await;
        press_button(&c, "Recevoir mon lien").await;
        wait_for(&c, "[role=status]").await;
        audit(&c, "/mes-donnees (sent)", &mut report).await;

        // Withdrawing from the page, then the erasure step sent without its confirmation.
        goto(&c, &app, &link).await;
        press_button(&c, "Retirer la candidature n° 1").await;
        wait_for(&c, "#message").await;
        audit(&c, "/mes-donnees/… (withdrawn)", &mut report).await;
        goto(&c, &app, &format!("{link}/effacement")).await;
        press_button(&c, "Effacer mes données").await;
        wait_for(&c, "#confirmation-error").await;
        audit(&c, "/mes-donnees/…/effacement (with an error)", &mut report).await;
        assert_eq!(
            app.count("SELECT count(*) FROM applications WHERE stage = 'desistement'"),
            1
        );

        assert!(
            report.is_empty(),
            "axe-core found WCAG 2.1 A/AA violations:\n{report}"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// What a submission proposed (issue « trust »: an anonymous submission never changes a record)

/// Saves a screenshot of the page as `{name}.png` in `SCREENSHOTS_DIR`, when it is set (to look
/// at the pages by eye; the tests assert on the page itself).
pub(crate) async fn screenshot(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("SCREENSHOTS_DIR") {
        let png = c.screenshot().await.expect("a screenshot");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png).unwrap();
    }
}

/// What makes the page scroll sideways at the window's width (the elements sticking out, by
/// tag and class), empty when it does not.
pub(crate) async fn sideways(c: &Client) -> Vec<String> {
    let out = c
        .execute(
            r#"
            if (document.documentElement.scrollWidth <= window.innerWidth) return [];
            return Array.from(document.querySelectorAll('main *'))
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .slice(0, 8)
                .map(e => e.tagName.toLowerCase() + '.' + e.className);
            "#,
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(out).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recruiter_reviews_what_a_second_submission_proposed_and_applies_it() {
    in_browser(|app, c| async move {
        // Claire applies; later a submission with her address proposes another phone and
        // working time. Her record is unchanged until a recruiter takes them up.
        assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
        let proposed = Fields::valid()
            .set("telephone", "07 11 22 33 44")
            .set("temps_travail", "temps_plein")
            .without("demi_journees")
            .set("message", "Nouveau numéro.");
        assert_eq!(app.apply(&proposed).await.status(), 303);
        let claire = app.count("SELECT id FROM candidates");
        assert_eq!(
            app.text("SELECT phone FROM candidates").as_deref(),
            Some("06 12 34 56 78")
        );

        app.create_staff("rh@cds32.test", StaffRole::Recruiter);
        let mut report = String::new();
        goto(&c, &app, "/connexion").await;
        sign_in_with(&c, "rh@cds32.test", STAFF_PASSWORD).await;
        wait_until(&c, "location.pathname !== '/connexion'", "signed in").await;

        for (width, height) in [(1366, 900), (390, 844)] {
            c.set_window_size(width, height).await.unwrap();
            goto(&c, &app, &format!("/recrutement/candidats/{claire}")).await;
            assert_eq!(status(&c).await, 200);
            let rows = table_rows(&c, "Valeurs de la fiche et valeurs envoyées").await;
            assert!(
                rows.contains(&vec![
                    "Téléphone".to_owned(),
                    "06 12 34 56 78".to_owned(),
                    "07 11 22 33 44".to_owned()
                ]),
                "{rows:?}"
            );
            assert!(
                rows.iter()
                    .any(|r| r[0] == "Temps de travail" && r[2] == "Temps plein"),
                "{rows:?}"
            );
            c.execute(
                "document.getElementById('propositions').scrollIntoView()",
                vec![],
            )
            .await
            .unwrap();
            screenshot(&c, &format!("proposition-fiche-{width}")).await;
            let out = sideways(&c).await;
            assert!(out.is_empty(), "sideways scroll at {width} px: {out:?}");
        }
        audit(&c, "the candidate page with a proposal", &mut report).await;

        // Taking them up opens the edit page with the proposed values, to review and save.
        c.find(Locator::XPath(
            "//a[starts-with(normalize-space(.), 'Reprendre ces informations dans la fiche')]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        wait_until(
            &c,
            "location.pathname.endsWith('/modifier')",
            "the edit page",
        )
        .await;
        assert_eq!(
            labelled(&c, "Téléphone")
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some("07 11 22 33 44")
        );
        assert!(main_text(&c).await.contains("Relisez-les"));
        screenshot(&c, "proposition-modifier-390").await;
        let out = sideways(&c).await;
        assert!(out.is_empty(), "sideways scroll: {out:?}");
        audit(&c, "the edit page with a proposal", &mut report).await;
        assert_eq!(
            app.text("SELECT phone FROM candidates").as_deref(),
            Some("06 12 34 56 78"),
            "showing a proposal changes nothing"
        );
        press_button(&c, "Enregistrer la fiche").await;
        wait_until(
            &c,
            "!location.pathname.endsWith('/modifier')",
            "back on the candidate page",
        )
        .await;
        assert_eq!(
            app.text("SELECT phone || ' ' || working_time FROM candidates")
                .as_deref(),
            Some("07 11 22 33 44 temps_plein")
        );
        // Once applied, nothing differs any more: the section is gone.
        assert!(!main_text(&c)
            .await
            .contains("Informations envoyées qui diffèrent"));
        assert!(
            report.is_empty(),
            "axe-core found WCAG 2.1 A/AA violations:\n{report}"
        );
    })
    .await;
}
