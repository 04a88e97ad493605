//! The API state: every stored resource as a record, and the change set of one request.
//!
//! Records keep each resource's document in the AWS CLI's JSON shape (full
//! fidelity: every field the model knows survives a round trip), plus its
//! ETag and timestamps. Resources are immutable `Arc`s so a request works on a
//! cheap copy of the state ([`Txn`]) that replaces the live one only once the
//! change is validated and durably committed.

use cachalot_config::logging::{Delivery, DeliveryDestination, DeliverySource};
use cachalot_config::model::{FunctionCode, KeyValueStore};
use cachalot_config::validate::{DistributionResource, ResourceKind, ResourceRef, Resources};
use cachalot_config::wire;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The account id in every ARN Cachalot hands out.
pub const ACCOUNT_ID: &str = "123456789012";

/// The three kinds of policy, which share one lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PolicyKind {
    Cache,
    OriginRequest,
    ResponseHeaders,
}

impl PolicyKind {
    pub(crate) const ALL: [PolicyKind; 3] = [PolicyKind::Cache, PolicyKind::OriginRequest, PolicyKind::ResponseHeaders];

    /// URI segment and record-key prefix, e.g. `cache-policy`.
    pub(crate) fn segment(self) -> &'static str {
        match self {
            PolicyKind::Cache => "cache-policy",
            PolicyKind::OriginRequest => "origin-request-policy",
            PolicyKind::ResponseHeaders => "response-headers-policy",
        }
    }

    /// Resource name, e.g. `CachePolicy`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PolicyKind::Cache => "CachePolicy",
            PolicyKind::OriginRequest => "OriginRequestPolicy",
            PolicyKind::ResponseHeaders => "ResponseHeadersPolicy",
        }
    }

    /// Words for messages, e.g. `cache policy`.
    pub(crate) fn words(self) -> &'static str {
        match self {
            PolicyKind::Cache => "cache policy",
            PolicyKind::OriginRequest => "origin request policy",
            PolicyKind::ResponseHeaders => "response headers policy",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A custom policy of any kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PolicyRecord {
    pub(crate) id: String,
    /// `CachePolicyConfig` / `OriginRequestPolicyConfig` / `ResponseHeadersPolicyConfig` JSON.
    pub(crate) config: Value,
    pub(crate) etag: String,
    pub(crate) last_modified: i64,
}

impl PolicyRecord {
    pub(crate) fn name(&self) -> &str {
        self.config.get("Name").and_then(Value::as_str).unwrap_or_default()
    }
}

/// The private-content resources, which share one lifecycle: public keys, key groups,
/// origin access controls and (legacy) origin access identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrivateKind {
    PublicKey,
    KeyGroup,
    OriginAccessControl,
    OriginAccessIdentity,
}

impl PrivateKind {
    pub(crate) const ALL: [PrivateKind; 4] = [
        PrivateKind::PublicKey,
        PrivateKind::KeyGroup,
        PrivateKind::OriginAccessControl,
        PrivateKind::OriginAccessIdentity,
    ];

    /// Record-key prefix.
    pub(crate) fn segment(self) -> &'static str {
        match self {
            PrivateKind::PublicKey => "public-key",
            PrivateKind::KeyGroup => "key-group",
            PrivateKind::OriginAccessControl => "origin-access-control",
            PrivateKind::OriginAccessIdentity => "origin-access-identity",
        }
    }

    /// Resource name, e.g. `PublicKey`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PrivateKind::PublicKey => "PublicKey",
            PrivateKind::KeyGroup => "KeyGroup",
            PrivateKind::OriginAccessControl => "OriginAccessControl",
            PrivateKind::OriginAccessIdentity => "CloudFrontOriginAccessIdentity",
        }
    }

    /// Words for messages.
    pub(crate) fn words(self) -> &'static str {
        match self {
            PrivateKind::PublicKey => "public key",
            PrivateKind::KeyGroup => "key group",
            PrivateKind::OriginAccessControl => "origin access control",
            PrivateKind::OriginAccessIdentity => "origin access identity",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A public key, key group, origin access control or origin access identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PrivateRecord {
    pub(crate) id: String,
    /// `PublicKeyConfig` / `KeyGroupConfig` / `OriginAccessControlConfig` /
    /// `CloudFrontOriginAccessIdentityConfig` JSON.
    pub(crate) config: Value,
    pub(crate) etag: String,
    pub(crate) created: i64,
    pub(crate) last_modified: i64,
}

/// A distribution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DistributionRecord {
    pub(crate) id: String,
    pub(crate) domain_name: String,
    /// `DistributionConfig` JSON.
    pub(crate) config: Value,
    pub(crate) etag: String,
    pub(crate) created: i64,
    pub(crate) last_modified: i64,
    #[serde(skip)]
    pub(crate) typed: Option<wire::DistributionConfig>,
}

impl DistributionRecord {
    /// Fills the typed view of `config`.
    pub(crate) fn with_typed(mut self) -> Self {
        self.typed = from_json(&self.config);
        self
    }

    pub(crate) fn arn(&self) -> String {
        format!("arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{}", self.id)
    }

    pub(crate) fn enabled(&self) -> bool {
        self.typed.as_ref().is_some_and(|c| c.enabled)
    }

    pub(crate) fn caller_reference(&self) -> &str {
        self.config.get("CallerReference").and_then(Value::as_str).unwrap_or_default()
    }

    /// Every behavior (default first).
    pub(crate) fn behaviors(&self) -> Vec<&wire::CacheBehavior> {
        let Some(c) = &self.typed else { return Vec::new() };
        std::iter::once(&c.default_cache_behavior)
            .chain(c.cache_behaviors.iter().flat_map(|l| l.items.iter()))
            .collect()
    }
}

/// An invalidation batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InvalidationRecord {
    pub(crate) distribution_id: String,
    pub(crate) id: String,
    pub(crate) caller_reference: String,
    pub(crate) paths: Vec<String>,
    /// `InProgress` or `Completed` (the exact spellings the AWS waiter accepts).
    pub(crate) status: String,
    pub(crate) create_time: i64,
}

/// One stage (DEVELOPMENT or LIVE) of a function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FunctionStage {
    /// `FunctionConfig` JSON (`Comment`, `Runtime`, `KeyValueStoreAssociations`).
    pub(crate) config: Value,
    pub(crate) code: String,
    pub(crate) etag: String,
    pub(crate) last_modified: i64,
}

/// A CloudFront Function.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FunctionRecord {
    pub(crate) name: String,
    pub(crate) created: i64,
    pub(crate) development: FunctionStage,
    pub(crate) live: Option<FunctionStage>,
}

impl FunctionRecord {
    pub(crate) fn arn(&self) -> String {
        format!("arn:aws:cloudfront::{ACCOUNT_ID}:function/{}", self.name)
    }
}

/// A key value store and its items.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KvsRecord {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) comment: String,
    pub(crate) etag: String,
    pub(crate) created: i64,
    pub(crate) last_modified: i64,
    pub(crate) items: BTreeMap<String, String>,
    /// ETag of the items (the data API's `If-Match`).
    pub(crate) data_etag: String,
    pub(crate) data_last_modified: i64,
}

impl KvsRecord {
    pub(crate) fn arn(&self) -> String {
        format!("arn:aws:cloudfront::{ACCOUNT_ID}:key-value-store/{}", self.id)
    }
}

/// Everything the API stores.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    policies: [BTreeMap<String, Arc<PolicyRecord>>; 3],
    pub(crate) distributions: BTreeMap<String, Arc<DistributionRecord>>,
    /// Keyed by (distribution id, invalidation id).
    pub(crate) invalidations: BTreeMap<(String, String), Arc<InvalidationRecord>>,
    pub(crate) functions: BTreeMap<String, Arc<FunctionRecord>>,
    /// Keyed by name.
    pub(crate) kvs: BTreeMap<String, Arc<KvsRecord>>,
    /// `MonitoringSubscription` JSON by distribution id.
    pub(crate) monitoring: BTreeMap<String, Value>,
    /// Tags by resource ARN.
    pub(crate) tags: BTreeMap<String, Vec<(String, String)>>,
    /// Standard logging (v2) delivery sources by name.
    pub(crate) delivery_sources: BTreeMap<String, Arc<DeliverySource>>,
    /// Delivery destinations by name.
    pub(crate) delivery_destinations: BTreeMap<String, Arc<DeliveryDestination>>,
    /// Deliveries by id.
    pub(crate) deliveries: BTreeMap<String, Arc<Delivery>>,
    /// Public keys, key groups, origin access controls, origin access identities, by id.
    private: [BTreeMap<String, Arc<PrivateRecord>>; 4],
}

/// Which resource a change is about, to word its diagnostics relative to the request document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    None,
    Distribution(String),
    Policy(PolicyKind, String),
    /// A public key, key group or origin access control (its words and id).
    Private(&'static str, String),
}

/// The ids of the resources in a [`Resources`] value, by position.
#[derive(Debug, Default)]
pub(crate) struct Labels {
    pub(crate) distributions: Vec<String>,
    pub(crate) policies: [Vec<String>; 3],
    /// Public keys, key groups, origin access controls.
    pub(crate) private: [Vec<String>; 3],
}

impl Labels {
    /// The resource at `at`, by id.
    pub(crate) fn of(&self, at: ResourceRef) -> Named<'_> {
        let (policy, ids) = match at.kind {
            ResourceKind::Distribution => (None, &self.distributions),
            ResourceKind::CachePolicy => (Some(PolicyKind::Cache), &self.policies[0]),
            ResourceKind::OriginRequestPolicy => (Some(PolicyKind::OriginRequest), &self.policies[1]),
            ResourceKind::ResponseHeadersPolicy => (Some(PolicyKind::ResponseHeaders), &self.policies[2]),
            ResourceKind::PublicKey => return Named::private("public key", &self.private[0], at.index),
            ResourceKind::KeyGroup => return Named::private("key group", &self.private[1], at.index),
            ResourceKind::OriginAccessControl => {
                return Named::private("origin access control", &self.private[2], at.index);
            }
        };
        Named { policy, private: None, id: ids.get(at.index).map_or("", String::as_str) }
    }
}

/// A stored resource named by kind and id, for diagnostics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Named<'a> {
    /// `None` for a distribution.
    policy: Option<PolicyKind>,
    /// Words for a public key, key group or origin access control.
    private: Option<&'static str>,
    id: &'a str,
}

impl<'a> Named<'a> {
    fn private(what: &'static str, ids: &'a [String], index: usize) -> Self {
        Named { policy: None, private: Some(what), id: ids.get(index).map_or("", String::as_str) }
    }

    /// `relative` (a path inside this resource) as the client of a change about `subject`
    /// reads it: as is inside the document it sent, prefixed with the resource otherwise.
    pub(crate) fn path(&self, relative: &str, subject: &Subject) -> String {
        if let Some(what) = self.private {
            return match subject {
                Subject::Private(w, id) if *w == what && id == self.id => relative.to_owned(),
                _ => format!("({what} {}) {relative}", self.id),
            };
        }
        let own = match (subject, self.policy) {
            (Subject::Distribution(d), None) => d == self.id,
            (Subject::Policy(k, p), Some(kind)) => *k == kind && p == self.id,
            _ => false,
        };
        if own {
            relative.to_owned()
        } else {
            let what = self.policy.map_or("distribution", PolicyKind::words);
            format!("({what} {}) {relative}", self.id)
        }
    }
}

impl State {
    pub(crate) fn policies(&self, kind: PolicyKind) -> &BTreeMap<String, Arc<PolicyRecord>> {
        &self.policies[kind.index()]
    }

    pub(crate) fn private(&self, kind: PrivateKind) -> &BTreeMap<String, Arc<PrivateRecord>> {
        &self.private[kind.index()]
    }

    /// Rebuilds the state from stored records; unreadable records are reported and skipped.
    pub(crate) fn from_records(records: Vec<(String, Vec<u8>)>) -> (State, Vec<String>) {
        let mut s = State::default();
        let mut problems = Vec::new();
        for (key, bytes) in records {
            if s.apply(&key, Some(&bytes)).is_err() {
                problems.push(format!("stored record {key} could not be read and is ignored"));
            }
        }
        (s, problems)
    }

    /// Sets (or with `None` removes) one stored record. Returns whether the edge serves
    /// what it changed; `Err` when the record cannot be read (it is then left out).
    pub(crate) fn apply(&mut self, key: &str, bytes: Option<&[u8]>) -> Result<bool, ()> {
        let (kind, rest) = key.split_once('/').unwrap_or((key, ""));
        fn put<T: DeserializeOwned>(bytes: Option<&[u8]>, f: impl FnOnce(Option<T>)) -> Result<(), ()> {
            match bytes {
                None => f(None),
                Some(b) => f(Some(parse::<T>(b).ok_or(())?)),
            }
            Ok(())
        }
        match kind {
            "distribution" => put::<DistributionRecord>(bytes, |r| match r {
                Some(r) => drop(self.distributions.insert(r.id.clone(), Arc::new(r.with_typed()))),
                None => drop(self.distributions.remove(rest)),
            })
            .map(|()| true),
            "invalidation" => put::<InvalidationRecord>(bytes, |r| match r {
                Some(r) => drop(self.invalidations.insert((r.distribution_id.clone(), r.id.clone()), Arc::new(r))),
                None => {
                    let (d, i) = rest.split_once('/').unwrap_or((rest, ""));
                    drop(self.invalidations.remove(&(d.to_owned(), i.to_owned())))
                }
            })
            .map(|()| false),
            "function" => put::<FunctionRecord>(bytes, |r| match r {
                Some(r) => drop(self.functions.insert(r.name.clone(), Arc::new(r))),
                None => drop(self.functions.remove(rest)),
            })
            .map(|()| true),
            "key-value-store" => put::<KvsRecord>(bytes, |r| match r {
                Some(r) => drop(self.kvs.insert(r.name.clone(), Arc::new(r))),
                None => drop(self.kvs.remove(rest)),
            })
            .map(|()| true),
            "monitoring" => put::<Value>(bytes, |v| match v {
                Some(v) => drop(self.monitoring.insert(rest.to_owned(), v)),
                None => drop(self.monitoring.remove(rest)),
            })
            .map(|()| false),
            "delivery-source" => put::<DeliverySource>(bytes, |r| match r {
                Some(r) => drop(self.delivery_sources.insert(r.name.clone(), Arc::new(r))),
                None => drop(self.delivery_sources.remove(rest)),
            })
            .map(|()| true),
            "delivery-destination" => put::<DeliveryDestination>(bytes, |r| match r {
                Some(r) => drop(self.delivery_destinations.insert(r.name.clone(), Arc::new(r))),
                None => drop(self.delivery_destinations.remove(rest)),
            })
            .map(|()| true),
            "delivery" => put::<Delivery>(bytes, |r| match r {
                Some(r) => drop(self.deliveries.insert(r.id.clone(), Arc::new(r))),
                None => drop(self.deliveries.remove(rest)),
            })
            .map(|()| true),
            "tags" => put::<Vec<(String, String)>>(bytes, |t| match t {
                Some(t) => drop(self.tags.insert(rest.to_owned(), t)),
                None => drop(self.tags.remove(rest)),
            })
            .map(|()| false),
            other => match PolicyKind::ALL.iter().find(|k| k.segment() == other) {
                Some(k) => {
                    let map = &mut self.policies[k.index()];
                    put::<PolicyRecord>(bytes, |r| match r {
                        Some(r) => drop(map.insert(r.id.clone(), Arc::new(r))),
                        None => drop(map.remove(rest)),
                    })
                    .map(|()| true)
                }
                None => match PrivateKind::ALL.iter().find(|k| k.segment() == other) {
                    Some(k) => {
                        let map = &mut self.private[k.index()];
                        put::<PrivateRecord>(bytes, |r| match r {
                            Some(r) => drop(map.insert(r.id.clone(), Arc::new(r))),
                            None => drop(map.remove(rest)),
                        })
                        .map(|()| true)
                    }
                    None => Err(()),
                },
            },
        }
    }

    /// The resources the edge serves: every distribution, custom policy,
    /// LIVE function and key value store. The distribution a change is about comes last,
    /// so that a domain name it shares with another is reported on it, naming the other.
    pub(crate) fn resources(&self, subject: &Subject) -> (Resources, Labels) {
        let mut r = Resources::default();
        let mut labels = Labels::default();
        let changed = match subject {
            Subject::Distribution(id) => Some(id.as_str()),
            _ => None,
        };
        let (others, last): (Vec<_>, Vec<_>) =
            self.distributions.values().partition(|d| Some(d.id.as_str()) != changed);
        for d in others.into_iter().chain(last) {
            if let Some(config) = &d.typed {
                r.distributions.push(DistributionResource {
                    id: d.id.clone(),
                    domain_name: d.domain_name.clone(),
                    config: config.clone(),
                });
                labels.distributions.push(d.id.clone());
            }
        }
        for p in self.policies(PolicyKind::Cache).values() {
            if let Some(config) = from_json(&p.config) {
                r.cache_policies.push(wire::CachePolicy { id: p.id.clone(), cache_policy_config: config });
                labels.policies[0].push(p.id.clone());
            }
        }
        for p in self.policies(PolicyKind::OriginRequest).values() {
            if let Some(config) = from_json(&p.config) {
                r.origin_request_policies
                    .push(wire::OriginRequestPolicy { id: p.id.clone(), origin_request_policy_config: config });
                labels.policies[1].push(p.id.clone());
            }
        }
        for p in self.policies(PolicyKind::ResponseHeaders).values() {
            if let Some(config) = from_json(&p.config) {
                r.response_headers_policies
                    .push(wire::ResponseHeadersPolicy { id: p.id.clone(), response_headers_policy_config: config });
                labels.policies[2].push(p.id.clone());
            }
        }
        for p in self.private(PrivateKind::PublicKey).values() {
            if let Some(config) = from_json(&p.config) {
                r.public_keys.push(wire::PublicKey { id: p.id.clone(), public_key_config: config });
                labels.private[0].push(p.id.clone());
            }
        }
        for p in self.private(PrivateKind::KeyGroup).values() {
            if let Some(config) = from_json(&p.config) {
                r.key_groups.push(wire::KeyGroup { id: p.id.clone(), key_group_config: config });
                labels.private[1].push(p.id.clone());
            }
        }
        for p in self.private(PrivateKind::OriginAccessControl).values() {
            if let Some(config) = from_json(&p.config) {
                r.origin_access_controls
                    .push(wire::OriginAccessControl { id: p.id.clone(), origin_access_control_config: config });
                labels.private[2].push(p.id.clone());
            }
        }
        for f in self.functions.values() {
            if let Some(live) = &f.live {
                r.functions.push(FunctionCode {
                    name: f.name.clone(),
                    runtime: runtime_of(&live.config),
                    code: live.code.clone(),
                    key_value_stores: self.kvs_names_of(&live.config),
                });
            }
        }
        for k in self.kvs.values() {
            r.key_value_stores.push(KeyValueStore {
                name: k.name.clone(),
                id: k.id.clone(),
                items: k.items.iter().map(|(a, b)| (a.clone(), b.clone())).collect(),
            });
        }
        r.log_deliveries.sources = self.delivery_sources.values().map(|s| (**s).clone()).collect();
        r.log_deliveries.destinations = self.delivery_destinations.values().map(|d| (**d).clone()).collect();
        r.log_deliveries.deliveries = self.deliveries.values().map(|d| (**d).clone()).collect();
        (r, labels)
    }

    /// Names of the stores a `FunctionConfig` associates (by ARN, id or name).
    pub(crate) fn kvs_names_of(&self, config: &Value) -> Vec<String> {
        let items = config.pointer("/KeyValueStoreAssociations/Items").and_then(Value::as_array);
        items
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("KeyValueStoreARN").and_then(Value::as_str))
            .filter_map(|arn| {
                let tail = arn.rsplit('/').next().unwrap_or(arn);
                self.kvs.values().find(|k| k.id == tail || k.name == tail || k.arn() == arn).map(|k| k.name.clone())
            })
            .collect()
    }

    /// Distributions whose behaviors satisfy `pred`.
    pub(crate) fn distributions_using(
        &self,
        pred: impl Fn(&wire::CacheBehavior) -> bool,
    ) -> Vec<Arc<DistributionRecord>> {
        self.distributions.values().filter(|d| d.behaviors().into_iter().any(&pred)).cloned().collect()
    }
}

/// `Runtime` of a `FunctionConfig`.
pub(crate) fn runtime_of(config: &Value) -> String {
    config.get("Runtime").and_then(Value::as_str).unwrap_or("cloudfront-js-2.0").to_owned()
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

/// Typed view of a JSON document (lenient wire types).
pub(crate) fn from_json<T: DeserializeOwned>(v: &Value) -> Option<T> {
    serde_json::from_value(v.clone()).ok()
}

/// The changes one request makes, applied to a private copy of the state.
pub(crate) struct Txn {
    pub(crate) state: State,
    pub(crate) changes: BTreeMap<String, Option<Vec<u8>>>,
    /// The change alters what the edge serves (rebuild, validate, publish).
    pub(crate) affects_edge: bool,
}

fn bytes<T: Serialize>(v: &T) -> Vec<u8> {
    // Records are plain data; serializing them cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

impl Txn {
    pub(crate) fn new(state: State) -> Self {
        Self { state, changes: BTreeMap::new(), affects_edge: false }
    }

    pub(crate) fn put_policy(&mut self, kind: PolicyKind, rec: PolicyRecord) {
        self.changes.insert(format!("{}/{}", kind.segment(), rec.id), Some(bytes(&rec)));
        self.state.policies[kind.index()].insert(rec.id.clone(), Arc::new(rec));
        self.affects_edge = true;
    }

    pub(crate) fn delete_policy(&mut self, kind: PolicyKind, id: &str) {
        self.changes.insert(format!("{}/{id}", kind.segment()), None);
        self.state.policies[kind.index()].remove(id);
        self.affects_edge = true;
    }

    pub(crate) fn put_private(&mut self, kind: PrivateKind, rec: PrivateRecord) {
        self.changes.insert(format!("{}/{}", kind.segment(), rec.id), Some(bytes(&rec)));
        self.state.private[kind.index()].insert(rec.id.clone(), Arc::new(rec));
        self.affects_edge = true;
    }

    pub(crate) fn delete_private(&mut self, kind: PrivateKind, id: &str) {
        self.changes.insert(format!("{}/{id}", kind.segment()), None);
        self.state.private[kind.index()].remove(id);
        self.affects_edge = true;
    }

    pub(crate) fn put_distribution(&mut self, rec: DistributionRecord) {
        self.changes.insert(format!("distribution/{}", rec.id), Some(bytes(&rec)));
        self.state.distributions.insert(rec.id.clone(), Arc::new(rec.with_typed()));
        self.affects_edge = true;
    }

    pub(crate) fn delete_distribution(&mut self, id: &str) {
        self.changes.insert(format!("distribution/{id}"), None);
        self.state.distributions.remove(id);
        let invalidations: Vec<_> = self.state.invalidations.keys().filter(|(d, _)| d == id).cloned().collect();
        for key in invalidations {
            self.changes.insert(format!("invalidation/{}/{}", key.0, key.1), None);
            self.state.invalidations.remove(&key);
        }
        if self.state.monitoring.remove(id).is_some() {
            self.changes.insert(format!("monitoring/{id}"), None);
        }
        let arn = format!("arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{id}");
        if self.state.tags.remove(&arn).is_some() {
            self.changes.insert(format!("tags/{arn}"), None);
        }
        self.affects_edge = true;
    }

    pub(crate) fn put_invalidation(&mut self, rec: InvalidationRecord) {
        self.changes.insert(format!("invalidation/{}/{}", rec.distribution_id, rec.id), Some(bytes(&rec)));
        self.state.invalidations.insert((rec.distribution_id.clone(), rec.id.clone()), Arc::new(rec));
    }

    pub(crate) fn put_function(&mut self, rec: FunctionRecord) {
        self.changes.insert(format!("function/{}", rec.name), Some(bytes(&rec)));
        self.state.functions.insert(rec.name.clone(), Arc::new(rec));
        self.affects_edge = true;
    }

    pub(crate) fn delete_function(&mut self, name: &str) {
        self.changes.insert(format!("function/{name}"), None);
        self.state.functions.remove(name);
        self.affects_edge = true;
    }

    pub(crate) fn put_kvs(&mut self, rec: KvsRecord) {
        self.changes.insert(format!("key-value-store/{}", rec.name), Some(bytes(&rec)));
        self.state.kvs.insert(rec.name.clone(), Arc::new(rec));
        self.affects_edge = true;
    }

    pub(crate) fn delete_kvs(&mut self, name: &str) {
        self.changes.insert(format!("key-value-store/{name}"), None);
        self.state.kvs.remove(name);
        self.affects_edge = true;
    }

    pub(crate) fn put_monitoring(&mut self, distribution_id: &str, v: Option<Value>) {
        self.changes.insert(format!("monitoring/{distribution_id}"), v.as_ref().map(bytes));
        match v {
            Some(v) => self.state.monitoring.insert(distribution_id.to_owned(), v),
            None => self.state.monitoring.remove(distribution_id),
        };
    }

    pub(crate) fn put_delivery_source(&mut self, rec: DeliverySource) {
        self.changes.insert(format!("delivery-source/{}", rec.name), Some(bytes(&rec)));
        self.state.delivery_sources.insert(rec.name.clone(), Arc::new(rec));
        self.affects_edge = true;
    }

    pub(crate) fn delete_delivery_source(&mut self, name: &str) {
        self.changes.insert(format!("delivery-source/{name}"), None);
        self.state.delivery_sources.remove(name);
        self.affects_edge = true;
    }

    pub(crate) fn put_delivery_destination(&mut self, rec: DeliveryDestination) {
        self.changes.insert(format!("delivery-destination/{}", rec.name), Some(bytes(&rec)));
        self.state.delivery_destinations.insert(rec.name.clone(), Arc::new(rec));
        self.affects_edge = true;
    }

    pub(crate) fn delete_delivery_destination(&mut self, name: &str) {
        self.changes.insert(format!("delivery-destination/{name}"), None);
        self.state.delivery_destinations.remove(name);
        self.affects_edge = true;
    }

    pub(crate) fn put_delivery(&mut self, rec: Delivery) {
        self.changes.insert(format!("delivery/{}", rec.id), Some(bytes(&rec)));
        self.state.deliveries.insert(rec.id.clone(), Arc::new(rec));
        self.affects_edge = true;
    }

    pub(crate) fn delete_delivery(&mut self, id: &str) {
        self.changes.insert(format!("delivery/{id}"), None);
        self.state.deliveries.remove(id);
        self.affects_edge = true;
    }

    pub(crate) fn put_tags(&mut self, arn: &str, tags: Vec<(String, String)>) {
        if tags.is_empty() {
            self.changes.insert(format!("tags/{arn}"), None);
            self.state.tags.remove(arn);
        } else {
            self.changes.insert(format!("tags/{arn}"), Some(bytes(&tags)));
            self.state.tags.insert(arn.to_owned(), tags);
        }
    }
}
