//! What the index knows of Google Cloud resources (the `google_*` types of the google and google-beta
//! providers): the attributes that identify them, and where they live (project and location).
//!
//! The provider's ids are resource paths (`projects/p/zones/z/instances/vm`, `projects/p/topics/t`; a
//! bucket's id is its name), which is what an audit log's `resourceName` says; `self_link` is the same path
//! behind an API URL (`https://www.googleapis.com/compute/v1/projects/p/zones/z/instances/vm`). A few types
//! also carry the server-assigned number or e-mail a log names them by (`instance_id`, `unique_id`, `email`).
//! The key names below are checked against the provider's schema by this module's tests.

/// Whether a resource type is Google Cloud's.
pub fn is_google(resource_type: &str) -> bool {
    resource_type.starts_with("google_")
}

/// Keys of every `google_*` type besides those the catalog gives: the id (a path or a name), the API URL,
/// the name, and the server-assigned ids that are only ever computed (never an input naming another
/// resource) in the provider's schema.
const KEYS: &[&str] = &[
    "id",
    "self_link",
    "name",
    "uid",
    "unique_id",
    "numeric_id",
    "generated_id",
    "self_link_with_id",
];

/// Keys of one type only: attributes that identify the resource itself in that type but name another
/// resource in others (`instance_id` is an input of `google_alloydb_instance`, `email` the grantee of
/// `google_storage_bucket_access_control`).
const TYPE_KEYS: &[(&str, &[&str])] = &[
    ("google_compute_instance", &["instance_id"]),
    ("google_compute_instance_from_template", &["instance_id"]),
    ("google_compute_disk", &["disk_id"]),
    ("google_compute_region_disk", &["disk_id"]),
    ("google_compute_network", &["network_id"]),
    ("google_compute_subnetwork", &["subnetwork_id"]),
    ("google_service_account", &["email"]),
    ("google_project", &["project_id", "number"]),
];

/// The keys a type is indexed under: `given` (the catalog's, in its order), then, for a `google_*` type,
/// the Google keys it does not list. Other types keep `given` exactly.
pub fn keys(resource_type: &str, given: &[Box<str>]) -> Box<[Box<str>]> {
    if !is_google(resource_type) {
        return given.into();
    }
    let own = TYPE_KEYS
        .iter()
        .filter(|(t, _)| *t == resource_type)
        .flat_map(|(_, keys)| keys.iter());
    let mut all: Vec<Box<str>> = given.to_vec();
    for key in KEYS.iter().chain(own) {
        if !all.iter().any(|k| **k == **key) {
            all.push((*key).into());
        }
    }
    all.into()
}

/// The resource path inside an API URL: `projects/p/zones/z/instances/vm` for
/// `https://www.googleapis.com/compute/v1/projects/p/zones/z/instances/vm`, so that a log's `resourceName`
/// finds an instance by its `self_link`. `None` for anything else (a storage URL `…/storage/v1/b/name` names
/// no project: a bucket is found by its name).
pub fn url_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let at = rest.find("/projects/")?;
    rest.get(at + 1..)
        .filter(|path| path.len() > "projects/".len())
}

/// Whether `text` can be compared with a log's project id: project numbers (all digits), the wildcards
/// `_` and `-` of resource paths, and empty text cannot.
pub fn is_project_id(text: &str) -> bool {
    !text.is_empty() && text != "_" && text != "-" && !text.bytes().all(|b| b.is_ascii_digit())
}

/// The project a `project` attribute names (`p`, or `projects/p`), if it is a project id.
pub fn project_attribute(text: &str) -> Option<&str> {
    let text = text.strip_prefix("projects/").unwrap_or(text);
    is_project_id(text).then_some(text)
}

/// The project id a resource path or URL names: the segment after the first `projects`.
pub fn project_in_path(path: &str) -> Option<&str> {
    let mut segments = path.split('/');
    segments.find(|s| *s == "projects")?;
    segments.next().filter(|p| is_project_id(p))
}

/// Whether a looked-up value is a full Google resource path or API URL that names its own project
/// (`projects/p/zones/z/instances/vm`): like an ARN, it says where the resource is, so the call's project
/// (the log's `resource.labels.project_id`, which a cross-project call such as a Shared VPC one may set to
/// another project) must not exclude what it found.
pub fn names_its_project(value: &str) -> bool {
    let path = url_path(value).unwrap_or(value);
    path.starts_with("projects/") && project_in_path(path).is_some()
}

/// The location a resource path or URL names: the segment after `zones`, `regions` or `locations`; `""`
/// for a global resource (`projects/p/global/firewalls/f`, `locations/global`).
pub fn location_in_path(path: &str) -> Option<&str> {
    let mut segments = path.split('/');
    while let Some(segment) = segments.next() {
        match segment {
            "global" => return Some(""),
            "zones" | "regions" | "locations" => {
                return segments.next().map(global_as_empty);
            }
            _ => {}
        }
    }
    None
}

/// `""` for `global` (the word Google uses for a resource with no location), else the text.
pub fn global_as_empty(location: &str) -> &str {
    if location.eq_ignore_ascii_case("global") {
        ""
    } else {
        location
    }
}

/// A location as far as it can be compared: a region (`europe-west1`) or a zone in one (`europe-west1-b`).
#[derive(Debug, PartialEq, Eq)]
enum Place<'a> {
    Region(&'a str),
    Zone { region: &'a str },
}

impl<'a> Place<'a> {
    /// A region has one dash and ends in a digit (`us-central1`, `europe-west10`), a zone is a region, a
    /// dash and a letter or so (`us-central1-a`). Anything else (multi-regions `EU`, `US`, dual-regions
    /// `NAM4`, `global`, Cloud SQL's legacy `us-central`, unknown shapes) is not comparable.
    fn read(text: &'a str) -> Option<Place<'a>> {
        let valid = text
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()));
        let region_like = |r: &str| r.ends_with(|c: char| c.is_ascii_digit());
        if !valid {
            return None;
        }
        match text.bytes().filter(|b| *b == b'-').count() {
            1 => region_like(text).then_some(Place::Region(text)),
            2 => text
                .rsplit_once('-')
                .filter(|(region, _)| region_like(region))
                .map(|(region, _)| Place::Zone { region }),
            _ => None,
        }
    }

    fn region(&self) -> &'a str {
        match self {
            Place::Region(region) | Place::Zone { region } => region,
        }
    }
}

/// Whether a resource in location `own` can be what a call in location `got` touched. Only two comparable
/// places that differ exclude: two different zones, or regions (a zone's region for a zone) that differ.
/// A global resource, a multi-region (a bucket in `EU`) or any location this cannot read never does, so an
/// unexpected location never turns a change into "unmanaged". Case is ignored: the provider writes a
/// bucket's location in upper case (`US-CENTRAL1`), its audit entries in lower case.
pub fn same_place(own: &str, got: &str) -> bool {
    if own.eq_ignore_ascii_case(got) {
        return true;
    }
    match (Place::read(own), Place::read(got)) {
        (Some(Place::Zone { .. }), Some(Place::Zone { .. })) => false,
        (Some(a), Some(b)) => a.region().eq_ignore_ascii_case(b.region()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The provider's schema (6.50.0): per type, `computed` and `inputs` attribute names.
    fn schema() -> Value {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/google-provider-schema.json"
        ))
        .expect("google provider schema");
        serde_json::from_str(&text).expect("schema JSON")
    }

    fn names<'a>(types: &'a Value, resource_type: &str, kind: &str) -> Vec<&'a str> {
        types[resource_type][kind]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn key_names_are_the_schemas_and_generic_ones_never_name_another_resource() {
        let schema = schema();
        let types = &schema["resource_types"];
        let all = types.as_object().expect("resource_types");
        // A generic numeric key is computed wherever it occurs, never an input (a reference).
        for key in &KEYS[3..] {
            let computed = all
                .keys()
                .filter(|t| names(types, t, "computed").contains(key))
                .count();
            let input = all
                .keys()
                .filter(|t| names(types, t, "inputs").contains(key))
                .count();
            assert!(computed > 0, "{key} is no attribute of any type");
            assert_eq!(input, 0, "{key} is an input of some type");
        }
        for (resource_type, keys) in TYPE_KEYS {
            let mut attrs = names(types, resource_type, "computed");
            attrs.extend(names(types, resource_type, "inputs"));
            for key in *keys {
                assert!(attrs.contains(key), "{resource_type} has no {key}");
            }
        }
        for resource_type in ["google_compute_instance", "google_compute_firewall"] {
            assert!(names(types, resource_type, "computed").contains(&"self_link"));
        }
    }

    #[test]
    fn keys_add_googles_to_the_catalogs_and_leave_aws_alone() {
        let given: Vec<Box<str>> = vec!["id".into(), "arn".into(), "bucket".into()];
        let aws = keys("aws_s3_bucket", &given);
        assert_eq!(&*aws, &given[..]);
        let instance = keys("google_compute_instance", &given);
        let names: Vec<&str> = instance.iter().map(|k| &**k).collect();
        assert_eq!(&names[..3], ["id", "arn", "bucket"]);
        for key in ["self_link", "name", "instance_id"] {
            assert_eq!(names.iter().filter(|k| **k == key).count(), 1, "{key}");
        }
        let account = keys("google_service_account", &given);
        assert!(account.iter().any(|k| &**k == "email"));
        assert!(!instance.iter().any(|k| &**k == "email"));
    }

    #[test]
    fn paths_in_urls_and_ids() {
        assert_eq!(
            url_path("https://www.googleapis.com/compute/v1/projects/p/zones/z/instances/vm"),
            Some("projects/p/zones/z/instances/vm")
        );
        assert_eq!(
            url_path("https://compute.googleapis.com/compute/beta/projects/p/global/firewalls/f"),
            Some("projects/p/global/firewalls/f")
        );
        assert_eq!(
            url_path("https://www.googleapis.com/storage/v1/b/bkt"),
            None
        );
        assert_eq!(url_path("projects/p/topics/t"), None);
        assert_eq!(url_path("https://x/projects/"), None);

        assert_eq!(project_in_path("projects/p-1/topics/t"), Some("p-1"));
        assert_eq!(project_in_path("projects/my-proj"), Some("my-proj"));
        assert_eq!(project_in_path("projects/_/buckets/b"), None);
        assert_eq!(project_in_path("projects/-/serviceAccounts/x"), None);
        assert_eq!(project_in_path("projects/123456789/secrets/s"), None);
        assert_eq!(project_in_path("bucket-name"), None);
        assert_eq!(project_attribute("projects/p"), Some("p"));
        assert!(names_its_project("projects/p/topics/t"));
        assert!(names_its_project(
            "https://www.googleapis.com/compute/v1/projects/p/global/firewalls/f"
        ));
        assert!(!names_its_project("projects/_/buckets/b"));
        assert!(!names_its_project("bucket-projects/p"));
        assert!(!names_its_project("ci@p.iam.gserviceaccount.com"));
        assert_eq!(project_attribute("12345"), None);

        assert_eq!(
            location_in_path("projects/p/zones/europe-west1-b/instances/vm"),
            Some("europe-west1-b")
        );
        assert_eq!(
            location_in_path("projects/p/locations/global/keyRings/r/cryptoKeys/k"),
            Some("")
        );
        assert_eq!(location_in_path("projects/p/global/firewalls/f"), Some(""));
        assert_eq!(location_in_path("projects/p/topics/t"), None);
    }

    #[test]
    fn places() {
        assert!(same_place("europe-west1-b", "europe-west1-b"));
        assert!(same_place("europe-west1-b", "europe-west1"));
        assert!(same_place("europe-west1", "europe-west1-c"));
        assert!(!same_place("europe-west1-b", "europe-west1-c"));
        assert!(!same_place("europe-west1-b", "us-central1"));
        assert!(!same_place("europe-west1", "europe-west4"));
        assert!(same_place("US-CENTRAL1", "us-central1"));
        assert!(same_place("EU", "europe-west1"));
        assert!(same_place("NAM4", "us-east1"));
        assert!(same_place("europe-west1", "global"));
        assert!(same_place(
            "northamerica-northeast1-a",
            "northamerica-northeast1"
        ));
        assert!(same_place("us-central1-a", "not a location"));
        // Cloud SQL's audit entries name a legacy region (`us-central`): not comparable, so not excluding.
        assert!(same_place("us-central1", "us-central"));
        assert!(!same_place("us-central1", "europe-west10"));
    }
}
