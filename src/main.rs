use std::io::BufRead;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vocation::config::Settings;
use vocation::db::enums::StaffRole;
use vocation::startup::Application;

// Faster than glibc's for the campaign sender's many short-lived buffers (see Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "vocation", version, about = "Recrutement de médecins salariés")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migre la base, puis lance le serveur web et l'envoi des courriels (par défaut).
    Serve {
        /// Charge d'abord les données de démonstration.
        #[arg(long)]
        demo: bool,
    },
    /// Crée la base si besoin et applique les migrations.
    Migrate,
    /// Comptes du personnel.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Contacts des campagnes : import et export CSV.
    Contacts {
        #[command(subcommand)]
        command: ContactsCommand,
    },
    /// Charge les centres, des postes, une cinquantaine de candidats et un premier administrateur.
    Demo {
        /// Ajoute ensuite N candidats synthétiques (une candidature chacun), pour les essais de
        /// charge.
        #[arg(long, value_name = "N")]
        candidats: Option<usize>,
        /// Graine du générateur de candidats (mêmes données pour la même graine et la même base).
        #[arg(
            long,
            value_name = "GRAINE",
            default_value_t = 32,
            requires = "candidats"
        )]
        graine: u64,
    },
}

#[derive(Subcommand)]
enum ContactsCommand {
    /// Importe un fichier CSV (en-tête : email, prenom, nom, organisation, type, etiquettes,
    /// ville, base_legale) dans une liste, créée si besoin ; affiche le bilan et les lignes
    /// refusées.
    Import {
        /// Nom de la liste (créée si elle n'existe pas).
        #[arg(long = "list", value_name = "NOM")]
        list: String,
        /// Le fichier CSV (séparateur , ou ; ; UTF-8).
        #[arg(value_name = "FICHIER")]
        file: std::path::PathBuf,
        /// Type des contacts dont la colonne « type » est vide (faculte, medecin_retraite,
        /// medecin, interne, partenaire).
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// Base légale des contacts dont la colonne « base_legale » est vide
        /// (interet_legitime, consentement, mission_publique).
        #[arg(long = "base-legale", value_name = "BASE")]
        legal_basis: Option<String>,
    },
    /// Écrit les contacts (d'une liste, ou tous) en CSV sur la sortie standard, dans les
    /// colonnes de l'import.
    Export {
        #[arg(long = "list", value_name = "NOM")]
        list: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Crée un compte ; le mot de passe est lu sur l'entrée standard avec --password-stdin,
    /// sinon un mot de passe est tiré au hasard et affiché une fois.
    Add {
        #[arg(long)]
        email: String,
        /// admin, recruteur ou communication
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `mi_option_arena_eager_commit` in the mimalloc v2 header bundled by libmimalloc-sys 0.1.49.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// mimalloc commits its arena on demand instead of at once (mailing bench: peak RSS 103 MB with
/// the default, 45 MB without). It must be set before the first allocation, which creates the
/// arena: a constructor runs before Rust's runtime allocates anything (setting it in `main` was
/// measured too late). The value set here is kept when mimalloc reads its options.
extern "C" fn mimalloc_options() {
    // SAFETY: mi_option_set only stores an option's value.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
}

#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static MIMALLOC_OPTIONS: extern "C" fn() = mimalloc_options;

fn main() -> ExitCode {
    #[cfg(not(target_os = "linux"))]
    mimalloc_options();
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("erreur : {e}");
            return ExitCode::FAILURE;
        }
    };
    vocation::telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("erreur : démarrage impossible : {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(
        cli.command.unwrap_or(Command::Serve { demo: false }),
        settings,
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("erreur : {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { demo } => {
            if demo {
                load_demo(&settings).await?;
            }
            let app = Application::build(settings).await?;
            println!("Vocation écoute sur le port {}", app.port());
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            tokio::task::spawn_blocking(move || vocation::db::prepare(&settings)).await??;
            println!("Base de données à jour.");
        }
        Command::Demo { candidats, graine } => {
            load_demo(&settings).await?;
            if let Some(count) = candidats {
                generate(&settings, count, graine).await?;
            }
        }
        Command::Contacts { command } => contacts(&settings, command).await?,
        Command::User {
            command:
                UserCommand::Add {
                    email,
                    role,
                    name,
                    password_stdin,
                },
        } => {
            let role = StaffRole::from_code(&role).ok_or_else(|| {
                anyhow::anyhow!("rôle « {role} » inconnu : admin, recruteur ou communication")
            })?;
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (vocation::staff::generate_password(), true)
            };
            let id = tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
                let pool = vocation::db::prepare(&settings)?;
                let mut conn = pool.get()?;
                let id = vocation::staff::add_user(&mut conn, &email, &name, role, &password)?;
                if generated {
                    println!("Mot de passe (affiché une seule fois) : {password}");
                }
                Ok(id)
            })
            .await??;
            println!("Compte n° {id} créé ({}).", role.label());
        }
    }
    Ok(())
}

async fn load_demo(settings: &Settings) -> anyhow::Result<()> {
    let settings = settings.clone();
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let pool = vocation::db::prepare(&settings)?;
        let mut conn = pool.get()?;
        vocation::demo::load(&mut conn)
    })
    .await??;
    println!("{report}");
    Ok(())
}

async fn generate(settings: &Settings, count: usize, seed: u64) -> anyhow::Result<()> {
    let settings = settings.clone();
    let started = std::time::Instant::now();
    let added = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let pool = vocation::db::prepare(&settings)?;
        let mut conn = pool.get()?;
        vocation::demo::generate_candidates(&mut conn, count, seed)
    })
    .await??;
    println!(
        "{added} candidats générés en {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn contacts(settings: &Settings, command: ContactsCommand) -> anyhow::Result<()> {
    use vocation::campaigns::{contacts, import};
    let settings = settings.clone();
    match command {
        ContactsCommand::Import {
            list,
            file,
            kind,
            legal_basis,
        } => {
            let defaults = import::Defaults {
                kind: kind
                    .map(|k| {
                        import::parse_kind(&k).ok_or_else(|| {
                            anyhow::anyhow!(
                                "type « {k} » inconnu : faculte, medecin_retraite, medecin, \
                                 interne ou partenaire"
                            )
                        })
                    })
                    .transpose()?,
                legal_basis: legal_basis
                    .map(|b| {
                        import::parse_legal_basis(&b).ok_or_else(|| {
                            anyhow::anyhow!(
                                "base légale « {b} » inconnue : interet_legitime, consentement \
                                 ou mission_publique"
                            )
                        })
                    })
                    .transpose()?,
            };
            let shown = file.display().to_string();
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("lecture de {shown} impossible : {e}"))?;
            if let Err(e) = import::check_file(&bytes) {
                anyhow::bail!("{shown} : {e}");
            }
            let filename = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
                let pool = vocation::db::prepare(&settings)?;
                let mut conn = pool.get()?;
                let (list_id, created) = contacts::ensure_list(&mut conn, &list)
                    .map_err(anyhow::Error::new)?
                    .map_err(|m| anyhow::anyhow!("liste « {list} » : {m}"))?;
                let name = contacts::find_list(&mut conn, list_id)?
                    .map(|l| l.name)
                    .unwrap_or(list);
                match import::import_file(&mut conn, list_id, None, &filename, &bytes, defaults)? {
                    Ok((_, report)) => Ok(report.text(&name, created)),
                    Err(import::ApplyError::File(e)) => anyhow::bail!("{filename} : {e}"),
                    Err(e) => anyhow::bail!("import impossible : {e:?}"),
                }
            })
            .await??;
            print!("{text}");
        }
        ContactsCommand::Export { list } => {
            let out = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
                let pool = vocation::db::prepare(&settings)?;
                let mut conn = pool.get()?;
                let list_id = match &list {
                    None => None,
                    Some(name) => Some(
                        contacts::find_list_by_name(&mut conn, name)?
                            .ok_or_else(|| anyhow::anyhow!("liste « {name} » introuvable"))?
                            .id,
                    ),
                };
                let rows = import::export_rows(&mut conn, list_id)?;
                let mut out = Vec::with_capacity(96 * (rows.len() + 1));
                import::write_csv(&rows, &mut out, false)?;
                Ok(out)
            })
            .await??;
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&out)?;
            stdout.flush()?;
        }
    }
    Ok(())
}
