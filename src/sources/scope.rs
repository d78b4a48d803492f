//! How the configuration scopes a source's states to an account and a region, and how the reloader resolves
//! it against a state it loads.

use crate::state::{Scope, State};

/// How the configuration scopes a source's states: each part is given, `*` (any), or inferred from the
/// state's ARNs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeConfig {
    pub account: ScopeSetting,
    pub region: ScopeSetting,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ScopeSetting {
    /// From the state's ARNs, when they agree.
    #[default]
    Infer,
    /// Not scoped.
    Any,
    Is(Box<str>),
}

impl ScopeSetting {
    /// `None` infers, `*` is any, anything else is that value.
    pub fn from_config(value: Option<&str>) -> ScopeSetting {
        match value {
            None => ScopeSetting::Infer,
            Some("*") => ScopeSetting::Any,
            Some(value) => ScopeSetting::Is(value.into()),
        }
    }

    fn resolve(&self, inferred: Option<Box<str>>) -> Option<Box<str>> {
        match self {
            ScopeSetting::Infer => inferred,
            ScopeSetting::Any => None,
            ScopeSetting::Is(value) => Some(value.clone()),
        }
    }
}

impl ScopeConfig {
    /// The scope `state` gets: the configured parts, the others inferred from its ARNs.
    pub(super) fn resolve(&self, state: &State) -> Scope {
        let inferred = if self.account == ScopeSetting::Infer || self.region == ScopeSetting::Infer
        {
            Scope::infer(state)
        } else {
            Scope::default()
        };
        Scope {
            account: self.account.resolve(inferred.account),
            region: self.region.resolve(inferred.region),
        }
    }
}
