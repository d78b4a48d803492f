//! A state in a local file, reloaded when its modification time or size changes.

use super::StateSource;
use crate::state::{Limits, State, parse};
use anyhow::Context;
use std::io::Read;
use std::path::PathBuf;
use std::time::SystemTime;

pub struct LocalFile {
    name: String,
    path: PathBuf,
    seen: Option<(Option<SystemTime>, u64)>,
}

impl LocalFile {
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
            seen: None,
        }
    }
}

impl StateSource for LocalFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn poll(&mut self, limits: &Limits) -> anyhow::Result<Option<State>> {
        let meta = std::fs::metadata(&self.path)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        let stamp = (meta.modified().ok(), meta.len());
        if self.seen == Some(stamp) {
            return Ok(None);
        }
        // Remember the stamp even if the content is refused: a broken file is reported once, and read again
        // when it changes.
        self.seen = Some(stamp);
        if meta.len() > limits.max_bytes as u64 {
            anyhow::bail!(
                "{} is {} bytes, over the limit of {} bytes",
                self.path.display(),
                meta.len(),
                limits.max_bytes
            );
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::fs::File::open(&self.path)
            .and_then(|file| {
                file.take(limits.max_bytes as u64 + 1)
                    .read_to_end(&mut bytes)
            })
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        let state = parse(&self.name, &bytes, limits)
            .with_context(|| format!("{} is not a usable Terraform state", self.path.display()))?;
        Ok(Some(state))
    }
}
