//! Builds the whole service (database, web server, mail worker) and runs it. Tests use the same
//! path with port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tokio::sync::{watch, Notify};
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::db::{self, PgPool};
use crate::mail::outbox::Dispatcher;
use crate::metrics::Metrics;
use crate::specialties;
use crate::telemetry::RequestSpan;
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
    pub metrics: Arc<Metrics>,
    signals: tokio::task::JoinHandle<()>,
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
        let metrics = Arc::new(Metrics::new());
        let state = web::Data::new(AppState {
            settings: settings.clone(),
            pool: pool.clone(),
            mail_wake: mail_wake.clone(),
            campaign_wake: campaign_wake.clone(),
            specialties,
            metrics: metrics.clone(),
        });
        let route_settings = settings.clone();
        // Created here, once: each worker's app shares the same buckets.
        let rate_limits = http::RateLimits::new(&settings)?;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(http::query_config())
                .app_data(http::path_config())
                .wrap(actix_web::middleware::from_fn(http::inputs::head_as_get))
                .wrap(actix_web::middleware::from_fn(http::inputs::check_inputs))
                .wrap(http::security_headers(&route_settings))
                .wrap(actix_web::middleware::from_fn(http::metrics::observe))
                .wrap(TracingLogger::<RequestSpan>::new())
                .configure(|cfg| http::routes::routes(cfg, &rate_limits))
                .default_service(web::to(http::public::not_found))
        })
        // Signals are handled by stop_on_signal below (actix would stop at once on SIGINT): on
        // SIGTERM or SIGINT stop accepting, give requests in flight up to 20 s to finish.
        .disable_signals()
        .shutdown_timeout(20);
        let server = if settings.http.workers > 0 {
            server.workers(settings.http.workers)
        } else {
            server
        };
        let server = server.listen(listener)?.run();
        // Listening starts here, before any request can be answered.
        let signals = tokio::spawn(stop_on_signal(server.handle(), StopSignals::listen()));
        Ok(Application {
            port,
            server,
            pool,
            dispatcher,
            mail_wake,
            campaign_wake,
            settings,
            metrics,
            signals,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs the web server, and the mail worker if enabled, until the server stops (SIGTERM,
    /// SIGINT): then the scheduler stops and the mail worker finishes its current message.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop_worker, worker_stop) = watch::channel(false);
        let worker = self.settings.mail.worker.enabled.then(|| {
            let poll = Duration::from_secs(self.settings.mail.worker.poll_interval_seconds.max(1));
            // A panic in the worker is contained and the worker started again.
            let (dispatcher, wake) = (self.dispatcher.clone(), self.mail_wake.clone());
            let stop = worker_stop.clone();
            tokio::spawn(crate::supervise::supervised(
                "mail_worker",
                stop,
                move || {
                    dispatcher
                        .clone()
                        .run(wake.clone(), poll, worker_stop.clone())
                },
            ))
        });
        let campaign_sender = if self.settings.campaigns.enabled {
            match crate::campaigns::sending::CampaignSender::new(
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
        // Mail coming back (issue 20): one reader per configured mailbox.
        let mailbox_readers = crate::mailbox::start(
            self.settings.clone(),
            self.pool.clone(),
            stop_worker.subscribe(),
        );
        let scheduler = match crate::scheduler::start_with_metrics(
            self.settings.clone(),
            self.pool.clone(),
            self.mail_wake.clone(),
            self.campaign_wake.clone(),
            self.metrics.clone(),
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
        self.signals.abort();
        tracing::info!("HTTP server stopped; stopping the workers");
        let _ = stop_worker.send(true);
        if let Some(mut scheduler) = scheduler {
            let _ = scheduler.shutdown().await;
        }
        // Both finish the message they are sending and record it, side by side: the mail
        // worker gives the rest of its claim back; the campaign senders return their claimed but
        // unsent deliveries to the queue at once instead of leaving them to their lease.
        let mail = async {
            if let Some(mut worker) = worker {
                // The message in flight gets its SMTP timeout, and a little more to be recorded.
                let grace = Duration::from_secs(self.settings.mail.smtp.timeout_seconds + 5);
                if tokio::time::timeout(grace, &mut worker).await.is_err() {
                    tracing::warn!(
                        "mail worker did not stop in time; its claims wait for their lease"
                    );
                    worker.abort();
                }
            }
        };
        let campaigns = async {
            if let Some(sender) = campaign_sender {
                sender.shutdown().await;
            }
        };
        let readers = async {
            for reader in mailbox_readers {
                // A reader stops between two messages; one stuck on the network is dropped.
                if tokio::time::timeout(Duration::from_secs(10), reader)
                    .await
                    .is_err()
                {
                    tracing::warn!("mailbox reader did not stop in time");
                }
            }
        };
        tokio::join!(mail, campaigns, readers);
        result
    }
}

/// SIGTERM and SIGINT, listened for from creation on (until then they would kill the process).
struct StopSignals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    fn listen() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let streams = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(term), Ok(int)) => Some((term, int)),
                _ => {
                    tracing::warn!(
                        "cannot listen for SIGTERM/SIGINT: they stop the service at once"
                    );
                    None
                }
            };
            StopSignals { streams }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        match self.streams.as_mut() {
            Some((term, int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            None => std::future::pending::<()>().await,
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The first SIGTERM or SIGINT stops the server gracefully; a second one stops it at once.
async fn stop_on_signal(server: actix_web::dev::ServerHandle, mut signals: StopSignals) {
    signals.next().await;
    tracing::info!("stop signal received: finishing the requests in flight");
    let graceful = server.stop(true);
    tokio::pin!(graceful);
    tokio::select! {
        _ = &mut graceful => {}
        _ = signals.next() => {
            tracing::warn!("second stop signal: stopping at once");
            server.stop(false).await;
        }
    }
}
