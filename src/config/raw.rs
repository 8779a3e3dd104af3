//! A setting's value before interpretation, and the conversions every key shares.

use super::parse::{parse_duration, parse_size};
use std::time::Duration;

/// A setting before interpretation: what TOML allows, or the string of an env var or flag.
#[derive(Debug, Clone)]
pub(super) enum Raw {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
}

impl Raw {
    pub(super) fn from_toml(value: toml::Value) -> Result<Raw, String> {
        match value {
            toml::Value::String(s) => Ok(Raw::Str(s)),
            toml::Value::Integer(i) => Ok(Raw::Int(i)),
            toml::Value::Boolean(b) => Ok(Raw::Bool(b)),
            toml::Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s),
                    other => Err(format!(
                        "expected a list of strings, found {}",
                        other.type_str()
                    )),
                })
                .collect::<Result<_, _>>()
                .map(Raw::List),
            other => Err(format!("unsupported TOML type {}", other.type_str())),
        }
    }

    pub(super) fn kind(&self) -> &'static str {
        match self {
            Raw::Str(_) => "a string",
            Raw::Int(_) => "an integer",
            Raw::Bool(_) => "a boolean",
            Raw::List(_) => "a list",
        }
    }

    pub(super) fn text(&self) -> Result<&str, String> {
        match self {
            Raw::Str(s) => Ok(s),
            other => Err(format!("expected a string, found {}", other.kind())),
        }
    }

    pub(super) fn size(&self) -> Result<u64, String> {
        match self {
            Raw::Int(i) => u64::try_from(*i).map_err(|_| "must not be negative".to_string()),
            Raw::Str(s) => parse_size(s),
            other => Err(format!("expected a size, found {}", other.kind())),
        }
    }

    pub(super) fn duration(&self) -> Result<Duration, String> {
        let d = match self {
            Raw::Int(i) => Duration::from_secs(
                u64::try_from(*i).map_err(|_| "must not be negative".to_string())?,
            ),
            Raw::Str(s) => parse_duration(s)?,
            other => return Err(format!("expected a duration, found {}", other.kind())),
        };
        if d.is_zero() {
            return Err("must be longer than zero".into());
        }
        Ok(d)
    }

    /// A positive integer.
    pub(super) fn count(&self) -> Result<u64, String> {
        let n = self.whole()?;
        if n == 0 {
            return Err("must be at least 1".into());
        }
        Ok(n)
    }

    /// A whole number, 0 included.
    pub(super) fn whole(&self) -> Result<u64, String> {
        let n = match self {
            Raw::Int(i) => u64::try_from(*i).map_err(|_| "must not be negative".to_string())?,
            Raw::Str(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("`{s}` is not a whole number"))?,
            other => return Err(format!("expected an integer, found {}", other.kind())),
        };
        Ok(n)
    }

    pub(super) fn switch(&self) -> Result<bool, String> {
        match self {
            Raw::Bool(b) => Ok(*b),
            Raw::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "on" | "true" => Ok(true),
                "off" | "false" => Ok(false),
                _ => Err(format!("`{s}` is not on, off, true or false")),
            },
            other => Err(format!("expected on or off, found {}", other.kind())),
        }
    }

    /// A list; a string is split on commas (empty items dropped), so "" is the empty list.
    pub(super) fn list(&self) -> Result<Vec<String>, String> {
        match self {
            Raw::List(items) => Ok(items.clone()),
            Raw::Str(s) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(String::from)
                .collect()),
            other => Err(format!("expected a list, found {}", other.kind())),
        }
    }
}

/// `parse` for a key that may be unset: a blank string (the default of such keys, or an
/// empty variable or flag) is `None`.
pub(super) fn optional<T>(
    parse: impl Fn(&Raw) -> Result<T, String>,
) -> impl Fn(&Raw) -> Result<Option<T>, String> {
    move |raw| match raw {
        Raw::Str(s) if s.trim().is_empty() => Ok(None),
        raw => parse(raw).map(Some),
    }
}
