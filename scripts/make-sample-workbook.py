#!/usr/bin/env python3
"""Write samples/erp/po_lines.xlsx, the Excel purchase-order-line sample.

Run once by hand when the sample should change (`pip install openpyxl`); the workbook is
committed, so nothing else (tests, CI, the demo) needs Python.

The workbook looks like an ERP's "PO lines" export opened and saved in Excel: a summary sheet
first, the lines on sheet "Lines" under a title row and a blank row (header on row 3), real date
cells, prices formatted with two decimals, one quantity typed as text, one purchase order whose
header disagrees between its lines, and one line without an item.
"""

import datetime as dt
import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

OUT = Path(__file__).resolve().parent.parent / "samples" / "erp" / "po_lines.xlsx"

HEADER = ["PO Number", "Supplier", "Order Date", "PO Status", "Currency", "Ship To",
          "Line", "Item", "Item Description", "Qty", "UOM", "Unit Price", "Need By"]

D = dt.datetime

# (po, supplier, order date, status, currency, ship to) -> lines (item, description, qty, uom, price, need by)
ORDERS = [
    (("PO-2024-01101", "V10006", D(2024, 5, 2), "Received", "USD", "CS"), [
        ("IV100", "Sodium chloride 0.9% infusion, 1000mL bag", 40, "Case", 28.80, D(2024, 5, 9)),
        ("IN220", 'Catheter, IV, 20G x 1", safety', 12, "Box", 52.50, D(2024, 5, 9)),
        ("IN301", "Infusion set, gravity, 20 drops/mL", 500, "Each", 0.95, D(2024, 5, 9)),
    ]),
    (("PO-2024-01102", "V10008", D(2024, 5, 3), "Received", "USD", "CS"), [
        ("IS010", "Syringe, Luer-lock, 10mL, sterile", 30, "Box", 11.20, D(2024, 5, 10)),
        ("IS021", "Needle, hypodermic, 21G x 1 1/2in", 30, "Box", 4.75, D(2024, 5, 10)),
        ("WC100", "Gauze swab, 10x10cm, 8-ply", 8, "Case", 35.00, D(2024, 5, 10)),
        ("WC212", "Dressing, transparent film, 6x7cm", 15, "Box", 18.60, None),
        ("IP031", "Chlorhexidine 2% applicator, 26mL", 6, "Box", 42.00, D(2024, 5, 10)),
    ]),
    (("PO-2024-01103", "V10007", D(2024, 5, 6), "Sent", "USD", "CS"), [
        ("PP205", "Mask, surgical, type IIR", 60, "Box", 6.25, D(2024, 5, 20)),
        ("PP210", "Respirator, N95, fold-flat", 25, "Box", 21.90, D(2024, 5, 20)),
        ("PP330", "Gown, isolation, AAMI level 2", 10, "Case", 64.00, D(2024, 5, 20)),
        ("DG088", "ECG electrode, foam, adult, 50mm", 40, "Box", 8.40, D(2024, 5, 20)),
    ]),
    (("PO-2024-01104", "V10012", D(2024, 5, 7), "Approved", "USD", "PHS"), [
        ("PN102", "Paracetamol 500mg tablet", 20000, "Each", 0.02, D(2024, 5, 14)),
        ("AB260", "Amoxicillin 250mg/5mL oral suspension", 300, "Each", 1.10, D(2024, 5, 14)),
        ("MH118", "Oxytocin injection, 10 IU in 1mL", 20, "Box", 6.80, D(2024, 5, 14)),
    ]),
    (("PO-2024-01105", "V10010", D(2024, 5, 8), "Sent", "CHF", "PHS"), [
        ("AB214", "Ceftriaxone 1g powder for injection", 400, "Each", 1.85, D(2024, 5, 22)),
        ("AC330", "Heparin sodium 5000 IU/mL, 1mL vial", 250, "Each", 2.40, D(2024, 5, 22)),
        ("AN507", "Ketamine 50mg/mL, 10mL vial", 50, "Each", 3.15, D(2024, 5, 22)),
        ("PN245", "Fentanyl citrate 50mcg/mL, 2mL ampoule", 10, "Box", 14.20, D(2024, 5, 22)),
    ]),
    (("PO-2024-01106", "V10009", D(2024, 5, 13), "Approved", "USD", "CS"), [
        ("LB040", "Tube, blood collection, K2 EDTA, 4mL", 20, "Box", 12.30, D(2024, 5, 27)),
        ("LB155", "Test, rapid diagnostic, malaria", "12 ", "Box", 27.50, D(2024, 5, 27)),
    ]),
    (("PO-2024-01107", "V10001", D(2024, 5, 14), "Sent", "EUR", "CS"), [
        ("PP120", "Glove, surgical, latex-free, 7.5", 20, "Box", 36.90, D(2024, 6, 4)),
        ("SU305", "Suture, polyglactin 910, 3-0", 6, "Box", 91.00, D(2024, 6, 4)),
        ("SU410", "Scalpel blade, No. 10", 25, "Box", 9.40, D(2024, 6, 4)),
    ]),
    (("PO-2024-01108", "V10016", D(2024, 5, 20), "Approved", "USD", "NCS"), [
        ("OF118", "Label, pharmacy, auxiliary", 2000, "Each", 0.03, D(2024, 6, 3)),
        ("OF204", "Wristband, patient ID, adult", 4, "Box", 61.00, D(2024, 6, 3)),
        ("FC009", "Battery, AA, alkaline", 200, "Each", 0.45, D(2024, 6, 3)),
    ]),
    (("PO-2024-01109", "V10023", D(2024, 6, 3), "Approved", "USD", "CS"), [
        ("WS005", "Sharps container, 5L", 120, "Each", 2.85, D(2024, 6, 17)),
        ("WS030", "Bag, clinical waste, 30L", 15, "Case", 19.40, D(2024, 6, 17)),
        (None, "Freight and handling", 1, "Each", 85.00, None),
    ]),
]

# The same PO keyed again on another line with a different order date: the header conflicts.
CONFLICT = (("PO-2024-01104", "V10012", D(2024, 5, 9), "Approved", "USD", "PHS"),
            ("AN512", "Lidocaine 2% gel, 30g", 40, "Each", 4.10, D(2024, 5, 14)))


def main() -> int:
    wb = Workbook()
    summary = wb.active
    summary.title = "Summary"
    summary["A1"] = "Open purchase orders by supplier"
    summary["A1"].font = Font(bold=True)
    summary.append([])
    summary.append(["Supplier", "Orders"])
    counts: dict[str, int] = {}
    for (po, supplier, *_), _lines in ORDERS:
        counts[supplier] = counts.get(supplier, 0) + 1
    for supplier, n in sorted(counts.items()):
        summary.append([supplier, n])

    ws = wb.create_sheet("Lines")
    ws["A1"] = "Purchase order lines - Riverside Community Hospital - exported 30/06/2024"
    ws["A1"].font = Font(bold=True)
    ws.append([])
    ws.append(HEADER)
    for cell in ws[3]:
        cell.font = Font(bold=True)

    def add(header, line_no, line):
        po, supplier, ordered, status, currency, ship_to = header
        item, description, qty, uom, price, need_by = line
        ws.append([po, supplier, ordered, status, currency, ship_to,
                   line_no, item, description, qty, uom, price, need_by])
        row = ws.max_row
        ws.cell(row, 3).number_format = "dd/mm/yyyy"
        ws.cell(row, 12).number_format = "#,##0.00"
        ws.cell(row, 13).number_format = "dd/mm/yyyy"

    for header, lines in ORDERS:
        for n, line in enumerate(lines, start=1):
            add(header, n * 10, line)
        if header[0] == CONFLICT[0][0]:
            add(CONFLICT[0], (len(lines) + 1) * 10, CONFLICT[1])

    for col, width in zip("ABCDEFGHIJKLM", [15, 9, 11, 10, 9, 8, 6, 8, 40, 7, 6, 11, 11]):
        ws.column_dimensions[col].width = width

    # The export's own date; openpyxl stamps the modification time itself when saving.
    wb.properties.created = D(2024, 6, 30, 2, 15)
    wb.properties.creator = "opsync samples"

    OUT.parent.mkdir(parents=True, exist_ok=True)
    wb.save(OUT)
    print(f"wrote {OUT.relative_to(OUT.parent.parent.parent)} ({ws.max_row - 3} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
