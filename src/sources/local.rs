//! A state in a local file, reloaded when its modification time or size changes.

use super::{Deliver, Fetch, PollContext, StateSource, web};
use crate::state::Limits;
use anyhow::Context;
use std::io::Read;
use std::path::PathBuf;
use std::time::SystemTime;

/// A state in a local file, read again when its modification time or size changes.
pub struct LocalFile {
    name: String,
    path: PathBuf,
    seen: Option<(Option<SystemTime>, u64)>,
}

impl LocalFile {
    /// A source that reads nothing until polled.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            path: path.into(),
            seen: None,
        }
    }

    fn check(&mut self, limits: &Limits) -> Fetch {
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) => {
                return Fetch::Failed(
                    anyhow::Error::new(e).context(format!("cannot read {}", self.path.display())),
                );
            }
        };
        let stamp = (meta.modified().ok(), meta.len());
        if self.seen == Some(stamp) {
            return Fetch::Unchanged;
        }
        // A FIFO, a device or a socket would block the read (or never end it): only a regular file is a
        // state. `metadata` follows symlinks, so a link to a state file is one.
        if !meta.is_file() {
            self.seen = Some(stamp);
            return Fetch::Refused(anyhow::anyhow!(
                "{} is not a regular file (a FIFO, a device or a directory): not read",
                self.path.display()
            ));
        }
        if meta.len() > limits.max_bytes as u64 {
            // Remember the stamp: a file over the limit is reported once, and read again when it changes.
            self.seen = Some(stamp);
            return Fetch::Refused(anyhow::anyhow!(
                "{} is {} bytes, over the limit of {} bytes",
                self.path.display(),
                meta.len(),
                limits.max_bytes
            ));
        }
        match self.read(meta.len(), limits) {
            Err(e) => Fetch::Failed(e),
            Ok(bytes) => {
                // Remember the stamp even if the content is refused: a broken file is reported once, and
                // read again when it changes.
                self.seen = Some(stamp);
                Fetch::New(bytes, Some(self.path.display().to_string()))
            }
        }
    }

    fn read(&self, len: u64, limits: &Limits) -> anyhow::Result<Vec<u8>> {
        // The size was read a moment ago and may have changed: the buffer grows as bytes arrive, from at most
        // a few MiB reserved up front.
        let mut bytes = Vec::with_capacity(
            len.min(limits.max_bytes as u64)
                .min(web::INITIAL_BODY_CAPACITY) as usize,
        );
        std::fs::File::open(&self.path)
            .and_then(|file| {
                file.take(limits.max_bytes as u64 + 1)
                    .read_to_end(&mut bytes)
            })
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        Ok(bytes)
    }
}

impl StateSource for LocalFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn poll(&mut self, ctx: &PollContext, deliver: &mut Deliver<'_>) -> anyhow::Result<()> {
        deliver(self.name.clone(), self.check(ctx.limits));
        Ok(())
    }
}
