//! A model of how Falco runs a source's rules on each event, for the rules-pack benchmark: the rules files
//! loaded in order (lists and macros expanded, disabled rules dropped, exceptions with values appended as
//! `and not (...)`), every enabled rule's condition evaluated on every event in file order until the first
//! that matches (`rule_matching: first`, Falco's default), with `and`/`or` short-circuit, and each field a
//! condition reads extracted again for every comparison that reads it, through the plugin that owns it (a
//! call into that plugin through the runner, as libsinsp does: a macro is textual, so its fields are read
//! again by every rule that uses it). The matching rule's output fields are then extracted, as Falco does to
//! format the alert.
//!
//! It covers the condition language the two rules files use: `and`, `or`, `not`, parentheses, `=`, `!=`,
//! `<`, `<=`, `>`, `>=`, `in`, `intersects`, `startswith`, `endswith`, `contains`, `exists`, quoted and bare
//! values, lists and list names.

use falco_plugin_runner::{CapturingPluginRunner, Event, ExtractedField};
use std::collections::HashMap;
use yaml_rust2::{Yaml, YamlLoader};

/// One compiled rule.
pub struct Rule {
    pub name: String,
    condition: Node,
    pub output_fields: Vec<String>,
}

/// A compiled condition.
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Exists(String),
    Compare(String, Op, Vec<String>),
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Intersects,
    StartsWith,
    EndsWith,
    Contains,
}

/// The rules of one or more files, in load order.
pub struct Ruleset {
    pub rules: Vec<Rule>,
}

/// What one event did.
#[derive(Default, Debug, Clone, Copy)]
pub struct Outcome {
    /// The index of the rule that matched.
    pub matched: Option<usize>,
    /// Field extractions made (condition and output).
    pub extractions: usize,
    /// Of which of `tfdrift.*` fields.
    pub tfdrift_extractions: usize,
}

impl Outcome {
    fn count(&mut self, field: &str) {
        self.extractions += 1;
        self.tfdrift_extractions += usize::from(field.starts_with("tfdrift."));
    }
}

impl Ruleset {
    /// Loads rules files (YAML texts) in order; lists and macros of earlier files are visible to later ones.
    pub fn load(files: &[&str]) -> Ruleset {
        let mut lists: HashMap<String, Vec<String>> = HashMap::new();
        let mut macros: HashMap<String, String> = HashMap::new();
        let mut rules = Vec::new();
        for text in files {
            let docs = YamlLoader::load_from_str(text).expect("a rules file is YAML");
            for item in docs[0].as_vec().expect("a rules file is a list") {
                if let Some(name) = item["list"].as_str() {
                    let items = item["items"]
                        .as_vec()
                        .map(|v| v.iter().map(scalar).collect())
                        .unwrap_or_default();
                    lists.insert(name.to_owned(), items);
                } else if let Some(name) = item["macro"].as_str() {
                    macros.insert(name.to_owned(), text_of(&item["condition"]));
                } else if let Some(name) = item["rule"].as_str() {
                    if item["enabled"].as_bool() == Some(false) {
                        continue;
                    }
                    let mut condition = text_of(&item["condition"]);
                    condition.push_str(&exceptions(&item["exceptions"]));
                    let tokens = tokenize(&condition);
                    let mut parser = Parser {
                        tokens: &tokens,
                        at: 0,
                        lists: &lists,
                        macros: &macros,
                    };
                    let node = parser.expr();
                    assert_eq!(parser.at, tokens.len(), "{name}: trailing tokens");
                    rules.push(Rule {
                        name: name.to_owned(),
                        condition: node,
                        output_fields: output_fields(&text_of(&item["output"])),
                    });
                }
            }
        }
        Ruleset { rules }
    }

    /// Runs the rules on one event as Falco does.
    pub fn run(&self, capture: &mut CapturingPluginRunner, event: &Event) -> Outcome {
        let mut outcome = Outcome::default();
        for (i, rule) in self.rules.iter().enumerate() {
            if eval(&rule.condition, capture, event, &mut outcome) {
                for f in &rule.output_fields {
                    outcome.extractions += 1;
                    outcome.tfdrift_extractions += usize::from(f.starts_with("tfdrift."));
                    std::hint::black_box(capture.extract_field(event, f));
                }
                outcome.matched = Some(i);
                break;
            }
        }
        outcome
    }
}

fn scalar(y: &Yaml) -> String {
    match y {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Real(r) => r.clone(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn text_of(y: &Yaml) -> String {
    y.as_str().map(str::to_owned).unwrap_or_default()
}

/// An exception with values becomes `and not ((f1 = v1 and f2 = v2) or ...)`, as Falco appends it.
fn exceptions(y: &Yaml) -> String {
    let mut out = String::new();
    for ex in y.as_vec().into_iter().flatten() {
        let fields: Vec<String> = ex["fields"]
            .as_vec()
            .map(|v| v.iter().map(scalar).collect())
            .unwrap_or_default();
        let comps: Vec<String> = ex["comps"]
            .as_vec()
            .map(|v| v.iter().map(scalar).collect())
            .unwrap_or_else(|| vec!["=".into(); fields.len()]);
        let tuples: Vec<String> = ex["values"]
            .as_vec()
            .into_iter()
            .flatten()
            .map(|tuple| {
                let values: Vec<String> = tuple
                    .as_vec()
                    .map(|v| v.iter().map(scalar).collect())
                    .unwrap_or_default();
                let parts: Vec<String> = fields
                    .iter()
                    .zip(&comps)
                    .zip(&values)
                    .map(|((f, c), v)| format!("{f} {c} \"{v}\""))
                    .collect();
                format!("({})", parts.join(" and "))
            })
            .collect();
        if !tuples.is_empty() {
            out.push_str(&format!(" and not ({})", tuples.join(" or ")));
        }
    }
    out
}

/// The `%field` names of an output, in order.
fn output_fields(output: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let bytes = output.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let start = i + 1;
            let mut j = start;
            let mut depth = 0;
            while j < bytes.len() {
                let c = bytes[j];
                if c == b'[' {
                    depth += 1;
                } else if c == b']' {
                    depth -= 1;
                } else if depth == 0 && !(c.is_ascii_alphanumeric() || c == b'.' || c == b'_') {
                    break;
                }
                j += 1;
            }
            if j > start {
                fields.push(output[start..j].to_owned());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    fields
}

fn tokenize(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'(' || c == b')' || c == b',' {
            tokens.push((c as char).to_string());
            i += 1;
        } else if c == b'"' || c == b'\'' {
            let end = i + 1 + text[i + 1..].find(c as char).expect("a closed quote");
            tokens.push(text[i..=end].to_owned());
            i = end + 1;
        } else if matches!(c, b'=' | b'!' | b'<' | b'>') {
            let two = text.get(i..i + 2);
            if matches!(two, Some("!=" | "<=" | ">=" | "==")) {
                tokens.push(two.unwrap().to_owned());
                i += 2;
            } else {
                tokens.push((c as char).to_string());
                i += 1;
            }
        } else {
            let start = i;
            let mut depth = 0;
            while i < bytes.len() {
                let c = bytes[i];
                if c == b'[' {
                    depth += 1;
                } else if c == b']' {
                    depth -= 1;
                } else if depth == 0
                    && (c.is_ascii_whitespace()
                        || matches!(c, b'(' | b')' | b',' | b'=' | b'!' | b'<' | b'>'))
                {
                    break;
                }
                i += 1;
            }
            tokens.push(text[start..i].to_owned());
        }
    }
    tokens
}

struct Parser<'a> {
    tokens: &'a [String],
    at: usize,
    lists: &'a HashMap<String, Vec<String>>,
    macros: &'a HashMap<String, String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn take(&mut self) -> String {
        let t = self.tokens[self.at].clone();
        self.at += 1;
        t
    }

    fn expr(&mut self) -> Node {
        let mut parts = vec![self.and()];
        while self.peek() == Some("or") {
            self.at += 1;
            parts.push(self.and());
        }
        if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Node::Or(parts)
        }
    }

    fn and(&mut self) -> Node {
        let mut parts = vec![self.not()];
        while self.peek() == Some("and") {
            self.at += 1;
            parts.push(self.not());
        }
        if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Node::And(parts)
        }
    }

    fn not(&mut self) -> Node {
        if self.peek() == Some("not") {
            self.at += 1;
            return Node::Not(Box::new(self.not()));
        }
        self.primary()
    }

    fn primary(&mut self) -> Node {
        let token = self.take();
        if token == "(" {
            let node = self.expr();
            assert_eq!(self.take(), ")", "a closed parenthesis");
            return node;
        }
        if let Some(body) = self.macros.get(&token) {
            let tokens = tokenize(body);
            let mut inner = Parser {
                tokens: &tokens,
                at: 0,
                lists: self.lists,
                macros: self.macros,
            };
            let node = inner.expr();
            assert_eq!(inner.at, tokens.len(), "macro {token}: trailing tokens");
            return node;
        }
        let field = token;
        let op = self.take();
        let op = match op.as_str() {
            "exists" => return Node::Exists(field),
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "startswith" => Op::StartsWith,
            "endswith" => Op::EndsWith,
            "contains" => Op::Contains,
            other => panic!("operator {other:?} after {field}"),
        };
        let values = if matches!(op, Op::In | Op::Intersects) {
            assert_eq!(self.take(), "(", "a list after in/intersects");
            let mut values = Vec::new();
            while self.peek() != Some(")") {
                let t = self.take();
                if t == "," {
                    continue;
                }
                match self.lists.get(&t) {
                    Some(items) => values.extend(items.iter().cloned()),
                    None => values.push(unquote(&t)),
                }
            }
            self.at += 1;
            values
        } else {
            vec![unquote(&self.take())]
        };
        Node::Compare(field, op, values)
    }
}

fn unquote(t: &str) -> String {
    let b = t.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        t[1..t.len() - 1].to_owned()
    } else {
        t.to_owned()
    }
}

/// Calls `f` with each value of a field as text, without allocating (a field with no value has none).
fn each_value(field: &ExtractedField, f: &mut impl FnMut(&[u8]) -> bool) -> bool {
    match field {
        ExtractedField::None => false,
        ExtractedField::Vec(items) => items.iter().any(|item| each_value(item, f)),
        ExtractedField::String(s) => f(s.as_bytes()),
        ExtractedField::Bool(true) => f(b"true"),
        ExtractedField::Bool(false) => f(b"false"),
        ExtractedField::U64(n) => f(n.to_string().as_bytes()),
        other => f(other.to_string().as_bytes()),
    }
}

fn is_empty(field: &ExtractedField) -> bool {
    match field {
        ExtractedField::None => true,
        ExtractedField::Vec(items) => items.is_empty(),
        _ => false,
    }
}

fn eval(node: &Node, capture: &mut CapturingPluginRunner, event: &Event, n: &mut Outcome) -> bool {
    match node {
        Node::And(parts) => parts.iter().all(|p| eval(p, capture, event, n)),
        Node::Or(parts) => parts.iter().any(|p| eval(p, capture, event, n)),
        Node::Not(inner) => !eval(inner, capture, event, n),
        Node::Exists(field) => {
            n.count(field);
            !is_empty(&extract(capture, event, field))
        }
        Node::Compare(field, op, wanted) => {
            n.count(field);
            let got = extract(capture, event, field);
            if is_empty(&got) {
                // A field with no value makes every comparison false.
                return false;
            }
            // `in ()` is a valid, empty list.
            let w = wanted.first().map(String::as_bytes).unwrap_or(b"");
            let number = |b: &[u8]| std::str::from_utf8(b).ok()?.parse::<f64>().ok();
            let single = |f: &mut dyn FnMut(&[u8]) -> bool| {
                let mut first = true;
                each_value(&got, &mut |v| {
                    let hit = first && f(v);
                    first = false;
                    hit
                })
            };
            match op {
                Op::Eq => single(&mut |v| v == w),
                Op::Ne => !single(&mut |v| v == w),
                Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                    single(&mut |v| match (number(v), number(w)) {
                        (Some(a), Some(b)) => match op {
                            Op::Lt => a < b,
                            Op::Le => a <= b,
                            Op::Gt => a > b,
                            _ => a >= b,
                        },
                        _ => false,
                    })
                }
                // Every value in the list (a single value: that one).
                Op::In => !each_value(&got, &mut |v| !wanted.iter().any(|x| x.as_bytes() == v)),
                Op::Intersects => {
                    each_value(&got, &mut |v| wanted.iter().any(|x| x.as_bytes() == v))
                }
                Op::StartsWith => single(&mut |v| v.starts_with(w)),
                Op::EndsWith => single(&mut |v| v.ends_with(w)),
                Op::Contains => single(&mut |v| w.is_empty() || v.windows(w.len()).any(|x| x == w)),
            }
        }
    }
}

fn extract(capture: &mut CapturingPluginRunner, event: &Event, field: &str) -> ExtractedField {
    match capture.extract_field(event, field) {
        Some(Ok(value)) => value,
        Some(Err(rc)) => panic!("extracting {field} failed with rc {rc}"),
        None => panic!("no plugin extracts {field}"),
    }
}
