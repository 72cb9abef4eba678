//! A fine-tuning provider's task book, crash-safe in zg's store: every accepted task
//! and every change of its state is a fsynced record before it is acknowledged, so a
//! provider killed at any point restarts with the same tasks. One task runs at a time
//! (the others queue, oldest first), and a user has at most one unfinished task (the
//! contract takes a user's next deliverable only once the last is acknowledged or
//! settled). A task that was training when the provider stopped goes back to the
//! queue and trains again from the start (training is seeded, so it makes the same
//! adapter); one that was delivered or settled keeps its state, so nothing is
//! delivered or billed twice. [`request_signer`] and [`check_cancel`] check a task's
//! and a cancellation's signatures as 0G's SDK makes them; the first gives the user's
//! public key, which the adapter's key is sealed to.
//!
//! Store layout: key [`TASKS`], index = record number (from 1), payload the JSON of
//! a [`Task`]; a task's newest record wins.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use alloy_primitives::{Address, B256, Signature, U256, keccak256};
use serde::{Deserialize, Serialize};
use zg_store::{Store, StoreError, StoreOptions};

/// The store key of task records.
pub const TASKS: [u8; 32] = *b"zg-compute/fine-tuning-tasks/v1\0";
/// Log lines a task keeps (the newest).
pub const MAX_LOG_LINES: usize = 200;
/// Longest log line kept, bytes.
pub const MAX_LOG_LINE: usize = 512;

/// Why the book cannot be read or written, or refuses a change.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The store failed.
    #[error("the provider's task store: {0}")]
    Store(#[from] StoreError),
    /// A stored record does not decode.
    #[error("task record {index} does not decode: {error}")]
    Corrupt {
        /// Its record number.
        index: u64,
        /// The decoder's reason.
        error: String,
    },
    /// The user already has a task that has not finished.
    #[error("task {0} of this user has not finished; one task at a time")]
    Busy(String),
    /// No such task of this user.
    #[error("no task {0} for this user")]
    Unknown(String),
    /// A request's signature is malformed or not the user's.
    #[error("the request is not signed by {0}")]
    BadSignature(Address),
    /// A signed request's time is too far from the provider's clock.
    #[error("the request was signed at {timestamp}, too far from the provider's time {now}; check the clock")]
    Stale {
        /// The request's Unix time.
        timestamp: u64,
        /// The provider's.
        now: u64,
    },
    /// The task cannot move from its state to the one asked.
    #[error("task {id} is {from:?}; it cannot become {to:?}")]
    Transition {
        /// The task.
        id: String,
        /// Its state.
        from: TaskState,
        /// The state asked for.
        to: TaskState,
    },
}

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskState {
    /// Accepted, waiting for the trainer.
    #[default]
    Queued,
    /// Training now.
    Training,
    /// The encrypted adapter is in storage and the deliverable on chain; waiting for
    /// the user's acknowledgement.
    Delivered,
    /// Settled: the fee (and the sealed key, if acknowledged) is on chain.
    Finished,
    /// Stopped by an error, with nothing billed.
    Failed,
    /// Cancelled by its user before delivery, with nothing billed.
    Cancelled,
}

impl TaskState {
    /// Whether the task has ended.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Finished | Self::Failed | Self::Cancelled)
    }

    /// 0G's progress names, as the SDK shows them.
    pub fn progress_name(self) -> &'static str {
        match self {
            Self::Queued => "Init",
            Self::Training => "Training",
            Self::Delivered => "Delivered",
            Self::Finished => "Finished",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
        }
    }

    fn may_become(self, next: Self) -> bool {
        use TaskState::*;
        matches!(
            (self, next),
            (Queued, Training | Cancelled | Failed)
                | (Training, Delivered | Failed | Queued | Cancelled)
                | (Delivered, Finished | Failed)
        )
    }
}

/// One fine-tuning task as the provider keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Its id (a random UUID, as 0G names tasks).
    pub id: String,
    /// Who asked and pays.
    pub user: Address,
    /// The base model's digest the user asked for.
    pub model_hash: String,
    /// The dataset's storage root.
    pub dataset_root: B256,
    /// The training parameters as the user sent them (JSON).
    pub params: String,
    /// The user's request nonce and signature (which gives the provider the user's
    /// public key to seal the adapter's key to).
    pub nonce: String,
    /// The user's EIP-191 signature of (user, nonce, dataset root).
    pub signature: String,
    /// The public key that signed the request (SEC1), which the adapter's key is
    /// sealed to.
    #[serde(default)]
    pub user_key: alloy_primitives::Bytes,
    /// The fee, wei, fixed when the dataset is read (tokens × epochs × price).
    pub fee: U256,
    /// Its state.
    pub state: TaskState,
    /// Steps done.
    pub step: u64,
    /// Steps planned.
    pub steps: u64,
    /// Tokens in the dataset (the fee is tokens × epochs × price).
    #[serde(default)]
    pub tokens: u64,
    /// The encrypted adapter's storage root, once uploaded.
    pub deliverable_root: Option<B256>,
    /// The adapter's key sealed to the user (ECIES), recorded with the upload.
    #[serde(default)]
    pub sealed_key: Option<alloy_primitives::Bytes>,
    /// When the deliverable went on chain, ms since the epoch.
    #[serde(default)]
    pub delivered_ms: Option<u64>,
    /// Settled with the user's acknowledgement: the full fee was paid (its model is
    /// then served to the user).
    #[serde(default)]
    pub paid_in_full: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// The newest log lines.
    pub log: Vec<String>,
    /// When it was accepted, ms since the epoch.
    pub created_ms: u64,
    /// When it last changed.
    pub updated_ms: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

struct Book {
    tasks: BTreeMap<String, Task>,
    next_record: u64,
}

/// The task book (see the module's documentation).
pub struct Tasks {
    store: Store,
    book: Mutex<Book>,
}

impl Tasks {
    /// Opens (or creates) the book in `dir`; a task that was training goes back to the
    /// queue (its log says so).
    pub fn open(dir: &Path) -> Result<Self, TaskError> {
        let (store, _) = Store::open_path(dir, StoreOptions::default())?;
        let mut book = Book {
            tasks: BTreeMap::new(),
            next_record: 1,
        };
        for index in store.segment_indices(&TASKS) {
            let record = store.get(&TASKS, index)?;
            let task: Task = serde_json::from_slice(&record[..]).map_err(|e| TaskError::Corrupt {
                index,
                error: e.to_string(),
            })?;
            book.next_record = book.next_record.max(index + 1);
            book.tasks.insert(task.id.clone(), task);
        }
        let tasks = Self {
            store,
            book: Mutex::new(book),
        };
        let interrupted: Vec<Task> = tasks
            .book()
            .tasks
            .values()
            .filter(|t| t.state == TaskState::Training)
            .cloned()
            .collect();
        for mut task in interrupted {
            task.state = TaskState::Queued;
            task.step = 0;
            push_log(
                &mut task,
                "the provider restarted during training; training again from the start",
            );
            tasks.write(task)?;
        }
        Ok(tasks)
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `task` (fsynced) and keeps it as the task's newest state.
    fn write(&self, mut task: Task) -> Result<Task, TaskError> {
        let mut book = self.book();
        task.updated_ms = now_ms();
        let payload = serde_json::to_vec(&task).expect("a task serializes");
        let index = book.next_record;
        self.store.put(TASKS, index, payload)?;
        book.next_record += 1;
        book.tasks.insert(task.id.clone(), task.clone());
        Ok(task)
    }

    /// Accepts a new task (state [`TaskState::Queued`]), unless its user has an
    /// unfinished one; `task.id` must be fresh.
    pub fn submit(&self, mut task: Task) -> Result<Task, TaskError> {
        if let Some(open) = self
            .book()
            .tasks
            .values()
            .find(|t| t.user == task.user && !t.state.is_final())
        {
            return Err(TaskError::Busy(open.id.clone()));
        }
        task.state = TaskState::Queued;
        task.created_ms = now_ms();
        push_log(&mut task, "accepted");
        self.write(task)
    }

    /// Moves a task to `next` (allowed transitions only), with `log` appended and
    /// `change` applied to its other fields.
    pub fn advance(
        &self,
        id: &str,
        next: TaskState,
        log: &str,
        change: impl FnOnce(&mut Task),
    ) -> Result<Task, TaskError> {
        let mut task = self
            .book()
            .tasks
            .get(id)
            .cloned()
            .ok_or_else(|| TaskError::Unknown(id.into()))?;
        if task.state != next && !task.state.may_become(next) {
            return Err(TaskError::Transition {
                id: id.into(),
                from: task.state,
                to: next,
            });
        }
        task.state = next;
        change(&mut task);
        push_log(&mut task, log);
        self.write(task)
    }

    /// Records training progress (each record is fsynced: callers record every few
    /// steps, not every one).
    pub fn progress(&self, id: &str, step: u64, steps: u64, log: &str) -> Result<Task, TaskError> {
        self.advance(id, TaskState::Training, log, |t| {
            t.step = step;
            t.steps = steps;
        })
    }

    /// The oldest queued task, if any, and none while one is training.
    pub fn next_queued(&self) -> Option<Task> {
        let book = self.book();
        if book.tasks.values().any(|t| t.state == TaskState::Training) {
            return None;
        }
        book.tasks
            .values()
            .filter(|t| t.state == TaskState::Queued)
            .min_by_key(|t| (t.created_ms, t.id.clone()))
            .cloned()
    }

    /// Tasks of `user`, newest first.
    pub fn of_user(&self, user: Address) -> Vec<Task> {
        let mut tasks: Vec<Task> = self
            .book()
            .tasks
            .values()
            .filter(|t| t.user == user)
            .cloned()
            .collect();
        tasks.sort_by_key(|t| std::cmp::Reverse((t.created_ms, t.id.clone())));
        tasks
    }

    /// `user`'s task `id`.
    pub fn get(&self, user: Address, id: &str) -> Result<Task, TaskError> {
        self.book()
            .tasks
            .get(id)
            .filter(|t| t.user == user)
            .cloned()
            .ok_or_else(|| TaskError::Unknown(id.into()))
    }

    /// Tasks waiting or training (0G's `/v1/task/pending`).
    pub fn pending(&self) -> usize {
        self.book()
            .tasks
            .values()
            .filter(|t| matches!(t.state, TaskState::Queued | TaskState::Training))
            .count()
    }

    /// Tasks delivered and not yet settled (the settlement loop's work).
    pub fn delivered(&self) -> Vec<Task> {
        self.book()
            .tasks
            .values()
            .filter(|t| t.state == TaskState::Delivered)
            .cloned()
            .collect()
    }
}

/// The public key of the user who signed a task request as 0G's SDK signs it
/// (`sign_request`: EIP-191 over keccak256(user ‖ nonce as uint256 ‖ dataset root as
/// text)); the provider seals the trained adapter's key to it.
pub fn request_signer(
    user: Address,
    nonce: U256,
    dataset_root: &str,
    signature: &[u8],
) -> Result<k256::PublicKey, TaskError> {
    let mut packed = Vec::with_capacity(52 + dataset_root.len());
    packed.extend_from_slice(user.as_slice());
    packed.extend_from_slice(&nonce.to_be_bytes::<32>());
    packed.extend_from_slice(dataset_root.as_bytes());
    signed_by(user, keccak256(&packed), signature)
}

/// Checks a cancellation as the SDK signs it (`sign_task_id`: EIP-191 over
/// keccak256 of the task id's 16 bytes).
pub fn check_cancel(user: Address, task_id: &str, signature: &[u8]) -> Result<(), TaskError> {
    let id = alloy_primitives::hex::decode(task_id.replace('-', ""))
        .map_err(|_| TaskError::Unknown(task_id.into()))?;
    signed_by(user, keccak256(&id), signature).map(|_| ())
}

/// Checks a download request as the SDK signs it (`download_lora_from_tee`: EIP-191
/// over keccak256 of the text of the task id's hex digits and the Unix time), made
/// within `window_secs` of `now_secs`.
pub fn check_download(
    user: Address,
    task_id: &str,
    timestamp: u64,
    now_secs: u64,
    window_secs: u64,
    signature: &[u8],
) -> Result<(), TaskError> {
    if timestamp.abs_diff(now_secs) > window_secs {
        return Err(TaskError::Stale {
            timestamp,
            now: now_secs,
        });
    }
    let message = format!("{}{timestamp}", task_id.replace('-', ""));
    signed_by(user, keccak256(message.as_bytes()), signature).map(|_| ())
}

/// The key that signed `hash` as an EIP-191 message, if it is `user`'s.
fn signed_by(user: Address, hash: B256, signature: &[u8]) -> Result<k256::PublicKey, TaskError> {
    let digest = alloy_primitives::eip191_hash_message(hash);
    let key = Signature::from_raw(signature)
        .ok()
        .and_then(|sig| sig.recover_from_prehash(&digest).ok())
        .ok_or(TaskError::BadSignature(user))?;
    let public = k256::PublicKey::from(&key);
    if Address::from_public_key(&key) != user {
        return Err(TaskError::BadSignature(user));
    }
    Ok(public)
}

/// A fresh task id: a random UUID (version 4), as 0G's providers name tasks.
pub fn new_task_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = alloy_primitives::hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Appends a log line (bounded in length and count).
fn push_log(task: &mut Task, line: &str) {
    let mut line = line.to_string();
    if line.len() > MAX_LOG_LINE {
        let mut end = MAX_LOG_LINE;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
    }
    task.log.push(line);
    if task.log.len() > MAX_LOG_LINES {
        let excess = task.log.len() - MAX_LOG_LINES;
        task.log.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, user: u8) -> Task {
        Task {
            id: id.into(),
            user: Address::repeat_byte(user),
            model_hash: "sha256:…".into(),
            dataset_root: B256::repeat_byte(user),
            params: "{}".into(),
            nonce: "1".into(),
            signature: "0x".into(),
            ..Task::default()
        }
    }

    #[test]
    fn one_task_runs_at_a_time_and_a_user_has_one_open() {
        let dir = tempfile::tempdir().unwrap();
        let tasks = Tasks::open(dir.path()).unwrap();
        tasks.submit(task("a", 1)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        tasks.submit(task("b", 2)).unwrap();
        assert!(matches!(tasks.submit(task("c", 1)), Err(TaskError::Busy(id)) if id == "a"));
        assert_eq!(tasks.pending(), 2);
        assert_eq!(tasks.next_queued().unwrap().id, "a");
        tasks
            .advance("a", TaskState::Training, "training", |_| {})
            .unwrap();
        assert!(tasks.next_queued().is_none(), "one at a time");
        let refused = tasks.advance("b", TaskState::Finished, "no", |_| {});
        assert!(matches!(refused, Err(TaskError::Transition { .. })));
        tasks
            .advance("a", TaskState::Delivered, "delivered", |t| {
                t.deliverable_root = Some(B256::ZERO);
            })
            .unwrap();
        assert_eq!(tasks.next_queued().unwrap().id, "b");
        assert!(matches!(
            tasks.get(Address::repeat_byte(2), "a"),
            Err(TaskError::Unknown(_))
        ));
        assert_eq!(tasks.delivered().len(), 1);
    }

    #[test]
    fn a_restart_keeps_every_task_and_retrains_the_interrupted_one() {
        let dir = tempfile::tempdir().unwrap();
        {
            let tasks = Tasks::open(dir.path()).unwrap();
            tasks.submit(task("a", 1)).unwrap();
            tasks.submit(task("b", 2)).unwrap();
            tasks
                .advance("a", TaskState::Training, "training", |_| {})
                .unwrap();
            tasks.progress("a", 3, 12, "step 3/12").unwrap();
            tasks.submit(task("c", 3)).unwrap();
            tasks
                .advance("c", TaskState::Cancelled, "cancelled by its user", |_| {})
                .unwrap();
            // Dropped without closing: as a kill would leave it.
        }
        let tasks = Tasks::open(dir.path()).unwrap();
        let a = tasks.get(Address::repeat_byte(1), "a").unwrap();
        assert_eq!((a.state, a.step), (TaskState::Queued, 0));
        assert!(a.log.last().unwrap().contains("restarted"));
        assert_eq!(
            tasks.get(Address::repeat_byte(3), "c").unwrap().state,
            TaskState::Cancelled
        );
        assert_eq!(tasks.pending(), 2);
        assert_eq!(tasks.of_user(Address::repeat_byte(2)).len(), 1);
        // A new task after a final one is accepted.
        tasks.submit(task("d", 3)).unwrap();
    }

    /// Signatures made by the SDK's own `sign_request` and `sign_task_id` (0g-inference-sdk
    /// 0.9.1, dev account 1's key).
    #[test]
    fn requests_signed_by_the_sdk_give_the_users_key() {
        use alloy_primitives::hex;
        let user: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse().unwrap();
        let root = format!("0x{}", "ab".repeat(32));
        let nonce = U256::from(17_649_876_543_210_040u64);
        let signature = hex::decode("69d8919551d5e59ce311576cdf315f2fef0f5f6d58f70a744dfadeeb981991832879e11cd7b8f50b85d28ad94df3a32072389712d92c0726e770eb0cc88448bb1c").unwrap();
        let key = request_signer(user, nonce, &root, &signature).unwrap();
        let secret = k256::SecretKey::from_slice(
            &hex::decode("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d").unwrap(),
        )
        .unwrap();
        assert_eq!(key, secret.public_key());
        let other = Address::repeat_byte(1);
        assert!(
            matches!(request_signer(other, nonce, &root, &signature), Err(TaskError::BadSignature(a)) if a == other)
        );
        assert!(request_signer(user, nonce + U256::from(1), &root, &signature).is_err());
        assert!(request_signer(user, nonce, &root, &signature[..64]).is_err());
        let cancel = hex::decode("7cd216d0ef88e2ea0e7e0e5f05fa3620c023cb373d5bb82eea2706609e11bad84b6a227824247dac30029c82cfb1ee47be77856dfd8292196b96cacf7e258d721b").unwrap();
        check_cancel(user, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", &cancel).unwrap();
        assert!(check_cancel(user, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f1", &cancel).is_err());
        assert!(check_cancel(user, "not hex", &cancel).is_err());
    }

    #[test]
    fn logs_are_bounded() {
        let mut t = task("a", 1);
        for i in 0..MAX_LOG_LINES + 5 {
            push_log(&mut t, &format!("line {i}"));
        }
        assert_eq!(t.log.len(), MAX_LOG_LINES);
        assert_eq!(t.log[0], "line 5");
        push_log(&mut t, &"é".repeat(MAX_LOG_LINE));
        assert!(t.log.last().unwrap().len() <= MAX_LOG_LINE);
    }
}
