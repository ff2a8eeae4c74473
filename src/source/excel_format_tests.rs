//! Number formats: which show a number as stored, and which make a person read another.

use super::*;

fn check(code: &str, f: f64) -> Option<String> {
    NumberFormat::parse(code)
        .and_then(|format| format.check(f))
        .map(|two| two.why)
}

#[test]
fn formats_that_show_a_number_as_its_digits_read_one_way() {
    for (code, values) in [
        ("General", &[123.0, -45.0, 0.0, 1.5, 2266.13][..]),
        ("@", &[123.0, -45.0, 1.5]),
        ("0", &[123.0, -45.0, 0.0]),
        ("0.00", &[123.0, -45.0, 0.0, 1.5, 8.25, -0.01]),
        ("0.0#", &[1.5, 1.25]),
        ("#,##0", &[123.0, -45.0, 0.0, 1234567.0]),
        ("#,##0.00", &[1234.5, -45.25, 0.0, 1234567.89]),
        ("0%", &[0.15, -0.5, 0.0, 1.0]),
        ("0.00%", &[0.155, 0.1234]),
        ("0.00E+00", &[123.0, -45.0, 0.0, 1.5, 0.000125]),
        ("# ?/?", &[1.5, 0.3]),
        ("\"$\"#,##0.00", &[1234.5, -7.0]),
        ("[$€-407]#,##0.00", &[1234.5]),
        (
            "_($* #,##0.00_);_($* (#,##0.00);_($* \"-\"??_);_(@_)",
            &[1234.5, -45.0, 0.0],
        ),
        ("#,##0;[Red]-#,##0", &[123.0, -45.0, 0.0]),
        ("#,##0 ;(#,##0)", &[123.0, -45.0, 0.0]),
        ("0.00;[Red]\\-0.00", &[-1.5]),
        ("mm-dd-yy", &[45000.0, 45000.5]),
        ("[h]:mm:ss", &[1.25]),
        ("yyyy-mm-dd", &[45000.0]),
    ] {
        let kept = NumberFormat::parse(code);
        let readings = kept.as_ref().and_then(|f| values.iter().find_map(|&v| f.check(v)));
        assert!(
            readings.is_none(),
            "{code}: {kept:?}: {:?}",
            readings.map(|two| two.why)
        );
    }
}

#[test]
fn fewer_decimals_than_the_number_has_read_two_ways() {
    assert_eq!(
        check("0", 12345.6).as_deref(),
        Some(
            "holds the number 12345.6, which Excel shows rounded to a whole number as \"12346\" through its number format \"0\""
        )
    );
    assert!(check("0", 2.6).unwrap().contains("as \"3\" through"));
    // Half away from zero, on the digits the cell holds, as Excel rounds.
    assert!(check("0", 2.5).unwrap().contains("as \"3\" through"));
    assert!(
        check("0", -2.5)
            .unwrap()
            .contains("holds the number -2.5, which Excel shows rounded to a whole number as \"-3\"")
    );
    assert!(
        check("0.00", 1.005)
            .unwrap()
            .contains("rounded to 2 decimals as \"1.01\"")
    );
    assert!(check("0.0", 0.04).unwrap().contains("rounded to 1 decimal as \"0.0\""));
    assert!(check("#,##0.00", 1234.567).unwrap().contains("as \"1,234.57\""));
    assert!(
        check("\"$\"#,##0.00", 999999.999)
            .unwrap()
            .contains("as \"$1,000,000.00\"")
    );
    assert!(check("#,##0", 1234.5).unwrap().contains("as \"1,235\""));
    assert!(check("0.0#", 1.255).unwrap().contains("as \"1.26\""));
    assert!(check("#.##", 0.125).unwrap().contains("as \".13\""));
    // A percent reads as stored, but not rounded: 16% is not 0.155.
    assert!(
        check("0%", 0.155)
            .unwrap()
            .contains("rounded to a whole number as \"16%\"")
    );
    assert!(
        check("0.00E+00", 12345.0)
            .unwrap()
            .contains("rounded to 3 significant digits as \"1.23E+04\"")
    );
    assert!(check("0.0E+00", 0.000125).unwrap().contains("as \"1.3E-04\""));
}

#[test]
fn scaling_commas_read_two_ways() {
    assert_eq!(
        check("#,##0,", 1234567.0).as_deref(),
        Some(
            "holds the number 1234567, which Excel shows in thousands and rounded to a whole number as \"1,235\" through its number format \"#,##0,\""
        )
    );
    assert!(
        check("#,##0,", 1234000.0)
            .unwrap()
            .contains("shows in thousands as \"1,234\"")
    );
    assert!(check("0.0,,", 2500000.0).unwrap().contains("in millions as \"2.5\""));
    assert!(check("#,##0,\"K\"", 1000.0).is_some());
    assert_eq!(check("#,##0,", 0.0), None);
}

#[test]
fn a_negative_section_without_a_minus_sign_reads_two_ways() {
    assert_eq!(
        check("0;[Red]0", -5.0).as_deref(),
        Some(
            "holds the number -5, which Excel shows without its minus sign as \"5\" through its number format \"0;[Red]0\""
        )
    );
    assert_eq!(check("0;[Red]0", 5.0), None);
    assert!(
        check("#,##0.00;#,##0.00", -1234.5)
            .unwrap()
            .contains("without its minus sign as \"1,234.50\"")
    );
    assert!(
        check("0;0", -2.6)
            .unwrap()
            .contains("rounded to a whole number and without its minus sign as \"3\"")
    );
    // A minus or brackets in the section show the sign.
    assert_eq!(check("0;(0)", -5.0), None);
    assert_eq!(check("0;[Red]-0", -5.0), None);
}

#[test]
fn a_hidden_section_reads_two_ways() {
    for (code, value) in [
        (";;;", 42.0),
        (";;;", -1.5),
        (";;;", 0.0),
        ("0;-0;", 0.0),
        ("0;[Red]", -3.0),
    ] {
        let why = check(code, value).unwrap_or_default();
        assert!(
            why.ends_with(&format!(
                "which Excel shows as blank through its number format {code:?}"
            )),
            "{code}: {why}"
        );
    }
    assert_eq!(check("0;-0;", 5.0), None);
    // A dash for zero is read as zero.
    assert_eq!(check("0;-0;\"-\"", 0.0), None);
}

#[test]
fn zero_padding_longer_than_the_number_reads_two_ways() {
    assert_eq!(
        check("00000", 123.0).as_deref(),
        Some("holds the number 123, which Excel shows as \"00123\" through its number format \"00000\"")
    );
    assert_eq!(check("00000", 12345.0), None);
    assert_eq!(check("0000", 123456.0), None);
    assert!(check("00", 0.0).unwrap().contains("\"00\" through"));
    assert!(check("000000", -42.0).unwrap().contains("as \"-000042\""));
    assert!(check("#,##0.00", 1.0).is_none());
}

#[test]
fn literal_text_with_letters_or_between_digits_reads_two_ways() {
    assert!(check("\"PO-\"0000", 45.0).unwrap().contains("shows as \"PO-0045\""));
    assert!(
        check("\"PO-\"0000", 123456.0)
            .unwrap()
            .contains("shows as \"PO-123456\"")
    );
    assert!(check("0\" kg\"", 5.0).unwrap().contains("as \"5 kg\""));
    assert!(check("\\A\\B0", 7.0).unwrap().contains("as \"AB7\""));
    assert!(
        check("000-00-0000", 123456789.0)
            .unwrap()
            .contains("as \"123-45-6789\"")
    );
    assert!(check("##-##", 1234.0).unwrap().contains("as \"12-34\""));
    // Without a drawing of its own: the format is named.
    let why = check("[<=9999999]###-####;(###) ###-####", 5551234.0).unwrap();
    assert!(
        why.ends_with("shows through its number format \"[<=9999999]###-####;(###) ###-####\""),
        "{why}"
    );
    assert!(check("\"Lot \"0.00", 1.5).is_some());
    // The section for negative numbers decides for them.
    assert_eq!(check("0;\"minus \"0", 5.0), None);
    assert!(check("0;\"minus \"0", -5.0).is_some());
}

#[test]
fn a_crafted_format_thousands_of_characters_long_makes_a_short_message() {
    let code = format!("0.{}{}", "0".repeat(100_000), "%".repeat(100_000));
    let why = check(&code, 1e-40).unwrap_or_default();
    assert!(why.contains("...\"") && why.len() < 600, "{why:.300}");
    let code = format!("{}.0{}", "0".repeat(100_000), "%".repeat(100_000));
    let why = check(&code, 0.1234567891).unwrap_or_default();
    assert!(why.contains("as \"0000") && why.len() < 900, "{why:.300}");
    let code = format!("0{}", ",".repeat(100_000));
    let why = check(&code, 123456789.0).unwrap_or_default();
    assert!(why.len() < 600 && why.contains("divided by 10^12"), "{why:.300}");
}
