//! Which attributes the providers themselves mark secret, per resource type, whatever the state says.
//!
//! Terraform writes the provider schema's sensitive attributes into a state's `sensitive_attributes` only
//! since 1.8; older states mark none, so `aws_ssm_parameter.value` or `aws_glue_connection.connection_properties`
//! would reach a field and an alert. The tables in `data/` (see `data/README.md`) list, per `aws_*` and
//! `google_*` type, the paths the provider marks sensitive or write-only in any release, and the secrets
//! known to go unmarked (`aws_instance.user_data`, Lambda environment variables). They are embedded and read
//! once.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

const TABLES: [&str; 2] = [
    include_str!("../../data/aws-provider-sensitive.json"),
    include_str!("../../data/google-provider-sensitive.json"),
];

#[derive(Deserialize)]
struct Table {
    resource_types: HashMap<String, Marks>,
    #[serde(default)]
    known_unmarked_secrets: Unmarked,
}

#[derive(Deserialize, Default)]
struct Marks {
    #[serde(default)]
    sensitive: Vec<String>,
    #[serde(default)]
    write_only: Vec<String>,
}

#[derive(Deserialize, Default)]
struct Unmarked {
    #[serde(default)]
    types: HashMap<String, Vec<String>>,
}

/// Per resource type, its secret paths, each as its dotted segments.
type Paths = HashMap<String, Vec<Box<[String]>>>;

static PATHS: LazyLock<Paths> = LazyLock::new(|| {
    let mut paths = Paths::new();
    for text in TABLES {
        // The tables are part of the build, checked by this module's tests: a table that does not read is a
        // build defect, and the name-based fallback still stands.
        let Ok(table) = serde_json::from_str::<Table>(text) else {
            tracing::error!("a provider sensitivity table does not read; only names are used");
            continue;
        };
        let marked = table.resource_types.into_iter().map(|(t, m)| {
            (
                t,
                m.sensitive
                    .into_iter()
                    .chain(m.write_only)
                    .collect::<Vec<_>>(),
            )
        });
        for (resource_type, list) in marked.chain(table.known_unmarked_secrets.types) {
            let entry = paths.entry(resource_type).or_default();
            for path in list {
                entry.push(path.split('.').map(str::to_owned).collect());
            }
        }
    }
    paths
});

/// Reads the tables now (at init), so that the first event does not.
pub fn load() -> usize {
    PATHS.len()
}

/// Whether the provider marks `path` of `resource_type` secret: the path lies within a marked one
/// (`master_password`, `user.0.password` within `user.password`, `environment.0.variables.KEY` within
/// `environment.variables`), or holds one (`user`, which holds `user.password`: showing it would show the
/// password). List indexes and set hashes in `path` (the numbers of `ingress.0.from_port` and of legacy flat
/// keys) are not steps of a schema path and are passed over.
pub fn provider_marks(resource_type: &str, path: &str) -> bool {
    let Some(marked) = PATHS.get(resource_type) else {
        return false;
    };
    let steps = path
        .split('.')
        .filter(|s| !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit()));
    marked.iter().any(|secret| {
        let mut steps = steps.clone();
        // Equal on the common prefix: one lies within the other.
        secret
            .iter()
            .all(|want| steps.next().is_none_or(|step| step == want))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_read_and_cover_both_providers() {
        assert!(load() > 150, "{} types", load());
        for text in TABLES {
            let table: Table = serde_json::from_str(text).expect("a table");
            assert!(table.resource_types.len() > 50);
        }
    }

    #[test]
    fn paths_within_or_holding_a_marked_one() {
        for (t, path) in [
            ("aws_ssm_parameter", "value"),
            ("aws_glue_connection", "connection_properties"),
            ("aws_glue_connection", "connection_properties.PASSWORD"),
            ("aws_mq_broker", "user"),
            ("aws_mq_broker", "user.0.password"),
            ("aws_mq_broker", "user.password"),
            ("aws_db_instance", "password"),
            ("aws_instance", "user_data"),
            ("aws_lambda_function", "environment"),
            ("aws_lambda_function", "environment.0.variables.DB_PASSWORD"),
            ("google_sql_user", "password"),
            ("google_sql_database_instance", "replica_configuration"),
        ] {
            assert!(provider_marks(t, path), "{t}.{path}");
        }
        for (t, path) in [
            ("aws_ssm_parameter", "name"),
            ("aws_mq_broker", "user.0.username.x"),
            ("aws_mq_broker", "broker_name"),
            ("aws_db_instance", "instance_class"),
            ("aws_security_group", "ingress"),
            ("aws_lambda_function", "memory_size"),
            ("aws_unknown_type", "password"),
        ] {
            assert!(!provider_marks(t, path), "{t}.{path}");
        }
    }
}
