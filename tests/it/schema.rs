//! The checked-in SDL is the schema the code serves, and it documents itself.

use serde_json::json;

use crate::common::{StoreKind, TestApp};

/// With `UPDATE_SCHEMA` set, a differing `schema.graphql` is rewritten, and
/// the test still fails (saying so), so a stale file never passes unnoticed.
#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let exported = tracking::api::sdl();
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    if checked_in == exported {
        return;
    }
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &exported).expect("write schema.graphql");
        panic!("schema.graphql was out of date and has been rewritten: review and commit it");
    }
    panic!(
        "schema.graphql differs from the schema the code exports; \
         run `UPDATE_SCHEMA=1 cargo test --test it schema` and commit it"
    );
}

/// Every type, field, enum value and argument-taking operation of ours has a
/// description, as served by introspection.
#[tokio::test]
async fn every_type_and_field_is_described() {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let data = app
        .data(
            "{ __schema { types { name description fields { name description args { name description } } inputFields { name description } enumValues { name description } } } }",
            json!({}),
        )
        .await;
    let mut undocumented = Vec::new();
    for ty in data["__schema"]["types"].as_array().expect("types") {
        let name = ty["name"].as_str().unwrap_or_default();
        if name.starts_with("__") || ["String", "Int", "Float", "Boolean", "ID"].contains(&name) {
            continue;
        }
        if ty["description"].as_str().is_none_or(str::is_empty) {
            undocumented.push(name.to_owned());
        }
        for member in ty["fields"]
            .as_array()
            .into_iter()
            .chain(ty["enumValues"].as_array())
            .chain(ty["inputFields"].as_array())
            .flatten()
        {
            if member["description"].as_str().is_none_or(str::is_empty) {
                undocumented.push(format!("{name}.{}", member["name"]));
            }
        }
    }
    assert!(undocumented.is_empty(), "undocumented: {undocumented:?}");
}
