//! 0G DA on chain: DASigners (signers' BN254 keys and sockets, epochs and their
//! quorums), the DARegistry signers register through, and DAEntrance (blob fees,
//! `DataUpload`, quorum certificates checked with a pairing).
//!
//! Where zg differs from 0G (a dev chain's conveniences, said in the README): a signer
//! has one vote and stays registered from the epoch it joined; a new epoch starts when
//! the registered set has grown, or `epochBlocks` after the last, at the next `sync`;
//! an epoch holds one quorum whose 3072 rows go to its members in contiguous runs
//! (member `i` of `n`, in the epoch's hash order, holds rows `⌈3072·i/n⌉..⌈3072·(i+1)/n⌉`).
//!
//! Storage layout. DASigners: 0 epoch number, 1 signer count, 2 "the set grew" flag, 3
//! the block the epoch began; signer `s` at `slot_of(1, [s])` + field: 0 list position
//! + 1, 1–2 pkG1 (x, y), 3–6 pkG2 (x.c0, x.c1, y.c0, y.c1), 7 the first epoch it is
//!   registered for (0: none), 8 socket (string); list entry `i` at `slot_of(2, [i])`;
//!   epoch `e`'s member count at `slot_of(3, [e])`, member `i` at `slot_of(3, [e, i])`.
//!   DAEntrance: 0 blob price, 1 quorum index, 2 owner; a verified (root, epoch, quorum)
//!   at `slot_of(1, [root, epoch, quorum])` + 0 flag, 1–2 the commitment (x, y).

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{Revert, SolCall, SolError, SolEvent};
use ark_bn254::{G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use revm::context_interface::JournalTr;
use zg_blob::zerog_bls as bls;
use zg_contracts::da::{
    CommitRootSubmission, DA_ENTRANCE_ADDRESS, DA_REGISTRY_ADDRESS, DA_SIGNERS_ADDRESS, ENCODED_SLICES,
    EPOCH_BLOCKS, G1Point, G2Point, IDAEntrance as E, IDARegistry as R, IDASigners as S, MAX_QUORUMS,
    MAX_SOCKET, MAX_VOTES_PER_SIGNER, Params, SLICE_DENOMINATOR, SLICE_NUMERATOR, SignerDetail,
    TOKENS_PER_VOTE, bitmap_has, blob_fee, reason,
};

use super::{Stop, SystemCall, SystemConfig, address_of, selector, slot_of, word};

const EPOCH: U256 = U256::ZERO;
const SIGNER_COUNT: U256 = U256::from_limbs([1, 0, 0, 0]);
const GREW: U256 = U256::from_limbs([2, 0, 0, 0]);
const EPOCH_START: U256 = U256::from_limbs([3, 0, 0, 0]);
const SIGNER: u8 = 1;
const SIGNER_LIST: u8 = 2;
const MEMBERS: u8 = 3;
const F_POSITION: u64 = 0;
const F_PK_G1: u64 = 1;
const F_FROM_EPOCH: u64 = 7;
const F_SOCKET: u64 = 8;

const BLOB_PRICE: U256 = U256::ZERO;
const QUORUM_INDEX: U256 = U256::from_limbs([1, 0, 0, 0]);
const OWNER: U256 = U256::from_limbs([2, 0, 0, 0]);
const VERIFIED: u8 = 1;

// Gas, as 0G's precompile charges (0G-DA-WIRE.md §2.5).
const SMALL_VIEW_GAS: u64 = 1_000;
const SIGNER_VIEW_GAS: u64 = 10_000;
const LIST_VIEW_GAS: u64 = 100_000;
const AGG_GAS: u64 = 1_000_000;
const REGISTER_GAS: u64 = 100_000;
const SOCKET_GAS: u64 = 50_000;
const MAKE_EPOCH_GAS: u64 = 100_000;
/// A pairing check of two pairs (EIP-1108's price).
const PAIRING_GAS: u64 = 45_000 + 2 * 34_000;

/// DAEntrance's genesis storage: the blob price and the owner who may change it.
pub(super) fn entrance_genesis(config: &SystemConfig) -> Vec<(U256, U256)> {
    vec![
        (BLOB_PRICE, config.da_blob_price),
        (OWNER, word(config.compute_owner)),
    ]
}

/// A revert with Solidity's `Error(string)`.
fn fail(text: &str) -> Stop {
    Stop::Revert(Revert::from(text).abi_encode().into())
}

fn g1_point(p: &G1Affine) -> G1Point {
    G1Point::from_words(bls::g1_words(p))
}

fn g1_of(p: &G1Point) -> Option<G1Affine> {
    let (x, y) = p.words();
    bls::g1_from_words(&x, &y)
}

/// A key as a signer registers it: `[c0, c1]` per coordinate.
fn g2_of_signer(p: &G2Point) -> Option<G2Affine> {
    let [x0, x1, y0, y1] = p.signer_words();
    bls::g2_from_words(&x0, &x1, &y0, &y1)
}

/// A certificate's aggregate key: EIP-197 order, `[c1, c0]` per coordinate.
fn g2_of_eip197(p: &G2Point) -> Option<G2Affine> {
    let [x0, x1, y0, y1] = p.eip197_words();
    bls::g2_from_words(&x0, &x1, &y0, &y1)
}

/// The member of `n` holding `row` of a quorum.
pub fn row_member(row: usize, n: usize) -> usize {
    row * n / ENCODED_SLICES
}

fn small(n: U256) -> Option<u64> {
    u64::try_from(n).ok()
}

impl<J: JournalTr> SystemCall<'_, J> {
    pub(super) fn da_signers(&mut self, input: &[u8]) -> Result<Bytes, Stop> {
        let selector = selector(input)?;
        let bad = |_| Stop::Revert(Bytes::new());
        match selector {
            S::paramsCall::SELECTOR => {
                self.charge(SMALL_VIEW_GAS)?;
                self.view(&Params {
                    tokensPerVote: U256::from(TOKENS_PER_VOTE),
                    maxVotesPerSigner: U256::from(MAX_VOTES_PER_SIGNER),
                    maxQuorums: U256::from(MAX_QUORUMS),
                    epochBlocks: U256::from(EPOCH_BLOCKS),
                    encodedSlices: U256::from(ENCODED_SLICES),
                })
            }
            S::epochNumberCall::SELECTOR => {
                self.charge(SMALL_VIEW_GAS)?;
                let epoch = self.sload(DA_SIGNERS_ADDRESS, EPOCH)?;
                self.view(&epoch)
            }
            S::quorumCountCall::SELECTOR => {
                let call = S::quorumCountCall::abi_decode(input).map_err(bad)?;
                self.charge(SMALL_VIEW_GAS)?;
                let count = self.quorum_count(call._epoch)?;
                self.view(&U256::from(count))
            }
            S::isSignerCall::SELECTOR => {
                let call = S::isSignerCall::abi_decode(input).map_err(bad)?;
                self.charge(SIGNER_VIEW_GAS)?;
                let known = self.is_signer(call._account)?;
                self.view(&known)
            }
            S::getSignerCall::SELECTOR => {
                let call = S::getSignerCall::abi_decode(input).map_err(bad)?;
                self.charge(LIST_VIEW_GAS)?;
                let mut out = Vec::with_capacity(call._account.len().min(1024));
                for account in call._account {
                    if !self.is_signer(account)? {
                        return Err(fail("DASigners: signer not found"));
                    }
                    out.push(self.signer(account)?);
                }
                self.view(&out)
            }
            S::getQuorumCall::SELECTOR => {
                let call = S::getQuorumCall::abi_decode(input).map_err(bad)?;
                self.charge(LIST_VIEW_GAS)?;
                let members = self.quorum(call._epoch, call._quorumId)?;
                let rows: Vec<Address> = (0..ENCODED_SLICES)
                    .map(|r| members[row_member(r, members.len())])
                    .collect();
                self.view(&rows)
            }
            S::getQuorumRowCall::SELECTOR => {
                let call = S::getQuorumRowCall::abi_decode(input).map_err(bad)?;
                self.charge(SIGNER_VIEW_GAS)?;
                let members = self.quorum(call._epoch, call._quorumId)?;
                let row = call._rowIndex as usize;
                if row >= ENCODED_SLICES {
                    return Err(fail("DASigners: row index out of bound"));
                }
                self.view(&members[row_member(row, members.len())])
            }
            S::registeredEpochCall::SELECTOR => {
                let call = S::registeredEpochCall::abi_decode(input).map_err(bad)?;
                self.charge(SIGNER_VIEW_GAS)?;
                let from = self.sload(DA_SIGNERS_ADDRESS, field(call._account, F_FROM_EPOCH))?;
                self.view(&(!from.is_zero() && from <= call._epoch))
            }
            S::getAggPkG1Call::SELECTOR => {
                let call = S::getAggPkG1Call::abi_decode(input).map_err(bad)?;
                self.charge(AGG_GAS)?;
                let (agg, total, hit) = self.agg_pk_g1(call._epoch, call._quorumId, &call._quorumBitmap)?;
                self.view_bytes(S::getAggPkG1Call::abi_encode_returns(&S::getAggPkG1Return {
                    aggPkG1: g1_point(&agg),
                    total: U256::from(total),
                    hit: U256::from(hit),
                }))
            }
            S::registerSignerCall::SELECTOR => {
                let call = S::registerSignerCall::abi_decode(input).map_err(bad)?;
                self.mutating(DA_SIGNERS_ADDRESS, false)?;
                let caller = self.inputs.caller;
                if caller != call._signer.signer && caller != DA_REGISTRY_ADDRESS {
                    return Err(fail("DASigners: sender is not the signer"));
                }
                self.register_signer(&call._signer, &call._signature)?;
                Ok(Bytes::new())
            }
            S::registerNextEpoch_0Call::SELECTOR => {
                let call = S::registerNextEpoch_0Call::abi_decode(input).map_err(bad)?;
                self.mutating(DA_SIGNERS_ADDRESS, false)?;
                if self.inputs.caller != DA_REGISTRY_ADDRESS {
                    return Err(fail("DASigners: only the registry"));
                }
                self.register_next_epoch(call._account, &call._signature)?;
                Ok(Bytes::new())
            }
            S::registerNextEpoch_1Call::SELECTOR => {
                let call = S::registerNextEpoch_1Call::abi_decode(input).map_err(bad)?;
                self.mutating(DA_SIGNERS_ADDRESS, false)?;
                self.register_next_epoch(self.inputs.caller, &call._signature)?;
                Ok(Bytes::new())
            }
            S::updateSocketCall::SELECTOR => {
                let call = S::updateSocketCall::abi_decode(input).map_err(bad)?;
                self.mutating(DA_SIGNERS_ADDRESS, false)?;
                self.charge(SOCKET_GAS)?;
                let caller = self.inputs.caller;
                if caller != self.origin {
                    return Err(fail("DASigners: sender is not the origin"));
                }
                if !self.is_signer(caller)? {
                    return Err(fail("DASigners: signer not found"));
                }
                self.set_socket(caller, &call._socket)?;
                Ok(Bytes::new())
            }
            S::makeEpochCall::SELECTOR => {
                self.mutating(DA_SIGNERS_ADDRESS, false)?;
                self.make_epoch()?;
                Ok(Bytes::new())
            }
            _ => Err(Stop::Revert(Bytes::new())),
        }
    }

    /// The registry: the signer registers itself, from its own account (tx.origin).
    pub(super) fn da_registry(&mut self, input: &[u8]) -> Result<Bytes, Stop> {
        let bad = |_| Stop::Revert(Bytes::new());
        self.mutating(DA_REGISTRY_ADDRESS, false)?;
        let caller = self.inputs.caller;
        if caller != self.origin {
            return Err(fail("DARegistry: sender must be the origin"));
        }
        match input.get(..4) {
            Some(s) if s == R::registerSignerCall::SELECTOR => {
                let call = R::registerSignerCall::abi_decode(input).map_err(bad)?;
                if call._signer.signer != caller {
                    return Err(fail("DARegistry: sender is not the signer"));
                }
                self.register_signer(&call._signer, &call._signature)?;
            }
            Some(s) if s == R::registerNextEpochCall::SELECTOR => {
                let call = R::registerNextEpochCall::abi_decode(input).map_err(bad)?;
                self.register_next_epoch(caller, &call._signature)?;
            }
            _ => return Err(Stop::Revert(Bytes::new())),
        }
        Ok(Bytes::new())
    }

    pub(super) fn da_entrance(&mut self, input: &[u8]) -> Result<Bytes, Stop> {
        let selector = selector(input)?;
        let bad = |_| Stop::Revert(Bytes::new());
        match selector {
            E::submitOriginalDataCall::SELECTOR => {
                let call = E::submitOriginalDataCall::abi_decode(input).map_err(bad)?;
                let value = self.mutating(DA_ENTRANCE_ADDRESS, true)?;
                self.make_epoch()?;
                let price = self.sload(DA_ENTRANCE_ADDRESS, BLOB_PRICE)?;
                match blob_fee(call._dataRoots.len(), price) {
                    Some(fee) if fee <= value => {}
                    _ => return Err(fail(reason::NOT_ENOUGH_FEE)),
                }
                let epoch = self.sload(DA_SIGNERS_ADDRESS, EPOCH)?;
                let count = self.quorum_count(epoch)?;
                if count == 0 {
                    return Err(fail(reason::NO_SIGNERS));
                }
                let index =
                    (self.sload(DA_ENTRANCE_ADDRESS, QUORUM_INDEX)? + U256::from(1)) % U256::from(count);
                self.write(DA_ENTRANCE_ADDRESS, QUORUM_INDEX, index)?;
                for root in call._dataRoots {
                    let event = E::DataUpload {
                        sender: self.inputs.caller,
                        dataRoot: root,
                        epoch,
                        quorumId: index,
                        blobPrice: price,
                    };
                    self.emit(DA_ENTRANCE_ADDRESS, event.encode_log_data())?;
                }
                Ok(Bytes::new())
            }
            E::submitVerifiedCommitRootsCall::SELECTOR => {
                let call = E::submitVerifiedCommitRootsCall::abi_decode(input).map_err(bad)?;
                self.mutating(DA_ENTRANCE_ADDRESS, false)?;
                for submission in &call._submissions {
                    self.verify_commit_root(submission)?;
                }
                Ok(Bytes::new())
            }
            E::verifiedErasureCommitmentCall::SELECTOR => {
                let call = E::verifiedErasureCommitmentCall::abi_decode(input).map_err(bad)?;
                let at = verified_slot(call._dataRoot, call._epoch, call._quorumId);
                let x = self.sload(DA_ENTRANCE_ADDRESS, at + U256::from(1))?;
                let y = self.sload(DA_ENTRANCE_ADDRESS, at + U256::from(2))?;
                self.view(&G1Point { X: x, Y: y })
            }
            E::commitmentExistsCall::SELECTOR => {
                let call = E::commitmentExistsCall::abi_decode(input).map_err(bad)?;
                let at = verified_slot(call._dataRoot, call._epoch, call._quorumId);
                let exists = !self.sload(DA_ENTRANCE_ADDRESS, at)?.is_zero();
                self.view(&exists)
            }
            E::blobPriceCall::SELECTOR => {
                let price = self.sload(DA_ENTRANCE_ADDRESS, BLOB_PRICE)?;
                self.view(&price)
            }
            E::setBlobPriceCall::SELECTOR => {
                let call = E::setBlobPriceCall::abi_decode(input).map_err(bad)?;
                self.mutating(DA_ENTRANCE_ADDRESS, false)?;
                let owner = address_of(self.sload(DA_ENTRANCE_ADDRESS, OWNER)?);
                if owner.is_zero() || owner != self.inputs.caller {
                    return Err(fail("DAEntrance: caller is not the owner"));
                }
                self.write(DA_ENTRANCE_ADDRESS, BLOB_PRICE, call._blobPrice)?;
                Ok(Bytes::new())
            }
            E::currentEpochCall::SELECTOR => {
                let epoch = self.sload(DA_SIGNERS_ADDRESS, EPOCH)?;
                self.view(&epoch)
            }
            E::syncCall::SELECTOR | E::syncFixedTimesCall::SELECTOR => {
                self.mutating(DA_ENTRANCE_ADDRESS, false)?;
                self.make_epoch()?;
                Ok(Bytes::new())
            }
            E::DA_SIGNERSCall::SELECTOR => self.view(&DA_SIGNERS_ADDRESS),
            E::SLICE_NUMERATORCall::SELECTOR => self.view(&U256::from(SLICE_NUMERATOR)),
            E::SLICE_DENOMINATORCall::SELECTOR => self.view(&U256::from(SLICE_DENOMINATOR)),
            _ => Err(Stop::Revert(Bytes::new())),
        }
    }

    fn is_signer(&mut self, account: Address) -> Result<bool, Stop> {
        Ok(!self
            .sload(DA_SIGNERS_ADDRESS, field(account, F_POSITION))?
            .is_zero())
    }

    /// A signer's keys as stored: pkG1 (x, y), then pkG2 (x.c0, x.c1, y.c0, y.c1).
    fn signer_keys(&mut self, account: Address) -> Result<[U256; 6], Stop> {
        let mut words = [U256::ZERO; 6];
        for (i, w) in words.iter_mut().enumerate() {
            *w = self.sload(DA_SIGNERS_ADDRESS, field(account, F_PK_G1 + i as u64))?;
        }
        Ok(words)
    }

    fn signer(&mut self, account: Address) -> Result<SignerDetail, Stop> {
        let words = self.signer_keys(account)?;
        let socket = self.read_string(DA_SIGNERS_ADDRESS, field(account, F_SOCKET))?;
        Ok(SignerDetail {
            signer: account,
            socket,
            pkG1: G1Point {
                X: words[0],
                Y: words[1],
            },
            pkG2: G2Point {
                X: [words[2], words[3]],
                Y: [words[4], words[5]],
            },
        })
    }

    fn set_socket(&mut self, account: Address, socket: &str) -> Result<(), Stop> {
        if socket.len() > MAX_SOCKET {
            return Err(fail("DASigners: socket longer than 96 bytes"));
        }
        self.write_string(DA_SIGNERS_ADDRESS, field(account, F_SOCKET), socket)?;
        let event = S::SocketUpdated {
            signer: account,
            socket: socket.to_owned(),
        };
        self.emit(DA_SIGNERS_ADDRESS, event.encode_log_data())
    }

    /// A new signer, with proof that it holds the secret of both keys.
    fn register_signer(&mut self, detail: &SignerDetail, signature: &G1Point) -> Result<(), Stop> {
        self.charge(REGISTER_GAS)?;
        let account = detail.signer;
        if self.is_signer(account)? {
            return Err(fail("DASigners: signer exists"));
        }
        let (Some(pk1), Some(pk2), Some(sig)) =
            (g1_of(&detail.pkG1), g2_of_signer(&detail.pkG2), g1_of(signature))
        else {
            return Err(fail("DASigners: invalid public key or signature"));
        };
        let digest = bls::registration_digest(&account.0.0, self.chain_id);
        if !bls::keys_match(&pk1, &pk2) || !bls::verify(&pk2, &digest, &sig) {
            return Err(fail("DASigners: invalid signature"));
        }
        let count = self.sload(DA_SIGNERS_ADDRESS, SIGNER_COUNT)?;
        self.write(DA_SIGNERS_ADDRESS, slot_of(SIGNER_LIST, &[count]), word(account))?;
        self.write(DA_SIGNERS_ADDRESS, SIGNER_COUNT, count + U256::from(1))?;
        self.write(
            DA_SIGNERS_ADDRESS,
            field(account, F_POSITION),
            count + U256::from(1),
        )?;
        let words = [
            detail.pkG1.X,
            detail.pkG1.Y,
            detail.pkG2.X[0],
            detail.pkG2.X[1],
            detail.pkG2.Y[0],
            detail.pkG2.Y[1],
        ];
        for (i, w) in words.into_iter().enumerate() {
            self.write(DA_SIGNERS_ADDRESS, field(account, F_PK_G1 + i as u64), w)?;
        }
        let event = S::NewSigner {
            signer: account,
            pkG1: detail.pkG1.clone(),
            pkG2: detail.pkG2.clone(),
        };
        self.emit(DA_SIGNERS_ADDRESS, event.encode_log_data())?;
        self.set_socket(account, &detail.socket)
    }

    /// Registers `account` from the next epoch on, signed for that epoch.
    fn register_next_epoch(&mut self, account: Address, signature: &G1Point) -> Result<(), Stop> {
        self.charge(REGISTER_GAS)?;
        if !self.is_signer(account)? {
            return Err(fail("DASigners: signer not found"));
        }
        let epoch = self.sload(DA_SIGNERS_ADDRESS, EPOCH)?;
        let next = small(epoch)
            .and_then(|e| e.checked_add(1))
            .ok_or(Stop::Revert(Bytes::new()))?;
        let [_, _, x0, x1, y0, y1] = self.signer_keys(account)?;
        let pk2 = g2_of_signer(&G2Point {
            X: [x0, x1],
            Y: [y0, y1],
        })
        .ok_or_else(|| Stop::Fatal("a stored signer key is corrupt".into()))?;
        let digest = bls::epoch_registration_digest(&account.0.0, next, self.chain_id);
        if !g1_of(signature).is_some_and(|sig| bls::verify(&pk2, &digest, &sig)) {
            return Err(fail("DASigners: invalid signature"));
        }
        if self
            .sload(DA_SIGNERS_ADDRESS, field(account, F_FROM_EPOCH))?
            .is_zero()
        {
            self.write(DA_SIGNERS_ADDRESS, field(account, F_FROM_EPOCH), U256::from(next))?;
            self.write(DA_SIGNERS_ADDRESS, GREW, U256::from(1))?;
        }
        Ok(())
    }

    /// Starts the next epoch when the registered set grew or the epoch ran its
    /// blocks: its members, in the order of keccak(epoch ‖ address).
    fn make_epoch(&mut self) -> Result<(), Stop> {
        self.charge(MAKE_EPOCH_GAS)?;
        let grew = !self.sload(DA_SIGNERS_ADDRESS, GREW)?.is_zero();
        let start = self.sload(DA_SIGNERS_ADDRESS, EPOCH_START)?;
        let epoch = self.sload(DA_SIGNERS_ADDRESS, EPOCH)?;
        let expired = self.block_number >= start.saturating_add(U256::from(EPOCH_BLOCKS)) && !epoch.is_zero();
        if !grew && !expired {
            return Ok(());
        }
        let next = epoch + U256::from(1);
        let count = small(self.sload(DA_SIGNERS_ADDRESS, SIGNER_COUNT)?).unwrap_or(0);
        let mut members = Vec::new();
        for i in 0..count {
            let account = address_of(self.sload(DA_SIGNERS_ADDRESS, slot_of(SIGNER_LIST, &[U256::from(i)]))?);
            let from = self.sload(DA_SIGNERS_ADDRESS, field(account, F_FROM_EPOCH))?;
            if !from.is_zero() && from <= next {
                members.push(account);
            }
        }
        let order = |a: &Address| {
            let mut pre = next.to_be_bytes::<32>().to_vec();
            pre.extend_from_slice(a.as_slice());
            keccak256(pre)
        };
        members.sort_by_cached_key(order);
        for (i, m) in members.iter().enumerate() {
            self.write(
                DA_SIGNERS_ADDRESS,
                slot_of(MEMBERS, &[next, U256::from(i)]),
                word(*m),
            )?;
        }
        self.write(
            DA_SIGNERS_ADDRESS,
            slot_of(MEMBERS, &[next]),
            U256::from(members.len()),
        )?;
        self.write(DA_SIGNERS_ADDRESS, EPOCH, next)?;
        self.write(DA_SIGNERS_ADDRESS, GREW, U256::ZERO)?;
        self.write(DA_SIGNERS_ADDRESS, EPOCH_START, self.block_number)
    }

    /// Quorums of `epoch`: one once it has members, none before or beyond the current.
    fn quorum_count(&mut self, epoch: U256) -> Result<u64, Stop> {
        if epoch > self.sload(DA_SIGNERS_ADDRESS, EPOCH)? {
            return Ok(0);
        }
        let members = self.sload(DA_SIGNERS_ADDRESS, slot_of(MEMBERS, &[epoch]))?;
        Ok(u64::from(!members.is_zero()))
    }

    /// The members of a quorum, in row order.
    fn quorum(&mut self, epoch: U256, quorum_id: U256) -> Result<Vec<Address>, Stop> {
        if quorum_id >= U256::from(self.quorum_count(epoch)?) {
            return Err(fail("DASigners: quorum does not exist"));
        }
        let n = small(self.sload(DA_SIGNERS_ADDRESS, slot_of(MEMBERS, &[epoch]))?).unwrap_or(0);
        (0..n)
            .map(|i| {
                self.sload(DA_SIGNERS_ADDRESS, slot_of(MEMBERS, &[epoch, U256::from(i)]))
                    .map(address_of)
            })
            .collect()
    }

    /// The sum of the G1 keys of the signers whose rows the bitmap marks, the rows in
    /// all, and the rows counted as signed. As 0G's precompile counts: a row whose
    /// signer was already added counts even when its bit is clear.
    fn agg_pk_g1(
        &mut self,
        epoch: U256,
        quorum_id: U256,
        bitmap: &[u8],
    ) -> Result<(G1Affine, usize, usize), Stop> {
        let members = self.quorum(epoch, quorum_id)?;
        if bitmap.len() != ENCODED_SLICES.div_ceil(8) {
            return Err(fail("DASigners: quorum bitmap length mismatch"));
        }
        let mut added = vec![false; members.len()];
        let mut sum = G1Affine::identity().into_group();
        let mut hit = 0;
        for row in 0..ENCODED_SLICES {
            let m = row_member(row, members.len());
            if bitmap_has(bitmap, row) && !added[m] {
                let [x, y, ..] = self.signer_keys(members[m])?;
                let key = g1_of(&G1Point { X: x, Y: y })
                    .ok_or_else(|| Stop::Fatal("a stored signer key is corrupt".into()))?;
                sum += key;
                added[m] = true;
            }
            if added[m] {
                hit += 1;
            }
        }
        Ok((sum.into_affine(), ENCODED_SLICES, hit))
    }

    /// Checks one certificate and records its commitment; one already verified is skipped.
    fn verify_commit_root(&mut self, s: &CommitRootSubmission) -> Result<(), Stop> {
        let at = verified_slot(s.dataRoot, s.epoch, s.quorumId);
        if !self.sload(DA_ENTRANCE_ADDRESS, at)?.is_zero() {
            return Ok(());
        }
        self.charge(AGG_GAS)?;
        let (apk1, total, hit) = self.agg_pk_g1(s.epoch, s.quorumId, &s.quorumBitmap)?;
        if SLICE_NUMERATOR as usize * total > SLICE_DENOMINATOR as usize * hit {
            return Err(fail(reason::INSUFFICIENT_SLICES));
        }
        self.charge(PAIRING_GAS)?;
        let parts = (
            g1_of(&s.erasureCommitment),
            g2_of_eip197(&s.aggPkG2),
            g1_of(&s.signature),
            small(s.epoch),
            small(s.quorumId),
        );
        let (Some(commitment), Some(apk2), Some(sigma), Some(epoch), Some(quorum)) = parts else {
            return Err(fail(reason::BAD_SIGNATURE));
        };
        let digest = bls::blob_digest(&s.dataRoot.0, epoch, quorum, &commitment);
        if !bls::verify_certificate(&digest, &apk1, &apk2, &sigma) {
            return Err(fail(reason::BAD_SIGNATURE));
        }
        self.write(DA_ENTRANCE_ADDRESS, at, U256::from(1))?;
        self.write(DA_ENTRANCE_ADDRESS, at + U256::from(1), s.erasureCommitment.X)?;
        self.write(DA_ENTRANCE_ADDRESS, at + U256::from(2), s.erasureCommitment.Y)?;
        let event = E::ErasureCommitmentVerified {
            dataRoot: s.dataRoot,
            epoch: s.epoch,
            quorumId: s.quorumId,
        };
        self.emit(DA_ENTRANCE_ADDRESS, event.encode_log_data())
    }
}

fn field(account: Address, f: u64) -> U256 {
    slot_of(SIGNER, &[word(account)]).wrapping_add(U256::from(f))
}

fn verified_slot(root: B256, epoch: U256, quorum: U256) -> U256 {
    slot_of(VERIFIED, &[U256::from_be_bytes(root.0), epoch, quorum])
}
