//! World state: accounts, storage and code in memory, changed block by block through
//! [`StateChanges`], with an honest Merkle-Patricia state root.

use std::convert::Infallible;

use alloy_primitives::map::{AddressMap, AddressSet, B256Map, U256Map};
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256, keccak256};
use alloy_rlp::{RlpDecodable, RlpEncodable};
use alloy_trie::TrieAccount;
use revm::bytecode::Bytecode;
use revm::state::{AccountInfo, EvmState};
use revm::{Database, DatabaseCommit, DatabaseRef};

use super::trie::Trie;

/// One account as the state holds it.
#[derive(Clone, Debug, Default)]
pub struct Account {
    /// Transactions sent (or contracts created) by this account.
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the code; [`KECCAK256_EMPTY`] for accounts without code.
    pub code_hash: B256,
    /// Non-zero storage slots.
    pub storage: U256Map<U256>,
    // The storage trie, updated with every write; hashes cached.
    storage_trie: Trie,
}

impl Account {
    fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && self.code_hash == KECCAK256_EMPTY
    }

    // Writes a slot in the map and the trie; zero deletes it.
    fn set_slot(&mut self, key: U256, value: U256) {
        let hashed = keccak256(key.to_be_bytes::<32>());
        if value.is_zero() {
            self.storage.remove(&key);
            self.storage_trie.remove(&hashed);
        } else {
            self.storage.insert(key, value);
            self.storage_trie.insert(&hashed, alloy_rlp::encode(value));
        }
    }
}

/// What a journaled apply overwrote, to put it back.
#[derive(Debug, Default)]
struct StateUndo {
    // Code first inserted by the apply.
    codes: Vec<B256>,
    accounts: Vec<AccountUndo>,
}

#[derive(Debug)]
enum AccountUndo {
    // The account as it was (or absent), moved out whole.
    Whole {
        address: Address,
        prior: Option<Account>,
    },
    // Nonce, balance and code hash as they were (None: absent), and the old value of
    // every slot written (read before any write, so their order does not matter).
    Fields {
        address: Address,
        prior: Option<(u64, U256, B256)>,
        slots: Vec<(U256, U256)>,
    },
}

/// How one account changed in a block: its new fields, and the storage slots written.
#[derive(Clone, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct AccountChange {
    /// The account.
    pub address: Address,
    /// Removed (self-destructed, or touched and empty): the other fields are ignored.
    pub destroyed: bool,
    /// Storage is wiped before `storage` is applied (a contract created here).
    pub storage_cleared: bool,
    /// New nonce.
    pub nonce: u64,
    /// New balance.
    pub balance: U256,
    /// New code hash; its code is in [`StateChanges::codes`] or already known.
    pub code_hash: B256,
    /// Slots written, as (key, value); a zero value deletes the slot.
    pub storage: Vec<SlotChange>,
}

/// One storage write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SlotChange {
    /// Slot key.
    pub key: U256,
    /// New value.
    pub value: U256,
}

/// Everything a block changed, in a deterministic order (accounts by address).
#[derive(Clone, Debug, Default, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StateChanges {
    /// Changed accounts.
    pub accounts: Vec<AccountChange>,
    /// Code deployed in the block.
    pub codes: Vec<Bytes>,
}

/// The block being executed: the state plus every change of the block's transactions
/// so far. revm reads through it and commits each transaction into it, so the block's
/// diff is built as it executes (no second copy of the changes).
pub struct BlockOverlay<'a> {
    state: &'a State,
    block_hashes: &'a dyn Fn(u64) -> B256,
    accounts: AddressMap<PendingAccount>,
    codes: B256Map<Bytecode>,
}

#[derive(Debug, Default)]
struct PendingAccount {
    destroyed: bool,
    storage_cleared: bool,
    nonce: u64,
    balance: U256,
    code_hash: B256,
    storage: U256Map<U256>,
}

impl<'a> BlockOverlay<'a> {
    /// An overlay with no changes yet over `state`.
    pub fn new(state: &'a State, block_hashes: &'a dyn Fn(u64) -> B256) -> Self {
        Self {
            state,
            block_hashes,
            accounts: AddressMap::default(),
            codes: B256Map::default(),
        }
    }

    fn code(&self, hash: &B256) -> Option<Bytecode> {
        self.codes
            .get(hash)
            .or_else(|| self.state.code.get(hash))
            .cloned()
    }

    /// Adds what one transaction changed (revm's state after it).
    pub fn merge(&mut self, changes: EvmState) {
        for (address, account) in changes {
            if !account.is_touched() {
                continue;
            }
            let pending = self.accounts.entry(address).or_default();
            if account.is_selfdestructed() {
                *pending = PendingAccount {
                    destroyed: true,
                    storage_cleared: true,
                    ..Default::default()
                };
                continue;
            }
            if account.is_created() {
                pending.storage.clear();
                pending.storage_cleared = true;
                if let Some(code) = &account.info.code
                    && account.info.code_hash != KECCAK256_EMPTY
                {
                    self.codes
                        .entry(account.info.code_hash)
                        .or_insert_with(|| code.clone());
                }
            }
            pending.destroyed = false;
            pending.nonce = account.info.nonce;
            pending.balance = account.info.balance;
            pending.code_hash = account.info.code_hash;
            for (key, slot) in account.storage {
                if slot.is_changed() {
                    pending.storage.insert(key, slot.present_value);
                }
            }
        }
    }

    /// The block's changes, in a deterministic order (accounts and slots sorted).
    pub fn finish(self) -> StateChanges {
        let mut accounts: Vec<AccountChange> = self
            .accounts
            .into_iter()
            .map(|(address, pending)| {
                let mut storage: Vec<SlotChange> = pending
                    .storage
                    .into_iter()
                    .map(|(key, value)| SlotChange { key, value })
                    .collect();
                storage.sort_unstable_by_key(|slot| slot.key);
                AccountChange {
                    address,
                    destroyed: pending.destroyed,
                    storage_cleared: pending.storage_cleared,
                    nonce: pending.nonce,
                    balance: pending.balance,
                    code_hash: pending.code_hash,
                    storage,
                }
            })
            .collect();
        accounts.sort_unstable_by_key(|change| change.address);
        let mut codes: Vec<(B256, Bytes)> = self
            .codes
            .into_iter()
            .map(|(hash, code)| (hash, code.original_bytes()))
            .collect();
        codes.sort_unstable_by_key(|(hash, _)| *hash);
        StateChanges {
            accounts,
            codes: codes.into_iter().map(|(_, code)| code).collect(),
        }
    }
}

impl Database for BlockOverlay<'_> {
    type Error = Infallible;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Infallible> {
        let Some(pending) = self.accounts.get(&address) else {
            return self.state.database(self.block_hashes).basic_ref(address);
        };
        if pending.destroyed {
            return Ok(None);
        }
        Ok(Some(AccountInfo {
            balance: pending.balance,
            nonce: pending.nonce,
            code_hash: pending.code_hash,
            account_id: None,
            code: self.code(&pending.code_hash),
        }))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Infallible> {
        Ok(self.code(&code_hash).unwrap_or_default())
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Infallible> {
        if let Some(pending) = self.accounts.get(&address) {
            if let Some(value) = pending.storage.get(&index) {
                return Ok(*value);
            }
            if pending.storage_cleared {
                return Ok(U256::ZERO);
            }
        }
        Ok(self.state.storage(&address, index))
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Infallible> {
        Ok((self.block_hashes)(number))
    }
}

impl DatabaseCommit for BlockOverlay<'_> {
    fn commit(&mut self, changes: EvmState) {
        self.merge(changes);
    }
}

/// The world state at the head of the chain.
#[derive(Clone, Debug, Default)]
pub struct State {
    accounts: AddressMap<Account>,
    code: B256Map<Bytecode>,
    // The account trie, brought up to date by `root` for the accounts in `dirty`.
    trie: Trie,
    dirty: AddressSet,
}

impl State {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The account at `address`, if it exists.
    pub fn account(&self, address: &Address) -> Option<&Account> {
        self.accounts.get(address)
    }

    /// Every account, in no particular order.
    pub fn accounts(&self) -> impl Iterator<Item = (&Address, &Account)> {
        self.accounts.iter()
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether no account exists.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Storage slot `key` of `address` (zero when unset).
    pub fn storage(&self, address: &Address, key: U256) -> U256 {
        self.accounts
            .get(address)
            .and_then(|account| account.storage.get(&key).copied())
            .unwrap_or_default()
    }

    /// The code of `address` (empty for accounts without code).
    pub fn code_of(&self, address: &Address) -> Bytes {
        self.accounts
            .get(address)
            .and_then(|account| self.code.get(&account.code_hash))
            .map(Bytecode::original_bytes)
            .unwrap_or_default()
    }

    /// Applies a block's changes.
    pub fn apply(&mut self, changes: &StateChanges) {
        self.apply_inner(changes, None);
    }

    /// The state root the state would have with `changes` applied, leaving the state
    /// as it was: how a block is sealed or checked before consensus decides it.
    pub fn root_after(&mut self, changes: &StateChanges) -> B256 {
        let mut undo = StateUndo::default();
        self.apply_inner(changes, Some(&mut undo));
        let root = self.root();
        self.revert(undo);
        root
    }

    // Applies `changes`; with a journal, records what each change overwrote (fields
    // and the slots written, or a whole account moved out when it is destroyed or
    // its storage cleared), so no account's storage is ever copied.
    fn apply_inner(&mut self, changes: &StateChanges, mut journal: Option<&mut StateUndo>) {
        for code in &changes.codes {
            let hash = keccak256(code);
            if let std::collections::hash_map::Entry::Vacant(slot) = self.code.entry(hash) {
                slot.insert(Bytecode::new_raw(code.clone()));
                if let Some(journal) = journal.as_deref_mut() {
                    journal.codes.push(hash);
                }
            }
        }
        for change in &changes.accounts {
            self.dirty.insert(change.address);
            if change.destroyed {
                let prior = self.accounts.remove(&change.address);
                if let Some(journal) = journal.as_deref_mut() {
                    journal.accounts.push(AccountUndo::Whole {
                        address: change.address,
                        prior,
                    });
                }
                continue;
            }
            let existing = self.accounts.get(&change.address);
            let clears = change.storage_cleared && existing.is_some_and(|a| !a.storage.is_empty());
            if let Some(journal) = journal.as_deref_mut() {
                if clears {
                    // Move the account out whole; it restarts with empty storage.
                    if let Some(account) = self.accounts.get_mut(&change.address) {
                        let fresh = Account {
                            nonce: account.nonce,
                            balance: account.balance,
                            code_hash: account.code_hash,
                            ..Account::default()
                        };
                        journal.accounts.push(AccountUndo::Whole {
                            address: change.address,
                            prior: Some(std::mem::replace(account, fresh)),
                        });
                    }
                } else {
                    let slots = change
                        .storage
                        .iter()
                        .map(|slot| {
                            let prior = existing.and_then(|a| a.storage.get(&slot.key).copied());
                            (slot.key, prior.unwrap_or_default())
                        })
                        .collect();
                    journal.accounts.push(AccountUndo::Fields {
                        address: change.address,
                        prior: existing.map(|a| (a.nonce, a.balance, a.code_hash)),
                        slots,
                    });
                }
            }
            let account = self.accounts.entry(change.address).or_insert_with(|| Account {
                code_hash: KECCAK256_EMPTY,
                ..Account::default()
            });
            if change.storage_cleared && !account.storage.is_empty() {
                account.storage.clear();
                account.storage_trie = Trie::new();
            }
            account.nonce = change.nonce;
            account.balance = change.balance;
            account.code_hash = change.code_hash;
            for slot in &change.storage {
                account.set_slot(slot.key, slot.value);
            }
            // EIP-161: touched empty accounts do not exist.
            if account.is_empty() && account.storage.is_empty() {
                self.accounts.remove(&change.address);
            }
        }
    }

    // Puts back what a journaled apply overwrote, newest change first.
    fn revert(&mut self, undo: StateUndo) {
        for entry in undo.accounts.into_iter().rev() {
            match entry {
                AccountUndo::Whole { address, prior } => {
                    self.dirty.insert(address);
                    match prior {
                        Some(account) => self.accounts.insert(address, account),
                        None => self.accounts.remove(&address),
                    };
                }
                AccountUndo::Fields {
                    address,
                    prior,
                    slots,
                } => {
                    self.dirty.insert(address);
                    let Some((nonce, balance, code_hash)) = prior else {
                        // It did not exist, so none of its slots did either.
                        self.accounts.remove(&address);
                        continue;
                    };
                    let account = self.accounts.entry(address).or_default();
                    account.nonce = nonce;
                    account.balance = balance;
                    account.code_hash = code_hash;
                    for (key, value) in slots {
                        account.set_slot(key, value);
                    }
                }
            }
        }
        for hash in undo.codes {
            self.code.remove(&hash);
        }
    }

    /// The Merkle-Patricia root of the state. Tries keep their node hashes, so only
    /// the paths to accounts and slots changed since the last call are re-hashed.
    pub fn root(&mut self) -> B256 {
        for address in self.dirty.drain() {
            let key = keccak256(address);
            match self.accounts.get_mut(&address) {
                Some(account) => {
                    let leaf = TrieAccount {
                        nonce: account.nonce,
                        balance: account.balance,
                        storage_root: account.storage_trie.root(),
                        code_hash: account.code_hash,
                    };
                    self.trie.insert(&key, alloy_rlp::encode(leaf));
                }
                None => self.trie.remove(&key),
            }
        }
        self.trie.root()
    }

    /// A read-only revm database over this state; `block_hash` answers BLOCKHASH.
    pub fn database<'a>(&'a self, block_hashes: &'a dyn Fn(u64) -> B256) -> StateDb<'a> {
        StateDb {
            state: self,
            block_hashes,
        }
    }
}

/// revm's view of a [`State`] during execution.
pub struct StateDb<'a> {
    state: &'a State,
    block_hashes: &'a dyn Fn(u64) -> B256,
}

impl DatabaseRef for StateDb<'_> {
    type Error = Infallible;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Infallible> {
        Ok(self.state.accounts.get(&address).map(|account| AccountInfo {
            balance: account.balance,
            nonce: account.nonce,
            code_hash: account.code_hash,
            account_id: None,
            code: self.state.code.get(&account.code_hash).cloned(),
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Infallible> {
        Ok(self.state.code.get(&code_hash).cloned().unwrap_or_default())
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Infallible> {
        Ok(self.state.storage(&address, index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Infallible> {
        Ok((self.block_hashes)(number))
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    // Few addresses, keys and values, so that changes collide with what exists.
    fn random_changes(rng: &mut StdRng) -> StateChanges {
        let codes: Vec<Bytes> = (0..rng.random_range(0..3u8))
            .map(|i| Bytes::from(vec![0x60, i, 0x00]))
            .collect();
        let mut accounts: Vec<AccountChange> = (0..rng.random_range(1..12))
            .map(|_| {
                let code_hash = match (rng.random_bool(0.3), codes.first()) {
                    (true, Some(code)) => keccak256(code),
                    _ => KECCAK256_EMPTY,
                };
                AccountChange {
                    address: Address::with_last_byte(rng.random_range(0..16)),
                    destroyed: rng.random_bool(0.1),
                    storage_cleared: rng.random_bool(0.15),
                    nonce: rng.random_range(0..3),
                    balance: U256::from(rng.random_range(0..3u64)),
                    code_hash,
                    storage: (0..rng.random_range(0..8))
                        .map(|_| SlotChange {
                            key: U256::from(rng.random_range(0..10u64)),
                            value: U256::from(rng.random_range(0..3u64)),
                        })
                        .collect(),
                }
            })
            .collect();
        accounts.sort_by_key(|a| a.address);
        accounts.dedup_by_key(|a| a.address);
        StateChanges { accounts, codes }
    }

    // Address, nonce, balance, code hash and sorted slots of every account.
    type Snapshot = Vec<(Address, u64, U256, B256, Vec<(U256, U256)>)>;

    fn snapshot(state: &State) -> Snapshot {
        let mut accounts: Vec<_> = state
            .accounts()
            .map(|(address, a)| {
                let mut slots: Vec<_> = a.storage.iter().map(|(k, v)| (*k, *v)).collect();
                slots.sort();
                (*address, a.nonce, a.balance, a.code_hash, slots)
            })
            .collect();
        accounts.sort_by_key(|a| a.0);
        accounts
    }

    #[test]
    fn root_after_equals_applying_and_leaves_the_state_as_it_was() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut state = State::new();
        for round in 0..400 {
            let changes = random_changes(&mut rng);
            let before = snapshot(&state);
            let mut codes_before: Vec<B256> = state.code.keys().copied().collect();
            codes_before.sort();
            let root_before = state.root();
            let mut applied = state.clone();
            applied.apply(&changes);
            let expected = applied.root();
            assert_eq!(state.root_after(&changes), expected, "round {round}");
            assert_eq!(snapshot(&state), before, "round {round}: the state changed");
            assert_eq!(state.root(), root_before, "round {round}: the root changed");
            let mut codes_after: Vec<B256> = state.code.keys().copied().collect();
            codes_after.sort();
            assert_eq!(codes_after, codes_before, "round {round}: code was left behind");
            // Move on: the next round starts from the applied state (half the time).
            if rng.random_bool(0.5) {
                state.apply(&changes);
                assert_eq!(state.root(), expected);
            }
        }
    }
}
