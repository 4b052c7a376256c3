//! Value types of the scenario format that TOML has no native form for:
//! durations (`"250ms"`), latency distributions, byte sizes and threshold
//! bounds. Each deserializes from the form a person writes and fails with a
//! message that says what was expected; the TOML parser attaches the span.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::bounds::{MAX_ANY_DURATION, MAX_CACHE_BYTES};
use crate::time::Micros;

/// A duration written as text: `"250ms"`, `"30s"`, `"2m"`, `"1h 30m"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct HumanDuration(pub Micros);

impl From<HumanDuration> for String {
    fn from(d: HumanDuration) -> String {
        d.0.to_string()
    }
}

impl HumanDuration {
    /// Parses `"250ms"`, `"30s"`, `"2m"`, `"1h 30m"`; a bare `"0"` is zero.
    /// No duration is longer than [`MAX_ANY_DURATION`] (a year); keys that
    /// size something have tighter bounds, checked by validation.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t == "0" {
            return Ok(HumanDuration(Micros::ZERO));
        }
        let d = humantime::parse_duration(t)
            .map(|d| HumanDuration(Micros::from_duration(d)))
            .map_err(|e| {
                format!(
                    "invalid duration \"{text}\" ({e}), expected a number and a unit such as \"250ms\", \"30s\" or \"2m\""
                )
            })?;
        if d.0 > MAX_ANY_DURATION {
            return Err(format!(
                "duration \"{text}\" is longer than 365 days, the longest ttlab takes"
            ));
        }
        Ok(d)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"250ms\", \"30s\" or \"2m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                HumanDuration::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                if v == 0 {
                    Ok(HumanDuration(Micros::ZERO))
                } else {
                    Err(E::custom(format!(
                        "a duration needs a unit: write \"{v}s\" or \"{v}ms\", not {v}"
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration with a unit: \"250ms\", \"30s\", \"2m\", \"1h 30m\".",
            "pattern": "^\\s*([0-9]+(\\.[0-9]+)?\\s*[a-zA-Zµ]+\\s*)+$|^0$",
            "examples": ["250ms", "30s", "2m"]
        })
    }
}

/// A distribution of durations (latency, think time).
///
/// Written as a fixed value `"20ms"`, or a table with exactly one shape:
/// `{ mean = "1s" }` (exponential), `{ min = "1s", max = "3s" }` (uniform),
/// `{ p50 = "20ms", p99 = "120ms" }` (log-normal through both quantiles).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DistSpec {
    /// Always the same value.
    Fixed(HumanDuration),
    /// One of the table shapes; checked by validation.
    Table(DistTable),
}

/// The table form of [`DistSpec`]; validation checks that exactly one shape is given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DistTable {
    /// Mean of an exponential distribution.
    pub mean: Option<HumanDuration>,
    /// Lower bound of a uniform distribution.
    pub min: Option<HumanDuration>,
    /// Upper bound of a uniform distribution.
    pub max: Option<HumanDuration>,
    /// Median of a log-normal distribution (with `p99`).
    pub p50: Option<HumanDuration>,
    /// 99th percentile of a log-normal distribution (with `p50`).
    pub p99: Option<HumanDuration>,
}

impl<'de> Deserialize<'de> for DistSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DistSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a duration such as \"20ms\", or a table such as { p50 = \"20ms\", p99 = \"80ms\" }, { mean = \"1s\" } or { min = \"1s\", max = \"3s\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DistSpec, E> {
                HumanDuration::parse(v)
                    .map(DistSpec::Fixed)
                    .map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DistSpec, A::Error> {
                DistTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(DistSpec::Table)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for DistSpec {
    fn schema_name() -> Cow<'static, str> {
        "Distribution".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let table = generator.subschema_for::<DistTable>();
        let dur = generator.subschema_for::<HumanDuration>();
        json_schema!({
            "description": "A fixed duration, or { mean }, { min, max } or { p50, p99 }.",
            "anyOf": [dur, table]
        })
    }
}

/// A rate per second that may change over the run.
///
/// A number is a constant rate. A table takes exactly one shape:
/// `{ every = "1m", rates = [50, 80, 120] }` (each rate holds for `every`, the
/// last one to the end), `{ steps = [{ at = "0s", rate = 50 }, { at = "2m",
/// rate = 200 }] }`, `{ from = 10, to = 200, over = "2m" }` (a ramp, then
/// holds), `{ from = 0, stages = [{ to = 100, over = "1m" }, { to = 100, over
/// = "5m" }] }` (ramps one after another, as k6's stages) or `{ daily = [24
/// hourly rates], day = "24h" }` (a daily profile, linear between hours,
/// repeating every `day`; a shorter `day` compresses it).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RateSpec {
    /// The same rate all the time.
    Constant(f64),
    /// One of the table shapes; checked by validation.
    Table(RateTable),
}

/// The table form of [`RateSpec`]; validation checks that exactly one shape is given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateTable {
    /// Steps of equal length: each of `rates` holds this long.
    pub every: Option<HumanDuration>,
    /// The rates of `every`'s steps, in order.
    pub rates: Option<Vec<f64>>,
    /// Steps at given instants.
    pub steps: Option<Vec<RateStep>>,
    /// A ramp's (or stages') starting rate.
    pub from: Option<f64>,
    /// A single ramp's final rate (with `from` and `over`).
    pub to: Option<f64>,
    /// A single ramp's length.
    pub over: Option<HumanDuration>,
    /// Ramps one after another from `from` (default 0).
    pub stages: Option<Vec<RateStage>>,
    /// A daily profile: 24 hourly rates.
    pub daily: Option<Vec<f64>>,
    /// The length of the daily profile's day (default 24h).
    pub day: Option<HumanDuration>,
}

/// One step of `steps`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateStep {
    /// When the step starts, from the start of the run.
    pub at: HumanDuration,
    /// Per second from then on.
    pub rate: f64,
}

/// One ramp of `stages`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateStage {
    /// The rate at the end of the stage.
    pub to: f64,
    /// The stage's length.
    pub over: HumanDuration,
}

impl<'de> Deserialize<'de> for RateSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RateSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a rate per second such as 150, or a table such as { every = \"1m\", rates = [50, 120] } or { from = 10, to = 200, over = \"2m\" }",
                )
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RateSpec, E> {
                Ok(RateSpec::Constant(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RateSpec, E> {
                Ok(RateSpec::Constant(v as f64))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RateSpec, A::Error> {
                RateTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RateSpec::Table)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RateSpec {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let table = generator.subschema_for::<RateTable>();
        json_schema!({
            "description": "Per second: a number, or { every, rates }, { steps }, { from, to, over }, { from, stages } or { daily, day }.",
            "anyOf": [{"type": "number", "minimum": 0}, table]
        })
    }
}

/// A size in bytes: an integer, or text with a unit such as `"64MiB"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as 1048576 or \"64MiB\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("a size cannot be negative, got {v}")))
                    .and_then(|b| ByteSize::bounded(b, &v.to_string()).map_err(E::custom))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.trim()
                    .parse::<bytesize::ByteSize>()
                    .map_err(|_| {
                        E::custom(format!(
                            "invalid size \"{v}\", expected a number and a unit such as \"64MiB\" or \"500KB\""
                        ))
                    })
                    .and_then(|b| ByteSize::bounded(b.as_u64(), v).map_err(E::custom))
            }
        }
        d.deserialize_any(V)
    }
}

impl ByteSize {
    /// `bytes`, unless past [`MAX_CACHE_BYTES`] (a terabyte).
    fn bounded(bytes: u64, written: &str) -> Result<ByteSize, String> {
        if bytes > MAX_CACHE_BYTES {
            Err(format!(
                "size {written} is more than {MAX_CACHE_BYTES} bytes (1 TiB), the largest ttlab takes"
            ))
        } else {
            Ok(ByteSize(bytes))
        }
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Bytes as an integer, or text with a unit: \"64MiB\", \"500KB\".",
            "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]
        })
    }
}

/// A bound on a measure: a bare number, or text with a comparison such as
/// `"<= 0.01"`, `">= 0.8"` or `"<= 50ms"`. A bare number is an upper bound for
/// measures where less is better and a lower bound where more is better.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BoundSpec {
    /// A bare number.
    Number(f64),
    /// `"<op> <value>"`; parsed by validation, which knows the measure's unit.
    Text(String),
}

impl<'de> Deserialize<'de> for BoundSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = BoundSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, or a bound such as \"<= 0.01\" or \"<= 50ms\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<BoundSpec, E> {
                Ok(BoundSpec::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<BoundSpec, E> {
                Ok(BoundSpec::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BoundSpec, E> {
                Ok(BoundSpec::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for BoundSpec {
    fn schema_name() -> Cow<'static, str> {
        "Bound".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A number, or a comparison: \"<= 0.01\", \">= 0.8\", \"<= 50ms\".",
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": "^\\s*(<=|>=|<|>|==)\\s*\\S+"}]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_only() {
        assert_eq!(HumanDuration::parse("250ms").unwrap().0, Micros(250_000));
        assert_eq!(
            HumanDuration::parse("2m").unwrap().0,
            Micros::from_secs(120)
        );
        assert_eq!(HumanDuration::parse("0s").unwrap().0, Micros::ZERO);
        assert_eq!(HumanDuration::parse("0").unwrap().0, Micros::ZERO);
        let err = HumanDuration::parse("30").unwrap_err();
        assert!(err.contains("expected a number and a unit"), "{err}");
        assert!(HumanDuration::parse("fast").is_err());
    }
}
