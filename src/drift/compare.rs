//! Comparing a value a call requests with the value the state holds.
//!
//! Scalars compare by value whatever their JSON type (`"true"` and `true`, `"20"` and `20`); objects and arrays
//! compare structurally with the same rule at their leaves, and a one-element list equals its element (the
//! state writes blocks as lists). Anything else counts as different: a false "changed" is better than a missed
//! drift.

use serde_json::Value;

/// What CloudTrail writes in place of a value it hides.
pub fn hidden_by_cloudtrail(value: &Value) -> bool {
    matches!(value, Value::String(s) if s == "HIDDEN_DUE_TO_SECURITY_REASONS"
        || s == "<sensitiveDataRemoved>"
        || s == "***"
        || s.starts_with("<sensitive"))
}

/// Whether `requested` and `state` mean the same value.
pub fn same(requested: &Value, state: &Value) -> bool {
    match (requested, state) {
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Array(a), other) | (other, Value::Array(a)) if a.len() == 1 => same(&a[0], other),
        (Value::Object(a), Value::Object(b)) => {
            // Keys the request leaves out are not requested; compare what it sets.
            a.iter().all(|(k, v)| match b.get(k) {
                Some(w) => same(v, w),
                None => v.is_null(),
            })
        }
        (Value::Null, Value::Null) => true,
        (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) => s.is_empty(),
        (a, b) => match (scalar_text(a), scalar_text(b)) {
            (Some(x), Some(y)) => x == y || numbers_equal(&x, &y),
            _ => false,
        },
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn numbers_equal(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_compare_by_value() {
        assert!(same(&json!("t3.micro"), &json!("t3.micro")));
        assert!(!same(&json!("t3.micro"), &json!("t3.large")));
        assert!(same(&json!(true), &json!("true")));
        assert!(same(&json!(20), &json!("20")));
        assert!(same(&json!(20), &json!(20.0)));
        assert!(!same(&json!(20), &json!(21)));
        assert!(same(&json!(null), &json!("")));
    }

    #[test]
    fn blocks_and_lists() {
        assert!(same(
            &json!({"Status": "Enabled"}),
            &json!([{"Status": "Enabled", "MfaDelete": null}])
        ));
        assert!(!same(
            &json!({"Status": "Suspended"}),
            &json!([{"Status": "Enabled"}])
        ));
        assert!(same(&json!(["a", "b"]), &json!(["a", "b"])));
        assert!(!same(&json!(["a"]), &json!(["a", "b"])));
    }

    #[test]
    fn cloudtrail_hides_some_values() {
        assert!(hidden_by_cloudtrail(&json!(
            "HIDDEN_DUE_TO_SECURITY_REASONS"
        )));
        assert!(hidden_by_cloudtrail(&json!("<sensitiveDataRemoved>")));
        assert!(!hidden_by_cloudtrail(&json!("hello")));
    }
}
