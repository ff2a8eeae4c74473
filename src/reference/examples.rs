//! The examples of the reference. Each mapping example is a whole mapping file with a fixture
//! case, so the test that checks the reference (`tests/regression/config.rs`) compiles it and
//! runs its case: an example cannot show what opsync does not do. Source and target examples are
//! the `[source]` / `[target]` table of a job; the check completes them into a job.

/// A whole job, with its mapping inline.
pub const JOB: &str = r#"[job]
name = "erp-suppliers"            # the ledger and the job's lock know it by this name
mode = "snapshot"                 # the extract is complete: keys missing from it are marked deleted
max_reject_percent = 15           # more rows with a rejected record than this: exit 3

[source]
kind = "csv"
path = "exports/suppliers_*.csv"  # relative to this file; a glob reads every match
delimiter = ";"
encoding = "windows-1252"

[target]
kind = "sqlite"
path = "out/erp.db"

# The mapping, inline; or `mapping = "suppliers.mapping.toml"` before the first table.
[[entity]]
name = "supplier"

[entity.fields]
supplier_id = { from = "Vendor No", steps = [{ step = "trim" }] }
name = { from = "Vendor Name", steps = [{ step = "trim" }] }
"#;

/// A whole mapping file.
pub const MAPPING: &str = r#"version = "2024.06"
description = "OpenBoxes products to the item master"
sensitive_columns = ["Buyer email"]

[lookups.uom]
path = "uom.csv"                  # relative to this file
key = "source_uom"
value = "uom"
case_insensitive = true

[[filter]]
skip_if = 'row["ProductCode"] == "" && row["Name"] == ""'

[[entity]]
name = "item"

[entity.fields.item_id]
from = "ProductCode"
steps = [{ step = "trim" }, { step = "case", to = "upper" }]
validate = [{ rule = "max_length", max = 20 }]

[entity.fields.description]
from = "Name"

[entity.fields.uom]
from = "UnitOfMeasure"
steps = [{ step = "lookup", table = "uom" }]

[entity.fields.unit_cost]
from = "UnitCost"
steps = [{ step = "to_decimal" }]
validate = [{ rule = "range", min = 0 }]

[[entity.rules]]
name = "costed_items_have_a_unit"
expr = 'record.unit_cost == () || record.uom != ()'
message = "an item with a cost needs a unit of measure"

[[test]]
name = "codes are trimmed and upper-cased, units translated"
input = [{ ProductCode = " ab12 ", Name = "Gauze swab", UnitOfMeasure = "each", UnitCost = "0.25" }]
expect = [{ entity = "item", item_id = "AB12", uom = "EA", unit_cost = "0.25" }]

[[test]]
name = "a negative cost is a reject; a blank row is skipped"
input = [
  { ProductCode = "AB13", Name = "Tape", UnitOfMeasure = "Each", UnitCost = "-1" },
  { ProductCode = "", Name = "" },
]
expect_rejects = [{ row = 1, field = "unit_cost", rule = "range" }]
"#;

/// The crosswalk files the mapping examples name, shown beside them.
pub const LOOKUP_FILES: &[(&str, &str)] = &[
    ("uom.csv", "source_uom,uom\nEach,EA\nBox,BX\nCase,CS\n"),
    ("uom_factors.csv", "uom,each\nEA,1\nBX,10\nCS,120\n"),
];

/// The project file.
pub const PROJECT: &str = r#"[project]
ledger = "state/opsync.db"        # relative to this file
"#;

/// One `[source]` table per source kind.
pub const SOURCES: &[(&str, &str)] = &[
    (
        "csv",
        r#"[source]
kind = "csv"
path = "exports/items.csv"
delimiter = ";"
encoding = "windows-1252"
skip_rows = 2                     # a title line and a blank line above the header
"#,
    ),
    (
        "fixed_width",
        r#"[source]
kind = "fixed_width"
path = "legacy/COSTCTR.TXT"
encoding = "iso-8859-1"
columns = [
  { name = "code", start = 1, length = 6 },
  { name = "name", start = 7, length = 30 },
]
"#,
    ),
    (
        "excel",
        r#"[source]
kind = "excel"
path = "purchasing/po_lines.xlsx"
sheet = "Lines"                   # or its 0-based position: sheet = 1
header_row = 3
"#,
    ),
    (
        "json",
        r#"[source]
kind = "json"
path = "api/products.json"
records = "$.data[*]"
"#,
    ),
    (
        "jsonl",
        r#"[source]
kind = "jsonl"
path = "api/products.jsonl"
"#,
    ),
];

/// One `[target]` table per target kind.
pub const TARGETS: &[(&str, &str)] = &[
    (
        "sqlite",
        r#"[target]
kind = "sqlite"
path = "out/opsync.db"
batch_size = 5000
"#,
    ),
    (
        "csv",
        r#"[target]
kind = "csv"
dir = "out/erp-import"            # item.csv, supplier.csv, ...
"#,
    ),
    (
        "jsonl",
        r#"[target]
kind = "jsonl"
dir = "out/feed"                  # item.jsonl, supplier.jsonl, ...
"#,
    ),
];

/// One whole mapping per step, with a case that shows what it does.
pub const STEPS: &[(&str, &str)] = &[
    (
        "trim",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code", steps = [{ step = "trim" }] }
description = { from = "Name" }

[[test]]
name = "spaces around the code are removed"
input = [{ Code = "  AB12 ", Name = "Gauze" }]
expect = [{ entity = "item", item_id = "AB12" }]
"#,
    ),
    (
        "case",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code", steps = [{ step = "case", to = "upper" }] }
description = { from = "Name", steps = [{ step = "case", to = "title" }] }

[[test]]
name = "upper-case codes, title-case names"
input = [{ Code = "ab12", Name = "GAUZE SWAB" }]
expect = [{ entity = "item", item_id = "AB12", description = "Gauze Swab" }]
"#,
    ),
    (
        "default",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
uom = { from = "Unit", steps = [{ step = "default", value = "EA" }] }

[[test]]
name = "a blank unit becomes EA"
input = [{ Code = "AB12", Name = "Gauze", Unit = "" }]
expect = [{ entity = "item", uom = "EA" }]
"#,
    ),
    (
        "replace",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
gtin = { from = "UPC", steps = [{ step = "replace", pattern = "[\\s'-]", with = "" }] }

[[test]]
name = "spaces, dashes and a leading apostrophe are removed"
input = [{ Code = "AB12", Name = "Gauze", UPC = "'00363-451200154" }]
expect = [{ entity = "item", gtin = "00363451200154" }]
"#,
    ),
    (
        "regex_extract",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
manufacturer_part_no = { from = "Name", steps = [{ step = "regex_extract", pattern = "\\(([A-Z0-9-]+)\\)$", group = 1 }] }

[[test]]
name = "the catalogue number in brackets"
input = [{ Code = "AB12", Name = "Gauze swab (GZ-1010)" }]
expect = [{ entity = "item", manufacturer_part_no = "GZ-1010" }]
"#,
    ),
    (
        "split",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
category = { from = "Path", steps = [{ step = "split", separator = "/", index = -1 }] }

[[test]]
name = "the last part of a category path"
input = [{ Code = "AB12", Name = "Gauze", Path = "Medical/Wound care/Dressings" }]
expect = [{ entity = "item", category = "Dressings" }]
"#,
    ),
    (
        "concat",
        r#"[[entity]]
name = "supplier"

[entity.fields]
supplier_id = { from = "Vendor" }
name = { from = "Name", steps = [{ step = "concat", columns = ["Name 2"], separator = " " }] }

[[test]]
name = "the second name line is appended when there is one"
input = [{ Vendor = "V1", Name = "Müller", "Name 2" = "Medizintechnik" }, { Vendor = "V2", Name = "Carewell", "Name 2" = "" }]
expect = [{ entity = "supplier", name = "Müller Medizintechnik" }, { entity = "supplier", name = "Carewell" }]
"#,
    ),
    (
        "coalesce",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
manufacturer = { from = "Manufacturer", steps = [{ step = "coalesce", columns = ["Brand"] }] }

[[test]]
name = "the brand when the manufacturer is blank"
input = [{ Code = "AB12", Name = "Gauze", Manufacturer = "", Brand = "Northfield" }]
expect = [{ entity = "item", manufacturer = "Northfield" }]
"#,
    ),
    (
        "map",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
status = { from = "Active", steps = [{ step = "map", values = { "TRUE" = "active", "FALSE" = "inactive" } }] }

[[test]]
name = "TRUE and FALSE become the model's codes"
input = [{ Code = "AB12", Name = "Gauze", Active = "FALSE" }]
expect = [{ entity = "item", status = "inactive" }]
"#,
    ),
    (
        "parse_date",
        r#"[[entity]]
name = "work_order"

[entity.fields]
work_order_id = { from = "WO" }
type = { const = "corrective" }
opened_at = { from = "Opened", steps = [{ step = "parse_date", formats = ["%d/%m/%Y %H:%M"], utc_offset = "+01:00" }] }
completed_at = { from = "Closed", steps = [{ step = "parse_date", formats = ["%Y-%m-%d"], excel_serial = true }] }

[[test]]
name = "local time to UTC; an Excel serial day"
input = [{ WO = "WO-1", Opened = "01/03/2024 08:30", Closed = "45352" }]
expect = [{ entity = "work_order", opened_at = "2024-03-01T07:30:00Z", completed_at = "2024-03-01T00:00:00Z" }]
"#,
    ),
    (
        "to_decimal",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
unit_cost = { from = "Cost", steps = [{ step = "to_decimal", decimal_comma = true }] }

[[test]]
name = "a decimal comma with a thousands point; an ambiguous value is a reject"
input = [{ Code = "AB12", Name = "Pump", Cost = "1.234,50 €" }, { Code = "AB13", Name = "Tape", Cost = "1.5" }]
expect = [{ entity = "item", unit_cost = "1234.5" }]
expect_rejects = [{ row = 2, field = "unit_cost", rule = "decimal" }]
"#,
    ),
    (
        "to_integer",
        r#"[[entity]]
name = "asset"

[entity.fields]
asset_id = { from = "Tag" }
description = { from = "Name" }
useful_life_months = { from = "Life", steps = [{ step = "to_integer" }] }

[[test]]
name = "a grouped whole number"
input = [{ Tag = "A-1", Name = "Infusion pump", Life = "1,200" }]
expect = [{ entity = "asset", useful_life_months = 1200 }]
"#,
    ),
    (
        "round",
        r#"[[entity]]
name = "asset"

[entity.fields]
asset_id = { from = "Tag" }
description = { from = "Name" }
acquisition_cost = { from = "Cost", steps = [{ step = "to_decimal" }, { step = "round", scale = 2, mode = "half_up" }] }

[[test]]
name = "a spreadsheet's computed cost, rounded to cents"
input = [{ Tag = "A-1", Name = "Infusion pump", Cost = "1234.56789" }]
expect = [{ entity = "asset", acquisition_cost = "1234.57" }]
"#,
    ),
    (
        "to_boolean",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
sterile = { from = "Sterile", steps = [{ step = "to_boolean", true_values = ["S"], false_values = ["NS"] }] }

[[test]]
name = "a system's own yes and no"
input = [{ Code = "AB12", Name = "Gauze", Sterile = "S" }]
expect = [{ entity = "item", sterile = true }]
"#,
    ),
    (
        "lookup",
        r#"[lookups.uom]
path = "uom.csv"
key = "source_uom"
value = "uom"
case_insensitive = true

[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
uom = { from = "Unit", steps = [{ step = "lookup", table = "uom", on_miss = "reject" }] }

[[test]]
name = "a unit from the crosswalk; a unit missing from it is a reject"
input = [{ Code = "AB12", Name = "Gauze", Unit = "box" }, { Code = "AB13", Name = "Tape", Unit = "Roll" }]
expect = [{ entity = "item", uom = "BX" }]
expect_rejects = [{ row = 2, field = "uom", rule = "lookup" }]
"#,
    ),
    (
        "uom_convert",
        r#"[lookups.factors]
path = "uom_factors.csv"
key = "uom"
value = "each"

[[entity]]
name = "purchase_order_line"

[entity.fields]
po_number = { from = "PO" }
line_no = { from = "Line", steps = [{ step = "to_integer" }] }
item_id = { from = "Item" }
quantity = { from = "Qty", steps = [{ step = "to_decimal" }, { step = "uom_convert", uom_column = "Unit", factors = "factors" }] }
unit_price = { from = "Price", steps = [{ step = "to_decimal" }, { step = "uom_convert", uom_column = "Unit", factors = "factors", apply_to = "price" }] }
uom = { const = "EA" }

[[test]]
name = "two boxes of ten are twenty each, at a tenth of the box price"
input = [{ PO = "PO-1", Line = "1", Item = "AB12", Qty = "2", Unit = "BX", Price = "25.00" }]
expect = [{ entity = "purchase_order_line", quantity = "20", unit_price = "2.5" }]
"#,
    ),
    (
        "expr",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name", steps = [{ step = "expr", expr = 'if row["Size"] == "" { value } else { value + ", " + row["Size"] }' }] }

[[test]]
name = "the size appended to the name"
input = [{ Code = "AB12", Name = "Glove, nitrile", Size = "M" }]
expect = [{ entity = "item", description = "Glove, nitrile, M" }]
"#,
    ),
];

/// One whole mapping per validation rule, with a case that passes and one that is rejected.
pub const RULES: &[(&str, &str)] = &[
    (
        "required",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
uom = { from = "Unit", validate = [{ rule = "required" }] }

[[test]]
name = "an optional field made required by this mapping"
input = [{ Code = "AB12", Name = "Gauze", Unit = "EA" }, { Code = "AB13", Name = "Tape", Unit = "" }]
expect = [{ entity = "item", item_id = "AB12" }]
expect_rejects = [{ row = 2, field = "uom", rule = "required" }]
"#,
    ),
    (
        "pattern",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code", validate = [{ rule = "pattern", regex = "^[A-Z]{2}[0-9]{3}$" }] }
description = { from = "Name" }

[[test]]
name = "two letters and three digits"
input = [{ Code = "AB123", Name = "Gauze" }, { Code = "AB-12", Name = "Tape" }]
expect = [{ entity = "item", item_id = "AB123" }]
expect_rejects = [{ row = 2, field = "item_id", rule = "pattern" }]
"#,
    ),
    (
        "one_of",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
category = { from = "Category", validate = [{ rule = "one_of", values = ["Drugs", "Supplies"] }] }

[[test]]
name = "a category from the list"
input = [{ Code = "AB12", Name = "Gauze", Category = "Supplies" }, { Code = "AB13", Name = "Tape", Category = "Misc" }]
expect = [{ entity = "item", category = "Supplies" }]
expect_rejects = [{ row = 2, field = "category", rule = "one_of" }]
"#,
    ),
    (
        "range",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
unit_cost = { from = "Cost", steps = [{ step = "to_decimal" }], validate = [{ rule = "range", min = 0, max = 10000 }] }

[[test]]
name = "a cost between 0 and 10,000"
input = [{ Code = "AB12", Name = "Gauze", Cost = "0.25" }, { Code = "AB13", Name = "Tape", Cost = "-1" }]
expect = [{ entity = "item", unit_cost = "0.25" }]
expect_rejects = [{ row = 2, field = "unit_cost", rule = "range" }]
"#,
    ),
    (
        "max_length",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code", validate = [{ rule = "max_length", max = 5 }] }
description = { from = "Name" }

[[test]]
name = "codes of at most five characters"
input = [{ Code = "AB12", Name = "Gauze" }, { Code = "AB12345", Name = "Tape" }]
expect = [{ entity = "item", item_id = "AB12" }]
expect_rejects = [{ row = 2, field = "item_id", rule = "max_length" }]
"#,
    ),
    (
        "gtin",
        r#"[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code" }
description = { from = "Name" }
gtin = { from = "UPC", validate = [{ rule = "gtin" }] }

[[test]]
name = "a GTIN-14 with its check digit; a wrong check digit is a reject"
input = [{ Code = "AB12", Name = "Heparin", UPC = "00363451200154" }, { Code = "AB13", Name = "Suture", UPC = "00382736112044" }]
expect = [{ entity = "item", gtin = "00363451200154" }]
expect_rejects = [{ row = 2, field = "gtin", rule = "gtin" }]
"#,
    ),
    (
        "not_future",
        r#"[[entity]]
name = "asset"

[entity.fields]
asset_id = { from = "Tag" }
description = { from = "Name" }
acquisition_date = { from = "Bought", steps = [{ step = "parse_date", formats = ["%Y-%m-%d"] }], validate = [{ rule = "not_future" }] }

[[test]]
name = "a purchase date not after today"
input = [{ Tag = "A-1", Name = "Pump", Bought = "2019-04-01" }, { Tag = "A-2", Name = "Monitor", Bought = "2999-01-01" }]
expect = [{ entity = "asset", acquisition_date = "2019-04-01" }]
expect_rejects = [{ row = 2, field = "acquisition_date", rule = "not_future" }]
"#,
    ),
];

/// The example of a step, a rule, a source kind or a target kind, by its name.
pub fn find(list: &[(&'static str, &'static str)], name: &str) -> Option<&'static str> {
    list.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
