//! Merchandising rules, applied on every call inside the one retrieval scan:
//! filters and exclusions decide which rows may be ranked at all (so a call
//! returns k items whenever k qualify), boosts add to the model's score of
//! the rows they match, pins put chosen items at chosen positions.
//!
//! A test names a field: `id`, `category` (any of the item's categories) or
//! any catalog attribute (`price`, `brand`, `available`, ...). It holds when
//! the item's value equals the given one (text, number or true/false), equals
//! any of a list, or is a number within `{ min, max }` (both inclusive, either
//! may be left out). An item without the field fails the test.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::catalog::Catalog;

/// The most values (ids, list entries, tests, boosts, pins, overrides) one
/// call's rules may hold (a live stock file adds its ids to every call).
pub const MAX_RULE_VALUES: usize = 200_000;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Every test must hold for an item to be ranked.
    #[serde(default)]
    pub filter: BTreeMap<String, Test>,
    /// Ids never ranked (unknown ids are ignored: the item may be gone).
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub boost: Vec<Boost>,
    #[serde(default)]
    pub pin: Vec<Pin>,
    /// Attribute values that replace the catalog's for these ids (a live
    /// stock file's prices and availability), seen by every test above.
    #[serde(default)]
    pub overrides: BTreeMap<String, BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Range { min: Option<f64>, max: Option<f64> },
    AnyOf(Vec<Value>),
    Is(Value),
}

// By hand from a JSON value: serde's untagged enums cost far more wasm.
impl<'de> Deserialize<'de> for Test {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = |value: Value, name: &str| match value.as_f64() {
            Some(number) => Ok(number),
            None => Err(serde::de::Error::custom(format!("{name} of a range must be a number, not {value}"))),
        };
        match Value::deserialize(deserializer)? {
            Value::Object(fields) => {
                let (mut min, mut max) = (None, None);
                for (name, value) in fields {
                    match name.as_str() {
                        "min" => min = Some(number(value, "min")?),
                        "max" => max = Some(number(value, "max")?),
                        _ => {
                            return Err(serde::de::Error::custom(format!(
                                "a range has min and max, not {name}"
                            )))
                        }
                    }
                }
                Ok(Test::Range { min, max })
            }
            Value::Array(list) => Ok(Test::AnyOf(list)),
            value => Ok(Test::Is(value)),
        }
    }
}

/// `weight` is added to the model's score of every item matching all of `when`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Boost {
    pub when: BTreeMap<String, Test>,
    pub weight: f32,
}

/// Item `id` at `position` (0 = first), if it passes the filters.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    pub id: String,
    pub position: usize,
}

#[derive(Debug, Error, PartialEq)]
pub enum RulesError {
    #[error("rules: {0}")]
    Invalid(String),
    #[error("rules: unknown category {name:?}")]
    UnknownCategory { name: String },
    #[error("rules: pinned item {id:?} is not in the catalog")]
    UnknownPin { id: String },
}

/// Rules resolved against one catalog: what the scan needs per row.
#[derive(Debug, Default)]
pub struct Compiled {
    /// Rows that may be ranked (None: all).
    pub allowed: Option<Vec<bool>>,
    /// Added to each row's score (None: nothing).
    pub bonus: Option<Vec<f32>>,
    /// (row, position), by position.
    pub pins: Vec<(usize, usize)>,
}

impl Compiled {
    pub fn allows(&self, row: usize) -> bool {
        self.allowed.as_ref().is_none_or(|allowed| allowed[row])
    }
}

impl Rules {
    /// Whether there are no rules at all.
    pub fn is_empty(&self) -> bool {
        self.filter.is_empty()
            && self.exclude.is_empty()
            && self.boost.is_empty()
            && self.pin.is_empty()
            && self.overrides.is_empty()
    }

    /// Checks the rules and resolves them against `catalog`, one pass over its rows.
    pub fn compile(&self, catalog: &Catalog) -> Result<Compiled, RulesError> {
        self.check(catalog)?;
        let rows = catalog.len();
        // Overrides by row, once: every test of every row reads them.
        let overridden: HashMap<usize, &BTreeMap<String, Value>> =
            self.overrides.iter().filter_map(|(id, fields)| Some((catalog.index_of(id)?, fields))).collect();
        let mut compiled = Compiled::default();
        if !self.filter.is_empty() || !self.exclude.is_empty() {
            let checks = resolve(&self.filter, catalog);
            let mut allowed: Vec<bool> =
                (0..rows).map(|row| holds(&checks, &overridden, catalog, row)).collect();
            for id in &self.exclude {
                if let Some(row) = catalog.index_of(id) {
                    allowed[row] = false;
                }
            }
            compiled.allowed = Some(allowed);
        }
        if !self.boost.is_empty() {
            let boosts: Vec<(Vec<Check>, f32)> =
                self.boost.iter().map(|b| (resolve(&b.when, catalog), b.weight)).collect();
            let bonus = (0..rows)
                .map(|row| {
                    boosts
                        .iter()
                        .filter(|(checks, _)| holds(checks, &overridden, catalog, row))
                        .map(|(_, w)| w)
                        .sum()
                })
                .collect();
            compiled.bonus = Some(bonus);
        }
        let mut pins: Vec<(usize, usize)> = Vec::new();
        for pin in &self.pin {
            let row =
                catalog.index_of(&pin.id).ok_or_else(|| RulesError::UnknownPin { id: pin.id.clone() })?;
            // An item pinned twice keeps its first position.
            if compiled.allows(row) && !pins.iter().any(|&(r, _)| r == row) {
                pins.push((row, pin.position));
            }
        }
        pins.sort_by_key(|&(_, position)| position);
        compiled.pins = pins;
        Ok(compiled)
    }

    fn check(&self, catalog: &Catalog) -> Result<(), RulesError> {
        let invalid = |message: String| Err(RulesError::Invalid(message));
        let tests = self.filter.iter().chain(self.boost.iter().flat_map(|b| b.when.iter()));
        let mut values = self.exclude.len()
            + self.boost.len()
            + self.pin.len()
            + self.overrides.values().map(|fields| 1 + fields.len()).sum::<usize>();
        if let Some((id, field, value)) = self
            .overrides
            .iter()
            .flat_map(|(id, fields)| fields.iter().map(move |(field, value)| (id, field, value)))
            .find(|(_, field, value)| !is_scalar(value) || *field == "id" || *field == "category")
        {
            return invalid(format!(
                "override {field} = {value} of {id:?}: only attributes, as text, number or true/false"
            ));
        }
        for (field, test) in tests {
            values += 1;
            match test {
                Test::Range { min, max } => {
                    if field == "id" || field == "category" {
                        return invalid(format!("{field} takes a value or a list of values, not a range"));
                    }
                    if min.is_none() && max.is_none() {
                        return invalid(format!("the range of {field} needs min, max or both"));
                    }
                    if let (Some(min), Some(max)) = (min, max) {
                        if min > max {
                            return invalid(format!("the range of {field} has min {min} > max {max}"));
                        }
                    }
                }
                Test::AnyOf(list) => {
                    values += list.len();
                    if let Some(bad) = list.iter().find(|v| !is_scalar(v)) {
                        return invalid(format!("{field}: {bad} is not a text, number or true/false"));
                    }
                }
                Test::Is(value) if !is_scalar(value) => {
                    return invalid(format!(
                        "{field}: {value} is not a text, number, true/false, list or range"
                    ));
                }
                Test::Is(_) => {}
            }
            if field == "category" {
                for name in test_values(test) {
                    let known = name.as_str().is_some_and(|name| catalog.members_of(name).is_some());
                    if !known {
                        return Err(RulesError::UnknownCategory {
                            name: name.to_string().trim_matches('"').into(),
                        });
                    }
                }
            }
        }
        if values > MAX_RULE_VALUES {
            return invalid(format!("{values} values in all, more than {MAX_RULE_VALUES}"));
        }
        if let Some(boost) = self.boost.iter().find(|b| !b.weight.is_finite()) {
            return invalid(format!("boost weight {} is not a finite number", boost.weight));
        }
        Ok(())
    }
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

fn test_values(test: &Test) -> &[Value] {
    match test {
        Test::AnyOf(list) => list,
        Test::Is(value) => std::slice::from_ref(value),
        Test::Range { .. } => &[],
    }
}

/// A test resolved against one catalog: `id` and `category` tests become a
/// row mask once, so rows are not compared as text.
enum Check<'a> {
    Rows(Vec<bool>),
    Attribute { name: &'a str, test: &'a Test },
}

fn resolve<'a>(tests: &'a BTreeMap<String, Test>, catalog: &Catalog) -> Vec<Check<'a>> {
    tests
        .iter()
        .map(|(field, test)| {
            let names = test_values(test).iter().filter_map(Value::as_str);
            let rows: Vec<usize> = match field.as_str() {
                "id" => names.filter_map(|id| catalog.index_of(id)).collect(),
                "category" => {
                    names.filter_map(|name| catalog.members_of(name)).flat_map(|m| m.rows()).collect()
                }
                name => return Check::Attribute { name, test },
            };
            let mut mask = vec![false; catalog.len()];
            rows.into_iter().for_each(|row| mask[row] = true);
            Check::Rows(mask)
        })
        .collect()
}

/// Whether every check holds for catalog row `row`, attributes read through its overrides.
fn holds(
    checks: &[Check],
    overridden: &HashMap<usize, &BTreeMap<String, Value>>,
    catalog: &Catalog,
    row: usize,
) -> bool {
    checks.iter().all(|check| match check {
        Check::Rows(mask) => mask[row],
        Check::Attribute { name, test } => overridden
            .get(&row)
            .and_then(|fields| fields.get(*name))
            .or_else(|| catalog.item(row).attributes.get(*name))
            .is_some_and(|value| matches(test, value)),
    })
}

fn matches(test: &Test, value: &Value) -> bool {
    match test {
        Test::Range { min, max } => {
            value.as_f64().is_some_and(|v| min.is_none_or(|min| v >= min) && max.is_none_or(|max| v <= max))
        }
        _ => test_values(test).iter().any(|wanted| same(wanted, value)),
    }
}

/// Equal as text, as true/false, or as numbers (1 and 1.0 are the same price).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}
