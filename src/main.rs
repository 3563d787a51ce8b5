use std::io::BufRead;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vocation::config::Settings;
use vocation::db::enums::StaffRole;
use vocation::startup::Application;

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

fn main() -> ExitCode {
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
