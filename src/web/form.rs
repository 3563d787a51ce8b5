//! Reading the application form's multipart body within limits into the raw form that
//! `applications::fields` validates.

use actix_multipart::Multipart;
use futures_util::StreamExt;

use crate::applications::{RawApplicationForm, Upload};
use crate::domain::has_control;
use crate::error::AppError;
use crate::web::inputs::{multipart_failure, shown_name};

/// Longest text field accepted (bytes); the message is the longest by far.
const MAX_TEXT_FIELD_BYTES: usize = 32 * 1024;
/// Hard cap on the whole body: past it we stop reading.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const MAX_FIELDS: usize = 64;

/// Form reading failures that are not about one field.
#[derive(Debug)]
pub enum ReadError {
    /// The body exceeded [`MAX_BODY_BYTES`].
    TooLarge,
    Bad(AppError),
}

fn bad(message: impl Into<String>) -> ReadError {
    ReadError::Bad(AppError::BadRequest(message.into()))
}

/// Reads the multipart body. The CV is kept up to `max_cv_bytes + 1` bytes (enough to know it is
/// too large); the rest of an oversized file is read and dropped so that the browser gets our
/// answer instead of a broken connection.
pub async fn read(
    mut payload: Multipart,
    max_cv_bytes: usize,
) -> Result<RawApplicationForm, ReadError> {
    let mut form = RawApplicationForm::default();
    let mut seen: Vec<String> = Vec::new();
    let mut total = 0usize;
    let mut fields = 0usize;
    while let Some(item) = payload.next().await {
        let mut field = item.map_err(|e| ReadError::Bad(multipart_failure(&e)))?;
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(bad("Le formulaire contient trop de champs."));
        }
        let name = field.name().unwrap_or_default().to_owned();
        // Names are chosen by the client: shown only when plain.
        let shown = shown_name(&name);
        if name == "cv" {
            let client_name = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .unwrap_or_default()
                .to_owned();
            let mut upload = Upload {
                client_name,
                ..Upload::default()
            };
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|e| ReadError::Bad(multipart_failure(&e)))?;
                total += chunk.len();
                if total > MAX_BODY_BYTES {
                    return Err(ReadError::TooLarge);
                }
                upload.size += chunk.len();
                if upload.bytes.len() <= max_cv_bytes {
                    let room = max_cv_bytes + 1 - upload.bytes.len();
                    upload
                        .bytes
                        .extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
            }
            if form.cv.is_some() {
                return Err(bad("Un seul fichier CV peut être joint."));
            }
            // A file input left empty still sends a part, with no name and no bytes.
            if upload.size > 0 || !upload.client_name.is_empty() {
                form.cv = Some(upload);
            }
            continue;
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| ReadError::Bad(multipart_failure(&e)))?;
            total += chunk.len();
            if total > MAX_BODY_BYTES {
                return Err(ReadError::TooLarge);
            }
            if value.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
                return Err(bad(format!(
                    "Le champ « {shown} » est trop long (32 Ko au plus)."
                )));
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(value).map_err(|_| {
            bad(format!(
                "Le champ « {shown} » contient des caractères illisibles (encodage UTF-8 attendu)."
            ))
        })?;
        if has_control(&name) {
            return Err(bad(
                "Un nom de champ contient un caractère de contrôle invisible (par exemple NUL) : \
                 rechargez la page et recommencez.",
            ));
        }
        let value = if has_control(&value) {
            form.with_control.push(name.clone());
            String::new()
        } else {
            value
        };
        if name == "centres" {
            form.centres.push(value);
            continue;
        }
        if seen.contains(&name) {
            return Err(bad(format!(
                "Le champ « {shown} » a été envoyé plusieurs fois."
            )));
        }
        seen.push(name.clone());
        let checked = !value.is_empty();
        match name.as_str() {
            "civilite" => form.civilite = value,
            "prenom" => form.prenom = value,
            "nom" => form.nom = value,
            "courriel" => form.courriel = value,
            "telephone" => form.telephone = value,
            "rpps" => form.rpps = value,
            "specialite" => form.specialite = value,
            "situation" => form.situation = value,
            "disponibilite" => form.disponibilite = value,
            "temps_travail" => form.temps_travail = value,
            "demi_journees" => form.demi_journees = value,
            "garde" => form.garde = checked,
            "maitre_stage" => form.maitre_stage = checked,
            "conjoint" => form.conjoint = value,
            "conjoint_domaine" => form.conjoint_domaine = value,
            "message" => form.message = value,
            "connaissance" => form.connaissance = value,
            "poste" => form.poste = value,
            "consentement" => form.consentement = checked,
            "vivier" => form.vivier = checked,
            "utm_source" => form.utm_source = value,
            "suivi" => form.suivi = value.chars().take(100).collect(),
            "canal" => form.canal = value.chars().take(100).collect(),
            "utm_medium" => form.utm_medium = value,
            "utm_campaign" => form.utm_campaign = value,
            "soumission" => form.soumission = value,
            "csrf" => form.csrf = value,
            "site_web" => form.site_web = value,
            // Unknown fields (a browser extension, an old form) are ignored.
            _ => {}
        }
    }
    Ok(form)
}
