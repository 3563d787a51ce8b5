//! Administrators' pages: staff accounts and the audit log.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::db::enums::StaffRole;
use crate::error::AppError;
use crate::staff::{self, journal, AccountChange};
use crate::web::body::Form;
use crate::web::staff::Staff;
use crate::web::{db, AppState};

/// A role in a `<select>`.
#[derive(Serialize)]
struct RoleOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

fn roles(selected: Option<StaffRole>) -> Vec<RoleOption> {
    StaffRole::ALL
        .iter()
        .map(|r| RoleOption {
            value: r.code(),
            label: r.label(),
            selected: Some(*r) == selected,
        })
        .collect()
}

/// One account in the list of the accounts page.
#[derive(Serialize)]
struct UserRow<'a> {
    id: i64,
    email: &'a str,
    name: &'a str,
    role: &'static str,
    active: bool,
    roles: Vec<RoleOption>,
    is_me: bool,
    /// Why a change to this account was refused.
    error: Option<String>,
}

/// The accounts page: the list, the policy, and the form to create an account.
#[derive(Serialize)]
struct UsersView<'a> {
    users: Vec<UserRow<'a>>,
    new_roles: Vec<RoleOption>,
    form_email: &'a str,
    form_name: &'a str,
    notice: Option<String>,
    /// Messages at the fields of the creation form (`courriel`, `nom`, `role`).
    errors: std::collections::BTreeMap<&'static str, String>,
    summary: Vec<SummaryLink>,
    require_totp: bool,
}

/// A line of the error summary, linking to the field it is about.
#[derive(Serialize)]
struct SummaryLink {
    href: String,
    label: String,
    message: String,
}

struct RowError {
    id: i64,
    message: String,
}

/// What the accounts page shows besides the list: a notice, or the errors of a form.
#[derive(Default)]
struct UsersOutcome<'a> {
    notice: Option<String>,
    errors: crate::domain::FieldErrors,
    row_error: Option<RowError>,
    form: Option<&'a NewUserForm>,
}

/// The creation form's fields, for the error summary.
const NEW_USER_FIELDS: &[(&str, &str)] = &[
    ("courriel", "Adresse électronique"),
    ("nom", "Nom affiché"),
    ("role", "Rôle"),
];

async fn users_page(
    state: &AppState,
    staff: &Staff,
    outcome: UsersOutcome<'_>,
) -> Result<HttpResponse, AppError> {
    let accounts = db(state, |conn| Ok(staff::accounts(conn)?)).await?;
    let users = accounts
        .users
        .iter()
        .map(|u| UserRow {
            id: u.id,
            email: &u.email,
            name: &u.display_name,
            role: u.role.label(),
            active: u.active,
            roles: roles(Some(u.role)),
            is_me: u.id == staff.0.user_id,
            error: outcome
                .row_error
                .as_ref()
                .filter(|r| r.id == u.id)
                .map(|r| r.message.clone()),
        })
        .collect();
    let failed = !outcome.errors.is_empty() || outcome.row_error.is_some();
    let form = outcome.form;
    let mut summary: Vec<SummaryLink> = outcome
        .errors
        .summary(NEW_USER_FIELDS)
        .into_iter()
        .map(|i| SummaryLink {
            href: format!("#{}", i.field),
            label: i.label.to_owned(),
            message: i.message,
        })
        .collect();
    if let Some(row) = &outcome.row_error {
        let name = accounts
            .users
            .iter()
            .find(|u| u.id == row.id)
            .map(|u| u.display_name.clone())
            .unwrap_or_default();
        summary.push(SummaryLink {
            href: format!("#role-{}", row.id),
            label: format!("Compte de {name}"),
            message: row.message.clone(),
        });
    }
    let view = UsersView {
        users,
        new_roles: roles(
            form.and_then(|f| StaffRole::from_code(&f.role))
                .or(Some(StaffRole::Recruiter)),
        ),
        form_email: form.map(|f| f.courriel.as_str()).unwrap_or_default(),
        form_name: form.map(|f| f.nom.as_str()).unwrap_or_default(),
        notice: outcome.notice,
        errors: outcome.errors.0,
        summary,
        require_totp: accounts.require_totp,
    };
    let (status, title) = if failed {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Erreur – Comptes du personnel",
        )
    } else {
        (StatusCode::OK, "Comptes du personnel")
    };
    crate::web::staff::staff_page(
        state,
        staff,
        "admin/users",
        title,
        status,
        serde_json::to_value(view).map_err(|e| AppError::Unexpected(e.into()))?,
    )
}

pub async fn users(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    users_page(&state, &staff, UsersOutcome::default()).await
}

#[derive(Debug, Default, Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    courriel: String,
    #[serde(default)]
    nom: String,
    #[serde(default)]
    role: String,
}

/// The longest display name accepted.
const MAX_NAME_CHARS: usize = 200;

pub async fn create_user(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<NewUserForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    staff.check_csrf(&form.csrf)?;
    let mut errors = crate::domain::FieldErrors::default();
    if form.nom.chars().count() > MAX_NAME_CHARS {
        errors.add(
            "nom",
            format!("Ce nom est trop long : {MAX_NAME_CHARS} caractères au plus."),
        );
    } else if crate::domain::has_control(&form.nom) {
        errors.add("nom", crate::domain::CONTROL_MESSAGE);
    }
    let role = StaffRole::from_code(&form.role);
    if role.is_none() {
        errors.add("role", "Choisissez un rôle dans la liste.");
    }
    let (Some(role), true) = (role, errors.is_empty()) else {
        let outcome = UsersOutcome {
            errors,
            form: Some(&form),
            ..Default::default()
        };
        return users_page(&state, &staff, outcome).await;
    };
    let password = staff::generate_password();
    let (email, name, pw, actor) = (
        form.courriel.clone(),
        form.nom.clone(),
        password.clone(),
        staff.0.user_id,
    );
    let created = db(&state, move |conn| {
        Ok(
            match staff::create_account(conn, actor, &email, &name, role, &pw) {
                Ok(id) => Ok(id),
                Err(staff::AddUserError::Other(e)) => return Err(AppError::from(e)),
                Err(e) => Err(e),
            },
        )
    })
    .await?;
    match created {
        Ok(_) => {
            let notice = format!(
                "Compte créé pour {}. Mot de passe, affiché une seule fois : {password} — \
                 transmettez-le par un canal sûr.",
                form.courriel.trim()
            );
            let outcome = UsersOutcome {
                notice: Some(notice),
                ..Default::default()
            };
            users_page(&state, &staff, outcome).await
        }
        Err(refused) => {
            let mut errors = crate::domain::FieldErrors::default();
            match refused {
                staff::AddUserError::BadEmail(message) => errors.add("courriel", message),
                staff::AddUserError::Exists => errors.add(
                    "courriel",
                    "Un compte existe déjà pour cette adresse : cherchez-le dans la liste \
                     ci-dessus (il est peut-être désactivé).",
                ),
                other => errors.add("courriel", format!("Compte non créé : {other}.")),
            }
            let outcome = UsersOutcome {
                errors,
                form: Some(&form),
                ..Default::default()
            };
            users_page(&state, &staff, outcome).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    role: String,
}

pub async fn change_user(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<i64>,
    form: Form<ChangeForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    staff.check_csrf(&form.csrf)?;
    let change = match (form.action.as_str(), StaffRole::from_code(&form.role)) {
        ("desactiver", _) => AccountChange::Disable,
        ("activer", _) => AccountChange::Enable,
        ("role", Some(r)) => AccountChange::Role(r),
        ("role", None) => {
            let outcome = UsersOutcome {
                row_error: Some(RowError {
                    id: path.into_inner(),
                    message: "Choisissez un rôle dans la liste.".to_owned(),
                }),
                ..Default::default()
            };
            return users_page(&state, &staff, outcome).await;
        }
        _ => return Err(AppError::BadRequest("Action inconnue.".to_owned())),
    };
    let (actor, user_id) = (staff.0.user_id, path.into_inner());
    let result = db(&state, move |conn| {
        Ok(staff::change_account(conn, actor, user_id, change)?)
    })
    .await?;
    match result {
        Ok(()) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/admin/utilisateurs"))
            .finish()),
        Err(staff::ChangeError::NotFound) => Err(AppError::NotFound),
        Err(e) => {
            let mut message = e.to_string();
            if let Some(first) = message.get(..1) {
                message = first.to_uppercase() + &message[1..];
            }
            if !message.ends_with('.') {
                message.push('.');
            }
            let outcome = UsersOutcome {
                row_error: Some(RowError {
                    id: user_id,
                    message,
                }),
                ..Default::default()
            };
            users_page(&state, &staff, outcome).await
        }
    }
}

/// An option of a filter's `<select>`.
#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// The journal page: the filters as typed, their errors, the lines told.
#[derive(Serialize)]
struct JournalView<'a> {
    values: &'a journal::RawFilter,
    people: Vec<Choice>,
    actions: Vec<Choice>,
    errors: &'a std::collections::BTreeMap<&'static str, String>,
    summary: Vec<crate::domain::fields::SummaryItem>,
    lines: &'a [journal::Line],
    page: i64,
    filtered: bool,
    previous_href: Option<String>,
    next_href: Option<String>,
}

/// The journal's address for `page` with the same filters.
fn journal_href(raw: &journal::RawFilter, page: i64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("par", &raw.par),
        ("action", &raw.action),
        ("du", &raw.du),
        ("au", &raw.au),
    ] {
        if !value.trim().is_empty() {
            query.append_pair(name, value.trim());
        }
    }
    if page > 1 {
        query.append_pair("page", &page.to_string());
    }
    let query = query.finish();
    if query.is_empty() {
        "/admin/journal".to_owned()
    } else {
        format!("/admin/journal?{query}")
    }
}

/// The journal: who did what, told in sentences, filtered by person, action and dates.
pub async fn journal(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<journal::RawFilter>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    let raw = query.into_inner();
    let asked = raw.clone();
    let loaded = db(&state, move |conn| Ok(journal::load(conn, &asked)?)).await?;
    let no_errors = Default::default();
    let (lines, has_next, errors, status): (&[journal::Line], bool, _, _) = match &loaded.outcome {
        Ok(p) => (&p.lines, p.has_next, &no_errors, StatusCode::OK),
        Err(e) => (&[], false, e, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let page_number = loaded.page;
    let view = JournalView {
        values: &raw,
        people: loaded
            .people
            .iter()
            .map(|p| Choice {
                value: p.id.to_string(),
                label: p.name.clone(),
                selected: raw.par.trim() == p.id.to_string(),
            })
            .collect(),
        actions: journal::ACTIONS
            .iter()
            .map(|(code, label)| Choice {
                value: (*code).to_owned(),
                label: (*label).to_owned(),
                selected: raw.action.trim() == *code,
            })
            .collect(),
        errors: &errors.0,
        summary: errors.summary(journal::FIELDS),
        lines,
        page: page_number,
        filtered: [&raw.par, &raw.action, &raw.du, &raw.au]
            .iter()
            .any(|v| !v.trim().is_empty()),
        previous_href: (page_number > 1).then(|| journal_href(&raw, page_number - 1)),
        next_href: has_next.then(|| journal_href(&raw, page_number + 1)),
    };
    let title = if status == StatusCode::OK {
        "Journal des actions"
    } else {
        "Erreur – Journal des actions"
    };
    crate::web::staff::staff_page(
        &state,
        &staff,
        "admin/journal",
        title,
        status,
        serde_json::to_value(view).map_err(|e| AppError::Unexpected(e.into()))?,
    )
}

pub async fn stage_templates(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    templates_page(&state, &staff, None).await
}

async fn templates_page(
    state: &AppState,
    staff: &Staff,
    error: Option<(
        String,
        String,
        String,
        crate::pipeline::emails::TemplateProblem,
    )>,
) -> Result<HttpResponse, AppError> {
    let all = db(state, |conn| {
        Ok(crate::pipeline::emails::all_templates(conn)?)
    })
    .await?;
    let items: Vec<Value> = all
        .iter()
        .map(|t| {
            let (subject, body, problem) = match &error {
                Some((stage, subject, body, problem)) if *stage == t.stage => {
                    (subject.clone(), body.clone(), Some(problem))
                }
                _ => (t.subject.clone(), t.body.clone(), None),
            };
            json!({
                "stage": t.stage,
                "label": crate::db::enums::Stage::from_code(&t.stage).map(|s| s.label()).unwrap_or_default(),
                "subject": subject,
                "body": body,
                "error": problem.map(|p| format!("Modèle non enregistré : {p}.")),
                // The message again, next to the field it is about.
                "error_field": problem.map(|p| p.field),
                "field_error": problem.map(|p| {
                    let mut m = p.message.chars();
                    m.next()
                        .map(|c| c.to_uppercase().chain(m).collect::<String>() + ".")
                        .unwrap_or_default()
                }),
            })
        })
        .collect();
    let variables: Vec<Value> = crate::pipeline::emails::VARIABLES
        .iter()
        .map(|(name, what)| json!({ "name": format!("{{{{{name}}}}}"), "what": what }))
        .collect();
    let (status, title) = match error {
        Some(_) => (
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "Erreur – Modèles de courriels",
        ),
        None => (actix_web::http::StatusCode::OK, "Modèles de courriels"),
    };
    crate::web::staff::staff_page(
        state,
        staff,
        "admin/templates",
        title,
        status,
        json!({ "templates": items, "variables": variables }),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    objet: String,
    #[serde(default)]
    texte: String,
}

pub async fn save_stage_template(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    form: Form<TemplateForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    staff.check_csrf(&form.csrf)?;
    let stage = crate::db::enums::Stage::from_code(&path.into_inner()).ok_or(AppError::NotFound)?;
    let subject = form.objet.trim().to_owned();
    let body = form.texte.replace("\r\n", "\n");
    if let Err(problem) = crate::pipeline::emails::check_template(&subject, &body) {
        return templates_page(
            &state,
            &staff,
            Some((stage.code().to_owned(), subject, body, problem)),
        )
        .await;
    }
    let actor = staff.0.user_id;
    let updated = db(&state, move |conn| {
        Ok(crate::pipeline::emails::save_template(
            conn, stage, &subject, &body, actor,
        )?)
    })
    .await?;
    if updated == 0 {
        return Err(AppError::NotFound);
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/admin/modeles#modele-{}", stage.code()),
        ))
        .finish())
}

#[derive(Debug, Default, Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    exiger_2fa: String,
}

/// Requires (or not) the TOTP second factor for every staff account.
pub async fn security_policy(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<PolicyForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    staff.check_csrf(&form.csrf)?;
    let (actor, require) = (staff.0.user_id, form.exiger_2fa == "oui");
    db(&state, move |conn| {
        Ok(staff::totp::set_policy(conn, actor, require)?)
    })
    .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/utilisateurs"))
        .finish())
}
