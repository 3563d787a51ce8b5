//! The letters' PDF checked with real tools from Debian: `qpdf --check` for validity,
//! `pdftotext` for the text, `pdftoppm` and `zbarimg` for the QR codes.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;

use super::*;

/// A scratch directory removed at the end of the test.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("vocation-print-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sender() -> Sender {
    Sender {
        name: "Département du Gers".to_owned(),
        service: "Centre départemental de santé".to_owned(),
        address_lines: vec![
            "Hôtel du Département".to_owned(),
            "81 route de Pau".to_owned(),
            "32000 AUCH".to_owned(),
        ],
        place: "Auch".to_owned(),
    }
}

/// A date relative to the run, never a fixed year.
fn some_date() -> NaiveDate {
    chrono::Utc::now().date_naive() + chrono::Days::new(10)
}

fn letter(address: &[&str], code: &str, body: &str) -> Letter {
    Letter {
        address: address.iter().map(|s| (*s).to_owned()).collect(),
        date: some_date(),
        subject: "Le Gers recrute des médecins salariés".to_owned(),
        body: body.to_owned(),
        link: format!("https://vocation.example.fr/l/{code}"),
        code: code.to_owned(),
    }
}

const BODY: &str = "Madame, Monsieur,\n\nLe Département du Gers crée des centres de santé où des médecins \
généralistes exercent en salariés : pas de gestion, un secrétariat, des collègues. « Œuvrer » ici, c’est \
choisir une vie à taille humaine ; la rémunération suit la grille (à partir de 5\u{a0}000\u{a0}€ brut par mois).\n\n\
Nous serions heureux d’en parler avec vous.\n\nLe Président du Conseil départemental";

fn write(letters: Vec<Letter>, path: &Path) -> io::Result<u32> {
    let file = std::fs::File::create(path)?;
    write_letters(&sender(), letters.into_iter(), file)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the tool is installed (see .ci/run)");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn qpdf_check(path: &Path) {
    let out = run(Command::new("qpdf").arg("--check").arg(path));
    assert!(out.contains("No syntax or stream encoding errors"), "{out}");
}

fn pdftotext(path: &Path) -> String {
    run(Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(path)
        .arg("-"))
}

fn page_count(path: &Path) -> u32 {
    let info = run(Command::new("pdfinfo").arg(path));
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo gives the page count")
}

/// Every QR code of the file, page by page, decoded by zbar from a 150 dpi rendering.
fn decode_qr_codes(scratch: &Scratch, path: &Path) -> Vec<String> {
    run(Command::new("pdftoppm")
        .args(["-r", "150", "-png"])
        .arg(path)
        .arg(scratch.path("page")));
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&scratch.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    pages.sort();
    let mut links = Vec::new();
    for page in pages {
        let out = Command::new("zbarimg")
            .args(["--raw", "-q"])
            .arg(&page)
            .output()
            .unwrap();
        // zbarimg exits with 4 when a page has no code (continuation pages).
        links.extend(
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(str::to_owned),
        );
    }
    links
}

/// `needles` appear in `haystack` in this order.
fn assert_in_order(haystack: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match haystack[from..].find(needle) {
            Some(i) => from += i + needle.len(),
            None => panic!("{needle:?} missing (or out of order) in:\n{haystack}"),
        }
    }
}

#[test]
fn three_letters_make_a_valid_pdf_with_each_address_code_and_qr_link() {
    let scratch = Scratch::new();
    let path = scratch.path("courriers.pdf");
    let letters = vec![
        letter(
            &[
                "Madame Hélène DUPRÉ-LÉGER",
                "Cabinet médical",
                "12 rue des Écoles",
                "32000 AUCH",
            ],
            "K7F3-9QX2",
            BODY,
        ),
        letter(
            &[
                "Monsieur François CŒURDEROY",
                "Appartement 4",
                "Résidence « Les Tilleuls »",
                "3 avenue d’Alsace",
                "BP 12",
                "31000 TOULOUSE",
            ],
            "M2P8-4RT6",
            BODY,
        ),
        letter(
            &["Docteur Zoë NOËL", "7 place de l’Église", "65000 TARBES"],
            "Z9W1-3HJ5",
            BODY,
        ),
    ];
    let pages = write(letters, &path).unwrap();
    assert_eq!(pages, 3);
    qpdf_check(&path);
    assert_eq!(page_count(&path), 3);

    let text = pdftotext(&path);
    assert_in_order(
        &text,
        &[
            "Madame Hélène DUPRÉ-LÉGER",
            "Cabinet médical",
            "12 rue des Écoles",
            "32000 AUCH",
            "Objet : Le Gers recrute des médecins salariés",
            "« Œuvrer » ici, c’est",
            "K7F3-9QX2",
            "Monsieur François CŒURDEROY",
            "Appartement 4",
            "Résidence « Les Tilleuls »",
            "3 avenue d’Alsace",
            "BP 12",
            "31000 TOULOUSE",
            "M2P8-4RT6",
            "Docteur Zoë NOËL",
            "7 place de l’Église",
            "65000 TARBES",
            "Z9W1-3HJ5",
        ],
    );
    assert!(text.contains("Département du Gers"));
    assert!(text.contains("Auch, le "), "{text}");
    assert!(
        text.contains("5\u{a0}000\u{a0}€") || text.contains("5 000 €"),
        "{text}"
    );
    assert!(text.contains("https://vocation.example.fr/l/M2P8-4RT6"));

    assert_eq!(
        decode_qr_codes(&scratch, &path),
        vec![
            "https://vocation.example.fr/l/K7F3-9QX2",
            "https://vocation.example.fr/l/M2P8-4RT6",
            "https://vocation.example.fr/l/Z9W1-3HJ5",
        ]
    );

    // Each font is embedded once for the whole file.
    let bytes = std::fs::read(&path).unwrap();
    let font_files = bytes
        .windows(b"/FontFile2".len())
        .filter(|w| w == b"/FontFile2")
        .count();
    assert_eq!(font_files, 2);
}

#[test]
fn a_long_body_flows_onto_further_pages_and_nothing_is_lost() {
    let scratch = Scratch::new();
    let path = scratch.path("long.pdf");
    let paragraphs: Vec<String> = (1..=60)
        .map(|i| format!("Paragraphe numéro {i} : le Gers offre un exercice salarié, à l’équilibre entre soin et vie personnelle."))
        .collect();
    let body = paragraphs.join("\n\n");
    let pages = write(
        vec![
            letter(&["Madame Anne MARTIN", "32000 AUCH"], "LONG-0001", &body),
            letter(
                &["Monsieur Paul ROUX", "32300 MIRANDE"],
                "SHORT-002",
                "Court.",
            ),
        ],
        &path,
    )
    .unwrap();
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(page_count(&path), pages);
    qpdf_check(&path);
    let text = pdftotext(&path);
    let numbers: Vec<String> = (1..=60)
        .map(|i| format!("Paragraphe numéro {i} :"))
        .collect();
    let mut needles: Vec<&str> = numbers.iter().map(String::as_str).collect();
    needles.push("Monsieur Paul ROUX");
    assert_in_order(&text, &needles);
    let last = pages - 1;
    assert!(text.contains(&format!("Page 2 / {last}")), "{text}");
    // The second letter starts on its own page: its address is on the last page.
    let last_page = run(Command::new("pdftotext")
        .args([
            "-enc",
            "UTF-8",
            "-f",
            &pages.to_string(),
            "-l",
            &pages.to_string(),
        ])
        .arg(&path)
        .arg("-"));
    assert!(last_page.contains("Monsieur Paul ROUX"), "{last_page}");
    assert!(!last_page.contains("Paragraphe"), "{last_page}");
}

#[test]
fn hostile_input_never_panics_and_the_pdf_stays_valid() {
    let scratch = Scratch::new();
    let path = scratch.path("hostile.pdf");
    let long_word = "x".repeat(10_000);
    let bodies = [
        String::new(),
        "\u{0}\u{7}\u{1b}[31m\r\n\t\u{7f}\u{85}\u{202e}texte\u{202c} \u{200b}".to_owned(),
        long_word.clone(),
        "😀🎉 emoji 👩‍⚕️ et drapeau 🇫🇷".to_owned(),
        "שלום עולם — مرحبا بالعالم — Привет".to_owned(),
        "(parenthèses) \\ barre oblique inverse ) ( %commentaire endstream endobj %%EOF".to_owned(),
        "\n\n\n\n   \n\n".to_owned(),
    ];
    let letters: Vec<Letter> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| Letter {
            address: vec![
                format!("M. 😀 ה {i} \u{0}\u{202e}"),
                "(rue) \\ ) endobj".to_owned(),
                "32000 AUCH".to_owned(),
            ],
            date: some_date(),
            subject: "\u{0}Objet\r\n😀 (x".to_owned(),
            body: body.clone(),
            link: format!("https://vocation.example.fr/l/H{i}?a=(b)&c=\\"),
            code: format!("H{i}) \\ (😀"),
        })
        .collect();
    let pages = write(letters, &path).unwrap();
    qpdf_check(&path);
    assert_eq!(page_count(&path), pages);
    let text = pdftotext(&path);
    // The 10,000-character word is printed whole, cut across lines.
    let xs = text.chars().filter(|&c| c == 'x').count();
    assert!(xs >= 10_000, "{xs} x");
    assert!(text.contains("texte"));
    assert!(text.contains("Привет") || text.contains("??????"), "{text}");
    assert!(text.contains("endstream endobj %%EOF"), "{text}");
    assert!(text.contains("H5) \\ (?"), "{text}");
    // The odd links still come back whole from the QR codes.
    let links = decode_qr_codes(&scratch, &path);
    assert_eq!(links.len(), bodies.len());
    assert_eq!(links[3], "https://vocation.example.fr/l/H3?a=(b)&c=\\");
}

#[test]
fn letters_that_cannot_be_printed_are_refused_not_cut() {
    let sender = sender();
    let ok = letter(&["Madame Anne MARTIN", "32000 AUCH"], "OK-1", BODY);
    let check = |l: &Letter| check_letter(&sender, l, 0).map_err(|e| e.problem);
    assert_eq!(check(&ok), Ok(1));

    let mut seven = ok.clone();
    seven.address = (1..=7).map(|i| format!("Ligne {i}")).collect();
    assert_eq!(check(&seven), Err(LetterProblem::TooManyAddressLines(7)));

    let mut empty = ok.clone();
    empty.address = vec!["  ".to_owned(), String::new()];
    assert_eq!(check(&empty), Err(LetterProblem::NoAddress));

    let mut long_line = ok.clone();
    long_line.address = vec!["A".repeat(39), "32000 AUCH".to_owned()];
    assert_eq!(
        check(&long_line),
        Err(LetterProblem::AddressLineTooLong { line: 1, chars: 39 })
    );
    // 38 characters are fine, even wide capitals (the font shrinks, down to 8 pt)...
    let mut caps = ok.clone();
    caps.address = vec!["M".repeat(38), "32000 AUCH".to_owned()];
    assert!(check(&caps).is_ok(), "{:?}", check(&caps));
    // ...but not when even 8 pt does not fit the window.
    let mut too_wide = ok.clone();
    too_wide.address = vec!["32000 AUCH".to_owned(), "\u{2014}".repeat(38)];
    assert_eq!(
        check(&too_wide),
        Err(LetterProblem::AddressLineTooWide { line: 2 })
    );

    let mut endless = ok.clone();
    endless.body = "Une ligne.\n".repeat(5_000);
    assert_eq!(
        check(&endless),
        Err(LetterProblem::BodyTooLong(MAX_PAGES_PER_LETTER))
    );
    let mut huge = ok.clone();
    huge.body = "mot ".repeat(1_000_000);
    assert_eq!(
        check(&huge),
        Err(LetterProblem::BodyTooLong(MAX_PAGES_PER_LETTER))
    );

    let mut no_link = ok.clone();
    no_link.link = " ".to_owned();
    assert_eq!(check(&no_link), Err(LetterProblem::NoLink));
    for odd in [
        "https://vocation.example.fr/l/é",
        "https://x.fr/a b",
        "https://x.fr/\u{0}",
    ] {
        let mut odd_link = ok.clone();
        odd_link.link = odd.to_owned();
        assert_eq!(
            check(&odd_link),
            Err(LetterProblem::LinkNotAscii),
            "{odd:?}"
        );
    }
    let mut long_link = ok.clone();
    long_link.link = format!("https://vocation.example.fr/{}", "a".repeat(300));
    assert_eq!(
        check(&long_link),
        Err(LetterProblem::LinkTooLong(MAX_LINK_CHARS))
    );
    let mut no_code = ok.clone();
    no_code.code = " ".to_owned();
    assert_eq!(check(&no_code), Err(LetterProblem::NoCode));
    let mut long_code = ok.clone();
    long_code.code = "C".repeat(33);
    assert_eq!(
        check(&long_code),
        Err(LetterProblem::CodeTooLong(MAX_CODE_CHARS))
    );

    // write_letters stops at the bad letter with an InvalidInput error that names it.
    let mut out = Vec::new();
    let err = write_letters(
        &sender,
        vec![ok.clone(), seven.clone()].into_iter(),
        &mut out,
    )
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let letter_error = LetterError::from_io(&err).expect("a LetterError");
    assert_eq!(letter_error.index, 1);
    assert_eq!(letter_error.code, "OK-1");
    assert_eq!(
        err.to_string(),
        "Courrier n° 2 (code OK-1) : l’adresse a 7 lignes ; La Poste en admet 6 au plus."
    );

    // No letter at all is an error too, not an empty file that readers reject.
    let err = write_letters(&sender, std::iter::empty(), Vec::new()).unwrap_err();
    assert_eq!(
        LetterError::from_io(&err).map(|e| &e.problem),
        Some(&LetterProblem::NoLetters)
    );

    // A sender block too long to end above the date line.
    let mut big_sender = sender.clone();
    big_sender.address_lines = (1..=20).map(|i| format!("Ligne {i}")).collect();
    assert_eq!(
        check_letter(&big_sender, &ok, 0).map_err(|e| e.problem),
        Err(LetterProblem::SenderTooLong)
    );
}

#[test]
fn the_date_is_written_the_french_way() {
    let d = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
    assert_eq!(letter::date_line("Auch", d), "Auch, le 7 décembre 2026");
    let first = NaiveDate::from_ymd_opt(2027, 5, 1).unwrap();
    assert_eq!(letter::date_line(" ", first), "Le 1er mai 2027");
}

#[test]
fn the_longest_link_allowed_still_scans_and_prints_whole() {
    let scratch = Scratch::new();
    let path = scratch.path("lien.pdf");
    let prefix = "https://vocation.example.fr/l/";
    let link = format!("{prefix}{}", "Ab3-".repeat(50))
        .chars()
        .take(MAX_LINK_CHARS)
        .collect::<String>();
    let mut l = letter(&["Madame Anne MARTIN", "32000 AUCH"], "LIEN-LONG", BODY);
    l.link = link.clone();
    write(vec![l], &path).unwrap();
    qpdf_check(&path);
    assert_eq!(decode_qr_codes(&scratch, &path), vec![link.clone()]);
    // Printed in full, over as many lines as it needs.
    let text: String = pdftotext(&path).split_whitespace().collect();
    assert!(text.contains(&link), "{text}");
}
