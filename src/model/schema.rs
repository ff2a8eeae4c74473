//! The canonical model: every entity opsync knows, its natural key and its typed fields.
//!
//! This is the one place the model is defined. Targets create their tables from it, mappings are
//! checked against it, `opsync schema` prints it. Bump [`MODEL_VERSION`] when an entity or field
//! changes meaning.

use std::fmt;

/// Version of the canonical model; stored with every run. 1.1 added `inventory_balance` and
/// `supplier_item`.
pub const MODEL_VERSION: &str = "1.1";

/// The type of one canonical field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Free text.
    String,
    /// Exact decimal, rounded to this many places when stored.
    Decimal { scale: u32 },
    /// Whole number.
    Integer,
    /// Calendar date (no time zone).
    Date,
    /// Instant, stored in UTC.
    Timestamp,
    /// true / false.
    Boolean,
    /// One value of a closed list.
    Code(&'static [&'static str]),
}

impl FieldType {
    /// Short name used in `opsync schema`, messages and JSON Schema descriptions.
    pub fn name(&self) -> String {
        match self {
            FieldType::String => "string".into(),
            FieldType::Decimal { scale } => format!("decimal({scale})"),
            FieldType::Integer => "integer".into(),
            FieldType::Date => "date".into(),
            FieldType::Timestamp => "timestamp".into(),
            FieldType::Boolean => "boolean".into(),
            FieldType::Code(values) => format!("code({})", values.join("|")),
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// One field of a canonical entity.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    /// Part of the natural key (implies required).
    pub key: bool,
    /// Must have a value in every record.
    pub required: bool,
    pub doc: &'static str,
}

/// One canonical entity: a name, its fields in order, the key first.
#[derive(Debug)]
pub struct Entity {
    pub name: &'static str,
    pub doc: &'static str,
    pub fields: &'static [Field],
}

impl Entity {
    /// The fields that make up the natural key, in order.
    pub fn key_fields(&self) -> impl Iterator<Item = (usize, &Field)> {
        self.fields.iter().enumerate().filter(|(_, f)| f.key)
    }

    /// Index of a field by name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// `a + b` for composite keys, as shown to people.
    pub fn key_label(&self) -> String {
        self.key_fields().map(|(_, f)| f.name).collect::<Vec<_>>().join(" + ")
    }
}

const fn key(name: &'static str, ty: FieldType, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        key: true,
        required: true,
        doc,
    }
}
const fn req(name: &'static str, ty: FieldType, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        key: false,
        required: true,
        doc,
    }
}
const fn opt(name: &'static str, ty: FieldType, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        key: false,
        required: false,
        doc,
    }
}

use FieldType::{Boolean, Date, Integer, String as Text, Timestamp};
const MONEY: FieldType = FieldType::Decimal { scale: 4 };
const AMOUNT: FieldType = FieldType::Decimal { scale: 2 };
const QTY: FieldType = FieldType::Decimal { scale: 4 };
const HOURS: FieldType = FieldType::Decimal { scale: 2 };
const ACTIVE: FieldType = FieldType::Code(&["active", "inactive"]);

/// Every entity of the canonical model, in the order `opsync schema` lists them.
pub static ENTITIES: &[Entity] = &[
    Entity {
        name: "item",
        doc: "A product the hospital buys, stocks or issues (item master).",
        fields: &[
            key("item_id", Text, "Item number in the system of record"),
            req("description", Text, "Item description"),
            opt("manufacturer", Text, "Manufacturer name"),
            opt("manufacturer_part_no", Text, "Manufacturer catalogue number"),
            opt("gtin", Text, "GS1 GTIN-8/12/13/14, check digit verified"),
            opt("unspsc", Text, "UNSPSC commodity code"),
            opt("uom", Text, "Stocking unit of measure"),
            opt("pack_qty", QTY, "Units in one stocking unit"),
            opt("unit_cost", MONEY, "Cost of one stocking unit"),
            opt("category", Text, "Item category"),
            opt("lot_controlled", Boolean, "Tracked by lot and expiry"),
            opt("sterile", Boolean, "Sterile item"),
            opt("implant", Boolean, "Implantable device"),
            opt("hazardous", Boolean, "Hazardous material"),
            opt("status", ACTIVE, "active or inactive"),
        ],
    },
    Entity {
        name: "supplier",
        doc: "A vendor the hospital buys from.",
        fields: &[
            key("supplier_id", Text, "Supplier number in the system of record"),
            req("name", Text, "Legal or trading name"),
            opt("tax_id", Text, "Tax identification number"),
            opt("hin", Text, "Health Industry Number"),
            opt("duns", Text, "D-U-N-S number"),
            opt("address_line1", Text, "Street address"),
            opt("address_line2", Text, "Street address, second line"),
            opt("city", Text, "City"),
            opt("region", Text, "State or province"),
            opt("postal_code", Text, "Postal code"),
            opt("country", Text, "Country"),
            opt("status", ACTIVE, "active or inactive"),
            opt("payment_terms", Text, "Payment terms code, e.g. NET30"),
        ],
    },
    Entity {
        name: "location",
        doc: "A place that holds stock or equipment: facility, warehouse, department, room, bin.",
        fields: &[
            key("location_id", Text, "Location code"),
            req("name", Text, "Location name"),
            opt("type", Text, "Facility, depot, ward, room, bin, ..."),
            opt("parent_location_id", Text, "Enclosing location"),
            opt("facility", Text, "Facility the location belongs to"),
            opt("cost_center_id", Text, "Cost center charged for the location"),
        ],
    },
    Entity {
        name: "cost_center",
        doc: "A cost center of the general ledger.",
        fields: &[
            key("cost_center_id", Text, "Cost center code"),
            req("name", Text, "Cost center name"),
            opt("facility", Text, "Facility"),
            opt("gl_department", Text, "General-ledger department"),
        ],
    },
    Entity {
        name: "contract_price",
        doc: "A negotiated price of an item from a supplier under a contract.",
        fields: &[
            key("contract_id", Text, "Contract number"),
            key("item_id", Text, "Item"),
            key("supplier_id", Text, "Supplier"),
            req("price", MONEY, "Contract price per unit of measure"),
            opt("uom", Text, "Unit of measure the price is for"),
            opt("valid_from", Date, "First day the price applies"),
            opt("valid_to", Date, "Last day the price applies"),
        ],
    },
    Entity {
        name: "asset",
        doc: "A piece of equipment tracked by biomedical engineering or finance.",
        fields: &[
            key("asset_id", Text, "Asset tag"),
            req("description", Text, "Asset description"),
            opt("asset_class", Text, "Asset class or category"),
            opt("serial_no", Text, "Manufacturer serial number"),
            opt("manufacturer", Text, "Manufacturer"),
            opt("model", Text, "Model"),
            opt("location_id", Text, "Where the asset is"),
            opt("parent_asset_id", Text, "Asset this one is part of"),
            opt("status", Text, "Operational status"),
            opt("acquisition_date", Date, "Purchase date"),
            opt("acquisition_cost", AMOUNT, "Purchase cost"),
            opt("in_service_date", Date, "Date placed in service"),
            opt("useful_life_months", Integer, "Depreciable life in months"),
            opt("cost_center_id", Text, "Owning cost center"),
        ],
    },
    Entity {
        name: "purchase_order",
        doc: "A purchase order header.",
        fields: &[
            key("po_number", Text, "Purchase order number"),
            req("supplier_id", Text, "Supplier"),
            opt("order_date", Date, "Order date"),
            opt("status", Text, "Order status"),
            opt("currency", Text, "ISO 4217 currency code"),
            opt("ship_to_location_id", Text, "Ship-to location"),
        ],
    },
    Entity {
        name: "purchase_order_line",
        doc: "One line of a purchase order.",
        fields: &[
            key("po_number", Text, "Purchase order number"),
            key("line_no", Integer, "Line number"),
            req("item_id", Text, "Item ordered"),
            req("quantity", QTY, "Quantity ordered"),
            opt("uom", Text, "Unit of measure ordered"),
            opt("unit_price", MONEY, "Price per unit of measure"),
            opt("need_by_date", Date, "Date needed"),
        ],
    },
    Entity {
        name: "receipt_line",
        doc: "One line of a goods receipt.",
        fields: &[
            key("receipt_id", Text, "Receipt number"),
            key("line_no", Integer, "Line number"),
            opt("po_number", Text, "Purchase order received against"),
            opt("po_line_no", Integer, "Purchase order line"),
            req("item_id", Text, "Item received"),
            req("quantity_received", QTY, "Quantity received"),
            opt("received_at", Timestamp, "When it was received"),
            opt("location_id", Text, "Where it was received"),
        ],
    },
    Entity {
        name: "invoice_line",
        doc: "One line of a supplier invoice.",
        fields: &[
            key("invoice_id", Text, "Invoice number"),
            key("line_no", Integer, "Line number"),
            req("supplier_id", Text, "Supplier"),
            opt("po_number", Text, "Purchase order invoiced"),
            opt("po_line_no", Integer, "Purchase order line"),
            opt("item_id", Text, "Item invoiced"),
            opt("quantity", QTY, "Quantity invoiced"),
            opt("unit_price", MONEY, "Price per unit"),
            opt("amount", AMOUNT, "Line amount"),
            opt("invoice_date", Date, "Invoice date"),
        ],
    },
    Entity {
        name: "work_order",
        doc: "A maintenance work order on an asset.",
        fields: &[
            key("work_order_id", Text, "Work order number"),
            opt("asset_id", Text, "Asset worked on"),
            req(
                "type",
                FieldType::Code(&["preventive", "corrective", "calibration"]),
                "preventive, corrective or calibration",
            ),
            opt("status", Text, "Work order status"),
            opt("opened_at", Timestamp, "When it was opened"),
            opt("completed_at", Timestamp, "When it was completed"),
            opt("labor_hours", HOURS, "Labour hours booked"),
            opt("parts_cost", AMOUNT, "Cost of parts used"),
        ],
    },
    Entity {
        name: "depreciation_entry",
        doc: "Depreciation of one asset for one accounting period.",
        fields: &[
            key("asset_id", Text, "Asset"),
            key("period", Text, "Accounting period, YYYY-MM"),
            req(
                "method",
                FieldType::Code(&["straight_line", "declining_balance", "units_of_production"]),
                "Depreciation method",
            ),
            req("amount", AMOUNT, "Depreciation of the period"),
            opt("accumulated", AMOUNT, "Accumulated depreciation at period end"),
            opt("book_value", AMOUNT, "Net book value at period end"),
        ],
    },
    Entity {
        name: "inventory_balance",
        doc: "Stock on hand of one lot of an item at one location: what a recall needs to find.",
        fields: &[
            key("item_id", Text, "Item"),
            key(
                "location_id",
                Text,
                "Location holding the stock (a store, ward or depot). A lot kept in several bins of \
                 one location is one balance: sum it in the source, or map each bin as a location of \
                 its own (bins are locations of type bin)",
            ),
            key(
                "lot",
                Text,
                "Lot or batch number, as printed on the pack. Part of the key, so never empty: a \
                 blank lot is no value and rejects the record (required), because a lot-controlled \
                 line without its lot would merge with other stock and escape a recall. Stock whose \
                 lot is not recorded carries a marker the mapping writes on purpose, never an empty \
                 string: the shipped mappings write NO-LOT for stock not managed by lot and \
                 LOT-UNKNOWN for counts made without lots",
            ),
            opt("bin", Text, "Bin or shelf within the location"),
            opt("expiry_date", Date, "Expiry date of the lot"),
            req("quantity_on_hand", QTY, "Quantity on hand, in `uom`"),
            opt("uom", Text, "Unit of measure of the quantity"),
            opt("as_of", Timestamp, "When the quantity was counted or exported"),
        ],
    },
    Entity {
        name: "supplier_item",
        doc: "An item as one supplier sells it: its part number, pack and price (the supplier catalog).",
        fields: &[
            key("supplier_id", Text, "Supplier"),
            key("supplier_part_no", Text, "The supplier's catalogue number for the item"),
            req("item_id", Text, "Item in the item master"),
            opt("uom", Text, "Unit the supplier sells in (box, case, each)"),
            opt("pack_qty", QTY, "Units of the item in one supplier unit"),
            opt("price", MONEY, "Price of one supplier unit"),
            opt("currency", Text, "ISO 4217 currency code of the price"),
            opt("valid_from", Date, "First day the entry applies"),
            opt("valid_to", Date, "Last day the entry applies"),
        ],
    },
];

/// A record that belongs to another (a weak entity): its key starts with its parent's key, so it
/// means nothing without the parent. When one source row yields both and the parent is rejected,
/// the dependent is rejected too (unless the mapping says `on_parent_reject = "load"`).
///
/// References that are not ownership are not listed: a receipt or invoice line names a purchase
/// order, but that order is another document, normally not in the same row.
#[derive(Debug)]
pub struct ParentLink {
    pub child: &'static str,
    pub parent: &'static str,
    /// (child field, parent key field) pairs that tie the two.
    pub fields: &'static [(&'static str, &'static str)],
}

/// Every parent relation of the canonical model.
pub static PARENTS: &[ParentLink] = &[
    ParentLink {
        child: "purchase_order_line",
        parent: "purchase_order",
        fields: &[("po_number", "po_number")],
    },
    ParentLink {
        child: "depreciation_entry",
        parent: "asset",
        fields: &[("asset_id", "asset_id")],
    },
];

/// The entity a record of `child` belongs to, if any.
pub fn parent_of(child: &str) -> Option<&'static ParentLink> {
    PARENTS.iter().find(|p| p.child == child)
}

/// Find an entity by name.
pub fn entity(name: &str) -> Option<&'static Entity> {
    ENTITIES.iter().find(|e| e.name == name)
}

/// Names of all entities, for "did you mean" hints.
pub fn entity_names() -> impl Iterator<Item = &'static str> {
    ENTITIES.iter().map(|e| e.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_links_tie_a_child_field_to_the_parents_whole_key() {
        for link in PARENTS {
            let (child, parent) = (entity(link.child).unwrap(), entity(link.parent).unwrap());
            let linked: Vec<&str> = link.fields.iter().map(|(_, p)| *p).collect();
            let key: Vec<&str> = parent.key_fields().map(|(_, f)| f.name).collect();
            assert_eq!(linked, key, "{} -> {}", link.child, link.parent);
            for (c, _) in link.fields {
                assert!(child.field_index(c).is_some(), "{} has no {c}", link.child);
            }
        }
    }

    #[test]
    fn every_entity_has_a_key_and_unique_fields() {
        for e in ENTITIES {
            assert!(e.key_fields().count() > 0, "{} has no key", e.name);
            let mut names: Vec<_> = e.fields.iter().map(|f| f.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), e.fields.len(), "{} repeats a field", e.name);
        }
    }
}
