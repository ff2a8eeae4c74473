//! Mapping files as written by people: canonical fields from source columns through steps and
//! validations (raw TOML, stage one). `crate::mapping` compiles them into a plan.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A mapping file: lookups, filters, one or more entities, and fixture tests.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// Version of this mapping, recorded with every run and shown by `opsync explain`.
    #[serde(default)]
    pub version: Option<String>,
    /// What the mapping does, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// Crosswalk tables by name.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, LookupConfig>")]
    pub lookups: BTreeMap<String, Spanned<LookupConfig>>,
    /// Source columns masked wherever raw values are logged or stored.
    #[serde(default)]
    pub sensitive_columns: Vec<String>,
    /// Row filters applied before any entity is mapped.
    #[serde(default)]
    #[schemars(with = "Vec<Filter>")]
    pub filter: Vec<Spanned<Filter>>,
    /// The canonical entities each source row makes; see `[[entity]]`.
    #[serde(default, rename = "entity")]
    pub entities: Vec<EntityMapping>,
    /// Fixture cases `opsync test` runs; see `[[test]]`.
    #[serde(default, rename = "test")]
    pub tests: Vec<TestCase>,
}

/// A crosswalk CSV: one column of keys, one (or more) of values.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupConfig {
    /// CSV file relative to the mapping file.
    pub path: String,
    /// Column holding the source codes.
    pub key: String,
    /// Column holding the canonical value.
    pub value: String,
    /// Compare keys ignoring case and surrounding spaces.
    #[serde(default)]
    pub case_insensitive: bool,
}

/// Skip a row by a condition (an expression over `row`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Skip the row when this expression is true.
    #[serde(default)]
    pub skip_if: Option<String>,
    /// Keep only rows for which this expression is true.
    #[serde(default)]
    pub keep_if: Option<String>,
}

/// How one canonical entity is made from a source row.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityMapping {
    /// Canonical entity name (`opsync schema` lists them).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Produce this entity only for rows passing these filters.
    #[serde(default)]
    #[schemars(with = "Vec<Filter>")]
    pub filter: Vec<Spanned<Filter>>,
    /// Canonical field name -> how to fill it.
    #[schemars(with = "BTreeMap<String, FieldMapping>")]
    pub fields: BTreeMap<Spanned<String>, Spanned<FieldMapping>>,
    /// Record-level (cross-field) rules.
    #[serde(default)]
    #[schemars(with = "Vec<RecordRule>")]
    pub rules: Vec<Spanned<RecordRule>>,
    /// What to do with this record when its parent from the same row (a purchase order for its
    /// line) is rejected: reject it too (the default), or load it anyway.
    #[serde(default)]
    #[schemars(with = "Option<OnParentReject>")]
    pub on_parent_reject: Option<Spanned<OnParentReject>>,
}

/// What a dependent record does when its parent in the same row is rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnParentReject {
    /// Reject it too, its reason naming the parent's (the default).
    #[default]
    Reject,
    /// Load it even though its parent was not loaded.
    Load,
}

/// What a field does when its JSONPath matches several values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Multiple {
    /// Reject the record, naming the path and how many values matched (the default).
    #[default]
    Reject,
    /// Keep the first value in document order.
    First,
    /// Join the values with `separator`, skipping empty ones.
    Join,
}

/// How one canonical field gets its value.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    /// Source column by header name, or a JSONPath (`$.product.id`) for JSON sources. A name the
    /// header holds twice is refused: its second column is `Name (2)` (as `opsync extract` and
    /// `opsync inspect` show it), and its first is read with `from_index`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub from: Option<Spanned<String>>,
    /// Source column by 0-based position.
    #[serde(default)]
    pub from_index: Option<usize>,
    /// A fixed value: any TOML scalar (string, integer, float, boolean, date), checked against
    /// the field's type when the mapping is compiled. Floats are read from their text as written,
    /// never through a binary float.
    #[serde(default, rename = "const")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub constant: Option<Spanned<toml::Value>>,
    /// An expression over `row` (the source columns).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub expr: Option<Spanned<String>>,
    /// Steps applied in order to the value.
    #[serde(default)]
    #[schemars(with = "Vec<Step>")]
    pub steps: Vec<Spanned<Step>>,
    /// Checks on the final value; a failure rejects the record.
    #[serde(default)]
    #[schemars(with = "Vec<Validation>")]
    pub validate: Vec<Spanned<Validation>>,
    /// Mask the source column in rejects and logs.
    #[serde(default)]
    pub sensitive: bool,
    /// JSON sources: what to do when the `from` path matches several values (`reject`, `first`
    /// or `join`).
    #[serde(default)]
    #[schemars(with = "Option<Multiple>")]
    pub multiple: Option<Spanned<Multiple>>,
    /// The separator of `multiple = "join"`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub separator: Option<Spanned<String>>,
}

/// Letter case for the `case` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Case {
    /// `ABC`.
    Upper,
    /// `abc`.
    Lower,
    /// `Abc Def`.
    Title,
}

/// What a lookup does when the code is not in the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnMiss {
    /// Reject the record (the default).
    #[default]
    Reject,
    /// Keep the source value unchanged.
    Keep,
    /// Use `default`.
    Default,
}

fn one() -> usize {
    1
}

/// One transformation of a field value.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Remove leading and trailing white space.
    Trim,
    /// Change letter case.
    Case {
        /// `upper`, `lower` or `title` (each word capitalised).
        to: Case,
    },
    /// Use this value when the value is empty.
    Default {
        /// The value, as text (converted to the field's type like any other).
        value: String,
    },
    /// Replace every match of a regular expression.
    Replace {
        /// Regular expression (Rust `regex` syntax; backslashes doubled in TOML basic strings).
        pattern: String,
        /// Replacement text; `$1` inserts a capture group.
        with: String,
    },
    /// Keep one capture group of a regular expression (empty when it does not match).
    RegexExtract {
        /// Regular expression with at least one capture group.
        pattern: String,
        /// The capture group to keep (0 is the whole match).
        #[serde(default = "one")]
        group: usize,
    },
    /// Split on a separator and keep one part (0-based; negative counts from the end).
    Split {
        /// The text between parts.
        separator: String,
        /// Which part: 0 is the first, -1 the last.
        index: i64,
    },
    /// Join the value and more source columns with a separator, skipping empty ones.
    Concat {
        /// Source columns appended after the value, in order.
        columns: Vec<String>,
        /// Text put between the non-empty parts.
        #[serde(default)]
        separator: String,
    },
    /// The first non-empty of the value and these source columns.
    Coalesce {
        /// Source columns tried in order when the value is empty.
        columns: Vec<String>,
    },
    /// Replace whole values by a small inline table; others pass unchanged.
    Map {
        /// Source value -> replacement, e.g. `{ "TRUE" = "active" }`.
        values: BTreeMap<String, String>,
    },
    /// Parse a date or timestamp with the first format that fits (chrono `strftime` syntax),
    /// tried in the order listed: put the most specific first (`%y` before `%Y`).
    ///
    /// A date field keeps the calendar day as written, whatever `utc_offset` says: `2024-03-01`
    /// stays 2024-03-01, and so does `2024-03-01 23:30` or `2024-03-01T23:30:00-05:00` (the time
    /// is dropped, never converted). The offset applies to timestamp fields only: a time without
    /// an offset is read in `utc_offset` and converted to UTC, and a date alone given to a
    /// timestamp field is that day's local midnight, so `2024-03-01` at `+01:00` is the instant
    /// 2024-02-29T23:00:00Z. An Excel serial with a fraction of a day is a local date and time
    /// like any other.
    ParseDate {
        /// chrono formats tried in order, e.g. `["%d.%m.%Y", "%Y-%m-%d %H:%M"]`.
        formats: Vec<String>,
        /// Also accept Excel serial day numbers (1 = 1900-01-01, as Excel counts; 60, Lotus
        /// 1-2-3's 1900-02-29, is refused).
        #[serde(default)]
        excel_serial: bool,
        /// UTC offset of timestamps without one, like `+01:00` (UTC when absent).
        #[serde(default)]
        utc_offset: Option<String>,
    },
    /// Parse a decimal: currency symbols and codes, thousands separators between groups of
    /// three digits, decimal comma, `(12.00)` and `12.00-` negatives, exponents. Anything that
    /// could be read two ways is refused, never guessed.
    ToDecimal {
        /// `,` is the decimal separator and `.` (or a space or `'`) groups thousands.
        #[serde(default)]
        decimal_comma: bool,
        /// Round the parsed value, as the `round` step does.
        #[serde(default)]
        round: Option<Rounding>,
    },
    /// Parse a whole number (`1,234` and `12.0` are whole; `12.5` is refused).
    ToInteger {
        /// `.` (or a space or `'`) groups thousands, as in `to_decimal`.
        #[serde(default)]
        decimal_comma: bool,
    },
    /// Round a decimal to `scale` places by `mode`; integers pass unchanged.
    Round {
        /// Decimal places to keep.
        scale: u32,
        /// How to round.
        mode: RoundMode,
    },
    /// Parse yes/no values (TRUE/true/yes/Y/1, FALSE/false/no/N/0, and any listed here).
    ToBoolean {
        /// More texts read as true (compared ignoring case).
        #[serde(default)]
        true_values: Vec<String>,
        /// More texts read as false (compared ignoring case).
        #[serde(default)]
        false_values: Vec<String>,
    },
    /// Translate a code through a crosswalk table.
    Lookup {
        /// A table of `[lookups]`.
        table: String,
        /// What to do with a code missing from the table.
        #[serde(default)]
        on_miss: OnMiss,
        /// The value used when `on_miss = "default"`.
        #[serde(default)]
        default: Option<String>,
    },
    /// Multiply a quantity or divide a price by the pack factor of the row's unit of measure.
    UomConvert {
        /// Source column holding the unit the value is expressed in.
        uom_column: String,
        /// Lookup table from unit to units-of-each (e.g. BX -> 10).
        factors: String,
        /// `quantity` multiplies by the factor, `price` divides by it.
        #[serde(default)]
        apply_to: UomApply,
    },
    /// Compute the value with an expression over `value` and `row`.
    Expr {
        /// The expression; its result is the new value (`()` for none).
        expr: String,
    },
}

/// A rounding: to `scale` decimal places by `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rounding {
    /// Decimal places to keep.
    pub scale: u32,
    /// How to round.
    pub mode: RoundMode,
}

/// How a value halfway between two others (or any value, for the directed modes) is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoundMode {
    /// Halves away from zero: 2.5 -> 3, -2.5 -> -3 (what Excel's ROUND does).
    HalfUp,
    /// Halves to the even neighbour (banker's rounding): 2.5 -> 2, 3.5 -> 4.
    HalfEven,
    /// Halves toward zero: 2.5 -> 2, -2.5 -> -2.
    HalfDown,
    /// Away from zero: 2.1 -> 3, -2.1 -> -3.
    Up,
    /// Toward zero (truncate): 2.9 -> 2, -2.9 -> -2.
    Down,
    /// Toward positive infinity: 2.1 -> 3, -2.9 -> -2.
    Ceiling,
    /// Toward negative infinity: 2.9 -> 2, -2.1 -> -3.
    Floor,
}

/// How a unit-of-measure factor applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UomApply {
    /// Multiply by the factor (2 boxes of 10 -> 20 each).
    #[default]
    Quantity,
    /// Divide by the factor (a box at 25.00 -> 2.50 each).
    Price,
}

impl Step {
    /// The name written after `step =`.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Trim => "trim",
            Step::Case { .. } => "case",
            Step::Default { .. } => "default",
            Step::Replace { .. } => "replace",
            Step::RegexExtract { .. } => "regex_extract",
            Step::Split { .. } => "split",
            Step::Concat { .. } => "concat",
            Step::Coalesce { .. } => "coalesce",
            Step::Map { .. } => "map",
            Step::ParseDate { .. } => "parse_date",
            Step::ToDecimal { .. } => "to_decimal",
            Step::ToInteger { .. } => "to_integer",
            Step::Round { .. } => "round",
            Step::ToBoolean { .. } => "to_boolean",
            Step::Lookup { .. } => "lookup",
            Step::UomConvert { .. } => "uom_convert",
            Step::Expr { .. } => "expr",
        }
    }
}

/// A check on a field's final value.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum Validation {
    /// The field must have a value (key fields and the model's required fields always must).
    Required,
    /// The value, as text, must match a regular expression (anchor it with `^...$` to match whole).
    Pattern {
        /// Regular expression (Rust `regex` syntax).
        regex: String,
    },
    /// The value must be one of a list (compared exactly).
    OneOf {
        /// The allowed values.
        values: Vec<String>,
    },
    /// A number within bounds, both included.
    Range {
        /// Smallest allowed value.
        #[serde(default)]
        min: Option<Decimal>,
        /// Largest allowed value.
        #[serde(default)]
        max: Option<Decimal>,
    },
    /// Text of at most this many characters.
    MaxLength {
        /// The most characters allowed.
        max: usize,
    },
    /// GS1 GTIN-8/12/13/14 with a valid check digit.
    Gtin,
    /// A date or timestamp not after today.
    NotFuture,
}

impl Validation {
    /// The name written after `rule =`.
    pub fn name(&self) -> &'static str {
        match self {
            Validation::Required => "required",
            Validation::Pattern { .. } => "pattern",
            Validation::OneOf { .. } => "one_of",
            Validation::Range { .. } => "range",
            Validation::MaxLength { .. } => "max_length",
            Validation::Gtin => "gtin",
            Validation::NotFuture => "not_future",
        }
    }
}

/// A cross-field rule: an expression over `record` that must be true.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRule {
    /// The rule's name, reported as the reject's rule.
    pub name: String,
    /// An expression over `record` (and `row`) that must be true.
    pub expr: String,
    /// The reject's message (the expression when absent).
    #[serde(default)]
    pub message: Option<String>,
}

/// A fixture case: input rows, the records and rejects they must produce.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the case shows; reported by `opsync test`.
    pub name: String,
    /// Source rows: column name -> value.
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub input: Vec<toml::Table>,
    /// Expected records: `entity = "item"` plus the fields to compare, in output order; an
    /// entity not named is not compared, and `expect = []` means no record at all.
    #[serde(default)]
    #[schemars(with = "Option<Vec<serde_json::Map<String, serde_json::Value>>>")]
    pub expect: Option<Vec<toml::Table>>,
    /// Expected rejects (none when absent).
    #[serde(default)]
    pub expect_rejects: Vec<ExpectedReject>,
}

/// What a fixture case expects of one reject.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedReject {
    /// 1-based input row.
    #[serde(default)]
    pub row: Option<u64>,
    /// The rejected record's entity.
    #[serde(default)]
    pub entity: Option<String>,
    /// The field named by the reason (`*` for a record rule).
    #[serde(default)]
    pub field: Option<String>,
    /// The rule or step that failed (`required`, `range`, `lookup`, `decimal`, ...).
    #[serde(default)]
    pub rule: Option<String>,
}
