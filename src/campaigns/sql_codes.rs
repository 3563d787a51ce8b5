//! A safety net for status codes written inside SQL, anywhere in `src/`: every quoted literal
//! compared with a status-like column (`status`, `stage`, `kind`, `schedule_kind`, …) must be a
//! code of its `text_enum!` in `db::enums`, so that renaming a code there cannot leave SQL that
//! compiles and breaks at run time. Codes bound as parameters
//! (`.bind::<Text, _>(RunStatus::Sending)`) need no check; the hot ledger queries keep theirs
//! written in the SQL, for their partial indexes, and rely on this test.

use std::path::{Path, PathBuf};

use crate::db::enums::{
    CampaignStatus, CentreKind, CentreStatus, Civility, ContactKind, ContactStatus, DeliveryStatus,
    DocumentKind, EmailStatus, HeardFrom, LegalBasis, OfferStatus, OrganisationKind, RunStatus,
    ScheduleKind, Situation, StaffRole, Stage, WorkingTime,
};

/// The codes a column of this name may hold (every table's enum for that name together), or
/// None when no `text_enum!` is known for it.
fn allowed(column: &str) -> Option<Vec<&'static str>> {
    macro_rules! codes {
        ($($e:ident),+) => {{
            let mut v: Vec<&'static str> = Vec::new();
            $(v.extend($e::ALL.iter().map(|c| c.code()));)+
            Some(v)
        }};
    }
    match column {
        "status" => codes!(
            CentreStatus,
            OfferStatus,
            EmailStatus,
            ContactStatus,
            CampaignStatus,
            RunStatus,
            DeliveryStatus
        ),
        "stage" | "from_stage" | "to_stage" => codes!(Stage),
        "kind" => codes!(CentreKind, DocumentKind, ContactKind, OrganisationKind),
        "schedule_kind" => codes!(ScheduleKind),
        "role" => codes!(StaffRole),
        "civility" => codes!(Civility),
        "situation" => codes!(Situation),
        "working_time" => codes!(WorkingTime),
        "heard_from" => codes!(HeardFrom),
        "legal_basis" => codes!(LegalBasis),
        _ => None,
    }
}

/// Columns whose literals are checked: the known ones, and any whose name says it holds a
/// code (an unknown one is reported, to be added above or bound).
fn status_like(column: &str) -> bool {
    allowed(column).is_some()
        || ["status", "stage", "kind"]
            .iter()
            .any(|end| column.ends_with(end))
}

/// The text with Rust's string continuations (a backslash at the end of a line, and the next
/// line's leading spaces) removed, as the compiler reads the string.
fn join_continuations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.split('\n').peekable();
    let mut continued = false;
    while let Some(line) = lines.next() {
        let line = if continued { line.trim_start() } else { line };
        continued = line.ends_with('\\');
        if continued {
            out.push_str(&line[..line.len() - 1]);
        } else {
            out.push_str(line);
            if lines.peek().is_some() {
                out.push('\n');
            }
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The word (letters, digits, `_`) at `i`, lowercased, and where it ends.
fn word(b: &[u8], i: usize) -> (String, usize) {
    let mut j = i;
    while j < b.len() && is_ident(b[j]) {
        j += 1;
    }
    (String::from_utf8_lossy(&b[i..j]).to_ascii_lowercase(), j)
}

/// The SQL string literal at `i` (which is a quote), `''` read as a quote, and where it ends.
fn literal(b: &[u8], i: usize) -> Option<(String, usize)> {
    let mut j = i + 1;
    let mut value = Vec::new();
    while j < b.len() {
        if b[j] == b'\'' {
            if b.get(j + 1) == Some(&b'\'') {
                value.push(b'\'');
                j += 2;
                continue;
            }
            return Some((String::from_utf8_lossy(&value).into_owned(), j + 1));
        }
        value.push(b[j]);
        j += 1;
    }
    None
}

/// The literals compared with a column whose name ends at `i`: `= 'x'`, `<> 'x'`, `!= 'x'`,
/// `IN ('x', 'y')`, `NOT IN (…)`, and the THEN and ELSE values of `= CASE … END`.
fn compared_literals(b: &[u8], i: usize) -> Vec<String> {
    let mut found = Vec::new();
    let mut j = skip_space(b, i);
    let rest = &b[j.min(b.len())..];
    let op = if rest.starts_with(b"<>") || rest.starts_with(b"!=") {
        2
    } else if rest.starts_with(b"=") && !rest.starts_with(b"==") && !rest.starts_with(b"=>") {
        1
    } else {
        0
    };
    if op > 0 {
        j = skip_space(b, j + op);
        if b.get(j) == Some(&b'\'') {
            if let Some((value, _)) = literal(b, j) {
                found.push(value);
            }
        } else if word(b, j).0 == "case" {
            // THEN and ELSE values up to the END of this CASE.
            let mut k = j + 4;
            let mut previous = String::new();
            while k < b.len() {
                if b[k] == b'\'' {
                    let Some((value, end)) = literal(b, k) else {
                        break;
                    };
                    if previous == "then" || previous == "else" {
                        found.push(value);
                    }
                    previous.clear();
                    k = end;
                } else if is_ident(b[k]) {
                    let (w, end) = word(b, k);
                    if w == "end" {
                        break;
                    }
                    previous = w;
                    k = end;
                } else {
                    k += 1;
                }
            }
        }
        return found;
    }
    let (mut w, mut end) = word(b, j);
    if w == "not" {
        (w, end) = word(b, skip_space(b, end));
    }
    if w != "in" {
        return found;
    }
    j = skip_space(b, end);
    if b.get(j) != Some(&b'(') {
        return found;
    }
    j = skip_space(b, j + 1);
    while b.get(j) == Some(&b'\'') {
        let Some((value, end)) = literal(b, j) else {
            break;
        };
        found.push(value);
        j = skip_space(b, end);
        if b.get(j) != Some(&b',') {
            break;
        }
        j = skip_space(b, j + 1);
    }
    found
}

/// What is wrong in a text: one line per literal that is not a code of its column.
fn check(text: &str) -> Vec<String> {
    let joined = join_continuations(text);
    let b = joined.as_bytes();
    let mut problems = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_alphabetic() || b[i] == b'_') || (i > 0 && is_ident(b[i - 1])) {
            i += 1;
            continue;
        }
        let (column, end) = word(b, i);
        if status_like(&column) {
            let codes = allowed(&column);
            for value in compared_literals(b, end) {
                match &codes {
                    Some(codes) if codes.contains(&value.as_str()) => {}
                    Some(_) => problems.push(format!(
                        "« {column} » compared with '{value}', which is no code of db::enums"
                    )),
                    None => problems.push(format!(
                        "« {column} » compared with '{value}': no text_enum is known for this \
                         column (bind the code, or add the column to sql_codes::allowed)"
                    )),
                }
            }
        }
        i = end;
    }
    problems
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "sql") {
            out.push(path);
        }
    }
}

#[test]
fn every_status_code_written_in_the_sql_of_src_is_a_code_of_db_enums() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 50, "src/ not found: {}", src.display());
    let mut problems = Vec::new();
    for file in files {
        if file.ends_with("campaigns/sql_codes.rs") {
            continue; // its examples are wrong on purpose
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for p in check(&text) {
            problems.push(format!("{}: {p}", file.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_misspelt_code_is_found_wherever_it_is_compared() {
    assert_eq!(
        check("WHERE d.status = 'en_attente' AND r.status <> 'envoi'").len(),
        0
    );
    assert_eq!(check("WHERE d.status = 'envoie'").len(), 1);
    assert_eq!(
        check("\"UPDATE deliveries SET status = 'envoie', \\\n     x = 1\"").len(),
        1
    );
    assert_eq!(check("WHERE r.status IN ('planifie', 'envoie')").len(), 1);
    assert_eq!(
        check("WHERE r.status NOT IN ('termine',\n 'pause')").len(),
        0
    );
    assert_eq!(
        check("SET status = CASE WHEN c.schedule_kind = 'cron' THEN 'programmee' ELSE 'finie' END")
            .len(),
        1
    );
    assert_eq!(check("WHERE c.schedule_kind = 'kron'").len(), 1);
    assert_eq!(check("WHERE a.stage = 'recrutée'").len(), 1);
    assert_eq!(check("WHERE o.payment_status = 'paid'").len(), 1);
    // Not compared with a status column, or bound: nothing to say.
    assert_eq!(
        check("WHERE status = $1 AND last_error = 'l''envoi'").len(),
        0
    );
    assert_eq!(check("if kind == 'a' { stage => 'b' }").len(), 0);
}
