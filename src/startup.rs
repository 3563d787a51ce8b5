//! Builds the whole service (database, web server, mail worker) and runs it. Tests use the same
//! path with port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tokio::sync::Notify;
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::db::{self, PgPool};
use crate::mail::outbox::Dispatcher;
use crate::specialties;
use crate::templates;
use crate::web::{self as http, AppState};

pub struct Application {
    port: u16,
    server: Server,
    pub pool: PgPool,
    pub dispatcher: Dispatcher,
    mail_wake: Arc<Notify>,
    campaign_wake: Arc<Notify>,
    settings: Arc<Settings>,
}

impl Application {
    /// Creates and migrates the database if needed, binds the listener, builds the server.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        templates::init().context("templates")?;
        let settings = Arc::new(settings);
        let pool = {
            let settings = settings.clone();
            tokio::task::spawn_blocking(move || db::prepare(&settings)).await??
        };
        let specialties = {
            let pool = pool.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let mut conn = pool.get()?;
                Ok(specialties::load_all(&mut conn)?)
            })
            .await??
        };
        let dispatcher = Dispatcher::new(&settings, pool.clone())?;
        let address = format!("{}:{}", settings.http.host, settings.http.port);
        let listener = TcpListener::bind(&address)
            .with_context(|| format!("impossible d'écouter sur {address}"))?;
        let port = listener.local_addr()?.port();
        let mail_wake = Arc::new(Notify::new());
        let campaign_wake = Arc::new(Notify::new());
        let state = web::Data::new(AppState {
            settings: settings.clone(),
            pool: pool.clone(),
            mail_wake: mail_wake.clone(),
            campaign_wake: campaign_wake.clone(),
            specialties,
        });
        let route_settings = settings.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(http::query_config())
                .app_data(http::form_config())
                .wrap(http::security_headers(&route_settings))
                .wrap(TracingLogger::default())
                .configure(|cfg| http::routes(cfg, &route_settings))
                .default_service(web::to(http::public::not_found))
        })
        .shutdown_timeout(20)
        .listen(listener)?
        .run();
        Ok(Application {
            port,
            server,
            pool,
            dispatcher,
            mail_wake,
            campaign_wake,
            settings,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs the web server, and the mail worker if enabled, until the server stops.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let worker = self.settings.mail.worker.enabled.then(|| {
            let poll = Duration::from_secs(self.settings.mail.worker.poll_interval_seconds.max(1));
            tokio::spawn(self.dispatcher.clone().run(self.mail_wake.clone(), poll))
        });
        let campaign_sender = if self.settings.campaigns.enabled {
            match crate::campaigns::sender::CampaignSender::new(
                self.settings.clone(),
                self.pool.clone(),
                self.campaign_wake.clone(),
            ) {
                Ok(sender) => Some(sender.start()),
                Err(e) => {
                    self.server.handle().stop(false).await;
                    return Err(std::io::Error::other(format!("{e:#}")));
                }
            }
        } else {
            None
        };
        let scheduler = match crate::scheduler::start(
            self.settings.clone(),
            self.pool.clone(),
            self.mail_wake.clone(),
            self.campaign_wake.clone(),
        )
        .await
        {
            Ok(s) => s,
            Err(e) => {
                self.server.handle().stop(false).await;
                return Err(std::io::Error::other(format!("{e:#}")));
            }
        };
        tracing::info!(port = self.port, "Vocation listening");
        let result = self.server.await;
        if let Some(mut scheduler) = scheduler {
            let _ = scheduler.shutdown().await;
        }
        if let Some(worker) = worker {
            worker.abort();
        }
        // Messages being sent finish and are recorded; claimed but unsent deliveries go back
        // to the queue at once instead of waiting for their lease.
        if let Some(sender) = campaign_sender {
            sender.shutdown().await;
        }
        result
    }
}
