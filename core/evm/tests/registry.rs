//! zg's service registry through the chain: services of every kind registered, found by
//! kind a page at a time, revised (an agent's manifest roots kept as revisions),
//! retired out of discovery; registrations that break its rules, and calls by anyone
//! but the owner, refused with errors that say why.

mod common;

use alloy_primitives::{Address, B256, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolError};
use common::{Net, Sent, signer};
use zg_contracts::registry::{
    IServiceRegistry as R, KIND_AGENT, KIND_DA, KIND_INFERENCE, KIND_STORAGE, MAX_DESCRIPTION, ServiceParams,
    ServiceRecord, describe,
};
use zg_evm::ChainConfig;
use zg_evm::system::{REGISTRY_ADDRESS, SystemConfig};

const GAS: u64 = 3_000_000;

impl Net {
    /// A chain with the system contracts, accounts 0–3 funded.
    fn new() -> Self {
        let config = ChainConfig {
            chain_id: 31337,
            gas_limit: 30_000_000,
            coinbase: Address::repeat_byte(0xcb),
            genesis_timestamp: 1_700_000_000,
            alloc: (0..4)
                .map(|i| (signer(i).address(), U256::from(10u64).pow(U256::from(21))))
                .collect(),
            system: Some(SystemConfig::default()),
        };
        Self::open(config, 1_000_000_000)
    }

    fn send(&mut self, from: &PrivateKeySigner, call: &impl SolCall) -> Sent {
        self.send_gas(from, REGISTRY_ADDRESS, U256::ZERO, call, GAS)
    }

    fn register(&mut self, from: &PrivateKeySigner, params: ServiceParams) -> U256 {
        let sent = self.send(from, &R::registerServiceCall { params }).ok();
        let events = sent.events::<R::ServiceRegistered>();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].owner, from.address());
        events[0].id
    }

    /// Every active service of `kind`, read two per page.
    fn active(&self, kind: &str) -> Vec<ServiceRecord> {
        let mut all = Vec::new();
        loop {
            let page = self
                .view(
                    REGISTRY_ADDRESS,
                    &R::getActiveServicesCall {
                        kind: kind.into(),
                        offset: U256::from(all.len()),
                        limit: U256::from(2),
                    },
                )
                .unwrap();
            assert!(page.services.len() <= 2);
            let done = page.services.is_empty();
            all.extend(page.services);
            if done {
                assert_eq!(page.total, U256::from(all.len()));
                return all;
            }
        }
    }

    fn names(&self, kind: &str) -> Vec<String> {
        let mut names: Vec<String> = self.active(kind).into_iter().map(|r| r.params.name).collect();
        names.sort();
        names
    }

    fn service(&self, id: U256) -> ServiceRecord {
        self.view(REGISTRY_ADDRESS, &R::getServiceCall { id }).unwrap()
    }
}

fn params(kind: &str, name: &str, endpoint: &str) -> ServiceParams {
    ServiceParams {
        kind: kind.into(),
        name: name.into(),
        version: "0.1.0".into(),
        description: format!("{name}, a test service"),
        endpoint: endpoint.into(),
        priceUnit: "sector".into(),
        inputPrice: U256::from(1_000_000_000u64),
        ..ServiceParams::default()
    }
}

fn agent(name: &str, version: &str, root: u8) -> ServiceParams {
    ServiceParams {
        kind: KIND_AGENT.into(),
        name: name.into(),
        version: version.into(),
        model: "SmolLM2-135M-Instruct".into(),
        root: B256::repeat_byte(root),
        ..ServiceParams::default()
    }
}

#[test]
fn services_of_every_kind_are_found_by_kind_and_page() {
    let mut net = Net::new();
    let (a, b) = (signer(0), signer(1));
    let s1 = net.register(&a, params(KIND_STORAGE, "zg-storage", "http://127.0.0.1:5678"));
    let s2 = net.register(&b, params(KIND_STORAGE, "zg-storage", "http://127.0.0.1:5679"));
    let da = net.register(&a, params(KIND_DA, "zg-da", "http://127.0.0.1:34000"));
    let mut inference = params(KIND_INFERENCE, "smollm2", "http://127.0.0.1:3080/v1/proxy");
    inference.priceUnit = "token".into();
    inference.outputPrice = U256::from(2);
    inference.model = "SmolLM2-135M-Instruct".into();
    let inf = net.register(&b, inference.clone());
    let helper = net.register(&a, agent("helper", "1", 0xaa));
    assert_eq!(
        [s1, s2, da, inf, helper].map(|id| id.to::<u64>()),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        net.view(REGISTRY_ADDRESS, &R::serviceCountCall {}).unwrap(),
        U256::from(5)
    );

    assert_eq!(net.active("").len(), 5);
    assert_eq!(net.names(KIND_STORAGE), ["zg-storage", "zg-storage"]);
    assert_eq!(net.names(KIND_DA), ["zg-da"]);
    assert_eq!(net.names("fine-tuning"), Vec::<String>::new());
    let record = net.service(inf);
    assert_eq!(record.owner, b.address());
    assert!(record.active);
    assert_eq!(record.params, inference);
    assert_eq!(record.revisions, U256::from(1));
    assert_eq!(record.registeredAt, record.updatedAt);
    let by_name = net
        .view(
            REGISTRY_ADDRESS,
            &R::getServiceByNameCall {
                owner: b.address(),
                name: "zg-storage".into(),
            },
        )
        .unwrap();
    assert_eq!(by_name.id, s2);
    // A limit past the page size gets one page.
    let page = net
        .view(
            REGISTRY_ADDRESS,
            &R::getActiveServicesCall {
                kind: String::new(),
                offset: U256::ZERO,
                limit: U256::MAX,
            },
        )
        .unwrap();
    assert_eq!((page.services.len(), page.total), (5, U256::from(5)));
}

#[test]
fn retiring_takes_a_service_out_of_discovery_only() {
    let mut net = Net::new();
    let a = signer(0);
    let ids: Vec<U256> = (0..4)
        .map(|i| {
            net.register(
                &a,
                params(
                    KIND_STORAGE,
                    &format!("node-{i}"),
                    &format!("http://127.0.0.1:{}", 5678 + i),
                ),
            )
        })
        .collect();
    let da = net.register(&a, params(KIND_DA, "zg-da", "http://127.0.0.1:34000"));
    // Someone else cannot retire it.
    let other = net.send(&signer(1), &R::retireServiceCall { id: ids[1] });
    let refused = other.reverted::<R::NotOwner>();
    assert_eq!(refused.owner, a.address());
    let sent = net.send(&a, &R::retireServiceCall { id: ids[1] }).ok();
    assert_eq!(sent.events::<R::ServiceRetired>().len(), 1);
    assert_eq!(net.names(KIND_STORAGE), ["node-0", "node-2", "node-3"]);
    assert_eq!(net.active("").len(), 4);
    let retired = net.service(ids[1]);
    assert!(!retired.active, "the record stays readable, marked retired");
    assert_eq!(retired.params.name, "node-1");
    // The first and the last of a list go too; the DA list is untouched.
    net.send(&a, &R::retireServiceCall { id: ids[0] }).ok();
    net.send(&a, &R::retireServiceCall { id: ids[3] }).ok();
    assert_eq!(net.names(KIND_STORAGE), ["node-2"]);
    assert_eq!(net.names(KIND_DA), ["zg-da"]);
    assert_eq!(net.active("").len(), 2);
    let again = net.send(&a, &R::retireServiceCall { id: ids[0] });
    assert_eq!(again.reverted::<R::AlreadyRetired>().id, ids[0]);
    let update = net.send(
        &a,
        &R::updateServiceCall {
            id: ids[0],
            params: params(KIND_STORAGE, "node-0", "http://127.0.0.1:1"),
        },
    );
    assert_eq!(update.reverted::<R::AlreadyRetired>().id, ids[0]);
    // A retired name can be registered again, as a new service.
    let back = net.register(&a, params(KIND_STORAGE, "node-0", "http://127.0.0.1:7000"));
    assert_eq!(back, U256::from(6));
    assert_eq!(net.names(KIND_STORAGE), ["node-0", "node-2"]);
    net.send(&a, &R::retireServiceCall { id: da }).ok();
    assert!(net.active(KIND_DA).is_empty());
    let unknown = net.send(&a, &R::retireServiceCall { id: U256::from(99) });
    assert_eq!(unknown.reverted::<R::UnknownService>().id, U256::from(99));
}

#[test]
fn a_redeployed_agent_keeps_its_old_roots_as_revisions() {
    let mut net = Net::new();
    let a = signer(2);
    let id = net.register(&a, agent("helper", "1", 0x11));
    let sent = net
        .send(
            &a,
            &R::updateServiceCall {
                id,
                params: agent("helper", "2", 0x22),
            },
        )
        .ok();
    let updated = sent.events::<R::ServiceUpdated>();
    assert_eq!(updated.len(), 1);
    assert_eq!(
        (updated[0].version.as_str(), updated[0].root),
        ("2", B256::repeat_byte(0x22))
    );
    let record = net.service(id);
    assert_eq!(record.params.root, B256::repeat_byte(0x22));
    assert_eq!(record.revisions, U256::from(2));
    let revisions = net
        .view(
            REGISTRY_ADDRESS,
            &R::getRevisionsCall {
                id,
                offset: U256::ZERO,
                limit: U256::from(10),
            },
        )
        .unwrap();
    let seen: Vec<(String, B256)> = revisions
        .revisions
        .into_iter()
        .map(|r| (r.version, r.root))
        .collect();
    assert_eq!(
        seen,
        [
            ("1".to_string(), B256::repeat_byte(0x11)),
            ("2".to_string(), B256::repeat_byte(0x22))
        ]
    );
    // Kind and name are what the service is: they cannot change.
    let mut renamed = agent("other", "3", 0x33);
    let refused = net.send(
        &a,
        &R::updateServiceCall {
            id,
            params: renamed.clone(),
        },
    );
    assert_eq!(refused.reverted::<R::FieldFixed>().field, "name");
    renamed.name = "helper".into();
    renamed.kind = KIND_STORAGE.into();
    renamed.root = B256::ZERO;
    renamed.endpoint = "http://127.0.0.1:1".into();
    let refused = net.send(&a, &R::updateServiceCall { id, params: renamed });
    assert_eq!(refused.reverted::<R::FieldFixed>().field, "kind");
    let by_other = net.send(
        &signer(3),
        &R::updateServiceCall {
            id,
            params: agent("helper", "9", 0x99),
        },
    );
    assert_eq!(by_other.reverted::<R::NotOwner>().owner, a.address());
    assert_eq!(net.service(id).revisions, U256::from(2));
}

#[test]
fn bad_registrations_are_refused_with_their_reason() {
    let mut net = Net::new();
    let a = signer(0);
    let refused = |net: &mut Net, p: ServiceParams| -> String {
        let sent = net.send(&a, &R::registerServiceCall { params: p });
        match sent.outcome {
            zg_evm::TxOutcome::Revert { output } => describe(&output).expect("a registry error"),
            other => panic!("expected a revert, got {other:?}"),
        }
    };
    let mut long = params(KIND_STORAGE, "n", "http://127.0.0.1:1");
    long.description = "x".repeat(MAX_DESCRIPTION + 1);
    assert_eq!(
        refused(&mut net, long),
        "the description is 1025 bytes; at most 1024 are taken"
    );
    for (endpoint, reason) in [
        ("127.0.0.1:5678", "starts with http:// or https://"),
        ("http://", "names a host"),
        ("http://host:99999", "port"),
        ("http://a b", "without spaces"),
        ("http://me:pw@host", "no credentials"),
    ] {
        let said = refused(&mut net, params(KIND_STORAGE, "n", endpoint));
        assert!(said.starts_with("invalid endpoint"), "{said}");
        assert!(said.contains(reason), "{endpoint}: {said}");
    }
    let said = refused(&mut net, params("mining", "n", "http://x"));
    assert!(said.starts_with("unknown kind \"mining\""), "{said}");
    let said = refused(&mut net, params(KIND_STORAGE, "Bad Name", "http://x"));
    assert!(said.starts_with("invalid name"), "{said}");
    let said = refused(&mut net, agent("no-root", "1", 0));
    assert!(said.contains("manifest"), "{said}");

    let first = net.register(&a, params(KIND_STORAGE, "n", "http://x"));
    let taken = net.send(
        &a,
        &R::registerServiceCall {
            params: params(KIND_DA, "n", "http://y"),
        },
    );
    let taken = taken.reverted::<R::NameTaken>();
    assert_eq!((taken.owner, taken.id), (a.address(), first));
    // Another owner may use the same name.
    net.register(&signer(1), params(KIND_STORAGE, "n", "http://z"));
    // Value sent to it is refused; nothing was registered by any refused call.
    let paid = net.send_gas(
        &a,
        REGISTRY_ADDRESS,
        U256::from(1),
        &R::registerServiceCall {
            params: params(KIND_STORAGE, "m", "http://x"),
        },
        GAS,
    );
    assert!(matches!(paid.outcome, zg_evm::TxOutcome::Revert { .. }));
    assert_eq!(
        net.view(REGISTRY_ADDRESS, &R::serviceCountCall {}).unwrap(),
        U256::from(2)
    );
    // Views refuse unknown ids and names with the same error.
    let unknown = net
        .view(REGISTRY_ADDRESS, &R::getServiceCall { id: U256::ZERO })
        .unwrap_err();
    assert!(R::UnknownService::abi_decode(&unknown).is_ok());
    let unknown = net
        .view(
            REGISTRY_ADDRESS,
            &R::getServiceByNameCall {
                owner: a.address(),
                name: "nope".into(),
            },
        )
        .unwrap_err();
    assert!(R::UnknownService::abi_decode(&unknown).is_ok());
}
