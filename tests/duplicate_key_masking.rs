//! A duplicate-key reject keeps the canonical record it refused; sensitive fields must be masked
//! there as in every other reject (found with the ERP supplier sample: a tax id in clear text).

use assert_cmd::Command;

#[test]
fn duplicate_key_reject_masks_sensitive_fields() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("suppliers.csv"),
        "id,name,tax\nV1,Acme,DE111111111\nV1,Acme GmbH,DE222222222\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("suppliers.job.toml"),
        r#"
[job]
name = "mask-duplicates"
[source]
kind = "csv"
path = "suppliers.csv"
[target]
kind = "sqlite"
path = "out.db"
[[entity]]
name = "supplier"
[entity.fields.supplier_id]
from = "id"
[entity.fields.name]
from = "name"
[entity.fields.tax_id]
from = "tax"
sensitive = true
"#,
    )
    .unwrap();
    let ledger = dir.path().join("ledger.db");
    Command::cargo_bin("opsync")
        .unwrap()
        .args(["--no-progress", "-q", "--ledger"])
        .arg(&ledger)
        .arg("run")
        .arg(dir.path().join("suppliers.job.toml"))
        .assert()
        .success();
    let out = Command::cargo_bin("opsync")
        .unwrap()
        .arg("--ledger")
        .arg(&ledger)
        .args(["rejects", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rejects = json["rejects"].as_array().unwrap();
    assert_eq!(rejects.len(), 1, "{json:#}");
    assert_eq!(rejects[0]["rule"], "duplicate_key");
    assert_eq!(rejects[0]["raw"]["tax_id"], "****", "{json:#}");
    assert_eq!(rejects[0]["raw"]["name"], "Acme GmbH");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("DE222222222") && !text.contains("DE111111111"), "{text}");
}
