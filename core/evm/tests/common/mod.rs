//! A chain with system contracts for the tests, blocks made on demand at a clock the
//! test moves, and what each transaction did.

use std::collections::HashMap;

use alloy_consensus::transaction::Recovered;
use alloy_consensus::{SignableTransaction, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, B256, Bytes, Log, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Revert, SolCall, SolError, SolEvent};
use zg_evm::{BlockLog, CallRequest, Chain, ChainConfig, TxOutcome};

/// Test account `i`'s key.
pub(crate) fn signer(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(i + 1)).unwrap()
}

/// A chain the tests send legacy transactions to, one block each.
pub(crate) struct Net {
    pub(crate) chain: Chain,
    pub(crate) now: u64,
    nonces: HashMap<Address, u64>,
    chain_id: u64,
    gas_price: u128,
}

/// What one transaction did.
pub(crate) struct Sent {
    pub(crate) outcome: TxOutcome,
    pub(crate) gas_used: u64,
    pub(crate) logs: Vec<Log>,
    gas_price: u128,
}

#[allow(dead_code)] // each test file uses its own share
impl Sent {
    pub(crate) fn ok(self) -> Self {
        assert!(
            matches!(self.outcome, TxOutcome::Success { .. }),
            "{:?}",
            self.outcome
        );
        self
    }

    /// The revert's custom error, decoded as `E`.
    pub(crate) fn reverted<E: SolError>(self) -> E {
        match self.outcome {
            TxOutcome::Revert { output } => E::abi_decode(&output)
                .unwrap_or_else(|e| panic!("revert {output} is not {}: {e}", E::SIGNATURE)),
            other => panic!("expected revert {}, got {other:?}", E::SIGNATURE),
        }
    }

    /// The revert's `Error(string)` text.
    pub(crate) fn reason(self) -> String {
        self.reverted::<Revert>().reason
    }

    /// Gas paid for this transaction, wei.
    pub(crate) fn fee(&self) -> U256 {
        U256::from(self.gas_used) * U256::from(self.gas_price)
    }

    pub(crate) fn events<E: SolEvent>(&self) -> Vec<E> {
        self.logs
            .iter()
            .filter(|l| l.topics().first() == Some(&E::SIGNATURE_HASH))
            .map(|l| E::decode_log_data(&l.data).unwrap())
            .collect()
    }
}

#[allow(dead_code)] // each test file uses its own share
impl Net {
    /// A chain from `config`, its transactions priced at `gas_price`.
    pub(crate) fn open(config: ChainConfig, gas_price: u128) -> Self {
        let (chain_id, now) = (config.chain_id, config.genesis_timestamp);
        let funded: Vec<Address> = config.alloc.iter().map(|(a, _)| *a).collect();
        let chain = Chain::open(config, BlockLog::in_memory()).unwrap();
        let nonces = funded
            .iter()
            .map(|a| (*a, chain.state().account(a).unwrap().nonce))
            .collect();
        Self {
            chain,
            now,
            nonces,
            chain_id,
            gas_price,
        }
    }

    pub(crate) fn balance(&self, address: Address) -> U256 {
        self.chain
            .state()
            .account(&address)
            .map_or(U256::ZERO, |a| a.balance)
    }

    /// Sends `call` (a legacy transaction with `gas`, as 0G's SDKs send) in a block of its own.
    pub(crate) fn send_gas(
        &mut self,
        from: &PrivateKeySigner,
        to: Address,
        value: U256,
        call: &impl SolCall,
        gas: u64,
    ) -> Sent {
        self.send_raw(from, to, value, call.abi_encode().into(), gas)
    }

    /// Sends `input` as it is (no call encoding) in a block of its own.
    pub(crate) fn send_raw(
        &mut self,
        from: &PrivateKeySigner,
        to: Address,
        value: U256,
        input: Bytes,
        gas: u64,
    ) -> Sent {
        self.now += 1;
        let nonce = self.nonces.entry(from.address()).or_default();
        let tx = TxLegacy {
            chain_id: Some(self.chain_id),
            nonce: *nonce,
            gas_price: self.gas_price,
            gas_limit: gas,
            to: TxKind::Call(to),
            value,
            input,
        };
        *nonce += 1;
        let sig = from.sign_hash_sync(&tx.signature_hash()).unwrap();
        let tx = Recovered::new_unchecked(TxEnvelope::from(tx.into_signed(sig)), from.address());
        let mut produced = self.chain.produce_block(vec![tx], self.now).unwrap();
        assert!(produced.rejected.is_empty(), "{:?}", produced.rejected);
        let block = self.chain.head();
        Sent {
            outcome: produced.included.remove(0).1,
            gas_used: block.gas_used_by(0),
            logs: block.receipts[0].logs().to_vec(),
            gas_price: self.gas_price,
        }
    }

    /// An `eth_call`: the decoded answer, or the revert data.
    pub(crate) fn view<C: SolCall>(&self, to: Address, call: &C) -> Result<C::Return, Bytes> {
        self.view_from(Address::ZERO, to, call)
    }

    pub(crate) fn view_from<C: SolCall>(
        &self,
        from: Address,
        to: Address,
        call: &C,
    ) -> Result<C::Return, Bytes> {
        let request = CallRequest {
            from: Some(from),
            to: Some(to),
            data: call.abi_encode().into(),
            ..CallRequest::default()
        };
        match self.chain.call(&request, self.now).unwrap().outcome {
            TxOutcome::Success { output, .. } => Ok(C::abi_decode_returns(&output).unwrap()),
            TxOutcome::Revert { output } => Err(output),
            other => panic!("view halted: {other:?}"),
        }
    }
}
