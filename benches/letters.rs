//! Benchmark of the letters' PDF (issue 19): N letters into one merged PDF file, through
//! `vocation::print::write_letters`, the function the print-shop download uses. Prints the
//! letters per second and the peak resident memory (VmHWM from /proc/self/status) for 1,000
//! letters and for N, each in a process of its own so that one peak does not hide the other:
//! memory must stay flat whatever the count. See BENCHMARKS.md.
//!
//! ```sh
//! cargo bench --bench letters
//! ```
//!
//! Environment: `BENCH_LETTERS` (N, default 10000), `BENCH_KEEP` (a path: keep the last PDF
//! there instead of deleting it). Each letter has its own 3- to 5-line address, code and link
//! and a body of about 950 characters (one page; every 10th letter has six times that body,
//! two pages). When `qpdf` is installed, the N-letter file is checked with `qpdf --check`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use vocation::print::{write_letters, Letter, Sender};

/// The targets of issue 19 on this 2-core machine.
const TARGET_LETTERS_PER_SECOND: f64 = 200.0;
const TARGET_RSS_MB: f64 = 200.0;

const CHILD_ENV: &str = "BENCH_LETTERS_CHILD";

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

const PARAGRAPHS: [&str; 4] = [
    "Le Département du Gers ouvre des centres de santé où des médecins généralistes exercent \
     en salariés : pas de gestion, un secrétariat sur place, des collègues avec qui partager \
     les cas difficiles, et du temps pour soigner. « Œuvrer » ici, c’est choisir une vie à \
     taille humaine, à une heure de Toulouse.",
    "La rémunération suit la grille des praticiens (à partir de 5\u{a0}000\u{a0}€ brut par mois \
     pour un temps plein), le temps de travail se choisit (de 0,5 à 1 ETP) et le Département \
     accompagne l’installation : logement les premiers mois, recherche d’emploi pour le conjoint, \
     places en crèche.",
    "Vous pouvez candidater en quelques minutes avec le lien personnel ci-dessous ou le code QR : \
     il nous dit que vous venez de ce courrier, rien de plus. Un recruteur vous rappelle sous \
     huit jours.",
    "Nous serions heureux d’en parler avec vous, de vive voix ou lors d’une visite des centres.",
];

fn letter(i: usize) -> Letter {
    let code = format!("{:04X}-{:04X}", (i * 7919) % 65536, (i * 104_729) % 65536);
    let mut address = vec![format!("Docteur Hélène DUPRÉ-LÉGER {i}")];
    if i.is_multiple_of(3) {
        address.push("Cabinet médical des Écoles".to_owned());
    }
    if i.is_multiple_of(5) {
        address.push("Résidence « Les Tilleuls »".to_owned());
    }
    address.push(format!("{} avenue d’Alsace", i % 200 + 1));
    address.push(format!("{:05} AUCH", 32000 + i % 900));
    let mut body = String::from("Madame, Monsieur,\n\n");
    let repeats = if i.is_multiple_of(10) { 6 } else { 1 };
    for _ in 0..repeats {
        for p in PARAGRAPHS {
            body.push_str(p);
            body.push_str("\n\n");
        }
    }
    body.push_str("Le Président du Conseil départemental");
    Letter {
        address,
        date: chrono::Utc::now().date_naive(),
        subject: "Le Gers recrute des médecins salariés".to_owned(),
        body,
        link: format!("https://vocation.gers.fr/l/{code}"),
        code,
    }
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The child: writes `count` letters to `path` and prints one line of figures.
fn child(count: usize, path: &Path) {
    let start = Instant::now();
    let file = std::fs::File::create(path).expect("create the PDF file");
    let pages = write_letters(&sender(), (0..count).map(letter), file).expect("write_letters");
    let seconds = start.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    println!("{count} {pages} {seconds:.3} {bytes} {}", vm_hwm_kb());
}

struct Run {
    count: usize,
    pages: u64,
    seconds: f64,
    bytes: u64,
    rss_kb: u64,
}

fn run(count: usize, path: &Path) -> Run {
    let exe = std::env::current_exe().expect("the bench binary");
    let out = Command::new(exe)
        .env(CHILD_ENV, count.to_string())
        .env("BENCH_LETTERS_PATH", path)
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).expect("UTF-8");
    let f: Vec<&str> = line.split_whitespace().collect();
    Run {
        count,
        pages: f[1].parse().unwrap(),
        seconds: f[2].parse().unwrap(),
        bytes: f[3].parse().unwrap(),
        rss_kb: f[4].parse().unwrap(),
    }
}

fn main() {
    if let Ok(count) = std::env::var(CHILD_ENV) {
        let path = PathBuf::from(std::env::var_os("BENCH_LETTERS_PATH").expect("path"));
        child(count.parse().expect("a count"), &path);
        return;
    }
    let n: usize = std::env::var("BENCH_LETTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("vocation-bench-letters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let path = dir.join("courriers.pdf");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "Letters into one PDF, one process per count (load average before: {})",
        load.trim()
    );
    let mut counts = vec![1_000, n];
    counts.dedup();
    let mut runs = Vec::new();
    for count in counts {
        let r = run(count, &path);
        println!(
            "{:>7} letters  {:>7} pages  {:>7.2} s  {:>8.0} letters/s  {:>7.1} MB file  peak RSS {:>6.1} MB (VmHWM)",
            r.count,
            r.pages,
            r.seconds,
            r.count as f64 / r.seconds,
            r.bytes as f64 / 1e6,
            r.rss_kb as f64 / 1024.0
        );
        let _ = std::io::stdout().flush();
        runs.push(r);
    }
    if Command::new("qpdf").arg("--version").output().is_ok() {
        let start = Instant::now();
        let out = Command::new("qpdf")
            .arg("--check")
            .arg(&path)
            .output()
            .expect("qpdf");
        let text = String::from_utf8_lossy(&out.stdout);
        let ok = out.status.success() && text.contains("No syntax or stream encoding errors");
        println!(
            "qpdf --check on the {}-letter file: {} ({:.1} s)",
            runs.last().map_or(0, |r| r.count),
            if ok { "no errors" } else { "FAILED" },
            start.elapsed().as_secs_f64()
        );
        if !ok {
            eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after: {}", load.trim());
    if let Some(keep) = std::env::var_os("BENCH_KEEP") {
        let _ = std::fs::rename(&path, keep);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let last = runs.last().expect("one run at least");
    let rate = last.count as f64 / last.seconds;
    let rss = runs.iter().map(|r| r.rss_kb).max().unwrap_or(0) as f64 / 1024.0;
    println!(
        "targets: ≥ {TARGET_LETTERS_PER_SECOND} letters/s: {} ({rate:.0}); RSS < {TARGET_RSS_MB} MB: {} ({rss:.1} MB)",
        if rate >= TARGET_LETTERS_PER_SECOND { "met" } else { "NOT met" },
        if rss < TARGET_RSS_MB { "met" } else { "NOT met" },
    );
}
