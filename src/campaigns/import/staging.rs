//! An upload kept between its preview and its confirmation: staging it, finding it, its
//! preview, applying it once, and the imports into a list.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Nullable, Text};

use super::*;
use crate::db::enums::{ContactKind, LegalBasis};
use crate::db::schema::{contact_imports, contact_lists, staff_users};
use crate::domain::FieldErrors;
use crate::staff::audit::audit;

/// The upload form's fields in order (id, label), for its error summary.
pub const UPLOAD_FIELDS: &[(&str, &str)] = &[
    ("liste", "Liste"),
    ("nouvelle_liste", "Nouvelle liste"),
    ("fichier", "Fichier CSV"),
    ("type", "Type par défaut"),
    ("base_legale", "Base légale par défaut"),
];

/// Checks an upload before it is kept: `list` is the existing list chosen (None when none is,
/// or it does not exist), `kind` and `legal_basis` the codes chosen as defaults (empty for
/// none), `content` the file or the pasted text. The list and the defaults, or a message per
/// wrong field.
pub fn check_upload(
    list: Option<i64>,
    kind: &str,
    legal_basis: &str,
    content: &[u8],
) -> Result<(i64, Defaults), FieldErrors> {
    let mut errors = FieldErrors::default();
    if list.is_none() {
        errors.add(
            "liste",
            "Choisissez la liste dans laquelle importer les contacts, ou nommez une nouvelle \
             liste.",
        );
    }
    let kind = match kind.trim() {
        "" => Some(None),
        code => ContactKind::from_code(code).map(Some),
    };
    if kind.is_none() {
        errors.add("type", "Choisissez un type dans la liste, ou « Aucun ».");
    }
    let legal_basis = match legal_basis.trim() {
        "" => Some(None),
        code => LegalBasis::from_code(code).map(Some),
    };
    if legal_basis.is_none() {
        errors.add(
            "base_legale",
            "Choisissez une base légale dans la liste, ou « Aucune ».",
        );
    }
    if content.iter().all(|b| b.is_ascii_whitespace()) {
        errors.add(
            "fichier",
            "Choisissez un fichier CSV, ou collez son contenu dans la zone de texte.",
        );
    } else if let Err(e) = check_file(content) {
        errors.add("fichier", e.to_string());
    }
    match (list, kind, legal_basis, errors.is_empty()) {
        (Some(list_id), Some(kind), Some(legal_basis), true) => {
            Ok((list_id, Defaults { kind, legal_basis }))
        }
        _ => Err(errors),
    }
}

/// The upload form as typed: the list (an existing one's id, or a new one's name), the
/// defaults' codes, the file's name and content (the file, or the pasted text).
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    pub list: &'a str,
    pub new_list: &'a str,
    pub kind: &'a str,
    pub legal_basis: &'a str,
    pub filename: &'a str,
    pub content: &'a [u8],
}

/// Checks an upload and keeps it for its preview, creating the new list it names (in the same
/// transaction: a refused upload creates nothing); the import's id, or a message per field.
pub fn stage_upload(
    conn: &mut PgConnection,
    actor: Option<i64>,
    upload: Upload<'_>,
) -> QueryResult<Result<i64, FieldErrors>> {
    use crate::campaigns::contacts::{self, ListForm};
    conn.transaction(|conn| {
        let existing = match upload.list.trim().parse::<i64>() {
            Ok(id) if id > 0 => contacts::find_list(conn, id)?.map(|l| l.id),
            _ => None,
        };
        let new_name: String = upload
            .new_list
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let mut name_errors = FieldErrors::default();
        if !new_name.is_empty() {
            if existing.is_some() {
                name_errors.add(
                    "nouvelle_liste",
                    "Choisissez une liste existante ou nommez une nouvelle liste, pas les deux : \
                     videz l'un des deux champs.",
                );
            } else if new_name.chars().count() > MAX_TEXT {
                name_errors.add(
                    "nouvelle_liste",
                    format!("Le nom de la liste compte {MAX_TEXT} caractères au plus."),
                );
            } else if contacts::find_list_by_name(conn, &new_name)?.is_some() {
                name_errors.add(
                    "nouvelle_liste",
                    "Une liste porte déjà ce nom : choisissez-la dans la liste ci-dessus, ou \
                     donnez un autre nom.",
                );
            }
        }
        // A new list stands for the list chosen while the rest is checked.
        let list = existing.or((!new_name.is_empty()).then_some(0));
        let checked = check_upload(list, upload.kind, upload.legal_basis, upload.content);
        let (list_id, defaults) = match checked {
            Ok(ok) if name_errors.is_empty() => ok,
            Ok(_) => return Ok(Err(name_errors)),
            Err(mut errors) => {
                for (field, message) in name_errors.0 {
                    errors.add(field, message);
                }
                return Ok(Err(errors));
            }
        };
        let list_id = match existing {
            Some(_) => list_id,
            None => {
                let form = ListForm {
                    nom: new_name,
                    description: String::new(),
                };
                match contacts::create_list(conn, actor, &form)? {
                    Ok(id) => id,
                    Err(errors) => {
                        let mut moved = FieldErrors::default();
                        for message in errors.0.into_values() {
                            moved.add("nouvelle_liste", message);
                        }
                        return Ok(Err(moved));
                    }
                }
            }
        };
        stage(
            conn,
            list_id,
            actor,
            upload.filename,
            upload.content,
            defaults,
        )
        .map(Ok)
    })
}

/// An upload kept between its preview and its confirmation, or an applied import.
#[derive(Debug, Clone)]
pub struct ImportRecord {
    pub id: i64,
    pub list_id: i64,
    pub list_name: String,
    pub uploaded_by: Option<String>,
    pub filename: String,
    pub defaults: Defaults,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub applied_at: Option<chrono::DateTime<chrono::Utc>>,
    pub report: Option<StoredReport>,
}

/// Keeps an upload for its preview; its id. Unapplied uploads left for a day are dropped.
pub fn stage(
    conn: &mut PgConnection,
    list_id: i64,
    actor: Option<i64>,
    filename: &str,
    content: &[u8],
    defaults: Defaults,
) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    diesel::sql_query(format!(
        "DELETE FROM contact_imports WHERE applied_at IS NULL \
         AND created_at < now() - interval '{STALE_UPLOAD_HOURS} hours'"
    ))
    .execute(conn)?;
    let filename: String = filename.chars().take(200).collect();
    diesel::sql_query(
        "INSERT INTO contact_imports (list_id, uploaded_by, filename, content, defaults) \
         VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id",
    )
    .bind::<BigInt, _>(list_id)
    .bind::<Nullable<BigInt>, _>(actor)
    .bind::<Text, _>(filename)
    .bind::<Bytea, _>(content)
    .bind::<Text, _>(defaults.to_json())
    .get_result::<Id>(conn)
    .map(|r| r.id)
}

/// An import and what is kept of it (without its content).
pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<ImportRecord>> {
    imports(conn, Some(id), None).map(|mut v| v.pop())
}

/// The imports into a list, newest first.
pub fn history(conn: &mut PgConnection, list_id: i64) -> QueryResult<Vec<ImportRecord>> {
    imports(conn, None, Some(list_id))
}

fn imports(
    conn: &mut PgConnection,
    id: Option<i64>,
    list_id: Option<i64>,
) -> QueryResult<Vec<ImportRecord>> {
    use diesel::dsl::sql;
    let mut query = contact_imports::table
        .inner_join(contact_lists::table)
        .left_join(staff_users::table)
        .select((
            contact_imports::id,
            contact_imports::list_id,
            contact_lists::name,
            staff_users::display_name.nullable(),
            contact_imports::filename,
            sql::<Text>("contact_imports.defaults::text"),
            contact_imports::created_at,
            contact_imports::applied_at,
            // The whole report for one import, only its counts for a list's history.
            sql::<Nullable<Text>>(if id.is_some() {
                "contact_imports.report::text"
            } else {
                "jsonb_build_object('counts', contact_imports.report->'counts', 'rejected', '[]'::jsonb)::text"
            }),
        ))
        .order(contact_imports::id.desc())
        .into_boxed();
    if let Some(id) = id {
        query = query.filter(contact_imports::id.eq(id));
    }
    if let Some(list_id) = list_id {
        query = query
            .filter(contact_imports::list_id.eq(list_id))
            .filter(contact_imports::applied_at.is_not_null());
    }
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        i64,
        i64,
        String,
        Option<String>,
        String,
        String,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<String>,
    )> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, list_id, list_name, by, filename, defaults, created_at, applied_at, report)| {
                ImportRecord {
                    id,
                    list_id,
                    list_name,
                    uploaded_by: by,
                    filename,
                    defaults: Defaults::from_json(&defaults),
                    created_at,
                    applied_at,
                    report: report.and_then(|r| serde_json::from_str(&r).ok()),
                }
            },
        )
        .collect())
}

/// The content of an upload not applied yet.
pub fn content(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Vec<u8>>> {
    contact_imports::table
        .find(id)
        .filter(contact_imports::applied_at.is_null())
        .select(contact_imports::content)
        .first(conn)
        .optional()
}

/// The report an upload would give if confirmed now. None when it is unknown or applied.
pub fn preview(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Result<Report, FileError>>> {
    let Some(record) = find(conn, id)? else {
        return Ok(None);
    };
    let Some(bytes) = content(conn, id)? else {
        return Ok(None);
    };
    let rows = match read(&bytes) {
        Ok(rows) => rows,
        Err(e) => return Ok(Some(Err(e))),
    };
    run(conn, record.list_id, rows, record.defaults, false).map(Some)
}

/// The report an upload would give, or why its file cannot be read.
pub type Preview = Result<Report, FileError>;

/// An import, and for one not applied yet the report it would give; None when it is unknown.
pub fn find_with_preview(
    conn: &mut PgConnection,
    id: i64,
) -> QueryResult<Option<(ImportRecord, Option<Preview>)>> {
    let Some(record) = find(conn, id)? else {
        return Ok(None);
    };
    let preview = if record.applied_at.is_none() {
        preview(conn, id)?
    } else {
        None
    };
    Ok(Some((record, preview)))
}

/// The rows an import refused, to correct and import again: those its preview refuses now,
/// or those its report kept once applied. None when the import is unknown.
pub fn rejected_rows(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Vec<RowReport>>> {
    let Some((record, preview)) = find_with_preview(conn, id)? else {
        return Ok(None);
    };
    Ok(Some(match (record.report, preview) {
        (Some(report), _) => report.rejected,
        (None, Some(Ok(report))) => report.rejected,
        _ => Vec::new(),
    }))
}

/// Why a staged import was not applied.
#[derive(Debug)]
pub enum ApplyError {
    NotFound,
    /// Applied before (a second click): its report.
    AlreadyApplied(StoredReport),
    File(FileError),
}

/// Applies a staged upload in one transaction: contacts, organisations, list membership, the
/// kept report (the file's content is dropped) and the audit entry.
pub fn apply(
    conn: &mut PgConnection,
    id: i64,
    actor: Option<i64>,
) -> QueryResult<Result<Report, ApplyError>> {
    conn.transaction(|conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(IMPORT_LOCK)
            .execute(conn)?;
        let row: Option<(i64, Vec<u8>, String, bool)> = contact_imports::table
            .find(id)
            .select((
                contact_imports::list_id,
                contact_imports::content,
                diesel::dsl::sql::<Text>("contact_imports.defaults::text"),
                contact_imports::applied_at.is_not_null(),
            ))
            .for_update()
            .first(conn)
            .optional()?;
        let Some((list_id, bytes, defaults, applied)) = row else {
            return Ok(Err(ApplyError::NotFound));
        };
        if applied {
            let report = find(conn, id)?.and_then(|r| r.report).unwrap_or_default();
            return Ok(Err(ApplyError::AlreadyApplied(report)));
        }
        // Read through first, so that an unreadable file writes nothing.
        if let Err(e) = check_file(&bytes) {
            return Ok(Err(ApplyError::File(e)));
        }
        let rows = read(&bytes).map_err(|_| diesel::result::Error::RollbackTransaction)?;
        let report = run(conn, list_id, rows, Defaults::from_json(&defaults), true)?
            .map_err(|_| diesel::result::Error::RollbackTransaction)?;
        drop(bytes);
        let stored = serde_json::to_string(&report.stored())
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        diesel::sql_query(
            "UPDATE contact_imports SET applied_at = now(), report = $2::jsonb, \
             content = ''::bytea WHERE id = $1",
        )
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(stored)
        .execute(conn)?;
        let list_name: String = contact_lists::table
            .find(list_id)
            .select(contact_lists::name)
            .first(conn)?;
        let c = report.counts;
        audit(
            conn,
            actor,
            "import_contacts",
            "contact_list",
            Some(list_id),
            &format!(
                "liste « {list_name} », import n° {id} : {} lignes, {} ajoutés, {} déjà connus \
                 ajoutés à la liste, {} déjà dans la liste, {} refusés",
                c.rows, c.added, c.added_to_list, c.already_in_list, c.rejected
            ),
        )?;
        Ok(Ok(report))
    })
}

/// Stages and applies a file at once (the command line); the import's id and its report.
pub fn import_file(
    conn: &mut PgConnection,
    list_id: i64,
    actor: Option<i64>,
    filename: &str,
    content: &[u8],
    defaults: Defaults,
) -> QueryResult<Result<(i64, Report), ApplyError>> {
    if let Err(e) = check_file(content) {
        return Ok(Err(ApplyError::File(e)));
    }
    conn.transaction(|conn| {
        let id = stage(conn, list_id, actor, filename, content, defaults)?;
        Ok(apply(conn, id, actor)?.map(|r| (id, r)))
    })
}
