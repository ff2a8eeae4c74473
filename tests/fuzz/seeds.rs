//! The seeds of the fuzz run: the project's own samples with their shipped jobs and mappings,
//! and small generated files (PO lines making two entities with a parent; items with a decimal
//! comma in Windows-1252 or UTF-16) with mappings of their own. Each case lays a seed out in a
//! scratch folder with a variant of its job: upsert or snapshot, a SQLite, CSV or JSON Lines
//! target, batch size and delete guard varied.

use std::path::{Path, PathBuf};

use super::mutate::{Rng, Shape, mutate};

/// The repository's folders a shipped job needs, as (path, bytes), read once.
pub struct Library {
    files: Vec<(String, Vec<u8>)>,
}

impl Library {
    pub fn load() -> Library {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for top in ["mappings", "samples"] {
            collect(root, &root.join(top), &mut files);
        }
        files.sort();
        Library { files }
    }

    fn get(&self, path: &str) -> &[u8] {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.as_slice())
            .unwrap_or_else(|| panic!("{path} is not in the repository"))
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).expect("read the repository") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .expect("inside")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read(&path).expect("read")));
        }
    }
}

/// How a seed's source bytes come about.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// A shipped sample, with its shipped job.
    Shipped,
    /// Generated PO lines: `purchase_order` + `purchase_order_line`, with parents.
    PoLines,
    /// Generated items, `;` and decimal comma, in Windows-1252.
    Items1252,
    /// The same items, `,`, in UTF-16LE with a byte-order mark.
    ItemsUtf16,
}

pub struct Seed {
    pub name: &'static str,
    /// The job file, relative to the scratch folder.
    pub job: &'static str,
    /// The source file the job reads, relative to the scratch folder.
    pub source: &'static str,
    pub shape: Shape,
    pub entities: &'static [&'static str],
    kind: Kind,
}

pub fn all() -> Vec<Seed> {
    let csv = |keys: &[&'static str]| Shape::Csv {
        delimiter: b',',
        keys: keys.to_vec(),
    };
    let shipped = |name, job, source, shape, entities| Seed {
        name,
        job,
        source,
        shape,
        entities,
        kind: Kind::Shipped,
    };
    vec![
        shipped(
            "cmms-work-orders",
            "mappings/cmms/work_orders.job.toml",
            "samples/cmms/work_orders.csv",
            csv(&["ID"]),
            &["work_order"],
        ),
        shipped(
            "erp-suppliers",
            "mappings/erp/suppliers.job.toml",
            "samples/erp/suppliers.csv",
            Shape::Csv {
                delimiter: b';',
                keys: vec!["Vendor No"],
            },
            &["supplier"],
        ),
        shipped(
            "erp-po-lines-workbook",
            "mappings/erp/po_lines.job.toml",
            "samples/erp/po_lines.xlsx",
            Shape::Workbook {
                sheet: "xl/worksheets/sheet2.xml",
            },
            &["purchase_order", "purchase_order_line"],
        ),
        shipped(
            "legacy-cost-centers",
            "mappings/legacy/cost_centers.job.toml",
            "samples/legacy/cost_centers.txt",
            Shape::FixedWidth {
                skip: 4,
                columns: vec![(0, 8), (10, 32), (44, 4), (50, 7)],
            },
            &["cost_center"],
        ),
        shipped(
            "openboxes-inventory",
            "mappings/openboxes/inventory.job.toml",
            "samples/openboxes/inventory.csv",
            csv(&["Product code", "Location", "Lot number"]),
            &["inventory_balance"],
        ),
        shipped(
            "openboxes-locations",
            "mappings/openboxes/locations.job.toml",
            "samples/openboxes/locations.csv",
            csv(&["locationNumber"]),
            &["location"],
        ),
        shipped(
            "openboxes-products",
            "mappings/openboxes/products.job.toml",
            "samples/openboxes/products.csv",
            csv(&["ProductCode"]),
            &["item"],
        ),
        shipped(
            "openboxes-supplier-items",
            "mappings/openboxes/supplier_items.job.toml",
            "samples/openboxes/product_suppliers.csv",
            csv(&["Supplier Name", "Supplier Item No"]),
            &["supplier_item"],
        ),
        shipped(
            "snipeit-assets",
            "mappings/snipeit/assets.job.toml",
            "samples/snipeit/assets.csv",
            csv(&["Asset Tag"]),
            &["asset"],
        ),
        Seed {
            name: "po-lines-csv",
            job: "gen/po.job.toml",
            source: "gen/po_lines.csv",
            shape: csv(&["PO Number", "Line"]),
            entities: &["purchase_order", "purchase_order_line"],
            kind: Kind::PoLines,
        },
        Seed {
            name: "items-windows-1252",
            job: "gen/items.job.toml",
            source: "gen/items.csv",
            shape: Shape::Csv {
                delimiter: b';',
                keys: vec!["Code"],
            },
            entities: &["item"],
            kind: Kind::Items1252,
        },
        Seed {
            name: "items-utf-16",
            job: "gen/items.job.toml",
            source: "gen/items.csv",
            shape: csv(&["Code"]),
            entities: &["item"],
            kind: Kind::ItemsUtf16,
        },
    ]
}

/// Where a case's target lives, and how to count its live records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    Sqlite,
    Csv,
    Jsonl,
}

/// One seed laid out in a scratch folder, ready to be run again and again.
pub struct Laid {
    pub root: PathBuf,
    pub target: TargetKind,
    /// The job variant in words, for findings.
    pub variant: String,
    /// The unmutated source, as the generator or the repository gave it.
    pub original: Vec<u8>,
}

impl Laid {
    /// Live records of `entity` in the target now (0 when it does not exist yet).
    pub fn live(&self, entity: &str) -> Result<u64, String> {
        match self.target {
            TargetKind::Sqlite => {
                let path = self.root.join("target.db");
                if !path.exists() {
                    return Ok(0);
                }
                let conn = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
                let exists: i64 = conn
                    .query_row(
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                        [entity],
                        |r| r.get(0),
                    )
                    .map_err(|e| e.to_string())?;
                if exists == 0 {
                    return Ok(0);
                }
                conn.query_row(
                    &format!("SELECT count(*) FROM \"{entity}\" WHERE _deleted = 0"),
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as u64)
                .map_err(|e| e.to_string())
            }
            TargetKind::Csv => {
                let path = self.root.join("files").join(format!("{entity}.csv"));
                if !path.exists() {
                    return Ok(0);
                }
                let mut reader = csv::Reader::from_path(&path).map_err(|e| e.to_string())?;
                let mut n = 0;
                for r in reader.byte_records() {
                    r.map_err(|e| format!("{}: {e}", path.display()))?;
                    n += 1;
                }
                Ok(n)
            }
            TargetKind::Jsonl => {
                let path = self.root.join("files").join(format!("{entity}.jsonl"));
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                Ok(text.lines().filter(|l| !l.trim().is_empty()).count() as u64)
            }
        }
    }
}

impl Seed {
    /// Lay the seed out under `root` with a job variant drawn from `rng`.
    pub fn lay_out(&self, lib: &Library, root: &Path, rng: &mut Rng) -> Laid {
        let (job_text, original) = match self.kind {
            Kind::Shipped => {
                for (path, bytes) in &lib.files {
                    write(root, path, bytes);
                }
                let job = String::from_utf8(lib.get(self.job).to_vec()).expect("job text");
                (job, lib.get(self.source).to_vec())
            }
            Kind::PoLines => {
                write(root, "gen/uom.csv", UOM.as_bytes());
                write(root, "gen/uom_factors.csv", FACTORS.as_bytes());
                let parent = if rng.chance(1, 2) { "reject" } else { "load" };
                (PO_JOB.replace("{ON_PARENT_REJECT}", parent), po_lines(rng))
            }
            Kind::Items1252 | Kind::ItemsUtf16 => {
                write(root, "gen/uom.csv", UOM.as_bytes());
                let utf16 = matches!(self.kind, Kind::ItemsUtf16);
                let job = if utf16 {
                    ITEMS_JOB.replace("delimiter = \";\"\nencoding = \"windows-1252\"\n", "")
                } else {
                    ITEMS_JOB.to_string()
                };
                (job, items(rng, utf16))
            }
        };
        let target = match rng.below(5) {
            0 => TargetKind::Csv,
            1 => TargetKind::Jsonl,
            _ => TargetKind::Sqlite,
        };
        let (job, variant) = variant_of(&job_text, self.job, target, rng);
        write(root, self.job, job.as_bytes());
        write(root, self.source, &original);
        Laid {
            root: root.to_path_buf(),
            target,
            variant,
            original,
        }
    }

    /// A mutation of the laid-out seed's source: generated seeds are mutated as UTF-8 text and
    /// then encoded, so that mutations aim at fields rather than at code units.
    pub fn mutation(&self, laid: &Laid, rng: &mut Rng) -> (Vec<u8>, String) {
        match self.kind {
            Kind::ItemsUtf16 => {
                let text = decode_utf16(&laid.original);
                let (mutated, mut said) = mutate(rng, text.as_bytes(), &self.shape);
                let mut bytes = encode_utf16(&String::from_utf8_lossy(&mutated));
                if rng.chance(1, 3) {
                    let (b, s) = mutate(rng, &bytes, &Shape::Binary);
                    bytes = b;
                    said = format!("{said}; then as UTF-16 bytes: {s}");
                }
                (bytes, said)
            }
            _ => match self.shape {
                Shape::Workbook { sheet } => super::workbook::mutate_workbook(rng, &laid.original, sheet),
                _ => mutate(rng, &laid.original, &self.shape),
            },
        }
    }
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&path, bytes).expect("write");
}

/// The job text with its mode, guards and target replaced: `[job]`'s own lines are kept but
/// `mode`, and everything from `[target]` on (always the last table of these jobs) is ours.
fn variant_of(text: &str, job_path: &str, target: TargetKind, rng: &mut Rng) -> (String, String) {
    let up = "../".repeat(job_path.matches('/').count());
    let mode = if rng.chance(1, 2) { "snapshot" } else { "upsert" };
    let mut job_lines = vec![format!("mode = \"{mode}\"")];
    let mut said = vec![format!("mode {mode}")];
    if rng.chance(1, 2) {
        job_lines.push("max_delete_percent = 100".into());
        said.push("max_delete_percent 100".into());
    }
    if rng.chance(1, 4) {
        job_lines.push("unkeyed_rejects = \"allow_deletes\"".into());
        said.push("unkeyed_rejects allow_deletes".into());
    }
    let drop_threshold = rng.chance(1, 3);
    if drop_threshold {
        said.push("no max_reject_percent".into());
    }
    let target_text = match target {
        TargetKind::Sqlite => {
            let batch = *rng.pick(&[1usize, 2, 7, 10_000]);
            said.push(format!("sqlite target, batch_size {batch}"));
            format!("[target]\nkind = \"sqlite\"\npath = \"{up}target.db\"\nbatch_size = {batch}\n")
        }
        TargetKind::Csv => {
            said.push("csv target".into());
            format!("[target]\nkind = \"csv\"\ndir = \"{up}files\"\n")
        }
        TargetKind::Jsonl => {
            said.push("jsonl target".into());
            format!("[target]\nkind = \"jsonl\"\ndir = \"{up}files\"\n")
        }
    };
    let mut out = String::new();
    let mut in_job = false;
    for line in text.lines() {
        if line.trim() == "[target]" {
            break;
        }
        if line.starts_with('[') {
            in_job = line.trim() == "[job]";
        }
        if in_job && (line.starts_with("mode ") || (drop_threshold && line.starts_with("max_reject_percent"))) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.trim() == "[job]" {
            for l in &job_lines {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    assert!(
        text.contains("[target]") && text.contains("[job]"),
        "{job_path}: a job with [job] and [target]"
    );
    out.push_str(&target_text);
    // Tables that followed [target] in the text (an inline mapping) are kept after ours.
    if let Some(at) = text.find("[target]") {
        let rest = &text[at..];
        if let Some(next) = rest.find("\n[").map(|i| i + 1) {
            out.push('\n');
            out.push_str(&rest[next..]);
        }
    }
    (out, said.join(", "))
}

const UOM: &str = "source_uom,uom\nEach,EA\nBox,BX\nCase,CS\nEA,EA\nBX,BX\nCS,CS\n";
const FACTORS: &str = "uom,each\nEach,1\nBox,10\nCase,120\n";

const PO_JOB: &str = r#"[job]
name = "po-lines-csv"

[source]
kind = "csv"
path = "po_lines.csv"

[target]
kind = "sqlite"
path = "target.db"

[lookups.uom]
path = "uom.csv"
key = "source_uom"
value = "uom"
case_insensitive = true

[lookups.factors]
path = "uom_factors.csv"
key = "uom"
value = "each"

[[entity]]
name = "purchase_order"

[entity.fields]
po_number = { from = "PO Number", steps = [{ step = "trim" }, { step = "case", to = "upper" }], validate = [{ rule = "pattern", regex = "^PO-[0-9]{4}-[0-9]{5}$" }] }
supplier_id = { from = "Supplier", steps = [{ step = "trim" }], validate = [{ rule = "required" }] }
order_date = { from = "Order Date", steps = [{ step = "parse_date", formats = ["%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S%:z"], excel_serial = true, utc_offset = "+01:00" }] }
status = { from = "PO Status", steps = [{ step = "trim" }, { step = "case", to = "lower" }], validate = [{ rule = "one_of", values = ["draft", "approved", "sent", "received", "closed"] }] }
currency = { from = "Currency", steps = [{ step = "trim" }, { step = "default", value = "USD" }] }

[[entity]]
name = "purchase_order_line"
on_parent_reject = "{ON_PARENT_REJECT}"

[entity.fields]
po_number = { from = "PO Number", steps = [{ step = "trim" }, { step = "case", to = "upper" }] }
line_no = { from = "Line", steps = [{ step = "to_integer" }], validate = [{ rule = "range", min = 1 }] }
item_id = { from = "Item", steps = [{ step = "trim" }], validate = [{ rule = "required" }, { rule = "max_length", max = 20 }] }
quantity = { from = "Qty", steps = [{ step = "to_decimal" }, { step = "uom_convert", uom_column = "UOM", factors = "factors" }, { step = "round", scale = 4, mode = "half_up" }] }
uom = { from = "UOM", steps = [{ step = "lookup", table = "uom", on_miss = "keep" }] }
unit_price = { from = "Unit Price", steps = [{ step = "to_decimal", round = { scale = 4, mode = "half_even" } }, { step = "uom_convert", uom_column = "UOM", factors = "factors", apply_to = "price" }, { step = "round", scale = 4, mode = "half_even" }] }
need_by_date = { from = "Need By", steps = [{ step = "parse_date", formats = ["%Y-%m-%d", "%m/%d/%Y"], excel_serial = true }] }
"#;

const ITEMS_JOB: &str = r#"sensitive_columns = ["Buyer"]

[job]
name = "items-generated"

[source]
kind = "csv"
path = "items.csv"
delimiter = ";"
encoding = "windows-1252"

[target]
kind = "sqlite"
path = "target.db"

[lookups.uom]
path = "uom.csv"
key = "source_uom"
value = "uom"
case_insensitive = true

[[filter]]
skip_if = 'row["Code"].trimmed() == "" && row["Name"].trimmed() == ""'

[[entity]]
name = "item"

[entity.fields]
item_id = { from = "Code", steps = [{ step = "trim" }, { step = "case", to = "upper" }], validate = [{ rule = "max_length", max = 20 }] }
description = { from = "Name", steps = [{ step = "trim" }] }
unit_cost = { from = "Cost", steps = [{ step = "to_decimal", decimal_comma = true }], validate = [{ rule = "range", min = 0 }] }
pack_qty = { from = "Pack", steps = [{ step = "to_decimal", decimal_comma = true, round = { scale = 0, mode = "half_up" } }] }
gtin = { from = "GTIN", steps = [{ step = "replace", pattern = "[\\s-]", with = "" }], validate = [{ rule = "gtin" }] }
uom = { from = "Unit", steps = [{ step = "lookup", table = "uom", on_miss = "default", default = "EA" }] }
sterile = { from = "Sterile", steps = [{ step = "to_boolean", true_values = ["S"], false_values = ["NS"] }] }
status = { from = "Status", steps = [{ step = "trim" }, { step = "case", to = "lower" }, { step = "default", value = "active" }] }
category = { from = "Category", steps = [{ step = "expr", expr = 'if value == () { "none" } else { value + "/" + row_number }' }] }
manufacturer = { from = "Buyer", sensitive = true }

[[entity.rules]]
name = "costed_items_have_a_unit"
expr = 'record.unit_cost == () || record.uom != ()'
"#;

fn po_lines(rng: &mut Rng) -> Vec<u8> {
    let mut s = String::from("PO Number,Supplier,Order Date,PO Status,Currency,Line,Item,Qty,UOM,Unit Price,Need By\n");
    let orders = 2 + rng.below(7);
    for o in 0..orders {
        let po = format!("PO-2024-{:05}", 1100 + o * 3 + rng.below(3));
        let supplier = format!("V{:05}", 10001 + rng.below(30));
        let date = format!("2024-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28));
        let status = rng.pick(&["Approved", "sent", "RECEIVED", "draft", "closed"]);
        let currency = rng.pick(&["USD", "EUR", ""]);
        for l in 0..1 + rng.below(5) {
            let qty = rng.pick(&["1", "12", "1,200", "0.5", "40", "2"]);
            let uom = rng.pick(&["Each", "Box", "Case", "EA"]);
            let price = rng.pick(&["12.30", "1,234.50", "0.0125", "85", "\"2,266.13\""]);
            let need = rng.pick(&["", "2024-07-01", "45421", "12/31/2024"]);
            s.push_str(&format!(
                "{po},{supplier},{date},{status},{currency},{},IT{:04},{qty},{uom},{price},{need}\n",
                (l + 1) * 10,
                rng.below(9999)
            ));
        }
    }
    s.into_bytes()
}

fn items(rng: &mut Rng, utf16: bool) -> Vec<u8> {
    let d = if utf16 { ',' } else { ';' };
    let mut s = format!("Code{d}Name{d}Cost{d}Pack{d}GTIN{d}Unit{d}Sterile{d}Status{d}Category{d}Buyer\n");
    for i in 0..3 + rng.below(30) {
        let name = rng.pick(&[
            "Gauze 4x4",
            "Compresse stérile",
            "Spritze 10 ml",
            "Käse, rund",
            "Sonde \"CH 14\"",
        ]);
        let name = if name.contains([d, '"']) {
            format!("\"{}\"", name.replace('"', "\"\""))
        } else {
            name.to_string()
        };
        let cost = rng.pick(&["1,25", "1.234,50", "0,4", "12", "", "3,10 €"]);
        let cost = if utf16 && cost.contains(',') {
            format!("\"{cost}\"")
        } else {
            cost.to_string()
        };
        let pack = rng.pick(&["1", "10", "100", "1.000", ""]);
        let gtin = rng.pick(&["", "4006381333931", "0 0 7 4 2 3 4 0 0 0 0 0 1", "12345678"]);
        let unit = rng.pick(&["Each", "box", "CS", "Roll", ""]);
        let sterile = rng.pick(&["S", "NS", "yes", "", "0"]);
        let status = rng.pick(&["Active", "INACTIVE", ""]);
        let category = rng.pick(&["Wound care", "", "Pharmacy"]);
        s.push_str(&format!(
            "A{:03}{d}{name}{d}{cost}{d}{pack}{d}{gtin}{d}{unit}{d}{sterile}{d}{status}{d}{category}{d}buyer{}@example.org\n",
            i * 7 + rng.below(7),
            rng.below(5)
        ));
    }
    if utf16 {
        encode_utf16(&s)
    } else {
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&s);
        bytes.into_owned()
    }
}

fn encode_utf16(s: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for u in s.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

fn decode_utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .strip_prefix(&[0xFF, 0xFE])
        .unwrap_or(b)
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}
