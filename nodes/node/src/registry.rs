//! The service registry as nodes and clients use it: a node announces itself on start
//! (registers, or brings its record up to date, or leaves it be), and discovery reads
//! every active service of a kind, page by page.

use alloy_primitives::U256;
use alloy_sol_types::SolEvent;
use zg_contracts::registry::{
    IServiceRegistry as R, MAX_PAGE, REGISTRY_ADDRESS, ServiceParams, ServiceRecord, describe,
};

use crate::chain::{ChainClient, ChainError};

/// A client of the chain at `url` that names the registry's reverts, sending as `key`
/// (reads need none: a throwaway key signs nothing).
pub fn client(
    url: &str,
    key: Option<alloy_signer_local::PrivateKeySigner>,
) -> Result<ChainClient, ChainError> {
    ChainClient::new(
        url,
        key.unwrap_or_else(alloy_signer_local::PrivateKeySigner::random),
        describe,
    )
}

/// What announcing did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Announced {
    /// A new record with this id.
    Registered(U256),
    /// The record with this id now says what the node is.
    Updated(U256),
    /// The record with this id already said so.
    Unchanged(U256),
}

impl Announced {
    /// The record's id.
    pub fn id(self) -> U256 {
        match self {
            Announced::Registered(id) | Announced::Updated(id) | Announced::Unchanged(id) => id,
        }
    }
}

/// Makes the chain's registry say what `params` says, under the client's account and
/// `params.name`: idempotent, so a node calls it on every start. A registration the
/// registry refuses fails with its reason (from the gas estimate: nothing is mined).
pub async fn announce(chain: &ChainClient, params: ServiceParams) -> Result<Announced, ChainError> {
    let chain = chain.with_decoder(describe);
    let existing = chain
        .view(
            REGISTRY_ADDRESS,
            "getServiceByName",
            R::getServiceByNameCall {
                owner: chain.address(),
                name: params.name.clone(),
            },
        )
        .await;
    match existing {
        Ok(record) if record.active && record.params == params => Ok(Announced::Unchanged(record.id)),
        Ok(record) if record.active => {
            let id = record.id;
            chain
                .transact(
                    REGISTRY_ADDRESS,
                    "updateService",
                    R::updateServiceCall { id, params },
                    U256::ZERO,
                )
                .await?;
            Ok(Announced::Updated(id))
        }
        // None of that name, or only a retired one.
        Ok(_) | Err(ChainError::Reverted { .. }) => {
            let mined = chain
                .transact(
                    REGISTRY_ADDRESS,
                    "registerService",
                    R::registerServiceCall { params },
                    U256::ZERO,
                )
                .await?;
            mined
                .logs
                .iter()
                .find_map(|log| R::ServiceRegistered::decode_log_data(log).ok())
                .map(|event| Announced::Registered(event.id))
                .ok_or(ChainError::Decode("registerService's ServiceRegistered event"))
        }
        Err(e) => Err(e),
    }
}

/// Every active service of `kind` (`""`: every kind).
pub async fn active(chain: &ChainClient, kind: &str) -> Result<Vec<ServiceRecord>, ChainError> {
    let mut all = Vec::new();
    loop {
        let page = chain
            .view(
                REGISTRY_ADDRESS,
                "getActiveServices",
                R::getActiveServicesCall {
                    kind: kind.into(),
                    offset: U256::from(all.len()),
                    limit: U256::from(MAX_PAGE),
                },
            )
            .await?;
        let total = usize::try_from(page.total).unwrap_or(usize::MAX);
        let got = page.services.len();
        all.extend(page.services);
        if got == 0 || all.len() >= total {
            return Ok(all);
        }
    }
}

/// A record as JSON (numbers as decimal strings: prices overflow JavaScript's).
pub fn to_json(r: &ServiceRecord) -> serde_json::Value {
    let p = &r.params;
    serde_json::json!({
        "id": r.id.to_string(),
        "owner": r.owner.to_string(),
        "active": r.active,
        "kind": p.kind,
        "name": p.name,
        "version": p.version,
        "description": p.description,
        "endpoint": p.endpoint,
        "model": p.model,
        "priceUnit": p.priceUnit,
        "inputPrice": p.inputPrice.to_string(),
        "outputPrice": p.outputPrice.to_string(),
        "root": p.root.to_string(),
        "registeredAt": r.registeredAt.to_string(),
        "updatedAt": r.updatedAt.to_string(),
        "revisions": r.revisions.to_string(),
    })
}
