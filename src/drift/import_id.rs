//! `tfdrift.import_id`: the id Terraform's import takes for a resource no state holds, so that an alert about a
//! resource made by hand says how to adopt it.
//!
//! The form is data ([`crate::catalog::import_forms`]); this module fills it in. When the verdict finds no
//! state holding the call's resource, it keeps the few values the type's form names (the identifier that fits
//! the form's shape, a record member, the account or region), nothing for a type without a form; the id is
//! put together on the first read and kept for the other reads of the same event. A value the call does not
//! give means no id, never a guessed one.

use super::{Sections, Verdict};
use crate::call::Call;
use crate::catalog::import_forms::{ImportForm, Source};
use crate::catalog::{Change, Target};
use std::cell::OnceCell;
use std::sync::Arc;

/// The values of one form, kept when the verdict is made, and the id made from them on the first read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportSlot {
    pending: Option<Box<Pending>>,
    text: OnceCell<Option<String>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Pending {
    form: Arc<ImportForm>,
    /// One per placeholder, in the form's order.
    values: Vec<Option<String>>,
}

impl ImportSlot {
    /// Keeps what `target`'s form needs from the call: `rendered` is the catalog's own import id for the
    /// target when it has one (then it alone may be `{id}`), `ids` the identifiers found for it, in order.
    pub(super) fn capture<C: Call>(
        target: &Target,
        rendered: Option<&str>,
        ids: &[String],
        sections: &Sections<'_, C>,
    ) -> ImportSlot {
        let Some(form) = &target.import_form else {
            return ImportSlot::default();
        };
        let values = form
            .sources()
            .map(|(_, source)| match source {
                Source::Id => {
                    // A target whose catalog entry says how its import id is made gives that or nothing: its
                    // bare identifier is not the whole id.
                    match &target.import_id {
                        Some(_) => rendered.filter(|id| form.fits(id)).map(str::to_owned),
                        None => ids.iter().find(|id| form.fits(id)).cloned(),
                    }
                }
                Source::Account => sections.call.account_id().map(str::to_owned),
                Source::Region => sections.call.region().map(str::to_owned),
                Source::Record(paths, shape) => paths.iter().find_map(|path| {
                    let root = sections.get(path.section()?)?;
                    let mut first = None;
                    path.identifiers_from(root, |id| {
                        if first.is_none() {
                            let text = id.to_string();
                            if shape.fits(&text) {
                                first = Some(text);
                            }
                        }
                    });
                    first
                }),
            })
            .collect();
        ImportSlot {
            pending: Some(Box::new(Pending {
                form: Arc::clone(form),
                values,
            })),
            text: OnceCell::new(),
        }
    }

    fn text(&self) -> Option<&str> {
        self.text
            .get_or_init(|| {
                let pending = self.pending.as_ref()?;
                pending.form.render(&pending.values)
            })
            .as_deref()
    }
}

/// The import id of the resource a verdict is about: only for a successful call that creates or changes a
/// resource no state holds (not one it deletes or detaches: after the call there is nothing to import), and
/// only when the type's form can be filled in.
pub fn of(verdict: &Verdict) -> Option<&str> {
    if verdict.managed != Some(false)
        || matches!(
            verdict.change,
            None | Some(Change::Delete) | Some(Change::Detach)
        )
    {
        return None;
    }
    verdict.import.text()
}
