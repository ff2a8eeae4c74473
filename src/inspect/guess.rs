//! Guessing which canonical entity a file holds, and which column fills which field.
//!
//! Column names are normalized (`ProductCode`, `Product Code` and `product_code` all become
//! `product_code`) and compared with each field's name and with the names the systems of the field
//! use for it ([`SYNONYMS`]: OpenBoxes, Snipe-IT, Atlas CMMS, ERP exports); near misses count
//! through Jaro-Winkler similarity. A column whose values cannot fill the field (a date for a
//! cost) counts for little, an empty column for less. Each entity is scored by its matches (key
//! fields double, address fields little, a key without a column a penalty), plus a bonus when the
//! file's name names the entity; columns go to fields greedily, best match first, each column at
//! most once.

use crate::model::{ENTITIES, Entity, FieldType};

use super::profile::{ColumnSummary, InferredType};

/// Other names of a field: `(entity or "*" for any, field, normalized names)`.
#[rustfmt::skip]
const SYNONYMS: &[(&str, &str, &[&str])] = &[
    ("item", "item_id", &["product_code", "sku", "item_number", "item_no", "item_code", "product_id", "product_number", "material_number", "code"]),
    ("item", "description", &["name", "product", "product_name", "item_name", "item_description", "product_description"]),
    ("*", "manufacturer", &["manufacturer_name", "mfr", "mfr_name", "brand", "brand_name", "make"]),
    ("item", "manufacturer_part_no", &["manufacturer_code", "manufacturer_part_number", "mfr_part_no", "mfr_part_number", "mpn", "catalog_number", "catalog_no", "manufacturer_item_no"]),
    ("item", "gtin", &["upc", "ean", "gtin14", "gtin_13", "barcode", "upc_code"]),
    ("*", "status", &["active", "is_active", "enabled", "status_code"]),
    ("*", "uom", &["unit_of_measure", "unit", "uom_code", "stocking_uom", "units"]),
    ("item", "pack_qty", &["pack_size", "quantity_per_package", "package_size", "pack_quantity", "units_per_pack"]),
    ("item", "unit_cost", &["cost", "price", "unit_price", "price_per_unit", "standard_cost", "avg_cost"]),
    ("item", "category", &["product_category", "item_category", "product_type", "commodity"]),
    ("item", "lot_controlled", &["lot_and_expiry_control", "lot_control", "lot_tracked", "lot_controlled_flag"]),
    ("item", "hazardous", &["hazardous_material", "hazmat"]),
    ("item", "implant", &["implantable"]),
    ("supplier", "supplier_id", &["vendor_id", "supplier_number", "vendor_number", "vendor_code", "supplier_code", "vendor_no", "supplier_no", "code"]),
    ("supplier", "name", &["supplier_name", "vendor_name", "supplier", "vendor", "company", "organization"]),
    ("supplier", "tax_id", &["ein", "tin", "vat_number", "tax_number"]),
    ("supplier", "duns", &["duns_number"]),
    ("*", "address_line1", &["address", "street_address", "address1", "street"]),
    ("*", "address_line2", &["address2", "street_address2"]),
    ("*", "region", &["state", "state_or_province", "province"]),
    ("*", "postal_code", &["zip", "zip_code", "postcode"]),
    ("location", "location_id", &["location_code", "location_number", "location_no", "code"]),
    ("location", "name", &["location_name", "location", "bin_location"]),
    ("location", "type", &["location_type"]),
    ("location", "parent_location_id", &["parent_location", "parent"]),
    ("*", "facility", &["facility_name", "site", "organization"]),
    ("*", "cost_center_id", &["cost_center", "cost_centre", "department_code"]),
    ("cost_center", "name", &["cost_center_name", "description"]),
    ("cost_center", "gl_department", &["department", "gl_account"]),
    ("contract_price", "contract_id", &["contract", "contract_number", "contract_no"]),
    ("contract_price", "price", &["contract_price", "unit_price", "price_each"]),
    ("contract_price", "valid_to", &["contract_price_valid_until", "valid_until", "end_date", "expiration_date"]),
    ("contract_price", "valid_from", &["start_date", "effective_date"]),
    ("asset", "asset_id", &["asset_tag", "tag", "asset_number", "asset_no", "equipment_id", "equipment_number"]),
    ("asset", "description", &["name", "asset_name", "equipment_name"]),
    ("asset", "asset_class", &["category", "class", "asset_category", "equipment_type"]),
    ("asset", "serial_no", &["serial_number", "serial", "sn"]),
    ("asset", "model", &["model_name", "model_number"]),
    ("asset", "location_id", &["location", "location_name"]),
    ("asset", "parent_asset_id", &["parent_asset", "parent"]),
    ("asset", "acquisition_date", &["purchase_date", "acquired_on", "date_acquired"]),
    ("asset", "acquisition_cost", &["purchase_cost", "cost", "purchase_price"]),
    ("asset", "in_service_date", &["in_service", "installation_date", "install_date"]),
    ("asset", "useful_life_months", &["useful_life", "life_months"]),
    ("*", "po_number", &["purchase_order", "po", "po_no", "order_number", "purchase_order_number"]),
    ("*", "supplier_id", &["supplier", "vendor", "vendor_id", "vendor_code", "supplier_code"]),
    ("purchase_order", "order_date", &["po_date", "date_ordered", "ordered_on"]),
    ("purchase_order", "ship_to_location_id", &["ship_to", "ship_to_location", "deliver_to"]),
    ("*", "line_no", &["line", "line_number", "line_num", "po_line"]),
    ("*", "item_id", &["item", "item_number", "item_code", "product_code", "sku"]),
    ("*", "quantity", &["qty", "quantity_ordered", "order_quantity"]),
    ("*", "unit_price", &["price", "unit_cost"]),
    ("purchase_order_line", "need_by_date", &["need_by", "due_date", "required_date"]),
    ("receipt_line", "receipt_id", &["receipt", "receipt_number", "receipt_no", "grn"]),
    ("receipt_line", "quantity_received", &["qty_received", "received_quantity", "quantity"]),
    ("receipt_line", "received_at", &["received_date", "date_received", "receipt_date"]),
    ("invoice_line", "invoice_id", &["invoice", "invoice_number", "invoice_no"]),
    ("invoice_line", "amount", &["line_amount", "extended_price", "total"]),
    ("work_order", "work_order_id", &["work_order", "wo_number", "work_order_number", "wo"]),
    ("work_order", "asset_id", &["asset", "asset_name", "asset_tag", "equipment"]),
    ("work_order", "type", &["work_order_type", "wo_type", "maintenance_type"]),
    ("work_order", "opened_at", &["created_at", "opened_on", "date_opened", "created_on"]),
    ("work_order", "completed_at", &["completed_on", "date_completed", "closed_at", "closed_on"]),
    ("work_order", "labor_hours", &["hours", "labour_hours", "actual_hours", "estimated_hours"]),
    ("depreciation_entry", "period", &["fiscal_period", "accounting_period"]),
    ("depreciation_entry", "method", &["depreciation_method"]),
    ("depreciation_entry", "amount", &["depreciation", "depreciation_amount"]),
    ("depreciation_entry", "book_value", &["net_book_value", "nbv"]),
];

/// Words in a file's name that point at an entity (`products.csv` -> item).
#[rustfmt::skip]
const FILE_WORDS: &[(&str, &[&str])] = &[
    ("item", &["item", "product", "catalog", "material"]),
    ("supplier", &["supplier", "vendor"]),
    ("location", &["location", "bin"]),
    ("cost_center", &["cost_center", "costcenter"]),
    ("contract_price", &["contract", "price"]),
    ("asset", &["asset", "equipment"]),
    ("purchase_order", &["purchase_order", "po_header"]),
    ("purchase_order_line", &["po_line", "order_line"]),
    ("receipt_line", &["receipt", "receiving"]),
    ("invoice_line", &["invoice"]),
    ("work_order", &["work_order", "workorder"]),
    ("depreciation_entry", &["depreciation"]),
];

/// A generic `id` column fills an entity's single key field, but weakly.
const GENERIC_ID: f64 = 0.6;
/// The least similarity for a near-miss name to count.
const FUZZY_THRESHOLD: f64 = 0.93;
/// A file named after an entity (`locations.csv`) is strong evidence: column names are often
/// generic (`name`, `address`) and fit several entities.
const FILE_BONUS: f64 = 2.5;
/// An entity whose natural key found no column is an unlikely reading of the file.
const MISSING_KEY_PENALTY: f64 = 1.0;
/// Address columns fit any entity with an address; they say little about which one it is.
const ADDRESS_FIELDS: &[&str] = &[
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
];

/// One canonical field filled from one column.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMatch {
    /// The canonical field.
    pub field: &'static str,
    /// Index into the inspected columns.
    pub column: usize,
    /// How good the match is, 0 to 1.
    pub score: f64,
}

/// The best entity for a file and the fields its columns fill.
#[derive(Debug, Clone)]
pub struct EntityGuess {
    /// The entity.
    pub entity: &'static Entity,
    /// Matches in the entity's field order.
    pub fields: Vec<FieldMatch>,
    /// How well the columns fit the entity (higher is better; only comparable within one file).
    pub score: f64,
    /// The runners-up with their scores, best first.
    pub others: Vec<(&'static str, f64)>,
}

impl EntityGuess {
    /// The column matched to a field, if any.
    pub fn column_of(&self, field: &str) -> Option<usize> {
        self.fields.iter().find(|m| m.field == field).map(|m| m.column)
    }

    /// Required fields (key included) that no column fills.
    pub fn missing_required(&self) -> Vec<&'static str> {
        self.entity
            .fields
            .iter()
            .filter(|f| f.required && self.column_of(f.name).is_none())
            .map(|f| f.name)
            .collect()
    }
}

/// `ProductCode`, `Product Code`, `product-code` -> `product_code`; `Checked Out To: Email` ->
/// `checked_out_to_email`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev: Option<char> = None;
    for c in name.trim().chars() {
        if c.is_alphanumeric() {
            let camel_break = c.is_uppercase() && prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit());
            if camel_break && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
        prev = Some(c);
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

fn synonyms(entity: &str, field: &str) -> impl Iterator<Item = &'static str> {
    SYNONYMS
        .iter()
        .filter(move |(e, f, _)| (*e == entity || *e == "*") && *f == field)
        .flat_map(|(_, _, names)| names.iter().copied())
}

/// How well a column name fits a field's name, 0 to 1.
fn name_score(entity: &Entity, field: &str, column: &str) -> f64 {
    if column == field {
        return 1.0;
    }
    if synonyms(entity.name, field).any(|s| s == column) {
        return 0.95;
    }
    let single_key = entity.key_fields().count() == 1 && entity.key_fields().any(|(_, f)| f.name == field);
    if single_key && column == "id" {
        return GENERIC_ID;
    }
    let best = synonyms(entity.name, field)
        .map(|s| strsim::jaro_winkler(s, column))
        .fold(strsim::jaro_winkler(field, column), f64::max);
    if best >= FUZZY_THRESHOLD { 0.8 * best } else { 0.0 }
}

/// How well a column's values fit a field's type: 1 fits, less is doubtful.
fn type_fit(ty: &InferredType, field: FieldType) -> f64 {
    use InferredType as T;
    match (ty, field) {
        (T::Empty, _) => 0.5,
        (T::Nested, _) => 0.1,
        (_, FieldType::String | FieldType::Code(_)) => 1.0,
        (T::Integer | T::Decimal { .. }, FieldType::Decimal { .. }) => 1.0,
        (T::Integer, FieldType::Integer) => 1.0,
        (T::Date { .. } | T::Timestamp { .. }, FieldType::Date | FieldType::Timestamp) => 1.0,
        (T::Boolean | T::Integer, FieldType::Boolean) => 1.0,
        (T::Text, _) => 0.4,
        _ => 0.2,
    }
}

fn guess_one(
    entity: &'static Entity,
    columns: &[ColumnSummary],
    normalized: &[String],
    file_stem: &str,
) -> EntityGuess {
    let mut candidates = Vec::new();
    for f in entity.fields {
        for (i, (col, name)) in columns.iter().zip(normalized).enumerate() {
            let score = name_score(entity, f.name, name) * type_fit(&col.ty, f.ty);
            if score >= 0.3 {
                candidates.push(FieldMatch {
                    field: f.name,
                    column: i,
                    score,
                });
            }
        }
    }
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut fields: Vec<FieldMatch> = Vec::new();
    for c in candidates {
        if !fields.iter().any(|m| m.field == c.field || m.column == c.column) {
            fields.push(c);
        }
    }
    fields.sort_by_key(|m| entity.field_index(m.field));
    let weight = |name: &str| match entity.fields.iter().find(|f| f.name == name) {
        Some(f) if f.key => 2.0,
        _ if ADDRESS_FIELDS.contains(&name) => 0.3,
        _ => 1.0,
    };
    let mut score: f64 = fields.iter().map(|m| weight(m.field) * m.score).sum();
    let unmatched_keys = entity
        .key_fields()
        .filter(|(_, f)| !fields.iter().any(|m| m.field == f.name))
        .count();
    score -= MISSING_KEY_PENALTY * unmatched_keys as f64;
    let words = FILE_WORDS
        .iter()
        .find(|(e, _)| *e == entity.name)
        .map_or(&[][..], |(_, w)| *w);
    if words.iter().any(|w| file_stem.contains(w)) {
        score += FILE_BONUS;
    }
    EntityGuess {
        entity,
        fields,
        score,
        others: Vec::new(),
    }
}

/// The entity whose fields the columns fill best; `None` when no column name means anything.
pub fn guess_entity(columns: &[ColumnSummary], file_name: &str) -> Option<EntityGuess> {
    let normalized: Vec<String> = columns.iter().map(|c| normalize(&c.name)).collect();
    let stem = normalize(file_name.rsplit(['/', '\\']).next().unwrap_or(file_name));
    let mut guesses: Vec<EntityGuess> = ENTITIES
        .iter()
        .map(|e| guess_one(e, columns, &normalized, &stem))
        .filter(|g| !g.fields.is_empty())
        .collect();
    // A stable sort keeps the model's order among equals.
    guesses.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut iter = guesses.into_iter();
    let mut best = iter.next()?;
    best.others = iter.take(3).map(|g| (g.entity.name, g.score)).collect();
    Some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(spec: &[(&str, InferredType)]) -> Vec<ColumnSummary> {
        spec.iter()
            .map(|(name, ty)| ColumnSummary {
                name: name.to_string(),
                ty: ty.clone(),
                empty: 0,
                distinct: 1,
                distinct_capped: false,
                max_len: 1,
                samples: vec![],
                domain: vec![],
            })
            .collect()
    }

    fn text(names: &[&str]) -> Vec<ColumnSummary> {
        columns(&names.iter().map(|n| (*n, InferredType::Text)).collect::<Vec<_>>())
    }

    fn field_of(g: &EntityGuess, cols: &[ColumnSummary], field: &str) -> Option<String> {
        g.column_of(field).map(|i| cols[i].name.clone())
    }

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize("ProductCode"), "product_code");
        assert_eq!(normalize(" Asset Tag "), "asset_tag");
        assert_eq!(normalize("Checked Out To: Email"), "checked_out_to_email");
        assert_eq!(normalize("UPC"), "upc");
        assert_eq!(
            normalize("Minimum Order Quantity (Each)"),
            "minimum_order_quantity_each"
        );
        assert_eq!(normalize("GTIN14"), "gtin14");
    }

    #[test]
    fn an_item_master() {
        let cols = columns(&[
            ("Id", InferredType::Empty),
            ("ProductCode", InferredType::Text),
            ("Name", InferredType::Text),
            ("UnitOfMeasure", InferredType::Text),
            (
                "UnitCost",
                InferredType::Decimal {
                    decimal_comma: false,
                    currency: false,
                },
            ),
            ("Manufacturer", InferredType::Text),
            ("UPC", InferredType::Gtin { bad_check_digits: 0 }),
            ("Vendor", InferredType::Text),
        ]);
        let g = guess_entity(&cols, "products.csv").unwrap();
        assert_eq!(g.entity.name, "item");
        assert_eq!(field_of(&g, &cols, "item_id").as_deref(), Some("ProductCode"));
        assert_eq!(field_of(&g, &cols, "description").as_deref(), Some("Name"));
        assert_eq!(field_of(&g, &cols, "unit_cost").as_deref(), Some("UnitCost"));
        assert_eq!(field_of(&g, &cols, "uom").as_deref(), Some("UnitOfMeasure"));
        assert_eq!(field_of(&g, &cols, "gtin").as_deref(), Some("UPC"));
        assert!(g.missing_required().is_empty());
    }

    #[test]
    fn an_asset_register() {
        let date = InferredType::Date {
            format: "%m/%d/%y".into(),
            ambiguous_with: None,
        };
        let cost = InferredType::Decimal {
            decimal_comma: false,
            currency: false,
        };
        let cols = columns(&[
            ("Company", InferredType::Text),
            ("Name", InferredType::Text),
            ("Asset Tag", InferredType::Text),
            ("Category", InferredType::Text),
            ("Manufacturer", InferredType::Text),
            ("Serial Number", InferredType::Text),
            ("Purchase Date", date),
            ("Purchase Cost", cost),
        ]);
        let g = guess_entity(&cols, "export.csv").unwrap();
        assert_eq!(g.entity.name, "asset");
        assert_eq!(field_of(&g, &cols, "asset_id").as_deref(), Some("Asset Tag"));
        assert_eq!(field_of(&g, &cols, "serial_no").as_deref(), Some("Serial Number"));
        assert_eq!(
            field_of(&g, &cols, "acquisition_date").as_deref(),
            Some("Purchase Date")
        );
        assert_eq!(
            field_of(&g, &cols, "acquisition_cost").as_deref(),
            Some("Purchase Cost")
        );
    }

    #[test]
    fn suppliers_and_locations() {
        let cols = text(&["Vendor Code", "Vendor Name", "City", "Zip"]);
        let g = guess_entity(&cols, "export.csv").unwrap();
        assert_eq!(g.entity.name, "supplier");
        assert_eq!(field_of(&g, &cols, "name").as_deref(), Some("Vendor Name"));
        assert_eq!(field_of(&g, &cols, "postal_code").as_deref(), Some("Zip"));
        let cols = text(&["name", "locationType", "parentLocation", "locationNumber"]);
        let g = guess_entity(&cols, "binLocations.csv").unwrap();
        assert_eq!(g.entity.name, "location");
        assert_eq!(field_of(&g, &cols, "location_id").as_deref(), Some("locationNumber"));
    }

    #[test]
    fn near_misses_count_and_types_matter() {
        let cols = text(&["Asset_Tagg", "Descripton"]);
        let g = guess_entity(&cols, "x.csv").unwrap();
        assert_eq!(field_of(&g, &cols, "asset_id").as_deref(), Some("Asset_Tagg"));
        let ts = InferredType::Timestamp {
            format: "%Y-%m-%d %H:%M:%S%.f".into(),
            ambiguous_with: None,
        };
        let cols = columns(&[
            ("Asset Tag", InferredType::Text),
            ("Name", InferredType::Text),
            ("Cost", ts),
        ]);
        let g = guess_entity(&cols, "x.csv").unwrap();
        assert_eq!(g.column_of("acquisition_cost"), None, "a timestamp is no cost");
    }

    #[test]
    fn nothing_to_go_on() {
        assert!(guess_entity(&text(&["column_1", "column_2"]), "data.csv").is_none());
    }
}
