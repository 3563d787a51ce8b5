use crate::helpers::{field_error, tiny_pdf, Fields, TestApp, RECRUITERS};

#[tokio::test]
async fn a_valid_application_is_recorded_and_both_emails_are_received() {
    let app = TestApp::spawn().await;
    let tokens = app
        .form_tokens("/candidature?utm_source=lettre&utm_medium=email&utm_campaign=facultes-2026")
        .await;
    let fields = Fields::valid()
        .add(
            "centres",
            &app.text("SELECT id FROM centres WHERE commune = 'Fleurance'")
                .unwrap(),
        )
        .add(
            "centres",
            &app.text("SELECT id FROM centres WHERE commune = 'Vic-Fezensac'")
                .unwrap(),
        )
        .set("utm_source", "lettre")
        .set("utm_medium", "email")
        .set("utm_campaign", "facultes-2026");
    let r = app
        .post_application(&tokens, &fields, Some(("CV Claire.pdf", tiny_pdf())))
        .await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/candidature/merci/{}", tokens.soumission)
    );

    // The database holds one candidate, one application in stage "nouvelle", its history, the CV.
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 1);
    assert_eq!(
        app.text("SELECT email_normalized FROM candidates").unwrap(),
        "claire.martin@exemple.fr"
    );
    assert_eq!(
        app.text("SELECT phone_normalized FROM candidates").unwrap(),
        "+33612345678"
    );
    assert_eq!(
        app.text("SELECT rpps FROM candidates").unwrap(),
        "10132437004"
    );
    assert_eq!(app.count("SELECT part_time_half_days FROM candidates"), 6);
    assert_eq!(app.count("SELECT count(*) FROM candidates WHERE pool_consent_at IS NOT NULL AND on_call AND NOT intern_training"), 1);
    assert_eq!(app.count("SELECT count(*) FROM candidate_centres"), 2);
    assert_eq!(
        app.text("SELECT stage FROM applications").unwrap(),
        "nouvelle"
    );
    assert_eq!(
        app.text("SELECT utm_campaign FROM applications").unwrap(),
        "facultes-2026"
    );
    assert_eq!(
        app.text("SELECT heard_from FROM applications").unwrap(),
        "faculte"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM stage_history WHERE from_stage IS NULL AND to_stage = 'nouvelle'"
        ),
        1
    );
    assert_eq!(
        app.text("SELECT original_name FROM documents").unwrap(),
        "CV Claire.pdf"
    );
    let key = app.text("SELECT storage_key FROM documents").unwrap();
    assert!(
        !key.contains("Claire"),
        "stored under a generated name: {key}"
    );
    let stored = std::fs::read(app.documents_dir.join(&key)).unwrap();
    assert_eq!(stored, tiny_pdf());

    // The confirmation page greets the doctor.
    let (status, html) = app.get_html(&location).await;
    assert_eq!(status, 200);
    assert!(html.contains("Claire Martin"), "{html}");
    assert!(html.contains("claire.martin@exemple.fr"));

    // Both e-mails go out after commit, through the outbox.
    assert_eq!(app.dispatch_all_pending_emails().await, 2);
    let to_doctor = app.smtp.received_by("claire.martin@exemple.fr");
    assert_eq!(to_doctor.len(), 1);
    let mail = &to_doctor[0];
    assert_eq!(mail.from, "recrutement@vocation.test");
    assert!(
        mail.subject().contains("Votre candidature est bien reçue"),
        "{}",
        mail.subject()
    );
    let text = mail.text();
    // A locum is a doctor: the one greeting of every e-mail to a candidate.
    assert!(text.contains("Bonjour Docteur Martin,"), "{text}");
    assert!(
        text.contains("Temps partiel, 3 jours par semaine"),
        "{text}"
    );
    assert!(text.contains("Fleurance, Vic-Fezensac"), "{text}");
    assert!(
        text.contains(
            &crate::helpers::available_from()
                .format("%d/%m/%Y")
                .to_string()
        ),
        "{text}"
    );
    assert!(mail.html().contains("Bonjour Docteur Martin,"));
    assert!(mail
        .header("Message-ID")
        .unwrap()
        .contains("@vocation.test>"));

    let to_recruiters = app.smtp.received_by(RECRUITERS);
    assert_eq!(to_recruiters.len(), 1);
    let note = &to_recruiters[0];
    assert!(
        note.subject().contains("Claire Martin"),
        "{}",
        note.subject()
    );
    assert!(note.subject().contains("Médecine générale"));
    let text = note.text();
    assert!(text.contains("10132437004"));
    assert!(text.contains("Je souhaite m'installer dans le Gers."));
    assert!(text.contains("campagne facultes-2026"), "{text}");

    assert_eq!(
        app.count("SELECT count(*) FROM outbound_emails WHERE status = 'sent'"),
        2
    );
    // Nothing left to send.
    assert_eq!(app.dispatch_all_pending_emails().await, 0);
}

async fn post_and_expect_error(
    app: &TestApp,
    fields: Fields,
    field: &str,
    expected: &str,
) -> String {
    let r = app.apply(&fields).await;
    assert_eq!(r.status(), 422, "field {field}");
    let html = r.text().await.unwrap();
    let message =
        field_error(&html, field).unwrap_or_else(|| panic!("no message for {field}: {html}"));
    assert!(message.contains(expected), "{field}: {message}");
    // The summary links to the field.
    assert!(
        html.contains(&format!("href=\"#{field}\"")),
        "summary link for {field}"
    );
    // The field points at its message.
    assert!(
        html.contains(&format!("{field}-error\"")) && html.contains("aria-invalid=\"true\""),
        "aria for {field}"
    );
    html
}

#[tokio::test]
async fn each_wrong_field_gets_a_french_message_next_to_it_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    post_and_expect_error(
        &app,
        Fields::valid().set("rpps", "10132437005"),
        "rpps",
        "clé de contrôle",
    )
    .await;
    post_and_expect_error(
        &app,
        Fields::valid().set("rpps", "1013243700"),
        "rpps",
        "11 chiffres",
    )
    .await;
    post_and_expect_error(
        &app,
        Fields::valid().set("courriel", "claire.martin@"),
        "courriel",
        "prenom.nom@exemple.fr",
    )
    .await;
    post_and_expect_error(
        &app,
        Fields::valid().set("courriel", "claire.martin.exemple.fr"),
        "courriel",
        "@",
    )
    .await;
    post_and_expect_error(
        &app,
        Fields::valid().set("telephone", "06 12 34"),
        "telephone",
        "06 12 34 56 78",
    )
    .await;
    post_and_expect_error(
        &app,
        Fields::valid().without("consentement"),
        "consentement",
        "Cochez la case",
    )
    .await;
    post_and_expect_error(
        &app,
        Fields::valid().without("temps_travail"),
        "temps_travail",
        "temps plein ou à temps partiel",
    )
    .await;
    post_and_expect_error(
        &app,
        Fields::valid().without("demi_journees"),
        "demi_journees",
        "jours par semaine",
    )
    .await;
    post_and_expect_error(
        &app,
        Fields::valid().set("specialite", "SM99"),
        "specialite",
        "liste",
    )
    .await;
    post_and_expect_error(
        &app,
        Fields::valid().set("disponibilite", "bientôt"),
        "disponibilite",
        "JJ/MM/AAAA",
    )
    .await;
    post_and_expect_error(
        &app,
        Fields::valid().set("prenom", "   "),
        "prenom",
        "Indiquez votre prénom",
    )
    .await;
    post_and_expect_error(
        &app,
        Fields::valid().add("centres", "999999"),
        "centres",
        "centre",
    )
    .await;
    post_and_expect_error(
        &app,
        Fields::valid().set("message", &"x".repeat(5001)),
        "message",
        "5000",
    )
    .await;
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 0);
    assert_eq!(app.count("SELECT count(*) FROM applications"), 0);
    assert_eq!(app.count("SELECT count(*) FROM outbound_emails"), 0);
}

#[tokio::test]
async fn a_form_with_errors_keeps_every_value_typed() {
    let app = TestApp::spawn().await;
    let vic = app
        .text("SELECT id FROM centres WHERE commune = 'Vic-Fezensac'")
        .unwrap();
    let fields = Fields::valid()
        .set("rpps", "10132437005")
        .set("message", "Ligne 1\nLigne 2 <b>gras</b>")
        .add("centres", &vic);
    let r = app.apply(&fields).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    let value = |sel: &str| {
        let s = scraper::Selector::parse(sel).unwrap();
        doc.select(&s)
            .next()
            .map(|e| e.value().attr("value").unwrap_or_default().to_owned())
    };
    assert_eq!(value("#prenom").unwrap(), "Claire");
    assert_eq!(value("#courriel").unwrap(), "claire.martin@exemple.fr");
    assert_eq!(value("#rpps").unwrap(), "10132437005");
    assert_eq!(
        value("#disponibilite").unwrap(),
        crate::helpers::available_from().to_string()
    );
    let checked = |sel: &str| {
        let s = scraper::Selector::parse(sel).unwrap();
        doc.select(&s)
            .next()
            .map(|e| e.value().attr("checked").is_some())
            .unwrap_or(false)
    };
    assert!(checked("#civilite"), "madame stays chosen");
    assert!(checked("#temps_travail-partiel"));
    assert!(checked(&format!("#centre-{vic}")) || checked("#centres"));
    assert!(checked("#garde"));
    assert!(checked("#consentement"));
    assert!(checked("#vivier"));
    let selected = |sel: &str| {
        let s = scraper::Selector::parse(sel).unwrap();
        doc.select(&s)
            .next()
            .map(|e| e.value().attr("value").unwrap_or_default().to_owned())
    };
    assert_eq!(selected("#specialite option[selected]").unwrap(), "SM54");
    assert_eq!(
        selected("#situation option[selected]").unwrap(),
        "remplacant"
    );
    assert_eq!(selected("#demi_journees option[selected]").unwrap(), "6");
    assert!(
        html.contains("Ligne 1\nLigne 2 &lt;b&gt;gras&lt;&#x2F;b&gt;")
            || html.contains("Ligne 1\nLigne 2 &lt;b&gt;gras&lt;/b&gt;"),
        "message kept, escaped"
    );
    // The page title says there is an error, for screen-reader users.
    assert!(html.contains("<title>Erreur dans le formulaire"), "title");
}

#[tokio::test]
async fn an_oversized_cv_gets_413_and_a_non_pdf_gets_422_with_the_message_at_the_field() {
    let app = TestApp::spawn().await;
    let tokens = app.form_tokens("/candidature").await;
    let mut big = tiny_pdf();
    big.resize(5 * 1024 * 1024 + 10, b' ');
    let r = app
        .post_application(&tokens, &Fields::valid(), Some(("gros.pdf", big)))
        .await;
    assert_eq!(r.status(), 413);
    let html = r.text().await.unwrap();
    let msg = field_error(&html, "cv").unwrap();
    assert!(msg.contains("5,0 Mo"), "{msg}");
    assert!(html.contains("value=\"Claire\""), "values kept");

    let tokens = app.form_tokens("/candidature").await;
    let r = app
        .post_application(
            &tokens,
            &Fields::valid(),
            Some(("cv.pdf", b"MZ\x90\x00 not a pdf".to_vec())),
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(field_error(&html, "cv")
        .unwrap()
        .contains("n'est pas un PDF"));
    assert_eq!(app.count("SELECT count(*) FROM applications"), 0);
    assert_eq!(
        std::fs::read_dir(&app.documents_dir)
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}

#[tokio::test]
async fn a_body_past_the_hard_limit_is_refused_with_413() {
    let app = TestApp::spawn().await;
    let tokens = app.form_tokens("/candidature").await;
    let huge = vec![b'%'; 17 * 1024 * 1024];
    let r = app
        .post_application(&tokens, &Fields::valid(), Some(("huge.pdf", huge)))
        .await;
    assert_eq!(r.status(), 413);
    let html = r.text().await.unwrap();
    assert!(html.contains("Envoi trop volumineux"));
}

#[tokio::test]
async fn a_path_traversal_file_name_is_stored_under_a_generated_name() {
    let app = TestApp::spawn().await;
    let tokens = app.form_tokens("/candidature").await;
    let r = app
        .post_application(
            &tokens,
            &Fields::valid(),
            Some(("../../../etc/passwd.pdf", tiny_pdf())),
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text("SELECT original_name FROM documents").unwrap(),
        "passwd.pdf"
    );
    let key = app.text("SELECT storage_key FROM documents").unwrap();
    assert!(!key.contains('/') && !key.contains(".."));
    assert!(app.documents_dir.join(key).exists());
}

#[tokio::test]
async fn the_same_submission_sent_twice_is_one_application() {
    let app = TestApp::spawn().await;
    let tokens = app.form_tokens("/candidature").await;
    let fields = Fields::valid();
    // A double click: two concurrent posts of the same form.
    let (a, b) = tokio::join!(
        app.post_application(&tokens, &fields, Some(("cv.pdf", tiny_pdf()))),
        app.post_application(&tokens, &fields, Some(("cv.pdf", tiny_pdf())))
    );
    assert_eq!(a.status(), 303);
    assert_eq!(b.status(), 303);
    // Back and resubmit, later.
    let c = app.post_application(&tokens, &fields, None).await;
    assert_eq!(c.status(), 303);
    assert_eq!(
        c.headers()["location"],
        a.headers()["location"],
        "the resubmission lands on the same confirmation"
    );
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 1);
    assert_eq!(app.count("SELECT count(*) FROM applications"), 1);
    assert_eq!(app.count("SELECT count(*) FROM documents"), 1);
    assert_eq!(
        std::fs::read_dir(&app.documents_dir).unwrap().count(),
        1,
        "the duplicate CV file is removed"
    );
    assert_eq!(app.count("SELECT count(*) FROM outbound_emails"), 2);
}

#[tokio::test]
async fn only_the_email_on_file_joins_a_record_and_rpps_or_phone_matches_are_kept_apart() {
    let app = TestApp::spawn().await;
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);

    // No RPPS, same e-mail written differently, another phone: the same record, unchanged.
    let by_email = Fields::valid()
        .set("rpps", "")
        .set("courriel", "  Claire.Martin@Exemple.FR ")
        .set("telephone", "07 00 00 00 02")
        .set("message", "Autre projet");
    assert_eq!(app.apply(&by_email).await.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 1);
    assert_eq!(
        app.text("SELECT phone FROM candidates").unwrap(),
        "06 12 34 56 78",
        "a submission never changes the record"
    );
    // Each spontaneous application while one is open completes it rather than duplicating it.
    assert_eq!(app.count("SELECT count(*) FROM applications"), 1);
    let message = app.text("SELECT message FROM applications").unwrap();
    assert!(
        message.contains("Je souhaite m'installer") && message.contains("Autre projet"),
        "{message}"
    );

    // Same RPPS, new e-mail and phone: a second record, the RPPS staying with the first.
    let by_rpps = Fields::valid()
        .set("courriel", "c.martin@hopital.fr")
        .set("telephone", "07 00 00 00 01");
    assert_eq!(app.apply(&by_rpps).await.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 2);
    assert_eq!(
        app.text("SELECT email FROM candidates WHERE rpps = '10132437004'")
            .unwrap(),
        "claire.martin@exemple.fr"
    );
    assert_eq!(
        app.text("SELECT submitted_rpps FROM candidates WHERE email = 'c.martin@hopital.fr'")
            .unwrap(),
        "10132437004"
    );

    // No RPPS, new e-mail, same phone: a third record.
    let by_phone = Fields::valid()
        .set("rpps", "")
        .set("courriel", "claire@autre.fr")
        .set("telephone", "+33 6 12 34 56 78");
    assert_eq!(app.apply(&by_phone).await.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 3);

    // A different doctor with a different RPPS is never merged, even sharing a phone.
    let other = Fields::valid()
        .set("rpps", "10158508753")
        .set("prenom", "Paul")
        .set("courriel", "paul@exemple.fr")
        .set("telephone", "+33 7 00 00 00 02");
    assert_eq!(app.apply(&other).await.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM candidates"), 4);
    assert_eq!(
        app.count("SELECT count(*) FROM submissions WHERE match_kind = 'doublon_possible'"),
        2,
        "the RPPS and the phone matches are flagged"
    );

    // Recruiters hear of each new application; possible duplicates are flagged to them.
    app.dispatch_all_pending_emails().await;
    let notes = app.smtp.received_by(RECRUITERS);
    assert_eq!(notes.len(), 4, "one per new application");
    assert_eq!(
        notes
            .iter()
            .filter(|m| m.subject().contains("doublon possible"))
            .count(),
        2
    );
    // Everyone who applied gets a confirmation at the address they typed, or on file.
    assert_eq!(app.smtp.received_by("claire@autre.fr").len(), 1);
    assert_eq!(app.smtp.received_by("c.martin@hopital.fr").len(), 1);
    assert_eq!(app.smtp.received_by("claire.martin@exemple.fr").len(), 2);
}

#[tokio::test]
async fn a_new_application_to_another_position_is_a_second_application_of_the_same_candidate() {
    let app = TestApp::spawn().await;
    let mut conn = app.conn();
    vocation::demo::load(&mut conn).unwrap();
    let position = app
        .text("SELECT min(id) FROM positions WHERE published")
        .unwrap();
    assert_eq!(app.apply(&Fields::valid()).await.status(), 303);
    let r = app.apply(&Fields::valid().set("poste", &position)).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM candidates WHERE email_normalized = 'claire.martin@exemple.fr'"
        ),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM applications a JOIN candidates c ON c.id = a.candidate_id WHERE c.email_normalized = 'claire.martin@exemple.fr'"),
        2
    );
    // An unpublished or unknown position is refused on the field.
    let r = app.apply(&Fields::valid().set("poste", "424242")).await;
    assert_eq!(r.status(), 422);
    assert!(field_error(&r.text().await.unwrap(), "poste").is_some());
}

#[tokio::test]
async fn a_post_without_or_with_a_wrong_csrf_token_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let mut tokens = app.form_tokens("/candidature").await;
    tokens.csrf = "forged".into();
    let r = app.post_application(&tokens, &Fields::valid(), None).await;
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("pas pu être vérifié"), "{html}");
    assert!(html.contains("value=\"Claire\""), "values kept for a retry");

    // A client that never loaded the form has no cookie at all.
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let tokens = app.form_tokens("/candidature").await;
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", tokens.csrf.clone())
        .text("soumission", tokens.soumission.clone());
    for (k, v) in Fields::valid().iter() {
        form = form.text(k.clone(), v.clone());
    }
    let r = stranger
        .post(app.url("/candidature"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.count("SELECT count(*) FROM applications"), 0);
}

#[tokio::test]
async fn hostile_text_is_stored_as_typed_and_shown_escaped_on_pages_and_in_emails() {
    let app = TestApp::spawn().await;
    let hostile = "<script>alert(1)</script>{{org.name}}'; DROP TABLE candidates;--";
    let fields = Fields::valid()
        .set("prenom", hostile)
        .set("nom", &format!("Nom{hostile}"))
        .set("message", hostile);
    let tokens = app.form_tokens("/candidature").await;
    let r = app.post_application(&tokens, &fields, None).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.text("SELECT first_name FROM candidates").unwrap(),
        hostile
    );
    assert_eq!(
        app.text("SELECT message FROM applications").unwrap(),
        hostile
    );

    let (_, html) = app
        .get_html(r.headers()["location"].to_str().unwrap())
        .await;
    assert!(
        !html.contains("<script>alert(1)"),
        "confirmation page escapes"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;"));
    assert!(
        html.contains("{{org.name}}"),
        "template syntax shown literally, not evaluated"
    );

    app.dispatch_all_pending_emails().await;
    for mail in app.smtp.received() {
        let html = mail.html();
        assert!(!html.contains("<script>"), "HTML part escapes: {html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("{{org.name}}"));
        // The text part is plain text: shown as typed, never interpreted.
        assert!(mail.text().contains(hostile) || mail.subject().contains("<script>"));
        assert!(!mail.subject().contains('\n'));
    }

    // And the re-rendered form escapes too.
    let r = app.apply(&fields.clone().set("rpps", "123")).await;
    let html = r.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)"));
}

#[tokio::test]
async fn the_honeypot_is_answered_like_a_success_but_records_nothing() {
    let app = TestApp::spawn().await;
    let r = app
        .apply(&Fields::valid().set("site_web", "http://spam.example"))
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.count("SELECT count(*) FROM applications"), 0);
    let (status, html) = app
        .get_html(r.headers()["location"].to_str().unwrap())
        .await;
    assert_eq!(status, 200);
    assert!(!html.contains("Claire"));
}

#[tokio::test]
async fn a_flood_from_one_address_gets_429_with_retry_after() {
    let app = TestApp::builder().form_burst(3).spawn().await;
    let tokens = app.form_tokens("/candidature").await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = app.post_application(&tokens, &Fields::valid(), None).await;
        statuses.push((
            r.status().as_u16(),
            r.headers().get("retry-after").cloned(),
            r.text().await.unwrap(),
        ));
    }
    assert!(
        statuses[..3].iter().all(|(s, _, _)| *s == 303),
        "{:?}",
        statuses.iter().map(|s| s.0).collect::<Vec<_>>()
    );
    let (status, retry_after, body) = &statuses[3];
    assert_eq!(*status, 429);
    assert!(retry_after.is_some());
    assert!(
        body.contains("Trop de demandes") && body.contains("renvoyez le formulaire"),
        "{body}"
    );
    // Reading the form is never limited.
    assert_eq!(app.get("/candidature").await.status(), 200);
}

#[tokio::test]
async fn malformed_requests_get_clear_4xx_pages_never_500() {
    let app = TestApp::spawn().await;
    // Wrong content type.
    let r = app
        .client
        .post(app.url("/candidature"))
        .form(&[("prenom", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert!(r.text().await.unwrap().contains("multipart/form-data"));

    // Invalid UTF-8 in a field.
    let tokens = app.form_tokens("/candidature").await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", tokens.csrf.clone())
        .part(
            "prenom",
            reqwest::multipart::Part::bytes(vec![0xff, 0xfe, 0x41]),
        );
    let r = app
        .client
        .post(app.url("/candidature"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("UTF-8"));

    // A single-valued field sent twice.
    let tokens = app.form_tokens("/candidature").await;
    let form = reqwest::multipart::Form::new()
        .text("csrf", tokens.csrf.clone())
        .text("prenom", "a")
        .text("prenom", "b");
    let r = app
        .client
        .post(app.url("/candidature"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("plusieurs fois"));

    // A broken multipart body.
    let r = app
        .client
        .post(app.url("/candidature"))
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"prenom\"\r\n\r\nabc")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());

    // Every field missing: a 422 listing what to fill in.
    let tokens = app.form_tokens("/candidature").await;
    let r = app
        .post_application(&tokens, &Fields::default(), None)
        .await;
    assert_eq!(r.status(), 422);

    // A malformed confirmation link and a bad query string.
    assert_eq!(
        app.get("/candidature/merci/pas-un-uuid").await.status(),
        404
    );
    assert!(
        app.get("/candidature?poste=%ZZ&utm_source=%FF")
            .await
            .status()
            .as_u16()
            < 500
    );
    assert_eq!(app.count("SELECT count(*) FROM applications"), 0);
}
