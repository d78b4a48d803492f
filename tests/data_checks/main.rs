//! Checks of what the repository ships beside the code: the plugin's metadata and layers, the field and
//! configuration docs, the deploy files, the catalog against the AWS models, the real states of tests/data,
//! and the fuzz regressions. One test binary for all of them.

mod catalog;
mod deploy;
mod metadata;
mod readme_fields;
mod real_states;
mod regressions;
