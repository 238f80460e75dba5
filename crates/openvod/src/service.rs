//! `openvod serve`, `worker` and `origin`: the long-running roles.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use openvod_pipeline::{PipelineConfig, Worker};
use openvod_server::{AppState, Roles, ServerConfig};
use openvod_store::{Db, Objects, Previews};

use crate::config::Config;

/// Flags every role shares.
#[derive(Args, Clone)]
pub struct ServiceArgs {
    /// Configuration file (TOML); see openvod.toml.example.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data folder for the default database, objects and scratch space.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port); for
    /// `worker`, its health and metrics address (`[worker] listen`).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

/// The roles of one process.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    /// API, origin and workers.
    Serve,
    /// Workers only.
    Worker,
    /// Origin only.
    Origin,
}

fn load(role: Role, args: &ServiceArgs) -> Result<Config> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let mut config = Config::load(args.config.as_deref(), &env)?;
    if let Some(d) = &args.data {
        config.data_dir = d.clone();
    }
    if let Some(l) = &args.listen {
        // The flag sets the address of the role it starts: a worker's is its own.
        match role {
            Role::Worker => config.worker.listen = l.clone(),
            Role::Serve | Role::Origin => config.listen = l.clone(),
        }
    }
    Ok(config)
}

fn init_logs(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPENVOD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if config.log_format == crate::config::LogFormat::Json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub fn run(role: Role, args: ServiceArgs) -> Result<()> {
    let config = load(role, &args)?;
    init_logs(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(role, config))
}

async fn run_async(role: Role, config: Config) -> Result<()> {
    // The recorder exists before any worker records into it.
    let _ = openvod_server::metrics_handle();
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| config.data_dir.display().to_string())?;
    let db = Db::connect(&config.database_url())
        .await
        .context("database")?;
    let store = config.objects();
    let hot_root = match &store {
        openvod_store::ObjectsConfig::Local { root } => Some(root.clone()),
        openvod_store::ObjectsConfig::S3 { .. } => None,
    };
    let objects = config.tiers.place(
        Objects::open(&store).context("object store")?,
        hot_root.as_deref(),
    )?;
    let outbound = config.outbound()?;
    let templates = config.templates(&outbound)?;
    // Configured webhooks are checked before anything starts.
    let mut config_webhooks = Vec::new();
    for hook in &config.webhooks {
        let events =
            openvod_server::webhooks::check_webhook(&hook.url, hook.events.clone(), &outbound)
                .map_err(|e| anyhow::anyhow!("config: webhook {}: {}", hook.url, e.message))?;
        config_webhooks.push((hook, events));
    }
    let key_store = config
        .master_key()?
        .map(|m| openvod_drm::KeyStore::new(db.clone(), m));
    let access = config.access()?;
    let shutdown = Arc::new(tokio::sync::Notify::new());
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            if matches!(role, Role::Serve | Role::Worker) {
                tracing::info!(
                    "stopping: workers finish the tasks under way first (a second signal \
                     stops at once, leaving them to other workers when their leases expire)"
                );
            }
            shutdown.notify_waiters();
            wait_for_signal().await;
            tracing::warn!("second signal: stopping now");
            std::process::exit(130);
        });
    }

    // Every role listens: workers for /healthz, /readyz and /metrics, on an address of
    // their own, so that workers start beside `serve` from one configuration.
    let listen = match role {
        Role::Worker => &config.worker.listen,
        Role::Serve | Role::Origin => &config.listen,
    };
    let listener =
        std::net::TcpListener::bind(listen).with_context(|| format!("listen on {listen}"))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;

    let mut workers = Vec::new();
    if matches!(role, Role::Serve | Role::Worker) {
        let host = openvod_pipeline::host_name();
        // Preview workers beside the others, where any run: a new upload's preview never
        // waits behind a ladder encode.
        let previews = if config.worker.concurrency > 0 {
            config.worker.preview_workers
        } else {
            0
        };
        for n in 0..config.worker.concurrency + previews {
            let preview = n >= config.worker.concurrency;
            let id = if preview {
                format!(
                    "{host}-{}-preview-{}",
                    std::process::id(),
                    n - config.worker.concurrency
                )
            } else {
                format!("{host}-{}-{n}", std::process::id())
            };
            let mut pc = PipelineConfig::new(id, config.work_dir());
            pc.previews = if preview {
                Previews::Only
            } else if previews > 0 {
                Previews::Last
            } else {
                Previews::First
            };
            pc.host = host.clone();
            pc.listen = Some(addr.to_string());
            pc.lease = Duration::from_secs(config.worker.lease_seconds);
            pc.heartbeat = Duration::from_secs(config.worker.heartbeat_seconds);
            pc.max_attempts = config.worker.max_attempts;
            pc.retry_base = Duration::from_secs(config.worker.retry_base_seconds);
            pc.policy = config.policy.clone();
            pc.templates = templates.clone();
            pc.key_store = key_store.clone();
            pc.speke_authorization = (!config.drm.speke_authorization.is_empty())
                .then(|| config.drm.speke_authorization.clone());
            pc.outbound = outbound.clone();
            let worker = Worker::new(db.clone(), objects.clone(), pc);
            let shutdown = shutdown.clone();
            workers.push(tokio::spawn(async move {
                worker.run(shutdown.notified()).await
            }));
        }
        tracing::info!(
            workers = config.worker.concurrency,
            preview_workers = previews,
            "workers started"
        );
        // Assets move between the hot and the cold class wherever work runs.
        let mover = openvod_store::TierMover::new(
            db.clone(),
            objects.clone(),
            format!("{host}-{}-tiers", std::process::id()),
            config.tiers.settings()?,
        );
        let shutdown = shutdown.clone();
        tokio::spawn(async move { mover.run(shutdown.notified()).await });
    }

    if matches!(role, Role::Serve) && config.watch.enabled {
        if !templates.contains_key(&config.watch.template) {
            anyhow::bail!(
                "config: watch.template {:?} is not a template",
                config.watch.template
            );
        }
        let watch = openvod_pipeline::watch::WatchConfig {
            prefix: config.watch.prefix.clone(),
            settle: Duration::from_secs(config.watch.settle_seconds),
            template: config.watch.template.clone(),
            max_attempts: config.worker.max_attempts,
        };
        let (db, objects, every) = (
            db.clone(),
            objects.clone(),
            Duration::from_secs(config.watch.interval_seconds.max(1)),
        );
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            loop {
                match openvod_pipeline::watch::import_new(&db, &objects, &watch).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(imported = n, prefix = %watch.prefix, "watch import"),
                    Err(e) => tracing::warn!(error = %e, "watch import"),
                }
                tokio::select! {
                    _ = shutdown.notified() => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        });
    }

    if matches!(role, Role::Serve) {
        for (hook, events) in &config_webhooks {
            if db.webhook_by_url(&hook.url).await?.is_none() {
                let secret = if hook.secret.is_empty() {
                    openvod_server::webhooks::new_secret()
                } else {
                    hook.secret.clone()
                };
                db.create_webhook(&hook.url, &secret, events).await?;
            }
        }
        tokio::spawn(openvod_server::webhooks::run_sender(
            db.clone(),
            outbound.clone(),
            shutdown.clone(),
        ));
    }

    let roles = match role {
        Role::Serve => Roles {
            api: true,
            origin: true,
        },
        Role::Origin => Roles {
            api: false,
            origin: true,
        },
        Role::Worker => Roles {
            api: false,
            origin: false,
        },
    };
    let mut names: Vec<String> = templates.keys().cloned().collect();
    names.sort();
    let state = AppState::new(
        db.clone(),
        objects.clone(),
        ServerConfig {
            max_upload_bytes: config.upload.max_bytes,
            delete_sources: config.upload.delete_sources,
            default_template: "default".into(),
            templates: names,
            max_attempts: config.worker.max_attempts,
            worker_lease: Duration::from_secs(config.worker.lease_seconds),
            access,
            tls: !config.tls_cert_file.as_os_str().is_empty(),
            origin: openvod_server::jit::OriginConfig {
                cache_bytes: config.origin.cache_bytes,
                max_object_bytes: config.origin.max_object_bytes,
                store_timeout: Duration::from_secs(config.origin.store_timeout_seconds.max(1)),
            },
            outbound: outbound.clone(),
            steering: config.steering.parsed()?,
            tiers: config.tiers.server()?,
            cost: openvod_server::CostSettings {
                rates: config.cost.rates(),
                book: crate::commands::cost::price_book(
                    Some(&config.cost.price_book).filter(|p| !p.as_os_str().is_empty()),
                )
                .context("config: cost.price_book")?,
            },
        },
        key_store.clone(),
    );
    // What the origin serves of each asset goes to the database every few seconds, and
    // once more at shutdown.
    let meter = roles.origin.then(|| {
        let (served, db, stop) = (state.served.clone(), db.clone(), shutdown.clone());
        tokio::spawn(async move { served.run(db, stop.notified()).await })
    });
    // The pathways' health checks, for content steering.
    if roles.origin {
        let (health, steering, stop) = (
            state.steering.clone(),
            state.config.steering.clone(),
            shutdown.clone(),
        );
        tokio::spawn(async move { health.run(steering, stop.notified()).await });
    }
    // Viewers' sessions (CMCD and players' reports) likewise; reports reach the API role
    // too.
    let qoe_meter = (roles.origin || roles.api).then(|| {
        let (qoe, db, stop) = (state.qoe.clone(), db.clone(), shutdown.clone());
        tokio::spawn(async move { qoe.run(db, stop.notified()).await })
    });
    if roles.api && state.config.access.admin_tokens.is_empty() {
        tracing::warn!(
            "the control API is open: no admin token is configured (access.admin_tokens)"
        );
    }
    let tls = state.config.tls;
    if matches!(role, Role::Serve) {
        // Unfinished resumable uploads past their expiry are removed, parts and all.
        let (state, shutdown) = (state.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                match openvod_server::tus::remove_expired(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired uploads"),
                    Err(e) => tracing::warn!(error = %e, "expired uploads"),
                }
                tokio::select! {
                    _ = shutdown.notified() => return,
                    _ = tokio::time::sleep(Duration::from_secs(600)) => {}
                }
            }
        });
    }
    let app = openvod_server::router(state, roles)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    if tls {
        // rustls with the aws-lc-rs provider (the one reqwest already uses).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let tls_config = axum_server::tls_rustls::RustlsConfig::from_pem_file(
            &config.tls_cert_file,
            &config.tls_key_file,
        )
        .await
        .with_context(|| {
            format!(
                "TLS certificate {} / key {}",
                config.tls_cert_file.display(),
                config.tls_key_file.display()
            )
        })?;
        if !config.http_redirect_listen.is_empty() {
            let redirect = tokio::net::TcpListener::bind(&config.http_redirect_listen)
                .await
                .with_context(|| format!("listen on {}", config.http_redirect_listen))?;
            let at = redirect.local_addr()?;
            tracing::info!(%at, "redirecting HTTP to HTTPS");
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let _ = axum::serve(redirect, https_redirect(addr.port()))
                    .with_graceful_shutdown(async move { stop.notified().await })
                    .await;
            });
        }
        // The first line on stdout says where to reach this process (tests read it).
        println!("listening on https://{addr}");
        tracing::info!(%addr, ?role, "listening (TLS)");
        let handle = axum_server::Handle::new();
        {
            let (handle, stop) = (handle.clone(), shutdown.clone());
            tokio::spawn(async move {
                stop.notified().await;
                handle.graceful_shutdown(Some(Duration::from_secs(10)));
            });
        }
        axum_server::from_tcp_rustls(listener, tls_config)?
            .handle(handle)
            .serve(app)
            .await?;
    } else {
        println!("listening on http://{addr}");
        tracing::info!(%addr, ?role, "listening");
        let stop = shutdown.clone();
        axum::serve(tokio::net::TcpListener::from_std(listener)?, app)
            .with_graceful_shutdown(async move { stop.notified().await })
            .await?;
    }
    for w in workers {
        let _ = w.await;
    }
    for m in [meter, qoe_meter].into_iter().flatten() {
        let _ = m.await;
    }
    db.close().await;
    Ok(())
}

/// Answers every plain HTTP request with a permanent redirect to the same URL over
/// HTTPS on `port` (308 keeps the method and body, RFC 9110 15.4.9).
fn https_redirect(port: u16) -> axum::Router {
    use axum::http::{header, HeaderMap, StatusCode, Uri};
    axum::Router::new().fallback(move |headers: HeaderMap, uri: Uri| async move {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name))
            .filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.[]".contains(&b))
            })
            .unwrap_or("localhost")
            .to_string();
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        let target = if port == 443 {
            format!("https://{host}{path}")
        } else {
            format!("https://{host}:{port}{path}")
        };
        (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, target)])
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
