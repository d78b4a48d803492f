//! The tallies of a run, for the summary line and the reports' headers; the findings themselves are written
//! by [`crate::report`].

use tfdrift::drift::Verdict;

/// The tallies of a run, for the summary line.
#[derive(Default)]
pub struct Counts {
    pub records: usize,
    pub aws: usize,
    pub gcp: usize,
    pub unrecognised: usize,
    pub gcp_not_audit: usize,
    pub covered: usize,
    pub managed: usize,
    pub drift: usize,
    pub unmanaged: usize,
    pub by_terraform: usize,
}

impl Counts {
    pub fn add(&mut self, v: &Verdict) {
        self.covered += usize::from(v.covered);
        self.managed += usize::from(v.managed == Some(true));
        self.drift += usize::from(v.drift);
        self.unmanaged += usize::from(v.unmanaged);
        self.by_terraform += usize::from(v.by_terraform && v.covered);
    }
}
