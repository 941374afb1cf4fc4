//! Schemas of the OpenAPI document for values a handler reads as strings (channel names,
//! message kinds, key actions, modes), made from the code's own lists of them.

/// A string that is one of `names`.
fn one_of(names: impl IntoIterator<Item = &'static str>) -> utoipa::openapi::Object {
    use utoipa::openapi::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
        .build()
}

/// A channel's name (`reach::model::Channel`).
pub fn channel_schema() -> utoipa::openapi::Object {
    one_of(reach::model::Channel::ALL.map(|c| c.name()))
}

/// A message kind (`reach::model::MessageKind`).
pub fn kind_schema() -> utoipa::openapi::Object {
    one_of(reach::model::MessageKind::ALL.map(|k| k.name()))
}

/// A key's actions (`reach::access::Action`, as JSON names them).
pub fn actions_schema() -> utoipa::openapi::schema::Array {
    use reach::access::Action;
    let names = [
        Action::Read,
        Action::Change,
        Action::Broadcast,
        Action::Keys,
    ]
    .map(|a| match serde_json::to_value(a) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    });
    utoipa::openapi::schema::Array::new(
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(names)),
    )
}

/// `/import`'s `mode`.
pub fn import_mode_schema() -> utoipa::openapi::Object {
    one_of(["all_or_nothing", "reject"])
}

/// `/tags`'s `sort`: descending, or ascending with `-`.
pub fn tag_sort_schema() -> utoipa::openapi::Object {
    one_of(["count", "created", "name", "-count", "-created", "-name"])
}

/// Names for the document of what a handler reads as a string: `#[param(value_type =
/// ChannelName, inline)]` (a parameter given by `schema_with` loses its description and
/// whether it is required).
macro_rules! named_strings {
    ($($(#[$doc:meta])* $name:ident = $schema:path;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $schema().into()
            }
        }

        impl utoipa::ToSchema for $name {}
    )*};
}

named_strings! {
    /// A channel's name.
    ChannelName = channel_schema;
    /// `/import`'s mode.
    ImportMode = import_mode_schema;
    /// `/tags`'s sort.
    TagSort = tag_sort_schema;
}
