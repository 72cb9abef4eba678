//! Small contracts, assembled here from opcodes, that tests and benches deploy: a
//! minimal ERC-20 (standard ABI and storage layout) and a value store that logs and
//! reverts with a reason. No compiler is needed to build or audit them.

use std::collections::HashMap;

use alloy_primitives::{Address, Bytes, U256, keccak256};
use revm::bytecode::opcode as op;

/// The first four bytes of keccak256 of a function signature.
pub fn selector(signature: &str) -> [u8; 4] {
    keccak256(signature.as_bytes())[..4].try_into().expect("4 bytes")
}

/// ABI call data: selector followed by 32-byte words.
pub fn calldata(signature: &str, words: &[U256]) -> Bytes {
    let mut out = selector(signature).to_vec();
    for word in words {
        out.extend_from_slice(&word.to_be_bytes::<32>());
    }
    out.into()
}

/// An address as an ABI word.
pub fn word(address: Address) -> U256 {
    U256::from_be_slice(address.as_slice())
}

/// A tiny assembler: opcodes, minimal pushes, and jump labels resolved at the end.
#[derive(Default)]
struct Asm {
    code: Vec<u8>,
    labels: HashMap<&'static str, usize>,
    fixups: Vec<(usize, &'static str)>,
}

impl Asm {
    fn op(&mut self, opcode: u8) -> &mut Self {
        self.code.push(opcode);
        self
    }

    fn push(&mut self, bytes: &[u8]) -> &mut Self {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len() - 1);
        let bytes = &bytes[start..];
        assert!((1..=32).contains(&bytes.len()));
        self.code.push(op::PUSH1 + bytes.len() as u8 - 1);
        self.code.extend_from_slice(bytes);
        self
    }

    fn push_u(&mut self, value: u64) -> &mut Self {
        self.push(&value.to_be_bytes())
    }

    fn push_label(&mut self, label: &'static str) -> &mut Self {
        self.code.push(op::PUSH2);
        self.fixups.push((self.code.len(), label));
        self.code.extend_from_slice(&[0, 0]);
        self
    }

    fn label(&mut self, label: &'static str) -> &mut Self {
        self.labels.insert(label, self.code.len());
        self.op(op::JUMPDEST)
    }

    /// Jumps to `label` when the function selector on the stack equals `signature`'s.
    fn dispatch(&mut self, signature: &str, label: &'static str) -> &mut Self {
        self.op(op::DUP1)
            .push(&selector(signature))
            .op(op::EQ)
            .push_label(label)
            .op(op::JUMPI)
    }

    /// keccak256(word on the stack ‖ slot): Solidity's slot for `mapping[word]` at `slot`.
    fn mapping_slot(&mut self, slot: u64) -> &mut Self {
        self.push_u(0)
            .op(op::MSTORE)
            .push_u(slot)
            .push_u(32)
            .op(op::MSTORE);
        self.push_u(64).push_u(0).op(op::KECCAK256)
    }

    /// Returns the word on the stack.
    fn return_word(&mut self) -> &mut Self {
        self.push_u(0).op(op::MSTORE).push_u(32).push_u(0).op(op::RETURN)
    }

    /// REVERT with an ABI-encoded `Error(string)` (message up to 32 bytes).
    fn revert_with(&mut self, message: &str) -> &mut Self {
        assert!(message.len() <= 32);
        let mut head = [0u8; 32];
        head[..4].copy_from_slice(&selector("Error(string)"));
        let mut text = [0u8; 32];
        text[..message.len()].copy_from_slice(message.as_bytes());
        self.push(&head).push_u(0).op(op::MSTORE);
        self.push_u(32).push_u(4).op(op::MSTORE);
        self.push_u(message.len() as u64).push_u(36).op(op::MSTORE);
        self.push(&text).push_u(68).op(op::MSTORE);
        self.push_u(100).push_u(0).op(op::REVERT)
    }

    fn finish(mut self) -> Vec<u8> {
        for (at, label) in &self.fixups {
            let target = self.labels[label] as u16;
            self.code[*at..*at + 2].copy_from_slice(&target.to_be_bytes());
        }
        self.code
    }
}

/// Init code that stores `slots` (key, value) and deploys `runtime`.
fn deploy(slots: &[(Slot, U256)], runtime: &[u8]) -> Bytes {
    let mut asm = Asm::default();
    for (slot, value) in slots {
        asm.push(&value.to_be_bytes::<32>());
        match slot {
            Slot::Fixed(n) => asm.push_u(*n),
            Slot::CallerIn(mapping) => asm.op(op::CALLER).mapping_slot(*mapping),
        };
        asm.op(op::SSTORE);
    }
    let len = runtime.len() as u16;
    // PUSH2 len, DUP1, PUSH2 offset, PUSH1 0, CODECOPY, PUSH1 0, RETURN = 13 bytes.
    let offset = asm.code.len() as u16 + 13;
    asm.code.push(op::PUSH2);
    asm.code.extend_from_slice(&len.to_be_bytes());
    asm.op(op::DUP1);
    asm.code.push(op::PUSH2);
    asm.code.extend_from_slice(&offset.to_be_bytes());
    asm.code
        .extend_from_slice(&[op::PUSH1, 0, op::CODECOPY, op::PUSH1, 0, op::RETURN]);
    let mut code = asm.finish();
    debug_assert_eq!(code.len(), offset as usize);
    code.extend_from_slice(runtime);
    code.into()
}

enum Slot {
    Fixed(u64),
    CallerIn(u64),
}

/// Runtime code of a minimal ERC-20: `transfer(address,uint256)`, `balanceOf(address)`,
/// `totalSupply()`; balances in a mapping at slot 0 and the supply at slot 1 (Solidity's
/// layout), a `Transfer` event per transfer, `Error("insufficient balance")` on overdraft.
pub fn erc20_runtime() -> Vec<u8> {
    let transfer_topic = keccak256("Transfer(address,address,uint256)");
    let mut asm = Asm::default();
    asm.push_u(0).op(op::CALLDATALOAD).push_u(0xe0).op(op::SHR);
    asm.dispatch("transfer(address,uint256)", "transfer");
    asm.dispatch("balanceOf(address)", "balance_of");
    asm.dispatch("totalSupply()", "total_supply");
    asm.push_u(0).op(op::DUP1).op(op::REVERT);

    asm.label("transfer").op(op::POP);
    asm.op(op::CALLER).mapping_slot(0); // [from_slot]
    asm.op(op::DUP1).op(op::SLOAD); // [from_slot, balance]
    asm.push_u(0x24).op(op::CALLDATALOAD); // [from_slot, balance, amount]
    asm.op(op::DUP1)
        .op(op::DUP3)
        .op(op::LT)
        .push_label("overdraft")
        .op(op::JUMPI); // balance < amount
    asm.op(op::DUP1).op(op::SWAP2).op(op::SUB); // [from_slot, amount, balance - amount]
    asm.op(op::DUP3).op(op::SSTORE).op(op::SWAP1).op(op::POP); // [amount]
    asm.push(&[0xff; 20]).push_u(4).op(op::CALLDATALOAD).op(op::AND); // [amount, to]
    asm.mapping_slot(0); // [amount, to_slot]
    asm.op(op::DUP1).op(op::SLOAD).op(op::DUP3).op(op::ADD); // [amount, to_slot, new]
    asm.op(op::SWAP1).op(op::SSTORE); // [amount]
    asm.push_u(0).op(op::MSTORE);
    asm.push(&[0xff; 20]).push_u(4).op(op::CALLDATALOAD).op(op::AND);
    asm.op(op::CALLER)
        .push(transfer_topic.as_slice())
        .push_u(32)
        .push_u(0)
        .op(op::LOG3);
    asm.push_u(1).return_word();
    asm.label("overdraft").revert_with("insufficient balance");

    asm.label("balance_of").op(op::POP);
    asm.push(&[0xff; 20])
        .push_u(4)
        .op(op::CALLDATALOAD)
        .op(op::AND)
        .mapping_slot(0);
    asm.op(op::SLOAD).return_word();

    asm.label("total_supply")
        .op(op::POP)
        .push_u(1)
        .op(op::SLOAD)
        .return_word();
    asm.finish()
}

/// Init code of [`erc20_runtime`] that gives the deployer `supply` tokens.
pub fn erc20_init(supply: U256) -> Bytes {
    deploy(
        &[(Slot::CallerIn(0), supply), (Slot::Fixed(1), supply)],
        &erc20_runtime(),
    )
}

/// keccak256 of `ValueSet(uint256)`, the store contract's event.
pub fn value_set_topic() -> alloy_primitives::B256 {
    keccak256("ValueSet(uint256)")
}

/// Runtime code of a value store: `set(uint256)` stores the value at slot 0 and emits
/// `ValueSet(uint256)`, reverting with `Error("value must be non-zero")` for 0;
/// `get()` returns it.
pub fn value_store_runtime() -> Vec<u8> {
    let mut asm = Asm::default();
    asm.push_u(0).op(op::CALLDATALOAD).push_u(0xe0).op(op::SHR);
    asm.dispatch("set(uint256)", "set");
    asm.dispatch("get()", "get");
    asm.push_u(0).op(op::DUP1).op(op::REVERT);

    asm.label("set").op(op::POP);
    asm.push_u(4)
        .op(op::CALLDATALOAD)
        .op(op::DUP1)
        .op(op::ISZERO)
        .push_label("zero")
        .op(op::JUMPI);
    asm.op(op::DUP1).push_u(0).op(op::SSTORE); // [value]
    asm.push_u(0).op(op::MSTORE);
    asm.push(value_set_topic().as_slice())
        .push_u(32)
        .push_u(0)
        .op(op::LOG1)
        .op(op::STOP);
    asm.label("zero").revert_with("value must be non-zero");

    asm.label("get").op(op::POP).push_u(0).op(op::SLOAD).return_word();
    asm.finish()
}

/// Init code of [`value_store_runtime`] starting at `initial`.
pub fn value_store_init(initial: U256) -> Bytes {
    deploy(&[(Slot::Fixed(0), initial)], &value_store_runtime())
}
