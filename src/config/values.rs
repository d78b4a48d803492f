//! The configuration's value types: each checks its text (or number) once, when deserialised, so that a value
//! of the type is usable and an error names the key (serde's path) and what is wrong with the value. Secrets
//! never appear in an error: a value that should have been the name of a variable may be the secret itself.

use falco_plugin::schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// A number of seconds from `MIN` to `MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Seconds<const MIN: u64, const MAX: u64>(u64);

impl<const MIN: u64, const MAX: u64> Seconds<MIN, MAX> {
    /// `value`, which the caller knows is in range (a default).
    pub const fn new(value: u64) -> Self {
        assert!(MIN <= value && value <= MAX);
        Self(value)
    }

    /// The number of seconds.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The same, as a duration.
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0)
    }
}

impl<const MIN: u64, const MAX: u64> TryFrom<u64> for Seconds<MIN, MAX> {
    type Error = String;

    fn try_from(value: u64) -> Result<Self, String> {
        if (MIN..=MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(format!("{value} is not between {MIN} and {MAX} seconds"))
        }
    }
}

impl<const MIN: u64, const MAX: u64> From<Seconds<MIN, MAX>> for u64 {
    fn from(seconds: Seconds<MIN, MAX>) -> u64 {
        seconds.0
    }
}

impl<const MIN: u64, const MAX: u64> JsonSchema for Seconds<MIN, MAX> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Seconds_{MIN}_{MAX}").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "format": "uint64", "minimum": MIN, "maximum": MAX})
    }
}

/// Defines a string newtype, checked by `$valid` (which says what is wrong), and its schema (a string).
macro_rules! checked_text {
    ($(#[$doc:meta])* $name:ident, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schemars(crate = "falco_plugin::schemars")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(text: String) -> Result<Self, String> {
                let valid: fn(&str) -> Result<(), String> = $valid;
                valid(&text).map(|()| Self(text))
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl $name {
            /// The checked text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

checked_text!(
    /// An `http` or `https` URL with a host, and no credentials in it.
    Url,
    |text| {
        let uri: http::Uri = text.parse().map_err(|e| format!("is not a URL ({e})"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err("must be an http:// or https:// URL".into());
        }
        let Some(authority) = uri.authority() else {
            return Err("must name a host".into());
        };
        if authority.as_str().contains('@') {
            return Err(
                "must not carry credentials: name the environment variables that hold them instead"
                    .into(),
            );
        }
        Ok(())
    }
);

checked_text!(
    /// The name of an environment variable (that holds a secret: the secret itself never goes in the
    /// configuration, and a wrong value is not repeated in the error, in case it is the secret).
    EnvName,
    |name| {
        let mut bytes = name.bytes();
        let valid = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(())
        } else {
            Err("must be the name of an environment variable (the secret itself never goes in the configuration)".into())
        }
    }
);

checked_text!(
    /// An AWS region: `eu-west-1`, `us-gov-west-1`, `cn-north-1` (lowercase letters, digits and dashes).
    Region,
    |text| {
        let valid = !text.is_empty()
            && text.contains('-')
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(())
        } else {
            Err(format!("{text:?} is not a region name such as `eu-west-1`"))
        }
    }
);

checked_text!(
    /// An AWS account id: 12 digits.
    AccountId,
    |text| {
        if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err(format!("{text:?} is not an AWS account id (12 digits)"))
        }
    }
);

checked_text!(
    /// A Google Cloud project id, as audit logs name the project (`resource.labels.project_id`): 6 to 30
    /// lowercase letters, digits and dashes, starting with a letter and not ending with a dash; a legacy
    /// domain-scoped id has its domain first (`example.com:my-project`). Not a project number: logs name
    /// projects by id.
    ProjectId,
    |text| {
        let id = text.rsplit_once(':').map_or(text, |(domain, id)| {
            let domain_ok = !domain.is_empty()
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
            if domain_ok { id } else { "" }
        });
        let valid = (6..=30).contains(&id.len())
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && !id.ends_with('-')
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(())
        } else {
            Err(format!(
                "{text:?} is not a Google Cloud project id such as `my-project` (6 to 30 lowercase letters, digits and dashes, starting with a letter)"
            ))
        }
    }
);

/// `"*"` (any) or one value. Its schema is a string's (`#[schemars(with = "String")]` where it is used).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    try_from = "String",
    bound(deserialize = "T: TryFrom<String, Error = String>")
)]
pub enum AnyOr<T> {
    /// `*`: any value.
    Any,
    /// This value.
    Is(T),
}

impl<T: TryFrom<String, Error = String>> TryFrom<String> for AnyOr<T> {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        if text == "*" {
            return Ok(AnyOr::Any);
        }
        T::try_from(text)
            .map(AnyOr::Is)
            .map_err(|problem| format!("{problem}, nor `*`"))
    }
}
