//! A provider node: the service, its HTTP API on one port, and the settlement loop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::fine_tuning::{FineTuner, FineTuningConfig};
use crate::metrics::Metrics;
use crate::service::{Provider, ProviderConfig};

/// How long answers in flight may run on after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A provider bound to its port, not yet serving.
pub struct ProviderServer {
    provider: Arc<Provider>,
    tuner: Option<Arc<FineTuner>>,
    metrics: Arc<Metrics>,
    listener: tokio::net::TcpListener,
}

impl ProviderServer {
    /// Binds `listen` and starts the service (books, on-chain registration), and the
    /// fine-tuning service beside it when `fine_tuning` is given; an empty `public_url`
    /// registers `http://` and the bound address.
    pub async fn bind(
        mut config: ProviderConfig,
        fine_tuning: Option<FineTuningConfig>,
        listen: SocketAddr,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        if config.public_url.is_empty() {
            config.public_url = format!("http://{}", listener.local_addr()?);
        }
        let tuner = match fine_tuning {
            Some(mut ft) => {
                if ft.public_url.is_empty() {
                    ft.public_url = config.public_url.clone();
                }
                Some(
                    FineTuner::start(ft)
                        .await
                        .context("starting the fine-tuning service")?,
                )
            }
            None => None,
        };
        let provider = Provider::start(config).await?;
        Ok(Self {
            provider,
            tuner,
            metrics: Arc::new(Metrics::default()),
            listener,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The provider's service.
    pub fn provider(&self) -> &Arc<Provider> {
        &self.provider
    }

    /// The fine-tuning service, when it runs.
    pub fn tuner(&self) -> Option<&Arc<FineTuner>> {
        self.tuner.as_ref()
    }

    /// Serves until `shutdown` resolves, settling the books every `settle_every` and
    /// once more on the way out.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let provider = self.provider.clone();
        let metrics = self.metrics.clone();
        let every = provider.config().settle_every;
        let settler = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                settle(&provider, &metrics).await;
            }
        });
        let trainer = self.tuner.clone().map(|t| tokio::spawn(t.run()));
        let app = crate::http::router(self.provider.clone(), self.metrics.clone(), self.tuner.clone());
        // Answers in flight get a grace period; idle keep-alive connections do not hold
        // the node up.
        let (stopping, stopped) = tokio::sync::oneshot::channel();
        let signal = async move {
            shutdown.await;
            let _ = stopping.send(());
        };
        let server = axum::serve(self.listener, app).with_graceful_shutdown(signal);
        let served = tokio::select! {
            served = server => served,
            () = async {
                let _ = stopped.await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => Ok(()),
        };
        settler.abort();
        if let Some(trainer) = trainer {
            trainer.abort();
        }
        settle(&self.provider, &self.metrics).await;
        served.context("serving HTTP")
    }
}

async fn settle(provider: &Provider, metrics: &Metrics) {
    match provider.settle_round().await {
        Ok(report) => {
            for (user, status) in report.sent {
                tracing::info!(%user, status, "settled");
                metrics
                    .settlements
                    .get_or_create(&vec![("status".into(), status.to_string())])
                    .inc();
            }
        }
        Err(e) => tracing::warn!(error = %e, "settlement round failed; retried next round"),
    }
}
