//! `zg compute finetune`: a user's fine-tuning tasks with a provider — submit (the
//! dataset uploaded to zg-storage first when given as a file), follow, download the
//! sealed model, acknowledge it, and open it once the provider has settled.

use std::path::PathBuf;
use std::time::Duration;

use alloy_primitives::{Address, B256, U256};
use anyhow::Context as _;
use clap::Subcommand;
use serde_json::Value;
use zg_compute::chain::ChainClient;
use zg_compute::fine_tuning::root_of;
use zg_compute::seal;
use zg_compute::task_client::TaskClient;
use zg_contracts::fine_tuning::FINE_TUNING_SERVICE_NAME;
use zg_merkle::RootKind;

use crate::compute::{AccountArgs, og, show, signer_line};

#[derive(Subcommand, Debug)]
pub(crate) enum FinetuneCmd {
    /// List the fine-tuning services on chain: provider, models, price, endpoint.
    Services,
    /// Submit a task to PROVIDER: DATASET is a chat JSONL file (uploaded to zg-storage
    /// first, paid on the Flow) or the root of one already stored. Opens and funds the
    /// sub-account (--fund) and acknowledges the provider's signer when needed.
    Submit {
        /// The provider's address.
        provider: Address,
        /// A JSONL file ({"messages": [...]} per line) or a storage root (0x…).
        dataset: String,
        /// Training parameters: a JSON file (0G's names: num_train_epochs,
        /// learning_rate, per_device_train_batch_size, lora_r, max_steps, …).
        #[arg(long)]
        params: Option<PathBuf>,
        /// 0G moved into the sub-account first (the task's fee is taken from it).
        #[arg(long)]
        fund: Option<String>,
        /// The storage node a dataset file is uploaded to.
        #[arg(long, default_value = "http://127.0.0.1:5678")]
        node: String,
        /// Wait until the model is delivered, printing the task's log.
        #[arg(long)]
        wait: bool,
    },
    /// Show PROVIDER's task TASK (default: the newest).
    Status {
        /// The provider's address.
        provider: Address,
        /// The task id.
        task: Option<String>,
    },
    /// Print the log of PROVIDER's task TASK (default: the newest).
    Logs {
        /// The provider's address.
        provider: Address,
        /// The task id.
        task: Option<String>,
        /// Keep printing until the task is delivered or ends.
        #[arg(long)]
        follow: bool,
    },
    /// Cancel a queued or training task (nothing is billed).
    Cancel {
        /// The provider's address.
        provider: Address,
        /// The task id.
        task: String,
    },
    /// Download TASK's model: the sealed file (checked against the root on chain) is
    /// kept at OUT.sealed; once the provider has settled, the key on chain opens it
    /// into OUT (the LoRA adapter, safetensors).
    Download {
        /// The provider's address.
        provider: Address,
        /// The task id.
        task: String,
        /// Where the adapter goes.
        #[arg(long, default_value = "adapter.safetensors")]
        out: PathBuf,
    },
    /// Acknowledge TASK's model on chain (download it first): the provider is then
    /// paid the full fee and hands over the key; without it, only a penalty share.
    Acknowledge {
        /// The provider's address.
        provider: Address,
        /// The task id.
        task: String,
    },
}

/// The provider's fine-tuning service URL, from the chain.
async fn service_url(chain: &ChainClient, provider: Address) -> anyhow::Result<String> {
    let service = chain.ft_service(provider).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "{provider} offers no fine-tuning service on this chain (`zg compute finetune services` lists them)"
        )
    })?;
    Ok(service.url)
}

fn print_task(task: &Value) {
    let s = |k: &str| task[k].as_str().unwrap_or("").to_owned();
    println!("task {}", s("id"));
    println!("  progress   {}", s("progress"));
    if let (Some(step), Some(steps)) = (task["step"].as_u64(), task["steps"].as_u64())
        && steps > 0
    {
        println!("  step       {step}/{steps}");
    }
    println!("  dataset    {}", s("datasetHash"));
    if let Some(tokens) = task["tokens"].as_u64().filter(|t| *t > 0) {
        println!("  tokens     {tokens}");
    }
    let fee: U256 = s("fee").parse().unwrap_or_default();
    println!("  fee        {} ({fee} wei)", show(fee));
    if let Some(root) = task["deliverableRoot"].as_str() {
        println!("  model      {root}");
    }
    if let Some(e) = task["error"].as_str() {
        println!("  error      {e}");
    }
    if let Some(m) = task["servedModel"].as_str() {
        println!("  chat as    {m}   (zg compute ask PROVIDER PROMPT --model {m})");
    }
    println!("  created    {}", s("createdAt"));
    println!("  updated    {}", s("updatedAt"));
}

async fn newest(tasks: &TaskClient) -> anyhow::Result<String> {
    tasks
        .list()
        .await?
        .first()
        .and_then(|t| t["id"].as_str().map(str::to_owned))
        .ok_or_else(|| anyhow::anyhow!("no tasks of {} with this provider", tasks.user()))
}

/// Prints `id`'s log lines as they come until the task is delivered or ends.
async fn follow(tasks: &TaskClient, id: &str) -> anyhow::Result<Value> {
    let mut printed = 0;
    loop {
        let log = tasks.log(id).await?;
        let lines: Vec<&str> = log.lines().collect();
        // The log keeps its newest lines: print from where we were, or all if it rolled.
        let start = if printed <= lines.len() { printed } else { 0 };
        for line in &lines[start..] {
            eprintln!("{line}");
        }
        printed = lines.len();
        let task = tasks.get(id).await?;
        if matches!(
            task["progress"].as_str(),
            Some("Delivered" | "Finished" | "Failed" | "Cancelled")
        ) {
            return Ok(task);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub(crate) async fn run(cmd: FinetuneCmd, account: AccountArgs) -> anyhow::Result<()> {
    if let FinetuneCmd::Services = cmd {
        let client = ChainClient::new(&account.chain, alloy_signer_local::PrivateKeySigner::random())?;
        let services = client.ft_services().await?;
        if services.is_empty() {
            println!("no fine-tuning services on {}", account.chain);
        }
        for s in services {
            println!("{}  {}", s.provider, s.models.join(", "));
            println!("  endpoint  {}", s.url);
            println!("  price     {} wei per training token", s.pricePerToken);
            println!("{}", signer_line(s.teeSignerAddress, s.teeSignerAcknowledged));
        }
        return Ok(());
    }
    let signer = account.signer()?;
    let chain = ChainClient::new(&account.chain, signer.clone())?;
    match cmd {
        FinetuneCmd::Services => unreachable!("handled above"),
        FinetuneCmd::Submit {
            provider,
            dataset,
            params,
            fund,
            node,
            wait,
        } => {
            let url = service_url(&chain, provider).await?;
            let tasks = TaskClient::new(&url, signer.clone());
            let params: Value = match params {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?
                }
                None => serde_json::json!({}),
            };
            let root: B256 = match dataset.parse() {
                Ok(root) => root,
                Err(_) => {
                    let file = PathBuf::from(&dataset);
                    anyhow::ensure!(
                        file.is_file(),
                        "{dataset:?} is neither a storage root (0x and 64 hex digits) nor a file"
                    );
                    let key = format!("0x{}", alloy_primitives::hex::encode(signer.to_bytes()));
                    let root =
                        crate::upload_file(&[node], &file, RootKind::Keccak, &account.chain, Some(key))
                            .await?;
                    eprintln!("dataset uploaded: {}", B256::from(root));
                    B256::from(root)
                }
            };
            let user = signer.address();
            if let Some(amount) = fund {
                chain
                    .transfer_to(provider, FINE_TUNING_SERVICE_NAME, og(&amount)?)
                    .await?;
            }
            match chain.ft_account(user, provider).await? {
                None => anyhow::bail!(
                    "no fine-tuning sub-account with {provider}: pass --fund AMOUNT (0G from your ledger; \
                     `zg compute ledger add 3` opens one)"
                ),
                Some(a) if !a.acknowledged => {
                    chain.ft_acknowledge(provider).await?;
                    eprintln!("acknowledged {provider}'s signer");
                }
                Some(_) => {}
            }
            let models = tasks.models().await?;
            let hash = models[0]["hash"]
                .as_str()
                .context("the provider lists no model")?
                .to_owned();
            let task = tasks.create(&hash, root, &params).await?;
            let id = task["id"].as_str().unwrap_or_default().to_owned();
            println!("{id}");
            if wait {
                let task = follow(&tasks, &id).await?;
                print_task(&task);
                if task["progress"] != "Delivered" && task["progress"] != "Finished" {
                    anyhow::bail!("task {id} did not deliver");
                }
                eprintln!(
                    "next: zg compute finetune download {provider} {id}, then zg compute finetune acknowledge {provider} {id}"
                );
            }
        }
        FinetuneCmd::Status { provider, task } => {
            let tasks = TaskClient::new(&service_url(&chain, provider).await?, signer);
            let id = match task {
                Some(id) => id,
                None => newest(&tasks).await?,
            };
            print_task(&tasks.get(&id).await?);
        }
        FinetuneCmd::Logs {
            provider,
            task,
            follow: keep,
        } => {
            let tasks = TaskClient::new(&service_url(&chain, provider).await?, signer);
            let id = match task {
                Some(id) => id,
                None => newest(&tasks).await?,
            };
            if keep {
                follow(&tasks, &id).await?;
            } else {
                print!("{}", tasks.log(&id).await?);
            }
        }
        FinetuneCmd::Cancel { provider, task } => {
            let tasks = TaskClient::new(&service_url(&chain, provider).await?, signer);
            println!("{}", tasks.cancel(&task).await?);
        }
        FinetuneCmd::Download { provider, task, out } => {
            let user = signer.address();
            let deliverable = chain.deliverable(user, provider, &task).await?.ok_or_else(|| {
                anyhow::anyhow!("task {task} has no model on chain yet (`zg compute finetune status`)")
            })?;
            let sealed_path = PathBuf::from(format!("{}.sealed", out.display()));
            let sealed = match std::fs::read(&sealed_path) {
                Ok(bytes) if root_of(&bytes, RootKind::Keccak)[..] == deliverable.modelRootHash[..] => bytes,
                _ => {
                    let tasks = TaskClient::new(&service_url(&chain, provider).await?, signer.clone());
                    let bytes = tasks.download(&task).await?;
                    anyhow::ensure!(
                        root_of(&bytes, RootKind::Keccak)[..] == deliverable.modelRootHash[..],
                        "the provider's file does not match the model root on chain ({})",
                        deliverable.modelRootHash
                    );
                    std::fs::write(&sealed_path, &bytes)
                        .with_context(|| format!("writing {}", sealed_path.display()))?;
                    eprintln!(
                        "sealed model: {} ({} bytes, matches the root on chain)",
                        sealed_path.display(),
                        bytes.len()
                    );
                    bytes
                }
            };
            if deliverable.encryptedSecret.is_empty() {
                if deliverable.settled {
                    anyhow::bail!(
                        "task {task} was settled without your acknowledgement: its key was not handed over"
                    );
                }
                eprintln!(
                    "the key is not on chain yet: {}",
                    if deliverable.acknowledged {
                        "the provider settles soon; run this again"
                    } else {
                        "acknowledge the model (`zg compute finetune acknowledge`), then run this again once the provider settles"
                    }
                );
                return Ok(());
            }
            let secret = k256::SecretKey::from_slice(&signer.to_bytes()[..]).context("the account's key")?;
            let key = seal::open_key(&secret, &deliverable.encryptedSecret)?;
            let service = chain
                .ft_service(provider)
                .await?
                .context("the provider's service is gone")?;
            let adapter = seal::decrypt_model(&key, &sealed, service.teeSignerAddress)?;
            std::fs::write(&out, &adapter).with_context(|| format!("writing {}", out.display()))?;
            println!("{}", out.display());
        }
        FinetuneCmd::Acknowledge { provider, task } => {
            chain.acknowledge_deliverable(provider, &task).await?;
            println!("acknowledged task {task}: the provider settles the fee and hands over the key");
        }
    }
    Ok(())
}
