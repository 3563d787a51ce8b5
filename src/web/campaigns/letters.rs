//! Letter campaigns (« courrier », issue 19), for communications staff: the form, the page
//! (what would be produced, then what was: who got a letter, who did not and why), the
//! production of the letters, and the print shop's downloads: the merged PDF in postal order
//! (streamed from a blocking task through a pipe, never held whole in memory), the CSV of the
//! addresses in the same order, and one letter's PDF (the preview).

use std::io::{self, Write};

use actix_web::http::{header, StatusCode};
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::DoneQuery;
use crate::campaigns::form::{self as campaign_form, paris};
use crate::campaigns::letters::print::{self, Composer, LetterRow};
use crate::campaigns::letters::{
    self, code, LetterCampaign, LetterError, LetterForm, LetterRun, Production, FORM_FIELDS,
};
use crate::campaigns::preview::public_url;
use crate::db::enums::CampaignStatus;
use crate::domain::french;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::staff::COMMUNICATION;
use crate::web::body::Form;
use crate::web::pages::{csv_download, error_summary, path_id, see_other};
use crate::web::staff::{staff_page, Staff};
use crate::web::{db, AppState};

async fn render_form(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    values: &LetterForm,
    errors: &FieldErrors,
    status: StatusCode,
    problem: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (_, lists) = db(state, |conn| Ok(campaign_form::choices(conn)?)).await?;
    let list_choices = super::form::list_choices(&lists, &values.listes);
    let heading = if id.is_some() {
        "Modifier la campagne de courrier"
    } else {
        "Nouvelle campagne de courrier"
    };
    let title = if status == StatusCode::OK {
        heading.to_owned()
    } else {
        format!("Erreur – {heading}")
    };
    let action = match id {
        Some(id) => format!("/courriers/{id}/modifier"),
        None => "/courriers/nouveau".to_owned(),
    };
    staff_page(
        state,
        staff,
        "campaigns/letter_form",
        &title,
        status,
        json!({
            "heading": heading,
            "id": id,
            "action": action,
            "values": values,
            "errors": errors,
            "summary": error_summary(FORM_FIELDS, errors),
            "problem": problem,
            "lists": list_choices,
            "variables": crate::campaigns::template::VARIABLES
                .iter()
                .map(|(name, what)| json!({ "code": format!("{{{{{name}}}}}"), "what": letter_variable(name, what) }))
                .collect::<Vec<_>>(),
        }),
    )
}

/// What a template variable holds in a letter (the two links are the letter's own).
fn letter_variable(name: &str, what: &str) -> String {
    match name {
        "lien_candidature" => "le lien personnel du courrier (aussi imprimé en QR code)".to_owned(),
        "lien_desinscription" => {
            "la page où le destinataire demande à ne plus recevoir de courrier".to_owned()
        }
        _ => what.to_owned(),
    }
}

pub async fn new_letter_campaign(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let values = LetterForm {
        objet: "Exercer la médecine dans le Gers".to_owned(),
        texte: "Bonjour {{nom_complet}},\n\nLe département recrute des médecins salariés \
                dans ses centres de santé.\n\nPour en savoir plus et candidater : \
                {{lien_candidature}}"
            .to_owned(),
        ..LetterForm::default()
    };
    render_form(
        &state,
        &staff,
        None,
        &values,
        &FieldErrors::default(),
        StatusCode::OK,
        None,
    )
    .await
}

pub async fn edit_letter_campaign(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let (campaign, lists) = db(&state, move |conn| {
        let c = letters::find(conn, id)?.ok_or(AppError::NotFound)?;
        Ok((c, letters::list_ids(conn, id)?))
    })
    .await?;
    if campaign.status != CampaignStatus::Draft {
        return Err(AppError::Conflict(LetterError::AlreadyProduced.to_string()));
    }
    render_form(
        &state,
        &staff,
        Some(id),
        &LetterForm::from_campaign(&campaign, &lists),
        &FieldErrors::default(),
        StatusCode::OK,
        None,
    )
    .await
}

async fn save(
    state: &AppState,
    staff: &Staff,
    id: Option<i64>,
    values: LetterForm,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&values.csrf)?;
    let input = match values.validate(&public_url(&state.settings)) {
        Ok(input) => input,
        Err(errors) => {
            return render_form(
                state,
                staff,
                id,
                &values,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            )
            .await
        }
    };
    // A body that passes the template rules may still not print (over 20 pages once written
    // out): found now, at its field, rather than when the print shop's file is made.
    if let Some(problem) = unprintable(state, &input) {
        let mut errors = FieldErrors::default();
        errors.add("texte", problem);
        return render_form(
            state,
            staff,
            id,
            &values,
            &errors,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        )
        .await;
    }
    let actor = staff.0.user_id;
    let saved = db(state, move |conn| {
        Ok(match id {
            None => letters::create(conn, &input, actor),
            Some(id) => letters::update(conn, id, &input, actor).map(|_| id),
        })
    })
    .await?;
    match saved {
        Ok(id) => Ok(see_other(format!("/courriers/{id}?fait=enregistree"))),
        Err(LetterError::NotFound) => Err(AppError::NotFound),
        Err(LetterError::Db(e)) => Err(e.into()),
        Err(e @ LetterError::UnknownList) => {
            let mut errors = FieldErrors::default();
            errors.add("listes", capital(&e.to_string()));
            render_form(
                state,
                staff,
                id,
                &values,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            )
            .await
        }
        Err(e @ LetterError::AlreadyProduced) => {
            render_form(
                state,
                staff,
                id,
                &values,
                &FieldErrors::default(),
                StatusCode::CONFLICT,
                Some(capital(&e.to_string())),
            )
            .await
        }
    }
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

pub async fn create_letter_campaign(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<LetterForm>,
) -> Result<HttpResponse, AppError> {
    save(&state, &staff, None, form.into_inner()).await
}

pub async fn update_letter_campaign(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<LetterForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    save(&state, &staff, Some(id), form.into_inner()).await
}

/// Who was (or would be) left out, as sentences.
fn report_lines(p: &Production) -> Vec<String> {
    let mut lines = Vec::new();
    let mut add = |n: i64, one: &str, many: &str| {
        if n > 0 {
            lines.push(french::count_label(n, one, many));
        }
    };
    add(
        p.unsubscribed,
        "contact désinscrit ou dans la liste des désinscriptions",
        "contacts désinscrits ou dans la liste des désinscriptions",
    );
    add(p.deceased, "contact décédé", "contacts décédés");
    add(
        p.no_letters,
        "contact qui a demandé à ne plus recevoir de courrier",
        "contacts qui ont demandé à ne plus recevoir de courrier",
    );
    add(
        p.no_address,
        "contact sans adresse postale",
        "contacts sans adresse postale",
    );
    add(
        p.invalid_address,
        "contact dont l'adresse ne tient pas sur l'enveloppe (nom de plus de 38 caractères)",
        "contacts dont l'adresse ne tient pas sur l'enveloppe (nom de plus de 38 caractères)",
    );
    lines
}

/// The first letters listed on the page (the CSV has them all).
const LISTED: usize = 100;

pub async fn letter_campaign_page(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    type Loaded = (
        LetterCampaign,
        Vec<String>,
        Option<LetterRun>,
        Production,
        Vec<LetterRow>,
    );
    let (campaign, lists, run, forecast, rows): Loaded = db(&state, move |conn| {
        let c = letters::find(conn, id)?.ok_or(AppError::NotFound)?;
        let ids = letters::list_ids(conn, id)?;
        let (_, all) = campaign_form::choices(conn)?;
        let names = all
            .into_iter()
            .filter(|l| ids.contains(&l.id))
            .map(|l| l.name)
            .collect();
        let run = letters::run_of(conn, id)?;
        let (forecast, rows) = if run.is_some() {
            (Production::default(), print::letters(conn, id)?)
        } else {
            (letters::forecast(conn, id)?, Vec::new())
        };
        Ok((c, names, run, forecast, rows))
    })
    .await?;
    let notice = match query.fait.as_str() {
        "enregistree" => Some("La campagne de courrier est enregistrée. Relisez l'exemple, puis produisez les courriers."),
        "produite" => Some("Les courriers sont produits : téléchargez le PDF pour l'imprimeur."),
        _ => None,
    };
    let listed: Vec<Value> = rows
        .iter()
        .take(LISTED)
        .enumerate()
        .map(|(i, r)| {
            json!({
                "order": i + 1,
                "delivery_id": r.delivery_id,
                "code": code::display(&r.code),
                "lines": r.block().unwrap_or_default(),
            })
        })
        .collect();
    staff_page(
        &state,
        &staff,
        "campaigns/letter",
        &format!("Courrier : {}", campaign.name),
        StatusCode::OK,
        json!({
            "campaign": {
                "id": campaign.id,
                "name": campaign.name,
                "status_label": campaign.status.label(),
                "draft": campaign.status == CampaignStatus::Draft,
                "subject": campaign.letter_subject,
                "body": campaign.letter_body,
                "lists": lists.join(", "),
            },
            "notice": notice,
            "forecast": {
                "letters": forecast.letters,
                "letters_text": french::count_label(forecast.letters, "courrier", "courriers"),
                "left_out": report_lines(&forecast),
            },
            "run": run.as_ref().map(|r| json!({
                "produced_at": paris(r.produced_at),
                "letters_text": french::count_label(r.report.letters, "courrier produit", "courriers produits"),
                "left_out": report_lines(&r.report),
                "printable": rows.len(),
                "printable_text": french::count_label(rows.len() as i64, "courrier à imprimer", "courriers à imprimer"),
            })),
            "letters": listed,
            "more": rows.len() > LISTED,
        }),
    )
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct CsrfBody {
    #[serde(default)]
    csrf: String,
}

pub async fn produce_letters(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<CsrfBody>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    staff.check_csrf(&form.csrf)?;
    let id = path_id(&path)?;
    let actor = staff.0.user_id;
    let done = db(&state, move |conn| {
        Ok(letters::produce(conn, id, Utc::now(), actor))
    })
    .await?;
    match done {
        Ok(report) => {
            tracing::info!(campaign = id, letters = report.letters, "letters produced");
            Ok(see_other(format!("/courriers/{id}?fait=produite")))
        }
        Err(LetterError::NotFound) => Err(AppError::NotFound),
        Err(LetterError::Db(e)) => Err(e.into()),
        Err(e) => Err(AppError::Conflict(capital(&e.to_string()))),
    }
}

/// Loads a produced campaign, its letters in postal order and the composer of their texts.
async fn produced(
    state: &AppState,
    id: i64,
    delivery: Option<i64>,
) -> Result<(Composer, Vec<LetterRow>), AppError> {
    let (campaign, run, rows) = db(state, move |conn| {
        let c = letters::find(conn, id)?.ok_or(AppError::NotFound)?;
        let run = letters::run_of(conn, id)?.ok_or_else(|| {
            AppError::Conflict(
                "Les courriers de cette campagne ne sont pas encore produits.".to_owned(),
            )
        })?;
        let rows = match delivery {
            None => print::letters(conn, id)?,
            Some(d) => vec![print::letter(conn, id, d)?.ok_or(AppError::NotFound)?],
        };
        Ok((c, run, rows))
    })
    .await?;
    let composer = Composer::new(
        &campaign,
        &public_url(&state.settings),
        print::letter_date(run.produced_at),
    )
    .map_err(|e| {
        AppError::Conflict(format!(
            "Le modèle du courrier ne peut pas être appliqué : {e}"
        ))
    })?;
    Ok((composer, rows))
}

/// A writer whose bytes go, in chunks, to the HTTP response.
struct Pipe {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

const PIPE_CHUNK: usize = 64 * 1024;

impl Pipe {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(PIPE_CHUNK),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "download abandoned"))
    }
}

impl Write for Pipe {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIPE_CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

fn attachment(filename: &str) -> (header::HeaderName, String) {
    (
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{filename}\""),
    )
}

/// The merged PDF of every letter, in postal order, streamed as it is written.
pub async fn letters_pdf(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let (composer, rows) = produced(&state, id, None).await?;
    let sender = print::sender(&state.settings.letters);
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut pipe = Pipe {
            tx: tx.clone(),
            buf: Vec::with_capacity(PIPE_CHUNK),
        };
        let written = print::write_pdf(&sender, &composer, &rows, &mut pipe)
            .and_then(|pages| pipe.flush().map(|_| pages));
        match written {
            Ok(pages) => tracing::info!(campaign = id, pages, "letters PDF written"),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                tracing::info!(campaign = id, "letters PDF download abandoned")
            }
            Err(e) => {
                tracing::error!(campaign = id, error = %e, "letters PDF failed");
                // The response ends in error: the file is known to be incomplete.
                let _ = tx.blocking_send(Err(e));
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header(attachment(&format!("courriers-campagne-{id}.pdf")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream))
}

/// The addresses for the print shop, in the PDF's order.
pub async fn letters_csv(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let (_, rows) = produced(&state, id, None).await?;
    let mut out = Vec::with_capacity(128 * (rows.len() + 1));
    out.extend_from_slice("\u{feff}".as_bytes());
    print::write_csv(&rows, &mut out)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("writing CSV: {e}")))?;
    Ok(csv_download(&format!("adresses-campagne-{id}.csv"), out))
}

/// One contact's letter, as printed.
pub async fn letter_pdf(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let (id, delivery) = path.into_inner();
    let id = path_id(&id)?;
    let delivery = path_id(delivery.strip_suffix(".pdf").unwrap_or(&delivery))?;
    let (composer, rows) = produced(&state, id, Some(delivery)).await?;
    let sender = print::sender(&state.settings.letters);
    let pdf = small_pdf(move || {
        let mut out = Vec::new();
        print::write_pdf(&sender, &composer, &rows, &mut out)?;
        Ok(out)
    })
    .await?;
    Ok(pdf_response(pdf, &format!("courrier-{delivery}.pdf")))
}

/// Why the letter, written out for a sample contact, could not be printed; None when it can.
fn unprintable(state: &AppState, input: &letters::LetterInput) -> Option<String> {
    let source = crate::campaigns::template::TemplateSource {
        subject: input.subject.clone(),
        body_text: input.body.clone(),
        body_html: String::new(),
        preheader: String::new(),
    };
    let composer = match Composer::from_source(
        &source,
        &public_url(&state.settings),
        print::letter_date(Utc::now()),
    ) {
        Ok(composer) => composer,
        Err(e) => return Some(format!("Le modèle ne peut pas être appliqué : {e}")),
    };
    let letter = match composer.sample() {
        Ok(letter) => letter,
        Err(e) => return Some(format!("Le modèle ne peut pas être appliqué : {e}")),
    };
    crate::print::check_letter(&print::sender(&state.settings.letters), &letter, 0)
        .err()
        .map(|e| format!("Le courrier ne pourrait pas être imprimé : {}", e.problem))
}

/// The letter with sample values (before production: what each contact will receive).
pub async fn sample_pdf(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    staff.require(COMMUNICATION)?;
    let id = path_id(&path)?;
    let campaign = db(&state, move |conn| {
        letters::find(conn, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    let composer = Composer::new(
        &campaign,
        &public_url(&state.settings),
        print::letter_date(Utc::now()),
    )
    .map_err(|e| {
        AppError::Conflict(format!(
            "Le modèle du courrier ne peut pas être appliqué : {e}"
        ))
    })?;
    let sender = print::sender(&state.settings.letters);
    let pdf = small_pdf(move || {
        let letter = composer
            .sample()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let mut out = Vec::new();
        crate::print::write_letters(&sender, std::iter::once(letter), &mut out)?;
        Ok(out)
    })
    .await?;
    Ok(pdf_response(pdf, &format!("exemple-campagne-{id}.pdf")))
}

async fn small_pdf<F>(f: F) -> Result<Vec<u8>, AppError>
where
    F: FnOnce() -> io::Result<Vec<u8>> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(pdf)) => Ok(pdf),
        Ok(Err(e))
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData
            ) =>
        {
            Err(AppError::Conflict(format!(
                "Ce courrier ne peut pas être imprimé : {e}"
            )))
        }
        Ok(Err(e)) => Err(AppError::Unexpected(anyhow::anyhow!("letter PDF: {e}"))),
        Err(e) => Err(AppError::Unexpected(anyhow::anyhow!(
            "letter PDF task: {e}"
        ))),
    }
}

fn pdf_response(pdf: Vec<u8>, filename: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header(attachment(filename))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(pdf)
}
