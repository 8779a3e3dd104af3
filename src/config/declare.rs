//! The `config_keys!` macro: turns the one declaration of the configuration keys (in
//! `mod.rs`) into the `Config` struct and its group of rate limits, the [`KEYS`] table that
//! the layers, the environment variables, the command-line flags and the documentation tests
//! are derived from, and the function that builds a `Config` from the merged layers.
//!
//! Each key is written as
//!
//! ```text
//! /// Notes for the Rust field only (optional).
//! name: FieldType = DEFAULT, "VALUE-NAME", parser, "what the key means";
//! ```
//!
//! where DEFAULT is a [`DefaultValue`](super::DefaultValue), parser is anything callable as
//! `fn(&Raw) -> Result<FieldType, String>`, VALUE-NAME is the placeholder shown by `--help`,
//! and the meaning is the field's documentation, the flag's help and the README's "meaning".
//!
//! [`KEYS`]: super::KEYS

macro_rules! config_keys {
    // A struct of keys, each documented by its meaning, then `extra` fields.
    (@struct $(#[$struct_meta:meta])* $name:ident {
        $( $(#[$meta:meta])* $key:ident : $ty:ty, $doc:literal; )*
    } { $($extra:tt)* }) => {
        $(#[$struct_meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $(
                #[doc = $doc]
                $(#[$meta])*
                pub $key: $ty,
            )*
            $($extra)*
        }
    };
    (
        $(#[$struct_meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$meta:meta])*
                $key:ident : $ty:ty = $default:expr, $value:literal, $parse:expr, $doc:literal;
            )*
        }
        $(#[$group_meta:meta])*
        pub struct $group:ident in $group_field:ident, keys $prefix:literal {
            $(
                $(#[$gmeta:meta])*
                $gkey:ident : $gty:ty = $gdefault:expr, $gvalue:literal, $gparse:expr, $gdoc:literal;
            )*
        }
    ) => {
        config_keys!(@struct $(#[$struct_meta])* $name {
            $( $(#[$meta])* $key: $ty, $doc; )*
        } { $(#[$group_meta])* pub $group_field: $group, });
        config_keys!(@struct $(#[$group_meta])* $group {
            $( $(#[$gmeta])* $gkey: $gty, $gdoc; )*
        } {});

        /// Every configuration key, in declaration order (also the order of
        /// `config/qopy.toml` and of the README's table).
        pub const KEYS: &[Key] = &[
            $(
                Key {
                    name: stringify!($key),
                    default: $default,
                    value_name: $value,
                    doc: $doc,
                },
            )*
            $(
                Key {
                    name: concat!($prefix, stringify!($gkey)),
                    default: $gdefault,
                    value_name: $gvalue,
                    doc: $gdoc,
                },
            )*
        ];

        /// Interprets every key's winning value with the key's parser.
        fn build(values: &Values) -> Result<$name, ConfigError> {
            Ok($name {
                $( $key: values.get(stringify!($key), $parse)?, )*
                $group_field: $group {
                    $( $gkey: values.get(concat!($prefix, stringify!($gkey)), $gparse)?, )*
                },
            })
        }
    };
}
