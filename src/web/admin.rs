//! Administrators' pages: staff accounts and the audit log.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::db::enums::StaffRole;
use crate::error::AppError;
use crate::staff::{self, AccountChange};
use crate::web::body::Form;
use crate::web::staff::{page, Staff};
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
}

/// The accounts page: the list, the policy, and the form to create an account.
#[derive(Serialize)]
struct UsersView<'a> {
    users: Vec<UserRow<'a>>,
    new_roles: Vec<RoleOption>,
    form_email: &'a str,
    form_name: &'a str,
    notice: Option<String>,
    error: Option<String>,
    require_totp: bool,
}

async fn users_page(
    state: &AppState,
    staff: &Staff,
    notice: Option<String>,
    error: Option<String>,
    form: Option<&NewUserForm>,
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
        })
        .collect();
    let view = UsersView {
        users,
        new_roles: roles(
            form.and_then(|f| StaffRole::from_code(&f.role))
                .or(Some(StaffRole::Recruiter)),
        ),
        form_email: form.map(|f| f.courriel.as_str()).unwrap_or_default(),
        form_name: form.map(|f| f.nom.as_str()).unwrap_or_default(),
        notice,
        error,
        require_totp: accounts.require_totp,
    };
    page(
        state,
        staff,
        "admin/users",
        "Comptes du personnel",
        serde_json::to_value(view).map_err(|e| AppError::Unexpected(e.into()))?,
    )
}

pub async fn users(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    users_page(&state, &staff, None, None, None).await
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

pub async fn create_user(
    state: web::Data<AppState>,
    staff: Staff,
    form: Form<NewUserForm>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    staff.check_csrf(&form.csrf)?;
    let Some(role) = StaffRole::from_code(&form.role) else {
        return users_page(
            &state,
            &staff,
            None,
            Some("Choisissez un rôle dans la liste.".into()),
            Some(&form),
        )
        .await;
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
                Err(e) => Err(e.to_string()),
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
            users_page(&state, &staff, Some(notice), None, None).await
        }
        Err(message) => {
            users_page(
                &state,
                &staff,
                None,
                Some(format!("Compte non créé : {message}.")),
                Some(&form),
            )
            .await
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
        Err(e) => Err(AppError::Unprocessable(e.to_string())),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct JournalQuery {
    page: Option<i64>,
}

pub async fn journal(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<JournalQuery>,
) -> Result<HttpResponse, AppError> {
    staff.require(&[])?;
    let page_number = query.page.unwrap_or(1).clamp(1, 100_000);
    let entries = db(&state, move |conn| {
        Ok(staff::audit::audit_page(conn, page_number, 100)?)
    })
    .await?;
    let more = entries.len() == 100;
    page(
        &state,
        &staff,
        "admin/journal",
        "Journal des actions",
        json!({
            "entries": entries,
            "page": page_number,
            "previous_page": (page_number > 1).then(|| page_number - 1),
            "next_page": more.then_some(page_number + 1),
        }),
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
