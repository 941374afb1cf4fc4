//! Checks request bodies against an OpenAPI description's schemas (the subset these
//! platforms use): `$ref`, `allOf` (properties merged, so `additionalProperties: false`
//! in one part allows the others'), `oneOf` / `anyOf`, discriminators with a mapping,
//! `type`, `required`, `properties`, `additionalProperties`, `items`, `minItems`,
//! `maxItems`, `enum`, `minLength`, `maxLength`.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

pub struct Spec {
    root: Value,
}

impl Spec {
    /// The description in `../shared/reference/NAME`, if it is beside the project.
    pub fn reference(name: &str) -> Option<Spec> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/reference")
            .join(name);
        let text = std::fs::read_to_string(path).ok()?;
        let root: Value = serde_yaml_ng::from_str(&text).expect("the reference is YAML");
        Some(Spec { root })
    }

    /// Validates `value` against the component schema `name`.
    pub fn check(&self, name: &str, value: &Value) -> Result<(), String> {
        let schema = self.root["components"]["schemas"][name].clone();
        assert!(!schema.is_null(), "no schema {name}");
        self.validate(value, &schema, "$", false, &BTreeSet::new())
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        while let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let mut node = &self.root;
            for part in reference.trim_start_matches("#/").split('/') {
                node = &node[part];
            }
            schema = node;
        }
        schema
    }

    /// Every property an object schema declares, through `allOf` parts.
    fn declared(&self, schema: &Value, names: &mut BTreeSet<String>) {
        let schema = self.resolve(schema);
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            names.extend(properties.keys().cloned());
        }
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.declared(part, names);
        }
    }

    /// `siblings`: properties declared by the other parts of an enclosing `allOf`.
    fn validate(
        &self,
        value: &Value,
        schema: &Value,
        at: &str,
        dispatched: bool,
        siblings: &BTreeSet<String>,
    ) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let (false, Some(discriminator)) = (dispatched, schema.get("discriminator")) {
            let property = discriminator["propertyName"].as_str().unwrap_or("type");
            let tag = value
                .get(property)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{at}: no {property}"))?;
            let target = discriminator["mapping"][tag]
                .as_str()
                .ok_or_else(|| format!("{at}: {property} '{tag}' is not one of the mapping"))?;
            let target = serde_json::json!({"$ref": target});
            return self.validate(value, &target, at, true, siblings);
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            let mut all = siblings.clone();
            self.declared(schema, &mut all);
            for part in parts {
                self.validate(value, part, at, true, &all)?;
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(options) = schema.get(key).and_then(Value::as_array) {
                let errors: Vec<String> = options
                    .iter()
                    .filter_map(|o| self.validate(value, o, at, true, siblings).err())
                    .collect();
                if errors.len() == options.len() {
                    return Err(format!(
                        "{at}: matches none of {key}: {}",
                        errors.join(" | ")
                    ));
                }
            }
        }
        if let Some(kind) = schema.get("type").and_then(Value::as_str) {
            let ok = match kind {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                _ => true,
            };
            let nullable = value.is_null() && schema["nullable"] == true;
            if !(ok || nullable) {
                return Err(format!("{at}: expected {kind}, got {value}"));
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            return Err(format!("{at}: {value} is not one of {options:?}"));
        }
        if let Some(text) = value.as_str() {
            let len = text.chars().count() as u64;
            if schema
                .get("minLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| len < m)
            {
                return Err(format!("{at}: shorter than minLength"));
            }
            if schema
                .get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| len > m)
            {
                return Err(format!("{at}: longer than maxLength"));
            }
        }
        if let Some(items) = value.as_array() {
            let n = items.len() as u64;
            if schema
                .get("minItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| n < m)
            {
                return Err(format!("{at}: fewer than minItems ({n})"));
            }
            if schema
                .get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| n > m)
            {
                return Err(format!("{at}: more than maxItems ({n})"));
            }
            if let Some(item) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    self.validate(v, item, &format!("{at}[{i}]"), false, &BTreeSet::new())?;
                }
            }
        }
        if let Some(object) = value.as_object() {
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = name.as_str().unwrap_or("");
                if !object.contains_key(name) {
                    return Err(format!("{at}: lacks the required {name}"));
                }
            }
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    if let Some(v) = object.get(name) {
                        self.validate(
                            v,
                            property,
                            &format!("{at}.{name}"),
                            false,
                            &BTreeSet::new(),
                        )?;
                    }
                }
            }
            if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
                let mut allowed = siblings.clone();
                self.declared(schema, &mut allowed);
                if let Some(extra) = object.keys().find(|k| !allowed.contains(*k)) {
                    return Err(format!("{at}: property {extra} is not allowed"));
                }
            }
        }
        Ok(())
    }
}
