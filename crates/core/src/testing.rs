//! Helpers for tests of this and other crates: the superset comparison of the
//! fixtures README (`tests/fixtures/finesse/README.md`).

use serde_json::Value;

/// Checks that `actual` contains `expected`: every key of an expected object
/// is present in the actual object with a value that contains the expected
/// value (recursively); arrays compare element by element and must have the
/// same length; other values must be equal. Extra keys in `actual` are allowed.
///
/// # Errors
/// The JSON path of the first difference, with both values.
pub fn json_contains(expected: &Value, actual: &Value) -> Result<(), String> {
    contains_at("$", expected, actual)
}

fn contains_at(path: &str, expected: &Value, actual: &Value) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}.{k}");
                match a.get(k) {
                    Some(av) => contains_at(&p, ev, av)?,
                    None => return Err(format!("{p}: missing (expected {ev})")),
                }
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{path}: expected {} elements, found {}",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                contains_at(&format!("{path}[{i}]"), ev, av)?;
            }
            Ok(())
        }
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{path}: expected {e}, found {a}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn superset_rules() {
        let e = json!({"a": 1, "b": {"c": [1, {"d": 2}]}});
        assert!(
            json_contains(
                &e,
                &json!({"a": 1, "x": 0, "b": {"c": [1, {"d": 2, "y": 3}]}})
            )
            .is_ok()
        );
        let err = json_contains(&e, &json!({"a": 1, "b": {"c": [1, {"d": 3}]}})).unwrap_err();
        assert_eq!(err, "$.b.c[1].d: expected 2, found 3");
        assert!(
            json_contains(&e, &json!({"b": {"c": [1, {"d": 2}]}}))
                .unwrap_err()
                .contains("$.a: missing")
        );
        assert!(json_contains(&e, &json!({"a": 1, "b": {"c": [1]}})).is_err());
        assert!(json_contains(&json!("1"), &json!(1)).is_err());
    }
}
