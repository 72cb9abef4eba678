//! A fine-tuning provider's service, apart from HTTP: it registers its service on
//! FineTuningServing, takes tasks as 0G's SDK sends them (signed by the user, whose
//! sub-account must exist and trust the provider's signer), and runs them one at a
//! time: the dataset fetched from zg-storage and checked against its root before
//! anything else, the fee fixed from its tokens (tokens × epochs × price per token)
//! and checked against the sub-account, LoRA training on the built-in model, the
//! adapter sealed for the user and uploaded to zg-storage (paid on the Flow), the
//! deliverable recorded on chain. A settlement loop then settles each delivered task
//! once: the full fee with the sealed key after the user acknowledged it, or only the
//! penalty share once the acknowledgement is overdue.
//!
//! Every step is recorded in the crash-safe task book before the next: a provider
//! killed while training trains again; one killed after the upload resumes from the
//! recorded upload; one killed after a settlement finds it settled on chain. Nothing
//! is delivered or billed twice.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use serde::Deserialize;
use zg_contracts::fine_tuning::{self as ft, IFineTuningServing as F, settled_fee, verifier_digest};
use zg_merkle::{FileHasher, Hash, RootKind};
use zg_storage::StorageClient;

use crate::chain::{ChainClient, ChainError};
use crate::lora::{BaseModel, Example, TrainError, TrainParams, examples_from_jsonl};
use crate::model::LocalModel;
use crate::seal;
use crate::tasks::{Task, TaskError, TaskState, Tasks, new_task_id, request_signer};

/// The model hash 0G's SDK sends for its standard model on a local chain (31337's
/// `mock-model`, `zerog_py_sdk/fine_tuning/constants.py`): taken as this provider's
/// base model, so the SDK's standard path works unchanged on a devnet.
pub const SDK_LOCAL_MODEL_HASH: &str = "0xcb42b5ca9e998c82dd239ef2d20d22a4ae16b3dc0ce0a855c93b52c7c2bab6dc";
/// The SDK's name for that model.
pub const SDK_LOCAL_MODEL_NAME: &str = "mock-model";
/// Wei per training token unless told otherwise.
pub const DEFAULT_PRICE_PER_TOKEN: u64 = 1_000_000_000;
/// Seconds a delivered model waits for acknowledgement unless told otherwise.
pub const DEFAULT_ACK_TIMEOUT_SECS: u64 = 86_400;
/// Largest dataset a task may name, bytes.
pub const MAX_DATASET: u64 = 64 << 20;
/// Training steps between progress records (each one fsynced).
const PROGRESS_EVERY: usize = 4;

/// How a fine-tuning provider runs.
#[derive(Clone)]
pub struct FineTuningConfig {
    /// The chain's JSON-RPC URL.
    pub chain_url: String,
    /// The provider's wallet: stake, storage fees, task fees.
    pub key: PrivateKeySigner,
    /// The service's signer: it signs settlements and the sealed adapters.
    pub signer: PrivateKeySigner,
    /// The URL users reach the provider at (registered on chain).
    pub public_url: String,
    /// The base model's name, as tasks and `/v1/model` name it.
    pub model_name: String,
    /// The base model (a llama GGUF).
    pub model_file: PathBuf,
    /// Wei per training token (tokens × epochs × this is a task's fee).
    pub price_per_token: U256,
    /// The storage nodes datasets are fetched from and adapters uploaded to.
    pub storage: Vec<String>,
    /// Where the task book, adapters and sealed deliverables live.
    pub data_dir: PathBuf,
    /// How long a delivered task waits for its user's acknowledgement before the
    /// provider settles the penalty share alone.
    pub ack_timeout: Duration,
    /// How often delivered tasks are checked for settlement.
    pub settle_every: Duration,
}

/// Why a task request is refused: an HTTP status and a reason.
#[derive(Debug, thiserror::Error)]
pub enum TaskRefusal {
    /// Malformed or out-of-range (400).
    #[error("{0}")]
    BadRequest(String),
    /// The signature is not the user's (401).
    #[error(transparent)]
    Signature(TaskError),
    /// The user's sub-account is missing or does not trust the provider (403).
    #[error("{0}")]
    Account(String),
    /// No such task of this user (404).
    #[error("{0}")]
    Unknown(String),
    /// The user has an unfinished task, or the task is past the point asked (409).
    #[error("{0}")]
    Conflict(String),
    /// The chain could not be asked (503).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The task book failed (500).
    #[error(transparent)]
    Store(TaskError),
}

impl TaskRefusal {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Signature(_) => 401,
            Self::Account(_) => 403,
            Self::Unknown(_) => 404,
            Self::Conflict(_) => 409,
            Self::Chain(_) => 503,
            Self::Store(_) => 500,
        }
    }
}

impl From<TaskError> for TaskRefusal {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::BadSignature(_) | TaskError::Stale { .. } => Self::Signature(e),
            TaskError::Busy(_) | TaskError::Transition { .. } => Self::Conflict(e.to_string()),
            TaskError::Unknown(_) => Self::Unknown(e.to_string()),
            TaskError::Store(_) | TaskError::Corrupt { .. } => Self::Store(e),
        }
    }
}

/// A task as 0G's SDK posts it (`Task.to_dict`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRequest {
    /// The user (must be the path's).
    pub user_address: String,
    /// The base model's hash (from `/v1/model/{name}`, or the SDK's standard model's).
    pub pre_trained_model_hash: String,
    /// The dataset's storage root, `0x` and 64 hex digits.
    pub dataset_hash: String,
    /// The training parameters, a JSON object as text.
    pub training_params: String,
    /// The user's request nonce, decimal.
    pub nonce: String,
    /// EIP-191 over (user, nonce, dataset hash).
    pub signature: String,
}

/// What a task request's own checks found.
#[derive(Debug)]
pub struct CheckedRequest {
    /// The dataset's storage root.
    pub dataset_root: B256,
    /// The key that signed the request (the adapter's key is sealed to it).
    pub user_key: k256::PublicKey,
    /// The training parameters.
    pub params: TrainParams,
}

impl TaskRequest {
    /// The checks that need no chain: the fields parse, the user is `user` and signed
    /// the request, the parameters are in range.
    pub fn check(&self, user: Address) -> Result<CheckedRequest, TaskRefusal> {
        let bad = TaskRefusal::BadRequest;
        let claimed: Address = self
            .user_address
            .parse()
            .map_err(|_| bad(format!("userAddress {:?} is not an address", self.user_address)))?;
        if claimed != user {
            return Err(bad(format!(
                "userAddress {claimed} is not the path's user {user}"
            )));
        }
        let dataset_root: B256 = self.dataset_hash.parse().map_err(|_| {
            bad(format!(
                "datasetHash {:?} is not 0x and 64 hex digits",
                self.dataset_hash
            ))
        })?;
        let nonce: U256 = self
            .nonce
            .parse()
            .map_err(|_| bad(format!("nonce {:?} is not a decimal number", self.nonce)))?;
        let signature =
            alloy_primitives::hex::decode(&self.signature).map_err(|_| bad("signature is not hex".into()))?;
        let user_key = request_signer(user, nonce, &self.dataset_hash, &signature)?;
        let params: serde_json::Value = serde_json::from_str(&self.training_params)
            .map_err(|e| bad(format!("trainingParams is not JSON: {e}")))?;
        let params = TrainParams::from_json(&params).map_err(|e| bad(e.to_string()))?;
        Ok(CheckedRequest {
            dataset_root,
            user_key,
            params,
        })
    }
}

/// Why a task failed (recorded in the task, nothing billed).
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("{0}")]
    Refused(String),
    #[error("cancelled by the user")]
    Cancelled,
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Tasks(#[from] TaskError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("writing the model: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

/// The loaded base model, for tokenizing datasets and training.
struct Models {
    local: LocalModel,
    base: BaseModel,
}

/// A running fine-tuning provider.
pub struct FineTuner {
    config: FineTuningConfig,
    chain: ChainClient,
    chain_id: u64,
    tasks: Tasks,
    model_hash: String,
    storage: Vec<StorageClient>,
    models: OnceLock<Arc<Models>>,
    /// Fine-tuned models loaded for serving, newest last.
    served: Mutex<Vec<(String, Arc<LocalModel>)>>,
    cancelled: Mutex<HashSet<String>>,
    wake: tokio::sync::Notify,
}

impl FineTuner {
    /// Opens the task book, hashes the base model and registers (or updates) the
    /// service on chain.
    pub async fn start(config: FineTuningConfig) -> anyhow::Result<Arc<Self>> {
        use anyhow::Context as _;
        anyhow::ensure!(
            !config.storage.is_empty(),
            "a fine-tuning provider needs a storage node (--storage URL) for datasets and adapters"
        );
        let tasks = Tasks::open(&config.data_dir.join("tasks"))
            .with_context(|| format!("opening the task book in {}", config.data_dir.display()))?;
        let file = config.model_file.clone();
        let digest = tokio::task::spawn_blocking(move || crate::model::sha256_file(&file))
            .await?
            .with_context(|| format!("reading {}", config.model_file.display()))?;
        let chain = ChainClient::new(&config.chain_url, config.key.clone())?;
        let chain_id = chain.chain_id().await?;
        let storage = config
            .storage
            .iter()
            .map(|u| StorageClient::new(u))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for dir in ["adapters", "deliverables"] {
            std::fs::create_dir_all(config.data_dir.join(dir))?;
        }
        let tuner = Arc::new(Self {
            config,
            chain,
            chain_id,
            tasks,
            model_hash: format!("0x{digest}"),
            storage,
            models: OnceLock::new(),
            served: Mutex::new(Vec::new()),
            cancelled: Mutex::new(HashSet::new()),
            wake: tokio::sync::Notify::new(),
        });
        tuner.register().await?;
        Ok(tuner)
    }

    /// The provider's address.
    pub fn address(&self) -> Address {
        self.chain.address()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &FineTuningConfig {
        &self.config
    }

    /// The task book.
    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }

    /// The base model's hash (`0x` and its GGUF's SHA-256).
    pub fn model_hash(&self) -> &str {
        &self.model_hash
    }

    async fn register(&self) -> anyhow::Result<()> {
        let c = &self.config;
        let me = self.address();
        let call = F::addOrUpdateServiceCall {
            url: c.public_url.clone(),
            quota: ft::Quota {
                cpuCount: U256::from(std::thread::available_parallelism().map_or(1, |n| n.get())),
                nodeMemory: U256::from(memory_gib()),
                gpuCount: U256::ZERO,
                nodeStorage: U256::ZERO,
                gpuType: "cpu".into(),
            },
            pricePerToken: c.price_per_token,
            occupied: false,
            models: vec![c.model_name.clone()],
            teeSignerAddress: c.signer.address(),
        };
        let current = self.chain.ft_service(me).await?;
        let same = current.as_ref().is_some_and(|s| {
            s.url == call.url
                && s.pricePerToken == call.pricePerToken
                && s.models == call.models
                && s.teeSignerAddress == call.teeSignerAddress
        });
        if !same {
            self.chain.ft_register(call, current.is_none()).await?;
            tracing::info!(url = %c.public_url, model = %c.model_name, "fine-tuning service registered on chain");
        }
        let listing = zg_contracts::registry::ServiceParams {
            kind: zg_contracts::registry::KIND_FINE_TUNING.into(),
            name: "zg-compute-fine-tuning".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: format!(
                "LoRA fine-tuning of {} on CPU: 0G's fine-tuning task API, datasets and sealed \
                 adapters in zg-storage, fees settled on FineTuningServing",
                c.model_name
            ),
            endpoint: c.public_url.trim_end_matches('/').to_owned(),
            model: c.model_name.clone(),
            priceUnit: "token".into(),
            inputPrice: c.price_per_token,
            outputPrice: U256::ZERO,
            root: Default::default(),
        };
        let done = self.chain.announce(listing).await?;
        tracing::info!(id = %done.id(), outcome = ?done, "fine-tuning announced in the service registry");
        Ok(())
    }

    /// Takes a task request from `user` (see the module's documentation); the task,
    /// queued.
    pub async fn submit(&self, user: Address, request: TaskRequest) -> Result<Task, TaskRefusal> {
        let checked = request.check(user)?;
        let hash = request.pre_trained_model_hash.to_lowercase();
        if hash != self.model_hash && hash != SDK_LOCAL_MODEL_HASH {
            return Err(TaskRefusal::BadRequest(format!(
                "this provider trains {} (preTrainedModelHash {}); GET /v1/model lists it",
                self.config.model_name, self.model_hash
            )));
        }
        let Some(account) = self.chain.ft_account(user, self.address()).await? else {
            return Err(TaskRefusal::Account(format!(
                "{user} has no fine-tuning sub-account with {}: transfer funds to it first \
                 (0G's SDK: ledger.transfer_fund(provider, \"fine-tuning\", amount); zg: zg compute transfer)",
                self.address()
            )));
        };
        if !account.acknowledged {
            return Err(TaskRefusal::Account(format!(
                "{user} has not acknowledged this provider's signer {}: 0G's SDK: \
                 acknowledge_provider_signer(provider)",
                self.config.signer.address()
            )));
        }
        let task = self.tasks.submit(Task {
            id: new_task_id(),
            user,
            model_hash: hash,
            dataset_root: checked.dataset_root,
            params: request.training_params,
            nonce: request.nonce,
            signature: request.signature,
            user_key: Bytes::from(checked.user_key.to_sec1_bytes().to_vec()),
            ..Task::default()
        })?;
        tracing::info!(id = %task.id, %user, dataset = %task.dataset_root, "fine-tuning task accepted");
        self.wake.notify_one();
        Ok(task)
    }

    /// Cancels `user`'s task `id` (signed as the SDK's `sign_task_id` signs it): a
    /// queued task at once, a training one at its next step; a delivered one cannot be.
    pub fn cancel(&self, user: Address, id: &str, signature: &[u8]) -> Result<Task, TaskRefusal> {
        let task = self.tasks.get(user, id)?;
        crate::tasks::check_cancel(user, id, signature)?;
        match task.state {
            TaskState::Queued => {
                Ok(self
                    .tasks
                    .advance(id, TaskState::Cancelled, "cancelled by the user", |_| {})?)
            }
            TaskState::Training => {
                self.cancelled
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id.to_owned());
                Ok(task)
            }
            state => Err(TaskRefusal::Conflict(format!(
                "task {id} is {}; only a queued or training task can be cancelled",
                state.progress_name()
            ))),
        }
    }

    fn is_cancelled(&self, id: &str) -> bool {
        self.cancelled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    /// The sealed adapter of `user`'s task `id`, once uploaded.
    pub fn deliverable_file(&self, user: Address, id: &str) -> Result<PathBuf, TaskRefusal> {
        let task = self.tasks.get(user, id)?;
        let path = self.sealed_path(id);
        if task.deliverable_root.is_none() || !path.exists() {
            return Err(TaskRefusal::Conflict(format!(
                "task {id} is {}; its model is not ready",
                task.state.progress_name()
            )));
        }
        Ok(path)
    }

    fn sealed_path(&self, id: &str) -> PathBuf {
        self.config
            .data_dir
            .join("deliverables")
            .join(format!("{id}.bin"))
    }

    /// The plain adapter of task `id` (the provider's own copy, for serving).
    pub fn adapter_path(&self, id: &str) -> PathBuf {
        self.config
            .data_dir
            .join("adapters")
            .join(format!("{id}.safetensors"))
    }

    /// Runs queued tasks one at a time and settles delivered ones, until dropped.
    pub async fn run(self: Arc<Self>) {
        let settler = {
            let me = self.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(me.config.settle_every);
                loop {
                    tick.tick().await;
                    me.settle_round().await;
                }
            })
        };
        struct AbortOnDrop(tokio::task::JoinHandle<()>);
        impl Drop for AbortOnDrop {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let _settler = AbortOnDrop(settler);
        loop {
            match self.tasks.next_queued() {
                Some(task) => {
                    let id = task.id.clone();
                    if let Err(e) = self.run_task(task).await {
                        let cancelled = matches!(e, RunError::Cancelled);
                        let (state, line) = if cancelled {
                            (
                                TaskState::Cancelled,
                                "cancelled by the user; nothing billed".to_owned(),
                            )
                        } else {
                            (TaskState::Failed, format!("failed: {e}; nothing billed"))
                        };
                        tracing::warn!(%id, error = %e, "fine-tuning task stopped");
                        let reason = e.to_string();
                        if let Err(e) = self.tasks.advance(&id, state, &line, |t| t.error = Some(reason)) {
                            tracing::error!(%id, error = %e, "recording a stopped task");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    self.cancelled
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id);
                }
                None => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
                }
            }
        }
    }

    /// The name a task's fine-tuned model is served under: `{base}:{task id}`.
    pub fn tuned_name(&self, id: &str) -> String {
        format!("{}:{id}", self.config.model_name)
    }

    /// The model `user` asked for by `name`, when it names one of their fine-tuned
    /// models (`None` for any other name): served only to the task's user, once the
    /// task is settled in full (acknowledged); merged into the base model on first use
    /// (kept beside the adapter) and held loaded for the next requests.
    pub async fn served_model(
        self: &Arc<Self>,
        user: Address,
        name: &str,
    ) -> Option<Result<Arc<LocalModel>, TaskRefusal>> {
        let id = name.strip_prefix(&format!("{}:", self.config.model_name))?;
        Some(self.load_served(user, id).await)
    }

    async fn load_served(self: &Arc<Self>, user: Address, id: &str) -> Result<Arc<LocalModel>, TaskRefusal> {
        let task = self.tasks.get(user, id)?;
        if !(task.state == TaskState::Finished && task.paid_in_full) {
            return Err(TaskRefusal::Conflict(format!(
                "task {id} is {}: its model is served once it is acknowledged and settled",
                task.state.progress_name()
            )));
        }
        if let Some((_, model)) = self.lock_served().iter().find(|(k, _)| k == id) {
            return Ok(model.clone());
        }
        let me = self.clone();
        let key = id.to_owned();
        let model = tokio::task::spawn_blocking(move || -> Result<LocalModel, RunError> {
            let merged = me.config.data_dir.join("adapters").join(format!("{key}.gguf"));
            if !merged.exists() {
                let models = me.models()?;
                let adapter = std::fs::read(me.adapter_path(&key))?;
                let lora = crate::lora::Lora::from_safetensors(&adapter, &models.base)?;
                let part = merged.with_extension("gguf.part");
                crate::lora::merge_into_gguf(&me.config.model_file, &lora, &part)?;
                std::fs::rename(&part, &merged)?;
            }
            LocalModel::load(&merged).map_err(|e| RunError::Refused(e.to_string()))
        })
        .await
        .map_err(|e| TaskRefusal::Store(TaskError::Unknown(e.to_string())))?
        .map_err(|e| TaskRefusal::Conflict(format!("the fine-tuned model does not load: {e}")))?;
        let model = Arc::new(model);
        let mut served = self.lock_served();
        // Two fine-tuned models stay loaded; the oldest makes room.
        if served.len() >= 2 {
            served.remove(0);
        }
        served.push((id.to_owned(), model.clone()));
        Ok(model)
    }

    fn lock_served(&self) -> std::sync::MutexGuard<'_, Vec<(String, Arc<LocalModel>)>> {
        self.served.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn models(&self) -> Result<Arc<Models>, TrainError> {
        if let Some(m) = self.models.get() {
            return Ok(m.clone());
        }
        let path = &self.config.model_file;
        let local = LocalModel::load(path).map_err(|e| TrainError::Model(e.to_string()))?;
        let base = BaseModel::load(path)?;
        Ok(self
            .models
            .get_or_init(|| Arc::new(Models { local, base }))
            .clone())
    }

    async fn run_task(self: &Arc<Self>, task: Task) -> Result<(), RunError> {
        let (id, user) = (task.id.clone(), task.user);
        let resumed =
            task.deliverable_root.is_some() && task.sealed_key.is_some() && self.sealed_path(&id).exists();
        if !resumed {
            self.train_and_seal(task).await?;
        }
        let task = self.tasks.get(user, &id)?;
        let path = self.sealed_path(&id);
        self.tasks.advance(
            &id,
            TaskState::Training,
            "uploading the sealed model to zg-storage",
            |_| {},
        )?;
        let key = format!("0x{}", alloy_primitives::hex::encode(self.config.key.to_bytes()));
        let (root, _) = zg_storage::pay::upload_paid(
            &self.storage,
            &path,
            RootKind::Keccak,
            &self.config.chain_url,
            Some(&key),
        )
        .await?;
        let root = B256::from(root);
        if Some(root) != task.deliverable_root {
            return Err(RunError::Refused(format!(
                "the sealed model's root is {root}, not the recorded {:?}",
                task.deliverable_root
            )));
        }
        if self.is_cancelled(&id) {
            return Err(RunError::Cancelled);
        }
        match self.chain.deliverable(task.user, self.address(), &id).await? {
            Some(d) if d.modelRootHash[..] != root[..] => {
                return Err(RunError::Refused(format!(
                    "the chain holds another model for task {id}: {}",
                    d.modelRootHash
                )));
            }
            Some(_) => {}
            None => self.chain.add_deliverable(task.user, &id, root.to_vec()).await?,
        }
        let now = crate::service::now_ms();
        self.tasks.advance(
            &id,
            TaskState::Delivered,
            &format!("delivered: model root {root} on chain; download it and acknowledge"),
            |t| t.delivered_ms = Some(now),
        )?;
        tracing::info!(%id, %root, "fine-tuning task delivered");
        Ok(())
    }

    /// Fetches and checks the dataset, fixes the fee, trains, and writes the sealed
    /// adapter; the upload's root and the sealed key are recorded before it returns.
    async fn train_and_seal(self: &Arc<Self>, task: Task) -> Result<(), RunError> {
        let id = task.id.clone();
        self.tasks.advance(
            &id,
            TaskState::Training,
            &format!("fetching dataset {} from zg-storage", task.dataset_root),
            |t| t.step = 0,
        )?;
        let dataset = fetch_dataset(&self.storage, &task.dataset_root).await?;
        let params = TrainParams::from_json(
            &serde_json::from_str(&task.params).map_err(|e| RunError::Refused(e.to_string()))?,
        )?;
        let me = self.clone();
        let p = params.clone();
        let (examples, tokens) =
            tokio::task::spawn_blocking(move || -> Result<(Vec<Example>, u64), TrainError> {
                let models = me.models()?;
                let examples = examples_from_jsonl(&models.local, &dataset, p.max_seq_len)?;
                let tokens = examples.iter().map(|e| e.tokens.len() as u64).sum();
                Ok((examples, tokens))
            })
            .await
            .map_err(|e| RunError::Refused(e.to_string()))??;
        let fee = U256::from(tokens) * U256::from(params.epochs) * self.config.price_per_token;
        let account = self
            .chain
            .ft_account(task.user, self.address())
            .await?
            .ok_or_else(|| RunError::Refused("the user's sub-account is gone".into()))?;
        let spendable = account.balance.saturating_sub(account.pendingRefund);
        if spendable < fee {
            return Err(RunError::Refused(format!(
                "the fee is {fee} wei ({tokens} tokens × {} epochs × {} wei) but the sub-account can spend {spendable} wei",
                params.epochs, self.config.price_per_token
            )));
        }
        self.tasks.advance(
            &id,
            TaskState::Training,
            &format!(
                "dataset checked against its root: {} examples, {tokens} tokens; fee {fee} wei",
                examples.len()
            ),
            |t| {
                t.tokens = tokens;
                t.fee = fee;
            },
        )?;
        let me = self.clone();
        let task_id = id.clone();
        let adapter = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, RunError> {
            let models = me.models()?;
            let lora = models.base.new_lora(&params)?;
            let mut stopped = false;
            let mut failed = None;
            models
                .base
                .train(&lora, &examples, &params, |step, steps, loss| {
                    if me.is_cancelled(&task_id) {
                        stopped = true;
                        return false;
                    }
                    if step % PROGRESS_EVERY == 0 || step == steps {
                        let line = format!("step {step}/{steps} loss {loss:.4}");
                        if let Err(e) = me.tasks.progress(&task_id, step as u64, steps as u64, &line) {
                            failed = Some(e);
                            return false;
                        }
                    }
                    true
                })?;
            if stopped {
                return Err(RunError::Cancelled);
            }
            if let Some(e) = failed {
                return Err(e.into());
            }
            Ok(lora.to_safetensors()?)
        })
        .await
        .map_err(|e| RunError::Refused(e.to_string()))??;
        let user_key = k256::PublicKey::from_sec1_bytes(&task.user_key)
            .map_err(|_| RunError::Refused("the task's user key does not decode".into()))?;
        write_synced(&self.adapter_path(&id), &adapter)?;
        let key = seal::new_key();
        let sealed = seal::encrypt_model(&key, &adapter, &self.config.signer);
        let sealed_key = seal::seal_key(&user_key, &key);
        write_synced(&self.sealed_path(&id), &sealed)?;
        let root = B256::from(root_of(&sealed, RootKind::Keccak));
        self.tasks.advance(
            &id,
            TaskState::Training,
            &format!(
                "trained; the adapter ({} bytes) sealed for the user",
                adapter.len()
            ),
            |t| {
                t.deliverable_root = Some(root);
                t.sealed_key = Some(Bytes::from(sealed_key));
            },
        )?;
        Ok(())
    }

    /// One pass over the delivered tasks: each one settled on chain once its user
    /// acknowledged it (the full fee and the sealed key), or once the acknowledgement
    /// is overdue (the penalty share, no key).
    pub async fn settle_round(&self) {
        for task in self.tasks.delivered() {
            if let Err(e) = self.settle(&task).await {
                tracing::warn!(id = %task.id, error = %e, "settlement failed; retried next round");
            }
        }
    }

    async fn settle(&self, task: &Task) -> Result<(), RunError> {
        let me = self.address();
        let Some(deliverable) = self.chain.deliverable(task.user, me, &task.id).await? else {
            return Err(RunError::Refused("the deliverable is not on chain".into()));
        };
        if deliverable.settled {
            self.tasks.advance(
                &task.id,
                TaskState::Finished,
                "settled (found so on chain)",
                |_| {},
            )?;
            return Ok(());
        }
        let overdue = task.delivered_ms.is_some_and(|t| {
            crate::service::now_ms().saturating_sub(t) >= self.config.ack_timeout.as_millis() as u64
        });
        if !deliverable.acknowledged && !overdue {
            return Ok(());
        }
        let account = self
            .chain
            .ft_account(task.user, me)
            .await?
            .ok_or_else(|| RunError::Refused("the user's sub-account is gone".into()))?;
        let secret = if deliverable.acknowledged {
            task.sealed_key.clone().unwrap_or_default()
        } else {
            Bytes::new()
        };
        let mut input = ft::VerifierInput {
            id: task.id.clone(),
            encryptedSecret: secret,
            modelRootHash: deliverable.modelRootHash.clone(),
            nonce: account.nonce + U256::from(1),
            signature: Bytes::new(),
            taskFee: task.fee,
            user: task.user,
        };
        let digest = verifier_digest(self.chain_id, &input);
        let signature = self
            .config
            .signer
            .sign_hash_sync(&digest)
            .map_err(|e| RunError::Refused(e.to_string()))?;
        input.signature = Bytes::from(signature.as_bytes().to_vec());
        self.chain.settle_fees(input).await?;
        let penalty = self.chain.penalty_percentage().await?;
        let paid = settled_fee(task.fee, deliverable.acknowledged, penalty);
        let line = if deliverable.acknowledged {
            format!("settled: {paid} wei (the full fee); the key is on chain for the user")
        } else {
            format!("settled without acknowledgement: {paid} wei ({penalty}% of the fee)")
        };
        let in_full = deliverable.acknowledged;
        self.tasks
            .advance(&task.id, TaskState::Finished, &line, |t| t.paid_in_full = in_full)?;
        tracing::info!(id = %task.id, %paid, acknowledged = deliverable.acknowledged, "fine-tuning task settled");
        Ok(())
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let part = path.with_extension("part");
    let mut f = std::fs::File::create(&part)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&part, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Total memory, GiB (0 where /proc/meminfo is not there).
fn memory_gib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib >> 20)
}

/// The storage root of `bytes` under `kind` (0G's Keccak tree or zg's BLAKE3).
pub fn root_of(bytes: &[u8], kind: RootKind) -> Hash {
    let mut hasher = FileHasher::new(kind);
    hasher.update(bytes);
    hasher.finalize().root()
}

/// Whether `bytes` are the file with root `root` (0G's Keccak tree, or zg's BLAKE3).
pub fn dataset_matches(bytes: &[u8], root: &B256) -> bool {
    [RootKind::Keccak, RootKind::Blake3]
        .into_iter()
        .any(|kind| root_of(bytes, kind) == root.0)
}

/// The dataset with storage root `root` from the first node that has it (`GET
/// /files/{root}`, at most [`MAX_DATASET`] bytes), checked against the root here,
/// whatever the node claims.
async fn fetch_dataset(nodes: &[StorageClient], root: &B256) -> Result<Vec<u8>, RunError> {
    let mut why = Vec::new();
    for node in nodes {
        match fetch_from(node.url(), root).await {
            Ok(bytes) if dataset_matches(&bytes, root) => return Ok(bytes),
            Ok(bytes) => why.push(format!(
                "{} served {} bytes that do not match root {root}",
                node.url(),
                bytes.len()
            )),
            Err(e) => why.push(format!("{}: {e:#}", node.url())),
        }
    }
    Err(RunError::Refused(format!(
        "dataset {root} refused before training: {}",
        why.join("; ")
    )))
}

async fn fetch_from(url: &str, root: &B256) -> anyhow::Result<Vec<u8>> {
    use futures_util::StreamExt as _;
    let response = reqwest::Client::new()
        .get(format!("{}/files/{root}", url.trim_end_matches('/')))
        .timeout(Duration::from_secs(300))
        .send()
        .await?;
    anyhow::ensure!(response.status().is_success(), "answered {}", response.status());
    if response.content_length().is_some_and(|n| n > MAX_DATASET) {
        anyhow::bail!("the dataset is over {MAX_DATASET} bytes");
    }
    let mut bytes = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        bytes.extend_from_slice(&chunk?);
        anyhow::ensure!(
            bytes.len() as u64 <= MAX_DATASET,
            "the dataset is over {MAX_DATASET} bytes"
        );
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A storage node that serves `bytes` for any root.
    async fn node_serving(bytes: Vec<u8>) -> StorageClient {
        let app = axum::Router::new().route(
            "/files/{root}",
            axum::routing::get(move || {
                let bytes = bytes.clone();
                async move { bytes }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        StorageClient::new(&url).unwrap()
    }

    fn keccak_root(bytes: &[u8]) -> B256 {
        B256::from(root_of(bytes, RootKind::Keccak))
    }

    /// The dataset is checked here against the root the user signed, whatever a node
    /// serves: bytes that differ in one place are refused before any training, and a
    /// node that serves the right bytes after a lying one is used.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_dataset_that_does_not_match_its_root_is_refused() {
        let good = br#"{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}"#.repeat(40);
        let root = keccak_root(&good);
        let mut flipped = good.clone();
        flipped[1000] ^= 1;
        let liar = node_serving(flipped).await;
        let refused = fetch_dataset(std::slice::from_ref(&liar), &root)
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, RunError::Refused(why) if why.contains("do not match root")),
            "{refused}"
        );
        let short = node_serving(good[..good.len() - 1].to_vec()).await;
        assert!(fetch_dataset(std::slice::from_ref(&short), &root).await.is_err());
        let honest = node_serving(good.clone()).await;
        assert_eq!(fetch_dataset(&[liar, honest], &root).await.unwrap(), good);
        // zg's own BLAKE3 roots are accepted too.
        let blake3 = B256::from(root_of(&good, RootKind::Blake3));
        assert!(dataset_matches(&good, &blake3));
        assert!(!dataset_matches(&good[1..], &blake3));
    }

    /// A dataset over the limit is refused while it streams in.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_oversized_dataset_is_refused() {
        let node = node_serving(vec![b'x'; MAX_DATASET as usize + 1]).await;
        let refused = fetch_dataset(&[node], &B256::ZERO).await.unwrap_err();
        assert!(refused.to_string().contains("over"), "{refused}");
    }
}
