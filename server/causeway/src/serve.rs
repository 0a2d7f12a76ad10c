//! `causeway serve`: starts the HTTP server and the background loops, stops gracefully on SIGTERM
//! or SIGINT.
//!
//! Stopping, on SIGTERM: `/readyz` turns 503 (draining), the task runner claims no new task and
//! the process gives up its leases (the drift reconciler's and the reaper's), then requests are still served for
//! `shutdown_delay_secs`, so that load balancers see the 503 and send nothing more; then the
//! listener closes and requests in flight and tasks already claimed get up to
//! `request_timeout_secs` to finish. SIGINT (Ctrl-C) skips the delay.

use causeway_platform::provision::Provisioner;
use causeway_platform::provision::config::ProvisionConfig;
use causeway_platform::scaffolder::Scaffolder;
use causeway_platform::tasks::runner::{Runner, Settings as RunnerSettings};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::State;
use causeway_platform::Platform;
use std::future::IntoFuture as _;

use crate::config::{ClusterAccess, Config};
use crate::http::{self, AppState};
use crate::telemetry;

/// Builds the state for `config`. Connecting is lazy, so this succeeds even while the database is
/// down; `/readyz` reports that.
pub fn state(config: Config) -> anyhow::Result<AppState> {
    let store = causeway_platform::Store::connect_lazy(&config.database_url)
        .map_err(|e| anyhow::anyhow!("configuration key `database_url`: {e}"))?;
    let platform = Platform::new(store, &settings(&config))
        .map_err(|e| anyhow::anyhow!("configuration key `{e}"))?;
    configure_platform(&config, &platform)?;
    let provisioner = provisioner(&config, &platform);
    let mut platform = platform;
    platform.scaffolder = scaffolder(&config, &platform, &provisioner);
    let oidc = oidc(&config, &platform)?;
    Ok(AppState::from(http::Handles {
        oidc,
        provisioner,
        platform,
        leptos: http::leptos_options(&config),
        config: Arc::new(config),
        metrics: telemetry::metrics_handle(),
        migrated: Arc::new(AtomicBool::new(false)),
        draining: Arc::new(AtomicBool::new(false)),
    }))
}

/// The OpenID Connect relying party of `auth_mode = "oidc"`, or none.
fn oidc(config: &Config, platform: &Platform) -> anyhow::Result<Option<Arc<http::oidc::Oidc>>> {
    if config.auth_mode != crate::config::AuthMode::Oidc {
        return Ok(None);
    }
    let relying = crate::oidc::Relying::new(&config.oidc, &config.public_url)
        .map_err(|e| anyhow::anyhow!("configuration key `{e}"))?;
    tracing::info!(
        issuer = ?config.oidc.issuer.as_ref().map(url::Url::as_str),
        redirect_uri = relying.redirect_uri(),
        "signing in with OpenID Connect"
    );
    let store = platform.store.clone();
    let sessions =
        causeway_platform::identity::OidcSessions::new(store.clone(), config.session_ttl);
    let issuer = config
        .oidc
        .issuer
        .as_ref()
        .map(url::Url::as_str)
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();
    let accounts = causeway_platform::identity::ProviderAccounts::new(
        platform,
        sessions.clone(),
        issuer,
        config.oidc.recheck,
    );
    Ok(Some(Arc::new(http::oidc::Oidc::new(
        relying,
        causeway_platform::identity::PendingLogins::new(store),
        sessions,
        accounts,
    ))))
}

/// The template engine with every action: those that publish to git, register in the catalog
/// and provision environments need the services built here.
pub fn scaffolder(config: &Config, platform: &Platform, provisioner: &Provisioner) -> Scaffolder {
    use causeway_platform::scaffolder::actions;
    // The repositories templates publish to configured hosts are read back by the catalog.
    let mut allowed_hosts = config.catalog_allowed_hosts.clone();
    allowed_hosts.extend(
        config
            .git_integrations
            .iter()
            .filter_map(|i| i.clone_host()),
    );
    let policy = causeway_platform::catalog::locations::ReadPolicy {
        allowed_hosts,
        delete_orphans: config.catalog_delete_orphans,
    };
    // Upgrades push to the repositories the publish actions create, on the same hosts.
    let git = actions::GitSettings {
        root: config.git_dir.clone(),
        integrations: config.git_integrations.clone(),
    };
    let extra = actions::publish_actions(git.clone())
        .into_iter()
        .chain(actions::register_actions(
            platform.catalog.clone(),
            platform.directory.clone(),
            policy,
            config.git_integrations.clone(),
        ))
        .chain(actions::catalog_fetch_actions(platform.catalog.clone()))
        .chain(actions::provision_actions(
            provisioner.clone(),
            platform.tasks.clone(),
            platform.directory.clone(),
        ))
        .collect();
    platform
        .scaffolder
        .clone()
        .with_actions(extra)
        .with_git(git)
        .with_upgrade_pace(config.upgrade_pace)
}

/// Reads the platform configuration `config` names into `platform`'s guardrails; an invalid one
/// stops the process with every problem (file, line and field).
pub fn configure_platform(config: &Config, platform: &Platform) -> anyhow::Result<()> {
    platform.tokens.set_max_days(config.token_max_days);
    platform
        .guardrails
        .configure(
            causeway_platform::guardrails::Source::parse(&config.platform_config),
            provision_config(config),
        )
        .map_err(|problems| {
            anyhow::anyhow!(
                "configuration key `platform_config`: the platform configuration is invalid:\n{}",
                problems
                    .iter()
                    .map(|p| format!("  {p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
}

/// The provisioning engine over `platform`'s catalog, following its platform configuration
/// (see [`configure_platform`]).
pub fn provisioner(_config: &Config, platform: &Platform) -> Provisioner {
    Provisioner::with_guardrails(platform.guardrails.clone(), platform)
}

/// The embedded provisioning configuration for where `config` says environments go.
pub(crate) fn provision_config(config: &Config) -> ProvisionConfig {
    let gitops = config.gitops_dir.clone();
    match config.cluster() {
        ClusterAccess::Kubeconfig(path) => ProvisionConfig::for_kubeconfig(Some(path), gitops),
        ClusterAccess::InCluster => {
            // The embedded configuration names its cluster `local` by a kubeconfig; a cluster
            // without one is reached through the pod's service account (in-cluster config).
            let mut provision = ProvisionConfig::embedded(Some((PathBuf::new(), None)), gitops);
            for cluster in &mut provision.clusters {
                cluster.kubeconfig = None;
            }
            provision
        }
        ClusterAccess::Gitops => ProvisionConfig::embedded(None, gitops),
    }
}

/// The domain's settings, from the configuration.
pub fn settings(config: &Config) -> causeway_platform::Settings {
    causeway_platform::Settings {
        admin_teams: config.admin_teams.clone(),
        session_ttl: config.session_ttl,
    }
}

/// Runs the server until a shutdown signal arrives, then stops as the module documentation says.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let state = state(config)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("configuration key `listen`: cannot listen on {listen}"))?;
    let (stop_tasks, tasks_stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(migrate_until_done(state.clone()));
    tokio::spawn(purge_sessions(state.clone()));
    tokio::spawn(refresh_locations(state.clone()));
    tokio::spawn(follow_other_replicas(state.clone()));
    tokio::spawn(metrics_upkeep(state.clone()));
    tokio::spawn(reconcile_drift(state.clone()));
    tokio::spawn(reap_expired(state.clone()));
    tokio::spawn(follow_platform_config(state.clone()));
    tokio::spawn(reconcile_admission(state.clone()));
    tokio::spawn(recheck_provider_accounts(state.clone()));
    tokio::spawn(follow_upgrade_changes(state.clone()));
    tokio::spawn(evaluate_scorecards(state.clone()));
    tokio::spawn(watch_pipeline_runs(state.clone()));
    let tasks = tokio::spawn(run_tasks(state.clone(), tasks_stopped));
    tracing::info!(address = %listen, public_url = %state.config.public_url, environments = ?state.config.cluster(), "Causeway is serving");
    let store = state.platform.store.clone();
    let grace = state.config.request_timeout;
    let (closing, closed) = tokio::sync::oneshot::channel::<()>();
    let draining = {
        let state = state.clone();
        async move {
            let signal = shutdown_signal().await;
            drain(&state, signal, &stop_tasks).await;
            let _ = closing.send(());
        }
    };
    let router = http::router(state.clone()).layer(axum::middleware::map_response_with_state(
        state.draining.clone(),
        close_while_draining,
    ));
    // The client's address is the key of the sign-in rate limit (`http::oidc`).
    let router = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(draining)
        .into_future();
    tokio::pin!(server);
    let deadline = tokio::select! {
        result = &mut server => {
            result.context("the HTTP server failed")?;
            None
        }
        Ok(()) = closed => Some(tokio::time::Instant::now() + grace),
    };
    if let Some(deadline) = deadline {
        match tokio::time::timeout_at(deadline, &mut server).await {
            Ok(result) => result.context("the HTTP server failed")?,
            Err(_) => tracing::warn!(
                grace_secs = grace.as_secs(),
                "requests still open after the grace period (streams, say) are cut"
            ),
        }
        match tokio::time::timeout_at(deadline, tasks).await {
            Ok(_) => {}
            Err(_) => tracing::warn!(
                grace_secs = grace.as_secs(),
                "tasks still running after the grace period are left to another replica, which resumes them once their leases expire"
            ),
        }
    }
    if tokio::time::timeout(Duration::from_secs(5), store.close())
        .await
        .is_err()
    {
        tracing::warn!("database connections still in use after 5 s; stopping anyway");
    }
    tracing::info!("Causeway stopped");
    Ok(())
}

/// The first steps of stopping: readiness turns 503, no new task is claimed, the leases go to
/// other replicas; then, after a SIGTERM, requests are still served for `shutdown_delay_secs`.
async fn drain(state: &AppState, signal: Signal, stop_tasks: &tokio::sync::watch::Sender<bool>) {
    state.draining.store(true, Ordering::Release);
    let _ = stop_tasks.send(true);
    match causeway_platform::leases::Leases::new(state.platform.store.clone())
        .resign()
        .await
    {
        Ok(released) if !released.is_empty() => {
            tracing::info!(leases = ?released, "leases released for other replicas");
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, "could not release this replica's leases; they expire on their own");
        }
    }
    let delay = match signal {
        Signal::Terminate => state.config.shutdown_delay,
        Signal::Interrupt => Duration::ZERO,
    };
    tracing::info!(
        ?signal,
        delay_ms = delay.as_millis() as u64,
        "stopping: /readyz answers 503; requests are served until the delay ends, then in-flight requests and running tasks finish"
    );
    tokio::time::sleep(delay).await;
}

/// While the server drains, every response asks its client to close the connection, so that
/// keep-alive clients reconnect (through the load balancer, to another replica) before the
/// listener closes.
async fn close_while_draining(
    State(draining): State<Arc<AtomicBool>>,
    mut response: axum::response::Response,
) -> axum::response::Response {
    if draining.load(Ordering::Acquire) {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Applies migrations, retrying with backoff while the database is unreachable, so the server
/// comes up before its database and becomes ready when the database does.
async fn migrate_until_done(state: AppState) {
    let mut delay = Duration::from_millis(250);
    loop {
        match state.platform.load().await {
            Ok(()) => {
                state.migrated.store(true, Ordering::Release);
                tracing::info!(
                    entities = state.platform.catalog.index().len(),
                    "database migrated and catalog loaded"
                );
                return;
            }
            Err(error) => {
                tracing::error!(%error, retry_in_ms = delay.as_millis() as u64, "cannot apply database migrations; /readyz answers 503 until this succeeds");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Records the revision this replica started with once the database is migrated, then reads
/// the platform configuration again every `platform_config_refresh`.
async fn follow_platform_config(state: AppState) {
    while !state.migrated.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if let Err(error) = state.platform.guardrails.record_active().await {
        tracing::warn!(%error, "the platform configuration's revision could not be recorded");
    }
    let _ = state
        .platform
        .guardrails
        .spawn_refresh(state.config.platform_config_refresh)
        .await;
}

async fn purge_sessions(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(3600));
    loop {
        interval.tick().await;
        if state.migrated.load(Ordering::Acquire) {
            match state.platform.sessions.purge_expired().await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "expired sessions removed"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "could not purge expired sessions"),
            }
        }
    }
}

/// Asks the git servers every minute how the template upgrades' change requests ended, so that
/// a merged upgrade moves its service to the new version without anyone asking
/// (`Scaffolder::follow_changes`; every replica asks, and the records settle once).
async fn follow_upgrade_changes(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(60));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if !state.migrated.load(Ordering::Acquire) {
            continue;
        }
        match state
            .platform
            .scaffolder
            .follow_changes(
                &state.read_policy(),
                None,
                causeway_platform::scaffolder::fleet::changes::PASS,
            )
            .await
        {
            Ok(n) if n > 0 => tracing::info!(changed = n, "template upgrades merged or closed"),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "could not follow the template upgrades' change requests")
            }
        }
    }
}

/// Scores every entity against the scorecards once the database is migrated and the catalog
/// loaded, then every ten minutes and after each configuration revision (one replica at a time;
/// `Scorecards::spawn_schedule`).
async fn evaluate_scorecards(state: AppState) {
    while !state.migrated.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = state
        .platform
        .scorecards
        .spawn_schedule(
            state.platform.store.clone(),
            causeway_platform::scorecards::schedule::EVERY,
        )
        .await;
}

/// Reads every registered location again on the configured interval.
async fn refresh_locations(state: AppState) {
    let mut interval = tokio::time::interval(state.config.catalog_refresh);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if state.migrated.load(Ordering::Acquire)
            && let Err(error) = state
                .platform
                .catalog
                .refresh_all(&state.read_policy())
                .await
        {
            tracing::warn!(%error, "could not refresh catalog locations");
        }
    }
}

/// The task runner of this process: its worker id names the host and process, so that events
/// and claims say which process ran what.
pub fn runner(config: &Config, platform: &Platform, provisioner: &Provisioner) -> Runner {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    let short = uuid::Uuid::new_v4().simple().to_string();
    Runner::new(
        platform.tasks.clone(),
        provisioner
            .task_handlers()
            .into_iter()
            .chain(platform.scaffolder.task_handlers())
            .chain(platform.scaffolder.cleanup_handlers())
            .chain(platform.scaffolder.upgrade_handlers())
            .collect(),
        format!("{host}:{}:{}", std::process::id(), &short[..8]),
        RunnerSettings {
            lease: config.task_lease,
            concurrency: config.task_workers,
            ..RunnerSettings::default()
        },
    )
}

/// Starts the task runner once the database is migrated, and runs it until `stop` turns true;
/// returns once the tasks it claimed have ended.
async fn run_tasks(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    while !state.migrated.load(Ordering::Acquire) {
        if *stop.borrow() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let runner = runner(&state.config, &state.platform, &state.provisioner);
    let worker = runner.worker().to_owned();
    tracing::info!(%worker, "task runner started");
    let stopped = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    match runner.spawn_until(stopped).await {
        Ok(()) => tracing::info!(%worker, "task runner stopped; its tasks have ended"),
        Err(error) => tracing::error!(%error, "the task runner stopped"),
    }
}

/// Starts the drift reconciler once the environments table and the catalog (which it renders
/// from) are loaded.
async fn reconcile_drift(state: AppState) {
    while !state.migrated.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if let Err(error) = state.provisioner.spawn_reconciler().await {
        tracing::error!(%error, "the drift reconciler stopped");
    }
}

/// Records the finished runs of the `delivery` Pipeline as deployments
/// (`delivery::adapters::tekton`): one watch of PipelineRuns per configured cluster, started once
/// the database is migrated. Every replica watches; a run is recorded once by its uid.
async fn watch_pipeline_runs(state: AppState) {
    while !state.migrated.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for cluster in &state.provisioner.config().clusters {
        match causeway_platform::provision::watch_client(cluster).await {
            Ok(client) => {
                let delivery = state.platform.delivery.clone();
                let name = cluster.name.clone();
                tokio::spawn(async move { delivery.watch_pipeline_runs(client, &name).await });
            }
            Err(error) => {
                tracing::warn!(cluster = %cluster.name, %error, "PipelineRuns are not watched on this cluster")
            }
        }
    }
}

/// How often the admission policies are compared with the platform configuration in force, and
/// how soon a cluster that could not be reconciled is tried again.
const ADMISSION_EVERY: Duration = Duration::from_secs(30);

/// Keeps every configured cluster's admission policy (`provision::admission`) in step with the
/// policies of the revision in force: at start-up, whenever the revision changes, and again after
/// a failure. Replicas with the same revision write the same objects, so they need no lease.
async fn reconcile_admission(state: AppState) {
    use causeway_platform::provision::config::Target;
    use causeway_platform::provision::{admission, cluster_client};
    let mut reconciled: Option<String> = None;
    loop {
        let revision = state.platform.guardrails.current();
        if reconciled.as_deref() != Some(revision.hash.as_str()) {
            let policies: Vec<_> = revision
                .config
                .policies
                .iter()
                .map(|compiled| compiled.policy.clone())
                .collect();
            let mut failed = false;
            for cluster in &revision.provision.clusters {
                // Each cluster holds the parameters of the environments that live in it.
                let mut provision = (*revision.provision).clone();
                provision.environments.retain(|e| match &e.target {
                    Target::Cluster { name } => *name == cluster.name,
                    Target::Gitops { cluster: name, .. } => *name == cluster.name,
                });
                let outcome = match cluster_client(cluster).await {
                    Ok(client) => admission::reconcile(&client, &policies, &provision).await,
                    Err(error) => Err(error),
                };
                match outcome {
                    Ok(done) => {
                        tracing::info!(cluster = %cluster.name, revision = %revision.hash, ?done, "admission policies reconciled")
                    }
                    Err(error) => {
                        failed = true;
                        tracing::warn!(cluster = %cluster.name, %error, "admission policies not reconciled; trying again");
                    }
                }
            }
            if !failed {
                reconciled = Some(revision.hash.clone());
            }
        }
        tokio::time::sleep(ADMISSION_EVERY).await;
    }
}

/// Rechecks, with the identity provider, everybody who signed in through it and whose last check
/// is older than `oidc_recheck_secs` (`identity::provider`): a person it no longer admits loses
/// their sessions and API tokens even if they use neither. Every replica runs a pass; each person's
/// recheck is claimed in the database, so one replica asks about them.
async fn recheck_provider_accounts(state: AppState) {
    let Some(oidc) = state.oidc.clone() else {
        return;
    };
    let interval = oidc.accounts.interval();
    if interval.is_zero() {
        tracing::info!("rechecks with the identity provider are off (oidc_recheck_secs = 0)");
        return;
    }
    while !state.migrated.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A pass every quarter interval (between a second and a minute) keeps everybody within about
    // a quarter interval of their due time.
    let mut passes = tokio::time::interval(
        (interval / 4).clamp(Duration::from_secs(1), Duration::from_secs(60)),
    );
    passes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        passes.tick().await;
        match oidc.accounts.check_due(&oidc.relying).await {
            Ok(report) if report.checked > 0 => tracing::info!(
                checked = report.checked,
                admitted = report.admitted,
                disabled = report.disabled,
                unavailable = report.unavailable,
                "rechecked people with the identity provider"
            ),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "could not recheck people with the identity provider")
            }
        }
    }
}

/// How often the reaper looks for environments to remind of or to destroy: expiries are hours
/// apart, so half a minute late is on time.
const REAP_EVERY: Duration = Duration::from_secs(30);

/// Reminds teams of expiring environments and destroys expired ones, in whichever replica holds
/// the reaper's lease, once the database is migrated.
async fn reap_expired(state: AppState) {
    while !state.migrated.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reaper = state.provisioner.reaper(
        state.platform.tasks.clone(),
        causeway_platform::notify::Notifier::new(),
    );
    if let Err(error) = reaper.spawn(REAP_EVERY).await {
        tracing::error!(%error, "the reaper stopped");
    }
}

/// Folds the latency samples recorded since the last pass into the histograms. The recorder
/// keeps every sample until then, so without this a server nobody scrapes grows by every request
/// it answers.
async fn metrics_upkeep(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(5));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        state.metrics.run_upkeep();
    }
}

/// Reloads the catalog index when another replica changed the catalog, so that every replica
/// serves the same data within a few seconds.
async fn follow_other_replicas(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(2));
    loop {
        interval.tick().await;
        if state.migrated.load(Ordering::Acquire) {
            match state.platform.catalog.refresh_if_stale().await {
                Ok(true) => tracing::info!("catalog changed elsewhere; index reloaded"),
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "could not check the catalog version"),
            }
        }
    }
}

/// Which signal asked the server to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// SIGTERM: a supervisor (Kubernetes, systemd) stopping a replica.
    Terminate,
    /// SIGINT: Ctrl-C at a terminal.
    Interrupt,
}

async fn shutdown_signal() -> Signal {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    let signal = tokio::select! {
        () = interrupt => Signal::Interrupt,
        () = terminate => Signal::Terminate,
    };
    tracing::info!(?signal, "shutdown signal received");
    signal
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_platform::provision::config::Target;

    #[test]
    fn a_pod_provisions_into_its_own_cluster() {
        let token = std::env::temp_dir().join(format!("cw-serve-token-{}", std::process::id()));
        std::fs::write(&token, "token").expect("write");
        let vars = [("KUBERNETES_SERVICE_HOST".to_owned(), "10.0.0.1".to_owned())];
        let config = Config::load_in(vars, &token).expect("valid");
        let _ = std::fs::remove_file(&token);
        let provision = provision_config(&config);
        assert_eq!(provision.clusters.len(), 1);
        assert_eq!(provision.clusters[0].kubeconfig, None, "in-cluster access");
        let dev = provision.environment("dev").expect("dev");
        assert!(matches!(&dev.target, Target::Cluster { name } if name == "local"));

        let provision = provision_config(&Config::load_in([], &token).expect("valid"));
        assert!(provision.clusters.is_empty());
        assert!(matches!(
            provision.environment("dev").expect("dev").target,
            Target::Gitops { .. }
        ));
    }
}
