use super::*;

#[test]
fn labels_resolve() {
    assert!(resolve_encoding(None).unwrap().is_none());
    assert!(resolve_encoding(Some("UTF-8")).unwrap().is_none());
    assert_eq!(
        resolve_encoding(Some("latin1")).unwrap().unwrap().name(),
        "windows-1252"
    );
    assert_eq!(resolve_encoding(Some("utf-16le")).unwrap().unwrap().name(), "UTF-16LE");
    assert!(resolve_encoding(Some("klingon")).is_err());
}

#[test]
fn mac_roman_is_never_called_windows_1252() {
    // Mac Roman: 0x8E é, 0x8F è, 0x9E û; 0x8F is not defined in windows-1252.
    assert_eq!(guess_legacy(b"Caf\x8e cr\x8fme").as_deref(), Some("macintosh"));
    assert_eq!(
        guess_legacy(b"Caf\x8e").as_deref(),
        Some("macintosh"),
        "CafŽ reads worse than Café"
    );
    assert_eq!(guess_legacy(b"Caf\xe9 M\xfcller").as_deref(), Some("windows-1252"));
    assert_eq!(
        guess_legacy(b"\xb0C").as_deref(),
        Some("windows-1252"),
        "°C reads better than ∞C"
    );
    let hint = guess_hint(b"x\x81y");
    assert!(
        hint.contains("\"macintosh\"") && !hint.contains("windows-1252"),
        "{hint}"
    );
}

#[test]
fn a_declared_windows_1252_file_with_undefined_bytes_names_them() {
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(b"O\x9d");
    assert_eq!(undecodable(&text), Some('\u{9d}'));
    let (hint, guess) = declared_hint(encoding_rs::WINDOWS_1252, &text);
    assert!(hint.contains("byte 0x9D is not defined in it"), "{hint}");
    assert!(hint.contains("set encoding = \"macintosh\""), "{hint}");
    assert_eq!(guess.as_deref(), Some("macintosh"));
    assert_eq!(undecodable("Café ¼"), None);
}

#[test]
fn every_supported_label_resolves_and_the_error_lists_them() {
    for label in supported_encodings() {
        assert!(resolve_encoding(Some(label)).is_ok(), "{label}");
    }
    assert!(resolve_encoding(Some("replacement")).is_err());
    let e = resolve_encoding(Some("klingon")).unwrap_err();
    assert!(e.contains("macintosh") && e.contains("utf-16le"), "{e}");
}

#[test]
fn text_starting_like_a_magic_number_is_text() {
    let kind = |head: &[u8]| binary_kind(head, None).map(|(what, _)| what);
    for text in [
        &b"BZh_code,desc\nA1,x\n"[..],
        b"BZh9,desc\n",
        b"PK,name\n",
        b"%PDF-x,name\n",
        b"\x7fELF,x\n",
    ] {
        assert_eq!(kind(text), None, "{}", String::from_utf8_lossy(text));
    }
    assert_eq!(kind(b"BZh91AY&SY\x12\x34"), Some("bzip2-compressed"));
    assert_eq!(
        kind(b"BZh9\x17\x72\x45\x38\x50\x90\0\0\0\0"),
        Some("bzip2-compressed"),
        "empty"
    );
    assert_eq!(kind(b"\x1f\x8b\x08\x00\0\0"), Some("gzip-compressed"));
    assert_eq!(kind(b"PK\x07\x08\0\0"), Some("a zip archive"));
    assert_eq!(kind(b"%PDF-1.7\n"), Some("a PDF document"));
    assert_eq!(kind(b"\x7fELF\x02\x01\x01\0"), Some("a program (ELF)"));
}

#[test]
fn utf16_is_judged_by_its_characters_not_its_bytes() {
    let text: String = (0..20).map(|i| format!("Ж{i},Бинт марлевый\r\n")).collect();
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(binary_kind(&le, Some(encoding_rs::UTF_16LE)), None);
    let (_, todo) = binary_kind(&le, None).unwrap();
    assert!(todo.contains("set encoding = \"utf-16le\""), "{todo}");
    // Decoded, this is one control character after another.
    let junk: Vec<u8> = (0..200u16).flat_map(|i| (i % 20 + 1).to_le_bytes()).collect();
    assert!(binary_kind(&junk, Some(encoding_rs::UTF_16LE)).is_some());
    assert_eq!(
        binary_kind(&junk, None).unwrap().1,
        "",
        "no line break: not UTF-16 text"
    );
}

#[test]
fn legacy_bytes_that_happen_to_form_utf8_are_not_called_utf8() {
    // Mac Roman `’é` is U+054E in UTF-8, which Mac Roman cannot write.
    assert_eq!(reads_as_utf8(b"l\xd5\x8ecole", encoding_rs::MACINTOSH), None);
    assert!(reads_as_utf8("Müller".as_bytes(), encoding_rs::WINDOWS_1252).is_some());
    assert!(reads_as_utf8("Müller Dvořák".as_bytes(), encoding_rs::WINDOWS_1252).is_some());
    assert!(reads_as_utf8(b"\xef\xbb\xbfcode", encoding_rs::MACINTOSH).is_some());
    assert_eq!(reads_as_utf8(b"code", encoding_rs::MACINTOSH), None);
    assert!(reads_as_utf8("Caf\u{e9}".as_bytes()[..4].as_ref(), encoding_rs::WINDOWS_1252).is_none());
}

#[test]
fn utf16_without_a_bom_by_its_zero_bytes() {
    let le: Vec<u8> = "code,name\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = "code,name\n".encode_utf16().flat_map(u16::to_be_bytes).collect();
    assert_eq!(looks_utf16(&le), Some(encoding_rs::UTF_16LE));
    assert_eq!(looks_utf16(&be), Some(encoding_rs::UTF_16BE));
    assert_eq!(
        looks_utf16(&[&[0xFF, 0xFE][..], &le].concat()),
        None,
        "a BOM says it already"
    );
    assert_eq!(looks_utf16(b"code,name\n"), None);
}
