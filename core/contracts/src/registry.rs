//! zg's service registry: one on-chain catalogue of every service a zg network runs —
//! storage nodes, DA nodes, inference and fine-tuning providers, agents — with its
//! owner, endpoint, prices and (for an agent) the storage root of its manifest.
//! Registration, update (each one a revision: an agent's old manifest roots stay on
//! record), retirement and discovery paginated by kind.
//!
//! 0G has no such contract (its ledger registers service *contracts*, not services), so
//! the ABI is zg's own. The rules a registration must follow live here, in [`check`], so
//! the contract and its clients judge a registration alike.

use alloy_primitives::{Address, address};

/// Where the registry lives on a zg chain (beside the Flow and the market).
pub const REGISTRY_ADDRESS: Address = address!("0x0000000000000000000000000000000000002002");

/// The kinds of service the registry takes.
pub const KINDS: [&str; 5] = [
    KIND_STORAGE,
    KIND_DA,
    KIND_INFERENCE,
    KIND_FINE_TUNING,
    KIND_AGENT,
];
/// A storage node (0G's `zgs_*` JSON-RPC, zg's HTTP API).
pub const KIND_STORAGE: &str = "storage";
/// A DA node (zg's HTTP API; 0G's disperser gRPC on the one that serves it).
pub const KIND_DA: &str = "da";
/// A compute provider's OpenAI-compatible inference.
pub const KIND_INFERENCE: &str = "inference";
/// A compute provider's fine-tuning.
pub const KIND_FINE_TUNING: &str = "fine-tuning";
/// An agent: a manifest in zg-storage (its root in the record) run on compute.
pub const KIND_AGENT: &str = "agent";

/// Longest name, bytes.
pub const MAX_NAME: usize = 64;
/// Longest version, bytes.
pub const MAX_VERSION: usize = 32;
/// Longest description, bytes.
pub const MAX_DESCRIPTION: usize = 1024;
/// Longest endpoint URL, bytes.
pub const MAX_ENDPOINT: usize = 256;
/// Longest model name, bytes.
pub const MAX_MODEL: usize = 128;
/// Longest price unit, bytes.
pub const MAX_PRICE_UNIT: usize = 16;
/// Most records one page of a paginated view returns.
pub const MAX_PAGE: usize = 50;

// sol!'s generated constructors take one argument per field.
#[allow(clippy::too_many_arguments)]
mod sol {
    alloy_sol_types::sol! {
        /// What an owner registers.
        #[derive(Debug, Default, PartialEq, Eq)]
        struct ServiceParams {
            /// One of `storage`, `da`, `inference`, `fine-tuning`, `agent`.
            string kind;
            /// Unique among the owner's services: 1–64 bytes of `a-z 0-9 . _ -`.
            string name;
            string version;
            string description;
            /// `http(s)://host[:port][/path]`; an agent may leave it empty.
            string endpoint;
            string model;
            /// What one unit of the prices buys: `token`, `sector`, `blob`, `request`…
            string priceUnit;
            /// Wei per unit (per input token for inference).
            uint256 inputPrice;
            /// Wei per output token (0 where a kind has one price).
            uint256 outputPrice;
            /// An agent's manifest root in zg-storage; zero for other kinds.
            bytes32 root;
        }
        /// A registered service.
        #[derive(Debug, Default, PartialEq, Eq)]
        struct ServiceRecord {
            uint256 id;
            address owner;
            bool active;
            uint256 registeredAt;
            uint256 updatedAt;
            /// Revisions on record (registration is the first).
            uint256 revisions;
            ServiceParams params;
        }
        /// One revision of a service: what its version and root were from `updatedAt` on.
        #[derive(Debug, Default, PartialEq, Eq)]
        struct Revision { string version; bytes32 root; uint256 updatedAt; }

        #[derive(Debug, PartialEq, Eq)]
        interface IServiceRegistry {
            function registerService(ServiceParams params) external returns (uint256 id);
            /// Kind and name stay; everything else may change, and the change is a revision.
            function updateService(uint256 id, ServiceParams params) external;
            /// Takes the service out of discovery for good; its record stays readable.
            function retireService(uint256 id) external;
            function getService(uint256 id) external view returns (ServiceRecord record);
            /// The owner's service of that name (the newest, when a retired one had it).
            function getServiceByName(address owner, string name) external view returns (ServiceRecord record);
            /// Active services of `kind` (`""`: every kind), in registration order as far
            /// as retirements allow; at most 50 per page.
            function getActiveServices(string kind, uint256 offset, uint256 limit) external view returns (ServiceRecord[] services, uint256 total);
            function getRevisions(uint256 id, uint256 offset, uint256 limit) external view returns (Revision[] revisions, uint256 total);
            /// Services ever registered (ids run from 1).
            function serviceCount() external view returns (uint256);

            event ServiceRegistered(uint256 indexed id, address indexed owner, string kind, string name, string endpoint);
            event ServiceUpdated(uint256 indexed id, address indexed owner, string version, bytes32 root);
            event ServiceRetired(uint256 indexed id, address indexed owner);

            error UnknownKind(string kind);
            error InvalidField(string field, string reason);
            error FieldTooLong(string field, uint256 length, uint256 max);
            error InvalidEndpoint(string endpoint, string reason);
            error NameTaken(address owner, string name, uint256 id);
            error UnknownService(uint256 id);
            error NotOwner(uint256 id, address owner);
            error AlreadyRetired(uint256 id);
            error FieldFixed(uint256 id, string field);
        }
    }
}

pub use sol::*;

use IServiceRegistry::IServiceRegistryErrors as Refusal;

/// Checks a registration against the registry's rules; the refusal is the revert the
/// contract sends.
pub fn check(params: &ServiceParams) -> Result<(), Refusal> {
    if !KINDS.contains(&params.kind.as_str()) {
        return Err(Refusal::UnknownKind(IServiceRegistry::UnknownKind {
            kind: params.kind.clone(),
        }));
    }
    let fields = [
        ("name", &params.name, MAX_NAME),
        ("version", &params.version, MAX_VERSION),
        ("description", &params.description, MAX_DESCRIPTION),
        ("endpoint", &params.endpoint, MAX_ENDPOINT),
        ("model", &params.model, MAX_MODEL),
        ("priceUnit", &params.priceUnit, MAX_PRICE_UNIT),
    ];
    for (field, value, max) in fields {
        if value.len() > max {
            return Err(Refusal::FieldTooLong(IServiceRegistry::FieldTooLong {
                field: field.into(),
                length: alloy_primitives::U256::from(value.len()),
                max: alloy_primitives::U256::from(max),
            }));
        }
    }
    let invalid = |field: &str, reason: &str| {
        Err(Refusal::InvalidField(IServiceRegistry::InvalidField {
            field: field.into(),
            reason: reason.into(),
        }))
    };
    if !valid_name(&params.name) {
        return invalid(
            "name",
            "a name is 1-64 bytes of a-z, 0-9, '.', '_' and '-', starting with a letter or a digit",
        );
    }
    let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
    if !printable(&params.version) || !printable(&params.model) {
        return invalid("version or model", "only printable ASCII");
    }
    if !params
        .priceUnit
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b == b'-')
    {
        return invalid("priceUnit", "a price unit is lowercase letters and '-'");
    }
    if params.description.chars().any(|c| c.is_control() && c != '\n') {
        return invalid("description", "no control characters but newlines");
    }
    let agent = params.kind == KIND_AGENT;
    if agent && params.root.is_zero() {
        return invalid("root", "an agent names the storage root of its manifest");
    }
    if !agent && !params.root.is_zero() {
        return invalid("root", "only an agent has a manifest root");
    }
    if !(agent && params.endpoint.is_empty()) {
        check_endpoint(&params.endpoint).map_err(|reason| {
            Refusal::InvalidEndpoint(IServiceRegistry::InvalidEndpoint {
                endpoint: params.endpoint.clone(),
                reason: reason.into(),
            })
        })?;
    }
    Ok(())
}

/// Whether `name` follows the registry's rule for names.
pub fn valid_name(name: &str) -> bool {
    name.len() <= MAX_NAME && {
        let mut bytes = name.bytes();
        bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
    }
}

/// Checks an endpoint is `http(s)://host[:port][/path]`: a DNS name, IPv4 or bracketed
/// IPv6 host, no credentials, no spaces; the reason when it is not.
pub fn check_endpoint(endpoint: &str) -> Result<(), &'static str> {
    if endpoint.is_empty() {
        return Err("a service needs an endpoint URL");
    }
    if !endpoint.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err("an endpoint is printable ASCII without spaces");
    }
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .ok_or("an endpoint starts with http:// or https://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("an endpoint carries no credentials");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6.split_once(']').ok_or("an IPv6 host closes its bracket")?;
        if inside.is_empty()
            || !inside
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err("not an IPv6 address");
        }
        let port = match after {
            "" => None,
            after => Some(
                after
                    .strip_prefix(':')
                    .ok_or("an IPv6 host is followed by :port or nothing")?,
            ),
        };
        (inside, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("an endpoint names a host");
    }
    if !authority.starts_with('[') {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if !host.split('.').all(label_ok) {
            return Err("the host is not a DNS name or an IPv4 address");
        }
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !valid {
            return Err("the port is a number from 1 to 65535");
        }
    }
    Ok(())
}

/// A sentence for a registry revert (a `ChainClient` revert decoder), `None` when the
/// data is none of its errors.
pub fn describe(data: &[u8]) -> Option<String> {
    use alloy_sol_types::SolInterface;
    Some(match Refusal::abi_decode(data).ok()? {
        Refusal::UnknownKind(e) => format!("unknown kind {:?}: use one of {}", e.kind, KINDS.join(", ")),
        Refusal::InvalidField(e) => format!("invalid {}: {}", e.field, e.reason),
        Refusal::FieldTooLong(e) => format!(
            "the {} is {} bytes; at most {} are taken",
            e.field, e.length, e.max
        ),
        Refusal::InvalidEndpoint(e) => format!("invalid endpoint {:?}: {}", e.endpoint, e.reason),
        Refusal::NameTaken(e) => format!(
            "{} already has a service named {:?} (id {})",
            e.owner, e.name, e.id
        ),
        Refusal::UnknownService(e) => format!("no service has id {}", e.id),
        Refusal::NotOwner(e) => format!("service {} belongs to {}", e.id, e.owner),
        Refusal::AlreadyRetired(e) => format!("service {} is retired", e.id),
        Refusal::FieldFixed(e) => format!(
            "service {}'s {} cannot change (register a new service)",
            e.id, e.field
        ),
    })
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;

    use super::*;

    fn storage(endpoint: &str) -> ServiceParams {
        ServiceParams {
            kind: KIND_STORAGE.into(),
            name: "zg-storage".into(),
            endpoint: endpoint.into(),
            ..ServiceParams::default()
        }
    }

    #[test]
    fn endpoints_are_checked() {
        for good in [
            "http://127.0.0.1:5678",
            "https://node.example.org/v1/proxy",
            "http://[::1]:8080/x",
            "http://localhost",
            "http://a-b.c?q=1",
        ] {
            assert_eq!(check_endpoint(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "ftp://x",
            "127.0.0.1:5678",
            "http://",
            "http://user:pw@host",
            "http://host:0",
            "http://host:65536",
            "http://host:",
            "http://ho st",
            "http://-host",
            "http://[::1",
            "http://[zz]",
            "http://h\u{e9}",
            "http://a..b",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn registrations_follow_the_rules() {
        assert_eq!(check(&storage("http://127.0.0.1:1")), Ok(()));
        let refused = |p: ServiceParams| {
            describe(&alloy_sol_types::SolInterface::abi_encode(
                &check(&p).unwrap_err(),
            ))
        };
        let mut p = storage("http://x");
        p.kind = "mining".into();
        assert!(refused(p).unwrap().starts_with("unknown kind \"mining\""));
        let mut p = storage("http://x");
        p.description = "d".repeat(MAX_DESCRIPTION + 1);
        assert_eq!(
            refused(p).unwrap(),
            "the description is 1025 bytes; at most 1024 are taken"
        );
        let mut p = storage("http://x");
        p.name = "Upper".into();
        assert!(refused(p).unwrap().starts_with("invalid name"));
        assert!(
            refused(storage("localhost:80"))
                .unwrap()
                .contains("starts with http://")
        );
        let agent = ServiceParams {
            kind: KIND_AGENT.into(),
            name: "helper".into(),
            ..ServiceParams::default()
        };
        assert!(refused(agent.clone()).unwrap().contains("manifest"));
        let agent = ServiceParams {
            root: B256::repeat_byte(1),
            ..agent
        };
        assert_eq!(check(&agent), Ok(()), "an agent may have no endpoint");
        let mut p = storage("http://x");
        p.root = B256::repeat_byte(1);
        assert!(refused(p).unwrap().contains("only an agent"));
    }
}
