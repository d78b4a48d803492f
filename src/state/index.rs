//! The index over one or more parsed states: which managed resource instances carry a given identifier.
//!
//! Built once per reload (the plugin swaps whole indexes, so this is immutable), then read for every event.
//! A lookup is two hash probes and a walk over a slice; it allocates nothing. Each value maps to compact
//! (state, instance, key) entries, and every instance carrying the value is kept: an S3 bucket name is the
//! id of `aws_s3_bucket` and of `aws_s3_bucket_policy` alike (separate maps, since the types differ), and
//! two states may hold the same resource.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::{Instance, State, google};
use crate::scan::{members, scalar_text};

/// Which top-level attributes identify an instance of a resource type, e.g. `["id", "arn"]`, or
/// `["id", "name", "arn", "unique_id"]` for `aws_iam_role`.
pub trait KeySpec {
    /// The keys of a resource type, in the order they are tried.
    fn keys(&self, resource_type: &str) -> &[Box<str>];
}

/// A [`KeySpec`] from a table: keys per type, and keys for every other type.
#[derive(Debug, Clone, Default)]
pub struct KeyTable {
    default: Box<[Box<str>]>,
    by_type: HashMap<Box<str>, Box<[Box<str>]>>,
}

impl KeyTable {
    /// A table that gives `default` for every type.
    pub fn new(default: &[&str]) -> Self {
        KeyTable {
            default: boxed(default),
            by_type: HashMap::new(),
        }
    }

    /// Sets the keys of one type.
    pub fn with_type(mut self, resource_type: &str, keys: &[&str]) -> Self {
        self.by_type.insert(resource_type.into(), boxed(keys));
        self
    }
}

fn boxed(keys: &[&str]) -> Box<[Box<str>]> {
    keys.iter().map(|k| Box::<str>::from(*k)).collect()
}

impl KeySpec for KeyTable {
    fn keys(&self, resource_type: &str) -> &[Box<str>] {
        self.by_type.get(resource_type).unwrap_or(&self.default)
    }
}

/// One instance that matched a lookup.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    /// The state that holds the instance.
    pub state: &'a State,
    /// The instance.
    pub instance: &'a Instance,
    /// The attribute whose value matched (`id`, `arn`, `name`, ...): the first of the type's keys that did.
    pub key: &'a str,
    /// Every key of the type whose value matched, as bits of positions in `keys`.
    matched: u32,
    keys: &'a [Box<str>],
}

impl Hit<'_> {
    /// Whether the instance's attribute `attr` (one of its type's keys) holds the value looked up. Answered
    /// from the index: the attributes are not read again.
    pub fn holds(&self, attr: &str) -> bool {
        self.keys
            .iter()
            .position(|k| **k == *attr)
            .is_some_and(|i| i < 32 && self.matched & (1 << i) != 0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    state: u32,
    instance: u32,
    /// Position in the type's key list of the first key that holds the value (unused in the ARN map).
    key: u16,
    /// Every key that holds it, as bits of positions (the first 16 keys).
    keys: u16,
}

/// The entries of one value; nearly every value has exactly one, which then costs no allocation.
#[derive(Debug)]
enum Slot {
    One(Entry),
    Many(Vec<Entry>),
}

impl Slot {
    fn as_slice(&self) -> &[Entry] {
        match self {
            Slot::One(e) => std::slice::from_ref(e),
            Slot::Many(v) => v,
        }
    }

    fn push(&mut self, e: Entry) {
        let last = match self {
            Slot::One(l) => Some(l),
            Slot::Many(v) => v.last_mut(),
        };
        // The keys of one instance are scanned together, so an instance whose id and name are equal
        // (IAM roles, S3 buckets) comes twice in a row: keep it once, under the key the KeySpec lists
        // first rather than the one the attributes happen to list first.
        if let Some(l) = last
            && l.state == e.state
            && l.instance == e.instance
        {
            l.key = l.key.min(e.key);
            l.keys |= e.keys;
            return;
        }
        match self {
            Slot::One(first) => *self = Slot::Many(vec![*first, e]),
            Slot::Many(v) => v.push(e),
        }
    }
}

#[derive(Debug)]
struct TypeIndex {
    keys: Box<[Box<str>]>,
    by_value: HashMap<Box<str>, Slot>,
}

/// Immutable index over a set of states; see the module docs.
pub struct Index {
    states: Vec<Arc<State>>,
    types: HashMap<Box<str>, TypeIndex>,
    by_arn: HashMap<Box<str>, Slot>,
    instance_count: usize,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("Index")
            .field(
                "states",
                &self.states.iter().map(|s| &*s.name).collect::<Vec<_>>(),
            )
            .field("types", &self.types.len())
            .field("arns", &self.by_arn.len())
            .field("instances", &self.instance_count)
            .finish()
    }
}

impl Default for Index {
    fn default() -> Self {
        Index::empty()
    }
}

impl Index {
    /// An index over no state: every lookup finds nothing.
    pub fn empty() -> Index {
        Index {
            states: Vec::new(),
            types: HashMap::new(),
            by_arn: HashMap::new(),
            instance_count: 0,
        }
    }

    /// Indexes `states` (their order is the lookup order between states) under the keys `keys` gives
    /// for each type, and every instance under its `arn` attribute. Key values are the text of top-level
    /// strings and numbers; empty strings are not keys. A `google_*` type is also indexed under Google's
    /// identifying attributes that `keys` does not list (`id`, `self_link`, `name`, server-assigned ids:
    /// [`google::keys`]), and its `self_link` URLs under the resource path they hold as well.
    pub fn build(states: Vec<Arc<State>>, keys: &dyn KeySpec) -> Index {
        // Sizing the maps up front saves rehashing every key as they grow.
        let mut per_type: HashMap<&str, usize> = HashMap::new();
        for inst in states.iter().flat_map(|s| &s.instances) {
            *per_type.entry(&inst.resource_type).or_insert(0) += 1;
        }
        let total: usize = per_type.values().sum();
        let mut types: HashMap<Box<str>, TypeIndex> = HashMap::with_capacity(per_type.len());
        let mut by_arn: HashMap<Box<str>, Slot> = HashMap::with_capacity(total);
        let mut instance_count = 0;

        // u32 positions keep entries small; four billion states or instances are far beyond any limit.
        for (si, state) in states.iter().enumerate().take(u32::MAX as usize) {
            for (ii, inst) in state.instances.iter().enumerate().take(u32::MAX as usize) {
                instance_count += 1;
                let t = match types.get_mut(&*inst.resource_type) {
                    Some(t) => t,
                    None => types.entry(inst.resource_type.clone()).or_insert_with(|| {
                        let keys =
                            google::keys(&inst.resource_type, keys.keys(&inst.resource_type));
                        let n = per_type.get(&*inst.resource_type).copied().unwrap_or(0);
                        // Most keys of one instance hold the same value (id, name), so one slot
                        // per instance is the likely need.
                        TypeIndex {
                            keys,
                            by_value: HashMap::with_capacity(n),
                        }
                    }),
                };
                let entry = |key: usize| Entry {
                    state: si as u32,
                    instance: ii as u32,
                    key: key.min(u16::MAX as usize) as u16,
                    keys: if key < 16 { 1 << key } else { 0 },
                };
                // Stop scanning once every wanted name was seen (Terraform sorts attributes, so `arn`
                // and `id` come early). A key list longer than the mask just scans to the end.
                let arn_is_key = t.keys.iter().any(|k| &**k == "arn");
                let wanted = t.keys.len() + usize::from(!arn_is_key);
                let mut seen: u64 = 0;
                let mut seen_count = 0;
                // Attributes are always an object (the parser guarantees it), so the scan cannot fail.
                for member in members(inst.attributes.get()).map_while(Result::ok) {
                    let name = member.name();
                    let is_arn = name == "arn";
                    let key = t.keys.iter().position(|k| **k == *name);
                    if !is_arn && key.is_none() {
                        continue;
                    }
                    let bit = 1u64 << key.unwrap_or(t.keys.len()).min(63);
                    if seen & bit == 0 {
                        seen |= bit;
                        seen_count += 1;
                    }
                    if let Some(value) = scalar_text(member.value).filter(|v| !v.is_empty()) {
                        if is_arn {
                            insert(&mut by_arn, &arn_key(&value), entry(0));
                        }
                        if let Some(k) = key {
                            insert(
                                &mut t.by_value,
                                &type_key(&inst.resource_type, &value),
                                entry(k),
                            );
                            // A Google API URL is also found by the resource path in it, which is
                            // what an audit log's `resourceName` says.
                            if name.starts_with("self_link")
                                && google::is_google(&inst.resource_type)
                                && let Some(path) = google::url_path(&value)
                            {
                                insert(&mut t.by_value, path, entry(k));
                            }
                        }
                    }
                    if seen_count == wanted && wanted < 63 {
                        break;
                    }
                }
            }
        }

        let rank = |e: &Entry| {
            states
                .get(e.state as usize)
                .and_then(|s| s.instances.get(e.instance as usize))
                .map_or(u8::MAX, |i| i.status.rank())
        };
        // Entries went in by state then file order; a stable sort puts current objects first.
        let slots = types
            .values_mut()
            .flat_map(|t| t.by_value.values_mut())
            .chain(by_arn.values_mut());
        for slot in slots {
            if let Slot::Many(v) = slot {
                v.sort_by_key(rank);
                v.shrink_to_fit();
            }
        }

        Index {
            states,
            types,
            by_arn,
            instance_count,
        }
    }

    /// Instances of `resource_type` with a key attribute equal to `value`: current objects before
    /// tainted before deposed, then in state order, then in file order.
    pub fn lookup<'a>(
        &'a self,
        resource_type: &str,
        value: &str,
    ) -> impl Iterator<Item = Hit<'a>> + use<'a> {
        let (keys, entries): (&[Box<str>], &[Entry]) = match self.types.get(resource_type) {
            Some(t) => (
                &t.keys,
                t.by_value
                    .get(&*type_key(resource_type, value))
                    .map_or(&[][..], Slot::as_slice),
            ),
            None => (&[], &[]),
        };
        entries.iter().filter_map(move |e| {
            let key = keys.get(e.key as usize).map_or("", |k| &**k);
            self.hit(e, key, keys)
        })
    }

    /// Instances of any type whose `arn` attribute equals `arn`, in the order of [`Index::lookup`].
    pub fn lookup_arn<'a>(&'a self, arn: &str) -> impl Iterator<Item = Hit<'a>> + use<'a> {
        let entries = self
            .by_arn
            .get(&*arn_key(arn))
            .map_or(&[][..], Slot::as_slice);
        entries.iter().filter_map(move |e| self.hit(e, "arn", &[]))
    }

    fn hit<'a>(&'a self, e: &Entry, key: &'a str, keys: &'a [Box<str>]) -> Option<Hit<'a>> {
        let state = self.states.get(e.state as usize)?;
        let instance = state.instances.get(e.instance as usize)?;
        Some(Hit {
            state,
            instance,
            key,
            matched: u32::from(e.keys),
            keys,
        })
    }

    /// Whether any state holds an instance of `resource_type`.
    pub fn manages_type(&self, resource_type: &str) -> bool {
        self.types.contains_key(resource_type)
    }

    /// The resource types that have at least one instance.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(|k| &**k)
    }

    /// Every state in the index.
    pub fn states(&self) -> &[Arc<State>] {
        &self.states
    }

    /// The state of that name, if the index holds it.
    pub fn state(&self, name: &str) -> Option<&Arc<State>> {
        self.states.iter().find(|s| &*s.name == name)
    }

    /// Managed instances (deposed objects included) over all states.
    pub fn instance_count(&self) -> usize {
        self.instance_count
    }
}

/// IAM names (users, roles, groups, policies, instance profiles) are unique regardless of case, and IAM takes
/// a name in any case: `PutRolePolicy` for `prodrole` changes the role created as `ProdRole`, which the state
/// writes as created and CloudTrail as the caller sent it. So IAM types are keyed, and looked up, in ASCII
/// lower case; every other type's identifiers are compared exactly.
fn type_key<'v>(resource_type: &str, value: &'v str) -> std::borrow::Cow<'v, str> {
    if resource_type.starts_with("aws_iam_") && value.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(value.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// An IAM ARN (`arn:<partition>:iam::<account>:role/Name`), keyed in lower case for the same reason.
fn arn_key(arn: &str) -> std::borrow::Cow<'_, str> {
    if arn.split(':').nth(2) == Some("iam") && arn.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(arn.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(arn)
    }
}

fn insert(map: &mut HashMap<Box<str>, Slot>, value: &str, e: Entry) {
    match map.get_mut(value) {
        Some(slot) => slot.push(e),
        None => {
            map.insert(value.into(), Slot::One(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{InstanceStatus, Limits, parse};

    fn state(name: &str, text: &str) -> Arc<State> {
        match parse(name, text.as_bytes(), &Limits::default()) {
            Ok(s) => Arc::new(s),
            Err(e) => panic!("{e}"),
        }
    }

    fn keys() -> KeyTable {
        KeyTable::new(&["id", "arn"])
            .with_type("aws_iam_role", &["id", "name", "arn", "unique_id"])
            .with_type("aws_s3_bucket", &["id", "bucket", "arn"])
    }

    const A: &str = r#"{"version": 4, "serial": 1, "resources": [
      {"mode": "managed", "type": "aws_s3_bucket", "name": "logs", "instances": [
        {"attributes": {"id": "logs-bucket", "bucket": "logs-bucket", "arn": "arn:aws:s3:::logs-bucket"}}]},
      {"mode": "managed", "type": "aws_s3_bucket_policy", "name": "logs", "instances": [
        {"attributes": {"id": "logs-bucket", "bucket": "logs-bucket", "policy": "{}"}}]},
      {"mode": "managed", "type": "aws_iam_role", "name": "r", "instances": [
        {"attributes": {"name": "deployer", "id": "deployer", "arn": "arn:aws:iam::1:role/deployer",
                        "unique_id": "AROA123", "max_session_duration": 3600, "description": ""}}]},
      {"mode": "managed", "type": "aws_instance", "name": "web", "instances": [
        {"index_key": 0, "deposed": "00000001", "attributes": {"id": "i-1"}},
        {"index_key": 0, "status": "tainted", "attributes": {"id": "i-1"}},
        {"index_key": 0, "attributes": {"id": "i-1"}},
        {"index_key": 1, "attributes": {"id": "i-2", "arn": ""}}]},
      {"mode": "data", "type": "aws_vpc", "name": "d", "instances": [{"attributes": {"id": "vpc-1"}}]}
    ]}"#;

    const B: &str = r#"{"version": 4, "serial": 7, "resources": [
      {"mode": "managed", "type": "aws_s3_bucket", "name": "same", "instances": [
        {"attributes": {"id": "logs-bucket", "arn": "arn:aws:s3:::logs-bucket"}}]},
      {"mode": "managed", "type": "aws_instance", "name": "web", "instances": [
        {"attributes": {"id": "i-1"}}]}
    ]}"#;

    fn addrs<'a>(hits: impl Iterator<Item = Hit<'a>>) -> Vec<String> {
        hits.map(|h| format!("{}:{}:{}", h.state.name, h.instance.address, h.key))
            .collect()
    }

    #[test]
    fn lookups() {
        let index = Index::build(vec![state("a", A), state("b", B)], &keys());
        assert_eq!(index.instance_count(), 9);
        assert_eq!(index.states().len(), 2);
        assert_eq!(index.state("b").map(|s| s.serial), Some(7));

        // Two types share the value; two states hold the same bucket.
        assert_eq!(
            addrs(index.lookup("aws_s3_bucket", "logs-bucket")),
            ["a:aws_s3_bucket.logs:id", "b:aws_s3_bucket.same:id"]
        );
        assert_eq!(
            addrs(index.lookup("aws_s3_bucket_policy", "logs-bucket")),
            ["a:aws_s3_bucket_policy.logs:id"]
        );
        // By name and by unique id; id == name gives one hit, not two.
        assert_eq!(
            addrs(index.lookup("aws_iam_role", "deployer")),
            ["a:aws_iam_role.r:id"]
        );
        assert_eq!(
            addrs(index.lookup("aws_iam_role", "AROA123")),
            ["a:aws_iam_role.r:unique_id"]
        );
        assert_eq!(
            addrs(index.lookup("aws_iam_role", "arn:aws:iam::1:role/deployer")),
            ["a:aws_iam_role.r:arn"]
        );
        // Not a key of the type, numbers are not keys unless asked, empty strings never are.
        assert_eq!(index.lookup("aws_s3_bucket_policy", "{}").count(), 0);
        assert_eq!(index.lookup("aws_iam_role", "3600").count(), 0);
        assert_eq!(index.lookup("aws_iam_role", "").count(), 0);
        assert_eq!(index.lookup_arn("").count(), 0);
        assert_eq!(index.lookup("aws_vpc", "vpc-1").count(), 0);
        assert_eq!(index.lookup("nope", "i-1").count(), 0);

        assert_eq!(
            addrs(index.lookup_arn("arn:aws:s3:::logs-bucket")),
            ["a:aws_s3_bucket.logs:arn", "b:aws_s3_bucket.same:arn"]
        );
        assert_eq!(
            addrs(index.lookup_arn("arn:aws:iam::1:role/deployer")),
            ["a:aws_iam_role.r:arn"]
        );

        assert!(index.manages_type("aws_instance"));
        assert!(index.manages_type("aws_s3_bucket_policy"));
        assert!(!index.manages_type("aws_vpc"));
        let mut types: Vec<&str> = index.types().collect();
        types.sort_unstable();
        assert_eq!(types.len(), 4);
    }

    #[test]
    fn status_order() {
        let index = Index::build(vec![state("a", A), state("b", B)], &keys());
        let hits: Vec<_> = index.lookup("aws_instance", "i-1").collect();
        let got: Vec<_> = hits
            .iter()
            .map(|h| (&*h.state.name, h.instance.status.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("a", InstanceStatus::Current),
                ("b", InstanceStatus::Current),
                ("a", InstanceStatus::Tainted),
                ("a", InstanceStatus::Deposed("00000001".into())),
            ]
        );
    }

    #[test]
    fn numbers_as_keys() {
        let s = state(
            "n",
            r#"{"version": 4, "resources": [{"type": "aws_x", "name": "n", "instances": [
                {"attributes": {"id": 42, "arn": "arn:x", "name": "x"}}]}]}"#,
        );
        let index = Index::build(vec![s], &KeyTable::new(&["id"]));
        assert_eq!(addrs(index.lookup("aws_x", "42")), ["n:aws_x.n:id"]);
        assert_eq!(index.lookup("aws_x", "x").count(), 0);
        assert_eq!(addrs(index.lookup_arn("arn:x")), ["n:aws_x.n:arn"]);
    }

    #[test]
    fn empty() {
        let index = Index::empty();
        assert_eq!(index.lookup("aws_instance", "i-1").count(), 0);
        assert_eq!(index.lookup_arn("arn").count(), 0);
        assert!(!index.manages_type("aws_instance"));
        assert_eq!(index.instance_count(), 0);
        assert!(index.states().is_empty());
    }

    #[test]
    fn index_is_shareable() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Index>();
        send_sync::<State>();
    }

    #[test]
    fn hits_outlive_the_query_strings() {
        let index = Index::build(vec![state("a", A)], &keys());
        let hit = {
            let value = String::from("i-2");
            index.lookup("aws_instance", &value).next()
        };
        assert_eq!(
            hit.map(|h| &*h.instance.address),
            Some("aws_instance.web[1]")
        );
    }
}
