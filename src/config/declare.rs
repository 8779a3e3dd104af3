//! A row of the table of keys ([`Key`], with its [`DefaultValue`]) and the `config_keys!`
//! macro, which turns the one declaration of the configuration keys (in `mod.rs`) into the
//! `Config` struct and its group of rate limits, the [`KEYS`] table that the layers, the
//! environment variables, the command-line flags and the documentation tests are derived
//! from, and the function that builds a `Config` from the merged layers.
//!
//! Each key is written as
//!
//! ```text
//! /// Notes for the Rust field only (optional).
//! name: FieldType = DEFAULT, "VALUE-NAME", parser, "what the key means";
//! ```
//!
//! where DEFAULT is a [`DefaultValue`], parser is anything callable as
//! `fn(&Raw) -> Result<FieldType, String>`, VALUE-NAME is the placeholder shown by `--help`,
//! and the meaning is the field's documentation, the flag's help and the README's "meaning".
//!
//! [`KEYS`]: super::KEYS

use std::fmt;

use super::raw::Raw;
use DefaultValue::{Int, List, Text, Unset};

/// One configuration key, as declared. Key `some_key` is also the environment variable
/// `QOPY_SOME_KEY` and the flag `--some-key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key, as written in a config file.
    pub name: &'static str,
    /// Its built-in default.
    pub default: DefaultValue,
    /// The placeholder of its value in `--help` (`SIZE`, `on|off`).
    pub value_name: &'static str,
    /// What it means: the field's documentation, the flag's help, the README's "meaning".
    pub doc: &'static str,
}

impl Key {
    /// The environment variable, `QOPY_SOME_KEY`.
    pub fn env_var(&self) -> String {
        format!("QOPY_{}", self.name.to_ascii_uppercase())
    }

    /// The command-line flag without its dashes, `some-key`.
    pub fn flag(&self) -> String {
        self.name.replace('_', "-")
    }

    /// The flag's `--help` text: the meaning and the default.
    pub fn help(&self) -> String {
        format!("{} [default: {}]", self.doc, self.default)
    }
}

/// A key's built-in default, as it is written in `config/qopy.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// No value (the key is commented out in `config/qopy.toml`).
    Unset,
    /// A TOML string.
    Text(&'static str),
    /// A TOML integer.
    Int(i64),
    /// A TOML list of strings.
    List(&'static [&'static str]),
}

impl DefaultValue {
    /// The value as TOML, `None` when unset.
    pub fn to_toml(self) -> Option<toml::Value> {
        match self {
            Unset => None,
            Text(s) => Some(toml::Value::String(s.into())),
            Int(n) => Some(toml::Value::Integer(n)),
            List(items) => Some(toml::Value::Array(
                items
                    .iter()
                    .map(|s| toml::Value::String((*s).into()))
                    .collect(),
            )),
        }
    }

    pub(super) fn to_raw(self) -> Raw {
        match self {
            Unset => Raw::Str(String::new()),
            Text(s) => Raw::Str(s.into()),
            Int(n) => Raw::Int(n),
            List(items) => Raw::List(items.iter().map(|s| (*s).into()).collect()),
        }
    }
}

/// As in an environment variable or flag: lists comma-separated; `unset` and `none` for no
/// value and the empty list.
impl fmt::Display for DefaultValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unset => f.write_str("unset"),
            Text(s) => f.write_str(s),
            Int(n) => write!(f, "{n}"),
            List([]) => f.write_str("none"),
            List(items) => f.write_str(&items.join(",")),
        }
    }
}

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
