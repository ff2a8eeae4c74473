# Generate a deterministic OpenBoxes-style item-master CSV for scripts/bench.
#
#   awk -v rows=1000000 -f scripts/bench-data/gen-items.awk > items.csv               # 28 columns
#   awk -v rows=1000000 -v columns=11 -f scripts/bench-data/gen-items.awk > items.csv  # 11 columns
#
# 28 columns: the columns of an OpenBoxes product export. 11 columns: the item master a hospital
# keeps without OpenBoxes' bookkeeping (ids, families, GL accounts, vendors, dates), which is the
# 11 columns the bench mappings read: ProductCode, Name, Manufacturer, ManufacturerCode, UPC,
# UnitOfMeasure, UnitCost, Category, LotAndExpiryControl, Active, HazardousMaterial. Both widths
# draw the same random numbers, so row i of the 11-column file is row i of the 28-column file
# with the other columns left out. ProductCode is unique (IT0000001...). UPC is a
# GTIN-13 with a correct GS1 check digit on most rows, blank on some, and wrong on one row in a
# thousand (those rows are rejected by the bench mapping's gtin validation). The number of rows
# with a wrong check digit is printed to standard error as `bad_gtin=N`.
#
# Randomness comes from a Park-Miller generator (seed fixed, products below 2^53), not from awk's
# rand(), so mawk, gawk and busybox awk write the same bytes.

function rnd() {
    seed = (seed * 16807) % 2147483647
    return seed
}

# An integer in [0, n).
function pick(n) {
    return rnd() % n
}

# The GS1 check digit of a 12-digit body: weights 3,1,3,... from the rightmost digit.
function gs1_check(body,    i, sum, d) {
    sum = 0
    for (i = 12; i >= 1; i--) {
        d = substr(body, i, 1) + 0
        sum += ((12 - i) % 2 == 0) ? d * 3 : d
    }
    return (10 - sum % 10) % 10
}

BEGIN {
    if (rows == "") rows = 1000
    if (columns == "") columns = 28
    if (columns != 11 && columns != 28) {
        printf "gen-items.awk: columns must be 11 or 28, not %s\n", columns > "/dev/stderr"
        exit 2
    }
    seed = 20240601
    bad = 0

    nform = split("tablet|capsule|injection|oral solution|cream|suture|glove|syringe|catheter|dressing|gauze sponge|bandage|mask|gown|IV set|test strip", form, "|")
    nbase = split("Amoxicillin|Paracetamol|Ibuprofen|Morphine|Ceftriaxone|Metformin|Insulin glargine|Heparin|Lidocaine|Sodium chloride|Nitrile|Latex-free|Polyglactin|Silicone|Cotton|Povidone-iodine|Chlorhexidine|Omeprazole|Salbutamol|Furosemide", base, "|")
    nsize = split("5mg|10mg|20mg|50mg|100mg|250mg|500mg|1g|10mL|100mL|500mL|size S|size M|size L|4x4 in|18G|20G|22G", size, "|")
    ncat = split("Pain|Antibiotics|Surgical Supplies|Wound Care|Infusion|Diabetes|Respiratory|Personal Protective Equipment|Laboratory|Cardiovascular|Gastrointestinal|Anesthesia", cat, "|")
    nuom = split("Each|Each|Each|Box|Pack|Case|Bottle|Vial|Ampoule|Roll", uom, "|")
    nmfr = split("Medline Industries|Cardinal Health|B. Braun|Baxter|Becton Dickinson|3M Health Care|Fresenius Kabi|Pfizer|Teva|Mylan|Smith & Nephew|Molnlycke|Owens & Minor|Ansell|Halyard Health|Sandoz|Hikma|Sun Pharma|Cipla|Aurobindo", mfr, "|")
    ngl = split("5215|5210|5300|5400|5510", gl, "|")
    split("Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec", mon, "|")

    if (columns == 11) print "ProductCode,Name,Manufacturer,ManufacturerCode,UPC,UnitOfMeasure,UnitCost,Category,LotAndExpiryControl,Active,HazardousMaterial"
    else print "Id,Active,ProductCode,ProductType,Name,ProductFamily,Category,GLAccount,Description,UnitOfMeasure,Tags,UnitCost,LotAndExpiryControl,ColdChain,ControlledSubstance,HazardousMaterial,Reconditioned,Manufacturer,BrandName,ManufacturerCode,ManufacturerName,Vendor,VendorCode,VendorName,UPC,NDC,Created,Updated"

    for (i = 1; i <= rows; i++) {
        id = sprintf("%08x%08x%016d", rnd(), rnd(), i)
        active = (pick(20) == 0) ? "FALSE" : "TRUE"
        code = sprintf("IT%07d", i)

        name = base[pick(nbase) + 1] " " form[pick(nform) + 1] " " size[pick(nsize) + 1]
        r = pick(10)
        if (r < 3) {
            name = "\"" name ", sterile\""          # a quoted field with a comma
        } else if (r == 3) {
            name = name "  "                        # trailing blanks the mapping trims
        }

        category = cat[pick(ncat) + 1]
        glaccount = gl[pick(ngl) + 1]
        description = (pick(4) == 0) ? "For hospital use only" : ""
        unit = uom[pick(nuom) + 1]
        if (pick(50) == 0) unit = " " unit          # a leading blank
        tags = (pick(3) == 0) ? "Tertiary Care" : ""
        cost = sprintf("%d.%02d", pick(500), pick(100))
        lot = (pick(3) == 0) ? "TRUE" : "FALSE"
        cold = (pick(10) == 0) ? "TRUE" : ""
        controlled = (pick(25) == 0) ? "TRUE" : ""
        hazardous = (pick(15) == 0) ? "TRUE" : "FALSE"
        manufacturer = mfr[pick(nmfr) + 1]
        mfrcode = sprintf("MC-%06d", pick(1000000))

        r = pick(1000)
        if (r < 80) {
            upc = ""                                # no barcode on file
        } else {
            body = sprintf("0%04d%07d", 3000 + pick(500), i % 10000000)
            check = gs1_check(body)
            if (r == 999) {                         # a typo in the check digit
                check = (check + 1) % 10
                bad++
            }
            upc = body check
        }

        d = pick(28) + 1
        created = sprintf("%02d/%s/20%02d %02d:%02d:%02d", d, mon[pick(12) + 1], 18 + pick(6), pick(24), pick(60), pick(60))

        if (columns == 11)
            print code "," name "," manufacturer "," mfrcode "," upc "," unit "," cost "," category "," lot "," active "," hazardous
        else
            print id "," active "," code ",Default," name ",," category "," glaccount "," description "," unit "," tags "," cost "," lot "," cold "," controlled "," hazardous ",," manufacturer ",," mfrcode ",,,,," upc ",," created "," created
    }
    printf "bad_gtin=%d\n", bad > "/dev/stderr"
}
