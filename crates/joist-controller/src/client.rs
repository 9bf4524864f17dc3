//! The Kubernetes client the controller runs with: `--kubeconfig` when given, else in-cluster
//! configuration or `KUBECONFIG` inference.

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use thiserror::Error;

use crate::settings::Settings;

/// Why no client could be built.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The kubeconfig file cannot be read or parsed.
    #[error("--kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// Why.
        source: kube::config::KubeconfigError,
    },
    /// No configuration could be inferred.
    #[error("kubernetes configuration: {0}")]
    Infer(#[from] kube::config::InferConfigError),
    /// The client cannot be built from the configuration.
    #[error("kubernetes client: {0}")]
    Build(#[from] kube::Error),
}

/// A client for `settings`.
pub async fn client(settings: &Settings) -> Result<Client, ClientError> {
    Ok(Client::try_from(config(settings).await?)?)
}

/// The client configuration for `settings` (the drain needs it to build a client without
/// kube's 429 retry layer, see `termination::Drainer::from_config`).
pub async fn config(settings: &Settings) -> Result<kube::Config, ClientError> {
    let config = match &settings.kubeconfig {
        Some(path) => {
            let kubeconfig_error = |source| ClientError::Kubeconfig {
                path: path.display().to_string(),
                source,
            };
            let kubeconfig = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(kubeconfig_error)?
        }
        None => kube::Config::infer().await?,
    };
    Ok(config)
}
