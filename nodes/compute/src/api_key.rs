//! 0G's API keys: what a compute provider checks before it serves a request.
//!
//! A user's SDK (PyPI `0g-inference-sdk` 0.9.1, `SessionManager`) sends
//! `Authorization: Bearer app-sk-<base64(message "|" signature)>`. `message` is compact
//! JSON `{"address","provider","timestamp","expiresAt","nonce","generation","tokenId"}`
//! (times in ms, `expiresAt` 0 = never, `nonce` 32 hex digits, `tokenId` 0–254 for a
//! persistent key and 255 for the SDK's own short-lived session); `signature` is
//! EIP-191 `personal_sign` by `address` over the 32 bytes of keccak256(message), 0x-hex.
//! The signature covers the exact bytes sent, so they are hashed as received.

use alloy_primitives::{Address, Signature, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use base64::Engine;
use serde::Deserialize;

/// The token id the SDK gives its own per-session keys (never revoked one by one).
pub const EPHEMERAL_TOKEN_ID: u8 = 255;
/// The longest life the SDK gives a session key (24 h), so it must expire by then.
pub const EPHEMERAL_MAX_MS: u64 = 24 * 60 * 60 * 1000;
/// The longest header taken: a real key is under 600 bytes.
pub const MAX_KEY_BYTES: usize = 4096;

/// The signed part of a key, as the SDK writes it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyMessage {
    /// The user: the key's signer and the payer.
    pub address: Address,
    /// The provider the key is for.
    pub provider: Address,
    /// When it was made (ms since the epoch).
    pub timestamp: u64,
    /// When it stops working (ms), or 0 for never.
    pub expires_at: u64,
    /// 16 random bytes, hex.
    pub nonce: String,
    /// The account's key generation when it was made; revoking all keys bumps it.
    pub generation: u64,
    /// 0–254: a persistent key, revocable alone; 255: a session key.
    pub token_id: u8,
}

impl KeyMessage {
    /// A fresh key's message for `user` at `provider`: made now, with a random nonce.
    pub fn new(user: Address, provider: Address, generation: u64, token_id: u8, expires_at: u64) -> Self {
        Self {
            address: user,
            provider,
            timestamp: crate::service::now_ms(),
            expires_at,
            nonce: hex::encode(rand::random::<[u8; 16]>()),
            generation,
            token_id,
        }
    }
}

/// What the chain says of the user's account with this provider, for the key's checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountKeys {
    /// The current key generation (`getAccount(...).generation`). Note: 0G's Python SDK
    /// 0.9.1 fills a key's `generation` from `getAccount`'s field 10, which is
    /// `revokedBitmap` (its ABI's `Account` has 11 fields, `generation` is field 9);
    /// the same for both until the user revokes a key. The provider node settles this.
    pub generation: U256,
    /// Bit `i` set: token id `i` revoked (`getAccount(...).revokedBitmap`).
    pub revoked_bitmap: U256,
    /// Whether the user acknowledged this provider's signer.
    pub acknowledged: bool,
}

/// A parsed key: its message, the bytes signed and the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    message: KeyMessage,
    signed: Vec<u8>,
    signature: Signature,
}

/// Why a key is refused; each is a 401 with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    /// No `Authorization: Bearer app-sk-…` header.
    #[error("missing API key: send `Authorization: Bearer app-sk-…` (0G's SDK makes one)")]
    Missing,
    /// The key is not 0G's format.
    #[error("malformed API key: {0}")]
    Malformed(String),
    /// The signature does not recover to the key's address.
    #[error("API key signed by {recovered}, not by its address {claimed}")]
    WrongSigner {
        /// The key's `address`.
        claimed: Address,
        /// Who signed it.
        recovered: Address,
    },
    /// The key is for another provider.
    #[error("API key is for provider {got}, this provider is {expected}")]
    WrongProvider {
        /// This provider.
        expected: Address,
        /// The key's `provider`.
        got: Address,
    },
    /// Past its `expiresAt`.
    #[error("API key expired at {expires_at} ms (now {now} ms)")]
    Expired {
        /// The key's `expiresAt`.
        expires_at: u64,
        /// The provider's clock.
        now: u64,
    },
    /// A session key without an expiry or one longer than the SDK makes.
    #[error("session key (token id 255) must expire within 24 h of its timestamp")]
    SessionTooLong,
    /// The user revoked this token id on chain.
    #[error("API key token id {0} is revoked")]
    Revoked(u8),
    /// The user revoked every key since this one was made.
    #[error(
        "API key is of generation {key}; the account is at generation {current} (all older keys revoked)"
    )]
    OldGeneration {
        /// The key's `generation`.
        key: u64,
        /// The account's.
        current: U256,
    },
    /// The user has not acknowledged this provider's signer.
    #[error("the account has not acknowledged this provider's signer: call acknowledgeTEESigner first")]
    NotAcknowledged,
}

impl ApiKey {
    /// Parses an `Authorization` header value (`Bearer app-sk-…`).
    pub fn from_header(value: Option<&str>) -> Result<Self, ApiKeyError> {
        let value = value.ok_or(ApiKeyError::Missing)?.trim();
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| ApiKeyError::Malformed("not a Bearer token".into()))?;
        Self::parse(token.trim())
    }

    /// Parses a key (`app-sk-…`), checking every length before it decodes.
    pub fn parse(token: &str) -> Result<Self, ApiKeyError> {
        let bad = |why: &str| ApiKeyError::Malformed(why.to_owned());
        if token.len() > MAX_KEY_BYTES {
            return Err(bad("longer than any key 0G's SDK makes"));
        }
        let body = token
            .strip_prefix("app-sk-")
            .ok_or_else(|| bad("no app-sk- prefix"))?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| ApiKeyError::Malformed(format!("not base64: {e}")))?;
        let at = raw
            .iter()
            .rposition(|&b| b == b'|')
            .ok_or_else(|| bad("no '|' between message and signature"))?;
        let (signed, signature) = (&raw[..at], &raw[at + 1..]);
        let hex_sig = signature
            .strip_prefix(b"0x")
            .ok_or_else(|| bad("signature is not 0x-hex"))?;
        let mut sig = [0u8; 65];
        hex::decode_to_slice(hex_sig, &mut sig)
            .map_err(|e| ApiKeyError::Malformed(format!("signature: {e}")))?;
        let signature =
            Signature::from_raw(&sig).map_err(|e| ApiKeyError::Malformed(format!("signature: {e}")))?;
        let message: KeyMessage =
            serde_json::from_slice(signed).map_err(|e| ApiKeyError::Malformed(format!("message: {e}")))?;
        if message.nonce.len() != 32 || !message.nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("nonce is not 32 hex digits"));
        }
        Ok(Self {
            message,
            signed: signed.to_vec(),
            signature,
        })
    }

    /// Makes a key as 0G's SDK does: `message` as compact JSON in the SDK's field
    /// order, signed EIP-191 by `user` over its keccak256.
    pub fn sign(user: &PrivateKeySigner, message: &KeyMessage) -> Result<String, ApiKeyError> {
        let KeyMessage {
            address,
            provider,
            timestamp,
            expires_at,
            nonce,
            generation,
            token_id,
        } = message;
        let text = format!(
            r#"{{"address":"{address}","provider":"{provider}","timestamp":{timestamp},"expiresAt":{expires_at},"nonce":"{nonce}","generation":{generation},"tokenId":{token_id}}}"#
        );
        let signature = user
            .sign_message_sync(keccak256(text.as_bytes()).as_slice())
            .map_err(|e| ApiKeyError::Malformed(format!("signing: {e}")))?;
        let body = format!("{text}|0x{}", hex::encode(signature.as_bytes()));
        Ok(format!(
            "app-sk-{}",
            base64::engine::general_purpose::STANDARD.encode(body)
        ))
    }

    /// A session key (the ephemeral token id) of `user`'s for `provider` at the
    /// account's key `generation`, valid for `ttl_ms` from now.
    pub fn session(
        user: &PrivateKeySigner,
        provider: Address,
        generation: u64,
        ttl_ms: u64,
    ) -> Result<String, ApiKeyError> {
        let expires_at = crate::service::now_ms().saturating_add(ttl_ms);
        let message = KeyMessage::new(
            user.address(),
            provider,
            generation,
            EPHEMERAL_TOKEN_ID,
            expires_at,
        );
        Self::sign(user, &message)
    }

    /// The signed message.
    pub fn message(&self) -> &KeyMessage {
        &self.message
    }

    /// Who signed the key (EIP-191 over keccak256 of the message bytes).
    pub fn signer(&self) -> Result<Address, ApiKeyError> {
        let hash = keccak256(&self.signed);
        self.signature
            .recover_address_from_msg(hash.as_slice())
            .map_err(|e| ApiKeyError::Malformed(format!("signature does not recover: {e}")))
    }

    /// Every check a provider makes before it serves the key's user, given this
    /// provider, its clock and the user's account on chain; returns the user.
    /// (Whether the account can pay is the caller's next check.)
    pub fn check(
        &self,
        provider: Address,
        now_ms: u64,
        account: &AccountKeys,
    ) -> Result<Address, ApiKeyError> {
        let m = &self.message;
        let recovered = self.signer()?;
        if recovered != m.address {
            return Err(ApiKeyError::WrongSigner {
                claimed: m.address,
                recovered,
            });
        }
        if m.provider != provider {
            return Err(ApiKeyError::WrongProvider {
                expected: provider,
                got: m.provider,
            });
        }
        if m.expires_at != 0 && now_ms >= m.expires_at {
            return Err(ApiKeyError::Expired {
                expires_at: m.expires_at,
                now: now_ms,
            });
        }
        if m.token_id == EPHEMERAL_TOKEN_ID
            && (m.expires_at == 0 || m.expires_at.saturating_sub(m.timestamp) > EPHEMERAL_MAX_MS)
        {
            return Err(ApiKeyError::SessionTooLong);
        }
        if m.token_id != EPHEMERAL_TOKEN_ID && account.revoked_bitmap.bit(usize::from(m.token_id)) {
            return Err(ApiKeyError::Revoked(m.token_id));
        }
        if U256::from(m.generation) != account.generation {
            return Err(ApiKeyError::OldGeneration {
                key: m.generation,
                current: account.generation,
            });
        }
        if !account.acknowledged {
            return Err(ApiKeyError::NotAcknowledged);
        }
        Ok(m.address)
    }
}
