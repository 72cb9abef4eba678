//! The provider's crash-safe books: every served request is recorded in zg's store
//! (fsynced) before its answer completes, and every settlement is recorded before its
//! transaction is sent and again with its outcome. A restart rebuilds each user's
//! unsettled requests from the store; a settlement whose outcome was never recorded is
//! resolved against the sub-account's on-chain nonce, so no request is billed twice
//! and no served one is lost.
//!
//! Store layout: key [`SERVED`], index = request sequence number (from 1), payload the
//! JSON of [`Served`]; key [`SETTLEMENTS`], index = settlement number (from 1), payload
//! the JSON of [`Settlement`] (rewritten with its outcome; the newest record wins).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use alloy_primitives::{Address, B256, U256, keccak256};
use serde::{Deserialize, Serialize};
use zg_store::{Store, StoreError, StoreOptions};

/// The store key of served requests.
pub const SERVED: [u8; 32] = *b"zg-compute/served-requests/v1\0\0\0";
/// The store key of settlements.
pub const SETTLEMENTS: [u8; 32] = *b"zg-compute/settlements/v1\0\0\0\0\0\0\0";

/// Why the books cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The store failed.
    #[error("the provider's store: {0}")]
    Store(#[from] StoreError),
    /// A stored record does not decode (the store checksums records, so this is a bug
    /// or a store written by another program).
    #[error("record {index} under {what} does not decode: {error}")]
    Corrupt {
        /// Which records.
        what: &'static str,
        /// Its index.
        index: u64,
        /// The decoder's reason.
        error: String,
    },
}

/// One served request as billed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    /// Its sequence number in the books (from 1).
    pub seq: u64,
    /// Who pays.
    pub user: Address,
    /// The completion's `id`.
    pub id: String,
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// prompt_tokens × inputPrice + completion_tokens × outputPrice, wei.
    pub fee: U256,
    /// When it completed, ms since the epoch.
    pub at_ms: u64,
}

/// A settlement of one user's requests up to `through`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// Its number in the books (from 1).
    pub number: u64,
    /// Whose requests.
    pub user: Address,
    /// The sub-account nonce it uses (above the on-chain one).
    pub nonce: U256,
    /// The last request sequence number it covers (every unsettled one of the user up
    /// to it).
    pub through: u64,
    /// Σ fees of those requests, wei.
    pub fee: U256,
    /// keccak256 of the covered requests' ids, in order.
    pub requests_hash: B256,
    /// The contract's status once known (0G's numbering), or [`SENT`] while unknown,
    /// or [`ABANDONED`] when it never reached the chain.
    pub outcome: u8,
}

/// A settlement recorded before its transaction; its outcome is not known yet.
pub const SENT: u8 = 254;
/// A settlement that never reached the chain; its requests stay unsettled.
pub const ABANDONED: u8 = 255;

impl Settlement {
    /// Whether its requests are settled (paid in full or in part).
    pub fn applied(&self) -> bool {
        self.outcome <= 1
    }
}

#[derive(Default)]
struct UserBooks {
    /// Requests after `settled_through`, oldest first.
    unsettled: Vec<Served>,
    settled_through: u64,
    /// Wei admitted for requests still running.
    reserved: U256,
}

struct Books {
    next_seq: u64,
    next_settlement: u64,
    users: HashMap<Address, UserBooks>,
    /// Settlements sent whose outcome is not recorded.
    pending: Vec<Settlement>,
}

/// The books, in memory and in the store.
pub struct Billing {
    store: Store,
    books: Mutex<Books>,
}

fn decode<T: for<'de> Deserialize<'de>>(
    what: &'static str,
    index: u64,
    bytes: &[u8],
) -> Result<T, BillingError> {
    serde_json::from_slice(bytes).map_err(|e| BillingError::Corrupt {
        what,
        index,
        error: e.to_string(),
    })
}

impl Billing {
    /// Opens (or creates) the books in `dir` and rebuilds them.
    pub fn open(dir: &Path) -> Result<Self, BillingError> {
        let (store, _) = Store::open_path(dir, StoreOptions::default())?;
        let mut books = Books {
            next_seq: 1,
            next_settlement: 1,
            users: HashMap::new(),
            pending: Vec::new(),
        };
        let mut settlements = Vec::new();
        for index in store.segment_indices(&SETTLEMENTS) {
            let record = store.get(&SETTLEMENTS, index)?;
            let s: Settlement = decode("settlements", index, &record[..])?;
            books.next_settlement = books.next_settlement.max(index + 1);
            settlements.push(s);
        }
        for s in &settlements {
            if s.applied() {
                let user = books.users.entry(s.user).or_default();
                user.settled_through = user.settled_through.max(s.through);
            } else if s.outcome == SENT {
                books.pending.push(s.clone());
            }
        }
        for index in store.segment_indices(&SERVED) {
            let record = store.get(&SERVED, index)?;
            let served: Served = decode("served requests", index, &record[..])?;
            books.next_seq = books.next_seq.max(index + 1);
            let user = books.users.entry(served.user).or_default();
            if served.seq > user.settled_through {
                user.unsettled.push(served);
            }
        }
        Ok(Self {
            store,
            books: Mutex::new(books),
        })
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fees the user owes that no settlement has collected yet, plus what running
    /// requests have reserved.
    pub fn owed(&self, user: Address) -> U256 {
        let books = self.books();
        books.users.get(&user).map_or(U256::ZERO, |u| {
            u.unsettled.iter().map(|s| s.fee).sum::<U256>() + u.reserved
        })
    }

    /// Fees of served requests not settled yet.
    pub fn unsettled_fee(&self, user: Address) -> U256 {
        let books = self.books();
        books
            .users
            .get(&user)
            .map_or(U256::ZERO, |u| u.unsettled.iter().map(|s| s.fee).sum())
    }

    /// Reserves `amount` for a request if `owed + amount ≤ limit`; false otherwise.
    pub fn reserve(&self, user: Address, amount: U256, limit: U256) -> bool {
        let mut books = self.books();
        let u = books.users.entry(user).or_default();
        let owed = u.unsettled.iter().map(|s| s.fee).sum::<U256>() + u.reserved;
        if owed.saturating_add(amount) > limit {
            return false;
        }
        u.reserved += amount;
        true
    }

    /// Returns a reservation (the request ended, billed or not).
    pub fn release(&self, user: Address, amount: U256) {
        let mut books = self.books();
        if let Some(u) = books.users.get_mut(&user) {
            u.reserved = u.reserved.saturating_sub(amount);
        }
    }

    /// Records a served request durably (fsynced) and returns it with its sequence
    /// number.
    pub fn record(
        &self,
        user: Address,
        id: String,
        prompt_tokens: u64,
        completion_tokens: u64,
        fee: U256,
        at_ms: u64,
    ) -> Result<Served, BillingError> {
        let mut books = self.books();
        let served = Served {
            seq: books.next_seq,
            user,
            id,
            prompt_tokens,
            completion_tokens,
            fee,
            at_ms,
        };
        let payload = serde_json::to_vec(&served).expect("a record serializes");
        self.store.put(SERVED, served.seq, payload)?;
        books.next_seq += 1;
        books
            .users
            .entry(user)
            .or_default()
            .unsettled
            .push(served.clone());
        Ok(served)
    }

    /// Every served request in the books (tests and audits).
    pub fn served(&self) -> Result<Vec<Served>, BillingError> {
        self.store
            .segment_indices(&SERVED)
            .into_iter()
            .map(|index| decode("served requests", index, &self.store.get(&SERVED, index)?[..]))
            .collect()
    }

    /// Users with unsettled fees, and how much.
    pub fn owing(&self) -> Vec<(Address, U256)> {
        let books = self.books();
        let mut out: Vec<_> = books
            .users
            .iter()
            .filter(|(_, u)| !u.unsettled.is_empty())
            .map(|(a, u)| (*a, u.unsettled.iter().map(|s| s.fee).sum()))
            .collect();
        out.sort();
        out
    }

    /// Settlements whose outcome a crash left unknown.
    pub fn pending(&self) -> Vec<Settlement> {
        self.books().pending.clone()
    }

    /// Plans and durably records a settlement of `user`'s unsettled requests with
    /// `nonce`; `None` when nothing is owed.
    pub fn begin(&self, user: Address, nonce: U256) -> Result<Option<Settlement>, BillingError> {
        let mut books = self.books();
        let number = books.next_settlement;
        let Some(u) = books.users.get(&user) else {
            return Ok(None);
        };
        let Some(last) = u.unsettled.last() else {
            return Ok(None);
        };
        let mut ids = Vec::new();
        for s in &u.unsettled {
            ids.extend_from_slice(s.id.as_bytes());
            ids.push(0);
        }
        let settlement = Settlement {
            number,
            user,
            nonce,
            through: last.seq,
            fee: u.unsettled.iter().map(|s| s.fee).sum(),
            requests_hash: keccak256(&ids),
            outcome: SENT,
        };
        self.put_settlement(&settlement)?;
        books.next_settlement += 1;
        books.pending.push(settlement.clone());
        Ok(Some(settlement))
    }

    /// Durably records a settlement's outcome and, when it paid, settles its requests.
    pub fn finish(&self, settlement: &Settlement, outcome: u8) -> Result<(), BillingError> {
        let mut books = self.books();
        let done = Settlement {
            outcome,
            ..settlement.clone()
        };
        self.put_settlement(&done)?;
        books.pending.retain(|s| s.number != settlement.number);
        if done.applied() {
            let u = books.users.entry(done.user).or_default();
            u.settled_through = u.settled_through.max(done.through);
            let through = u.settled_through;
            u.unsettled.retain(|s| s.seq > through);
        }
        Ok(())
    }

    fn put_settlement(&self, s: &Settlement) -> Result<(), BillingError> {
        let payload = serde_json::to_vec(s).expect("a record serializes");
        self.store.put(SETTLEMENTS, s.number, payload)?;
        Ok(())
    }
}
