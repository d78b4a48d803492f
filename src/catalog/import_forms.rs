//! Import ids as data: for each Terraform resource type, the id `terraform import` and an `import` block take,
//! in the form the provider's documentation gives (`<role>:<policy>` for `aws_iam_role_policy`, the bucket's
//! name for `aws_s3_bucket`, `projects/<project>/global/networks/<name>` for `google_compute_network`).
//!
//! The forms are `catalog/import-ids/forms.toml`, embedded and loaded with the catalog, which hands each
//! [`crate::catalog::Target`] the form of its type. A form is checked when it is loaded: a placeholder it
//! does not define, a part it never uses or a record path that cannot be read is an error. The verdict fills a form in ([`crate::drift::import_id`]); a form that lacks a value gives no id.

use super::path::{Path, PathError};
use super::{Catalog, CatalogError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

/// The embedded forms file.
pub const EMBEDDED_FORMS: &str = include_str!("../../catalog/import-ids/forms.toml");

/// Its name in errors.
pub const FORMS_FILE: &str = "import-ids/forms.toml";

/// The most bytes of an identifier that is put into an import id: an identifier longer than any cloud allows
/// is no identifier (and the shape check stays cheap).
pub const MAX_ID_BYTES: usize = 2048;

/// Where one placeholder's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The identifier the call names for the resource, when it fits the form's shape.
    Id,
    /// The call's AWS account, or Google Cloud project (`{account}`, `{project}`).
    Account,
    /// The call's region.
    Region,
    /// The first value any of these record paths reaches that has the shape.
    Record(Box<[Path]>, Shape),
}

/// What a value must look like (`shape`) and must not (`exclude`); never empty, never longer than
/// [`MAX_ID_BYTES`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    shape: Option<Glob>,
    exclude: Option<Glob>,
}

impl Shape {
    fn parse(shape: Option<&str>, exclude: Option<&str>) -> Result<Shape, String> {
        Ok(Shape {
            shape: shape.map(Glob::parse).transpose()?,
            exclude: exclude.map(Glob::parse).transpose()?,
        })
    }

    /// Whether a value may stand for the placeholder.
    pub fn fits(&self, value: &str) -> bool {
        !value.is_empty()
            && value.len() <= MAX_ID_BYTES
            && self.shape.as_ref().is_none_or(|g| g.matches(value))
            && !self.exclude.as_ref().is_some_and(|g| g.matches(value))
    }
}

/// One piece of a form: text, or the value of the placeholder with that index in [`ImportForm::sources`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(Box<str>),
    Slot(usize),
}

/// The import id form of one resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportForm {
    /// The Terraform resource type.
    pub resource_type: Box<str>,
    /// The form as written (`{id}:{policy}`).
    pub template: Box<str>,
    pieces: Box<[Piece]>,
    /// Each placeholder's name and source, in the order they first appear.
    sources: Box<[(Box<str>, Source)]>,
    id_shape: Shape,
}

impl ImportForm {
    /// Each placeholder's name and where its value comes from, in the order [`ImportForm::render`] takes the
    /// values.
    pub fn sources(&self) -> impl Iterator<Item = (&str, &Source)> {
        self.sources.iter().map(|(name, source)| (&**name, source))
    }

    /// Whether an identifier may stand for `{id}`: not empty, not longer than [`MAX_ID_BYTES`], fits the shape
    /// and not the exclusion.
    pub fn fits(&self, id: &str) -> bool {
        self.id_shape.fits(id)
    }

    /// The import id from one value per placeholder (in [`ImportForm::sources`] order); none when any value
    /// is missing or empty.
    pub fn render(&self, values: &[Option<String>]) -> Option<String> {
        let mut out = String::new();
        for piece in self.pieces.iter() {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Slot(i) => {
                    let value = values.get(*i)?.as_deref().filter(|v| !v.is_empty())?;
                    out.push_str(value);
                }
            }
        }
        Some(out)
    }
}

/// Every resource type's form.
#[derive(Debug, Default)]
pub struct ImportForms {
    by_type: BTreeMap<Box<str>, Arc<ImportForm>>,
}

impl ImportForms {
    /// Parses and checks a forms file.
    pub fn parse(file: &str, text: &str) -> Result<ImportForms, CatalogError> {
        let docs: BTreeMap<String, FormDoc> =
            toml::from_str(text).map_err(|source| CatalogError::Toml {
                file: file.to_owned(),
                source: Box::new(source),
            })?;
        let mut by_type = BTreeMap::new();
        for (resource_type, doc) in docs {
            let form = build(&resource_type, doc).map_err(|what| CatalogError::Call {
                file: file.to_owned(),
                call: format!("[{resource_type}]"),
                what,
            })?;
            by_type.insert(resource_type.into(), Arc::new(form));
        }
        Ok(ImportForms { by_type })
    }

    /// The form of a type.
    pub fn get(&self, resource_type: &str) -> Option<&Arc<ImportForm>> {
        self.by_type.get(resource_type)
    }

    /// Every form, by type.
    pub fn iter(&self) -> impl Iterator<Item = &ImportForm> {
        self.by_type.values().map(|f| &**f)
    }

    /// Hands every target of the catalog the form of its type. (A form for a type no call targets is never
    /// used: `tests/data_checks/import_ids.rs` checks that every type named here is in the catalog and the
    /// provider's schema; a catalog built from a few files for a test targets few types.)
    pub(super) fn attach(&self, catalog: &mut Catalog) {
        for call in &mut catalog.calls {
            for target in call.targets.iter_mut() {
                target.import_form = self.by_type.get(&target.resource_type).cloned();
            }
        }
    }

    /// The embedded forms, parsed once.
    pub fn embedded() -> Result<&'static ImportForms, CatalogError> {
        static FORMS: LazyLock<Option<ImportForms>> =
            LazyLock::new(|| ImportForms::parse(FORMS_FILE, EMBEDDED_FORMS).ok());
        match &*FORMS {
            Some(forms) => Ok(forms),
            // Parsed again for the error, which is not kept: this is a build that should never have shipped.
            None => Err(ImportForms::parse(FORMS_FILE, EMBEDDED_FORMS)
                .err()
                .unwrap_or_else(|| CatalogError::Call {
                    file: FORMS_FILE.into(),
                    call: String::new(),
                    what: "cannot be loaded".into(),
                })),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FormDoc {
    form: String,
    shape: Option<String>,
    exclude: Option<String>,
    #[serde(default)]
    parts: BTreeMap<String, PartDoc>,
}

/// A part: its record paths, or a table of them with the shape its value must have.
#[derive(Deserialize)]
#[serde(untagged)]
enum PartDoc {
    Paths(Vec<String>),
    Shaped(ShapedPartDoc),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShapedPartDoc {
    paths: Vec<String>,
    shape: Option<String>,
    exclude: Option<String>,
}

fn build(resource_type: &str, doc: FormDoc) -> Result<ImportForm, String> {
    let mut pieces = Vec::new();
    let mut sources: Vec<(Box<str>, Source)> = Vec::new();
    let mut rest = doc.form.as_str();
    while !rest.is_empty() {
        let Some(open) = rest.find(['{', '}']) else {
            pieces.push(Piece::Text(rest.into()));
            break;
        };
        if rest[open..].starts_with('}') {
            return Err(format!("form `{}`: `}}` without `{{`", doc.form));
        }
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].into()));
        }
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| format!("form `{}`: `{{` without `}}`", doc.form))?;
        let name = &rest[open + 1..close];
        if name.is_empty() || name.contains('{') {
            return Err(format!("form `{}`: bad placeholder `{{{name}}}`", doc.form));
        }
        let index = match sources.iter().position(|(n, _)| &**n == name) {
            Some(index) => index,
            None => {
                let source = match name {
                    "id" => Source::Id,
                    "account" | "project" => Source::Account,
                    "region" => Source::Region,
                    _ => {
                        let part = doc.parts.get(name).ok_or_else(|| {
                            format!(
                                "form `{}`: unknown placeholder `{{{name}}}` (not id, account, project, \
                                 region or a name in `parts`)",
                                doc.form
                            )
                        })?;
                        let (paths, shape) = match part {
                            PartDoc::Paths(paths) => (paths, Shape::default()),
                            PartDoc::Shaped(d) => (
                                &d.paths,
                                Shape::parse(d.shape.as_deref(), d.exclude.as_deref())?,
                            ),
                        };
                        Source::Record(record_paths(name, paths)?, shape)
                    }
                };
                sources.push((name.into(), source));
                sources.len() - 1
            }
        };
        pieces.push(Piece::Slot(index));
        rest = &rest[close + 1..];
    }
    if sources.is_empty() {
        return Err(format!("form `{}` has no placeholder", doc.form));
    }
    if let Some(unused) = doc
        .parts
        .keys()
        .find(|p| !sources.iter().any(|(n, _)| **n == ***p))
    {
        return Err(format!(
            "part `{unused}` is not used in the form `{}`",
            doc.form
        ));
    }
    let uses_id = sources.iter().any(|(_, s)| *s == Source::Id);
    if !uses_id && (doc.shape.is_some() || doc.exclude.is_some()) {
        return Err("`shape` and `exclude` apply to {id}, which the form does not use".into());
    }
    Ok(ImportForm {
        resource_type: resource_type.into(),
        template: doc.form.as_str().into(),
        pieces: pieces.into(),
        sources: sources.into(),
        id_shape: Shape::parse(doc.shape.as_deref(), doc.exclude.as_deref())?,
    })
}

fn record_paths(name: &str, paths: &[String]) -> Result<Box<[Path]>, String> {
    if paths.is_empty() {
        return Err(format!("part `{name}` names no record path"));
    }
    paths
        .iter()
        .map(|text| {
            let path = Path::parse(text).map_err(|e: PathError| format!("part `{name}`: {e}"))?;
            if path.section().is_none() {
                return Err(format!(
                    "part `{name}`: path `{text}` starts at `{}`, which is not a part of a record \
                     tfdrift reads",
                    path.root()
                ));
            }
            Ok(path)
        })
        .collect()
}

/// A shape an identifier must have: `*` is one or more characters other than `/`, `**` one or more of any
/// character, everything else is literal.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob {
    tokens: Box<[Token]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// One byte other than `/` (the first of `*`).
    NotSlash,
    /// None or more bytes other than `/` (the rest of `*`).
    NotSlashRun,
    /// One byte (the first of `**`).
    Any,
    /// None or more bytes (the rest of `**`).
    AnyRun,
}

impl Glob {
    fn parse(text: &str) -> Result<Glob, String> {
        if text.is_empty() {
            return Err("an empty shape".into());
        }
        if text.contains("***") {
            return Err(format!("shape `{text}`: `***`"));
        }
        let bytes = text.as_bytes();
        let mut tokens = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'*' {
                if bytes.get(i + 1) == Some(&b'*') {
                    tokens.extend([Token::Any, Token::AnyRun]);
                    i += 2;
                } else {
                    tokens.extend([Token::NotSlash, Token::NotSlashRun]);
                    i += 1;
                }
            } else {
                tokens.push(Token::Byte(bytes[i]));
                i += 1;
            }
        }
        Ok(Glob {
            tokens: tokens.into(),
        })
    }

    /// Whether the whole of `text` fits: a walk over the text with the set of positions in the shape that can
    /// be reached, so the work is the text's length times the shape's, whatever the text.
    fn matches(&self, text: &str) -> bool {
        let n = self.tokens.len();
        let mut now = vec![false; n + 1];
        let mut next = vec![false; n + 1];
        now[0] = true;
        close(&self.tokens, &mut now);
        for &byte in text.as_bytes() {
            next.iter_mut().for_each(|s| *s = false);
            for (at, token) in self.tokens.iter().enumerate() {
                if !now[at] {
                    continue;
                }
                match *token {
                    Token::Byte(b) if b == byte => next[at + 1] = true,
                    Token::NotSlash if byte != b'/' => next[at + 1] = true,
                    Token::Any => next[at + 1] = true,
                    // A run stays where it is for another byte.
                    Token::NotSlashRun if byte != b'/' => next[at] = true,
                    Token::AnyRun => next[at] = true,
                    _ => {}
                }
            }
            close(&self.tokens, &mut next);
            std::mem::swap(&mut now, &mut next);
            if !now.iter().any(|&s| s) {
                return false;
            }
        }
        now[n]
    }
}

/// Adds the positions reached by skipping runs (which may match nothing).
fn close(tokens: &[Token], states: &mut [bool]) {
    for at in 0..tokens.len() {
        if states[at] && matches!(tokens[at], Token::NotSlashRun | Token::AnyRun) {
            states[at + 1] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(text: &str) -> Glob {
        Glob::parse(text).expect("glob")
    }

    #[test]
    fn shapes() {
        assert!(glob("sg-*").matches("sg-0123abcd"));
        assert!(!glob("sg-*").matches("sg-"));
        assert!(!glob("sg-*").matches("vpc-1"));
        assert!(!glob("sg-*").matches("sg-1/2"));
        assert!(glob("*").matches("alice"));
        assert!(!glob("*").matches("arn:aws:iam::1:user/alice"));
        assert!(glob("arn:**").matches("arn:aws:iam::1:user/alice"));
        assert!(glob("*/arn:**").matches("role/arn:aws:iam::aws:policy/ReadOnlyAccess"));
        assert!(!glob("*/arn:**").matches("role/x"));
        assert!(glob("projects/*/global/networks/*").matches("projects/p/global/networks/n"));
        assert!(!glob("projects/*/global/networks/*").matches("projects/p/global/networks/n/x"));
        assert!(!glob("projects/*/global/networks/*").matches("projects//global/networks/n"));
        assert!(
            glob("https://*/*/*").matches("https://sqs.us-east-1.amazonaws.com/123456789012/q")
        );
        // A long hostile id costs its length times the shape's, and is refused by length before that.
        let long = "a".repeat(100_000);
        assert!(glob("*").matches(&long));
        assert!(!glob("*b*b*b*b*c").matches(&long));
    }

    #[test]
    fn the_embedded_forms_load_and_every_placeholder_is_known() {
        let forms = ImportForms::parse(FORMS_FILE, EMBEDDED_FORMS).expect("forms");
        assert!(forms.get("aws_iam_role_policy").is_some());
        assert!(forms.iter().count() >= 60);
    }

    #[test]
    fn malformed_forms_are_refused_with_the_type() {
        let refused = |text: &str, why: &str| {
            let error = ImportForms::parse("f.toml", text)
                .expect_err(text)
                .to_string();
            assert!(error.contains(why), "{text}: {error}");
            assert!(error.contains("[aws_x]"), "{error}");
        };
        refused(
            "[aws_x]\nform = \"{id}:{policy}\"",
            "unknown placeholder `{policy}`",
        );
        refused("[aws_x]\nform = \"{id\"", "`{` without `}`");
        refused("[aws_x]\nform = \"id}\"", "`}` without `{`");
        refused("[aws_x]\nform = \"fixed\"", "no placeholder");
        refused("[aws_x]\nform = \"{}\"", "bad placeholder");
        refused(
            "[aws_x]\nform = \"{id}\"\nparts = { p = [\"requestParameters.p\"] }",
            "part `p` is not used",
        );
        refused(
            "[aws_x]\nform = \"{p}\"\nparts = { p = [\"nowhere.p\"] }",
            "not a part of a record",
        );
        refused(
            "[aws_x]\nform = \"{p}\"\nparts = { p = [] }",
            "names no record path",
        );
        refused(
            "[aws_x]\nform = \"{account}\"\nshape = \"*\"",
            "does not use",
        );
        refused("[aws_x]\nform = \"{id}\"\nshape = \"\"", "empty shape");
        assert!(ImportForms::parse("f.toml", "[aws_x]\nform = \"{id}\"\nfrom = 1").is_err());
    }

    #[test]
    fn a_part_may_have_a_shape() {
        let forms = ImportForms::parse(
            "f.toml",
            "[aws_x]\nform = \"{f}/{s}\"\n[aws_x.parts]\nf = { paths = [\"requestParameters.f\"], exclude = \"**:**\" }\ns = [\"requestParameters.s\"]",
        )
        .expect("forms");
        let form = forms.get("aws_x").expect("form");
        let Some((_, Source::Record(_, shape))) = form.sources().next() else {
            panic!("f is a record part")
        };
        assert!(shape.fits("name"));
        assert!(!shape.fits("123456789012:function:name"));
        assert!(!shape.fits(""));
        assert!(
            ImportForms::parse(
                "f.toml",
                "[aws_x]\nform = \"{f}\"\n[aws_x.parts]\nf = { paths = [\"requestParameters.f\"], shap = \"*\" }",
            )
            .is_err()
        );
    }

    #[test]
    fn render_needs_every_value() {
        let forms = ImportForms::parse(
            "f.toml",
            "[aws_x]\nform = \"{id}:{policy}@{region}\"\nparts = { policy = [\"requestParameters.p\"] }",
        )
        .expect("forms");
        let form = forms.get("aws_x").expect("form");
        let names: Vec<&str> = form.sources().map(|(n, _)| n).collect();
        assert_eq!(names, ["id", "policy", "region"]);
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            form.render(&[some("r"), some("p"), some("eu-west-1")])
                .as_deref(),
            Some("r:p@eu-west-1")
        );
        assert_eq!(form.render(&[some("r"), None, some("eu-west-1")]), None);
        assert_eq!(form.render(&[some("r"), some(""), some("eu-west-1")]), None);
        assert_eq!(form.render(&[some("r")]), None);
    }
}
