//! Variable coercion, as the GraphQL spec's `CoerceVariableValues`: every
//! variable an operation declares is checked against its declared type
//! before anything runs, so a request with a missing, null or mistyped
//! variable is refused as a whole (a request error: 400 under
//! `application/graphql-response+json`) instead of failing field by field
//! mid-execution.
//!
//! The input types (scalars, enums and input objects with their fields) are
//! read once from the schema's own introspection, so nothing here copies
//! the schema. Custom scalars are checked by their own parsers when a
//! resolver reads them.

use std::collections::HashMap;

use async_graphql::{
    parser::types::{BaseType, OperationDefinition, Type},
    Name, Pos, ServerError, Value, Variables,
};

/// What a named input type accepts.
#[derive(Debug, Clone)]
enum Input {
    Int,
    Float,
    String,
    Boolean,
    Id,
    /// A custom scalar: checked when parsed.
    Custom,
    Enum(Vec<String>),
    Object(Vec<Field>),
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    ty: Type,
    has_default: bool,
}

/// The schema's input types, by name.
#[derive(Debug, Default)]
pub struct InputTypes {
    by_name: HashMap<String, Input>,
}

/// Deepest nesting of lists and input objects a variable's value is checked
/// through (values are bounded by the body size anyway; this bounds the
/// recursion).
const MAX_NESTING: usize = 32;

const INTROSPECTION: &str = r#"{ __schema { types { kind name
  enumValues(includeDeprecated: true) { name }
  inputFields { name defaultValue type { ...T } } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }"#;

impl InputTypes {
    /// Reads the input types of `schema`.
    pub fn of<Q, M, S>(schema: &async_graphql::Schema<Q, M, S>) -> Self
    where
        Q: async_graphql::ObjectType + 'static,
        M: async_graphql::ObjectType + 'static,
        S: async_graphql::SubscriptionType + 'static,
    {
        let mut by_name = HashMap::new();
        by_name.insert("Int".to_owned(), Input::Int);
        by_name.insert("Float".to_owned(), Input::Float);
        by_name.insert("String".to_owned(), Input::String);
        by_name.insert("Boolean".to_owned(), Input::Boolean);
        by_name.insert("ID".to_owned(), Input::Id);
        // Nothing in the schema awaits: the introspection completes at once.
        let response = futures_util::FutureExt::now_or_never(schema.execute(INTROSPECTION));
        let json = response
            .and_then(|r| r.data.into_json().ok())
            .unwrap_or_default();
        for ty in json["__schema"]["types"].as_array().into_iter().flatten() {
            let Some(name) = ty["name"].as_str() else {
                continue;
            };
            if by_name.contains_key(name) {
                continue;
            }
            let input = match ty["kind"].as_str() {
                Some("SCALAR") => Input::Custom,
                Some("ENUM") => Input::Enum(
                    ty["enumValues"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v["name"].as_str().map(str::to_owned))
                        .collect(),
                ),
                Some("INPUT_OBJECT") => Input::Object(
                    ty["inputFields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| {
                            Some(Field {
                                name: f["name"].as_str()?.to_owned(),
                                ty: type_ref(&f["type"])?,
                                has_default: !f["defaultValue"].is_null(),
                            })
                        })
                        .collect(),
                ),
                _ => continue,
            };
            by_name.insert(name.to_owned(), input);
        }
        Self { by_name }
    }

    /// Checks the variables of a request against what `operation` declares;
    /// the errors name each variable and where it is declared.
    pub fn coerce(
        &self,
        operation: &OperationDefinition,
        variables: &Variables,
    ) -> Result<(), Vec<ServerError>> {
        let mut errors = Vec::new();
        for definition in &operation.variable_definitions {
            let definition = &definition.node;
            let name = definition.name.node.as_str();
            let ty = &definition.var_type.node;
            let at = definition.name.pos;
            match variables.get(&Name::new(name)) {
                None if definition.default_value.is_some() || ty.nullable => {}
                None => errors.push(error(
                    at,
                    format!("Variable \"${name}\" of required type \"{ty}\" was not provided."),
                )),
                Some(value) => {
                    if let Err(why) = self.check(value, ty, 0) {
                        errors.push(error(
                            at,
                            format!("Variable \"${name}\" got an invalid value: {why}"),
                        ));
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Why `value` is not a `ty`, if it is not.
    fn check(&self, value: &Value, ty: &Type, depth: usize) -> Result<(), String> {
        if depth > MAX_NESTING {
            return Err(format!("nested deeper than {MAX_NESTING} levels"));
        }
        if matches!(value, Value::Null) {
            return if ty.nullable {
                Ok(())
            } else {
                Err(format!("null where \"{ty}\" is required"))
            };
        }
        match &ty.base {
            BaseType::List(item) => match value {
                Value::List(items) => items.iter().enumerate().try_for_each(|(i, v)| {
                    self.check(v, item, depth + 1)
                        .map_err(|why| format!("at index {i}: {why}"))
                }),
                // A single value where a list is expected is a list of one.
                single => self.check(single, item, depth + 1),
            },
            BaseType::Named(name) => self.check_named(value, name, depth),
        }
    }

    fn check_named(&self, value: &Value, name: &str, depth: usize) -> Result<(), String> {
        let expected = |what: &str| Err(format!("expected {what}, found {value}"));
        let Some(input) = self.by_name.get(name) else {
            // Validation refuses variables of unknown types before this.
            return Err(format!("\"{name}\" is not an input type"));
        };
        match (input, value) {
            (Input::Int, Value::Number(n))
                if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) =>
            {
                Ok(())
            }
            (Input::Int, _) => expected("a 32-bit Int"),
            (Input::Float, Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => Ok(()),
            (Input::Float, _) => expected("a Float"),
            (Input::String, Value::String(_)) => Ok(()),
            (Input::String, _) => expected("a String"),
            (Input::Boolean, Value::Boolean(_)) => Ok(()),
            (Input::Boolean, _) => expected("a Boolean"),
            (Input::Id, Value::String(_)) => Ok(()),
            (Input::Id, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
            (Input::Id, _) => expected("an ID (a string or an integer)"),
            (Input::Custom, _) => Ok(()),
            (Input::Enum(values), value) => {
                let given = match value {
                    Value::String(s) => Some(s.as_str()),
                    Value::Enum(n) => Some(n.as_str()),
                    _ => None,
                };
                if given.is_some_and(|g| values.iter().any(|v| v == g)) {
                    Ok(())
                } else {
                    expected(&format!("one of {}", values.join(", ")))
                }
            }
            (Input::Object(fields), Value::Object(object)) => {
                if let Some(unknown) = object
                    .keys()
                    .find(|k| !fields.iter().any(|f| f.name == k.as_str()))
                {
                    return Err(format!("\"{name}\" has no field \"{unknown}\""));
                }
                for field in fields {
                    match object.get(field.name.as_str()) {
                        None if field.has_default || field.ty.nullable => {}
                        None => {
                            return Err(format!(
                                "field \"{name}.{}\" of required type \"{}\" was not provided",
                                field.name, field.ty
                            ))
                        }
                        Some(v) => self
                            .check(v, &field.ty, depth + 1)
                            .map_err(|why| format!("in field \"{}\": {why}", field.name))?,
                    }
                }
                Ok(())
            }
            (Input::Object(_), _) => expected(&format!("an input object \"{name}\"")),
        }
    }
}

/// Values the validator can be given for an operation's variables without
/// knowing the request's: an empty list for each non-null list variable
/// without a default (so that cost functions reading a list's length can
/// run); every other variable is left out, which validation skips.
pub fn placeholders(operation: &OperationDefinition) -> Variables {
    let mut variables = Variables::default();
    for definition in &operation.variable_definitions {
        let definition = &definition.node;
        let ty = &definition.var_type.node;
        if !ty.nullable
            && matches!(ty.base, BaseType::List(_))
            && definition.default_value.is_none()
        {
            variables.insert(definition.name.node.clone(), Value::List(Vec::new()));
        }
    }
    variables
}

/// An introspected type reference (`{kind, name, ofType}`) as a [`Type`].
fn type_ref(json: &serde_json::Value) -> Option<Type> {
    fn spell(json: &serde_json::Value, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match json["kind"].as_str()? {
            "NON_NULL" => Some(format!("{}!", spell(&json["ofType"], depth + 1)?)),
            "LIST" => Some(format!("[{}]", spell(&json["ofType"], depth + 1)?)),
            _ => json["name"].as_str().map(str::to_owned),
        }
    }
    Type::new(&spell(json, 0)?)
}

fn error(at: Pos, message: String) -> ServerError {
    ServerError::new(message, Some(at))
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::{parse_query, types::DocumentOperations};

    use super::*;

    fn types() -> InputTypes {
        InputTypes::of(
            &async_graphql::Schema::build(
                crate::api::Query,
                crate::api::Mutation,
                crate::api::SubscriptionRoot,
            )
            .finish(),
        )
    }

    fn coerce(types: &InputTypes, query: &str, variables: serde_json::Value) -> Result<(), String> {
        let document = parse_query(query).map_err(|e| e.to_string())?;
        let DocumentOperations::Single(operation) = document.operations else {
            return Err("one operation".into());
        };
        types
            .coerce(&operation.node, &Variables::from_json(variables))
            .map_err(|errors| {
                errors
                    .iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
    }

    #[test]
    fn variables_are_checked_against_their_declared_types() {
        let types = types();
        let q = "query($id: ID!, $n: Int, $lat: Float!) { __typename }";
        assert!(coerce(&types, q, serde_json::json!({"id": "a", "lat": 1.5})).is_ok());
        assert!(coerce(&types, q, serde_json::json!({"id": 7, "n": 3, "lat": 1})).is_ok());
        let missing = coerce(&types, q, serde_json::json!({"lat": 1})).unwrap_err();
        assert!(
            missing.contains("\"$id\" of required type \"ID!\" was not provided"),
            "{missing}"
        );
        let null = coerce(&types, q, serde_json::json!({"id": null, "lat": 1})).unwrap_err();
        assert!(null.contains("null where \"ID!\" is required"), "{null}");
        let float = coerce(
            &types,
            q,
            serde_json::json!({"id": "a", "n": 1.5, "lat": 1}),
        )
        .unwrap_err();
        assert!(float.contains("32-bit Int"), "{float}");
        let big = coerce(
            &types,
            q,
            serde_json::json!({"id": "a", "n": 1u64 << 40, "lat": 1}),
        )
        .unwrap_err();
        assert!(big.contains("32-bit Int"), "{big}");
        let text = coerce(&types, q, serde_json::json!({"id": "a", "lat": "north"})).unwrap_err();
        assert!(text.contains("expected a Float"), "{text}");
    }

    #[test]
    fn input_objects_lists_and_enums_are_checked_field_by_field() {
        let types = types();
        let q = "mutation($u: [LocationUpdate!]!, $s: RideStatus) { __typename }";
        let good =
            serde_json::json!({"u": [{"driverId": "d", "lat": 1, "lng": 2}], "s": "SEARCHING"});
        assert!(coerce(&types, q, good).is_ok());
        // A single value where a list is declared is a list of one.
        let single = serde_json::json!({"u": {"driverId": "d", "lat": 1, "lng": 2}});
        assert!(coerce(&types, q, single).is_ok());
        let unknown = coerce(
            &types,
            q,
            serde_json::json!({"u": [{"driverId": "d", "lat": 1, "lng": 2, "speed": 3}]}),
        )
        .unwrap_err();
        assert!(unknown.contains("no field \"speed\""), "{unknown}");
        let lacking = coerce(
            &types,
            q,
            serde_json::json!({"u": [{"driverId": "d", "lat": 1}]}),
        )
        .unwrap_err();
        assert!(lacking.contains("LocationUpdate.lng"), "{lacking}");
        assert!(lacking.contains("at index 0"), "{lacking}");
        let status = coerce(&types, q, serde_json::json!({"u": [], "s": "FLYING"})).unwrap_err();
        assert!(status.contains("one of"), "{status}");
    }
}
