//! The state sources through the plugin: local files and their reloads, HTTP and HCP Terraform against a
//! loopback server, S3 against moto's on loopback, Cloud
//! Storage against fake-gcs-server on loopback. One test binary for all of them.

mod estate;
mod gcs;
mod http_sources;
mod reload;
mod s3;
