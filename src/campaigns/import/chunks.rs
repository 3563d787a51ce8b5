//! An import's rows against the database, chunk by chunk: known contacts, suppressed
//! addresses, organisations to create, and the batched writes of a confirmed import.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};

use super::*;
use crate::db::enums::SuppressionReason;

/// A known contact as the plan needs it.
struct Known {
    id: i64,
    first_name: String,
    last_name: String,
    organisation_id: Option<i64>,
    city: String,
    tags: Vec<String>,
    /// The contact has a postal address already (a stored one always has its commune).
    has_address: bool,
}

/// An organisation a row names: one that exists, or one the import creates.
#[derive(Debug, Clone, Copy)]
enum OrgRef {
    Existing(i64),
    New(usize),
}

struct NewContact {
    row: CheckedRow,
    org: Option<OrgRef>,
}

/// Empty fields of a known contact to fill, and tags to add.
struct Fill {
    id: i64,
    first_name: String,
    last_name: String,
    city: String,
    org: Option<OrgRef>,
    tags: Vec<String>,
}

fn suppressed_reason(reason: SuppressionReason, on: chrono::DateTime<chrono::Utc>) -> String {
    let day = on
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%d/%m/%Y");
    match reason {
        SuppressionReason::Unsubscribed => {
            format!("Adresse désinscrite le {day} : elle n'est jamais réimportée.")
        }
        SuppressionReason::UnknownMailbox => format!(
            "Adresse inconnue du serveur de messagerie (rejet définitif le {day}) : elle n'est \
             jamais réimportée."
        ),
        SuppressionReason::Bounce => format!(
            "Adresse en échec d'après les avis de non-remise (le {day}) : elle n'est jamais \
             réimportée."
        ),
        SuppressionReason::Complaint => format!(
            "Le destinataire a signalé un message comme indésirable (le {day}) : l'adresse \
             n'est jamais réimportée."
        ),
        SuppressionReason::Manual => format!(
            "Adresse exclue de tout envoi le {day} (liste des désinscriptions) : elle n'est \
             jamais réimportée."
        ),
    }
}

/// An import while its rows go through, chunk by chunk.
struct Run {
    list_id: i64,
    /// False for a preview: nothing is written.
    write: bool,
    report: Report,
    /// Addresses (normalised) already kept, with their line: a later row with one is a duplicate.
    claimed: HashMap<String, u64>,
    /// Organisations named so far, by lower-cased name.
    orgs: HashMap<String, OrgRef>,
    /// The ids of the organisations the import creates (`report.new_organisations`), once
    /// created.
    created: Vec<Option<i64>>,
}

/// Reads the rows and works out each one's outcome against the database; with `write`, applies
/// them (contacts, organisations, list membership) chunk by chunk. Call inside a transaction.
pub(super) fn run(
    conn: &mut PgConnection,
    list_id: i64,
    rows: Rows<'_>,
    defaults: Defaults,
    write: bool,
) -> QueryResult<Result<Report, FileError>> {
    let mut run = Run {
        list_id,
        write,
        report: Report {
            format: format_label(rows.encoding, rows.delimiter),
            ignored_columns: rows.ignored_columns.clone(),
            ..Report::default()
        },
        claimed: HashMap::new(),
        orgs: HashMap::new(),
        created: Vec::new(),
    };
    let mut chunk: Vec<CheckedRow> = Vec::with_capacity(CHUNK);
    for raw in rows {
        let raw = match raw {
            Ok(raw) => raw,
            Err(e) => return Ok(Err(e)),
        };
        let (line, email, cells) = (raw.line, raw.email.clone(), raw.cells());
        match check_row(raw, defaults) {
            Ok(row) => {
                chunk.push(row);
                if chunk.len() == CHUNK {
                    run.chunk(
                        conn,
                        std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)),
                    )?;
                }
            }
            Err(reason) => run.report.record(RowReport {
                line,
                email,
                outcome: Outcome::Rejected,
                reason,
                cells,
            }),
        }
    }
    run.chunk(conn, chunk)?;
    let mut report = run.report;
    // Rows refused on their own were recorded before those of their chunk.
    report.rejected.sort_by_key(|r| r.line);
    report.counts.organisations_created = report.new_organisations.len();
    Ok(Ok(report))
}

impl Run {
    /// The organisation of that name: a known one, or one the import creates.
    fn org_for(&mut self, name: &str) -> OrgRef {
        let (report, created) = (&mut self.report, &mut self.created);
        *self.orgs.entry(name.to_lowercase()).or_insert_with(|| {
            report.new_organisations.push(name.to_owned());
            created.push(None);
            OrgRef::New(report.new_organisations.len() - 1)
        })
    }

    fn chunk(&mut self, conn: &mut PgConnection, rows: Vec<CheckedRow>) -> QueryResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = rows
            .iter()
            .filter_map(|r| r.email.as_ref().map(|e| e.normalized().to_owned()))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        // Rows without an e-mail address: their contact is the one without an e-mail address
        // of the same last name, first name and postcode (see `CheckedRow::key`).
        let postal: Vec<(String, String, String)> = rows
            .iter()
            .filter(|r| r.email.is_none())
            .map(CheckedRow::postal_key)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        // Plain SQL with one index probe per key. Not `= ANY($1)` through diesel's statement
        // cache: reused on a pooled connection, that prepared statement got a generic plan
        // comparing every row with every key (164 s instead of 8 for 100,000 rows); planned
        // afresh, it still chose a sequential scan of all contacts for each chunk.
        #[derive(QueryableByName)]
        struct Suppressed {
            #[diesel(sql_type = Text)]
            email: String,
            #[diesel(sql_type = Text)]
            reason: SuppressionReason,
            #[diesel(sql_type = Timestamptz)]
            created_at: chrono::DateTime<chrono::Utc>,
        }
        let suppressed: HashMap<String, (SuppressionReason, chrono::DateTime<chrono::Utc>)> =
            diesel::sql_query(
                "SELECT s.email, s.reason, s.created_at FROM unnest($1::text[]) AS k(key) \
                 CROSS JOIN LATERAL \
                   (SELECT * FROM suppressions WHERE email = k.key LIMIT 1) AS s",
            )
            .bind::<Array<Text>, _>(&keys)
            .load::<Suppressed>(conn)?
            .into_iter()
            .map(|r| (r.email, (r.reason, r.created_at)))
            .collect();
        #[derive(QueryableByName)]
        struct KnownRow {
            #[diesel(sql_type = BigInt)]
            id: i64,
            #[diesel(sql_type = Text)]
            key: String,
            #[diesel(sql_type = Text)]
            first_name: String,
            #[diesel(sql_type = Text)]
            last_name: String,
            #[diesel(sql_type = Nullable<BigInt>)]
            organisation_id: Option<i64>,
            #[diesel(sql_type = Text)]
            city: String,
            #[diesel(sql_type = Array<Text>)]
            tags: Vec<String>,
            #[diesel(sql_type = diesel::sql_types::Bool)]
            has_address: bool,
        }
        let known_rows: Vec<KnownRow> = diesel::sql_query(
            "SELECT c.id, lower(c.email) AS key, c.first_name, c.last_name, c.organisation_id, \
                    c.city, c.tags, c.postal_town <> '' AS has_address \
             FROM unnest($1::text[]) AS k(key) \
             CROSS JOIN LATERAL (SELECT * FROM contacts WHERE lower(email) = k.key LIMIT 1) AS c",
        )
        .bind::<Array<Text>, _>(&keys)
        .load(conn)?;
        let known_postal: Vec<KnownRow> = if postal.is_empty() {
            Vec::new()
        } else {
            let column = |i: usize| -> Vec<&str> {
                postal
                    .iter()
                    .map(|k| match i {
                        0 => k.0.as_str(),
                        1 => k.1.as_str(),
                        _ => k.2.as_str(),
                    })
                    .collect()
            };
            diesel::sql_query(
                "SELECT c.id, chr(31) || k.l || chr(31) || k.f || chr(31) || k.p AS key, \
                        c.first_name, c.last_name, c.organisation_id, c.city, c.tags, \
                        c.postal_town <> '' AS has_address \
                 FROM unnest($1::text[], $2::text[], $3::text[]) AS k(l, f, p) \
                 CROSS JOIN LATERAL (SELECT * FROM contacts WHERE email IS NULL \
                     AND lower(last_name) = k.l AND lower(first_name) = k.f AND postcode = k.p \
                     ORDER BY id LIMIT 1) AS c",
            )
            .bind::<Array<Text>, _>(column(0))
            .bind::<Array<Text>, _>(column(1))
            .bind::<Array<Text>, _>(column(2))
            .load(conn)?
        };
        let mut known: HashMap<String, Known> = HashMap::with_capacity(known_rows.len());
        for r in known_rows.into_iter().chain(known_postal) {
            known.insert(
                r.key,
                Known {
                    id: r.id,
                    first_name: r.first_name,
                    last_name: r.last_name,
                    organisation_id: r.organisation_id,
                    city: r.city,
                    tags: r.tags,
                    has_address: r.has_address,
                },
            );
        }
        let known_ids: Vec<i64> = known.values().map(|k| k.id).collect();
        #[derive(QueryableByName)]
        struct Member {
            #[diesel(sql_type = BigInt)]
            contact_id: i64,
        }
        let members: HashSet<i64> = if known_ids.is_empty() {
            HashSet::new()
        } else {
            diesel::sql_query(
                "SELECT m.contact_id FROM unnest($2::bigint[]) AS k(id) \
                 CROSS JOIN LATERAL (SELECT contact_id FROM list_members \
                                     WHERE list_id = $1 AND contact_id = k.id LIMIT 1) AS m",
            )
            .bind::<BigInt, _>(self.list_id)
            .bind::<Array<BigInt>, _>(&known_ids)
            .load::<Member>(conn)?
            .into_iter()
            .map(|m| m.contact_id)
            .collect()
        };
        let org_keys: Vec<String> = rows
            .iter()
            .filter_map(|r| r.organisation.as_ref())
            .map(|o| o.to_lowercase())
            .filter(|k| !self.orgs.contains_key(k))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if !org_keys.is_empty() {
            // Ordered by id descending: the oldest organisation of a name wins.
            for r in diesel::sql_query(
                "SELECT id, lower(name) AS key FROM organisations WHERE lower(name) = ANY($1) \
                 ORDER BY id DESC",
            )
            .bind::<Array<Text>, _>(&org_keys)
            .load::<IdKey>(conn)?
            {
                self.orgs.insert(r.key, OrgRef::Existing(r.id));
            }
        }

        let mut new_contacts = Vec::new();
        let mut fills = Vec::new();
        let mut new_members = Vec::new();
        let mut addresses: Vec<(String, [String; 7])> = Vec::new();
        for row in rows {
            let key = row.key();
            let by_post = row.email.is_none();
            let outcome = |outcome: Outcome, reason: String| RowReport {
                line: row.line,
                email: row
                    .email
                    .as_ref()
                    .map(|e| e.as_str().to_owned())
                    .unwrap_or_default(),
                outcome,
                reason,
                cells: row.cells(),
            };
            if let Some((reason, on)) = suppressed.get(&key) {
                let r = outcome(Outcome::Rejected, suppressed_reason(*reason, *on));
                self.report.record(r);
                continue;
            }
            if let Some(first) = self.claimed.get(&key) {
                let r = outcome(
                    Outcome::Rejected,
                    if by_post {
                        format!(
                            "Doublon de la ligne {first} du fichier (sans adresse électronique, \
                             même nom, prénom et code postal)."
                        )
                    } else {
                        format!(
                            "Doublon de la ligne {first} du fichier (même adresse, majuscules et \
                             minuscules confondues)."
                        )
                    },
                );
                self.report.record(r);
                continue;
            }
            self.claimed.insert(key.clone(), row.line);
            let Some(contact) = known.get(&key) else {
                let org = row.organisation.as_deref().map(|o| self.org_for(o));
                let reason = match org {
                    Some(OrgRef::New(i)) => format!(
                        "Nouveau contact ; organisation « {} » créée.",
                        self.report.new_organisations[i]
                    ),
                    _ => "Nouveau contact.".to_owned(),
                };
                let r = outcome(Outcome::Added, reason);
                self.report.record(r);
                // A contact without an e-mail address is inserted with its address.
                if let (false, Some(a)) = (by_post, &row.address) {
                    addresses.push((key.clone(), crate::domain::postal::columns(Some(a))));
                }
                new_contacts.push(NewContact { row, org });
                continue;
            };
            let mut fill = Fill {
                id: contact.id,
                first_name: String::new(),
                last_name: String::new(),
                city: String::new(),
                org: None,
                tags: Vec::new(),
            };
            let mut completed: Vec<&str> = Vec::new();
            if contact.first_name.is_empty() && !row.first_name.is_empty() {
                fill.first_name = row.first_name.clone();
                completed.push("prénom");
            }
            if contact.last_name.is_empty() && !row.last_name.is_empty() {
                fill.last_name = row.last_name.clone();
                completed.push("nom");
            }
            if let (None, Some(name)) = (contact.organisation_id, row.organisation.as_deref()) {
                fill.org = Some(self.org_for(name));
                completed.push("organisation");
            }
            if contact.city.is_empty() && !row.city.is_empty() {
                fill.city = row.city.clone();
                completed.push("ville");
            }
            if let (false, Some(a)) = (contact.has_address, &row.address) {
                addresses.push((key.clone(), crate::domain::postal::columns(Some(a))));
                completed.push("adresse postale");
            }
            let have: HashSet<String> = contact.tags.iter().map(|t| t.to_lowercase()).collect();
            fill.tags = row
                .tags
                .iter()
                .filter(|t| !have.contains(&t.to_lowercase()))
                .cloned()
                .collect();
            if !fill.tags.is_empty() {
                completed.push("étiquettes ajoutées");
            }
            let in_list = members.contains(&contact.id);
            let mut reason = match (by_post, in_list) {
                (false, true) => "Adresse déjà connue et déjà dans la liste".to_owned(),
                (false, false) => "Adresse déjà connue : ajoutée à la liste".to_owned(),
                (true, true) => "Contact sans adresse électronique déjà connu (même nom, prénom \
                                 et code postal) et déjà dans la liste"
                    .to_owned(),
                (true, false) => "Contact sans adresse électronique déjà connu (même nom, \
                                  prénom et code postal) : ajouté à la liste"
                    .to_owned(),
            };
            if completed.is_empty() {
                reason.push_str(" ; rien d'autre n'est modifié.");
            } else {
                reason.push_str(&format!(
                    " ; complété : {} (rien d'autre n'est modifié).",
                    completed.join(", ")
                ));
                self.report.counts.completed += 1;
                fills.push(fill);
            }
            let r = if in_list {
                outcome(Outcome::AlreadyInList, reason)
            } else {
                new_members.push(contact.id);
                outcome(Outcome::AddedToList, reason)
            };
            self.report.record(r);
        }
        if self.write {
            self.execute(conn, new_contacts, fills, new_members)?;
            write_addresses(conn, &addresses)?;
        }
        Ok(())
    }
}

#[derive(QueryableByName)]
struct IdKey {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    key: String,
}

/// Postal addresses of new contacts, and of known ones that had none (never overwritten).
fn write_addresses(conn: &mut PgConnection, rows: &[(String, [String; 7])]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    let column = |i: usize| -> Vec<&str> { rows.iter().map(|(_, a)| a[i].as_str()).collect() };
    diesel::sql_query(
        "UPDATE contacts AS c SET address_complement = v.a1, address_building = v.a2, \
           address_street = v.a3, address_locality = v.a4, postcode = v.a5, postal_town = v.a6, \
           country = v.a7, updated_at = now() \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                     $7::text[], $8::text[]) AS v(k, a1, a2, a3, a4, a5, a6, a7) \
         WHERE lower(c.email) = v.k AND c.postal_town = '' AND c.postcode = '' \
           AND c.address_street = '' AND c.address_locality = ''",
    )
    .bind::<Array<Text>, _>(&keys)
    .bind::<Array<Text>, _>(column(0))
    .bind::<Array<Text>, _>(column(1))
    .bind::<Array<Text>, _>(column(2))
    .bind::<Array<Text>, _>(column(3))
    .bind::<Array<Text>, _>(column(4))
    .bind::<Array<Text>, _>(column(5))
    .bind::<Array<Text>, _>(column(6))
    .execute(conn)?;
    Ok(())
}

/// Inserts the new contacts without an e-mail address, with their postal address (the
/// check constraint wants one at once); their ids. The import's lock serialises imports, and
/// the contact form does not look for such a namesake: a duplicate made by hand meanwhile
/// stays possible, as it would be by hand.
fn insert_by_post(
    conn: &mut PgConnection,
    rows: Vec<NewContact>,
    resolve: impl Fn(Option<OrgRef>) -> Option<i64>,
) -> QueryResult<Vec<i64>> {
    let n = rows.len();
    let mut text: Vec<Vec<String>> = (0..13).map(|_| Vec::with_capacity(n)).collect();
    let mut orgs = Vec::with_capacity(n);
    for c in rows {
        let a = crate::domain::postal::columns(c.row.address.as_ref());
        let values = [
            c.row.first_name,
            c.row.last_name,
            c.row.kind.code().to_owned(),
            join_tags(&c.row.tags),
            c.row.city,
            c.row.legal_basis.code().to_owned(),
        ];
        for (column, v) in text.iter_mut().zip(values.into_iter().chain(a)) {
            column.push(v);
        }
        orgs.push(resolve(c.org));
    }
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let mut query = diesel::sql_query(
        "INSERT INTO contacts \
           (first_name, last_name, kind, tags, city, legal_basis, address_complement, \
            address_building, address_street, address_locality, postcode, postal_town, country, \
            organisation_id) \
         SELECT f, l, k, string_to_array(t, chr(31)), c, b, a1, a2, a3, a4, a5, a6, a7, o \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
                     $13::text[], $14::bigint[]) \
              AS v(f, l, k, t, c, b, a1, a2, a3, a4, a5, a6, a7, o) \
         RETURNING id",
    )
    .into_boxed();
    for column in &text {
        query = query.bind::<Array<Text>, _>(column);
    }
    Ok(query
        .bind::<Array<Nullable<BigInt>>, _>(orgs)
        .load::<Id>(conn)?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

fn join_tags(tags: &[String]) -> String {
    tags.join(&TAG_SEPARATOR.to_string())
}

impl Run {
    /// Writes what a chunk's rows need. Only empty fields of known contacts change.
    fn execute(
        &mut self,
        conn: &mut PgConnection,
        new_contacts: Vec<NewContact>,
        fills: Vec<Fill>,
        new_members: Vec<i64>,
    ) -> QueryResult<()> {
        let list_id = self.list_id;
        // Organisations named by the file and not known yet, of kind « autre ».
        let to_create: Vec<usize> = (0..self.created.len())
            .filter(|i| self.created[*i].is_none())
            .collect();
        if !to_create.is_empty() {
            let names: Vec<&str> = to_create
                .iter()
                .map(|i| self.report.new_organisations[*i].as_str())
                .collect();
            diesel::sql_query(
                "INSERT INTO organisations (name, kind) \
                 SELECT n, 'autre' FROM unnest($1::text[]) AS n ON CONFLICT DO NOTHING",
            )
            .bind::<Array<Text>, _>(&names)
            .execute(conn)?;
            #[derive(QueryableByName)]
            struct OrgId {
                #[diesel(sql_type = Nullable<BigInt>)]
                id: Option<i64>,
            }
            // Matched with PostgreSQL's lower() on both sides, as the unique index does.
            let ids = diesel::sql_query(
                "SELECT (SELECT o.id FROM organisations o WHERE lower(o.name) = lower(n.name) \
                         ORDER BY o.id LIMIT 1) AS id \
                 FROM unnest($1::text[]) WITH ORDINALITY AS n(name, ord) ORDER BY n.ord",
            )
            .bind::<Array<Text>, _>(&names)
            .load::<OrgId>(conn)?;
            for (i, r) in to_create.iter().zip(ids) {
                self.created[*i] = Some(r.id.ok_or(diesel::result::Error::NotFound)?);
            }
        }
        let created = &self.created;
        let resolve = |org: Option<OrgRef>| match org {
            None => None,
            Some(OrgRef::Existing(id)) => Some(id),
            Some(OrgRef::New(i)) => created.get(i).copied().flatten(),
        };

        let mut member_ids = new_members;
        let (by_post, new_contacts): (Vec<NewContact>, Vec<NewContact>) = new_contacts
            .into_iter()
            .partition(|c| c.row.email.is_none());
        if !by_post.is_empty() {
            member_ids.extend(insert_by_post(conn, by_post, resolve)?);
        }
        if !new_contacts.is_empty() {
            let n = new_contacts.len();
            let (mut emails, mut firsts, mut lasts, mut orgs, mut kinds) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let (mut tags, mut cities, mut bases) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            let mut keys = Vec::with_capacity(n);
            for c in new_contacts {
                let Some(email) = &c.row.email else {
                    continue;
                };
                emails.push(email.as_str().to_owned());
                keys.push(email.normalized().to_owned());
                firsts.push(c.row.first_name);
                lasts.push(c.row.last_name);
                orgs.push(resolve(c.org));
                kinds.push(c.row.kind.code());
                tags.push(join_tags(&c.row.tags));
                cities.push(c.row.city);
                bases.push(c.row.legal_basis.code());
            }
            let inserted: Vec<IdKey> = diesel::sql_query(
                "INSERT INTO contacts \
                   (email, first_name, last_name, organisation_id, kind, tags, city, legal_basis) \
                 SELECT e, f, l, o, k, string_to_array(t, chr(31)), c, b \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], \
                             $6::text[], $7::text[], $8::text[]) AS v(e, f, l, o, k, t, c, b) \
                 ON CONFLICT DO NOTHING \
                 RETURNING id, lower(email) AS key",
            )
            .bind::<Array<Text>, _>(&emails)
            .bind::<Array<Text>, _>(&firsts)
            .bind::<Array<Text>, _>(&lasts)
            .bind::<Array<Nullable<BigInt>>, _>(&orgs)
            .bind::<Array<Text>, _>(&kinds)
            .bind::<Array<Text>, _>(&tags)
            .bind::<Array<Text>, _>(&cities)
            .bind::<Array<Text>, _>(&bases)
            .load(conn)?;
            if inserted.len() < n {
                // Created by hand meanwhile (imports themselves are serialised): still listed.
                let got: HashSet<&str> = inserted.iter().map(|r| r.key.as_str()).collect();
                let missing: Vec<String> = keys
                    .iter()
                    .filter(|k| !got.contains(k.as_str()))
                    .cloned()
                    .collect();
                #[derive(QueryableByName)]
                struct Id {
                    #[diesel(sql_type = BigInt)]
                    id: i64,
                }
                member_ids.extend(
                    diesel::sql_query(
                        "SELECT id FROM contacts \
                         WHERE lower(email) IN (SELECT lower(x) FROM unnest($1::text[]) AS x)",
                    )
                    .bind::<Array<Text>, _>(missing)
                    .load::<Id>(conn)?
                    .into_iter()
                    .map(|r| r.id),
                );
            }
            member_ids.extend(inserted.iter().map(|r| r.id));
        }

        if !fills.is_empty() {
            let n = fills.len();
            let mut ids = Vec::with_capacity(n);
            let (mut firsts, mut lasts, mut orgs, mut tags, mut cities) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            for f in fills {
                ids.push(f.id);
                firsts.push(f.first_name);
                lasts.push(f.last_name);
                orgs.push(resolve(f.org));
                tags.push(join_tags(&f.tags));
                cities.push(f.city);
            }
            // Only empty fields change, whatever happened since the plan was made.
            diesel::sql_query(
                "UPDATE contacts AS c SET \
                   first_name = CASE WHEN c.first_name = '' THEN v.f ELSE c.first_name END, \
                   last_name = CASE WHEN c.last_name = '' THEN v.l ELSE c.last_name END, \
                   city = CASE WHEN c.city = '' THEN v.c ELSE c.city END, \
                   organisation_id = COALESCE(c.organisation_id, v.o), \
                   tags = c.tags || ARRAY(SELECT x FROM unnest(string_to_array(v.t, chr(31))) AS x \
                                          WHERE lower(x) <> ALL (SELECT lower(y) FROM unnest(c.tags) AS y)), \
                   updated_at = now() \
                 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], \
                             $6::text[]) AS v(id, f, l, o, t, c) \
                 WHERE c.id = v.id",
            )
            .bind::<Array<BigInt>, _>(&ids)
            .bind::<Array<Text>, _>(&firsts)
            .bind::<Array<Text>, _>(&lasts)
            .bind::<Array<Nullable<BigInt>>, _>(&orgs)
            .bind::<Array<Text>, _>(&tags)
            .bind::<Array<Text>, _>(&cities)
            .execute(conn)?;
        }

        if !member_ids.is_empty() {
            diesel::sql_query(
                "INSERT INTO list_members (list_id, contact_id) \
                 SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
            )
            .bind::<BigInt, _>(list_id)
            .bind::<Array<BigInt>, _>(&member_ids)
            .execute(conn)?;
        }
        Ok(())
    }
}
