//! The chain's standard Ethereum JSON-RPC methods, defined once for the node
//! (`EthApiServer`) and for clients (`EthApiClient`, on any jsonrpsee client).
//! Optional block arguments may be left out or null; only the head's state is kept,
//! so other blocks' state is refused.

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::{
    Block, FeeHistory, Filter, Log, Transaction, TransactionReceipt, TransactionRequest,
};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

/// Ethereum JSON-RPC, as wallets and libraries (alloy, ethers, viem, web3.py) call it.
#[rpc(server, client)]
pub trait EthApi {
    /// `zg-chain/VERSION`.
    #[method(name = "web3_clientVersion")]
    fn client_version(&self) -> RpcResult<String>;
    /// The chain id, in decimal.
    #[method(name = "net_version")]
    fn net_version(&self) -> RpcResult<String>;
    /// Always true.
    #[method(name = "net_listening")]
    fn net_listening(&self) -> RpcResult<bool>;
    /// The chain id.
    #[method(name = "eth_chainId")]
    fn chain_id(&self) -> RpcResult<U64>;
    /// Always false: the sequencer is the chain.
    #[method(name = "eth_syncing")]
    fn syncing(&self) -> RpcResult<bool>;
    /// None: the node holds no keys; clients sign.
    #[method(name = "eth_accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;
    /// The head block's number.
    #[method(name = "eth_blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;
    /// The next block's base fee plus a 1 gwei tip.
    #[method(name = "eth_gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;
    /// 1 gwei.
    #[method(name = "eth_maxPriorityFeePerGas")]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;
    /// Base fees, gas used ratios and reward percentiles of up to 1024 blocks.
    #[method(name = "eth_feeHistory")]
    fn fee_history(
        &self,
        count: U64,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;
    /// An account's balance at the head.
    #[method(name = "eth_getBalance")]
    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    /// An account's nonce at the head, or counting queued transactions with `pending`.
    #[method(name = "eth_getTransactionCount")]
    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;
    /// An account's code at the head.
    #[method(name = "eth_getCode")]
    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// A storage slot at the head.
    #[method(name = "eth_getStorageAt")]
    fn storage_at(&self, address: Address, slot: U256, block: Option<BlockId>) -> RpcResult<B256>;
    /// Runs a call on the head's state; a revert is an error with its data.
    #[method(name = "eth_call", blocking)]
    fn call(&self, request: TransactionRequest, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// The least gas the call succeeds with.
    #[method(name = "eth_estimateGas", blocking)]
    fn estimate_gas(&self, request: TransactionRequest, block: Option<BlockId>) -> RpcResult<U64>;
    /// Queues a signed transaction; with instant blocks, answers once it is in a
    /// durable block (or refused).
    #[method(name = "eth_sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;
    /// A mined transaction.
    #[method(name = "eth_getTransactionByHash")]
    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;
    /// A mined transaction's receipt.
    #[method(name = "eth_getTransactionReceipt")]
    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>>;
    /// A block by number or tag, with hashes or full transactions.
    #[method(name = "eth_getBlockByNumber")]
    fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>>;
    /// A block by hash, with hashes or full transactions.
    #[method(name = "eth_getBlockByHash")]
    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>>;
    /// Every receipt of a block, by number, tag or hash.
    #[method(name = "eth_getBlockReceipts")]
    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>>;
    /// Logs matching a filter, over at most 10,000 blocks and 10,000 results.
    #[method(name = "eth_getLogs", blocking)]
    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;
}
