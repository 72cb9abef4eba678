//! zg's service registry (see `zg_contracts::registry`): every service a zg network
//! runs, registered by its owner, revised, retired, and found by kind.
//!
//! Storage layout (slots of [`REGISTRY_ADDRESS`]):
//! - 0 services ever registered (ids run from 1), 1 active services.
//! - Service `id` at `slot_of(1, [id])` + field: 0 owner, 1 active, 2 registered at, 3
//!   updated at, 4 revisions, 5 input price, 6 output price, 7 root, 8 its position + 1
//!   in the active list (0: none), 9 its position + 1 in its kind's active list; strings
//!   at + 16 kind, 17 name, 18 version, 19 description, 20 endpoint, 21 model, 22 price unit.
//! - The id an owner's name points at: `slot_of(2, [owner, keccak(name)])`.
//! - Active list entry `i` (an id): `slot_of(3, [i])`.
//! - A kind's active count at `slot_of(4, [keccak(kind)])`, entry `i` at
//!   `slot_of(5, [keccak(kind), i])`.
//! - Revision `j` of `id` at `slot_of(6, [id, j])` + 0 root, 1 updated at, 2 version (string).

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolCall, SolEvent, SolInterface};
use revm::context_interface::JournalTr;
use zg_contracts::registry::{
    IServiceRegistry as R, MAX_PAGE, REGISTRY_ADDRESS, Revision, ServiceParams, ServiceRecord, check,
};

use super::{IndexedList, Stop, SystemCall, address_of, field, page, revert, slot_of, small, word};

const SERVICE_COUNT: U256 = U256::ZERO;
const ACTIVE_COUNT: U256 = U256::from_limbs([1, 0, 0, 0]);

const SERVICE: u8 = 1;
const NAME: u8 = 2;
const ACTIVE_LIST: u8 = 3;
const KIND_COUNT: u8 = 4;
const KIND_LIST: u8 = 5;
const REVISION: u8 = 6;

const OWNER: u64 = 0;
const ACTIVE: u64 = 1;
const REGISTERED_AT: u64 = 2;
const UPDATED_AT: u64 = 3;
const REVISIONS: u64 = 4;
const INPUT_PRICE: u64 = 5;
const OUTPUT_PRICE: u64 = 6;
const ROOT: u64 = 7;
const ACTIVE_POSITION: u64 = 8;
const KIND_POSITION: u64 = 9;
const KIND: u64 = 16;
const NAME_STR: u64 = 17;
const VERSION: u64 = 18;
const DESCRIPTION: u64 = 19;
const ENDPOINT: u64 = 20;
const MODEL: u64 = 21;
const PRICE_UNIT: u64 = 22;

fn base(id: U256) -> U256 {
    slot_of(SERVICE, &[id])
}

fn hashed(text: &str) -> U256 {
    U256::from_be_bytes(keccak256(text.as_bytes()).0)
}

fn name_slot(owner: Address, name: &str) -> U256 {
    slot_of(NAME, &[word(owner), hashed(name)])
}

/// One of the active lists: every kind's, or one kind's.
#[derive(Clone, Copy)]
enum List {
    All,
    Kind(U256),
}

impl List {
    /// The list in storage; a service's position in it is its record's field.
    fn indexed(self) -> IndexedList {
        let (count, tag, keys, position) = match self {
            List::All => (ACTIVE_COUNT, ACTIVE_LIST, vec![], ACTIVE_POSITION),
            List::Kind(kind) => (slot_of(KIND_COUNT, &[kind]), KIND_LIST, vec![kind], KIND_POSITION),
        };
        IndexedList {
            contract: REGISTRY_ADDRESS,
            count,
            tag,
            keys,
            record: SERVICE,
            position,
        }
    }
}

/// A registration's refusal, as the revert the contract sends.
fn refused(error: &R::IServiceRegistryErrors) -> Stop {
    Stop::Revert(error.abi_encode().into())
}

impl<J: JournalTr> SystemCall<'_, J> {
    pub(super) fn registry(&mut self, input: &[u8]) -> Result<Bytes, Stop> {
        let selector = super::selector(input)?;
        let bad = |_| Stop::Revert(Bytes::new());
        let c = REGISTRY_ADDRESS;
        let caller = self.inputs.caller;
        match selector {
            R::registerServiceCall::SELECTOR => {
                let call = R::registerServiceCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                let id = self.register(caller, &call.params)?;
                Ok(R::registerServiceCall::abi_encode_returns(&id).into())
            }
            R::updateServiceCall::SELECTOR => {
                let call = R::updateServiceCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.update(caller, call.id, &call.params)?;
                Ok(Bytes::new())
            }
            R::retireServiceCall::SELECTOR => {
                let call = R::retireServiceCall::abi_decode(input).map_err(bad)?;
                self.mutating(c, false)?;
                self.retire(caller, call.id)?;
                Ok(Bytes::new())
            }
            R::getServiceCall::SELECTOR => {
                let call = R::getServiceCall::abi_decode(input).map_err(bad)?;
                self.existing(call.id)?;
                let record = self.record(call.id)?;
                self.view(&record)
            }
            R::getServiceByNameCall::SELECTOR => {
                let call = R::getServiceByNameCall::abi_decode(input).map_err(bad)?;
                let id = self.read(c, name_slot(call.owner, &call.name))?;
                if id.is_zero() {
                    return Err(revert(&R::UnknownService { id }));
                }
                let record = self.record(id)?;
                self.view(&record)
            }
            R::getActiveServicesCall::SELECTOR => {
                let call = R::getActiveServicesCall::abi_decode(input).map_err(bad)?;
                let list = if call.kind.is_empty() {
                    List::All
                } else {
                    List::Kind(hashed(&call.kind))
                }
                .indexed();
                let total = small(self.read(c, list.count)?)?;
                let mut services = Vec::new();
                for i in page(call.offset, call.limit, total, MAX_PAGE) {
                    let id = self.read(c, list.entry(i))?;
                    services.push(self.record(id)?);
                }
                self.view_bytes(R::getActiveServicesCall::abi_encode_returns_tuple(&(
                    services,
                    U256::from(total),
                )))
            }
            R::getRevisionsCall::SELECTOR => {
                let call = R::getRevisionsCall::abi_decode(input).map_err(bad)?;
                let b = self.existing(call.id)?;
                let total = small(self.read(c, field(b, REVISIONS))?)?;
                let mut revisions = Vec::new();
                for j in page(call.offset, call.limit, total, MAX_PAGE) {
                    let r = slot_of(REVISION, &[call.id, U256::from(j)]);
                    revisions.push(Revision {
                        root: B256::from(self.read(c, field(r, 0))?),
                        updatedAt: self.read(c, field(r, 1))?,
                        version: self.read_string(c, field(r, 2))?,
                    });
                }
                self.view_bytes(R::getRevisionsCall::abi_encode_returns_tuple(&(
                    revisions,
                    U256::from(total),
                )))
            }
            R::serviceCountCall::SELECTOR => {
                let count = self.read(c, SERVICE_COUNT)?;
                self.view(&count)
            }
            _ => Err(Stop::Revert(Bytes::new())),
        }
    }

    /// The base slot of service `id`, or `UnknownService`.
    fn existing(&mut self, id: U256) -> Result<U256, Stop> {
        let count = self.read(REGISTRY_ADDRESS, SERVICE_COUNT)?;
        if id.is_zero() || id > count {
            return Err(revert(&R::UnknownService { id }));
        }
        Ok(base(id))
    }

    /// The base slot of `caller`'s active service `id`.
    fn owned(&mut self, caller: Address, id: U256) -> Result<U256, Stop> {
        let c = REGISTRY_ADDRESS;
        let b = self.existing(id)?;
        let owner = address_of(self.read(c, field(b, OWNER))?);
        if owner != caller {
            return Err(revert(&R::NotOwner { id, owner }));
        }
        if self.read(c, field(b, ACTIVE))?.is_zero() {
            return Err(revert(&R::AlreadyRetired { id }));
        }
        Ok(b)
    }

    fn register(&mut self, owner: Address, params: &ServiceParams) -> Result<U256, Stop> {
        let c = REGISTRY_ADDRESS;
        check(params).map_err(|e| refused(&e))?;
        let names = name_slot(owner, &params.name);
        let taken = self.read(c, names)?;
        if !taken.is_zero() && !self.read(c, field(base(taken), ACTIVE))?.is_zero() {
            return Err(revert(&R::NameTaken {
                owner,
                name: params.name.clone(),
                id: taken,
            }));
        }
        let id = self.read(c, SERVICE_COUNT)? + U256::from(1);
        self.write(c, SERVICE_COUNT, id)?;
        self.write(c, names, id)?;
        let b = base(id);
        self.write(c, field(b, OWNER), word(owner))?;
        self.write(c, field(b, ACTIVE), U256::from(1))?;
        self.write(c, field(b, REGISTERED_AT), self.timestamp)?;
        self.write_string(c, field(b, KIND), &params.kind)?;
        self.write_string(c, field(b, NAME_STR), &params.name)?;
        self.list_push(&List::All.indexed(), id)?;
        self.list_push(&List::Kind(hashed(&params.kind)).indexed(), id)?;
        self.write_params(id, params)?;
        let event = R::ServiceRegistered {
            id,
            owner,
            kind: params.kind.clone(),
            name: params.name.clone(),
            endpoint: params.endpoint.clone(),
        };
        self.emit(c, event.encode_log_data())?;
        Ok(id)
    }

    fn update(&mut self, caller: Address, id: U256, params: &ServiceParams) -> Result<(), Stop> {
        let c = REGISTRY_ADDRESS;
        let b = self.owned(caller, id)?;
        check(params).map_err(|e| refused(&e))?;
        for (offset, name, new) in [(KIND, "kind", &params.kind), (NAME_STR, "name", &params.name)] {
            if self.read_string(c, field(b, offset))? != *new {
                return Err(revert(&R::FieldFixed {
                    id,
                    field: name.into(),
                }));
            }
        }
        self.write_params(id, params)
    }

    /// Writes what may change and records it as a revision.
    fn write_params(&mut self, id: U256, params: &ServiceParams) -> Result<(), Stop> {
        let c = REGISTRY_ADDRESS;
        let b = base(id);
        self.write(c, field(b, UPDATED_AT), self.timestamp)?;
        self.write(c, field(b, INPUT_PRICE), params.inputPrice)?;
        self.write(c, field(b, OUTPUT_PRICE), params.outputPrice)?;
        self.write(c, field(b, ROOT), params.root.into())?;
        self.write_string(c, field(b, VERSION), &params.version)?;
        self.write_string(c, field(b, DESCRIPTION), &params.description)?;
        self.write_string(c, field(b, ENDPOINT), &params.endpoint)?;
        self.write_string(c, field(b, MODEL), &params.model)?;
        self.write_string(c, field(b, PRICE_UNIT), &params.priceUnit)?;
        let revisions = self.read(c, field(b, REVISIONS))?;
        let r = slot_of(REVISION, &[id, revisions]);
        self.write(c, field(r, 0), params.root.into())?;
        self.write(c, field(r, 1), self.timestamp)?;
        self.write_string(c, field(r, 2), &params.version)?;
        self.write(c, field(b, REVISIONS), revisions + U256::from(1))?;
        let owner = address_of(self.read(c, field(b, OWNER))?);
        let event = R::ServiceUpdated {
            id,
            owner,
            version: params.version.clone(),
            root: params.root,
        };
        self.emit(c, event.encode_log_data())
    }

    fn retire(&mut self, caller: Address, id: U256) -> Result<(), Stop> {
        let c = REGISTRY_ADDRESS;
        let b = self.owned(caller, id)?;
        let kind = self.read_string(c, field(b, KIND))?;
        self.list_remove(&List::All.indexed(), id)?;
        self.list_remove(&List::Kind(hashed(&kind)).indexed(), id)?;
        self.write(c, field(b, ACTIVE), U256::ZERO)?;
        self.write(c, field(b, UPDATED_AT), self.timestamp)?;
        self.emit(c, R::ServiceRetired { id, owner: caller }.encode_log_data())
    }

    fn record(&mut self, id: U256) -> Result<ServiceRecord, Stop> {
        let c = REGISTRY_ADDRESS;
        let b = base(id);
        Ok(ServiceRecord {
            id,
            owner: address_of(self.read(c, field(b, OWNER))?),
            active: !self.read(c, field(b, ACTIVE))?.is_zero(),
            registeredAt: self.read(c, field(b, REGISTERED_AT))?,
            updatedAt: self.read(c, field(b, UPDATED_AT))?,
            revisions: self.read(c, field(b, REVISIONS))?,
            params: ServiceParams {
                kind: self.read_string(c, field(b, KIND))?,
                name: self.read_string(c, field(b, NAME_STR))?,
                version: self.read_string(c, field(b, VERSION))?,
                description: self.read_string(c, field(b, DESCRIPTION))?,
                endpoint: self.read_string(c, field(b, ENDPOINT))?,
                model: self.read_string(c, field(b, MODEL))?,
                priceUnit: self.read_string(c, field(b, PRICE_UNIT))?,
                inputPrice: self.read(c, field(b, INPUT_PRICE))?,
                outputPrice: self.read(c, field(b, OUTPUT_PRICE))?,
                root: B256::from(self.read(c, field(b, ROOT))?),
            },
        })
    }
}
